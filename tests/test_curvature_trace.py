"""hessian_trace: exact from unit vectors for small models, Hutchinson beyond; the Lanczos defaults."""

import numpy as np
import pytest

import losslab as ll
from losslab import curvature


def test_small_models_get_the_exact_trace():
    obj = ll.make_objective("shallow")
    p = np.array([-0.3, 2.0, -1.0, 7.0, 0.3, -1.0, -1.0, 2.0, -0.5, 0.65])
    dense = np.trace(np.asarray(obj.hessian(p)))
    tr = curvature.hessian_trace(obj, p, samples=10)
    assert tr.method == "exact (10 unit vectors)" and tr.stderr == 0.0
    assert tr.trace == pytest.approx(dense, rel=1e-12)


def test_larger_models_get_hutchinson_within_its_standard_error():
    model = ll.mlp((1, 8, 1))
    rng = np.random.default_rng(0)
    obj = ll.Objective(model, ll.Dataset(rng.uniform(-1, 1, 40), rng.normal(size=40), name="r"))
    p = model.init(1)
    dense = np.trace(np.asarray(obj.hessian(p)))
    tr = curvature.hessian_trace(obj, p, samples=200, seed=3)
    assert model.n_params < 200 and tr.method.startswith("exact")
    tr = curvature.hessian_trace(obj, p, samples=12, seed=3)
    assert tr.method == "Hutchinson (12 samples)" and len(tr.samples) == 12
    assert abs(tr.trace - dense) <= 5 * tr.stderr


def test_lanczos_defaults_live_in_curvature():
    assert curvature.default_iters(1) == 30 and curvature.default_iters(10) == 45 and curvature.default_iters(10, 20) == 20
    assert curvature.lanczos_vectors(5) == 30 + 5 + 6 and curvature.lanczos_vectors(5, 12) == 12 + 5 + 6
    assert curvature.slq_vectors() == 66
