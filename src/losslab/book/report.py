"""The book as one HTML page: every problem, its derivation in rendered math, its figures, checks and verdict.

Works offline: KaTeX/MathJax are not available, so every formula is rendered
by matplotlib's mathtext to SVG and inlined as a ``data:`` URI (nothing to
fetch, no clashing glyph ids between formulas). Figures are separate PNG files
under ``DIR/figures/`` referenced by relative paths, so the page plus that folder
is the whole report. A formula mathtext cannot draw is shown as its LaTeX
source in ``<code>`` rather than dropped.
"""

from __future__ import annotations

import base64
import html
import io
import os
import re
from functools import lru_cache
from pathlib import Path

from ..outputs import write_text
from .result import ProblemResult

__all__ = ["render_math", "markdown_to_html", "write_report"]


@lru_cache(maxsize=4096)
def render_math(latex: str, display: bool = False) -> str:
    """``<img>`` of one formula rendered by mathtext (SVG data URI), or ``<code>`` if it cannot be drawn."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import mathtext, rc_context
    from matplotlib.font_manager import FontProperties

    if _MATRIX.search(latex):
        return _render_with_matrices(latex, display)
    source = _mathtext_compatible(latex)
    buffer = io.BytesIO()
    try:
        with rc_context({"mathtext.fontset": "cm", "svg.fonttype": "path"}):
            mathtext.math_to_image(f"${source}$", buffer, format="svg", prop=FontProperties(size=15 if display else 12))
    except Exception:  # mathtext's parser raises ValueError (and sometimes others) on unsupported LaTeX
        cls = "math-fallback display" if display else "math-fallback"
        return f'<code class="{cls}">{html.escape(latex)}</code>'
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    cls = "math display" if display else "math"
    return f'<img class="{cls}" alt="{html.escape(latex, quote=True)}" src="data:image/svg+xml;base64,{data}">'


_REPLACEMENTS = [
    (r"\,", r"\/"),
    (r"\text{", r"\mathrm{"),
    (r"\operatorname{", r"\mathrm{"),
    (r"\dots", r"\ldots"),
    (r"\tfrac", r"\frac"),
    (r"\dfrac", r"\frac"),
    (r"\quad", r"\ \ "),
    (r"\qquad", r"\ \ \ \ "),
]


def _mathtext_compatible(latex: str) -> str:
    out = latex.strip()
    for old, new in _REPLACEMENTS:
        out = out.replace(old, new)
    out = re.sub(r"\\ge(?![a-zA-Z])", r"\\geq", out)
    out = re.sub(r"\\le(?![a-zA-Z])", r"\\leq", out)
    out = re.sub(r"\\[bB]igg?[lr]?(?![a-zA-Z])", "", out)  # \big| -> |: mathtext has no \big
    out = out.replace("\n", " ")
    return out


_MATRIX = re.compile(r"\\begin\{[bp]matrix\}(.*?)\\end\{[bp]matrix\}", re.DOTALL)


def _render_with_matrices(latex: str, display: bool) -> str:
    """mathtext has no matrices: draw each as an HTML table of rendered entries between brackets."""
    pieces = []
    last = 0
    for m in _MATRIX.finditer(latex):
        before = latex[last : m.start()].strip()
        if before:
            pieces.append(render_math(before, display))
        rows = [r for r in re.split(r"\\\\", m.group(1)) if r.strip()]
        cells = "".join(
            "<tr>" + "".join(f"<td>{render_math(c.strip(), False)}</td>" for c in row.split("&")) + "</tr>" for row in rows
        )
        pieces.append(f'<table class="matrix"><tbody>{cells}</tbody></table>')
        last = m.end()
    after = latex[last:].strip()
    if after:
        pieces.append(render_math(after, display))
    return '<span class="matrix-formula">' + "".join(pieces) + "</span>"


_DISPLAY = re.compile(r"\$\$(.+?)\$\$", re.DOTALL)
_INLINE = re.compile(r"(?<![\\$])\$(?!\$)(.+?)(?<!\\)\$")
_BOLD = re.compile(r"\*\*(.+?)\*\*")
_CODE = re.compile(r"`([^`]+)`")
_ITALIC = re.compile(r"(?<![*\w])\*(?![\s*])([^*]+?)(?<!\s)\*(?![*\w])")


def _inline(text: str) -> str:
    """Escape text, render $...$ math, **bold** and `code`."""
    pieces = []
    last = 0
    for m in _INLINE.finditer(text):
        pieces.append(_plain(text[last : m.start()]))
        pieces.append(render_math(m.group(1), False))
        last = m.end()
    pieces.append(_plain(text[last:]))
    return "".join(pieces)


def _plain(text: str) -> str:
    out = html.escape(text, quote=False)
    out = _BOLD.sub(r"<strong>\1</strong>", out)
    out = _ITALIC.sub(r"<em>\1</em>", out)
    return _CODE.sub(r"<code>\1</code>", out)


def markdown_to_html(text: str) -> str:
    """A small markdown: paragraphs, '- ' lists, '#### ' headings, $$display$$ and $inline$ math."""
    blocks: list[str] = []
    # display math becomes its own block
    parts = _DISPLAY.split(text)
    for k, part in enumerate(parts):
        if k % 2 == 1:
            blocks.append(f'<div class="display">{render_math(part, True)}</div>')
            continue
        for para in re.split(r"\n\s*\n", part):
            para = para.strip()
            if not para:
                continue
            lines = para.splitlines()
            if all(line.lstrip().startswith(("- ", "* ")) for line in lines):
                items = "".join(f"<li>{_inline(line.lstrip()[2:])}</li>" for line in lines)
                blocks.append(f"<ul>{items}</ul>")
            elif para.startswith("#### "):
                blocks.append(f"<h4>{_inline(para[5:])}</h4>")
            else:
                blocks.append(f"<p>{_inline(' '.join(lines))}</p>")
    return "\n".join(blocks)


_CSS = """
body { font-family: system-ui, -apple-system, 'Segoe UI', sans-serif; max-width: 1000px; margin: 2em auto; padding: 0 1em;
       color: #222; line-height: 1.5; }
h1 { border-bottom: 2px solid #345; }
h2 { margin-top: 2.5em; border-bottom: 1px solid #ccc; }
img.math { vertical-align: middle; }
div.display { text-align: center; margin: 0.6em 0; overflow-x: auto; }
code.math-fallback { background: #fff5e0; }
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
pre.seed { background: #f7f7f7; border-left: 3px solid #aaa; padding: 0.6em; white-space: pre-wrap; font-size: 0.85em; }
table.matrix { display: inline-table; vertical-align: middle; border-left: 2px solid #222; border-right: 2px solid #222;
               border-radius: 4px; margin: 0 0.3em; }
table.matrix td { border: none; padding: 0.15em 0.5em; text-align: center; }
.matrix-formula > img { vertical-align: middle; }
.statement { background: #f3f6fb; padding: 0.4em 0.9em; border-left: 3px solid #345; }
"""


def _relative(path: str | os.PathLike, out_dir: Path) -> str:
    try:
        return Path(path).resolve().relative_to(out_dir.resolve()).as_posix()
    except ValueError:
        return Path(os.path.relpath(Path(path).resolve(), out_dir.resolve())).as_posix()


def _section(result: ProblemResult, out_dir: Path) -> str:
    from .seed import seed_section

    anchor = "p" + result.problem.replace(".", "-")
    out = [f'<section id="{anchor}"><h2>Problem {html.escape(result.problem)}: {html.escape(result.title)}</h2>']
    out.append(f'<div class="statement">{markdown_to_html(result.statement)}</div>')
    out.append("<h3>Answer</h3>" + markdown_to_html(result.summary))
    if result.derivation:
        out.append("<h3>Derivation</h3>" + markdown_to_html(result.derivation))
    for fig in result.figures:
        rel = html.escape(_relative(fig, out_dir), quote=True)
        out.append(f'<figure><a href="{rel}"><img src="{rel}" alt="figure {rel}"></a><figcaption>{rel}</figcaption></figure>')
    rows = "".join(
        f'<tr><td class="{"pass" if c.passed else "fail"}">{"pass" if c.passed else "FAIL"}</td>'
        f"<td>{html.escape(c.name)}</td><td>{html.escape(c.detail)}</td></tr>"
        for c in result.checks
    )
    out.append(f"<h3>Checks</h3><table><tr><th></th><th>check</th><th>detail</th></tr>{rows}</table>")
    cls = result.seed_verdict.replace(" ", "-")
    out.append(
        f'<h3>The seed sheet</h3><p class="verdict {cls}"><strong>Verdict: {html.escape(result.seed_verdict)}.</strong> '
        f"{_inline(result.seed_notes)}</p>"
    )
    seed = seed_section(result.problem)
    if seed:
        out.append(f'<details><summary>The seed sheet\'s text for {result.problem}</summary><pre class="seed">{html.escape(seed)}</pre></details>')
    out.append(f"<p><small>computed in {result.seconds:.2f} s</small></p></section>")
    return "\n".join(out)


def write_report(results: list[ProblemResult], out_dir: str | os.PathLike, *, title: str = "losslab: Chapter 6, solved") -> Path:
    """Write ``out_dir/index.html`` (and ``out_dir/results.json``, the results as data) for ``results``; return the page's path.

    Figures must already be files (normally under ``out_dir/figures``); the page links them by relative path.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
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
        f"<style>{_CSS}</style></head><body><h1>{html.escape(title)}</h1>"
        "<p>Every answer below is computed by losslab's engine and checked independently (closed forms, "
        "autodiff, finite differences, brute force). The user's solution sheet (the <em>seed</em>) is then compared "
        "with the computed answer; no answer is taken from it. Formulas are rendered offline with matplotlib mathtext.</p>"
        "<table><tr><th>problem</th><th>title</th><th>checks</th><th>seed sheet</th><th>time</th></tr>"
        + "".join(rows)
        + "</table>"
    )
    body = "\n".join(_section(r, out_dir) for r in results)
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
