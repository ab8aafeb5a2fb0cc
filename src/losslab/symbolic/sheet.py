"""Reading a Markdown solution sheet: problems, display equations, prose.

Problems start at headings ``### Problem 6.1``, ``## Problem 6.4`` or
``**Problem 6.10**``. Display math is ``$$ .. $$`` (or ``\\[ .. \\]``), possibly
over several lines, possibly an ``aligned`` environment whose rows (``\\\\``)
are separate equations, or continuation lines of one equation when a row has
no relation of its own. Equation labels ``\\quad (6.5)`` / ``\\tag{6.5}`` are
recorded and stripped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..errors import LosslabError

__all__ = ["Equation", "Problem", "split_sheet", "MAX_SHEET_BYTES", "MAX_EQUATIONS"]

MAX_SHEET_BYTES = 1_000_000
MAX_EQUATIONS = 500

_HEADING = re.compile(r"^\s*(?:#{1,6}\s*|\*\*\s*)(?:Problem|Exercise)\s+(\d+(?:\.\d+)*)", re.IGNORECASE)
_LABEL = re.compile(r"(?:\\quad|\\qquad)?\s*(?:\\tag\{\s*(\d+(?:\.\d+)*)\s*\}|\(\s*(\d+\.\d+)\s*\))\s*[.,;]?\s*$")
_ENV_STRIP = re.compile(r"\\(begin|end)\{(aligned|align\*?|equation\*?|gather\*?|split|eqnarray\*?)\}")


@dataclass
class Equation:
    """One equation of a display: its LaTeX, the 1-based line and the label, if any."""

    latex: str
    line: int
    label: str | None = None

    def __repr__(self) -> str:
        return f"Equation(line={self.line}, {self.latex[:50]!r})"


@dataclass
class Problem:
    """A problem of the sheet: its number, prose and equations in order."""

    number: str
    line: int
    prose: str = ""
    equations: list[Equation] = field(default_factory=list)

    def __repr__(self) -> str:
        return f"Problem({self.number!r}, line={self.line}, {len(self.equations)} equations)"


def _split_rows(body: str) -> list[tuple[str, int]]:
    """Split at top-level \\\\ (not inside a matrix); return (row, newline offset)."""
    rows, depth, start, k = [], 0, 0, 0
    n = len(body)
    while k < n:
        if body.startswith("\\begin{", k):
            depth += 1
            k += 7
            continue
        if body.startswith("\\end{", k):
            depth -= 1
            k += 5
            continue
        if body.startswith("\\\\", k):
            if depth == 0:
                rows.append((body[start:k], body.count("\n", 0, start)))
                start = k + 2
            k += 2
            continue
        k += 1
    rows.append((body[start:], body.count("\n", 0, start)))
    return rows


def _drop_top_ampersands(row: str) -> str:
    out, depth, k = [], 0, 0
    while k < len(row):
        if row.startswith("\\begin{", k):
            depth += 1
        elif row.startswith("\\end{", k):
            depth -= 1
        if row[k] == "&" and depth == 0 and (k == 0 or row[k - 1] != "\\"):
            out.append(" ")
        else:
            out.append(row[k])
        k += 1
    return "".join(out)


def _has_relation(row: str) -> bool:
    return "=" in row or "\\leftarrow" in row or "\\gets" in row


def display_equations(body: str, line: int) -> list[Equation]:
    """The equations of one display (aligned rows split, continuation rows joined)."""
    has_env = bool(_ENV_STRIP.search(body))
    body = _ENV_STRIP.sub(" ", body)
    rows = _split_rows(body) if has_env or "\\\\" in body else [(body, 0)]
    equations: list[Equation] = []
    for row, offset in rows:
        row = _drop_top_ampersands(row)
        if not row.strip():
            continue
        if equations and not _has_relation(row):
            equations[-1].latex += " " + row.strip()
            continue
        equations.append(Equation(row.strip(), line + offset))
    for eq in equations:
        text = eq.latex.strip()
        m = _LABEL.search(text)
        if m and m.start() > 0:
            eq.label = m.group(1) or m.group(2)
            text = text[: m.start()]
        eq.latex = text.strip().rstrip(".,;").strip()
    return [eq for eq in equations if eq.latex]


def split_sheet(text: str) -> list[Problem]:
    """Problems of the sheet, in order (text before the first heading is problem '')."""
    if not isinstance(text, str):
        raise LosslabError(f"The sheet must be text. Got {type(text).__name__} instead.")
    if len(text.encode("utf-8", "replace")) > MAX_SHEET_BYTES:
        raise LosslabError(f"The sheet is too large: at most {MAX_SHEET_BYTES // 1000} kB. Got {len(text) // 1000} kB instead.")
    if "\x00" in text:
        raise LosslabError("The sheet is not text: it contains NUL bytes (a binary file?).")
    if not text.strip():
        raise LosslabError("The sheet is empty: nothing to check.")
    problems = [Problem("", 1)]
    lines = text.splitlines()
    k = 0
    n_eq = 0
    while k < len(lines):
        line = lines[k]
        m = _HEADING.match(line)
        if m:
            problems.append(Problem(m.group(1), k + 1))
            k += 1
            continue
        stripped = line.strip()
        opener = "$$" if stripped.startswith("$$") else ("\\[" if stripped.startswith("\\[") else None)
        if opener:
            closer = "$$" if opener == "$$" else "\\]"
            start_line = k + 1
            rest = stripped[2:]
            chunks = []
            while True:
                end = rest.find(closer)
                if end >= 0:
                    chunks.append(rest[:end])
                    after = rest[end + 2 :]
                    break
                chunks.append(rest)
                k += 1
                if k >= len(lines):
                    raise LosslabError(f"Display math opened with {opener} at line {start_line} is never closed.")
                rest = lines[k]
            body = "\n".join(chunks)
            problems[-1].equations.extend(display_equations(body, start_line))
            n_eq += 1
            if n_eq > MAX_EQUATIONS:
                raise LosslabError(f"The sheet has too many displays: at most {MAX_EQUATIONS}.")
            if after.strip():
                problems[-1].prose += after + "\n"
            k += 1
            continue
        problems[-1].prose += line + "\n"
        k += 1
    return [p for p in problems if p.number or p.equations]
