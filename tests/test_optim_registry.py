"""Names, validation, schedules and the library conventions that optax itself provides."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import optax
import pytest

from losslab.errors import LosslabError
from losslab.optim import OPTIMIZER_NAMES, conventions, hyperparameters, make_optimizer
from losslab.optim.schedules import constant, cosine_decay, exponential_decay, step_decay

from _optim_helpers import optax_trajectory, random_quadratic


def test_contract_names_are_present():
    for name in ("gd", "sgd", "momentum", "nesterov", "normalized", "adam"):
        assert name in OPTIMIZER_NAMES
    for name in OPTIMIZER_NAMES:
        tx = make_optimizer(name, learning_rate=0.1)
        assert isinstance(tx, optax.GradientTransformation)
        params = jnp.array([1.0, -2.0])
        updates, _ = tx.update(jnp.array([0.5, 0.25]), tx.init(params), params)
        assert np.all(np.isfinite(np.asarray(updates)))


@pytest.mark.parametrize(
    "name,kwargs,fragment",
    [
        ("gd", dict(learning_rate=0.0), "The 'learning_rate' parameter of gd must be > 0. Got 0.0 instead."),
        ("adam", dict(learning_rate=-0.1), "The 'learning_rate' parameter of adam must be > 0. Got -0.1 instead."),
        ("momentum", dict(learning_rate=0.1, beta=1.0), "The 'beta' parameter of momentum must be >= 0.0 and < 1.0. Got 1.0 instead."),
        ("nesterov", dict(learning_rate=0.1, beta=-0.1), "'beta' parameter of nesterov must be >= 0.0 and < 1.0. Got -0.1"),
        ("adam", dict(learning_rate=0.1, gamma=1.5), "'gamma' parameter of adam must be >= 0.0 and < 1.0. Got 1.5"),
        ("sgd", dict(learning_rate=0.1, beta=0.5), "takes the hyperparameters 'learning_rate'. Got unknown 'beta'"),
        ("adamm", dict(learning_rate=0.1), "The 'optimizer' parameter must be one of 'gd', 'sgd'"),
        ("gd", dict(learning_rate=float("nan")), "must be finite"),
    ],
)
def test_bad_hyperparameters_name_parameter_expected_and_received(name, kwargs, fragment):
    with pytest.raises(LosslabError) as info:
        make_optimizer(name, **kwargs)
    assert fragment in str(info.value)


def test_hyperparameters_lists_defaults():
    assert hyperparameters("adam") == {"beta": 0.9, "gamma": 0.99, "eps": 1e-8}  # notebook 6.5's gamma
    assert hyperparameters("gd") == {}


@pytest.mark.parametrize("beta", [0.0, 0.7])
def test_heavy_ball_and_optax_sgd_agree(beta):
    grad, p0 = random_quadratic(6)
    ours = optax_trajectory(conventions.heavy_ball(0.1, beta=beta), grad, p0, 120)
    ref = optax_trajectory(optax.sgd(0.1, momentum=beta), grad, p0, 120)
    np.testing.assert_allclose(ours, ref, rtol=1e-13, atol=1e-15)
    # with a zero initial trace, PyTorch's "first buffer = g" is the same thing when dampening = 0
    torch_like = optax_trajectory(conventions.torch_sgd(0.1, beta=beta), grad, p0, 120)
    np.testing.assert_allclose(torch_like, ref, rtol=1e-13, atol=1e-15)


def test_step_decay_is_notebook_6_3_rule_and_optax_staircase():
    sched = step_decay(0.8, factor=0.5, every=10)
    ref = optax.exponential_decay(0.8, transition_steps=10, decay_rate=0.5, staircase=True)
    for t in range(0, 45):
        assert float(sched(t)) == pytest.approx(0.8 * 0.5 ** (t // 10), rel=1e-15)
        assert float(sched(t)) == pytest.approx(float(ref(t)), rel=1e-15)
    assert repr(sched) == "step_decay(0.8, factor=0.5, every=10)"


def test_schedules_drive_the_rate_of_book_rules():
    grad, p0 = random_quadratic(7)
    sched = step_decay(0.3, factor=0.1, every=5)
    traj = optax_trajectory(make_optimizer("gd", learning_rate=sched), grad, p0, 12)
    for t in range(12):
        expected = traj[t] - 0.3 * 0.1 ** (t // 5) * np.asarray(grad(jnp.asarray(traj[t])))
        np.testing.assert_allclose(traj[t + 1], expected, rtol=1e-13)
    assert float(exponential_decay(1.0, factor=0.9)(3)) == pytest.approx(0.729)
    assert float(cosine_decay(1.0, steps=10)(10)) == pytest.approx(0.0, abs=1e-15)
    assert float(cosine_decay(1.0, steps=10)(5)) == pytest.approx(0.5)
    assert float(constant(0.2)(99)) == 0.2
    with pytest.raises(LosslabError, match="'every' parameter of step_decay must be >= 1"):
        step_decay(0.1, factor=0.5, every=0)
