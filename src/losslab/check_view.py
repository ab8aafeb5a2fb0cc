"""A checked sheet as HTML: every claim rendered, its verdict, reason, convention and true expression, by its line.

One builder for the explorer's check panel (``POST /api/check`` sends its
HTML) and for notebooks (:class:`CheckReport` shows itself with it). It reads
the claims as the dictionaries ``losslab check --json`` prints, so whatever
keys the checker gives (``cell``, ``convention``, ``steps``, ``mistake``) are
shown when present; nothing is recomputed here.
"""

from __future__ import annotations

import html
import inspect
from collections.abc import Iterator, Sequence
from pathlib import Path

from .errors import LosslabError
from .mathml import latex_to_mathml, math_css, prose_to_html

__all__ = ["REPORT_CSS", "VERDICTS", "CheckReport", "check", "check_report_html", "check_text", "claim_html"]

VERDICTS = ("correct", "incorrect", "not checked")
_MARK = {"correct": "✓", "incorrect": "✗", "not checked": "?"}

REPORT_CSS = """
.ll-check { font-family: system-ui, -apple-system, 'Segoe UI', sans-serif; font-size: 14px; line-height: 1.45; color: #1d232b; }
.ll-check .ll-counts { margin: 0.3em 0 0.6em; }
.ll-check .ll-counts span { margin-right: 1em; }
.ll-check .ll-row { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1.2fr); gap: 10px; border-top: 1px solid #e3e6ea; padding: 4px 0; }
.ll-check .ll-row.ll-plain { grid-template-columns: minmax(0, 1fr); }
.ll-check .ll-src { font: 12px/1.4 ui-monospace, 'DejaVu Sans Mono', monospace; white-space: pre-wrap; overflow-wrap: anywhere; color: #444; margin: 0; }
.ll-check .ll-src .ll-no { color: #98a0aa; user-select: none; display: inline-block; min-width: 3.2em; }
.ll-check .ll-claim { border-left: 4px solid #aaa; padding: 2px 8px; margin: 2px 0 6px; background: #fafbfc; overflow-x: auto; }
.ll-check .ll-claim.correct { border-color: #0a7a2a; }
.ll-check .ll-claim.incorrect { border-color: #b00020; background: #fff6f6; }
.ll-check .ll-claim.not-checked { border-color: #b38600; background: #fffaf0; }
.ll-check .ll-verdict { font-weight: bold; margin-right: 0.5em; }
.ll-check .correct .ll-verdict, .ll-check .ll-counts .correct { color: #0a7a2a; }
.ll-check .incorrect .ll-verdict, .ll-check .ll-counts .incorrect { color: #b00020; }
.ll-check .not-checked .ll-verdict, .ll-check .ll-counts .not-checked { color: #8a6500; }
.ll-check .ll-where { color: #68717d; font-size: 12px; }
.ll-check .ll-label { color: #68717d; font-size: 12px; margin-right: 0.4em; }
.ll-check .ll-reason p { margin: 0.2em 0; }
.ll-check .ll-problem { font-weight: bold; margin: 0.8em 0 0.2em; }
.ll-check ol.ll-steps { margin: 0.2em 0 0.2em 1.2em; padding: 0; }
"""


def _slug(verdict: str) -> str:
    return verdict.replace(" ", "-")


def _formula(latex: str, *, display: bool = False) -> str:
    return latex_to_mathml(latex, display=display) if latex else ""


_prose = prose_to_html  # reasons, conventions, mistakes: prose with $math$; bare LaTeX shown as code


_OPS = {"<=": r"\leq", ">=": r"\geq", "!=": r"\neq"}


def _step_latex(step: dict) -> str:
    """A chain's step as one relation: ``before op after`` (or the step's own LaTeX when it carries one)."""
    if step.get("latex"):
        return str(step["latex"])
    if step.get("before") is None and step.get("after") is None:
        return ""
    op = str(step.get("op") or "=")
    return f"{step.get('before', '')} {_OPS.get(op, op)} {step.get('after', '')}"


def _step_html(step) -> str:
    if not isinstance(step, dict):
        return f"<li>{html.escape(str(step))}</li>"
    verdict = str(step.get("verdict", ""))
    parts = [f'<li class="{_slug(verdict)}"><span class="ll-verdict">{html.escape(verdict)}</span>']
    if _step_latex(step):
        parts.append(_formula(_step_latex(step)))
    if step.get("reason") and verdict != "correct":
        parts.append(f' <span class="ll-reason">{_prose(step["reason"])}</span>')
    if step.get("truth") and verdict == "incorrect":
        parts.append(f' <span class="ll-label">truth</span>{_formula(str(step["truth"]))}')
    parts.append("</li>")
    return "".join(parts)


def claim_html(claim: dict) -> str:
    """One claim (a ``losslab check --json`` entry) as a card: verdict, the claim as math, reason, convention, truth."""
    verdict = str(claim.get("verdict", "not checked"))
    where = f"line {claim.get('line')}"
    if claim.get("cell") is not None:
        where = f"cell {claim['cell']}, {where}"
    out = [
        f'<div class="ll-claim {_slug(verdict)}" data-line="{html.escape(str(claim.get("line")))}" '
        f'data-verdict="{html.escape(verdict)}">',
        f'<div><span class="ll-verdict">{_MARK.get(verdict, "?")} {html.escape(verdict)}</span>'
        f'<span class="ll-where">{html.escape(where)}</span></div>',
        f'<div class="ll-math">{_formula(str(claim.get("latex", "")), display=True)}</div>',
    ]
    if claim.get("reason"):
        out.append(f'<div class="ll-reason">{_prose(claim["reason"])}</div>')
    if claim.get("mistake"):
        out.append(f'<div><span class="ll-label">mistake</span>{_prose(claim["mistake"])}</div>')
    if claim.get("convention"):
        out.append(f'<div class="ll-convention"><span class="ll-label">convention</span>{_prose(claim["convention"])}</div>')
    if claim.get("truth"):
        out.append(f'<div class="ll-truth"><span class="ll-label">true expression</span>{_formula(str(claim["truth"]))}</div>')
    if claim.get("correction") and verdict == "incorrect":
        out.append(f'<div class="ll-correction"><span class="ll-label">corrected step</span>'
                   f'{_formula(str(claim["correction"]))}</div>')
    steps = claim.get("steps") or []
    if steps:
        out.append('<ol class="ll-steps">' + "".join(_step_html(s) for s in steps) + "</ol>")
    out.append("</div>")
    return "".join(out)


def _counts(claims: Sequence[dict]) -> dict[str, int]:
    return {v: sum(c.get("verdict") == v for c in claims) for v in VERDICTS}


def check_report_html(claims: Sequence[dict], text: str | None = None, *, title: str | None = None) -> str:
    """The whole report: counts, then the sheet line by line with each claim beside its line.

    Without ``text``, or for a notebook (claims carry a ``cell``; the file's lines are JSON, not the sheet),
    the claims are listed by problem instead.
    """
    counts = _counts(claims)
    out = ['<div class="ll-check">']
    if title:
        out.append(f"<h3>{html.escape(title)}</h3>")
    out.append(
        '<div class="ll-counts">'
        + f"<strong>{len(claims)} claims</strong>: "
        + "".join(f'<span class="{_slug(v)}">{counts[v]} {v}</span>' for v in VERDICTS)
        + "</div>"
    )
    by_line: dict[int, list[dict]] = {}
    for c in claims:
        by_line.setdefault(int(c.get("line") or 0), []).append(c)
    lines = text.splitlines() if text is not None else None
    by_source_line = lines is not None and not any(c.get("cell") is not None for c in claims) and all(
        1 <= ln <= len(lines) for ln in by_line
    )
    if by_source_line:
        for number, line in enumerate(lines, start=1):
            here = by_line.get(number, [])
            src = f'<pre class="ll-src"><span class="ll-no">{number}</span>{html.escape(line)}</pre>'
            cards = "".join(claim_html(c) for c in here)
            cls = "ll-row" if here else "ll-row ll-plain"
            out.append(f'<div class="{cls}" data-line="{number}">{src}{"<div>" + cards + "</div>" if here else ""}</div>')
    else:
        problem = object()
        for c in claims:
            if c.get("problem") != problem:
                problem = c.get("problem")
                out.append(f'<div class="ll-problem">Problem {html.escape(str(problem or "(no heading)"))}</div>')
            out.append(claim_html(c))
    out.append("</div>")
    return "".join(out)


def _run_checker(text: str, filename: str | None):
    """``check_sheet`` with the file's name when this checker takes it (it tells the format: .tex, .ipynb)."""
    from .symbolic.checker import check_sheet

    params = inspect.signature(check_sheet).parameters
    if filename is not None and "filename" in params:
        return check_sheet(text, filename=filename)
    return check_sheet(text)


class CheckReport:
    """The checker's verdicts on one sheet; shows itself as HTML in a notebook, as counts in a terminal."""

    def __init__(self, results: Sequence, text: str | None = None, *, filename: str | None = None) -> None:
        self.results = list(results)
        self.text = text
        self.filename = filename

    def to_dicts(self) -> list[dict]:
        """What ``losslab check --json`` prints for this sheet."""
        return [r.to_dict() if hasattr(r, "to_dict") else dict(r) for r in self.results]

    @property
    def counts(self) -> dict[str, int]:
        return _counts(self.to_dicts())

    def __len__(self) -> int:
        return len(self.results)

    def __iter__(self) -> Iterator:
        return iter(self.results)

    def __getitem__(self, k):
        return self.results[k]

    def __repr__(self) -> str:
        c = self.counts
        name = f"{self.filename!r}, " if self.filename else ""
        return (f"CheckReport({name}{len(self)} claims: {c['correct']} correct, {c['incorrect']} incorrect, "
                f"{c['not checked']} not checked)")

    def _repr_html_(self) -> str:
        title = f"losslab check: {Path(self.filename).name}" if self.filename else "losslab check"
        # a notebook has no server to fetch the math font from: the reader's own math fonts, named
        return f"<style>{REPORT_CSS}{math_css(None, scope='.ll-check')}</style>" + check_report_html(self.to_dicts(), self.text, title=title)


def check_text(text: str, *, filename: str | None = None) -> CheckReport:
    """Check a sheet given as text (``filename`` only names it and tells its format)."""
    if not isinstance(text, str):
        raise LosslabError(f"The 'text' parameter of check_text must be a string. Got {type(text).__name__} instead.")
    return CheckReport(_run_checker(text, filename), text, filename=filename)


def check(sheet: str | Path) -> CheckReport:
    """Check a sheet file (Markdown, LaTeX, notebook, text): the notebook face of ``losslab check``."""
    from .sheet_input import check_sheet_name, sheet_text

    path = Path(sheet)
    if not path.is_file():
        raise LosslabError(f"The 'sheet' parameter of check must be an existing file. Got {str(sheet)!r} instead.")
    check_sheet_name(path.name)
    text = sheet_text(path.read_bytes(), str(path))
    return check_text(text, filename=str(path))
