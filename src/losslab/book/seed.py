"""The user's solution sheet ("the seed"), shipped with the package, and the tools to judge it.

``seed_sheet.md`` beside this module is a verbatim copy of
``shared/seed/000_86ead42c6a3278ba.txt``: it is shipped in the package so that
``losslab solve`` works from an installed wheel where ``../shared`` does not
exist. Some of its answers are wrong; nothing in the book copies an answer from
it — each problem computes its answer and then compares.
"""

from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources

__all__ = ["seed_text", "seed_section", "seed_claims", "derivative_verdict"]


@lru_cache(maxsize=1)
def seed_text() -> str:
    """The whole seed sheet as shipped in the package."""
    return resources.files("losslab.book").joinpath("seed_sheet.md").read_text(encoding="utf-8")


_HEADING = re.compile(r"^\s*(?:#+\s*|\*\*)Problem\s+(6\.\d+)\**\s*$", re.MULTILINE)


def seed_section(problem: str) -> str:
    """The seed's text for one problem (statement and its answer), '' if absent."""
    text = seed_text()
    marks = [(m.group(1), m.start(), m.end()) for m in _HEADING.finditer(text)]
    for k, (name, _, end) in enumerate(marks):
        if name == problem:
            stop = marks[k + 1][1] if k + 1 < len(marks) else len(text)
            return text[end:stop].strip()
    return ""


@lru_cache(maxsize=None)
def _claims_of(problem: str):
    """The derivative claims of one problem judged by :func:`losslab.symbolic.check_sheet` (None if unavailable):
    the whole sheet is read (an earlier section's definitions are context) but only this problem is judged."""
    try:
        from ..symbolic import check_sheet
    except ImportError:
        return None
    return tuple(check_sheet(seed_text(), problems={problem}))


def seed_claims(problem: str):
    """The sheet checker's verdicts on one problem's claims; None when the checker is not installed."""
    claims = _claims_of(problem)
    return None if claims is None else list(claims)


def derivative_verdict(problem: str) -> tuple[str | None, str, list]:
    """(verdict, notes, claims) from the sheet checker: 'disagrees' if any claim of ``problem``
    is incorrect, 'agrees' if every checked claim is correct, None if nothing could be checked."""
    claims = seed_claims(problem)
    if claims is None:
        return None, "the sheet checker (losslab.symbolic) is not available", []
    checked = [c for c in claims if c.verdict in ("correct", "incorrect")]
    if not checked:
        return None, "the sheet checker found no checkable claim", claims
    wrong = [c for c in checked if c.verdict == "incorrect"]
    right = [c for c in checked if c.verdict == "correct"]
    unchecked = [c for c in claims if c.verdict not in ("correct", "incorrect")]
    parts = []
    if right:
        lines = sorted({c.line for c in right})
        parts.append(f"{len(right)} claim(s) correct (line{'s' if len(lines) > 1 else ''} {', '.join(map(str, lines))})")
    for c in wrong:
        parts.append(f"line {c.line} incorrect: {c.reason}")
    for c in unchecked:
        parts.append(f"line {c.line} not checked: {c.reason}")
    return ("disagrees" if wrong else "agrees"), "; ".join(parts), claims
