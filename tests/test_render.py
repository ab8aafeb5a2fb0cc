"""The math renderers and the notebook views, without a browser: MathML, terminal Unicode, _repr_html_/_repr_latex_."""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from losslab.mathml import (
    MATH_ERROR_CLASS,
    latex_to_mathml,
    markdown_to_html,
    math_css,
    math_font_path,
)
from losslab.unicode_math import latex_to_unicode, math_text_to_unicode

MML = ""  # the HTML faces write <math> without xmlns (HTML gives it the MathML namespace)


def _tree(mathml: str) -> ET.Element:
    return ET.fromstring(mathml)


# ---------------------------------------------------------------- MathML
def test_matrix_sum_blackboard_and_text_sig_as_mathml():
    root = _tree(latex_to_mathml(r"\mathbf{H} = \begin{bmatrix} 2I & 2\sum_{i=1}^{I} x_i \\ 0 & 1 \end{bmatrix}", display=True))
    assert root.get("display") == "block"
    table = root.find(f".//{MML}mtable")
    assert table is not None and len(table.findall(f"{MML}mtr")) == 2
    row = root.find(f".//{MML}mrow[{MML}mtable]")
    kids = list(row)
    k = kids.index(table)
    assert (kids[k - 1].text, kids[k + 1].text) == ("[", "]")  # brackets around the matrix, not bars
    sum_op = root.find(f".//{MML}munderover/{MML}mo")
    assert sum_op is not None and sum_op.text == "\u2211"  # limits under and over in display style
    inline = _tree(latex_to_mathml(r"\mathbb{I}[z > 0]\,\text{sig}[z]"))
    texts = [e.text for e in inline.iter() if e.text]
    assert "\U0001d540" in texts and "sig" in texts  # double-struck I, upright sig
    assert inline.get("alttext") == r"\mathbb{I}[z > 0]\,\text{sig}[z]"


@pytest.mark.parametrize("bad", [r"\unknowncommand{x}", r"\frac{a}{", r"\begin{bmatrix} a & b"])
def test_unreadable_latex_is_an_error_span_with_its_source(bad):
    out = latex_to_mathml(bad)
    assert out.startswith(f'<span class="{MATH_ERROR_CLASS}"') and "<math" not in out
    assert re.sub(r"<[^>]+>", "", out).replace("&amp;", "&") == bad


def test_markdown_math_escapes_html_and_keeps_money():
    out = markdown_to_html("A $x^2$ and **b**.\n\n$$\\frac{1}{2}$$\n\n<script>alert(1)</script> costs 5$ and 6$")
    assert out.count("<math") == 2 and "<mfrac>" in out and "<strong>b</strong>" in out
    assert "<script" not in out and "costs 5$ and 6$" in out


def test_math_font_is_a_real_truetype_font_with_a_math_table():
    data = math_font_path().read_bytes()
    assert data[:4] == b"\x00\x01\x00\x00"  # TrueType
    n_tables = int.from_bytes(data[4:6], "big")
    tags = {data[12 + 16 * k: 16 + 16 * k] for k in range(n_tables)}
    assert b"MATH" in tags  # what lets the browser stretch brackets and enlarge the sum


# ---------------------------------------------------------------- terminal Unicode
@pytest.mark.parametrize("latex, text", [
    (r"\frac{\partial L}{\partial \phi_0} = 2 \sum_{i=1}^{I} \left(\phi_0 + \phi_1 x_i - y_i\right)",
     "∂L/∂φ₀ = 2 Σᵢ₌₁ᴵ (φ₀ + φ₁ xᵢ − yᵢ)"),
    (r"\frac{\partial^2 L}{\partial \phi_0 \partial \phi_1}", "∂²L/(∂φ₀ ∂φ₁)"),
    (r"\mathbf{H} = \begin{bmatrix} 2I & 2 \\ 3 & 4 \end{bmatrix}", "𝐇 = [2I, 2; 3, 4]"),
    (r"\mathbb{I}[z > 0]\,\text{sig}[z]", "𝕀[z > 0] sig[z]"),
    (r"\beta^{t-k} x_{i,j}", "βᵗ⁻ᵏ x_(i,j)"),
    (r"\mathbf{m}_{t+1} \leftarrow \beta \mathbf{m}_t", "𝐦ₜ₊₁ ← β𝐦ₜ"),
    (r"\sqrt{x} \ne \unknownmacro", "√(x) ≠ unknownmacro"),
])
def test_latex_to_unicode(latex, text):
    assert latex_to_unicode(latex) == text


def test_prose_keeps_words_and_converts_math():
    from losslab.unicode_math import prose_to_unicode

    assert math_text_to_unicode("the sum $\\sum_i x_i$ costs 5 dollars") == "the sum Σᵢ xᵢ costs 5 dollars"
    # a checker's reason quotes a step's LaTeX in brackets, without dollars
    reason = "step 2 of 2 (\\sum_{i=1}^{I} 2x_i = 0) is wrong at x = (1, 2); also $\\beta^2$"
    assert prose_to_unicode(reason) == "step 2 of 2 (Σᵢ₌₁ᴵ 2xᵢ = 0) is wrong at x = (1, 2); also β²"


def test_check_cli_prints_unicode_and_json_keeps_latex(tmp_path):
    import json

    from typer.testing import CliRunner

    from losslab.cli import app

    sheet = tmp_path / "s.md"
    sheet.write_text("### Problem 6.1\n\n$$L = \\sum_{i=1}^{I} (\\phi_0 + \\phi_1 x_i - y_i)^2$$\n\n"
                     "$$\\frac{\\partial L}{\\partial \\phi_0} = 2(\\phi_0 + \\phi_1 x_i - y_i)$$\n", encoding="utf-8")
    text = CliRunner().invoke(app, ["check", str(sheet)]).output
    assert "∂L/∂φ₀ = 2(φ₀ + φ₁ xᵢ − yᵢ)" in text and "\\frac" not in text and "\\sum" not in text
    claims = json.loads(CliRunner().invoke(app, ["check", "--json", str(sheet)]).stdout)
    assert claims[0]["latex"].startswith("\\frac{\\partial L}") and "\\sum" in claims[0]["truth"]
    # the true expression: LaTeX in the JSON, the same expression in Unicode on the terminal, with its sum
    truth = latex_to_unicode(claims[0]["truth"])
    assert f"truth: {truth}" in text and "Σᵢ₌₁ᴵ" in truth


# ---------------------------------------------------------------- notebook views
def test_objective_shows_its_formula():
    from losslab import make_objective

    gabor = make_objective("gabor")
    latex = gabor._repr_latex_()
    assert latex.startswith("$$L[\\boldsymbol\\phi] = \\sum_{i=1}^{I}") and "0.06 \\phi_1 x" in latex
    page = gabor._repr_html_()
    assert page.count("<math") == 1 and f'class="{MATH_ERROR_CLASS}"' not in page and "I = 30 points" in page
    mean_bce = make_objective("logistic", reduction="mean")
    assert "\\frac{1}{I}" in mean_bce._repr_latex_() and "sig" in mean_bce._repr_latex_()


def test_run_result_html_shows_its_numbers_and_loss_curve():
    from losslab import make_objective
    from losslab.run import run

    r = run(make_objective("linear"), "gd", [1.6, -0.5], steps=30, learning_rate=0.01)
    page = r._repr_html_()
    assert f"{r.final_loss:.6g}" in page and "gd" in page
    points = re.search(r'<polyline points="([^"]+)"', page).group(1).split()
    assert len(points) == len(r.loss) == 31
    ys = np.array([float(p.split(",")[1]) for p in points])
    # gradient descent with a small rate on a convex quadratic never goes up, and neither does the drawn curve
    # (SVG y grows downwards); it spans the plot from the first loss (top) to the last (bottom)
    assert np.all(np.diff(r.loss) <= 0) and np.all(np.diff(ys) >= 0)
    assert ys[0] == pytest.approx(4) and ys[-1] == pytest.approx(86)


def test_check_report_puts_every_claim_beside_its_line():
    from losslab.check_view import CheckReport, check_report_html

    text = "# t\n\n$$a = b$$\n\nprose\n\n$$c = d$$\n"
    claims = [
        {"problem": "6.1", "line": 3, "latex": "a = b", "verdict": "correct", "reason": "equal", "truth": ""},
        {"problem": "6.1", "line": 7, "latex": "c = d", "verdict": "incorrect", "reason": "differs at $x = 1$",
         "truth": r"\sum_i x_i", "convention": "the ReLU's derivative is $\\mathbb{I}[z > 0]$",
         "steps": [{"step": 1, "of": 2, "op": "=", "before": "c", "after": "e", "verdict": "correct", "reason": ""},
                   {"step": 2, "of": 2, "op": ">=", "before": "e", "after": "d", "verdict": "incorrect", "reason": "sign"}]},
    ]
    page = check_report_html(claims, text)
    rows = re.findall(r'<div class="ll-row" data-line="(\d+)"><pre[^>]*>.*?</pre><div><div class="ll-claim (\S+)" data-line="(\d+)"', page)
    assert rows == [("3", "correct", "3"), ("7", "incorrect", "7")]
    assert page.count('class="ll-row ll-plain"') == 5  # the other lines of the sheet, shown as they are
    assert "ll-convention" in page and "ll-truth" in page and page.count("<li") == 2 and f'class="{MATH_ERROR_CLASS}"' not in page
    assert 'alttext="c = e"' in page and 'alttext="e \\geq d"' in page  # each step drawn as its relation
    # a notebook's claims carry a cell: listed by problem, not against the JSON's lines
    listed = check_report_html([dict(claims[0], cell=2)], text)
    assert "ll-row" not in listed and "cell 2, line 3" in listed

    class Fake:
        def __init__(self, d):
            self.d = d

        def to_dict(self):
            return self.d

    report = CheckReport([Fake(c) for c in claims], text, filename="s.md")
    assert repr(report) == "CheckReport('s.md', 2 claims: 1 correct, 1 incorrect, 0 not checked)"
    assert report.to_dicts() == claims and "losslab check: s.md" in report._repr_html_()


def test_problem_result_html_embeds_its_figures(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from losslab.book.result import Check, ProblemResult

    fig_path = tmp_path / "f.png"
    plt.plot([0, 1], [1, 0])
    plt.savefig(fig_path)
    plt.close("all")
    r = ProblemResult("6.2", "Hessian", "Find $\\mathbf{H}$.", {}, "$$\\begin{bmatrix} 1 & 0 \\\\ 0 & 1 \\end{bmatrix}$$",
                      checks=[Check("c", True, "2 I + 2 \\sum_{i=1}^{I} x_{i}^{2}")], figures=[str(fig_path)])
    page = r._repr_html_()
    assert "data:image/png;base64," in page and "<mtable>" in page and f'class="{MATH_ERROR_CLASS}"' not in page
    ours, seed = page.split("<details>")
    assert ours.count("<math") == 3  # statement, answer, and the check's bare-LaTeX detail
    # the seed sheet's own text for 6.2, drawn as its author wrote it: formulas (its Hessian too), no raw LaTeX
    assert seed.count("<math") >= 5 and "<mtable>" in seed and "<pre" not in seed
    assert not re.findall(r"\\[A-Za-z]+|\$", re.sub(r"<math.*?</math>", "", seed, flags=re.S))


# ---------------------------------------------------------------- every problem of the book, in the terminal and as math
_RAW_TERMINAL = re.compile(r"\\[A-Za-z]+|\$|\b(?:Sum|Matrix|Piecewise|Heaviside|Indexed)\(")


def _problem_results(records):
    from losslab.book.result import Check, ProblemResult

    for rec in records:
        yield ProblemResult(rec["problem"], rec["title"], "", rec["answer"], rec["summary"],
                            checks=[Check(**c) for c in rec["checks"]], seed_verdict=rec["seed_verdict"],
                            seed_notes=rec["seed_notes"], seconds=rec["seconds"])


def test_solve_prints_every_problem_in_unicode_and_json_keeps_latex(book_run):
    """What `losslab solve` prints for each of the book's problems (the session's `losslab book --small`):
    no LaTeX command, no $, no SymPy repr on the terminal; the same results as data keep their LaTeX."""
    from rich.console import Console

    from losslab.cli.solve import _print_result

    _, records = book_run
    for result in _problem_results(records):
        console = Console(record=True, width=150, color_system=None, file=io.StringIO())
        _print_result(console, result)
        text = console.export_text()
        assert not _RAW_TERMINAL.findall(text), (result.problem, sorted(set(_RAW_TERMINAL.findall(text))))
    by_problem = {r["problem"]: r for r in records}
    assert by_problem["6.2"]["answer"]["hessian"].startswith("\\mathbf{H} = \\begin{bmatrix}")
    hessian_check = by_problem["6.2"]["checks"][0]["detail"]
    assert hessian_check.startswith("\\begin{bmatrix}") and latex_to_mathml(hessian_check).startswith("<math")


def test_book_checks_say_their_formulas_in_latex(book_run):
    """A check's name or detail that holds a formula holds it as LaTeX (drawn by the book), never as a SymPy repr."""
    _, records = book_run
    sympy_repr = re.compile(r"\b(?:Sum|Matrix|Piecewise|Heaviside|Indexed)\(|\*\*")
    found = [(r["problem"], c["name"], c["detail"]) for r in records for c in r["checks"]
             if sympy_repr.search(c["name"]) or sympy_repr.search(c["detail"])]
    assert not found


def test_notebook_views_name_the_readers_math_fonts_within_their_own_scope():
    """A notebook has no server for the math font: each view names math fonts a reader's machine has, and only
    for its own <math> (the notebook's page keeps its styles); the served pages keep the shipped font first."""
    from losslab import make_objective
    from losslab.check_view import CheckReport
    from losslab.run import run

    obj = make_objective("linear")
    views = {".ll-view": obj._repr_html_(), ".ll-check": CheckReport([], "x", filename="s.md")._repr_html_(),
             ".ll-view ": run(obj, "gd", [1.6, -0.5], steps=3, learning_rate=0.01)._repr_html_()}
    for scope, page in views.items():
        rule = re.search(rf"{re.escape(scope.strip())} math {{ font-family: ([^;]+);", page)
        assert rule and "'STIX Two Math'" in rule.group(1) and "'DejaVu Math TeX Gyre'" in rule.group(1), scope
        assert "@font-face" not in page and not re.search(r"(^|[}\s])math {", page.split("</style>")[0].replace(scope.strip() + " math", ""))
    served = math_css("/static/math/x.ttf")
    assert served.startswith("@font-face") and "math { font-family: 'losslab math', 'STIX Two Math'" in served
