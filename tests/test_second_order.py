"""Newton's method and linear conjugate gradients against closed forms and scipy."""

import numpy as np
import pytest
from scipy.optimize import minimize

import losslab as ll
from losslab.optim.second_order import conjugate_gradient_path, newton_path


def _least_squares_solution(obj):
    x, y = np.asarray(obj.data.x), np.asarray(obj.data.y)
    return np.linalg.lstsq(np.stack([np.ones_like(x), x], axis=1), y, rcond=None)[0]


def test_newton_solves_the_linear_least_squares_problem_in_one_step():
    obj = ll.make_objective("linear")
    path = newton_path(obj, [1.6, -0.5], 2)
    assert path.shape == (3, 2)
    np.testing.assert_allclose(path[1], _least_squares_solution(obj), rtol=1e-12)
    np.testing.assert_allclose(path[2], path[1], rtol=1e-12)


def test_conjugate_gradients_reach_the_minimum_of_a_two_parameter_quadratic_in_two_steps():
    obj = ll.make_objective("linear")
    path = conjugate_gradient_path(obj, [1.6, -0.5], 4)
    assert path.shape == (5, 2)
    assert not np.allclose(path[1], _least_squares_solution(obj), rtol=1e-6)  # one step is not enough
    np.testing.assert_allclose(path[2], _least_squares_solution(obj), rtol=1e-10)
    np.testing.assert_allclose(path[4], path[2], rtol=1e-12)  # then it stays put


def test_newton_on_logistic_regression_matches_scipy():
    obj = ll.make_objective("logistic")
    phi = newton_path(obj, np.zeros(2), 30)[-1]
    ref = minimize(lambda p: float(obj.value(p)), np.zeros(2), jac=lambda p: np.asarray(obj.grad(p)), method="BFGS", tol=1e-12)
    np.testing.assert_allclose(phi, ref.x, rtol=1e-6)
    assert np.linalg.norm(np.asarray(obj.grad(phi))) < 1e-10


def test_second_order_bad_input():
    obj = ll.make_objective("linear")
    with pytest.raises(ll.LosslabError, match="'steps' parameter of newton_path"):
        newton_path(obj, [0.0, 0.0], -1)
    with pytest.raises(ll.LosslabError, match="'params' parameter of model 'linear' must have 2 entries"):
        conjugate_gradient_path(obj, [0.0, 0.0, 1.0], 3)
