"""Stationary points and convexity of a 1D function: where f' = 0, and of which kind.

:func:`classify_function` uses exact derivatives (autodiff) and refines each sign change of
f' by bisection; :func:`classify_expression` does the same for a formula in book notation
(parsed safely, never evaluated); :func:`classify_samples` works from samples alone.
Problem 6.6 (:mod:`losslab.book.p6_06`) demonstrates them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .errors import LosslabError, check_int, check_number

__all__ = [
    "KINDS",
    "StationaryPoint",
    "Classification",
    "classify_function",
    "classify_expression",
    "classify_samples",
    "compile_expression",
]

KINDS = ("global minimum", "local minimum", "neither")


@dataclass(frozen=True)
class StationaryPoint:
    x: float
    f: float
    second_derivative: float
    kind: str  # "global minimum", "local minimum" or "neither"
    reason: str

    def to_dict(self) -> dict:
        return {"x": self.x, "f": self.f, "second_derivative": self.second_derivative, "kind": self.kind, "reason": self.reason}


@dataclass(frozen=True)
class Classification:
    points: tuple[StationaryPoint, ...]
    convex: bool
    convex_reason: str
    lo: float
    hi: float

    def kinds(self) -> list[str]:
        return [p.kind for p in self.points]

    def to_dict(self) -> dict:
        return {"points": [p.to_dict() for p in self.points], "convex": self.convex, "convex_reason": self.convex_reason, "interval": [self.lo, self.hi]}


_CHUNK = 8  # points per call of the derivatives away from the grid (bisection: one; the stationary points: a few)


def classify_function(fn: Callable, lo: float, hi: float, *, resolution: int = 4001, tol: float = 1e-9,
                      recipe: tuple | None = None) -> Classification:
    """Stationary points of a smooth JAX-traceable ``fn`` on [lo, hi], classified with exact derivatives.

    f' comes from autodiff; its sign changes on a grid are refined by bisection; each point is then a
    local minimum if f' goes from - to + (equivalently f'' > 0), otherwise neither (a maximum or a flat
    inflection). A local minimum is global if no point of [lo, hi] is lower. Convex on [lo, hi] iff
    f'' >= 0 at every grid point (a smooth function with f'' >= 0 on an interval is convex there).
    ``recipe`` names everything ``fn`` computes from, so that its compiled derivatives are kept between
    runs (:mod:`losslab.program_store`); None (a function of one's own) traces them on every call.
    """
    import jax
    import jax.numpy as jnp

    from .program_store import stored_jit

    lo = check_number("lo", lo, owner="classify_function")
    hi = check_number("hi", hi, owner="classify_function", gt=lo)
    resolution = check_int("resolution", resolution, owner="classify_function", ge=11)
    derivatives = stored_jit(jax.vmap(lambda t: (fn(t), jax.grad(fn)(t), jax.grad(jax.grad(fn))(t))),
                             recipe=recipe and ("derivatives", recipe), name="stationary.classify_function")

    def at(points) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """f, f', f'' at ``points``: the whole grid at once, anything else in padded chunks of a fixed size, so
        two compiled programs serve every call (a program per shape cost ~0.1 s each to trace and lower)."""
        pts = np.atleast_1d(np.asarray(points, dtype=np.float64))
        if pts.size == resolution:
            return tuple(np.asarray(v) for v in derivatives(jnp.asarray(pts)))
        pieces = []
        for start in range(0, pts.size, _CHUNK):
            piece = pts[start:start + _CHUNK]
            padded = np.concatenate([piece, np.full(_CHUNK - piece.size, piece[0])])
            pieces.append([np.asarray(v)[:piece.size] for v in derivatives(jnp.asarray(padded))])
        return tuple(np.concatenate(parts) for parts in zip(*pieces)) if pieces else (np.zeros(0),) * 3

    grid = np.linspace(lo, hi, resolution)
    values, g, curvature = at(grid)
    scale = max(1.0, float(np.max(np.abs(g))))
    roots: list[float] = []
    d1_scalar = lambda t: float(at(t)[1][0])  # noqa: E731
    for k in range(resolution - 1):
        a, b = grid[k], grid[k + 1]
        ga, gb = g[k], g[k + 1]
        if ga == 0.0:
            roots.append(float(a))
        elif ga * gb < 0:
            roots.append(_bisect(d1_scalar, a, b))
    if g[-1] == 0.0:
        roots.append(float(grid[-1]))
    # zeros where f' touches 0 without changing sign (flat inflections): local minima of |f'|, refined
    absg = np.abs(g)
    for k in range(1, resolution - 1):
        if absg[k] <= absg[k - 1] and absg[k] <= absg[k + 1] and g[k - 1] * g[k + 1] > 0:
            x_star = _golden(lambda t: abs(d1_scalar(t)), grid[k - 1], grid[k + 1])
            if abs(d1_scalar(x_star)) <= tol * scale:
                roots.append(x_star)
    roots = sorted(roots)
    deduped: list[float] = []
    for r in roots:
        if not deduped or r - deduped[-1] > 1e-7 * (hi - lo):
            deduped.append(r)
    roots = deduped
    xs = np.asarray(roots, dtype=np.float64)
    points = []
    if xs.size:
        fx, _, f2 = at(xs)
        width = (hi - lo) * 1e-4
        left, right = at(xs - width)[1], at(xs + width)[1]
        global_min = min(float(values.min()), float(fx.min()))
        for x, fv, s2, gl, gr in zip(xs, fx, f2, left, right):
            is_min = (gl < 0 < gr) or (s2 > tol and not (gl > 0 > gr))
            if is_min and fv <= global_min + 1e-9 * max(1.0, abs(global_min)):
                kind, reason = "global minimum", f"f' changes sign - to +, f''={s2:.3g}, and no point of [{lo:g}, {hi:g}] is lower"
            elif is_min:
                kind, reason = "local minimum", f"f' changes sign - to +, f''={s2:.3g}, but f reaches {global_min:.4g} < {fv:.4g} elsewhere"
            elif gl > 0 > gr:
                kind, reason = "neither", f"a local maximum: f' changes sign + to -, f''={s2:.3g}"
            else:
                kind, reason = "neither", f"a flat inflection: f' has the same sign on both sides, f''={s2:.3g}"
            points.append(StationaryPoint(float(x), float(fv), float(s2), kind, reason))
    worst = int(np.argmin(curvature))
    convex = bool(curvature[worst] >= -tol * max(1.0, float(np.max(np.abs(curvature)))))
    reason = (
        f"f'' >= 0 everywhere on the grid (smallest {curvature[worst]:.3g})"
        if convex
        else f"f''({grid[worst]:.4g}) = {curvature[worst]:.3g} < 0, so a chord lies below the curve there"
    )
    return Classification(tuple(points), convex, reason, lo, hi)


def compile_expression(text: str, modules: str = "jax", *, owner: str = "classify_expression") -> Callable:
    """f(x) from book-notation LaTeX as a function of x (JAX or NumPy).

    The text is parsed by losslab's own safe parser (:func:`losslab.symbolic.parse_expression`: nothing is
    evaluated) and must depend on ``x`` only.
    """
    return _lambdified(_formula_in_x(text, owner), modules)


def _formula_in_x(text: str, owner: str):
    """The SymPy expression of ``text``, checked to be a formula in x alone."""
    from .symbolic import parse_expression

    if not isinstance(text, str) or not text.strip():
        raise LosslabError(f"The 'text' parameter of {owner} must be a formula in x, e.g. 'x^4 - x^2'. Got {text!r} instead.")
    expr = parse_expression(text)
    others = sorted(str(s) for s in expr.free_symbols if s.name != "x")
    if others:
        raise LosslabError(f"The 'text' parameter of {owner} must depend on x only. Got the symbols {others} instead.")
    return expr


def _lambdified(expr, modules: str) -> Callable:
    import sympy as sp

    x = next(iter(expr.free_symbols), sp.Symbol("x"))
    if modules == "numpy":  # the module itself: the NumPy printer without `from numpy import *` (numpy.f2py, ~0.5 s)
        return sp.lambdify(x, expr, modules=[np])
    return sp.lambdify(x, expr, modules=modules)


def classify_expression(text: str, lo: float, hi: float, **options) -> Classification:
    """Classify f(x) given as book-notation LaTeX, e.g. ``"0.1 x^4 - x^2 + 0.3 x"`` or ``"x^2 + \\exp[x/2]"``.

    The text is parsed by losslab's own safe parser (see :func:`compile_expression`), then compiled to a JAX function.
    """
    import sympy as sp

    expr = _formula_in_x(text, "classify_expression")
    fn = _lambdified(expr, "jax")
    # the parsed formula, exactly, and the SymPy that printed it as JAX code: all the function computes from
    recipe = ("expression", sp.srepr(expr), sp.__version__)
    return classify_function(lambda t: fn(t) + 0.0 * t, lo, hi, recipe=recipe, **options)


def classify_samples(x, y) -> Classification:
    """The same classification from samples (x ascending, y = f(x)) without a formula: stationary points are
    grid points where the first difference changes sign; convexity is non-negative second differences."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.ndim != 1 or x.shape != y.shape or x.size < 5:
        raise LosslabError(f"The 'x' and 'y' samples of classify_samples must be 1-D of equal length >= 5. Got shapes {x.shape} and {y.shape} instead.")
    if np.any(np.diff(x) <= 0):
        raise LosslabError("The 'x' samples of classify_samples must be strictly increasing. Got unsorted or repeated values instead.")
    slope = np.diff(y) / np.diff(x)
    scale = max(1e-300, float(np.max(np.abs(y))) * 1e-12)
    global_min = float(y.min())
    points = []
    for k in range(1, x.size - 1):
        left, right = slope[k - 1], slope[k]
        if left < 0 <= right or left <= 0 < right:
            kind = "global minimum" if y[k] <= global_min + scale else "local minimum"
            points.append(StationaryPoint(float(x[k]), float(y[k]), float("nan"), kind, "discrete slope changes sign - to +"))
        elif left > 0 >= right or left >= 0 > right:
            points.append(StationaryPoint(float(x[k]), float(y[k]), float("nan"), "neither", "a local maximum: discrete slope changes sign + to -"))
    second = np.diff(slope)
    convex = bool(np.all(second >= -1e-12 * max(1.0, float(np.max(np.abs(slope))))))
    return Classification(tuple(points), convex, "non-negative second differences" if convex else "a negative second difference", float(x[0]), float(x[-1]))


def _bisect(g: Callable[[float], float], a: float, b: float, iters: int = 80) -> float:
    ga = g(a)
    for _ in range(iters):
        m = 0.5 * (a + b)
        gm = g(m)
        if gm == 0.0:
            return m
        if (gm < 0) == (ga < 0):
            a, ga = m, gm
        else:
            b = m
    return 0.5 * (a + b)


def _golden(h: Callable[[float], float], a: float, b: float, iters: int = 120) -> float:
    """Minimise a unimodal h on [a, b] by golden-section search."""
    ratio = (np.sqrt(5.0) - 1.0) / 2.0
    c, d = b - ratio * (b - a), a + ratio * (b - a)
    hc, hd = h(c), h(d)
    for _ in range(iters):
        if hc <= hd:
            b, d, hd = d, c, hc
            c = b - ratio * (b - a)
            hc = h(c)
        else:
            a, c, hc = c, d, hd
            d = a + ratio * (b - a)
            hd = h(d)
    return 0.5 * (a + b)


from .precision import float64_api  # noqa: E402  (last: wraps what this module defines)

float64_api(globals())  # every public function and method computes in float64 (losslab.precision)
