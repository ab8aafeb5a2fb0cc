"""Curvature without the dense Hessian, checked against jnp.linalg.eigh of the dense Hessian."""

import jax.numpy as jnp
import numpy as np
import pytest

from losslab import Dataset, LosslabError, Objective, make_objective, mlp
from losslab.curvature import (
    bottom_eigenvalues,
    hutchinson_trace,
    lanczos,
    make_hvp,
    power_iteration,
    slq_density,
    top_eigenvalues,
)


@pytest.fixture(scope="module")
def small_mlp():
    model = mlp((1, 8, 6, 1))  # 16 + 8 + 54 ... small enough for the dense Hessian
    rng = np.random.default_rng(3)
    x = rng.uniform(-2, 2, 40)
    y = np.sin(2 * x) + 0.1 * rng.standard_normal(40)
    obj = Objective(model, Dataset(x, y, "toy"))
    params = model.init(1)
    hess = np.asarray(obj.hessian(params))
    evals, evecs = np.linalg.eigh(hess)
    return obj, params, hess, evals, evecs


@pytest.fixture(scope="module")
def shallow_obj():
    obj = make_objective("shallow")
    params = jnp.array([-0.3, 2.0, -1.0, 7.0, 0.3, -1.0, -1.0, 2.0, -0.5, 0.65])
    return obj, params, np.asarray(obj.hessian(params))


def test_hvp_matches_dense_hessian(small_mlp):
    obj, params, hess, _, _ = small_mlp
    v = np.random.default_rng(0).standard_normal(obj.n_params)
    for lin in (False, True):
        hv = np.asarray(make_hvp(obj, params, linearize=lin)(jnp.asarray(v)))
        np.testing.assert_allclose(hv, hess @ v, rtol=1e-10, atol=1e-10 * np.abs(hess).max())


def test_lanczos_top_and_bottom_k_match_eigh(small_mlp):
    obj, params, hess, evals, _ = small_mlp
    p = obj.n_params
    top = top_eigenvalues(obj, params, 4, iters=p)
    np.testing.assert_allclose(top.eigenvalues, evals[::-1][:4], rtol=1e-9, atol=1e-9 * abs(evals).max())
    bot = bottom_eigenvalues(obj, params, 3, iters=p)
    np.testing.assert_allclose(bot.eigenvalues, evals[:3], rtol=1e-7, atol=1e-8 * abs(evals).max())
    # eigenvectors: H u = lambda u, unit norm
    for lam, u in zip(top.eigenvalues, top.eigenvectors):
        np.testing.assert_allclose(hess @ u, lam * u, atol=1e-7 * abs(evals).max())
        assert abs(np.linalg.norm(u) - 1) < 1e-10
    assert np.all(top.residuals < 1e-6 * abs(evals).max())


def test_lanczos_converges_before_dimension(small_mlp):
    obj, params, _, evals, _ = small_mlp
    res = top_eigenvalues(obj, params, 2, iters=30)
    assert obj.n_params > 30
    np.testing.assert_allclose(res.eigenvalues, evals[::-1][:2], rtol=1e-6)


def test_lanczos_basis_is_orthonormal_and_tridiagonalises(shallow_obj):
    obj, params, hess = shallow_obj
    mv = make_hvp(obj, params)
    alphas, betas, V = lanczos(mv, jnp.ones(10), 8)
    V = np.asarray(V)
    np.testing.assert_allclose(V @ V.T, np.eye(len(alphas)), atol=1e-12)
    T = V @ hess @ V.T
    np.testing.assert_allclose(np.diag(T), alphas, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(np.diag(T, 1), betas, rtol=1e-8, atol=1e-8)


def test_power_iteration_with_deflation(shallow_obj):
    obj, params, hess = shallow_obj
    evals = np.linalg.eigh(hess)[0]
    by_mag = evals[np.argsort(-np.abs(evals))]
    res = power_iteration(obj, params, 2, iters=5000, tol=1e-14)
    np.testing.assert_allclose(res.eigenvalues, by_mag[:2], rtol=1e-6)
    assert abs(float(res.eigenvectors[0] @ res.eigenvectors[1])) < 1e-5
    same = top_eigenvalues(obj, params, 1, method="power", iters=5000)
    np.testing.assert_allclose(same.eigenvalues, by_mag[:1], rtol=1e-6)


def test_matvec_interface_on_known_matrix():
    rng = np.random.default_rng(0)
    q, _ = np.linalg.qr(rng.standard_normal((50, 50)))
    lam = np.linspace(-3, 10, 50)
    a = (q * lam) @ q.T
    mv = lambda v: jnp.asarray(a) @ v  # noqa: E731
    np.testing.assert_allclose(top_eigenvalues(mv, k=3, dim=50, iters=50).eigenvalues, lam[::-1][:3], rtol=1e-10)
    np.testing.assert_allclose(bottom_eigenvalues(mv, k=2, dim=50, iters=50).eigenvalues, lam[:2], atol=1e-10)


def test_hutchinson_is_exact_for_a_diagonal_matrix():
    d = jnp.arange(1.0, 21.0)
    est = hutchinson_trace(lambda v: d * v, dim=20, samples=5)
    assert est.trace == pytest.approx(210.0, rel=1e-14)
    assert est.stderr == pytest.approx(0.0, abs=1e-12)


def test_hutchinson_trace_within_standard_errors(small_mlp):
    obj, params, hess, _, _ = small_mlp
    est = hutchinson_trace(obj, params, samples=400, seed=2)
    exact = float(np.trace(hess))
    assert abs(est.trace - exact) < 4 * est.stderr
    # the sample variance estimates 2 sum_{i != j} H_ij^2
    off = 2 * (np.sum(hess**2) - np.sum(np.diag(hess) ** 2))
    assert np.var(est.samples, ddof=1) == pytest.approx(off, rel=0.25)


def test_slq_quadrature_reproduces_moments(small_mlp):
    obj, params, hess, evals, _ = small_mlp
    dens = slq_density(obj, params, vectors=1, iters=10, seed=4)
    # Gauss quadrature with m nodes is exact for v^T H^p v / v^T v, p < 2m
    z = np.random.default_rng(4).integers(0, 2, obj.n_params) * 2.0 - 1.0  # the first probe slq_density draws for seed 4
    for p in (0, 1, 2, 5):
        exact = z @ np.linalg.matrix_power(hess, p) @ z / (z @ z)
        assert dens.moment(p) == pytest.approx(exact, rel=1e-8)
    # the smoothed density integrates to ~1 and its support covers the spectrum
    full = slq_density(obj, params, vectors=3, iters=obj.n_params)
    assert np.trapezoid(full.density, full.grid) == pytest.approx(1.0, abs=1e-3)
    assert full.nodes.min() == pytest.approx(evals[0], rel=1e-6, abs=1e-8)
    assert full.nodes.max() == pytest.approx(evals[-1], rel=1e-8)


def test_bad_input_is_refused(small_mlp):
    obj, params, _, _, _ = small_mlp
    with pytest.raises(LosslabError, match="'k' parameter"):
        top_eigenvalues(obj, params, 0)
    with pytest.raises(LosslabError, match="'method' parameter"):
        top_eigenvalues(obj, params, 1, method="arnoldi")
    with pytest.raises(LosslabError, match="'params' parameter"):
        top_eigenvalues(obj, None, 1)
    with pytest.raises(LosslabError, match="'samples' parameter"):
        hutchinson_trace(obj, params, samples=1)
    with pytest.raises(LosslabError, match="'dim' parameter"):
        top_eigenvalues(lambda v: v, k=1)


def test_lanczos_restarts_after_an_invariant_subspace():
    # start vector e_0 of a diagonal matrix: the Krylov space is 1-D, yet k = 3 is asked
    d = jnp.array([5.0, -2.0, 3.0, 1.0, 4.0])
    mv = lambda v: d * v  # noqa: E731
    alphas, betas, V = lanczos(mv, jnp.eye(5)[0], 5)
    assert len(alphas) == 5 and betas[0] == 0.0
    np.testing.assert_allclose(np.asarray(V) @ np.asarray(V).T, np.eye(5), atol=1e-12)
    shallow = make_objective("shallow")
    zero = np.zeros(10)  # dead ReLUs: a low-rank Hessian
    res = top_eigenvalues(shallow, zero, 3, iters=10)
    np.testing.assert_allclose(res.eigenvalues, np.linalg.eigvalsh(np.asarray(shallow.hessian(zero)))[::-1][:3], atol=1e-10)


def test_ritz_history_is_the_runs_own_lanczos():
    """EigenResult.ritz_history: the top Ritz value after each step equals a separate Lanczos run's,
    ends at the returned eigenvalue, and never exceeds the dense top eigenvalue (Ritz values are interior)."""
    import jax.numpy as jnp

    from losslab.curvature import _start_vector, lanczos, top_eigenvalues

    rng = np.random.default_rng(3)
    a = rng.normal(size=(40, 40))
    h = a @ a.T / 40 + np.diag(np.linspace(0, 3, 40))
    mv = lambda v: jnp.asarray(h) @ v  # noqa: E731
    res = top_eigenvalues(mv, k=1, iters=15, dim=40, seed=2)
    hist = res.ritz_history()
    alphas, betas, _ = lanczos(mv, _start_vector(40, 2), 15)
    again = [np.linalg.eigvalsh(np.diag(alphas[:j]) + np.diag(betas[: j - 1], 1) + np.diag(betas[: j - 1], -1))[-1] for j in range(1, 16)]
    np.testing.assert_allclose(hist, again, rtol=1e-12)
    assert hist[-1] == pytest.approx(res.eigenvalues[0], rel=1e-12)
    assert np.all(hist <= np.linalg.eigvalsh(h)[-1] * (1 + 1e-12)) and np.all(np.diff(hist) >= -1e-12)
