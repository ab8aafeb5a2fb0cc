"""Line searches: the notebook 6.1 rules, golden section, Armijo and strong Wolfe; scipy where they overlap."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.optimize

from losslab import make_objective
from losslab.errors import LosslabError
from losslab.optim.line_search import (
    INV_PHI,
    armijo_backtracking,
    four_point_jax,
    four_point_search,
    golden_section,
    make_line_search,
    strong_wolfe,
)
from losslab.presets import notebook_6_1_function
from losslab.run import run


def f61(s):
    return 1 - 0.5 * jnp.exp(-((s - 0.65) ** 2) / 0.1) - 0.45 * jnp.exp(-((s - 0.35) ** 2) / 0.02)


def _expected_next(f, bracket):
    """The notebook's three rules, applied once (to check every recorded transition)."""
    a, b, c, d = bracket
    losses = [float(f(p)) for p in bracket]
    if int(np.argmin(losses)) == 0:
        return 1, (a, a + (b - a) / 2, a + (c - a) / 2, a + (d - a) / 2)
    if losses[1] < losses[2]:
        return 2, (a, a + (c - a) / 3, a + 2 * (c - a) / 3, c)
    return 3, (b, b + (d - b) / 3, b + 2 * (d - b) / 3, d)


@pytest.mark.parametrize("f,max_dist", [(f61, 1.0), (lambda s: (s - 0.02) ** 2, 1.0), (lambda s: -s, 2.0)])
def test_four_point_follows_the_notebook_rules(f, max_dist):
    result = four_point_search(f, max_dist=max_dist, thresh=1e-4, max_iter=10)
    assert result.brackets[0] == (0.0, 0.33 * max_dist, 0.66 * max_dist, max_dist)
    for k, (before, after) in enumerate(zip(result.brackets, result.brackets[1:])):
        rule, expected = _expected_next(f, before)
        assert result.rules[k] == rule
        np.testing.assert_allclose(after, expected, rtol=0, atol=1e-15)
        assert after[3] - after[0] < before[3] - before[0]  # the bracket shrinks every iteration
        assert after[0] < after[1] < after[2] < after[3]
    a, b, c, d = result.brackets[-1]
    assert result.step == pytest.approx((b + c) / 2, abs=0)
    assert abs(b - c) <= 1e-4 or len(result.rules) == 10  # the stopping rule
    assert result.evaluations == 4 * len(result.rules)


def test_four_point_on_notebook_6_1_lands_in_a_dip_and_matches_the_compiled_version():
    result = four_point_search(f61, max_dist=1.0, thresh=1e-4, max_iter=10)
    step, buf, n = jax.jit(four_point_jax, static_argnums=(0, 3))(f61, 1.0, 1e-4, 10)
    assert int(n) == len(result.rules)
    np.testing.assert_allclose(np.asarray(buf)[: int(n) + 1], np.array(result.brackets), rtol=0, atol=1e-15)
    assert float(step) == pytest.approx(result.step, abs=1e-15)
    # with many iterations the search converges to a stationary point (checked by autodiff)
    fine = four_point_search(f61, max_dist=1.0, thresh=1e-9, max_iter=200)
    assert abs(float(jax.grad(f61)(fine.step))) < 1e-6
    local = scipy.optimize.minimize_scalar(lambda s: float(f61(s)), bounds=(fine.brackets[-1][0] - 0.05, fine.brackets[-1][3] + 0.05), method="bounded", options={"xatol": 1e-10})
    assert fine.step == pytest.approx(local.x, abs=1e-6)
    # the objective wrapper the web page uses gives the same search
    obj = notebook_6_1_function()
    via_obj = four_point_search(lambda s: obj.value(jnp.array([s])), max_dist=1.0, thresh=1e-4, max_iter=10)
    assert via_obj.brackets == result.brackets


def test_golden_section_shrinks_by_the_golden_ratio_and_matches_scipy():
    f = lambda s: (s - 0.3) ** 2 + 0.1 * (s - 0.3) ** 4 + 0.05 * jnp.sin(s)  # noqa: E731  unimodal on [0, 1]
    result = golden_section(f, 0.0, 1.0, tol=1e-10)
    widths = np.array([b[3] - b[0] for b in result.brackets])
    # each iteration keeps 1/phi of the interval (to the round-off of reusing an interior point)
    np.testing.assert_allclose(widths[1:], INV_PHI * widths[:-1], rtol=0, atol=1e-15)
    for a, x1, x2, b in result.brackets:
        assert a < x1 < x2 < b
    ref_golden = scipy.optimize.golden(lambda s: float(f(s)), brack=(0.0, 0.3, 1.0), tol=1e-10)
    ref_bounded = scipy.optimize.minimize_scalar(lambda s: float(f(s)), bounds=(0, 1), method="bounded", options={"xatol": 1e-10}).x
    assert result.step == pytest.approx(ref_golden, abs=1e-7)
    assert result.step == pytest.approx(ref_bounded, abs=1e-7)
    assert result.converged


def _phi(seed):
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(6, 3))
    b = rng.normal(size=6)
    x0 = rng.normal(size=3)

    def F(x):
        r = A @ x - b
        return jnp.sum(r**2) + 0.5 * jnp.sum(x**4)

    d = -jax.grad(F)(jnp.asarray(x0))
    return F, jnp.asarray(x0), d


@pytest.mark.parametrize("seed", range(5))
def test_armijo_gives_sufficient_decrease_and_is_the_first_such_step(seed):
    F, x0, d = _phi(seed)
    phi = lambda s: F(x0 + s * d)  # noqa: E731
    f0, df0 = float(phi(0.0)), float(jax.grad(phi)(0.0))
    result = armijo_backtracking(phi, step0=1.0, shrink=0.5, c1=1e-4)
    assert result.converged
    s = result.step
    assert float(phi(s)) <= f0 + 1e-4 * s * df0
    if s < 1.0:
        assert float(phi(s / 0.5)) > f0 + 1e-4 * (s / 0.5) * df0
    assert s == 0.5 ** round(np.log(s) / np.log(0.5))


@pytest.mark.parametrize("seed", range(5))
def test_strong_wolfe_conditions_hold_like_scipy(seed):
    F, x0, d = _phi(seed)
    phi = lambda s: F(x0 + s * d)  # noqa: E731
    dphi = jax.grad(phi)
    f0, df0 = float(phi(0.0)), float(dphi(0.0))
    c1, c2 = 1e-4, 0.9

    def strong_wolfe_holds(s):
        return float(phi(s)) <= f0 + c1 * s * df0 and abs(float(dphi(s))) <= c2 * abs(df0)

    result = strong_wolfe(phi, c1=c1, c2=c2)
    assert result.converged and strong_wolfe_holds(result.step)
    ref = scipy.optimize.line_search(
        lambda x: float(F(jnp.asarray(x))), lambda x: np.asarray(jax.grad(F)(jnp.asarray(x))), np.asarray(x0), np.asarray(d), c1=c1, c2=c2
    )[0]
    assert ref is not None and strong_wolfe_holds(ref)
    # tighter c2: closer to an exact line search, and the two agree on that too
    tight = strong_wolfe(phi, c1=c1, c2=0.01)
    assert abs(float(dphi(tight.step))) <= 0.01 * abs(df0)


def test_wolfe_and_armijo_accept_the_newton_step_on_a_quadratic_like_scipy():
    A = jnp.array([[3.0, 1.0], [1.0, 2.0]])
    b = jnp.array([1.0, -1.0])
    F = lambda x: 0.5 * x @ A @ x - b @ x  # noqa: E731
    x0 = jnp.array([2.0, 2.0])
    d = -jnp.linalg.solve(A, A @ x0 - b)  # Newton direction: the exact step is 1
    phi = lambda s: F(x0 + s * d)  # noqa: E731
    assert strong_wolfe(phi).step == 1.0
    assert armijo_backtracking(phi).step == 1.0
    assert scipy.optimize.line_search(lambda x: float(F(x)), lambda x: np.asarray(A @ x - b), np.asarray(x0), np.asarray(d))[0] == 1.0


@pytest.mark.parametrize("name", ["four_point", "golden", "armijo", "wolfe"])
@pytest.mark.parametrize("model,init,max_dist", [("linear", (1.6, -0.5), 0.1), ("gabor", (-1.5, 8.5), 2.0)])
def test_gd_with_each_line_search_decreases_the_loss(name, model, init, max_dist):
    obj = make_objective(model)
    options = {"max_dist": max_dist} if name in ("four_point", "golden") else {"max_dist": 1.0}
    result = run(obj, "gd", init, steps=20, line_search=name, line_search_options=options)
    assert not result.diverged and result.steps == 20
    assert np.all(np.diff(result.loss) <= 1e-12)
    assert result.loss[-1] < 0.5 * result.loss[0]
    assert np.all(result.step_size[:-1] > 0)
    # each step is phi_{t+1} = phi_t - s_t dL/dphi(phi_t)
    for t in (0, 5):
        g = np.asarray(obj.grad(result.params[t]))
        np.testing.assert_allclose(result.params[t + 1], result.params[t] - result.step_size[t] * g, rtol=1e-12)


def test_line_search_in_a_run_equals_the_python_search():
    obj = make_objective("linear")
    result = run(obj, "gd", (1.6, -0.5), steps=3, line_search="four_point", line_search_options={"max_dist": 0.1, "thresh": 1e-5, "max_iter": 15})
    phi = np.array([1.6, -0.5])
    for t in range(3):
        g = np.asarray(obj.grad(phi))
        s = four_point_search(lambda a: obj.value(phi - a * g), max_dist=0.1, thresh=1e-5, max_iter=15).step
        phi = phi - s * g
        np.testing.assert_allclose(result.params[t + 1], phi, rtol=1e-12)


def test_bad_line_search_input():
    with pytest.raises(LosslabError, match="The 'line_search' parameter must be one of 'four_point'"):
        make_line_search("brent")
    with pytest.raises(LosslabError, match="'thresh' parameter of four_point_search must be > 0"):
        four_point_search(f61, thresh=0)
    with pytest.raises(LosslabError, match="'c2' parameter of strong_wolfe must be > 0.5"):
        strong_wolfe(f61, c1=0.5, c2=0.4)
    with pytest.raises(LosslabError, match="works with the optimizer 'gd' or 'sgd'"):
        run(make_objective("linear"), "adam", (0.0, 0.0), steps=2, line_search="armijo")
