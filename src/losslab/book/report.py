"""The book as one HTML page: every problem, its derivation in rendered math, its figures, checks and verdict.

Works offline: every formula is MathML from :mod:`losslab.mathml` (the one
renderer of every HTML face), laid out by the math font that the page's
folder carries in ``DIR/assets/``. Figures are separate PNG files under
``DIR/figures/`` referenced by relative paths, so the page plus those two
folders is the whole report. A formula the renderer cannot read is shown as
its LaTeX source in a ``math-error`` span rather than dropped.
"""

from __future__ import annotations

import html
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from ..mathml import latex_to_mathml, markdown_to_html, math_css, math_font_path, prose_to_html, quote_bare_latex
from ..outputs import write_text

if TYPE_CHECKING:  # annotations only: result.py's notebook view renders with this module
    from .result import ProblemResult

__all__ = ["render_math", "markdown_to_html", "write_report", "problem_html", "problem_css", "ASSETS"]

ASSETS = "assets"


def render_math(latex: str, display: bool = False) -> str:
    """One formula as MathML (see :func:`losslab.mathml.latex_to_mathml`)."""
    return latex_to_mathml(latex, display=display)


def _detail(text: str) -> str:
    """A check's name or detail: bare LaTeX (no $...$, as SymPy prints it) is one formula, anything else prose."""
    if "$" in text:
        return prose_to_html(text)
    if "\\" in text:
        formula = latex_to_mathml(text)
        if formula.startswith("<math"):
            return formula
    return html.escape(text)  # plain words and numbers (a SymPy repr's * is not markdown emphasis)


_CSS = """
body { font-family: system-ui, -apple-system, 'Segoe UI', sans-serif; max-width: 1000px; margin: 2em auto; padding: 0 1em;
       color: #222; line-height: 1.5; }
h1 { border-bottom: 2px solid #345; }
h2 { margin-top: 2.5em; border-bottom: 1px solid #ccc; }
div.math.block { text-align: center; margin: 0.6em 0; overflow-x: auto; }
figure { margin: 1em 0; text-align: center; }
figure img { max-width: 100%; border: 1px solid #ddd; }
figcaption { font-size: 0.9em; color: #555; }
table { border-collapse: collapse; margin: 0.8em 0; }
td, th { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }
.pass { color: #0a7a2a; font-weight: bold; }
.fail { color: #b00020; font-weight: bold; }
.agrees { background: #e3f6e8; }
.disagrees { background: #fde4e4; }
.no-answer { background: #eee; }
.verdict { padding: 0.5em 0.8em; border-radius: 4px; }
div.seed { background: #f7f7f7; border-left: 3px solid #aaa; padding: 0.1em 0.8em; }
.statement { background: #f3f6fb; padding: 0.4em 0.9em; border-left: 3px solid #345; }
"""


def problem_css() -> str:
    """The page's CSS, scoped to ``.ll-problem`` for a notebook cell (the notebook's own page keeps its styles)."""
    rules = []
    for rule in _CSS.strip().split("}"):
        if "{" not in rule:
            continue
        selectors, body = rule.split("{", 1)
        if selectors.strip() in ("body", "h1"):
            continue
        scoped = ", ".join(f".ll-problem {sel.strip()}" for sel in selectors.split(","))
        rules.append(f"{scoped} {{{body}}}")
    return "\n".join(rules) + "\n" + math_css(None, scope=".ll-problem")


def _relative(path: str | os.PathLike, out_dir: Path) -> str:
    try:
        return Path(path).resolve().relative_to(out_dir.resolve()).as_posix()
    except ValueError:
        return Path(os.path.relpath(Path(path).resolve(), out_dir.resolve())).as_posix()


def _figure_src(path, out_dir: Path | None) -> str:
    """A figure's address: relative to the page's folder, or (no folder: a notebook) the PNG itself as a data URI."""
    if out_dir is not None:
        return _relative(path, out_dir)
    import base64

    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    return f"data:image/png;base64,{data}"


def problem_html(result: ProblemResult, out_dir: Path | None = None) -> str:
    """One problem's section: statement, answer, derivation, figures, checks, the seed sheet's verdict."""
    from .seed import seed_section

    anchor = "p" + result.problem.replace(".", "-")
    out = [f'<section id="{anchor}"><h2>Problem {html.escape(result.problem)}: {html.escape(result.title)}</h2>']
    out.append(f'<div class="statement">{markdown_to_html(quote_bare_latex(result.statement))}</div>')
    out.append("<h3>Answer</h3>" + markdown_to_html(quote_bare_latex(result.summary)))
    if result.derivation:
        out.append("<h3>Derivation</h3>" + markdown_to_html(quote_bare_latex(result.derivation)))
    for fig in result.figures:
        rel = html.escape(_figure_src(fig, out_dir), quote=True)
        name = html.escape(Path(fig).name if out_dir is None else _relative(fig, out_dir))
        out.append(f'<figure><a href="{rel}"><img src="{rel}" alt="figure {name}"></a><figcaption>{name}</figcaption></figure>')
    rows = "".join(
        f'<tr><td class="{"pass" if c.passed else "fail"}">{"pass" if c.passed else "FAIL"}</td>'
        f"<td>{_detail(c.name)}</td><td>{_detail(c.detail)}</td></tr>"
        for c in result.checks
    )
    out.append(f"<h3>Checks</h3><table><tr><th></th><th>check</th><th>detail</th></tr>{rows}</table>")
    cls = result.seed_verdict.replace(" ", "-")
    out.append(
        f'<h3>The seed sheet</h3><p class="verdict {cls}"><strong>Verdict: {html.escape(result.seed_verdict)}.</strong> '
        f"{prose_to_html(result.seed_notes)}</p>"
    )
    seed = seed_section(result.problem)
    if seed:
        # the sheet as its author meant it to be read: Markdown with its formulas drawn (raw HTML in it is escaped)
        out.append(f'<details><summary>The seed sheet\'s text for {result.problem}</summary><div class="seed">{markdown_to_html(seed)}</div></details>')
    out.append(f"<p><small>computed in {result.seconds:.2f} s</small></p></section>")
    return "\n".join(out)


def write_report(results: list[ProblemResult], out_dir: str | os.PathLike, *, title: str = "losslab: Chapter 6, solved") -> Path:
    """Write ``out_dir/index.html`` (and ``out_dir/results.json``, the results as data) for ``results``; return the page's path.

    Figures must already be files (normally under ``out_dir/figures``); the page links them by relative path.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    # the math font travels with the page: the folder is the whole report, offline
    font = math_font_path()
    (out_dir / ASSETS).mkdir(exist_ok=True)
    shutil.copyfile(font, out_dir / ASSETS / font.name)
    rows = []
    for r in results:
        anchor = "p" + r.problem.replace(".", "-")
        n_ok = sum(c.passed for c in r.checks)
        status = "pass" if r.passed else "fail"
        rows.append(
            f'<tr><td><a href="#{anchor}">{html.escape(r.problem)}</a></td><td>{html.escape(r.title)}</td>'
            f'<td class="{status}">{n_ok}/{len(r.checks)}</td><td class="{r.seed_verdict.replace(" ", "-")}">'
            f"{html.escape(r.seed_verdict)}</td><td>{r.seconds:.2f} s</td></tr>"
        )
    head = (
        f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>"
        f"<style>{math_css(ASSETS + '/' + math_font_path().name)}{_CSS}</style></head><body><h1>{html.escape(title)}</h1>"
        "<p>Every answer below is computed by losslab's engine and checked independently (closed forms, "
        "autodiff, finite differences, brute force). The user's solution sheet (the <em>seed</em>) is then compared "
        "with the computed answer; no answer is taken from it. Formulas are MathML, drawn by the browser.</p>"
        "<table><tr><th>problem</th><th>title</th><th>checks</th><th>seed sheet</th><th>time</th></tr>"
        + "".join(rows)
        + "</table>"
    )
    body = "\n".join(problem_html(r, out_dir) for r in results)
    path = out_dir / "index.html"
    write_text(path, head + body + "</body></html>\n")
    # the same results as data: what `losslab solve all --json` prints, with figure paths relative to out_dir
    import json

    records = []
    for r in results:
        record = r.to_dict()
        record["figures"] = [_relative(f, out_dir) for f in r.figures]
        records.append(record)
    write_text(out_dir / "results.json", json.dumps(records, indent=1))
    return path
