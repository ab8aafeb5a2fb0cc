"""The eigensolvers' vector work on the device (what a GPU gets) against the same work on the host.

Where a product comes back decides where Lanczos's basis and power iteration's vectors live
(``curvature._stays_on_device``): on a CPU the host path runs, so these tests force each path
on the CPU and compare them to rounding, on the cases the host path is tested on.
"""

import jax.numpy as jnp
import numpy as np
import pytest

from losslab import make_objective
from losslab import curvature
from losslab.curvature import hutchinson_trace, lanczos, make_hvp, power_iteration, slq_density, top_eigenvalues


@pytest.fixture(scope="module")
def shallow():
    obj = make_objective("shallow")
    params = jnp.array([-0.3, 2.0, -1.0, 7.0, 0.3, -1.0, -1.0, 2.0, -0.5, 0.65])
    return obj, params, np.asarray(obj.hessian(params))


def both(monkeypatch, fn):
    """fn() with the vector work on the host, then on the device."""
    out = []
    for mode in ("never", "always"):
        monkeypatch.setattr(curvature, "_DEVICE_LOOP", mode)
        out.append(fn())
    return out


def test_auto_keeps_cpu_products_on_the_host(monkeypatch):
    assert curvature._DEVICE_LOOP == "auto"
    assert not curvature._stays_on_device(jnp.ones(3))  # a CPU array
    assert not curvature._stays_on_device(np.ones(3))
    monkeypatch.setattr(curvature, "_DEVICE_LOOP", "always")
    assert curvature._stays_on_device(jnp.ones(3)) and not curvature._stays_on_device(np.ones(3))


def test_lanczos_on_the_device_equals_the_host(monkeypatch, shallow):
    obj, params, hess = shallow
    mv = make_hvp(obj, params)
    host, dev = both(monkeypatch, lambda: curvature._lanczos(mv, np.ones(10), 8))
    assert isinstance(host[2], np.ndarray) and not isinstance(dev[2], np.ndarray)  # the basis stayed on the device
    for a, b in zip(host, dev):
        np.testing.assert_allclose(np.asarray(b), a, rtol=1e-12, atol=1e-13)
    V = np.asarray(dev[2])
    np.testing.assert_allclose(V @ V.T, np.eye(8), atol=1e-12)
    np.testing.assert_allclose(np.diag(V @ hess @ V.T), dev[0], rtol=1e-9, atol=1e-9)
    # the public function hands back NumPy either way
    assert isinstance(lanczos(mv, np.ones(10), 8)[2], np.ndarray)


def test_eigsh_vectors_and_residuals_on_the_device(monkeypatch, shallow):
    obj, params, hess = shallow
    evals = np.linalg.eigvalsh(hess)
    for which, want in (("largest", evals[::-1][:3]), ("smallest", evals[:2])):
        k = len(want)
        host, dev = both(monkeypatch, lambda: top_eigenvalues(obj, params, k, which=which, iters=10))
        np.testing.assert_allclose(dev.eigenvalues, want, rtol=1e-9, atol=1e-9 * abs(evals).max())
        np.testing.assert_allclose(dev.eigenvalues, host.eigenvalues, rtol=1e-12, atol=1e-12)
        assert isinstance(dev.eigenvectors, np.ndarray)
        np.testing.assert_allclose(np.abs(dev.eigenvectors), np.abs(host.eigenvectors), atol=1e-9)
        for lam, u in zip(dev.eigenvalues, dev.eigenvectors):
            np.testing.assert_allclose(hess @ u, lam * u, atol=1e-7 * abs(evals).max())
        np.testing.assert_allclose(dev.residuals, [np.linalg.norm(hess @ u - lam * u) for lam, u in
                                                   zip(dev.eigenvalues, dev.eigenvectors)], atol=1e-9)


def test_invariant_subspace_restart_on_the_device(monkeypatch):
    d = jnp.array([5.0, -2.0, 3.0, 1.0, 4.0])
    mv = lambda v: d * v  # noqa: E731
    host, dev = both(monkeypatch, lambda: curvature._lanczos(mv, np.eye(5)[0], 5))
    assert len(dev[0]) == 5 and dev[1][0] == 0.0
    for a, b in zip(host, dev):
        np.testing.assert_allclose(np.asarray(b), a, atol=1e-12)
    shallow = make_objective("shallow")
    zero = np.zeros(10)  # dead ReLUs: a low-rank Hessian
    host, dev = both(monkeypatch, lambda: top_eigenvalues(shallow, zero, 3, iters=10))
    np.testing.assert_allclose(dev.eigenvalues, np.linalg.eigvalsh(np.asarray(shallow.hessian(zero)))[::-1][:3], atol=1e-10)
    np.testing.assert_allclose(dev.eigenvalues, host.eigenvalues, atol=1e-12)


def test_power_iteration_on_the_device_equals_the_host(monkeypatch, shallow):
    obj, params, hess = shallow
    evals = np.linalg.eigvalsh(hess)
    by_mag = evals[np.argsort(-np.abs(evals))]
    host, dev = both(monkeypatch, lambda: power_iteration(obj, params, 2, iters=3000, tol=1e-13))
    np.testing.assert_allclose(dev.eigenvalues, by_mag[:2], rtol=1e-6)
    np.testing.assert_allclose(dev.eigenvalues, host.eigenvalues, rtol=1e-12)
    assert (dev.iterations, dev.matvecs) == (host.iterations, host.matvecs)
    np.testing.assert_allclose(dev.eigenvectors, host.eigenvectors, atol=1e-9)
    np.testing.assert_allclose(dev.residuals, host.residuals, rtol=1e-6, atol=1e-12)
    # tol=0, as the benchmark runs it: stops at 20 steps or at an exact fixed point (which rounding decides)
    host, dev = both(monkeypatch, lambda: power_iteration(obj, params, 1, iters=20, tol=0.0))
    assert dev.iterations <= 20 and host.iterations <= 20
    np.testing.assert_allclose(dev.eigenvalues, host.eigenvalues, rtol=1e-12)


def test_slq_density_on_the_device_equals_the_host(monkeypatch, shallow):
    obj, params, _ = shallow
    host, dev = both(monkeypatch, lambda: slq_density(obj, params, vectors=2, iters=8))
    np.testing.assert_allclose(dev.nodes, host.nodes, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(dev.weights, host.weights, rtol=1e-9, atol=1e-12)


def test_hutchinson_on_the_device_equals_the_host(monkeypatch, shallow):
    obj, params, hess = shallow
    host, dev = both(monkeypatch, lambda: hutchinson_trace(obj, params, samples=40, seed=3))
    np.testing.assert_allclose(dev.samples, host.samples, rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(dev.trace, host.trace, rtol=1e-12)
    assert abs(dev.trace - np.trace(hess)) < 4 * dev.stderr
