"""The notebooks' published check values, and closed forms of the linear model."""

import numpy as np
import pytest

import losslab as ll


def test_published_check_value_linear():
    assert round(float(ll.make_objective("linear", "book:linear").value([0.6, -0.2])), 3) == 12.367


def test_published_check_value_gabor():
    assert round(float(ll.make_objective("gabor", "book:gabor").value([0.6, -0.2])), 3) == 16.419


def test_published_check_value_shallow_network():
    # phi = (-0.3, 2.0, -1.0, 7.0), theta = (0.3, -1.0; -1.0, 2.0; -0.5, 0.65)
    params = [-0.3, 2.0, -1.0, 7.0, 0.3, -1.0, -1.0, 2.0, -0.5, 0.65]
    assert round(float(ll.make_objective("shallow", "book:shallow").value(params)), 3) == 9.385


def test_linear_value_is_the_book_sum_and_the_mean_divides_by_I():
    data = ll.load_dataset("book:linear")
    phi = np.array([0.6, -0.2])
    by_hand = np.sum((phi[0] + phi[1] * data.x - data.y) ** 2)
    assert float(ll.make_objective("linear", data).value(phi)) == pytest.approx(by_hand, rel=1e-14)
    assert float(ll.make_objective("linear", data, reduction="mean").value(phi)) == pytest.approx(by_hand / 12, rel=1e-14)


def test_least_squares_fit_equals_normal_equations():
    obj = ll.make_objective("linear", "book:linear")
    x, y = obj.data.x, obj.data.y
    design = np.stack([np.ones_like(x), x], axis=1)
    phi_normal = np.linalg.solve(design.T @ design, design.T @ y)
    # Newton's method on a quadratic lands on the minimum in one step from anywhere.
    start = np.array([3.0, -4.0])
    phi_newton = start - np.linalg.solve(np.asarray(obj.hessian(start)), np.asarray(obj.grad(start)))
    np.testing.assert_allclose(phi_newton, phi_normal, rtol=1e-12)
    np.testing.assert_allclose(phi_normal, np.linalg.lstsq(design, y, rcond=None)[0], rtol=1e-12)
    np.testing.assert_allclose(np.asarray(obj.grad(phi_normal)), 0.0, atol=1e-12)


def test_linear_hessian_is_constant_and_positive_definite_on_book_data():
    obj = ll.make_objective("linear", "book:linear")
    rng = np.random.default_rng(0)
    hessians = [np.asarray(obj.hessian(rng.normal(size=2) * 5)) for _ in range(5)]
    for hess in hessians:
        np.testing.assert_allclose(hess, hessians[0], rtol=1e-13)
    x = obj.data.x
    closed = 2 * np.array([[len(x), x.sum()], [x.sum(), (x**2).sum()]])
    np.testing.assert_allclose(hessians[0], closed, rtol=1e-13)
    assert np.all(np.linalg.eigvalsh(hessians[0]) > 0)


def test_linear_hessian_is_singular_with_one_data_point():
    obj = ll.make_objective("linear", ll.Dataset([0.7], [1.3], "one point"))
    hess = np.asarray(obj.hessian([0.0, 0.0]))
    assert np.linalg.det(hess) == pytest.approx(0.0, abs=1e-12)
    assert np.min(np.linalg.eigvalsh(hess)) == pytest.approx(0.0, abs=1e-12)
    # ... and with many points that share one x value (the 2025 errata)
    same_x = ll.make_objective("linear", ll.Dataset([0.5, 0.5, 0.5], [1.0, 2.0, 3.0], "equal x"))
    assert np.linalg.det(np.asarray(same_x.hessian([0.0, 0.0]))) == pytest.approx(0.0, abs=1e-12)
