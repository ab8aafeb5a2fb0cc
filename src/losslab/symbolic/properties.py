"""Convexity and definiteness said in words, and judged on the problem's Hessian.

A sheet writes "the loss is convex", "H is positive semi-definite", "the surface is convex but not strictly
convex", in English or in the languages of the sheets people publish (Italian "convessa", Russian
"выпуклая", German "konvex", French "convexe", Spanish "convexa"). :func:`find_properties` finds such
statements in a sentence; :func:`psd_certificate` proves positive semi-definiteness where the Hessian is a
sum over the examples of rank-one matrices with non-negative weights (problems 6.2 and 6.4:
``H = sum_i w_i g_i g_i^T``), and :func:`eigen_search` looks for a counterexample (a negative eigenvalue, or
a singular Hessian for data a reader recognises) at random and boundary draws.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import sympy as sp

__all__ = ["Property", "find_properties", "psd_certificate", "eigen_search", "EigenReport"]

# what is claimed: "psd" (convex, positive semi-definite) or "pd" (strictly convex, positive definite)
_STRICT = re.compile(r"(?:strictly|strongly)\s+convex|strettamente\s+convess\w*|строго\s+выпукл\w*|"
                     r"strikt\s+konvex\w*|strictement\s+convexe|estrictamente\s+convex\w*", re.IGNORECASE)
_CONVEX = re.compile(r"\b(?:non-?)?convex(?:e|a|o)?\b(?!ity)|\bconvess[aoei]\b|выпукл(?:ая|ый|ое|ой|а|о)\b|"
                     r"\bkonvex\w*", re.IGNORECASE)
_PSD = re.compile(r"positive(?:ly)?\s+semi-?\s?definite|semi-?definit\w+\s+positiv\w*|positivit\w+\s+semidefinit\w*|"
                  r"\bPSD\b|положительно\s+полуопредел\w*", re.IGNORECASE)
_PD = re.compile(r"positive(?:ly)?\s+definite|definit[ao]\s+positiv[ao]|положительно\s+определ\w*", re.IGNORECASE)
_NEGATION = re.compile(r"(?:\bnot\b|\bnon\b|n't\b|\bnever\b|\bnicht\b|\bне\b|\bni\b)(?:\s+\S+){0,2}\s*$", re.IGNORECASE)
# not statements: questions, conditions, what is about to be checked
_HEDGE = re.compile(r"\?|\b(?:if|whether|check|verify|show that|prove that|to see|se|ли|wenn|si)\b", re.IGNORECASE)
# statements about something else than the loss: a figure's curves, points, a plot
_OTHER = re.compile(r"\b(?:curves?|figures?|plots?|graphs?|points?|curv[ae]|кривая|Kurve)\b", re.IGNORECASE)


@dataclass(frozen=True)
class Property:
    """One statement: ``strict`` (positive definite / strictly convex) or not, possibly ``negated``."""

    strict: bool
    negated: bool
    words: str

    def __repr__(self) -> str:
        what = "positive definite" if self.strict else "positive semi-definite"
        return f"Property({'not ' if self.negated else ''}{what}: {self.words!r})"

    @property
    def latex(self) -> str:
        """The statement about the problem's Hessian, as the claim shown beside the verdict."""
        rel = r"\succ" if self.strict else r"\succeq"
        return (r"\neg\left(" if self.negated else "") + rf"\mathbf{{H}}[\phi] {rel} 0" + (r"\right)" if self.negated else "")


# inline math that names the loss or its Hessian (any other formula in the sentence is its subject instead)
_LOSS_MATH = re.compile(r"^\s*(?:\\mathbf\{H\}|\\mathcal\{L+\}|H|L|J|LL)\s*(?:\[[^$]*\]|\([^$]*\))?\s*$")


def find_properties(sentence: str) -> list[Property]:
    """The convexity and definiteness statements of one sentence about the loss (none when it asks, supposes,
    or is about a formula of its own: "the function $-\\ln \\sigma(x)$ is convex")."""
    if _HEDGE.search(sentence) or _OTHER.search(sentence):
        return []
    if any(not _LOSS_MATH.match(m) for m in re.findall(r"\$([^$]+)\$", sentence)):
        return []
    found: list[tuple[int, Property]] = []
    taken: list[tuple[int, int]] = []
    for pattern, strict in ((_STRICT, True), (_PSD, False), (_PD, True), (_CONVEX, False)):
        for m in pattern.finditer(sentence):
            if any(a <= m.start() < b or a < m.end() <= b for a, b in taken):
                continue
            taken.append(m.span())
            before = sentence[max(0, m.start() - 30):m.start()]
            negated = bool(_NEGATION.search(before)) or m.group(0).lower().startswith("non")
            found.append((m.start(), Property(strict, negated, m.group(0))))
    return [p for _, p in sorted(found, key=lambda x: x[0])]


def _nonnegative(e) -> bool:
    """Provably >= 0 for all real values (SymPy's assumptions, after writing it as one fraction)."""
    if e.is_nonnegative:
        return True
    try:
        t = sp.factor(sp.together(e))
    except (sp.PolynomialError, TypeError, ValueError):
        return False
    return bool(t.is_nonnegative)


def psd_certificate(per_example: list[sp.Matrix], total: sp.Matrix) -> str:
    """A proof that ``total`` is positive semi-definite, or "" when this certificate does not apply.

    Each example's Hessian must be rank one with a non-negative diagonal (every 2x2 minor 0): then it is
    ``w g g^T`` with ``w >= 0``, and so is positive semi-definite, and so is their sum.
    """
    if not per_example or any(m.shape != total.shape for m in per_example):
        return ""
    n = total.rows
    minors = [m[r, r] * m[c, c] - m[r, c] * m[c, r] for m in per_example for r in range(n) for c in range(r + 1, n)]
    # a numeric look first: most Hessians fail at once, and SymPy's simplify is slow on the ones that do
    point = {s: 0.3 + 0.17 * k for k, s in enumerate(sorted(total.free_symbols, key=lambda s: s.name))}
    try:
        if any(abs(complex(e.xreplace(point).evalf())) > 1e-9 for e in minors):
            return ""
    except (TypeError, ValueError):
        return ""
    if sp.expand(sum(per_example, sp.zeros(*total.shape)) - total) != sp.zeros(*total.shape):
        return ""
    if any(sp.simplify(e) != 0 for e in minors):
        return ""
    if not all(_nonnegative(m[r, r]) for m in per_example for r in range(n)):
        return ""
    w = str(sp.factor(per_example[0][0, 0])).replace("__", "_")
    if n == 1:
        return (f"proved: the second derivative is a sum over the examples of non-negative terms (the first is {w}), "
                "so it is non-negative everywhere")
    return ("proved: each example's Hessian is a rank-one matrix w_i g_i g_i^T with w_i >= 0 "
            f"(its 2x2 minors are 0 and its diagonal is non-negative; w_1 = {w}), "
            "so H, their sum, is positive semi-definite")


@dataclass
class EigenReport:
    """What the search found: the most negative eigenvalue, and a singular draw for recognisable data."""

    negative: tuple[dict, float] | None
    singular: tuple[dict, float] | None
    smallest_generic: float  # the smallest eigenvalue over the random draws


def eigen_search(H: sp.Matrix, rng: np.random.Generator, draw, evaluate_many, *, draws: int = 200) -> EigenReport:
    """Eigenvalues of H at random draws (wider ones too), then with all inputs x_i equal."""
    symbols = sorted(H.free_symbols, key=lambda s: s.name)
    points = [draw(symbols, rng) for _ in range(draws)]
    for k, p in enumerate(points):
        if k % 2:  # wider parameters: non-convexity often shows away from the origin
            p.update({s: 3.0 * v for s, v in p.items() if not s.name.startswith(("x", "y"))})
    equal = []
    for p in points[:20]:
        q = dict(p)
        q.update({s: 1.0 for s in symbols if s.name.startswith("x__")})
        equal.append(q)
    everything = points + equal
    arrays = {s: np.array([p[s] for p in everything], dtype=float) for s in symbols}
    n = H.rows
    values = np.asarray(evaluate_many(H, arrays), dtype=float).reshape(n * n, -1) if symbols else \
        np.array([[float(x)] for x in H]) * np.ones((1, len(everything)))
    mats = values.T.reshape(-1, n, n)
    ok = np.all(np.isfinite(mats), axis=(1, 2))
    eig = np.full((len(everything), n), np.nan)
    eig[ok] = np.linalg.eigvalsh(mats[ok])
    scale = np.maximum(1.0, np.nanmax(np.abs(eig), axis=1))
    smallest = eig[:, 0]
    negative = None
    generic = smallest[:draws]
    bad = np.flatnonzero(np.isfinite(generic) & (generic < -1e-9 * scale[:draws]))
    if len(bad):
        k = int(bad[np.argmin(generic[bad] / scale[bad])])
        negative = (everything[k], float(smallest[k]))
    singular = None
    tail = smallest[draws:]
    if len(tail) and np.all(np.isfinite(tail)) and np.all(np.abs(tail) <= 1e-9 * scale[draws:]):
        singular = (everything[draws], float(tail[0]))
    finite = generic[np.isfinite(generic)]
    return EigenReport(negative, singular, float(np.min(finite)) if len(finite) else float("nan"))
