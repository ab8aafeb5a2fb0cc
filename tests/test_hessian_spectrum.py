"""hessian_spectrum on a user's pytree model and batches: against the dense Hessian (jax.hessian),
PyTorch's autograd Hessian of the same network, batched == unbatched, an Equinox model, several
devices and two jax.distributed processes equal to one (with a sweep and a landscape)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from _spectrum_problem import batches, loss_fn, make_data, make_params
from jax.flatten_util import ravel_pytree

from losslab import LosslabError
from losslab.curvature import hessian_spectrum

HERE = Path(__file__).resolve().parent
SRC = str(HERE.parent / "src")


def _dense(loss, params, batch):
    flat, unravel = ravel_pytree(jax.tree_util.tree_map(jnp.asarray, params))
    H = np.asarray(jax.hessian(lambda f: loss(unravel(f), batch))(flat))
    return H, np.linalg.eigvalsh(H)[::-1]


@pytest.fixture(scope="module")
def problem():
    x, y = make_data()
    params = make_params()
    H, eig = _dense(loss_fn, params, (jnp.asarray(x), jnp.asarray(y)))
    return x, y, params, H, eig


@pytest.fixture(scope="module")
def whole(problem):
    x, y, params, _, _ = problem
    return hessian_spectrum(loss_fn, params, (x, y), top_k=5, trace_samples=50, density=True, density_iters=220)


def test_top_eigenvalues_match_dense_hessian(problem, whole):
    _, _, params, H, eig = problem
    assert whole.n_params == H.shape[0] == 203
    assert np.all(np.diff(whole.top_eigenvalues) <= 0)
    np.testing.assert_allclose(whole.top_eigenvalues, eig[:5], rtol=1e-8)
    assert whole.converged.all()
    # the eigenvectors are the dense Hessian's, returned in the shape of params
    for i in range(5):
        u = ravel_pytree(whole.eigenvector(i))[0]
        assert jax.tree_util.tree_structure(whole.eigenvector(i)) == jax.tree_util.tree_structure(params)
        np.testing.assert_allclose(H @ np.asarray(u), whole.top_eigenvalues[i] * np.asarray(u), atol=1e-7 * eig[0])


def test_trace_and_density(problem, whole):
    _, _, _, H, eig = problem
    true_trace = float(np.trace(H))
    assert whole.trace.stderr > 0
    assert abs(whole.trace.trace - true_trace) < 5 * whole.trace.stderr
    # 220 Lanczos steps >= P: every quadrature node with weight is an eigenvalue of H
    d = whole.density
    heavy = d.weights > 1e-8
    nearest = np.min(np.abs(d.nodes[heavy][:, None] - eig[None, :]), axis=1)
    assert np.max(nearest) < 1e-6 * eig[0]
    np.testing.assert_allclose(d.weights.sum(axis=1), 1.0, rtol=1e-10)
    assert abs(np.trapezoid(d.density, d.grid) - 1.0) < 1e-3
    assert "top eigenvalues" in repr(whole) and "trace" in repr(whole) and "SpectralDensity" in repr(whole)


def test_batched_equals_unbatched(problem, whole):
    x, y, params, _, _ = problem
    parts = batches(x, y)
    assert len(parts) == 8
    listed = hessian_spectrum(loss_fn, params, parts, top_k=5, trace_samples=50)
    np.testing.assert_allclose(listed.top_eigenvalues, whole.top_eigenvalues, rtol=1e-11)
    # the same Rademacher vectors: the trace samples agree to rounding
    np.testing.assert_allclose(listed.trace.samples, whole.trace.samples, rtol=1e-10)
    assert listed.n_batches == 8 and abs(listed.loss - whole.loss) < 1e-10 * whole.loss
    # a callable returning a fresh iterator (a data loader), and the mean over equal batches
    fresh = hessian_spectrum(loss_fn, params, lambda: iter(parts), top_k=5, trace=False)
    np.testing.assert_allclose(fresh.top_eigenvalues, whole.top_eigenvalues, rtol=1e-11)
    assert fresh.trace is None
    mean = hessian_spectrum(loss_fn, params, parts, top_k=5, trace=False, reduction="mean")
    np.testing.assert_allclose(mean.top_eigenvalues * 8, whole.top_eigenvalues, rtol=1e-11)


def test_against_pytorch():
    torch = pytest.importorskip("torch")
    x, y = make_data()
    params = make_params()
    leaves, _ = jax.tree_util.tree_flatten(params)  # ravel_pytree's order: hidden b, hidden w, out b, out w
    sizes = [int(np.prod(a.shape)) for a in leaves]
    shapes = [a.shape for a in leaves]
    xt, yt = torch.tensor(x, dtype=torch.float64), torch.tensor(y)

    def torch_loss(flat):
        hb, hw, ob, ow = (p.reshape(s) for p, s in zip(torch.split(flat, sizes), shapes))
        logits = torch.tanh(xt @ hw + hb) @ ow + ob
        return torch.nn.functional.cross_entropy(logits, yt, reduction="sum")

    flat = torch.tensor(np.concatenate([a.ravel() for a in leaves]), dtype=torch.float64)
    H = torch.autograd.functional.hessian(torch_loss, flat).numpy()
    eig = np.linalg.eigvalsh(H)[::-1]
    ours = hessian_spectrum(loss_fn, params, batches(x, y, 32), top_k=5, trace=False)
    np.testing.assert_allclose(ours.top_eigenvalues, eig[:5], rtol=1e-8)


def test_equinox_model():
    eqx = pytest.importorskip("equinox")
    x, y = make_data()
    model = eqx.nn.MLP(in_size=6, out_size=3, width_size=12, depth=2, activation=jnp.tanh, key=jax.random.PRNGKey(0))
    params, static = eqx.partition(model, eqx.is_inexact_array)
    params = jax.tree_util.tree_map(lambda a: a.astype(jnp.float64), params)

    def eqx_loss(p, batch):
        xb, yb = batch
        logits = jax.vmap(eqx.combine(p, static))(xb)
        return -jnp.sum(jnp.take_along_axis(jax.nn.log_softmax(logits), yb[:, None], axis=1))

    H, eig = _dense(eqx_loss, params, (jnp.asarray(x), jnp.asarray(y)))
    assert H.shape[0] == 6 * 12 + 12 + 12 * 12 + 12 + 12 * 3 + 3
    ours = hessian_spectrum(eqx_loss, params, batches(x, y, 48), top_k=5, trace=False)
    np.testing.assert_allclose(ours.top_eigenvalues, eig[:5], rtol=1e-8)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"top_k": 0}, "'top_k' parameter of hessian_spectrum must be >= 1"),
        ({"top_k": 500}, "'top_k' parameter of hessian_spectrum must be <= the number of parameters"),
        ({"reduction": "max"}, "'reduction' parameter"),
        ({"trace": "yes"}, "'trace' parameter of hessian_spectrum must be True or False"),
        ({"iters": 2}, "'iters' parameter"),
        ({"trace_samples": 1}, "'trace_samples' parameter"),
        ({"memory_limit": 1000.0}, "needs .* limit"),
        ({"devices": ["cpu"]}, "'devices' parameter"),
    ],
)
def test_bad_arguments(problem, kwargs, match):
    x, y, params, _, _ = problem
    with pytest.raises(LosslabError, match=match):
        hessian_spectrum(loss_fn, params, (x, y), **kwargs)


def test_bad_models_and_data(problem):
    x, y, params, _, _ = problem
    with pytest.raises(LosslabError, match="'loss_fn' parameter .* must be a function"):
        hessian_spectrum(42, params, (x, y))
    with pytest.raises(LosslabError, match="must return a floating scalar"):
        hessian_spectrum(lambda p, b: p["out"]["b"], params, (x, y))
    with pytest.raises(LosslabError, match="failed on the first batch: .*"):
        hessian_spectrum(loss_fn, params, (x[:, :4], y))
    with pytest.raises(LosslabError, match="pytree of floating arrays"):
        hessian_spectrum(loss_fn, {"w": "abc"}, (x, y))
    with pytest.raises(LosslabError, match="Leaf 0 is an array of dtype int64"):
        hessian_spectrum(loss_fn, {"w": np.arange(3)}, (x, y))
    with pytest.raises(LosslabError, match="at least one array"):
        hessian_spectrum(loss_fn, {}, (x, y))
    with pytest.raises(LosslabError, match="one-shot iterator"):
        hessian_spectrum(loss_fn, params, iter(batches(x, y)))
    with pytest.raises(LosslabError, match="gave no batches"):
        hessian_spectrum(loss_fn, params, [])
    bad = jax.tree_util.tree_map(lambda a: a * np.nan, params)
    with pytest.raises(LosslabError, match="must be finite"):
        hessian_spectrum(loss_fn, bad, (x, y))
    with pytest.raises(LosslabError, match="loss of hessian_spectrum is not finite"):
        hessian_spectrum(loss_fn, params, (x * np.inf, y))


def _worker(args, env_extra, timeout=180):
    env = dict(os.environ, JAX_PLATFORMS="cpu", PYTHONPATH=SRC + os.pathsep + str(HERE), **env_extra)
    return subprocess.Popen([sys.executable, str(HERE / "_spectrum_problem.py"), *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _finish(procs, timeout=240):
    try:
        outs = [p.communicate(timeout=timeout) for p in procs]
    except subprocess.TimeoutExpired:
        for p in procs:
            p.kill()
        raise
    for p, (_, err) in zip(procs, outs):
        assert p.returncode == 0, err[-3000:]


def _one_process(x, y, params):
    return hessian_spectrum(loss_fn, params, batches(x, y), top_k=5, trace_samples=20)


def test_batches_split_over_devices_equal_one_device(problem, tmp_path):
    x, y, params, _, _ = problem
    out = tmp_path / "devices.json"
    # 3 devices and 8 batches: the last round is padded with a zero-weighted copy
    _finish([_worker(["devices", str(out)], {"XLA_FLAGS": "--xla_force_host_platform_device_count=3"})])
    three = json.loads(out.read_text())
    assert three["devices"] == 3 and three["processes"] == 1
    one = _one_process(x, y, params)
    np.testing.assert_allclose(three["top"], one.top_eigenvalues, rtol=1e-10)
    assert abs(three["trace"] - one.trace.trace) <= 1e-10 * abs(one.trace.trace)
    assert abs(three["loss"] - one.loss) <= 1e-12 * one.loss


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_processes_equal_one(problem, tmp_path):
    from _spectrum_problem import landscape, recorded_sweep, sweep

    from losslab import make_objective

    x, y, params, _, _ = problem
    out = tmp_path / "processes.json"
    port = str(_free_port())
    _finish([_worker(["process", str(k), port, str(out)], {}) for k in (0, 1)])
    two = json.loads(out.read_text())
    assert two["processes"] == 2 and two["global_devices"] == 2 and two["n_batches"] == 8
    one = _one_process(x, y, params)
    np.testing.assert_allclose(two["top"], one.top_eigenvalues, rtol=1e-10)
    assert abs(two["trace"] - one.trace.trace) <= 1e-10 * abs(one.trace.trace)
    assert abs(two["loss"] - one.loss) <= 1e-12 * one.loss
    g = make_objective("gabor")
    s = sweep(g)
    np.testing.assert_allclose(two["sweep_params"], s.final_params, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(two["sweep_loss"], s.final_loss, rtol=1e-12)
    np.testing.assert_allclose(two["landscape"], landscape(g), rtol=1e-12)
    r = recorded_sweep(g)  # every step recorded, minibatches: the same records as one process
    np.testing.assert_allclose(two["recorded"]["params"], r.params, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(two["recorded"]["loss"], r.loss, rtol=1e-12)
    assert two["recorded"]["steps"] == r.steps.tolist() and two["recorded"]["diverged_at"] == r.diverged_at.tolist()
