"""Problem 6.6: convexity and the kinds of stationary point of a 1D function (the book's figure 6.11 is not
available, so this gives the general tool and demonstrates it)."""

from __future__ import annotations

import re

import numpy as np

from ..stationary import KINDS, classify_expression, classify_samples, compile_expression
from .result import BookContext, Check, ProblemResult, check_close
from .seed import seed_section

TITLE = "Convexity and stationary points of 1D functions"
STATEMENT = (
    "Which of the functions in figure 6.11 is convex? Justify your answer. Characterize each of the points 1-7 as a "
    "local minimum, global minimum, or neither."
)

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
        name = demo["label"]  # $math$: drawn in the book, Unicode on the terminal
        cls = classify_expression(demo["text"], demo["lo"], demo["hi"])  # parsed safely from LaTeX
        results.append({"label": demo["label"], **cls.to_dict()})
        grid = np.linspace(demo["lo"], demo["hi"], 801)
        import jax.numpy as jnp

        fvals = np.asarray(demo["fn"](jnp.asarray(grid)))
        parsed = np.broadcast_to(compile_expression(demo["text"], "numpy")(grid), grid.shape)
        checks.append(check_close(f"parsed ${demo['text']}$ = {name} on a grid", parsed, fvals, rtol=1e-12, atol=1e-12))
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
