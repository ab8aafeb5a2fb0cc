"""The documented curvature example (examples/digits_spectrum.py) runs, and its eigenpairs are
those of the full-data Hessian: scipy's ARPACK on an independently written HVP agrees."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import jax
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "digits_spectrum.py"


def test_digits_example(tmp_path, capsys):
    pytest.importorskip("sklearn")
    from scipy.sparse.linalg import LinearOperator, eigsh

    spec = importlib.util.spec_from_file_location("digits_spectrum", EXAMPLE)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    figure = tmp_path / "density.png"
    spectrum, params, batches = example.main(str(figure))
    assert figure.stat().st_size > 10_000
    printed = capsys.readouterr().out
    assert "top eigenvalues" in printed and "trace" in printed and "SpectralDensity" in printed
    assert spectrum.n_params == 64 * 32 + 32 + 32 * 10 + 10 and spectrum.n_batches == 8

    x = np.concatenate([b[0] for b in batches])
    y = np.concatenate([b[1] for b in batches])
    flat, unravel = ravel_pytree(params)
    grad = jax.jit(jax.grad(lambda f: example.loss_fn(unravel(f), (x, y))))
    hvp = jax.jit(lambda v: jax.jvp(grad, (flat,), (v,))[1])
    op = LinearOperator((flat.size, flat.size), matvec=lambda v: np.asarray(hvp(np.ravel(v))), dtype=np.float64)
    ref = np.sort(eigsh(op, k=5, which="LA", tol=1e-12)[0])[::-1]
    np.testing.assert_allclose(spectrum.top_eigenvalues, ref, rtol=1e-8)
    # the trace estimate is within 5 standard errors of the exact trace (sum of e_i^T H e_i)
    exact = sum(float(hvp(np.eye(1, flat.size, i)[0])[i]) for i in range(flat.size))
    assert abs(spectrum.trace.trace - exact) < 5 * spectrum.trace.stderr
