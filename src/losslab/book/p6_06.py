"""Problem 6.6: convexity and the kinds of stationary point of a 1D function (the book's figure 6.11 is not
available, so this gives the general tool and demonstrates it)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..errors import LosslabError, check_int, check_number
from .result import BookContext, Check, ProblemResult, check_close
from .seed import seed_section

TITLE = "Convexity and stationary points of 1D functions"
STATEMENT = (
    "Which of the functions in figure 6.11 is convex? Justify your answer. Characterize each of the points 1-7 as a "
    "local minimum, global minimum, or neither."
)

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


def classify_function(fn: Callable, lo: float, hi: float, *, resolution: int = 4001, tol: float = 1e-9) -> Classification:
    """Stationary points of a smooth JAX-traceable ``fn`` on [lo, hi], classified with exact derivatives.

    f' comes from autodiff; its sign changes on a grid are refined by bisection; each point is then a
    local minimum if f' goes from - to + (equivalently f'' > 0), otherwise neither (a maximum or a flat
    inflection). A local minimum is global if no point of [lo, hi] is lower. Convex on [lo, hi] iff
    f'' >= 0 at every grid point (a smooth function with f'' >= 0 on an interval is convex there).
    """
    import jax
    import jax.numpy as jnp

    lo = check_number("lo", lo, owner="classify_function")
    hi = check_number("hi", hi, owner="classify_function", gt=lo)
    resolution = check_int("resolution", resolution, owner="classify_function", ge=11)
    f = jax.jit(jax.vmap(fn))
    d1 = jax.jit(jax.vmap(jax.grad(fn)))
    d2 = jax.jit(jax.vmap(jax.grad(jax.grad(fn))))
    grid = np.linspace(lo, hi, resolution)
    g = np.asarray(d1(jnp.asarray(grid)))
    values = np.asarray(f(jnp.asarray(grid)))
    scale = max(1.0, float(np.max(np.abs(g))))
    roots: list[float] = []
    d1_scalar = lambda t: float(d1(jnp.asarray([t]))[0])  # noqa: E731
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
        fx = np.asarray(f(jnp.asarray(xs)))
        f2 = np.asarray(d2(jnp.asarray(xs)))
        width = (hi - lo) * 1e-4
        left = np.asarray(d1(jnp.asarray(xs - width)))
        right = np.asarray(d1(jnp.asarray(xs + width)))
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
    curvature = np.asarray(d2(jnp.asarray(grid)))
    worst = int(np.argmin(curvature))
    convex = bool(curvature[worst] >= -tol * max(1.0, float(np.max(np.abs(curvature)))))
    reason = (
        f"f'' >= 0 everywhere on the grid (smallest {curvature[worst]:.3g})"
        if convex
        else f"f''({grid[worst]:.4g}) = {curvature[worst]:.3g} < 0, so a chord lies below the curve there"
    )
    return Classification(tuple(points), convex, reason, lo, hi)


def classify_expression(text: str, lo: float, hi: float, **options) -> Classification:
    """Classify f(x) given as book-notation LaTeX, e.g. ``"0.1 x^4 - x^2 + 0.3 x"`` or ``"x^2 + \\exp[x/2]"``.

    The text is parsed by losslab's own safe parser (:func:`losslab.symbolic.parse_expression`: nothing is
    evaluated) and must depend on ``x`` only; it is then compiled to a JAX function.
    """
    import sympy as sp

    from ..symbolic import parse_expression

    if not isinstance(text, str) or not text.strip():
        raise LosslabError(f"The 'text' parameter of classify_expression must be a formula in x, e.g. 'x^4 - x^2'. Got {text!r} instead.")
    expr = parse_expression(text)
    x = sp.Symbol("x")
    others = sorted(str(s) for s in expr.free_symbols if s.name != "x")
    if others:
        raise LosslabError(f"The 'text' parameter of classify_expression must depend on x only. Got the symbols {others} instead.")
    x = next(iter(expr.free_symbols), x)
    fn = sp.lambdify(x, expr, modules="jax")
    return classify_function(lambda t: fn(t) + 0.0 * t, lo, hi, **options)


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


def demo_functions():
    """Functions with all three kinds of point (and a flat inflection), with their exact stationary points."""
    import jax.numpy as jnp

    return [
        {
            "label": r"$f(x) = 0.1x^4 - x^2 + 0.3x$",
            "text": "0.1 x^4 - x^2 + 0.3 x",
            "fn": lambda x: 0.1 * x**4 - x**2 + 0.3 * x,
            "lo": -4.0,
            "hi": 4.0,
            "poly": [0.4, 0.0, -2.0, 0.3],  # f'(x) coefficients, highest first
        },
        {
            "label": r"$f(x) = x^2 + e^{x/2}$",
            "text": r"x^2 + \exp[x/2]",
            "fn": lambda x: x**2 + jnp.exp(0.5 * x),
            "lo": -3.0,
            "hi": 3.0,
            "poly": None,
        },
        {
            "label": r"$f(x) = x^4/4 - x^3/3$",
            "text": r"\frac{x^4}{4} - \frac{x^3}{3}",
            "fn": lambda x: x**4 / 4 - x**3 / 3,
            "lo": -1.0,
            "hi": 1.6,
            "poly": [1.0, -1.0, 0.0, 0.0],
        },
    ]


def seed_categories(text: str) -> dict[str, set[int]]:
    """Which point numbers the seed's sentence puts in each category (as written, however garbled)."""
    out: dict[str, set[int]] = {}
    for sentence in re.split(r"(?<=\.)\s+", text):
        numbers = {int(n) for n in re.findall(r"\b([1-7])\b", sentence)}
        lower = sentence.lower()
        for key in ("local minima", "global minima", "neither"):
            if key in lower and numbers:
                out.setdefault(key, set()).update(numbers)
    return out


def solve(ctx: BookContext) -> ProblemResult:
    checks: list[Check] = []
    demos = []
    results = []
    for demo in demo_functions():
        name = demo["label"].replace("$", "")
        cls = classify_expression(demo["text"], demo["lo"], demo["hi"])  # parsed safely from LaTeX
        results.append({"label": demo["label"], **cls.to_dict()})
        grid = np.linspace(demo["lo"], demo["hi"], 801)
        import jax.numpy as jnp

        fvals = np.asarray(demo["fn"](jnp.asarray(grid)))
        import sympy as sp

        from ..symbolic import parse_expression

        parsed = sp.lambdify(sp.Symbol("x"), parse_expression(demo["text"]), "numpy")(grid)
        checks.append(check_close(f"parsed '{demo['text']}' = {name} on a grid", parsed, fvals, rtol=1e-12, atol=1e-12))
        demos.append({"label": demo["label"], "x": grid, "f": fvals, "points": [p.to_dict() for p in cls.points], "convex": cls.convex})
        # independent: the exact real roots of the polynomial f' (numpy) vs the points found
        if demo["poly"] is not None:
            roots = np.sort(np.unique(np.round(np.real(np.roots(demo["poly"])[np.abs(np.imag(np.roots(demo["poly"]))) < 1e-9]), 10)))
            roots = roots[(roots >= demo["lo"]) & (roots <= demo["hi"])]
            found = np.sort([p.x for p in cls.points])
            ok = found.shape == roots.shape and np.allclose(found, roots, atol=1e-6)
            checks.append(Check(f"stationary points of {name} = real roots of f'", bool(ok), f"found {np.round(found, 6).tolist()}, roots {np.round(roots, 6).tolist()}"))
        # independent: brute-force minimum over a fine grid is the point labelled global
        fine = np.linspace(demo["lo"], demo["hi"], 200001)
        brute_x = fine[int(np.argmin(np.asarray(demo["fn"](jnp.asarray(fine)))))]
        glob = [p.x for p in cls.points if p.kind == "global minimum"]
        checks.append(Check(f"global minimum of {name} = brute-force grid minimum", len(glob) == 1 and abs(glob[0] - brute_x) < 1e-4, f"classifier {glob}, grid argmin {brute_x:.5f}"))
        # independent: the sampled classifier agrees on the kinds
        sampled = classify_samples(grid, fvals)
        same = [p.kind for p in sampled.points] == [p.kind for p in cls.points if "inflection" not in p.reason] and sampled.convex == cls.convex
        checks.append(Check(f"samples-only classifier agrees on {name}", bool(same), f"formula: {cls.kinds()}, samples: {sampled.kinds()}; convex {cls.convex}/{sampled.convex}"))
    kinds_seen = {k for r in results for k in (p["kind"] for p in r["points"])}
    checks.append(Check("the demonstration has all three kinds of point", kinds_seen == set(KINDS), f"kinds found: {sorted(kinds_seen)}"))
    convex_expected = [False, True, False]
    checks.append(Check("convexity decisions", [r["convex"] for r in results] == convex_expected, f"{[r['convex'] for r in results]} (x^2+e^(x/2) has f'' = 2 + e^(x/2)/4 > 0; the others have f'' < 0 somewhere)"))

    from ..plots.book import stationary_points_figure

    figures = [str(stationary_points_figure(demos, ctx.figure_path("p6_06_stationary_points.png")))]

    seed = seed_section("6.6")
    answer_text = seed.split("neither.", 1)[-1] if "neither." in seed else seed
    categories = seed_categories(answer_text)
    both = sorted(categories.get("local minima", set()) & categories.get("neither", set()))
    garbled = bool(re.search(r"\band global minima\b", answer_text))
    notes = [
        "Figure 6.11 is not available here, so the seed's point-by-point answer cannot be checked against the curves; "
        "the sheet gives no usable answer."
    ]
    if both:
        notes.append(f"As written it is self-contradictory: point(s) {both} are listed both as local minima and as neither.")
    if garbled:
        notes.append("'Points 2, 5, 6 and global minima' is garbled (presumably 'are global minima').")
    notes.append("It also gives no justification for 'only curve b is convex' (convexity needs f'' >= 0 everywhere, or every chord above the curve).")
    summary = (
        "A differentiable 1D function is **convex** on an interval iff $f''(x)\\ge 0$ there (equivalently every chord lies above the curve). "
        "Its **stationary points** ($f'(x)=0$) are: a **local minimum** if $f'$ changes sign from $-$ to $+$ (e.g. $f''>0$); a **global minimum** "
        "if moreover no point of the domain is lower; otherwise **neither** (a local maximum, $f'$ from $+$ to $-$, or a flat inflection, no sign change). "
        "On a convex function every local minimum is global. `classify_function` (exact derivatives) and `classify_samples` (samples only) apply this; "
        "the demonstration finds all three kinds."
    )
    derivation = (
        "Convexity: for twice-differentiable $f$, $f(\\lambda a + (1-\\lambda)b)\\le\\lambda f(a)+(1-\\lambda)f(b)$ for all $a,b$ iff $f''\\ge 0$. "
        "Hence $x^2+e^{x/2}$ is convex ($f''=2+e^{x/2}/4>0$), while $0.1x^4-x^2+0.3x$ has $f''(0)=-2<0$ and $x^4/4-x^3/3$ has $f''(x)=3x^2-2x<0$ on $(0,2/3)$.\n\n"
        "Stationary points: $f'(x)=0$. For $0.1x^4-x^2+0.3x$, $f'(x)=0.4x^3-2x+0.3$ has three real roots: two minima (the lower one global) and a maximum between them. "
        "For $x^4/4-x^3/3$, $f'(x)=x^2(x-1)$: $x=1$ is the global minimum and $x=0$ is a flat inflection ($f'\\le 0$ on both sides): neither, although $f''(0)=0$."
    )
    return ProblemResult(
        problem="6.6",
        title=TITLE,
        statement=STATEMENT,
        answer={"classifier_demo": results, "kinds_found": sorted(kinds_seen)},
        summary=summary,
        checks=checks,
        figures=figures,
        seed_verdict="no answer",
        seed_notes=" ".join(notes),
        derivation=derivation,
    )
