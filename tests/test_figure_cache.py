"""Figures kept by content (losslab.plots.figure_cache): identical inputs give the picture drawn before,
byte for byte; any change in what is drawn draws again; the cache off, unwritable or damaged only
means drawing; a second `solve` in a new process never imports pyplot."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import matplotlib
import numpy as np
import pytest

from losslab import compile_cache
from losslab.plots import book as figures
from losslab.plots.figure_cache import _settings, figure_key, folder

SRC = str(Path(__file__).resolve().parents[1] / "src")
WEIGHTS = {0.5: 0.5 ** np.arange(12.0), 0.9: 0.9 ** np.arange(12.0)}


@pytest.fixture
def draws(monkeypatch, tmp_path):
    """The cache on in a fresh folder (as compile_cache.enable leaves it), and a list that grows by one each
    time a figure is really drawn."""
    monkeypatch.setattr(compile_cache, "_enabled", tmp_path / "cache")
    seen = []
    real = figures._save
    monkeypatch.setattr(figures, "_save", lambda fig, path: seen.append(path) or real(fig, path))
    return seen


def test_identical_inputs_copy_the_picture_drawn_before(draws, tmp_path, monkeypatch):
    first = figures.momentum_weights_figure(WEIGHTS, tmp_path / "a.png")
    assert len(draws) == 1 and len(list(folder().glob("*.png"))) == 1
    second = figures.momentum_weights_figure({k: v.copy() for k, v in WEIGHTS.items()}, path=tmp_path / "b.png")
    assert len(draws) == 1  # copied, not drawn
    assert second == tmp_path / "b.png" and second.read_bytes() == first.read_bytes()
    # and it is the picture drawing gives: the same bytes with the cache off
    monkeypatch.setattr(compile_cache, "_enabled", None)
    third = figures.momentum_weights_figure(WEIGHTS, tmp_path / "c.png")
    assert len(draws) == 2 and third.read_bytes() == first.read_bytes()
    assert matplotlib.image.imread(second).shape[2] == 4  # a PNG matplotlib reads back


def test_any_change_in_what_is_drawn_draws_again(draws, tmp_path):
    figures.momentum_weights_figure(WEIGHTS, tmp_path / "a.png")
    one_ulp = dict(WEIGHTS)
    one_ulp[0.9] = WEIGHTS[0.9].copy()
    one_ulp[0.9][5] = np.nextafter(one_ulp[0.9][5], 1.0)
    figures.momentum_weights_figure(one_ulp, tmp_path / "b.png")
    figures.momentum_weights_figure(dict(reversed(WEIGHTS.items())), tmp_path / "c.png")  # the legend's order
    with matplotlib.rc_context({"lines.linewidth": 3.0}):  # a user's style
        figures.momentum_weights_figure(WEIGHTS, tmp_path / "d.png")
    assert len(draws) == 4 and len(list(folder().glob("*.png"))) == 4
    figures.momentum_weights_figure(WEIGHTS, tmp_path / "e.png")
    assert len(draws) == 4


def test_the_key_encodes_values_exactly_and_refuses_what_it_cannot_encode():
    fn = figures.heatmap_figure.__wrapped__
    grid = np.linspace(0.0, 1.0, 6).reshape(2, 3)
    base = {"values": grid, "title": "t", "marker": None}
    key = figure_key(fn, base)
    masked = np.ma.masked_invalid(np.where(grid > 0.5, np.nan, grid))
    other_mask = masked.copy()
    other_mask[0, 0] = np.ma.masked
    variants = [
        {**base, "values": grid.astype(np.float32)},  # same numbers, another dtype
        {**base, "values": grid.reshape(3, 2)},  # another shape
        {**base, "title": "t "},
        {**base, "marker": (0.0, 0.0)},
        {**base, "marker": (0.0, -0.0)},  # the sign of zero is drawn in a tick label
        {**base, "values": masked},
        {**base, "values": other_mask},
        {"values": grid, "marker": None, "title": "t"},  # the arguments' order is the caller's, not the picture's
    ]
    keys = [figure_key(fn, v) for v in variants]
    assert keys[-1] == key
    assert len(set(keys[:-1]) | {key}) == len(variants)
    assert figure_key(fn, {**base, "marker": object()}) is None
    assert figure_key(fn, {**base, "values": np.array([None, 1.0], dtype=object)}) is None


def test_settings_that_never_reach_a_png_do_not_change_the_key():
    before = _settings()
    with matplotlib.rc_context({"backend_fallback": not matplotlib.rcParams["backend_fallback"],
                                "interactive": not matplotlib.rcParams["interactive"]}):
        assert _settings() == before
    with matplotlib.rc_context({"font.size": matplotlib.rcParams["font.size"] + 1}):
        assert _settings() != before


def test_the_figures_follow_the_compilation_cache_switch(monkeypatch, tmp_path):
    monkeypatch.setattr(compile_cache, "_enabled", None)
    monkeypatch.setenv("LOSSLAB_CACHE_DIR", str(tmp_path / "cache"))
    assert folder() is None  # a library caller who never turned the cache on
    monkeypatch.setattr(compile_cache, "_enabled", tmp_path / "cache")
    assert folder() == tmp_path / "cache" / "figures"


def test_cache_off_unwritable_or_damaged_means_drawing(draws, tmp_path, monkeypatch):
    monkeypatch.setattr(compile_cache, "_enabled", None)  # off, or never enabled
    figures.momentum_weights_figure(WEIGHTS, tmp_path / "a.png")
    figures.momentum_weights_figure(WEIGHTS, tmp_path / "a.png")
    assert len(draws) == 2 and folder() is None

    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setattr(compile_cache, "_enabled", blocker)
    assert figures.momentum_weights_figure(WEIGHTS, tmp_path / "b.png").read_bytes() == (tmp_path / "a.png").read_bytes()
    assert len(draws) == 3

    monkeypatch.setattr(compile_cache, "_enabled", tmp_path / "cache")
    figures.momentum_weights_figure(WEIGHTS, tmp_path / "c.png")
    (entry,) = folder().glob("*.png")
    entry.write_bytes(entry.read_bytes()[:-40])  # a copy cut short
    figures.momentum_weights_figure(WEIGHTS, tmp_path / "d.png")
    assert len(draws) == 5  # drawn again, and the entry made whole
    assert entry.read_bytes() == (tmp_path / "d.png").read_bytes() == (tmp_path / "a.png").read_bytes()


_SOLVE = r"""
import sys
from losslab.book import BookContext, solve
from losslab.compile_cache import enable
enable()  # LOSSLAB_CACHE_DIR, as the command line does
result = solve("6.10", BookContext(out_dir=sys.argv[1]))
print(result.passed, "matplotlib.pyplot" in sys.modules)  # its settings are read (matplotlib), nothing is drawn
"""


def test_a_second_solve_in_a_new_process_copies_its_figure_without_pyplot(tmp_path):
    env = dict(os.environ, PYTHONPATH=SRC, JAX_PLATFORMS="cpu", LOSSLAB_CACHE_DIR=str(tmp_path / "cache"))
    outs = []
    for name in ("first", "second"):
        run = subprocess.run([sys.executable, "-c", _SOLVE, str(tmp_path / name)], capture_output=True, text=True, env=env, timeout=300)
        assert run.returncode == 0, run.stderr[-2000:]
        outs.append(run.stdout.split())
    assert outs == [["True", "True"], ["True", "False"]]
    (first,) = (tmp_path / "first").rglob("*.png")
    (second,) = (tmp_path / "second").rglob("*.png")
    assert first.name == second.name and first.read_bytes() == second.read_bytes()
