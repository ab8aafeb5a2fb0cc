"""The explorer page in a real browser: Playwright driving Debian's Chromium against a live uvicorn server."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from _browser import NEEDS_CHROMIUM, chromium, guarded_page, live_server

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"

pytestmark = [pytest.mark.browser, NEEDS_CHROMIUM]


@pytest.fixture(scope="module")
def server():
    from losslab.web.app import app

    with live_server(app) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    with chromium() as b:
        yield b


@pytest.fixture
def page(browser, server):
    with guarded_page(browser, server, {"width": 1400, "height": 1150}) as pg:
        yield pg


def open_page(pg, fragment: str = "", runs: int = 1):
    pg.goto(f"{pg.base}/{fragment}")
    pg.wait_for_function(f"window.losslab && window.losslab.ready && window.losslab.runCount >= {runs}", timeout=60_000)


def wait_new_run(pg, before: int):
    pg.wait_for_function(f"window.losslab.runCount > {before}", timeout=30_000)


def number(pg, testid: str) -> float:
    return float(pg.inner_text(f'[data-testid="{testid}"]'))


def plot_box(pg):
    return pg.locator('[data-testid="landscape"] .nsewdrag').bounding_box()


# ---------------------------------------------------------------- tests
def test_page_loads(page):
    open_page(page)
    assert page.title().startswith("losslab")
    assert page.evaluate("typeof Plotly") == "object"
    options = page.eval_on_selector_all('[data-testid="objective"] option', "els => els.map(e => e.value)")
    assert options == ["linear", "gabor", "logistic", "fn:6.5", "fn:6.1"]
    # the heat map holds the server's grid, contours over it
    assert page.evaluate("document.querySelector('[data-testid=landscape]').data[0].type") == "heatmap"
    assert page.evaluate("document.querySelector('[data-testid=landscape]').data[1].type") == "contour"
    z = np.array(page.evaluate("window.losslab.landscape.loss"), dtype=float)
    assert z.shape == (120, 120) and np.all(np.isfinite(z))
    assert not page.locator('[data-testid="error"]').is_visible()
    assert page.locator('[data-testid="final-loss-0"]').inner_text() != "–"


def test_click_on_heatmap_runs_from_there_and_descends(page):
    from losslab.objective import make_objective

    open_page(page, "#obj=linear")
    box = plot_box(page)
    before = page.evaluate("window.losslab.runCount")
    page.mouse.click(box["x"] + 0.25 * box["width"], box["y"] + 0.2 * box["height"])
    wait_new_run(page, before)
    start = page.evaluate("window.losslab.state.start")
    # the click maps to data coordinates: phi_0 in [0, 2] a quarter across, phi_1 in [-1, 1] a fifth down
    assert start[0] == pytest.approx(0.5, abs=0.05) and start[1] == pytest.approx(0.6, abs=0.05)
    obj = make_objective("linear", "book:linear")
    start_loss = number(page, "start-loss")
    assert start_loss == pytest.approx(float(obj.value(start)), rel=1e-5)
    run = page.evaluate("window.losslab.run.runs[1]")  # plain GD of the linear defaults
    assert run["params"][0] == pytest.approx(start)
    final = number(page, "final-loss-1")
    assert final == pytest.approx(float(obj.value(run["params"][-1])), rel=1e-5)
    assert final < start_loss
    # the drawn path is the trajectory
    xs = page.evaluate("document.querySelector('[data-testid=landscape]').data[3].x")
    assert xs == pytest.approx([p[0] for p in run["params"]])


def test_changing_the_optimiser_changes_the_path(page):
    open_page(page, "#obj=fn:6.5")
    path_gd = page.evaluate("window.losslab.run.runs[0].params")
    before = page.evaluate("window.losslab.runCount")
    page.select_option('[data-testid="opt-0-name"]', "adam")
    wait_new_run(page, before)
    assert page.evaluate("window.losslab.run.runs[0].name") == "adam"
    path_adam = page.evaluate("window.losslab.run.runs[0].params")
    assert path_adam[0] == pytest.approx(path_gd[0])  # same start
    n = min(len(path_gd), len(path_adam))
    assert not np.allclose(np.array(path_gd[:n]), np.array(path_adam[:n]))
    drawn = page.evaluate("document.querySelector('[data-testid=landscape]').data[2].y")
    assert drawn == pytest.approx([p[1] for p in path_adam])
    # a slider moves the path too, without a page reload
    before = page.evaluate("window.losslab.runCount")
    page.fill('[data-testid="opt-0-lr"]', "0.2")
    page.press('[data-testid="opt-0-lr"]', "Enter")
    wait_new_run(page, before)
    assert page.evaluate("window.losslab.state.opts[0].lr") == 0.2
    assert not np.allclose(np.array(page.evaluate("window.losslab.run.runs[0].params"))[:10], np.array(path_adam)[:10])


def test_invalid_value_shows_the_message(page):
    open_page(page, "#obj=gabor")
    page.fill('[data-testid="opt-0-lr"]', "-3")
    page.press('[data-testid="opt-0-lr"]', "Enter")
    error = page.locator('[data-testid="error"]')
    error.wait_for(state="visible", timeout=30_000)
    assert "The 'lr' parameter of optimiser 1 must be greater than 0. Got -3" in error.inner_text()
    before = page.evaluate("window.losslab.runCount")
    page.fill('[data-testid="opt-0-lr"]', "0.5")
    page.press('[data-testid="opt-0-lr"]', "Enter")
    wait_new_run(page, before)
    assert not error.is_visible()
    page.fill('[data-testid="resolution"]', "4000")
    page.press('[data-testid="resolution"]', "Enter")
    error.wait_for(state="visible", timeout=30_000)
    assert "The 'resolution' parameter must be less than or equal to 400. Got 4000 instead." in error.inner_text()


def test_url_round_trips_the_state(page):
    open_page(page, "#obj=gabor")
    before = page.evaluate("window.losslab.runCount")
    page.select_option('[data-testid="opt-1-name"]', "adam")
    wait_new_run(page, before)
    box = plot_box(page)
    before = page.evaluate("window.losslab.runCount")
    page.mouse.click(box["x"] + 0.55 * box["width"], box["y"] + 0.6 * box["height"])
    wait_new_run(page, before)
    page.eval_on_selector('[data-testid="step"]',  # what dragging the step slider does
                          "el => { el.value = 37; el.dispatchEvent(new Event('input')); el.dispatchEvent(new Event('change')); }")
    page.wait_for_function("window.losslab.state.step === 37")
    page.wait_for_function("location.hash.includes('step=37')")
    url = page.url
    state = page.evaluate("JSON.stringify(window.losslab.state)")
    runs = page.evaluate("window.losslab.run.runs.map(r => r.params)")
    finals = [page.inner_text(f'[data-testid="final-loss-{i}"]') for i in range(3)]
    picture = page.evaluate("document.querySelector('[data-testid=landscape]').data.map(t => [t.x, t.y])")
    page.wait_for_timeout(300)  # let the fit and line-search panels settle for the screenshot
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "web_explorer.png"), full_page=True)

    page.goto("about:blank")
    open_page(page, url[len(page.base) + 1:])
    assert page.url == url
    assert page.evaluate("JSON.stringify(window.losslab.state)") == state
    assert page.evaluate("window.losslab.run.runs.map(r => r.params)") == runs
    assert [page.inner_text(f'[data-testid="final-loss-{i}"]') for i in range(3)] == finals
    assert page.evaluate("document.querySelector('[data-testid=landscape]').data.map(t => [t.x, t.y])") == picture
    assert page.input_value('[data-testid="step"]') == "37"
    assert page.input_value('[data-testid="opt-1-name"]') == "adam"


def test_a_link_with_the_older_name_opens_the_notebook_function(page):
    # links shared before the notebook functions took the engine's names (nb6_5 -> fn:6.5) still open them
    open_page(page, "#obj=nb6_5&start=0.3,-0.5")
    assert page.evaluate("window.losslab.state.obj") == "fn:6.5"
    assert page.input_value('[data-testid="objective"]') == "fn:6.5"
    assert page.evaluate("window.losslab.run.runs[0].params[0]") == pytest.approx([0.3, -0.5])
    start_loss = number(page, "start-loss")
    assert start_loss == pytest.approx(1 - np.exp(-2 * 0.5**2) * np.exp(-((0.3 - 0.7) ** 2) / 8), rel=1e-5)
    # the address bar now says the one name, and opening it gives the same picture
    page.eval_on_selector('[data-testid="step"]',
                          "el => { el.value = 5; el.dispatchEvent(new Event('input')); el.dispatchEvent(new Event('change')); }")
    page.wait_for_function("location.hash.includes('step=5')")
    assert "obj=fn%3A6.5" in page.url
    url, runs = page.url, page.evaluate("window.losslab.run.runs.map(r => r.params)")
    page.goto("about:blank")
    open_page(page, url[len(page.base) + 1:])
    assert page.evaluate("window.losslab.state.obj") == "fn:6.5"
    assert page.evaluate("window.losslab.run.runs.map(r => r.params)") == runs


def test_line_search_brackets_on_the_slice(page):
    open_page(page, "#obj=fn:6.1")
    page.wait_for_function("window.losslab.linesearch !== null && window.losslab.linesearch !== undefined", timeout=30_000)
    ls = page.evaluate("window.losslab.linesearch")
    assert ls["brackets"][0] == pytest.approx([0.0, 0.33, 0.66, 1.0])
    a, b, c, d = ls["brackets"][-1]
    assert 0 <= a <= b <= c <= d <= 1 and ls["step"] == pytest.approx((b + c) / 2)
    traces = page.evaluate("document.querySelector('[data-testid=linesearch]').data.length")
    assert traces >= 1 + len(ls["brackets"]) + 4


def test_upload_own_data_for_a_model(page, tmp_path):
    open_page(page, "#obj=linear")
    x = np.linspace(0.0, 2.0, 9)
    good = tmp_path / "mine.csv"
    good.write_text("x,y\n" + "\n".join(f"{a},{1.0 - 0.5 * a}" for a in x))
    before = page.evaluate("window.losslab.runCount")
    page.set_input_files('[data-testid="upload"]', str(good))
    wait_new_run(page, before)
    assert page.evaluate("window.losslab.state.data").startswith("upload:")
    assert "upload:" in page.inner_text('[data-testid="data-name"]')
    page.wait_for_function("document.querySelector('[data-testid=fit]').data && "
                           "document.querySelector('[data-testid=fit]').data[0].x.length === 9", timeout=30_000)
    assert page.evaluate("document.querySelector('[data-testid=fit]').data[0].x") == pytest.approx(x.tolist())
    bad = tmp_path / "bad.csv"
    bad.write_text("x,y\n1,2\n3,os.system('ls')\n")
    page.set_input_files('[data-testid="upload"]', str(bad))
    error = page.locator('[data-testid="error"]')
    error.wait_for(state="visible", timeout=30_000)
    assert "Row 3 of CSV data 'bad.csv' must hold two numbers" in error.inner_text()
