"""What a solved problem is: its answer, its independent checks, its figures, the verdict on the seed sheet.

One :class:`ProblemResult` per problem of Chapter 6. The CLI prints it, the
report renders it, the tests assert it; nothing downstream recomputes anything.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Check", "ProblemResult", "BookContext", "SEED_VERDICTS", "check_close"]

SEED_VERDICTS = ("agrees", "disagrees", "no answer")


@dataclass(frozen=True)
class Check:
    """One independent check of an answer: what was compared with what, and whether it held."""

    name: str
    passed: bool
    detail: str = ""

    def to_dict(self) -> dict:
        return {"name": self.name, "passed": bool(self.passed), "detail": self.detail}

    def __repr__(self) -> str:
        return f"Check({self.name!r}, {'pass' if self.passed else 'FAIL'}: {self.detail})"


@dataclass
class ProblemResult:
    """The solution of one problem (``problem`` is "6.1" ... "6.11")."""

    problem: str
    title: str
    statement: str
    answer: dict[str, Any]
    summary: str  # the answer in words, a few sentences (formulas in $...$)
    checks: list[Check] = field(default_factory=list)
    figures: list[str] = field(default_factory=list)  # paths of written figure files
    seed_verdict: str = "no answer"
    seed_notes: str = ""
    derivation: str = ""  # markdown with $...$ / $$...$$ math
    seconds: float = 0.0

    def __post_init__(self) -> None:
        if self.seed_verdict not in SEED_VERDICTS:
            raise ValueError(f"seed_verdict must be one of {SEED_VERDICTS}. Got {self.seed_verdict!r} instead.")

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    def to_dict(self) -> dict:
        from ..jsonable import to_jsonable

        return to_jsonable(
            {
                "problem": self.problem,
                "title": self.title,
                "answer": self.answer,
                "summary": self.summary,
                "checks": [c.to_dict() for c in self.checks],
                "passed": self.passed,
                "figures": [str(f) for f in self.figures],
                "seed_verdict": self.seed_verdict,
                "seed_notes": self.seed_notes,
                "seconds": round(self.seconds, 3),
            }
        )

    def _repr_html_(self) -> str:
        from .report import problem_css, problem_html

        return f'<div class="ll-problem"><style>{problem_css()}</style>{problem_html(self)}</div>'

    def __repr__(self) -> str:
        n_ok = sum(c.passed for c in self.checks)
        return (
            f"ProblemResult({self.problem!r}, {self.title!r}, checks {n_ok}/{len(self.checks)} passed, "
            f"seed {self.seed_verdict!r}, {len(self.figures)} figures)"
        )


@dataclass(frozen=True)
class BookContext:
    """Where figures go and how big the experiments are (``small`` for CI)."""

    out_dir: Path = Path("losslab_out")
    small: bool = False
    seed: int = 0

    @property
    def figure_dir(self) -> Path:
        path = Path(self.out_dir) / "figures"
        path.mkdir(parents=True, exist_ok=True)
        return path

    def figure_path(self, name: str) -> Path:
        return self.figure_dir / name


def check_close(name: str, computed, reference, *, rtol: float = 1e-9, atol: float = 1e-12, what: str = "") -> Check:
    """A :class:`Check` that ``computed`` matches an independent ``reference`` (max abs difference in the detail)."""
    import numpy as np

    a = np.asarray(computed, dtype=float)
    b = np.asarray(reference, dtype=float)
    if a.shape != b.shape:
        return Check(name, False, f"shapes differ: {a.shape} vs {b.shape}")
    diff = float(np.max(np.abs(a - b))) if a.size else 0.0
    ok = bool(np.allclose(a, b, rtol=rtol, atol=atol)) and math.isfinite(diff)
    prefix = f"{what}: " if what else ""
    return Check(name, ok, f"{prefix}max |difference| = {diff:.3g} (rtol {rtol:g}, atol {atol:g})")


def gradients_three_ways(derivation, objective, points):
    """At each of ``points``: (SymPy-derived gradient from losslab.symbolic, autodiff, the core's hand-derived gradient).

    Three independent routes to dL/dphi on the objective's data, each of shape (len(points), P).
    """
    import numpy as np

    x, y = np.asarray(objective.data.x), np.asarray(objective.data.y)
    derived = np.array([derivation.grad(p, x, y) for p in points])
    autodiff = np.array([np.asarray(objective.grad(p)) for p in points])
    analytic = np.array([np.asarray(objective.analytic_grad(p)) for p in points])
    return derived, autodiff, analytic
