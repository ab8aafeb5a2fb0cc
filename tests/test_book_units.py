"""Units of the book that need no full run: the 1D classifier (6.6), seed-sheet parsing, momentum weights, Hessian sizes."""

from __future__ import annotations

import numpy as np
import pytest

from losslab.book import p6_06, p6_09, p6_10, p6_11
from losslab.stationary import classify_expression, classify_function, classify_samples
from losslab.book.seed import seed_section
from losslab.errors import LosslabError


def test_classifier_on_cosine():
    import jax.numpy as jnp

    cls = classify_function(jnp.cos, 0.5, 4 * np.pi + 0.5)
    xs = [p.x for p in cls.points]
    np.testing.assert_allclose(xs, [np.pi, 2 * np.pi, 3 * np.pi, 4 * np.pi], atol=1e-8)
    # both minima have value -1: both global; the maxima are neither
    assert cls.kinds() == ["global minimum", "neither", "global minimum", "neither"]
    assert cls.convex is False


def test_classifier_flat_inflection_and_convexity():
    import jax.numpy as jnp

    cubic = classify_function(lambda x: x**3, -1.0, 1.0)
    assert len(cubic.points) == 1 and cubic.points[0].kind == "neither" and abs(cubic.points[0].x) < 1e-6
    assert classify_function(jnp.exp, -2.0, 2.0).convex is True
    assert classify_function(jnp.exp, -2.0, 2.0).points == ()


def test_classifier_brute_force_random_quartics():
    rng = np.random.default_rng(0)
    for _ in range(5):
        c = rng.normal(size=4)
        fn = lambda x, c=c: 0.25 * x**4 + c[0] * x**3 / 3 + c[1] * x**2 / 2 + c[2] * x  # noqa: E731
        cls = classify_function(fn, -6.0, 6.0)
        grid = np.linspace(-6, 6, 400001)
        vals = 0.25 * grid**4 + c[0] * grid**3 / 3 + c[1] * grid**2 / 2 + c[2] * grid
        roots = np.roots([1.0, c[0], c[1], c[2]])
        real = np.sort(roots[np.abs(roots.imag) < 1e-9].real)
        np.testing.assert_allclose(sorted(p.x for p in cls.points), real, atol=1e-6)
        glob = [p.x for p in cls.points if p.kind == "global minimum"]
        assert glob and abs(glob[0] - grid[np.argmin(vals)]) < 1e-3


def test_classify_samples_matches_and_validates():
    x = np.linspace(-4, 4, 2001)
    y = 0.1 * x**4 - x**2 + 0.3 * x
    assert classify_samples(x, y).kinds() == ["global minimum", "neither", "local minimum"]
    with pytest.raises(LosslabError, match="strictly increasing"):
        classify_samples(x[::-1], y)
    with pytest.raises(LosslabError, match="equal length"):
        classify_samples(x, y[:-1])
    with pytest.raises(LosslabError, match="'hi' parameter"):
        classify_function(np.sin, 1.0, 0.0)


def test_seed_categories_find_point_3_twice():
    cats = p6_06.seed_categories("Only curve b is convex. Points 1, and 3 are local minima. Points 2, 5, 6 and global minima, and points 3, 4, and 7 are neither.")
    assert 3 in cats["local minima"] and 3 in cats["neither"]


def test_seed_sections_and_claimed_epochs():
    for k in range(1, 12):
        assert seed_section(f"6.{k}")
    assert p6_09.seed_claimed_epochs() == 5.0
    assert p6_09.count_passes_brute_force(1000, 100, 20) == 200.0
    assert p6_09.count_passes_brute_force(7, 10, 5) == 3.5


def test_momentum_closed_form_any_m0():
    rng = np.random.default_rng(1)
    grads, m0 = rng.normal(size=(12, 3)), rng.normal(size=3)
    m = m0.copy()
    for g in grads:
        m = 0.7 * m + 0.3 * g
    np.testing.assert_allclose(p6_10.unrolled(0.7, m0, grads), m, rtol=1e-13)
    assert p6_10.momentum_weights(0.7, 11).sum() == pytest.approx(1 - 0.7**12)


def test_hessian_sizes_exact():
    s = p6_11.hessian_size(1_000_000)
    assert s["shape"] == (10**6, 10**6)
    assert s["unique_entries"] == 500_000_500_000
    assert s["bytes_float32"] == np.zeros((1, 1), np.float32).nbytes * 10**12
    assert p6_11.mlp_param_count((1, 1000, 1000, 1)) == 1_004_001


def test_classify_expression_parses_safely():
    cls = classify_expression(r"\frac{x^4}{4} - \frac{x^3}{3}", -1.0, 1.6)
    assert [p.kind for p in cls.points] == ["neither", "global minimum"]
    np.testing.assert_allclose([p.x for p in cls.points], [0.0, 1.0], atol=1e-6)
    assert classify_expression(r"x^2 + \exp[x/2]", -3, 3).convex is True
    with pytest.raises(LosslabError, match="x only"):
        classify_expression("x^2 + y", -1, 1)
    with pytest.raises(LosslabError):
        classify_expression('__import__("os").system("true")', -1, 1)
