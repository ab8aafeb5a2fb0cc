"""read_document: every container (Markdown, LaTeX, notebook, plain text) into the same sections and rows."""

import json
import re
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from losslab.errors import LosslabError
from losslab.symbolic.reading import (
    MAX_ROWS,
    Math,
    Prose,
    problem_of_heading,
    read_document,
)

FORMATS = Path(__file__).parent / "sheets" / "formats"
REAL = Path(__file__).resolve().parents[1].parent / "shared" / "sheets" / "real"


def rows(doc, problem=None, display=None):
    return [
        m
        for s, m in doc.math()
        if (problem is None or s.problem == problem) and (display is None or m.display == display)
    ]


def read_fixture(name):
    path = FORMATS / name
    return read_document(path.read_text(), filename=path.name)


# ---------------------------------------------------------------- headings


@pytest.mark.parametrize(
    "title, expected",
    [
        ("Problem 6.3", ("6.3", None)),
        ("Exercise 6.3", ("6.3", None)),
        ("Question 6.3", ("6.3", None)),
        ("Q6.3", ("6.3", None)),
        ("6.3", ("6.3", None)),
        ("6.3 (b)", ("6.3", "b")),
        ("Problem 6.3(b)", ("6.3", "b")),
        ("Problem 6.10 (ii)", ("6.10", "ii")),
        ("Задача 6.2", ("6.2", None)),
        ("Problem 6.1: the linear model", ("6.1", None)),
        ("Первые производные:", None),
        ("Derivatives", None),
        ("(iii) Почему при BCE", None),
        ("Quadratic 6.3", None),
    ],
)
def test_heading_names_problem_and_part(title, expected):
    assert problem_of_heading(title) == expected


def test_bold_line_must_be_just_the_number_when_bare():
    assert problem_of_heading("6.3", whole_line=True) == ("6.3", None)
    assert problem_of_heading("6.3 is easy", whole_line=True) is None


# ---------------------------------------------------------------- Markdown fixture


def test_markdown_sections_rows_and_labels():
    doc = read_fixture("reading_small.md")
    assert doc.format == "markdown"
    assert [(s.problem, s.part) for s in doc.sections] == [(None, None), ("6.1", None), ("6.2", None), ("6.3", "b"), ("6.4", None)]
    r61 = rows(doc, "6.1", display=True)
    # the aligned display: row 1, row 2 continues (begins with =), the '&\quad - 2 sum y_i' row is joined onto row 2
    assert [m.line for m in r61] == [11, 12, 20, 21]
    assert r61[0].latex.startswith(r"\frac{\partial L}{\partial \phi_0}") and "&" not in r61[0].latex
    assert not r61[0].continues and r61[1].continues
    assert r61[1].latex.startswith("=") and r61[1].latex.endswith(r"- 2\sum_i y_i")
    assert r61[1].label == "6.5" and r"\tag" not in r61[1].latex
    assert r61[0].display_id == r61[1].display_id != r61[2].display_id
    # align environment: \label and \nonumber dropped, trailing comma dropped, '\le' row continues
    assert r"\label" not in r61[2].latex and r61[3].latex == r"\le 10" and r61[3].continues
    # the bold sub-heading names no problem: it stays prose inside 6.1 and is the display's context
    assert r61[2].context == "First derivatives:"
    # matrices keep their & and \\, the trailing (6.9) becomes the label
    (h,) = rows(doc, "6.2")
    assert h.latex.endswith(r"\end{bmatrix}") and r"2I & 2\sum_i x_i \\ 2\sum_i" in h.latex and h.label == "6.9"
    # \Rightarrow is not a relation at the start; cases keep their rows
    r63 = rows(doc, "6.3", display=True)
    assert r63[0].line == 35 and r"\Rightarrow m_1" in r63[0].latex and not r63[0].latex.endswith(",")
    assert r63[0].context == "With $m_0 = 0$ we get"
    assert r63[1].latex.startswith("a'(z) = \\begin{cases}") and r"\\ 0 & z \le 0" in r63[1].latex


def test_markdown_inline_math_is_prose_and_math():
    doc = read_fixture("reading_small.md")
    items = doc.sections[1].items
    prose = next(i for i in items if isinstance(i, Prose))
    assert "$L = \\sum_i (\\phi_0 + \\phi_1 x_i - y_i)^2$" in prose.text
    inline = items[items.index(prose) + 1]
    assert isinstance(inline, Math) and not inline.display and inline.line == 7
    assert inline.latex == r"L = \sum_i (\phi_0 + \phi_1 x_i - y_i)^2" and inline.context == "Let the loss be"
    # before any heading: a section without a problem
    assert doc.sections[0].problem is None and rows(doc, None)[0].latex == "a = 1"


def test_code_blocks_give_no_math():
    doc = read_fixture("reading_small.md")
    assert not any("b = 2" in m.latex for _, m in doc.math())
    nb = read_fixture("reading_small.ipynb")
    assert not any("c = 3" in m.latex for _, m in nb.math())


def test_plain_line_problem_heading_and_continuation_rows():
    doc = read_document("Q6.4\n\n$$ a = b \\\\ + c \\\\ = d $$\n", format="markdown")
    (sec,) = doc.sections
    assert sec.problem == "6.4"
    assert [(m.latex, m.continues) for m in sec.math] == [("a = b + c", False), ("= d", True)]


# ---------------------------------------------------------------- other containers


def test_latex_document():
    doc = read_fixture("reading_small.tex")
    assert doc.format == "latex"
    assert [(s.problem, s.part) for s in doc.sections] == [("6.1", None), ("6.2", "b")]
    a, b = rows(doc, "6.1", display=True)
    assert (a.line, b.line, b.continues, b.label) == (9, 10, True, "6.5")
    assert a.context.endswith("and its derivative is")
    (inline,) = rows(doc, "6.1", display=False)
    assert inline.line == 6 and inline.latex.startswith("L = ")
    r62 = rows(doc, "6.2")
    assert [m.line for m in r62] == [16, 19, 24, 25]
    assert r62[0].latex.endswith(r"\end{pmatrix}") and r62[1].latex.endswith(r"\geq 0")
    assert not r62[2].display and r62[2].latex == r"a'(z) = \mathbb{I}[z > 0]"
    assert not any("y = 2" in m.latex or "x = 1" in m.latex for _, m in doc.math())


def test_notebook_cells_and_lines():
    doc = read_fixture("reading_small.ipynb")
    assert doc.format == "notebook"
    assert [(s.problem, s.part, s.cell) for s in doc.sections] == [(None, None, None), ("6.1", None, 2), ("6.3", "b", 4)]
    inline, d = rows(doc, "6.1")
    assert (inline.cell, inline.line, inline.display) == (2, 3, False)
    assert (d.cell, d.line, d.display) == (2, 6, True)
    f, z = rows(doc, "6.3")
    assert (f.cell, f.line, z.line, z.continues, z.latex) == (4, 4, 5, True, "= z")


def test_text_format_indentation_is_not_code():
    doc = read_fixture("reading_small.txt")
    assert doc.format == "text"
    assert [s.problem for s in doc.sections] == ["6.1", "6.2"]
    assert [m.line for _, m in doc.math()] == [3, 4, 7]
    # the same file read as Markdown: indented lines are a code block there
    md = read_document((FORMATS / "reading_small.txt").read_text(), format="markdown")
    assert [m.line for _, m in md.math()] == [7]


@pytest.mark.parametrize(
    "text, fmt",
    [
        ('{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}', "notebook"),
        ("\\documentclass{article}\n\\begin{document}\nx\n\\end{document}", "latex"),
        ("\\section{Problem 6.1}\n$x = 1$", "latex"),
        ("## Problem 6.1\n$x$", "markdown"),
    ],
)
def test_format_sniffed_without_a_filename(text, fmt):
    assert read_document(text).format == fmt


def test_format_from_suffix_wins():
    assert read_document("## Problem 6.1\n$$x = 1$$", filename="a.txt").format == "text"


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "text, kwargs, message",
    [
        ("", {}, "empty"),
        ("a\x00b", {}, "NUL"),
        ("x" * 1_000_001, {}, "too large"),
        ("\\section{A}\n" + "word " * 41_000, {}, "at most 200 kB for LaTeX"),
        ("# P\n\n$$\nx = 1\n", {}, "line 3 is never closed"),
        ("text\n\n\\[ x = 1\n", {}, "line 3 is never closed"),
        ("\\section{A}\n\\begin{align} x = 1", {}, "line 2"),
        ("## P\n\n\\begin{align}\na &= b\n", {}, "\\begin{align} at line 3 is never closed"),
        (
            json.dumps({"cells": [{"cell_type": "markdown", "source": "a\n\n$$\nx", "metadata": {}}], "metadata": {},
                        "nbformat": 4, "nbformat_minor": 2}),
            {"format": "notebook"},
            "In cell 1 of the notebook: Display math opened with $$ at line 3",
        ),
        ("{bad json", {"format": "notebook"}, "Jupyter notebook"),
        ('{"cells": 3}', {"filename": "a.ipynb"}, "Jupyter notebook"),
        ("x", {"format": "pdf"}, "'format' parameter"),
    ],
)
def test_bad_input_is_refused_with_a_sentence(text, kwargs, message):
    with pytest.raises(LosslabError, match=re.escape(message)):
        read_document(text, **kwargs)


@pytest.mark.parametrize("fmt", ["markdown", "latex", "text"])
def test_huge_aligned_display_is_refused_quickly(fmt):
    body = "$$\\begin{aligned}\n" + "a &= b \\\\\n" * 10_000 + "\\end{aligned}$$\n"
    start = time.perf_counter()
    with pytest.raises(LosslabError, match=f"at most {MAX_ROWS}"):
        read_document(body, format=fmt)
    # generous bound for a shared CI core: the point is no per-row parse
    assert time.perf_counter() - start < 5


def test_rows_not_displays_are_counted():
    ok = "$$\\begin{aligned}\n" + "a &= b \\\\\n" * (MAX_ROWS - 1) + "\\end{aligned}$$\n"
    assert len(read_document(ok).sections[0].math) == MAX_ROWS - 1
    with pytest.raises(LosslabError):
        read_document(ok.replace("a &= b", "a &= b \\\\ c &= d", 2))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.sampled_from(list("$\\{}[]()&=<>_^#*`\n ab1.6") + ["Problem ", "\\begin{align}", "\\end{align}", "\\\\", "$$", "\\[", "\\]", "**", "## "]),
        max_size=60,
    ).map("".join),
    st.sampled_from(["auto", "markdown", "latex", "notebook", "text"]),
)
def test_random_text_raises_only_losslab_errors(text, fmt):
    try:
        doc = read_document(text, format=fmt)
    except LosslabError:
        return
    for section, m in doc.math():
        assert m.line >= 1 and m.latex.strip()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.recursive(st.none() | st.integers() | st.text(max_size=10), lambda c: st.lists(c) | st.dictionaries(st.text(max_size=6), c), max_leaves=12))
def test_random_json_as_notebook_raises_only_losslab_errors(data):
    try:
        read_document(json.dumps({"cells": data}), format="notebook")
    except LosslabError:
        pass


# ---------------------------------------------------------------- the shared real sheets


def _expected_claims():
    """{sheet: [(line, problem)]} from the tables of ../shared/sheets/real/EXPECTED.md."""
    out, sheet = {}, None
    for row in (REAL / "EXPECTED.md").read_text().splitlines():
        m = re.match(r"## (\S+\.md)", row)
        if m:
            sheet = m.group(1)
            out[sheet] = []
            continue
        cells = [c.strip() for c in row.strip().strip("|").split("|")]
        if sheet and len(cells) >= 4 and cells[0].isdigit():
            out[sheet].append((int(cells[0]), cells[1]))
    return out


needs_real = pytest.mark.skipif(not REAL.is_dir(), reason="../shared/sheets/real is not beside the repository")


@needs_real
def test_every_expected_claim_line_has_a_display_row_in_its_problem():
    table = _expected_claims()
    assert sum(len(v) for v in table.values()) >= 100
    for sheet, claims in table.items():
        doc = read_document((REAL / sheet).read_text(), filename=sheet)
        at = {(m.line, s.problem) for s, m in doc.math() if m.display}
        missing = [(line, problem) for line, problem in claims if (line, problem) not in at]
        assert not missing, f"{sheet}: no display row at {missing}"


@needs_real
def test_real_inline_definitions_are_inline_math():
    doc = read_document((REAL / "nicholi.md").read_text(), filename="nicholi.md")
    (loss,) = [m for s, m in doc.math() if m.line == 6 and s.problem == "6.1"]
    assert not loss.display and loss.latex == r"L[\phi] = \sum_i (\phi_0 + \phi_1 x_i - y_i)^2"
    assert loss.context.startswith("Show that the derivatives of the least squares loss")
    xab = read_document((REAL / "xabarov.md").read_text(), filename="xabarov.md")
    # "Обычно берут $m_0=0$. Тогда" is the context of the display that uses it
    (m272,) = [m for _, m in xab.math() if m.line == 272]
    assert "$m_0=0$" in m272.context
    # bold sub-headings that name no problem do not end problem 6.4
    assert [s.problem for s in xab.sections] == [None, "6.2", "6.4", "6.5", "6.10"]


# ---------------------------------------------------------------- the project's own sheets

OWN = Path(__file__).parent / "sheets" / "own"


def _table(path, pattern):
    """{sheet: [cells]} from an EXPECTED.md whose sections are '## <sheet>'."""
    out, sheet = {}, None
    for row in path.read_text().splitlines():
        m = re.match(pattern, row)
        if m:
            sheet = m.group(1)
            out[sheet] = []
            continue
        cells = [c.strip() for c in row.strip().strip("|").split("|")]
        if sheet and cells and cells[0].isdigit():
            out[sheet].append(cells)
    return out


def test_own_sheets_every_claim_line_is_a_display_row_of_its_problem():
    table = _table(OWN / "EXPECTED.md", r"## (\S+\.md)$")
    assert len(table) >= 6 and sum(len(v) for v in table.values()) >= 160
    for sheet, rows_ in table.items():
        doc = read_document((OWN / sheet).read_text(), filename=sheet)
        at = {(m.line, s.problem) for s, m in doc.math() if m.display}
        missing = [(int(c[0]), c[1]) for c in rows_ if (int(c[0]), c[1]) not in at]
        assert not missing, f"{sheet}: no display row at {missing}"


def test_own_sheets_in_latex_and_notebook_containers():
    table = _table(FORMATS / "EXPECTED.md", r"## (\S+\.(?:tex|ipynb))$")
    assert set(table) == {"linear_en.tex", "momentum.ipynb"}
    for sheet, rows_ in table.items():
        doc = read_document((FORMATS / sheet).read_text(), filename=sheet)
        if sheet.endswith(".ipynb"):
            at = {(m.cell, m.line, s.problem) for s, m in doc.math() if m.display}
            keys = [(int(c[0]), int(c[1]), c[2]) for c in rows_]
        else:
            at = {(m.line, s.problem) for s, m in doc.math() if m.display}
            keys = [(int(c[0]), c[1]) for c in rows_]
        missing = [k for k in keys if k not in at]
        assert not missing, f"{sheet}: no display row at {missing}"
    # the same claims in the same order as the Markdown originals
    own = _table(OWN / "EXPECTED.md", r"## (\S+\.md)$")
    assert [c[3] for c in table["linear_en.tex"]] == [c[3] for c in own["linear_en.md"]]
    assert [c[4] for c in table["momentum.ipynb"]] == [c[3] for c in own["momentum.md"]]


def test_right_dot_delimiter_is_not_trailing_punctuation():
    doc = read_document("$$\\begin{aligned} a &= \\left( b \\right. \\\\ & \\left. + c \\right) \\end{aligned}$$")
    (row,) = doc.sections[0].math
    assert row.latex.endswith(r"\left. + c \right)") and r"\left( b \right." in row.latex


def test_bracket_display_inside_a_paragraph():
    doc = read_document("## Problem 6.1\nWe have\n\\[ x = 1 \\]\nso \\(y = 2\\) and\n\\[\na = b\n\\]\n")
    got = [(m.line, m.display, m.latex) for _, m in doc.math()]
    assert got == [(3, True, "x = 1"), (4, False, "y = 2"), (6, True, "a = b")]
    assert doc.sections[0].math[0].context == "We have"
