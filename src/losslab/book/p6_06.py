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
    """Functions with all three kinds of point (and a flat inflection), with their exact stationary points.
    ``fn`` is the function written out in NumPy: the reference the parsed formula is compared with."""
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
            "fn": lambda x: x**2 + np.exp(0.5 * x),
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


# Tolerances of the checks, and why
PARSED_RTOL = 1e-12  # the LaTeX parsed into NumPy vs the same function written out: the same operations, round-off only
ROOT_ATOL = 1e-6  # the classifier's stationary points are found by bisection on f' to ~1e-10; NumPy's roots to ~1e-12
IMAG_TOL = 1e-9  # np.roots of a real cubic: a real root's imaginary part is round-off
GRID_ATOL = 1e-4  # a 200,001-point grid over at most 8 units puts its argmin within 4e-5 of the true minimum
CONVEX_EXPECTED = [False, True, False]  # x^2 + e^(x/2) has f'' = 2 + e^(x/2)/4 > 0; the others have f'' < 0 somewhere


def _study(demo: dict) -> dict:
    """One demonstration function: the classifier's answer and the independent references to check it with."""
    cls = classify_expression(demo["text"], demo["lo"], demo["hi"])  # parsed safely from LaTeX
    grid = np.linspace(demo["lo"], demo["hi"], 801)
    fvals = demo["fn"](grid)  # NumPy: an eager JAX evaluation would compile a program per operation and shape
    roots = None
    if demo["poly"] is not None:  # the exact real roots of the polynomial f' (NumPy)
        all_roots = np.roots(demo["poly"])
        roots = np.sort(np.unique(np.round(np.real(all_roots[np.abs(np.imag(all_roots)) < IMAG_TOL]), 10)))
        roots = roots[(roots >= demo["lo"]) & (roots <= demo["hi"])]
    fine = np.linspace(demo["lo"], demo["hi"], 200001)
    return {
        "name": demo["label"], "text": demo["text"], "cls": cls, "grid": grid, "f": fvals, "roots": roots,
        "parsed": np.broadcast_to(compile_expression(demo["text"], "numpy")(grid), grid.shape),
        "brute_x": fine[int(np.argmin(demo["fn"](fine)))],
        "sampled": classify_samples(grid, fvals),  # a classifier that sees samples only
    }


def _checks(s: dict) -> list[Check]:
    name, cls, sampled = s["name"], s["cls"], s["sampled"]
    out = [check_close(f"parsed ${s['text']}$ = {name} on a grid", s["parsed"], s["f"], rtol=PARSED_RTOL, atol=PARSED_RTOL)]
    if s["roots"] is not None:
        found = np.sort([p.x for p in cls.points])
        ok = found.shape == s["roots"].shape and np.allclose(found, s["roots"], atol=ROOT_ATOL)
        out.append(Check(f"stationary points of {name} = real roots of f'", bool(ok),
                         f"found {np.round(found, 6).tolist()}, roots {np.round(s['roots'], 6).tolist()}"))
    glob = [p.x for p in cls.points if p.kind == "global minimum"]
    out.append(Check(f"global minimum of {name} = brute-force grid minimum", len(glob) == 1 and abs(glob[0] - s["brute_x"]) < GRID_ATOL,
                     f"classifier {glob}, grid argmin {s['brute_x']:.5f}"))
    same = [p.kind for p in sampled.points] == [p.kind for p in cls.points if "inflection" not in p.reason] and sampled.convex == cls.convex
    out.append(Check(f"samples-only classifier agrees on {name}", bool(same),
                     f"formula: {cls.kinds()}, samples: {sampled.kinds()}; convex {cls.convex}/{sampled.convex}"))
    return out


def solve(ctx: BookContext) -> ProblemResult:
    from ..plots.book import stationary_points_figure

    # -- compute: classify the stationary points and convexity of three functions
    studies = [(demo["label"], _study(demo)) for demo in demo_functions()]
    results = [{"label": label, **s["cls"].to_dict()} for label, s in studies]
    kinds_seen = {k for r in results for k in (p["kind"] for p in r["points"])}

    # -- checks, against independent references: the function itself, NumPy's roots of f', a brute-force
    # grid minimum, a classifier from samples only
    checks: list[Check] = [c for _, s in studies for c in _checks(s)]
    checks.append(Check("the demonstration has all three kinds of point", kinds_seen == set(KINDS), f"kinds found: {sorted(kinds_seen)}"))
    checks.append(Check("convexity decisions", [r["convex"] for r in results] == CONVEX_EXPECTED,
                        f"{[r['convex'] for r in results]} (x^2+e^(x/2) has f'' = 2 + e^(x/2)/4 > 0; the others have f'' < 0 somewhere)"))

    # -- figure and text
    demos = [{"label": label, "x": s["grid"], "f": s["f"], "points": [p.to_dict() for p in s["cls"].points], "convex": s["cls"].convex}
             for label, s in studies]
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
