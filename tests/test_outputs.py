"""Output paths: checked before the work, written atomically, nothing of the user's overwritten, no symlink followed,
an interrupted run leaves the previous complete output; I/O errors are I/O errors."""

from __future__ import annotations

import errno
import os
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

from losslab.cli import app, describe_failure  # noqa: E402
from losslab.errors import LosslabError  # noqa: E402
from losslab.outputs import MANIFEST, MARK, OutputFolder, check_file, save_figure  # noqa: E402


def _figure():
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    return fig


@pytest.mark.parametrize("suffix", [".png", ".svg", ".pdf"])
def test_a_figure_is_marked_and_may_be_replaced_by_losslab_only(tmp_path, suffix):
    path = tmp_path / f"f{suffix}"
    check_file("--plot", path)  # new: fine
    save_figure(_figure(), path)
    assert MARK.encode() in path.read_bytes()
    check_file("--plot", path)  # losslab's own: may be replaced
    save_figure(_figure(), path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]  # no temporary file left beside it
    other = tmp_path / f"user{suffix}"
    other.write_bytes(b"someone else's bytes")
    with pytest.raises(LosslabError, match=r"names an existing file that losslab did not write"):
        check_file("--plot", other)
    plt.close("all")


def test_a_figure_path_that_is_a_symlink_or_a_folder_is_refused(tmp_path):
    target = tmp_path / "target.png"
    save_figure(_figure(), target)
    (tmp_path / "link.png").symlink_to(target)
    with pytest.raises(LosslabError, match="must not be a symbolic link"):
        check_file("--out", tmp_path / "link.png")
    (tmp_path / "d.png").mkdir()
    with pytest.raises(LosslabError, match="a file path, not a folder"):
        check_file("--out", tmp_path / "d.png")
    plt.close("all")


def _tight_figure(far_text: bool = False):
    import numpy as np

    fig, axes = plt.subplots(1, 2, figsize=(6.4, 3.0))
    x = np.linspace(-3, 3, 200)
    for k, ax in enumerate(axes):
        ax.plot(x, np.sin((k + 1) * x), label=f"sin({k + 1}x)")
        ax.contour(x, x, np.add.outer(x**2, (k + 1) * x**2), levels=12)
        ax.set_xlabel(r"$\phi_0$, a label that reaches below the figure")
        ax.legend(loc="upper right")
    axes[0].set_ylabel(r"$\phi_1$")
    fig.suptitle("a title near the top edge")
    if far_text:  # 2 inches right of the figure: beyond the one-draw margin
        fig.text(1.3, 0.5, "far outside")
    return fig


@pytest.mark.parametrize("far_text", [False, True])
def test_a_tight_png_is_savefigs_picture(tmp_path, far_text):
    """save_figure's one-draw tight PNG has savefig's size and pixels (up to anti-aliasing at a sub-pixel shift)."""
    import numpy as np
    from PIL import Image

    import losslab.outputs as outputs

    reference = tmp_path / "savefig.png"
    fig = _tight_figure(far_text)
    fig.savefig(reference, dpi=110, bbox_inches="tight")
    plt.close(fig)
    calls = []
    original = outputs._png_tight

    def spy(*args):
        calls.append(original(*args))
        return calls[-1]

    ours = tmp_path / "ours.png"
    fig = _tight_figure(far_text)
    try:
        outputs._png_tight = spy
        save_figure(fig, ours, dpi=110, bbox_inches="tight")
    finally:
        outputs._png_tight = original
        plt.close(fig)
    assert calls == [not far_text]  # text beyond the margin: savefig itself
    with Image.open(reference) as first, Image.open(ours) as second:
        a = np.asarray(first.convert("RGBA"), dtype=float)
        b = np.asarray(second.convert("RGBA"), dtype=float)
        dpi = second.info.get("dpi", (0,))[0]
    assert a.shape == b.shape
    # closer than savefig's own picture moved by one pixel: the same drawing, anti-aliased at another sub-pixel offset
    one_pixel = min(np.abs(a - np.roll(a, shift, axis)).mean() for shift in (-1, 1) for axis in (0, 1))
    assert np.abs(a - b).mean() < 0.5 * one_pixel
    assert np.abs(a[:, :, 3] - 255).max() == 0 and np.abs(b[:, :, 3] - 255).max() == 0  # opaque, as savefig
    assert MARK.encode() in ours.read_bytes()
    assert dpi == pytest.approx(110, abs=0.1)


def _build(folder: OutputFolder, files: dict[str, str]) -> None:
    stage = folder.stage()
    for rel, text in files.items():
        (stage / rel).parent.mkdir(parents=True, exist_ok=True)
        (stage / rel).write_text(text)


def test_output_folder_replaces_its_own_content_and_refuses_a_users_file(tmp_path):
    out = tmp_path / "out"
    first = OutputFolder("--out", out)
    _build(first, {"index.html": "run 1", "figures/a.png": "a1", "figures/old.png": "old"})
    first.commit()
    assert json.loads((out / MANIFEST).read_text())["files"] == ["figures/a.png", "figures/old.png", "index.html"]
    second = OutputFolder("--out", out)
    _build(second, {"index.html": "run 2", "figures/a.png": "a2"})
    second.commit()
    assert (out / "index.html").read_text() == "run 2" and not (out / "figures" / "old.png").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # no staging or old folder left
    (out / "notes.txt").write_text("the user's notes")
    with pytest.raises(LosslabError, match=r"holds 'notes.txt', which losslab did not write"):
        OutputFolder("--out", out)
    assert (out / "notes.txt").read_text() == "the user's notes"


def test_merge_keeps_earlier_files_and_a_symlink_inside_is_refused(tmp_path):
    out = tmp_path / "out"
    a = OutputFolder("--out", out)
    _build(a, {"figures/p1.png": "1"})
    a.commit(merge=True)
    b = OutputFolder("--out", out)
    _build(b, {"figures/p2.png": "2"})
    b.commit(merge=True)
    assert sorted(p.name for p in (out / "figures").iterdir()) == ["p1.png", "p2.png"]
    secret = tmp_path / "secret.txt"
    secret.write_text("outside")
    (out / "figures" / "p3.png").symlink_to(secret)
    with pytest.raises(LosslabError, match=r"holds a symbolic link 'figures/p3.png'"):
        OutputFolder("--out", out)
    assert secret.read_text() == "outside"


def test_a_merge_is_one_rename_of_the_folder_so_a_kill_never_mixes_two_runs(tmp_path, monkeypatch):
    out = tmp_path / "out"
    a = OutputFolder("--out", out)
    _build(a, {"figures/p1.png": "run 1", "figures/p2.png": "run 1"})
    a.commit(merge=True)
    b = OutputFolder("--out", out)
    _build(b, {"figures/p2.png": "run 2"})
    moves = []
    real = os.replace
    monkeypatch.setattr(os, "replace", lambda src, dst: (moves.append((Path(src), Path(dst))), real(src, dst))[1])
    b.commit(merge=True)
    # only whole folders move: the old output aside, then the staged folder (run 2's p2 and run 1's p1) in place
    assert moves[-1][1] == out and not any(out in dst.parents for _, dst in moves), moves  # nothing renamed into out
    assert (out / "figures" / "p1.png").read_text() == "run 1" and (out / "figures" / "p2.png").read_text() == "run 2"
    assert json.loads((out / MANIFEST).read_text())["files"] == ["figures/p1.png", "figures/p2.png"]


def test_an_interrupted_book_leaves_the_previous_page(tmp_path, monkeypatch):
    from losslab.book import ProblemResult

    def fake_solve(name, ctx=None):
        return ProblemResult(problem=name, title="t", statement="s", answer={}, summary="", checks=[])

    monkeypatch.setattr("losslab.book.solve_many", lambda names, ctx=None, **kw: [fake_solve(n) for n in names])
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    assert runner.invoke(app, ["book", "--out", "site", "--problems", "6.1"]).exit_code == 0
    page = (tmp_path / "site" / "index.html").read_text()
    assert "6.1" in page

    def interrupted(results, out_dir, **kw):
        (out_dir / "index.html").write_text("half a page")
        raise KeyboardInterrupt

    monkeypatch.setattr("losslab.book.write_report", interrupted)
    runner.invoke(app, ["book", "--out", "site", "--problems", "6.2"])
    assert (tmp_path / "site" / "index.html").read_text() == page
    assert sorted(p.name for p in tmp_path.iterdir()) == ["site"]


def test_an_io_error_while_solving_is_an_io_error_not_a_failed_check(tmp_path, monkeypatch):
    import losslab.book.registry as registry

    class Full:
        TITLE = "t"

        @staticmethod
        def solve(ctx):
            raise OSError(errno.ENOSPC, "No space left on device", str(ctx.out_dir / "figures" / "x.png"))

    monkeypatch.setattr(registry, "problem_module", lambda name: Full)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["solve", "6.1", "--out", "o"])
    assert isinstance(result.exception, OSError)
    assert describe_failure(result.exception).startswith("I/O error on '") and "No space left on device" in describe_failure(result.exception)
    assert not (tmp_path / "o").exists()


def test_a_copy_that_fails_names_its_destination():
    # what shutil.copyfile raises when the disk fills during its sendfile copy: the source first, the destination second
    error = OSError(errno.ENOSPC, "No space left on device")
    error.filename, error.filename2 = "/site-packages/ziamath/fonts/STIXTwoMath-Regular.ttf", "/full/disk/assets/font.ttf"
    assert describe_failure(error) == "I/O error on '/full/disk/assets/font.ttf': No space left on device. Nothing was replaced."
    alone = OSError(errno.EACCES, "Permission denied", "/read/only/x.png")
    assert describe_failure(alone) == "I/O error on '/read/only/x.png': Permission denied. Nothing was replaced."


def test_what_a_killed_run_left_is_tidied_by_the_next(tmp_path):
    import subprocess
    import sys

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True).stdout.strip()
    folder = OutputFolder("--out", tmp_path / "site")
    host_prefix = folder._sibling_prefix("partial").rsplit("-", 2)[0]  # '.site.partial-HOST'
    stale = tmp_path / f"{host_prefix}-{dead}-abc"
    stale.mkdir()
    (stale / "index.html").write_text("half a page")
    moved = tmp_path / f"{host_prefix.replace('.partial-', '.old-')}-{dead}-def"
    (moved / "content").mkdir(parents=True)
    (moved / "content" / "index.html").write_text("the previous complete page")
    (moved / "content" / MANIFEST).write_text(json.dumps({"written_by": MARK, "files": ["index.html"]}))
    running = tmp_path / f"{host_prefix}-{os.getpid()}-ghi"  # a run still going (this process): left alone
    running.mkdir()

    OutputFolder("--out", tmp_path / "site")
    assert not stale.exists() and not moved.exists() and running.is_dir()
    assert (tmp_path / "site" / "index.html").read_text() == "the previous complete page"  # killed between two renames
