"""The one math renderer of every HTML face: LaTeX -> MathML (latex2mathml), laid out by STIX Two Math.

The book page, the explorer, the check panel and the notebook views all call
:func:`latex_to_mathml`; browsers draw MathML natively, so a formula is text a
reader can select and copy, and nothing is fetched from a CDN. MathML's
stretchy brackets (the matrices) and large operators (``\\sum`` with limits)
need a font with an OpenType MATH table, which a bare Linux machine may lack:
the STIX Two Math font shipped inside the installed ``ziamath`` package is
served by ``losslab serve`` and copied beside the book's ``index.html``, the
way the explorer serves plotly.js from the ``plotly`` package.

A formula latex2mathml cannot read becomes ``<span class="math-error">`` with
its LaTeX source and the reason: visible, never dropped, and countable by the
tests (zero for everything the book and the checker write).
"""

from __future__ import annotations

import html
import importlib.util
import re
from functools import lru_cache
from pathlib import Path

__all__ = [
    "MATH_ERROR_CLASS",
    "MATH_FONT_NAME",
    "latex_to_mathml",
    "markdown_to_html",
    "prose_to_html",
    "quote_bare_latex",
    "math_css",
    "math_font_path",
]

MATH_ERROR_CLASS = "math-error"
MATH_FONT_NAME = "STIXTwoMath-Regular.ttf"

# LaTeX the book writes that latex2mathml reads differently or not at all, rewritten to what it reads.
_REWRITES = [
    (re.compile(r"\\operatorname\{([A-Za-z]+)\}"), r"\\mathrm{\1}"),  # an operator name drawn upright
    (re.compile(r"\\(?:tfrac|dfrac)(?![A-Za-z])"), r"\\frac"),
    (re.compile(r"\\(?:bigg|Bigg|big|Big)[lr]?(?![A-Za-z])"), ""),  # sizes are the font's business
    (re.compile(r"\\(?:dots|ldots)(?![A-Za-z])"), r"\\ldots"),
    (re.compile(r"\\(arg|Pr|tr)(?![A-Za-z])"), r"\\mathrm{\1}"),
    (re.compile(r"\\(?:ge)(?![A-Za-z])"), r"\\geq"),
    (re.compile(r"\\(?:le)(?![A-Za-z])"), r"\\leq"),
]


_OPERATOR_NAME = re.compile(r"(<mi>(?:log|ln|exp|sin|cos|tan|det|max|min|arg|tr|Pr)</mi>)")
_UNKNOWN = re.compile(r">(\\[A-Za-z]+)<")


def _prepare(latex: str) -> str:
    text = " ".join(latex.split())
    for pattern, replacement in _REWRITES:
        text = pattern.sub(replacement, text)
    return text


@lru_cache(maxsize=8192)
def latex_to_mathml(latex: str, *, display: bool = False) -> str:
    """``<math>`` for one formula (``display`` for a block), or a ``math-error`` span saying why not."""
    from latex2mathml.converter import convert

    if not isinstance(latex, str):
        raise TypeError(f"The 'latex' parameter of latex_to_mathml must be a string. Got {type(latex).__name__} instead.")
    source = latex.strip()
    if not source:
        return ""
    try:
        mathml = convert(_prepare(source), display="block" if display else "inline")
        unknown = _UNKNOWN.search(mathml)
        if unknown:  # latex2mathml passes a macro it does not know through as text: that is raw LaTeX on the page
            raise ValueError(f"unknown command {unknown.group(1)}")
    except Exception as err:  # latex2mathml raises its own exceptions and plain ones on LaTeX it cannot read
        reason = str(err) or type(err).__name__
        return (
            f'<span class="{MATH_ERROR_CLASS}" title="{html.escape(reason, quote=True)}">'
            f"<code>{html.escape(source)}</code></span>"
        )
    # TeX sets a thin space around \log, \exp, \sin ...; latex2mathml writes them as bare <mi>
    mathml = _OPERATOR_NAME.sub(r'<mspace width="0.1667em"></mspace>\1<mspace width="0.1667em"></mspace>', mathml)
    # HTML puts <math> in the MathML namespace by itself: no xmlns (the pages name no http address at all);
    # the source travels with the formula: screen readers and copy-as-LaTeX tools read alttext
    mathml = mathml.replace(' xmlns="http://www.w3.org/1998/Math/MathML"', "", 1)
    return mathml.replace("<math ", f'<math alttext="{html.escape(source, quote=True)}" ', 1)


def math_font_path() -> Path:
    """STIX Two Math (SIL Open Font License) as shipped inside the installed ``ziamath`` package.

    Found through the package's spec, without importing ziamath (only its font file is used).
    """
    spec = importlib.util.find_spec("ziamath")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("The math font needs the 'ziamath' package: pip install ziamath")
    path = Path(next(iter(spec.submodule_search_locations))) / "fonts" / MATH_FONT_NAME
    if not path.is_file():  # pragma: no cover - a broken ziamath install
        raise FileNotFoundError(f"{MATH_FONT_NAME} not found in the installed ziamath package (looked at {path})")
    return path


# Math fonts (with an OpenType MATH table) a reader's machine may have: macOS, TeX installs, Linux's DejaVu, Windows
_SYSTEM_MATH_FONTS = "'STIX Two Math', 'Latin Modern Math', 'DejaVu Math TeX Gyre', 'Cambria Math', math"


def math_css(font_url: str | None, *, scope: str = "") -> str:
    """CSS that lays out MathML with the math font at ``font_url`` (relative to the page, or absolute).

    Without ``font_url`` (a notebook cell: no server, no folder beside it) the reader's own math fonts are named,
    so brackets still stretch around a matrix; ``scope`` (".ll-view") keeps the rules to losslab's output there.
    """
    face = f"@font-face {{ font-family: 'losslab math'; src: url('{font_url}') format('truetype'); }}\n" if font_url else ""
    family = ("'losslab math', " if font_url else "") + _SYSTEM_MATH_FONTS
    pre = f"{scope} " if scope else ""
    return (
        face
        + f"{pre}math {{ font-family: {family}; font-size: 1.1em; }}\n"
        + f"{pre}math[display=block] {{ margin: 0.4em 0; overflow-x: auto; overflow-y: hidden; }}\n"
        + f"{pre}span.{MATH_ERROR_CLASS} {{ background: #fff0d9; border-bottom: 1px dashed #b36b00; }}\n"
    )


@lru_cache(maxsize=1)
def _markdown():
    from markdown_it import MarkdownIt
    from mdit_py_plugins.dollarmath import dollarmath_plugin

    md = MarkdownIt("commonmark", {"html": False}).enable("table")
    dollarmath_plugin(
        md,
        allow_labels=False,
        allow_space=True,
        allow_digits=False,  # "costs 5$ and 6$" is money, not math
        double_inline=True,
        renderer=lambda content, config: latex_to_mathml(content, display=bool(config.get("display_mode"))),
    )
    return md


def markdown_to_html(text: str) -> str:
    """Markdown (CommonMark + tables) with ``$inline$`` and ``$$display$$`` math as MathML; raw HTML is escaped."""
    return _markdown().render(text)


_DOLLAR_SPANS = re.compile(r"(\$\$.+?\$\$|(?<![\\$])\$(?!\$).+?(?<!\\)\$)", re.DOTALL)
_MACRO = re.compile(r"\\[A-Za-z]+(?:\{[^{}$`]*\})*")


def _bracketed_as_math(text: str) -> str:
    """Each outermost (...) that holds a LaTeX macro: its inside becomes $...$ math."""
    out, depth, start, last = [], 0, 0, 0
    for k, ch in enumerate(text):
        if ch == "(":
            if depth == 0:
                start = k
            depth += 1
        elif ch == ")" and depth:
            depth -= 1
            inside = text[start + 1 : k]
            if depth == 0 and _MACRO.search(inside) and "$" not in inside:
                out.append(f"{text[last : start + 1]}${inside.strip()}$")
                last = k
    out.append(text[last:])
    return "".join(out)


def quote_bare_latex(text: str) -> str:
    """Prose that quotes LaTeX outside $...$, as a checker's reason does ("step 2 of 3 (\\sum_i x_i = 0) is
    wrong"): a bracketed formula becomes $math$, any other macro `code` (the source it is)."""
    parts = _DOLLAR_SPANS.split(text)
    out = []
    for k, part in enumerate(parts):
        if k % 2:
            out.append(part)
            continue
        pieces = _DOLLAR_SPANS.split(_bracketed_as_math(part))
        out.append("".join(p if j % 2 else _MACRO.sub(lambda m: f"`{m.group(0)}`", p) for j, p in enumerate(pieces)))
    return "".join(out)


def prose_to_html(text: str) -> str:
    """One paragraph of prose with $math$ (and bare LaTeX quoted as code), without the surrounding <p>."""
    out = markdown_to_html(quote_bare_latex(str(text))).strip()
    if out.startswith("<p>") and out.endswith("</p>") and out.count("<p>") == 1:
        out = out[3:-4]
    return out
