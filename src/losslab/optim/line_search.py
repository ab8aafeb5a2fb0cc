r"""Line searches: choose how far to move along a direction.

All four work on a function of one variable, phi(s) (for a run,
phi(s) = L[phi_t + s d] with d = -dL/dphi, so s plays the role of alpha):

* :func:`four_point_search` - the bracketing search of notebook 6.1 (the
  exact rules are below); returns the step *and every bracket it visited* so
  it can be drawn. Plain Python: any callable works.
* :func:`golden_section` - golden-section search on [lo, hi].
* :func:`armijo_backtracking` - s = s0 rho^k for the first k with sufficient
  decrease phi(s) <= phi(0) + c1 s phi'(0).
* :func:`strong_wolfe` - Nocedal & Wright's Algorithm 3.5/3.6 (zoom by
  bisection): sufficient decrease and |phi'(s)| <= c2 |phi'(0)|.

The ``*_jax`` functions are the same searches written with ``lax.while_loop``
so that a whole run with a line search compiles into one ``lax.scan``.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from ..errors import LosslabError, check_choice, check_int, check_number

__all__ = [
    "LineSearchResult",
    "LineSearch",
    "LINE_SEARCH_NAMES",
    "four_point_search",
    "four_point_jax",
    "golden_section",
    "golden_section_jax",
    "armijo_backtracking",
    "armijo_jax",
    "strong_wolfe",
    "strong_wolfe_jax",
    "make_line_search",
]

INV_PHI = (math.sqrt(5.0) - 1.0) / 2.0  # 1 / golden ratio


class LineSearchResult(NamedTuple):
    """The step found, the brackets visited (a, b, c, d) in order, rules applied, evaluations of phi."""

    step: float
    brackets: list
    rules: list
    evaluations: int
    converged: bool = True

    def __repr__(self) -> str:
        iterations = f"iterations={len(self.brackets) - 1}, " if self.brackets else ""
        return f"LineSearchResult(step={self.step:.10g}, {iterations}evaluations={self.evaluations}, converged={self.converged})"



# -- notebook 6.1 ------------------------------------------------------------------
def four_point_search(f, *, max_dist: float = 1.0, thresh: float = 1e-4, max_iter: int = 10) -> LineSearchResult:
    """The four-point bracketing search of notebook 6.1.

    Start with a, b, c, d = 0, 0.33, 0.66, 1.0 (times ``max_dist``). While
    |b - c| > ``thresh`` and fewer than ``max_iter`` iterations were made:

    1. if L(a) is the lowest of the four, halve the distances of b, c, d from a;
    2. else if L(b) < L(c): d <- c, then b, c <- the thirds of [a, d];
    3. else: a <- b, then b, c <- the thirds of [a, d].

    The answer is (b + c) / 2. ``brackets[0]`` is the starting bracket and
    ``brackets[k]`` the bracket after iteration k; ``rules[k-1]`` is the rule
    (1, 2 or 3) that iteration k applied.
    """
    max_dist = check_number("max_dist", max_dist, owner="four_point_search", gt=0)
    thresh = check_number("thresh", thresh, owner="four_point_search", gt=0)
    max_iter = check_int("max_iter", max_iter, owner="four_point_search", ge=1)
    a, b, c, d = 0.0, 0.33 * max_dist, 0.66 * max_dist, 1.0 * max_dist
    brackets = [(a, b, c, d)]
    rules: list[int] = []
    evaluations = 0
    n_iter = 0
    while abs(b - c) > thresh and n_iter < max_iter:
        n_iter += 1
        losses = [float(f(point)) for point in (a, b, c, d)]
        evaluations += 4
        if int(np.argmin(losses)) == 0:  # rule 1
            b = a + (b - a) / 2
            c = a + (c - a) / 2
            d = a + (d - a) / 2
            rules.append(1)
        elif losses[1] < losses[2]:  # rule 2
            d = c
            b = a + (d - a) / 3
            c = a + 2 * (d - a) / 3
            rules.append(2)
        else:  # rule 3
            a = b
            b = a + (d - a) / 3
            c = a + 2 * (d - a) / 3
            rules.append(3)
        brackets.append((a, b, c, d))
    return LineSearchResult(step=(b + c) / 2.0, brackets=brackets, rules=rules, evaluations=evaluations)


def four_point_jax(f, max_dist, thresh, max_iter: int):
    """:func:`four_point_search` under ``jit``: returns (step, brackets (max_iter+1, 4), iterations)."""
    start = jnp.stack([0.0 * max_dist, 0.33 * max_dist, 0.66 * max_dist, 1.0 * max_dist]).astype(jnp.float64)
    buffer = jnp.full((max_iter + 1, 4), jnp.nan).at[0].set(start)

    def cond(state):
        bracket, n, _ = state
        return (jnp.abs(bracket[1] - bracket[2]) > thresh) & (n < max_iter)

    def body(state):
        (a, b, c, d), n, buf = state[0], state[1], state[2]
        losses = jnp.stack([f(a), f(b), f(c), f(d)])
        rule1 = jnp.argmin(losses) == 0
        rule2 = losses[1] < losses[2]
        halved = jnp.stack([a, a + (b - a) / 2, a + (c - a) / 2, a + (d - a) / 2])
        d2 = c
        shrunk = jnp.stack([a, a + (d2 - a) / 3, a + 2 * (d2 - a) / 3, d2])
        a3 = b
        moved = jnp.stack([a3, a3 + (d - a3) / 3, a3 + 2 * (d - a3) / 3, d])
        bracket = jnp.where(rule1, halved, jnp.where(rule2, shrunk, moved))
        return bracket, n + 1, buf.at[n + 1].set(bracket)

    bracket, n, buf = lax.while_loop(cond, body, (start, jnp.asarray(0), buffer))
    return (bracket[1] + bracket[2]) / 2.0, buf, n


# -- golden section ------------------------------------------------------------------
def golden_section_jax(f, lo, hi, tol, max_iter: int):
    """Golden-section search on [lo, hi]: returns (step, brackets (max_iter+1, 4), iterations).

    Each bracket is (a, x1, x2, b) with x1 = b - (b - a)/phi, x2 = a + (b - a)/phi;
    the interval shrinks by exactly 1/phi per iteration (one new evaluation each).
    """
    a = jnp.asarray(lo, jnp.float64)
    b = jnp.asarray(hi, jnp.float64)
    x1 = b - INV_PHI * (b - a)
    x2 = a + INV_PHI * (b - a)
    start = jnp.stack([a, x1, x2, b])
    buffer = jnp.full((max_iter + 1, 4), jnp.nan).at[0].set(start)

    def cond(state):
        bracket, _, _, n, _ = state
        return (bracket[3] - bracket[0] > tol) & (n < max_iter)

    def body(state):
        (a, x1, x2, b), f1, f2, n, buf = state
        left = f1 < f2  # the minimum lies in [a, x2]
        new_left = jnp.stack([a, x2 - INV_PHI * (x2 - a), x1, x2])
        new_right = jnp.stack([x1, x2, x1 + INV_PHI * (b - x1), b])
        bracket = jnp.where(left, new_left, new_right)
        probe = jnp.where(left, bracket[1], bracket[2])
        fp = f(probe)
        f1n = jnp.where(left, fp, f2)
        f2n = jnp.where(left, f1, fp)
        return bracket, f1n, f2n, n + 1, buf.at[n + 1].set(bracket)

    bracket, _, _, n, buf = lax.while_loop(cond, body, (start, f(x1), f(x2), jnp.asarray(0), buffer))
    return (bracket[0] + bracket[3]) / 2.0, buf, n


def golden_section(f, lo: float, hi: float, *, tol: float = 1e-8, max_iter: int = 200) -> LineSearchResult:
    """Golden-section search for a minimum of ``f`` (a JAX-traceable function) on [lo, hi]."""
    lo = check_number("lo", lo, owner="golden_section")
    hi = check_number("hi", hi, owner="golden_section", gt=lo)
    tol = check_number("tol", tol, owner="golden_section", gt=0)
    max_iter = check_int("max_iter", max_iter, owner="golden_section", ge=1)
    step, buf, n = jax.jit(golden_section_jax, static_argnums=(0, 4))(f, lo, hi, tol, max_iter)
    n = int(n)
    brackets = [tuple(map(float, row)) for row in np.asarray(buf[: n + 1])]
    return LineSearchResult(float(step), brackets, [], evaluations=n + 2, converged=brackets[-1][3] - brackets[-1][0] <= tol)


# -- Armijo ------------------------------------------------------------------------
def armijo_jax(f, step0, shrink, c1, max_iter: int):
    """Backtracking: returns (step, evaluations, converged) with f(s) <= f(0) + c1 s f'(0)."""
    f0, df0 = jax.value_and_grad(f)(jnp.asarray(0.0, jnp.float64))

    def accepted(s):
        return f(s) <= f0 + c1 * s * df0

    def cond(state):
        s, k, ok = state
        return (~ok) & (k < max_iter)

    def body(state):
        s, k, _ = state
        s = s * shrink
        return s, k + 1, accepted(s)

    s0 = jnp.asarray(step0, jnp.float64)
    s, k, ok = lax.while_loop(cond, body, (s0, jnp.asarray(0), accepted(s0)))
    return s, k + 1, ok


def armijo_backtracking(f, *, step0: float = 1.0, shrink: float = 0.5, c1: float = 1e-4, max_iter: int = 60) -> LineSearchResult:
    """Armijo backtracking on phi(s) = ``f(s)`` (JAX-traceable; phi'(0) by autodiff).

    s = step0 shrink^k for the smallest k >= 0 with phi(s) <= phi(0) + c1 s phi'(0).
    """
    step0 = check_number("step0", step0, owner="armijo_backtracking", gt=0)
    shrink = check_number("shrink", shrink, owner="armijo_backtracking", gt=0, lt=1)
    c1 = check_number("c1", c1, owner="armijo_backtracking", gt=0, lt=1)
    max_iter = check_int("max_iter", max_iter, owner="armijo_backtracking", ge=1)
    s, k, ok = jax.jit(armijo_jax, static_argnums=(0, 4))(f, step0, shrink, c1, max_iter)
    return LineSearchResult(float(s), [], [], evaluations=int(k), converged=bool(ok))


# -- strong Wolfe ------------------------------------------------------------------
def strong_wolfe_jax(f, step0, c1, c2, max_step, max_iter: int):
    """Nocedal & Wright Alg. 3.5 (bracketing, doubling the step) + Alg. 3.6 (zoom by bisection).

    Returns (step, evaluations, converged). One evaluation of f and f' per iteration.
    """
    vg = jax.value_and_grad(f)
    f0, df0 = vg(jnp.asarray(0.0, jnp.float64))
    zero = jnp.asarray(0.0, jnp.float64)
    # state: i, phase (0 bracket, 1 zoom, 2 done), alpha, a_prev, f_prev, lo, f_lo, df_lo, hi, result
    init = (jnp.asarray(0), jnp.asarray(0), jnp.asarray(step0, jnp.float64), zero, f0, zero, f0, df0, zero, zero)

    def cond(state):
        return (state[1] != 2) & (state[0] < max_iter)

    def body(state):
        i, phase, alpha, a_prev, f_prev, lo, f_lo, df_lo, hi, result = state
        trial = jnp.where(phase == 0, alpha, 0.5 * (lo + hi))
        ft, dft = vg(trial)
        sufficient = ft <= f0 + c1 * trial * df0
        curvature = jnp.abs(dft) <= -c2 * df0
        # Algorithm 3.5
        b1 = (~sufficient) | ((i > 0) & (ft >= f_prev))
        b2 = (~b1) & curvature
        b3 = (~b1) & (~b2) & (dft >= 0)
        b4 = (~b1) & (~b2) & (~b3)
        # Algorithm 3.6
        z1 = (~sufficient) | (ft >= f_lo)
        z2 = (~z1) & curvature
        z3 = (~z1) & (~z2)
        flip = z3 & (dft * (hi - lo) >= 0)
        in_bracket = phase == 0
        new_phase = jnp.where(
            in_bracket,
            jnp.where(b2, 2, jnp.where(b1 | b3, 1, 0)),
            jnp.where(z2, 2, 1),
        )
        new_lo = jnp.where(in_bracket, jnp.where(b1, a_prev, jnp.where(b3, trial, lo)), jnp.where(z3, trial, lo))
        new_f_lo = jnp.where(in_bracket, jnp.where(b1, f_prev, jnp.where(b3, ft, f_lo)), jnp.where(z3, ft, f_lo))
        new_df_lo = jnp.where(in_bracket, jnp.where(b1, df_lo, jnp.where(b3, dft, df_lo)), jnp.where(z3, dft, df_lo))
        new_hi = jnp.where(in_bracket, jnp.where(b1, trial, jnp.where(b3, a_prev, hi)), jnp.where(z1, trial, jnp.where(flip, lo, hi)))
        new_a_prev = jnp.where(in_bracket & b4, trial, a_prev)
        new_f_prev = jnp.where(in_bracket & b4, ft, f_prev)
        new_alpha = jnp.where(in_bracket & b4, jnp.minimum(2.0 * trial, max_step), alpha)
        new_result = jnp.where(new_phase == 2, trial, result)
        return (i + 1, new_phase, new_alpha, new_a_prev, new_f_prev, new_lo, new_f_lo, new_df_lo, new_hi, new_result)

    state = lax.while_loop(cond, body, init)
    i, phase, alpha, a_prev, _, lo, _, _, _, result = state
    fallback = jnp.where(phase == 1, lo, a_prev)  # best point known to give sufficient decrease
    return jnp.where(phase == 2, result, fallback), i, phase == 2


def strong_wolfe(
    f, *, step0: float = 1.0, c1: float = 1e-4, c2: float = 0.9, max_step: float = 1e10, max_iter: int = 60
) -> LineSearchResult:
    """A step satisfying the strong Wolfe conditions for phi(s) = ``f(s)`` (JAX-traceable).

    phi(s) <= phi(0) + c1 s phi'(0) and |phi'(s)| <= c2 |phi'(0)|, 0 < c1 < c2 < 1.
    """
    step0 = check_number("step0", step0, owner="strong_wolfe", gt=0)
    c1 = check_number("c1", c1, owner="strong_wolfe", gt=0, lt=1)
    c2 = check_number("c2", c2, owner="strong_wolfe", gt=c1, lt=1)
    max_step = check_number("max_step", max_step, owner="strong_wolfe", gt=0)
    max_iter = check_int("max_iter", max_iter, owner="strong_wolfe", ge=1)
    s, i, ok = jax.jit(strong_wolfe_jax, static_argnums=(0, 5))(f, step0, c1, c2, max_step, max_iter)
    return LineSearchResult(float(s), [], [], evaluations=int(i) + 1, converged=bool(ok))


# -- for runs ------------------------------------------------------------------------
LINE_SEARCH_NAMES = ("four_point", "golden", "armijo", "wolfe")

_DEFAULTS = {
    "four_point": {"max_dist": 1.0, "thresh": 1e-4, "max_iter": 10},
    "golden": {"max_dist": 1.0, "tol": 1e-8, "max_iter": 100},
    "armijo": {"max_dist": 1.0, "shrink": 0.5, "c1": 1e-4, "max_iter": 60},
    "wolfe": {"max_dist": 1.0, "c1": 1e-4, "c2": 0.9, "max_iter": 60},
}


class LineSearch(NamedTuple):
    """A line search by name with its options, as used by :func:`losslab.run.run`."""

    name: str
    options: tuple  # sorted (key, value) pairs, hashable

    def option(self, key):
        return dict(self.options)[key]

    def __repr__(self) -> str:
        opts = ", ".join(f"{k}={v:g}" for k, v in self.options)
        return f"LineSearch({self.name!r}, {opts})"


def make_line_search(name: str | LineSearch, **options) -> LineSearch:
    """Validate a line-search name and options (``max_dist`` is the initial/maximal step)."""
    if isinstance(name, LineSearch):
        return name
    check_choice("line_search", name, LINE_SEARCH_NAMES)
    defaults = _DEFAULTS[name]
    unknown = sorted(set(options) - set(defaults))
    if unknown:
        raise LosslabError(
            f"The line search {name!r} takes the options {', '.join(map(repr, defaults))}. Got unknown {', '.join(map(repr, unknown))} instead."
        )
    values = {**defaults, **{k: v for k, v in options.items() if v is not None}}
    for key, value in values.items():
        if key == "max_iter":
            values[key] = check_int(key, value, owner=name, ge=1)
        elif key in ("shrink", "c1", "c2"):
            values[key] = check_number(key, value, owner=name, gt=0, lt=1)
        else:
            values[key] = check_number(key, value, owner=name, gt=0)
    if name == "wolfe" and not values["c1"] < values["c2"]:
        raise LosslabError(f"The 'c2' parameter of wolfe must be > c1 = {values['c1']}. Got {values['c2']} instead.")
    return LineSearch(name, tuple(sorted(values.items())))


def search_step(spec: LineSearch, f):
    """The step chosen by ``spec`` for phi(s) = f(s), traceable (used inside a run's scan)."""
    o = dict(spec.options)
    if spec.name == "four_point":
        return four_point_jax(f, o["max_dist"], o["thresh"], o["max_iter"])[0]
    if spec.name == "golden":
        return golden_section_jax(f, 0.0, o["max_dist"], o["tol"], o["max_iter"])[0]
    if spec.name == "armijo":
        return armijo_jax(f, o["max_dist"], o["shrink"], o["c1"], o["max_iter"])[0]
    return strong_wolfe_jax(f, o["max_dist"], o["c1"], o["c2"], 1e10, o["max_iter"])[0]
