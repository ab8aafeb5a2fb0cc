"""Compiled runs: records, stopping, divergence, minibatch counts, many runs at once without recompiling."""

from __future__ import annotations

import json

import jax.numpy as jnp
import numpy as np
import pytest

from losslab import make_objective
from losslab.errors import LosslabError
from losslab.optim import make_optimizer
from losslab.presets import FunctionObjective
from losslab.run import OVERFLOW, run, run_many, trace_count

from _optim_helpers import random_objective


@pytest.fixture(scope="module")
def linear():
    return make_objective("linear")


def test_records_are_full_data_loss_grad_norm_rate_and_epoch(linear):
    r = run(linear, "gd", [1.6, -0.5], steps=30, learning_rate=0.02)
    assert r.params.shape == (31, 2) and r.loss.shape == r.grad_norm.shape == r.step_size.shape == r.epoch.shape == (31,)
    for t in (0, 7, 30):
        assert r.loss[t] == pytest.approx(float(linear.value(r.params[t])), rel=1e-13)
        assert r.grad_norm[t] == pytest.approx(float(jnp.linalg.norm(linear.grad(r.params[t]))), rel=1e-12)
    for t in range(30):  # phi_{t+1} = phi_t - alpha grad (eq. 6.3)
        np.testing.assert_allclose(r.params[t + 1], r.params[t] - 0.02 * np.asarray(linear.grad(r.params[t])), rtol=1e-13)
    assert np.all(r.step_size[:-1] == 0.02) and np.isnan(r.step_size[-1])
    assert r.epoch.tolist() == list(range(31))
    assert (r.steps, r.epochs, r.examples_seen, r.diverged, r.diverged_at) == (30, 30, 360, False, None)


def test_minibatch_run_counts_epochs_and_uses_the_batches(linear):
    r = run(linear, "sgd", [1.6, -0.5], steps=10, batch_size=5, seed=3, learning_rate=0.05)
    # 12 examples, batch 5: batches of 5, 5, 2 per epoch
    assert r.epoch.tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3]
    assert (r.epochs, r.examples_seen) == (3, 3 * 12 + 5)
    from losslab.sampler import Sampler

    idx, mask = Sampler(12, 5, seed=3).batches(10)
    for t in range(10):
        g = np.asarray(linear.batch_grad(r.params[t], idx[t][mask[t]]))
        np.testing.assert_allclose(r.params[t + 1], r.params[t] - 0.05 * g, rtol=1e-13)
    again = run(linear, "sgd", [1.6, -0.5], steps=10, batch_size=5, seed=3, learning_rate=0.05)
    np.testing.assert_array_equal(r.params, again.params)  # reproducible from the seed
    other = run(linear, "sgd", [1.6, -0.5], steps=10, batch_size=5, seed=4, learning_rate=0.05)
    assert not np.array_equal(r.params, other.params)


def test_divergence_is_a_result_with_its_step(linear):
    r = run(linear, "gd", [1.6, -0.5], steps=200, learning_rate=1.0)
    assert r.diverged and r.diverged_at is not None
    k = r.diverged_at
    assert len(r.loss) == k + 1 and r.steps == k
    assert abs(r.loss[k]) > OVERFLOW or not np.isfinite(r.loss[k]) or np.max(np.abs(r.params[k])) > OVERFLOW
    assert np.all(np.isfinite(r.loss[:k])) and np.all(np.abs(r.loss[:k]) <= OVERFLOW)
    assert r.summary() == f"diverged at step {k}"
    # the growth is geometric, so the step agrees with the eigenvalue of the GD map
    H = np.asarray(linear.hessian(np.zeros(2)))
    rho = np.max(np.abs(1 - 1.0 * np.linalg.eigvalsh(H)))
    assert rho > 1
    d = r.to_dict()
    assert d["diverged"] is True and d["diverged_at"] == k
    json.dumps(d)  # NaN/inf are replaced, the dict is valid JSON


def test_nan_divergence_reports_the_first_bad_step():
    obj = FunctionObjective(lambda p: jnp.sqrt(p[0]) + p[0], 1, name="sqrt")
    r = run(obj, "gd", [1.0], steps=10, learning_rate=1.0)
    # phi_1 = 1 - (1/2 + 1) = -0.5, where sqrt is NaN: divergence at step 1, reported, not raised
    assert r.diverged and r.diverged_at == 1 and r.steps == 1
    assert np.isfinite(r.loss[0]) and np.isnan(r.loss[1])
    assert r.params[1, 0] == pytest.approx(-0.5, abs=1e-15)
    assert r.summary() == "diverged at step 1"
    assert r.to_dict()["loss"] is None


def test_tolerance_stop(linear):
    r = run(linear, "gd", [1.6, -0.5], steps=5000, learning_rate=0.01, tol=1e-6)
    assert r.converged and not r.diverged and r.steps < 5000
    assert r.grad_norm[-1] <= 1e-6 < r.grad_norm[-2]
    assert len(r.loss) == r.steps + 1
    # the least-squares optimum (closed form)
    X = np.stack([np.ones(12), np.asarray(linear.data.x)], axis=1)
    np.testing.assert_allclose(r.final_params, np.linalg.lstsq(X, np.asarray(linear.data.y), rcond=None)[0], atol=1e-5)


def test_changing_a_hyperparameter_value_does_not_recompile():
    obj = random_objective(11)
    run(obj, "adam", [0.1, 9.0], steps=50, batch_size=4, learning_rate=0.1)
    before = trace_count()
    for lr, beta in ((0.05, 0.9), (0.2, 0.5), (0.3, 0.0)):
        run(obj, "adam", [0.2, 8.0], steps=50, batch_size=4, seed=int(lr * 10), learning_rate=lr, beta=beta)
    assert trace_count() == before
    run(obj, "adam", [0.2, 8.0], steps=51, batch_size=4, learning_rate=0.1)  # a new shape does
    assert trace_count() == before + 1


def test_run_many_equals_single_runs_and_compiles_once():
    obj = random_objective(12)
    rng = np.random.default_rng(0)
    inits = np.column_stack([rng.uniform(-2, 2, 6), rng.uniform(5, 15, 6)])
    rates = np.array([0.001, 0.01, 0.05])
    before = trace_count()
    many = run_many(obj, "momentum", inits, steps=40, learning_rates=rates, beta=[0.5, 0.6, 0.9], batch_size=7, seed=2)
    assert trace_count() == before + 1
    assert many.loss.shape == (3, 6, 41) and many.params.shape == (3, 6, 41, 2)
    for i, j in ((0, 0), (1, 3), (2, 5)):
        single = run(obj, "momentum", inits[j], steps=40, batch_size=7, seed=2, learning_rate=rates[i], beta=[0.5, 0.6, 0.9][i])
        n = len(single.loss)
        np.testing.assert_allclose(many.loss[i, j, :n], single.loss, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(many.final_params[i, j], single.final_params, rtol=1e-10, atol=1e-12)
        assert many.diverged[i, j] == single.diverged
    assert trace_count() == before + 2  # the single runs compiled once, for all three settings
    run_many(obj, "momentum", inits + 0.5, steps=40, learning_rates=rates * 2, beta=0.7, batch_size=7, seed=5)
    assert trace_count() == before + 2  # new values, same shapes: no recompilation


def test_ten_thousand_starts_by_five_learning_rates(linear):
    rng = np.random.default_rng(1)
    inits = rng.uniform(-3, 3, size=(10_000, 2))
    rates = np.array([0.001, 0.01, 0.03, 0.1, 1.0])
    many = run_many(linear, "gd", inits, steps=60, learning_rates=rates, record="loss")
    assert many.loss.shape == (5, 10_000, 61) and many.params is None
    assert many.diverged[4].all() and not many.diverged[:4].any()  # alpha = 1 exceeds 2 / lambda_max
    assert (many.diverged_at[4] > 0).all() and (many.diverged_at[:4] == -1).all()
    H = np.asarray(linear.hessian(np.zeros(2)))
    assert 2 / np.max(np.linalg.eigvalsh(H)) < 1.0
    j = 1234
    single = run(linear, "gd", inits[j], steps=60, learning_rate=0.03)
    np.testing.assert_allclose(many.loss[3 - 1, j], single.loss, rtol=1e-12)
    np.testing.assert_allclose(many.final_params[2, j], single.final_params, rtol=1e-12)


def test_a_transformation_can_be_passed_directly(linear):
    a = run(linear, make_optimizer("adam", learning_rate=0.05), [1.6, -0.5], steps=30)
    b = run(linear, "adam", [1.6, -0.5], steps=30, learning_rate=0.05)
    np.testing.assert_allclose(a.params, b.params, rtol=1e-13)


def test_schedules_work_in_runs(linear):
    from losslab.optim.schedules import step_decay

    r = run(linear, "gd", [1.6, -0.5], steps=12, learning_rate=step_decay(0.02, factor=0.5, every=4))
    np.testing.assert_allclose(r.step_size[:-1], [0.02] * 4 + [0.01] * 4 + [0.005] * 4)


def test_progress_callback_is_called(linear):
    seen = []
    run(linear, "gd", [1.6, -0.5], steps=20, learning_rate=0.01, progress=seen.append, progress_every=5)
    import jax

    jax.effects_barrier()
    assert sorted(int(t) for t in seen) == [0, 5, 10, 15, 20]


@pytest.mark.parametrize(
    "kwargs,fragment",
    [
        (dict(steps=0, learning_rate=0.1), "The 'steps' parameter of run must be >= 1. Got 0 instead."),
        (dict(steps=5, batch_size=13, learning_rate=0.1), "The 'batch_size' parameter of run must be >= 1 and <= 12. Got 13 instead."),
        (dict(steps=5, batch_size=0, learning_rate=0.1), "must be >= 1 and <= 12. Got 0 instead."),
        (dict(steps=5), "The 'learning_rate' parameter of gd is required"),
        (dict(steps=5, learning_rate=-1.0), "The 'learning_rate' parameter of gd must be > 0. Got -1.0 instead."),
    ],
)
def test_bad_run_input(linear, kwargs, fragment):
    with pytest.raises(LosslabError) as info:
        run(linear, "gd", [1.6, -0.5], **kwargs)
    assert fragment in str(info.value)


def test_bad_init_and_optimizer(linear):
    with pytest.raises(LosslabError, match="'init' parameter of run must have 2 entries"):
        run(linear, "gd", [1.0], steps=2, learning_rate=0.1)
    with pytest.raises(LosslabError, match="The 'optimizer' parameter must be one of"):
        run(linear, "rmsprop", [1.0, 2.0], steps=2, learning_rate=0.1)
    with pytest.raises(LosslabError, match="'beta' parameter of run_many must be a number or 2 numbers"):
        run_many(linear, "momentum", np.zeros((3, 2)), steps=2, learning_rates=[0.1, 0.2], beta=[0.1, 0.2, 0.3])


@pytest.mark.parametrize("batch_size,replace,drop_last", [(5, False, False), (5, False, True), (5, True, False), (None, False, False)])
def test_per_step_epochs_follow_epochs_for(linear, batch_size, replace, drop_last):
    from losslab.sampler import epochs_for

    r = run(linear, "sgd", [1.6, -0.5], steps=23, batch_size=batch_size, replace=replace, drop_last=drop_last, learning_rate=0.01)
    expected = [epochs_for(t, 12, batch_size, replace=replace, drop_last=drop_last).epochs for t in range(24)]
    assert r.epoch.tolist() == expected
    final = epochs_for(23, 12, batch_size, replace=replace, drop_last=drop_last)
    assert (r.epochs, r.examples_seen) == (final.epochs, final.examples_seen)


def test_lean_and_stopping_loops_record_the_same_run(linear):
    # tol=None compiles a loop without stop logic and finds divergence from the records;
    # tol=0.0 (never reached) goes through the loop that stops itself: same result.
    for rate in (0.01, 1.0):  # a converging and a diverging run
        lean = run(linear, "momentum", [1.6, -0.5], steps=300, learning_rate=rate, beta=0.5)
        stopping = run(linear, "momentum", [1.6, -0.5], steps=300, learning_rate=rate, beta=0.5, tol=0.0)
        assert (lean.diverged, lean.diverged_at, lean.steps) == (stopping.diverged, stopping.diverged_at, stopping.steps)
        for field in ("params", "loss", "grad_norm", "step_size", "epoch"):
            np.testing.assert_array_equal(getattr(lean, field), getattr(stopping, field), err_msg=field)
    assert lean.diverged and not run(linear, "momentum", [1.6, -0.5], steps=300, learning_rate=0.01, beta=0.5).diverged


def test_run_refuses_records_too_large_for_memory_before_running():
    import losslab as ll
    from losslab.run import run

    model = ll.mlp((1, 1000, 1000, 1))
    obj = ll.Objective(model, ll.Dataset(np.linspace(-1, 1, 10), np.zeros(10)))
    with pytest.raises(ll.LosslabError, match=r"Recording 1,001 steps of 1,004,001 parameters needs 15\.0 GiB, limit 4\.0 GiB"):
        run(obj, "gd", np.zeros(model.n_params), steps=1000, learning_rate=0.01)
