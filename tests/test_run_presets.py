"""The notebook experiments 6.1-6.5 as presets: their outcomes, checked independently."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from losslab.errors import LosslabError
from losslab.presets import PRESET_NAMES, get_preset, notebook_6_1_function, notebook_6_5_function, preset_objective, run_preset


def test_every_preset_runs():
    for name in PRESET_NAMES:
        result = run_preset(name)
        if name.startswith("6.1"):
            assert 0 < result.step < 1
        else:
            assert not result.diverged and result.steps == get_preset(name).steps


def test_6_1_search_lands_lower_than_all_four_starting_points():
    obj = notebook_6_1_function()
    result = run_preset("6.1-line-search")
    value = float(obj.value(jnp.array([result.step])))
    assert all(value < float(obj.value(jnp.array([p]))) for p in (0.0, 0.33, 0.66, 1.0))
    assert len(result.brackets) == 11  # max_iter = 10 iterations before |b - c| < 1e-4


def test_6_2_line_search_approaches_the_least_squares_optimum():
    result = run_preset("6.2-line-search")
    obj = preset_objective("linear")
    X = np.stack([np.ones(12), np.asarray(obj.data.x)], axis=1)
    best = np.linalg.lstsq(X, np.asarray(obj.data.y), rcond=None)[0]
    optimum = float(obj.value(best))
    assert np.all(np.diff(result.loss) < 0)
    assert result.loss[-1] - optimum < 0.1 * (result.loss[0] - optimum)


def test_6_3_line_search_beats_the_fixed_rate_and_sgd_counts_epochs():
    searched = run_preset("6.3-line-search")
    fixed = run_preset("6.3-gd")
    assert searched.final_loss < fixed.final_loss
    sgd = run_preset("6.3-sgd")
    assert (sgd.steps, sgd.epochs, sgd.examples_seen) == (41, 6, 205)  # 30 points, batches of 5


def test_6_4_momentum_smooths_the_sgd_path():
    results = {name: run_preset(f"6.4-{name}") for name in ("sgd", "momentum", "nesterov")}
    variation = {k: np.abs(np.diff(r.loss)).sum() for k, r in results.items()}
    for name, r in results.items():
        assert r.final_loss < 0.1 * r.loss[0]
        assert (r.epochs, r.examples_seen) == (13, 405)
    assert variation["momentum"] < variation["sgd"] and variation["nesterov"] < variation["sgd"]


def test_6_5_adam_beats_gd_in_the_same_number_of_steps():
    adam = run_preset("6.5-adam")
    gd = run_preset("6.5-gd", steps=adam.steps)
    assert adam.final_loss < 0.1 * gd.final_loss


def test_6_5_gd_with_rate_one_oscillates_in_phi_1():
    r = run_preset("6.5-gd-large")
    signs = np.sign(r.params[1:, 1])
    assert np.all(signs[1:] == -signs[:-1])  # phi_1 changes sign on every step
    assert np.all(np.abs(r.params[2:, 1]) > 0.1) and np.mean(np.abs(r.params[2:, 1])) > 0.3  # never settles
    # phi_1 overshoots because 1.0 exceeds 2 / (curvature across the valley) = 2 / 4 at the minimum
    H = np.asarray(jax.hessian(lambda p: notebook_6_5_function().fn(p))(jnp.array([0.7, 0.0])))
    assert H[1, 1] == pytest.approx(4.0) and 2 / H[1, 1] < 1.0


def test_6_5_normalized_moves_every_coordinate_by_alpha():
    r = run_preset("6.5-normalized")
    np.testing.assert_allclose(np.abs(np.diff(r.params[:10], axis=0)), 0.08, rtol=1e-6)


def test_function_objectives_have_the_objective_interface():
    obj = notebook_6_5_function()
    p = jnp.array([0.1, -0.3])
    assert float(obj.loss_on(p, obj.x, obj.y)) == pytest.approx(float(obj.value(p)))
    np.testing.assert_allclose(obj.grad(p), jax.grad(obj.fn)(p), rtol=1e-15)
    np.testing.assert_allclose(obj.hvp(p, jnp.array([1.0, 0.0])), obj.hessian(p)[:, 0], rtol=1e-13)
    assert float(obj.value(jnp.array([0.7, 0.0]))) == 0.0
    assert "6.5" in repr(obj)
    with pytest.raises(LosslabError, match="must have 2 entries"):
        obj.value([1.0])
    with pytest.raises(LosslabError, match="The 'preset' parameter must be one of"):
        get_preset("6.6")
