"""Landscapes: grids against a direct loop, the exact separable Gabor form, convexity maps, slices."""

import numpy as np
import pytest

from losslab import Dataset, LosslabError, Objective, gabor, make_objective, mlp, sample_from_model
from losslab.landscape import (
    grid2d,
    grid_values,
    interpolate,
    min_eigenvalue_map,
    random_direction,
    slice_1d,
    slice_2d,
    eigen_directions,
)


def _loop_reference(obj, phi0, phi1):
    out = np.empty((len(phi1), len(phi0)))
    for j, p1 in enumerate(phi1):
        for i, p0 in enumerate(phi0):
            out[j, i] = float(obj.value(np.array([p0, p1])))
    return out


def test_grid2d_orientation_and_values_linear():
    obj = make_objective("linear")
    land = grid2d(obj, (-1.0, 2.0), (-0.5, 1.5), (7, 5))
    assert land.loss.shape == (5, 7)
    ref = _loop_reference(obj, land.phi0, land.phi1)
    np.testing.assert_allclose(land.loss, ref, rtol=1e-13)
    # closed form of the least-squares loss: sum (phi0 + phi1 x - y)^2
    x, y = np.asarray(obj.x), np.asarray(obj.y)
    i, j = 3, 2
    assert land.loss[j, i] == pytest.approx(np.sum((land.phi0[i] + land.phi1[j] * x - y) ** 2), rel=1e-13)


@pytest.mark.parametrize("chunk", [None, 1, 3])
def test_chunking_does_not_change_results(chunk):
    obj = make_objective("gabor")
    a = grid2d(obj, (-10, 10), (2.5, 22.5), 9, chunk=chunk, method="direct")
    b = grid2d(obj, (-10, 10), (2.5, 22.5), 9, chunk=None, method="direct")
    np.testing.assert_array_equal(a.loss, b.loss)


def test_separable_gabor_matches_direct_on_book_ranges():
    obj = make_objective("gabor")
    sep = grid2d(obj, (-10, 10), (2.5, 22.5), 65, method="separable")
    direct = grid2d(obj, (-10, 10), (2.5, 22.5), 65, method="direct")
    assert sep.method == "separable" and direct.method == "direct"
    np.testing.assert_allclose(sep.loss, direct.loss, rtol=1e-10, atol=0)
    assert grid2d(obj, (-10, 10), (2.5, 22.5), 5).method == "direct"  # auto: too small to repay compiling the kernel


def test_auto_picks_the_separable_form_for_large_grids():
    from losslab.landscape import KERNEL_MIN_EVALUATIONS

    rng = np.random.default_rng(3)
    n = 2000
    obj = make_objective("gabor", Dataset(rng.uniform(-15, 15, n), rng.normal(0, 0.5, n), name="many"))
    g = int(np.ceil(np.sqrt(KERNEL_MIN_EVALUATIONS / n)))
    land = grid2d(obj, (-10, 10), (2.5, 22.5), g)
    assert land.method == "separable"
    rows = [0, g // 2, g - 1]  # a few rows against the direct path
    direct, used = grid_values(obj, land.phi0, land.phi1[rows], method="direct")
    assert used == "direct"
    np.testing.assert_allclose(land.loss[rows], direct, rtol=1e-10, atol=0)


def test_separable_gabor_many_points_wide_ranges_mean_reduction():
    model = gabor()
    x = np.random.default_rng(0).uniform(-15, 15, 300)
    data = sample_from_model(model, [0.3, 16.0], x, noise_std=0.1, seed=1)
    obj = Objective(model, data, reduction="mean")
    phi0 = np.sort(np.random.default_rng(2).uniform(-40, 35, 23))  # non-uniform grid
    phi1 = np.linspace(-60.0, 70.0, 19)
    sep, used = grid_values(obj, phi0, phi1, method="separable")
    assert used == "separable"
    ref = _loop_reference(obj, phi0, phi1)
    np.testing.assert_allclose(sep, ref, rtol=1e-10, atol=0)


def test_separable_refused_for_other_models():
    with pytest.raises(LosslabError, match="'method' parameter of grid2d"):
        grid2d(make_objective("linear"), (0, 1), (0, 1), 3, method="separable")


def test_memory_refusal_with_estimate():
    model = gabor()
    x = np.linspace(-15, 15, 1000)
    obj = Objective(model, sample_from_model(model, [0.0, 16.0], x))
    # 1024^2 x 1000 x 16 B of working rows plus the grid held four times (4 x 8 MiB)
    with pytest.raises(LosslabError, match=r"needs 15\.7 GiB, limit 4\.0 GiB; use --chunk"):
        grid2d(obj, (-10, 10), (2.5, 22.5), 1024, chunk=1024, method="direct")
    with pytest.raises(LosslabError, match="use a smaller resolution"):
        grid2d(obj, (-10, 10), (2.5, 22.5), 30000)


def test_bad_grid_input():
    obj = make_objective("gabor")
    with pytest.raises(LosslabError, match="'range0' parameter of grid2d must have lo < hi"):
        grid2d(obj, (1, 0), (0, 1), 3)
    with pytest.raises(LosslabError, match="'resolution' parameter of grid2d must be >= 2"):
        grid2d(obj, (0, 1), (0, 1), 1)
    with pytest.raises(LosslabError, match="exactly 2 parameters"):
        grid2d(make_objective("shallow"), (0, 1), (0, 1), 3)


def test_min_eigenvalue_map_matches_dense_hessians():
    obj = make_objective("gabor")
    emap = min_eigenvalue_map(obj, (-10, 10), (2.5, 22.5), (6, 4))
    for j in (0, 3):
        for i in (0, 2, 5):
            h = np.asarray(obj.hessian(np.array([emap.phi0[i], emap.phi1[j]])))
            assert emap.min_eigenvalue[j, i] == pytest.approx(np.linalg.eigvalsh(h)[0], rel=1e-10, abs=1e-10)
    # the linear least-squares loss is convex everywhere
    lin = min_eigenvalue_map(make_objective("linear"), (-1, 1), (-1, 1), 3)
    assert lin.convex.all()


@pytest.fixture(scope="module")
def net():
    model = mlp((1, 5, 4, 1))
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, 30)
    obj = Objective(model, Dataset(x, np.cos(3 * x), "toy"))
    return obj, np.asarray(model.init(0))


def test_filter_normalised_direction(net):
    obj, p = net
    d = random_direction(obj, p, seed=1)
    w1 = p[:5].reshape(1, 5)
    d1 = d[:5].reshape(1, 5)
    np.testing.assert_allclose(np.linalg.norm(d1, axis=0), np.linalg.norm(w1, axis=0), rtol=1e-12)
    w2 = p[10:30].reshape(5, 4)
    d2 = d[10:30].reshape(5, 4)
    np.testing.assert_allclose(np.linalg.norm(d2, axis=0), np.linalg.norm(w2, axis=0), rtol=1e-12)
    assert np.all(d[5:10] == 0) and np.all(d[30:34] == 0)  # biases not perturbed
    flat = random_direction(make_objective("shallow"), np.arange(1.0, 11.0), seed=0)
    assert np.linalg.norm(flat) == pytest.approx(np.linalg.norm(np.arange(1.0, 11.0)))


def test_slices_match_direct_evaluation(net):
    obj, p = net
    d1 = random_direction(obj, p, seed=1)
    d2 = random_direction(obj, p, seed=2)
    s1 = slice_1d(obj, p, d1, alphas=(-1, 1), resolution=5)
    for a, l in zip(s1.alphas, s1.loss):
        assert l == pytest.approx(float(obj.value(p + a * d1)), rel=1e-12)
    s2 = slice_2d(obj, p, d1, d2, range_=(-0.5, 0.5), resolution=4, chunk=3)
    j, i = 1, 3
    assert s2.loss[j, i] == pytest.approx(float(obj.value(p + s2.alphas[i] * d1 + s2.betas[j] * d2)), rel=1e-12)
    assert s1.loss[2] == pytest.approx(float(obj.value(p)), rel=1e-14)


def test_interpolation_endpoints(net):
    obj, p = net
    q = np.asarray(obj.model.init(5))
    line = interpolate(obj, p, q, alphas=(0.0, 1.0), resolution=3)
    assert line.loss[0] == pytest.approx(float(obj.value(p)), rel=1e-12)
    assert line.loss[-1] == pytest.approx(float(obj.value(q)), rel=1e-12)
    assert line.loss[1] == pytest.approx(float(obj.value(0.5 * (p + q))), rel=1e-12)


def test_eigen_direction_slice_curvature(net):
    obj, p = net
    vecs = eigen_directions(obj, p, 1, iters=obj.n_params)
    lam = np.linalg.eigvalsh(np.asarray(obj.hessian(p)))[-1]
    h = 1e-3
    s = slice_1d(obj, p, vecs[0], alphas=(-h, h), resolution=3)
    second = (s.loss[0] - 2 * s.loss[1] + s.loss[2]) / h**2
    assert second == pytest.approx(lam, rel=1e-4)
