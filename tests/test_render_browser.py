"""Math in a real browser (Playwright + Debian's Chromium): the book, the explorer and the check panel.

One browser and one server for the module: the server serves the explorer and
the book that `losslab book --small` wrote (the session's `book_run`), the
way `losslab serve --book DIR` does. Screenshots of every problem and of the
check panel go to test-artifacts/render/ (gitignored).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from _browser import NEEDS_CHROMIUM, chromium, guarded_page, live_server
from typer.testing import CliRunner

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts" / "render"
SHARED = Path(__file__).resolve().parents[1].parent / "shared"
REAL_SHEETS = SHARED / "sheets" / "real"
SEED_SHEET = ROOT / "tests" / "sheets" / "seed_sheet.md"

pytestmark = [pytest.mark.browser, NEEDS_CHROMIUM]

# text a reader sees outside formulas (code and the folded seed sheet included); only the check panel's
# sheet source, shown line by line beside the verdicts, and the paste box are the LaTeX the student wrote
VISIBLE_PROSE = """() => {
  const clone = document.body.cloneNode(true);
  for (const el of clone.querySelectorAll('math, script, style, .ll-src, textarea')) el.remove();
  return clone.textContent;
}"""
RAW_LATEX = re.compile(r"\\[A-Za-z]+|\$")


@pytest.fixture(scope="module")
def server(book_run):
    """The explorer with the book that `losslab book --small` wrote, as `losslab serve --book DIR` serves them."""
    from losslab.web import check_worker
    from losslab.web.app import create_app

    try:
        with live_server(create_app(book_run[0])) as url:
            yield url
    finally:
        check_worker.shutdown()


@pytest.fixture(scope="module")
def browser():
    with chromium() as b:
        yield b


@pytest.fixture
def page(browser, server):
    with guarded_page(browser, server, {"width": 1200, "height": 1000}) as pg:
        yield pg


def _math_font_loaded(pg) -> bool:
    pg.evaluate("document.fonts.ready.then(() => true)")
    return pg.evaluate("document.fonts.check(\"16px 'losslab math'\")")


# ---------------------------------------------------------------- the book
def test_book_math_renders_without_error_or_raw_latex(page, book_run):
    from losslab.book import PROBLEMS

    page.goto(f"{page.base}/book/index.html")
    assert _math_font_loaded(page), "the math font beside the book did not load"
    n_math = page.locator("math").count()
    assert n_math >= 200, f"only {n_math} formulas on the book page"
    assert page.locator(".math-error").count() == 0, page.eval_on_selector_all(".math-error", "els => els.map(e => e.textContent)")
    assert page.evaluate("[...document.querySelectorAll('math')].filter(m => m.textContent.includes('\\\\')).length") == 0
    prose = page.evaluate(VISIBLE_PROSE)
    raw = sorted(set(RAW_LATEX.findall(prose)))
    assert not raw, f"raw LaTeX outside formulas on the book page: {raw}"
    # every formula is laid out: no zero-size <math> (a formula the browser could not draw)
    assert page.evaluate("[...document.querySelectorAll('math')].filter(m => m.getBoundingClientRect().width === 0).length") == 0
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for problem in PROBLEMS:
        anchor = "p" + problem.replace(".", "-")
        path = ARTIFACTS / f"book_{anchor}.png"
        page.locator(f"#{anchor}").screenshot(path=str(path))
        assert path.stat().st_size > 10_000


def test_book_hessian_of_6_2_in_stretched_brackets(page):
    page.goto(f"{page.base}/book/index.html")
    assert _math_font_loaded(page)
    boxes = page.evaluate("""() => [...document.querySelectorAll('#p6-2 mtable')].map(t => {
        const open = t.previousElementSibling, close = t.nextElementSibling;
        const r = (e) => e.getBoundingClientRect();
        return {open: open && open.textContent, close: close && close.textContent,
                table: r(t).height, left: open ? r(open).height : 0, right: close ? r(close).height : 0};
    })""")
    assert boxes, "no matrix in problem 6.2"
    for box in boxes:
        assert (box["open"], box["close"]) == ("[", "]"), box
        # brackets, not bars, and stretched to the matrix's height (the math font's MATH table at work)
        assert box["left"] >= 0.9 * box["table"] and box["right"] >= 0.9 * box["table"], box


# ---------------------------------------------------------------- the explorer
def test_explorer_formulas_and_book_link(page):
    from losslab.web.catalog import OBJECTIVES

    page.goto(f"{page.base}/")
    page.wait_for_function("window.losslab && window.losslab.ready", timeout=60_000)
    assert page.locator('[data-testid="book-link"]').is_visible()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for key in OBJECTIVES:
        page.select_option('[data-testid="objective"]', key)
        formula = page.locator('[data-testid="formula"] math')
        assert formula.count() == 1, key
        assert formula.first.bounding_box()["width"] > 50, key
        page.locator("header").screenshot(path=str(ARTIFACTS / f"explorer_{key}.png"))
    assert page.locator(".math-error").count() == 0
    raw = sorted(set(RAW_LATEX.findall(page.evaluate(VISIBLE_PROSE))))
    assert not raw, f"raw LaTeX on the explorer: {raw}"


# ---------------------------------------------------------------- the check panel
def _cli_claims(path: Path) -> list[dict]:
    from losslab.cli import app

    result = CliRunner().invoke(app, ["check", "--json", str(path)])
    assert result.exit_code in (0, 1, 2), result.output
    return json.loads(result.stdout) if result.stdout.strip().startswith("[") else []


def _upload(pg, path: Path | None = None, *, name: str | None = None, data: bytes | None = None) -> dict:
    before = pg.evaluate("window.losslabCheck.count")
    if path is not None:
        pg.set_input_files('[data-testid="check-file"]', str(path))
    else:
        pg.set_input_files('[data-testid="check-file"]', files=[{"name": name, "mimeType": "text/plain", "buffer": data}])
    pg.wait_for_function(f"window.losslabCheck.count > {before}", timeout=120_000)
    return pg.evaluate("window.losslabCheck.last")


def _paste(pg, text: str, fmt: str = "auto") -> dict:
    pg.fill('[data-testid="check-text"]', text)
    pg.select_option('[data-testid="check-format"]', fmt)
    before = pg.evaluate("window.losslabCheck.count")
    pg.click('[data-testid="check-run"]')
    pg.wait_for_function(f"window.losslabCheck.count > {before}", timeout=120_000)
    return pg.evaluate("window.losslabCheck.last")


def _same_as_cli(pg, sheet: Path, *, paste: bool = False) -> None:
    answer = _paste(pg, sheet.read_text(encoding="utf-8")) if paste else _upload(pg, sheet)
    assert answer["status"] == 200, answer
    cli = _cli_claims(sheet)

    def key(c):
        return (c["problem"], c["line"], c.get("cell"), c["verdict"])

    assert [key(c) for c in answer["claims"]] == [key(c) for c in cli], sheet.name
    # every claim is on the page, beside its line, with its verdict
    shown = pg.eval_on_selector_all('[data-testid="check-result"] .ll-claim',
                                    "els => els.map(e => [Number(e.dataset.line), e.dataset.verdict])")
    assert shown == [[c["line"], c["verdict"]] for c in cli]
    rows = pg.eval_on_selector_all('[data-testid="check-result"] .ll-row:has(.ll-claim)',
                                   "els => els.map(e => [Number(e.dataset.line), Number(e.querySelector('.ll-claim').dataset.line)])")
    assert all(a == b for a, b in rows)
    assert pg.locator('[data-testid="check-result"] .math-error').count() == 0
    # each claim drawn as math, with its reason, convention and true expression when the checker gives them
    shown = pg.evaluate("""() => { const r = document.querySelector('[data-testid="check-result"]');
        const n = (sel) => r.querySelectorAll(sel).length;
        return {math: n('.ll-claim > .ll-math > math'), reason: n('.ll-claim > .ll-reason'),
                convention: n('.ll-claim > .ll-convention'), truth: n('.ll-claim > .ll-truth > math')}; }""")
    assert shown == {"math": sum(bool(c["latex"]) for c in cli), "reason": sum(bool(c["reason"]) for c in cli),
                     "convention": sum(bool(c.get("convention")) for c in cli), "truth": sum(bool(c.get("truth")) for c in cli)}


def test_check_panel_seed_sheet_matches_cli(page):
    page.goto(f"{page.base}/")
    page.wait_for_function("window.losslabCheck !== undefined")
    _same_as_cli(page, SEED_SHEET)
    assert _math_font_loaded(page)
    assert page.locator('[data-testid="check-result"] .ll-claim.incorrect .ll-truth math').count() >= 1
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.locator('[data-testid="check-panel"]').screenshot(path=str(ARTIFACTS / "check_panel_seed.png"))


def test_check_panel_real_sheets_match_cli(page):
    sheets = sorted(p for p in REAL_SHEETS.glob("*.md") if p.name != "EXPECTED.md") if REAL_SHEETS.is_dir() else []
    if not sheets:
        pytest.skip(f"no real sheets at {REAL_SHEETS} (they live in the shared folder beside the repository)")
    page.goto(f"{page.base}/")
    page.wait_for_function("window.losslabCheck !== undefined")
    for sheet in sheets:
        _same_as_cli(page, sheet)
    # pasted rather than uploaded: a Markdown sheet, and a LaTeX document told apart by its text (format auto)
    _same_as_cli(page, sheets[0], paste=True)
    _same_as_cli(page, ROOT / "tests" / "sheets" / "formats" / "linear_en.tex", paste=True)


def test_check_panel_refuses_oversize_binary_and_foreign_files(page):
    page.goto(f"{page.base}/")
    page.wait_for_function("window.losslabCheck !== undefined")
    error = page.locator('[data-testid="check-error"]')
    cases = [
        ("big.md", b"$$x$$\n" * 200_000, 413, "too large: at most 1000 kB"),  # over the server's body limit
        ("sheet.md", b"\x89PNG\r\n\x1a\n\x00\x00\x00", 415, "binary"),
        ("sheet.pdf", b"%PDF-1.4", 415, "Markdown, LaTeX, a Jupyter notebook or plain text"),
        ("latin1.tex", "caf\u00e9 $x$".encode("latin-1"), 415, "UTF-8"),
    ]
    for name, data, status, words in cases:
        answer = _upload(page, name=name, data=data)
        assert answer["status"] == status, (name, answer)
        assert error.is_visible() and words in error.inner_text(), (name, error.inner_text())
        assert name in error.inner_text()
    # the panel still works after refusals: pasted text is checked
    answer = _paste(page, SEED_SHEET.read_text(encoding="utf-8").split("### Problem 6.2")[0], "markdown")
    assert not error.is_visible()
    assert [c["verdict"] for c in answer["claims"]] == ["incorrect", "incorrect"]  # 6.1's two claims both lack the sum over i


# ---------------------------------------------------------------- a notebook's view, without the server's font
def _system_math_font() -> bool:
    import subprocess

    try:
        fonts = subprocess.run(["fc-list", ":", "family"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return False
    return any(name in fonts for name in ("STIX Two Math", "Latin Modern Math", "DejaVu Math TeX Gyre"))


def test_notebook_view_stretches_brackets_with_the_readers_math_font(page):
    """In Jupyter no server hands out the math font: the view names the reader's own (here: what fontconfig has)."""
    if not _system_math_font():
        pytest.skip("no math font installed on this machine (fonts-dejavu-extra, fonts-stix or texlive's Latin Modern)")
    from losslab.book.result import ProblemResult

    hessian = r"\mathbf{H} = \begin{bmatrix} 2I & 2\sum_{i=1}^{I} x_i \\ 2\sum_{i=1}^{I} x_i & 2\sum_{i=1}^{I} x_i^2 \end{bmatrix}"
    view = ProblemResult("6.2", "Hessian", "Find $\\mathbf{H}$.", {}, f"$${hessian}$$")._repr_html_()
    page.set_content(f"<!doctype html><html><body>{view}</body></html>")
    page.evaluate("document.fonts.ready.then(() => true)")
    box = page.evaluate("""() => { const t = document.querySelector('.ll-problem mtable');
        const h = (e) => e.getBoundingClientRect().height;
        return {open: t.previousElementSibling.textContent, table: h(t), left: h(t.previousElementSibling)}; }""")
    assert box["open"] == "[" and box["left"] >= 0.9 * box["table"], box
