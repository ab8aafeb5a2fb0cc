"""Where losslab writes: output paths checked before any work, every file written atomically,
nothing of the user's overwritten, no symlink followed.

Two kinds of output:

* a **file** (``fit --plot``, ``hessian --density``, ``landscape --out``): :func:`check_file`
  before the work (folder exists and accepts a new file, a format losslab writes, not a folder,
  not a symlink, and an existing file only if losslab wrote it: its bytes carry :data:`MARK`);
  :func:`save_figure` then writes a temporary file beside it and renames it into place.
* a **folder** (``book --out``, ``solve --out``): :class:`OutputFolder`. Everything under an
  existing folder must be listed in its manifest (:data:`MANIFEST`, what losslab wrote there);
  the new content is built in a temporary sibling folder and moved into place when complete, so
  an interrupted run leaves the previous complete output (or nothing) and never a mix; what a
  run killed outright left beside the folder is tidied by the next run.

Every refusal is a :class:`~losslab.errors.LosslabError` naming the option and the path.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import tempfile
from pathlib import Path

from .errors import LosslabError

__all__ = ["MARK", "MANIFEST", "FIGURE_FORMATS", "check_file", "save_figure", "write_text", "OutputFolder"]

MARK = "losslab"  # stored in every figure's metadata: what losslab wrote, it may replace
MANIFEST = ".losslab-manifest.json"
FIGURE_FORMATS = {".png": "png", ".svg": "svg", ".pdf": "pdf"}
_METADATA = {"png": {"Software": MARK}, "svg": {"Creator": MARK}, "pdf": {"Creator": MARK}}
_MARK_SCAN_BYTES = 64 * 2**20  # a figure larger than this was not written by losslab


def _probe_writable(option: str, folder: Path, shown: str) -> None:
    """Create and remove a file in ``folder``: the only test that holds for root, read-only mounts and /proc."""
    try:
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".losslab-probe-")
    except OSError as err:
        raise LosslabError(
            f"The {option!r} option must name a place losslab can write. Got {shown!r}, where the folder "
            f"{str(folder)!r} does not accept new files ({err.strerror or err}) instead."
        ) from None
    os.close(fd)
    os.unlink(probe)


def _existing_parent(option: str, path: Path, shown: str) -> Path:
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise LosslabError(
            f"The {option!r} option must name a file in an existing folder. Got {shown!r}, whose folder "
            f"{str(parent)!r} does not exist, instead."
        )
    return parent


def _written_by_losslab(path: Path) -> bool:
    try:
        if path.stat().st_size > _MARK_SCAN_BYTES:
            return False
        return MARK.encode() in path.read_bytes()
    except OSError:
        return False


def check_file(option: str, path: str | os.PathLike, *, formats: dict[str, str] | None = None) -> Path:
    """``path`` as a Path if losslab may write a figure there; a LosslabError naming ``option`` otherwise.

    Call it before the work: a bad path is refused in milliseconds, not after an hour of computing.
    """
    formats = FIGURE_FORMATS if formats is None else formats
    shown = os.fspath(path)
    if not shown or "\x00" in shown:
        raise LosslabError(f"The {option!r} option must be a file path. Got {shown!r} instead.")
    path = Path(shown)
    suffix = path.suffix.lower()
    if suffix not in formats:
        wanted = ", ".join(formats)
        raise LosslabError(f"The {option!r} option must be a file ending in {wanted}. Got {shown!r} instead.")
    if path.is_symlink():
        raise LosslabError(f"The {option!r} option must not be a symbolic link (losslab never writes through one). Got {shown!r} instead.")
    if path.is_dir():
        raise LosslabError(f"The {option!r} option must be a file path, not a folder. Got {shown!r} instead.")
    if path.exists() and not path.is_file():
        raise LosslabError(f"The {option!r} option must be a regular file path. Got {shown!r} (a device or pipe) instead.")
    if path.exists() and not _written_by_losslab(path):
        raise LosslabError(
            f"The {option!r} option names an existing file that losslab did not write; it is left alone. "
            f"Got {shown!r}; choose a new name or remove that file first."
        )
    _probe_writable(option, _existing_parent(option, path, shown), shown)
    return path


def _replace_atomically(path: Path, write) -> None:
    """``write(tmp_path)`` into a temporary file beside ``path``, then rename it over ``path``."""
    fd, tmp = tempfile.mkstemp(dir=path.parent if str(path.parent) else ".", prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def save_figure(fig, path: str | os.PathLike, **savefig_kwargs) -> Path:
    """Write a matplotlib figure atomically, marked as losslab's (so a later run may replace it).

    A PNG with ``bbox_inches="tight"`` is drawn once (see :func:`_png_tight`), not twice as savefig does.
    """
    path = Path(path)
    fmt = FIGURE_FORMATS.get(path.suffix.lower(), "png")

    def write(tmp: Path) -> None:
        if fmt == "png" and savefig_kwargs.get("bbox_inches") == "tight" and set(savefig_kwargs) <= {"bbox_inches", "dpi", "pad_inches"}:
            if _png_tight(fig, tmp, savefig_kwargs.get("dpi"), savefig_kwargs.get("pad_inches")):
                return
        fig.savefig(tmp, format=fmt, metadata=_METADATA[fmt], **savefig_kwargs)

    _replace_atomically(path, write)
    return path


def _png_tight(fig, tmp: Path, dpi: float | None, pad_inches: float | None) -> bool:
    """``savefig(tmp, bbox_inches="tight")`` for a PNG with one draw instead of two; False (nothing written)
    where this shortcut does not apply and savefig must do it.

    savefig draws once to measure the tight box and again into a canvas of that size, moved so the
    box starts at its corner. Here the figure is drawn once into its canvas grown by a margin on every
    side (with matplotlib's own helper for the move, as savefig uses), and the box is cut out of those
    pixels: the same picture, up to a shift of under half a pixel (savefig's box starts at a fraction
    of a pixel). The padding is the figure's background, as in savefig's output.
    """
    import matplotlib as mpl
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.colors import to_rgba
    from matplotlib.image import imsave
    from matplotlib.transforms import Bbox

    try:
        from matplotlib._tight_bbox import adjust_bbox
    except ImportError:  # a matplotlib that moved it: savefig does the job
        return False
    canvas = fig.canvas
    facecolor = mpl.rcParams["savefig.facecolor"]
    if (not isinstance(canvas, FigureCanvasAgg) or fig.get_layout_engine() is not None or mpl.rcParams["savefig.transparent"]
            or not (isinstance(facecolor, str) and facecolor == "auto")):
        return False
    dpi = mpl.rcParams["savefig.dpi"] if dpi is None else dpi
    dpi = fig.dpi if dpi == "figure" else float(dpi)
    pad = mpl.rcParams["savefig.pad_inches"] if pad_inches is None else float(pad_inches)
    margin = 1.0  # inches: labels, titles and legends stick out of the figure by up to half an inch
    old_dpi = fig.dpi
    fig.dpi = dpi
    restore = None
    try:
        width_in, height_in = fig.get_size_inches()
        restore = adjust_bbox(fig, Bbox.from_extents(-margin, -margin, width_in + margin, height_in + margin),
                              canvas.get_renderer())
        canvas.draw()
        content = fig.get_tightbbox(canvas.get_renderer())  # inches, from the grown canvas' corner
        pixels = np.asarray(canvas.buffer_rgba())
    finally:
        if restore is not None:
            restore()
        fig.dpi = old_dpi
    height, width = pixels.shape[:2]
    x0, y0, x1, y1 = (v * dpi for v in (content.x0, content.y0, content.x1, content.y1))
    if x0 < 0 or y0 < 0 or x1 > width or y1 > height:
        return False  # content beyond the margin
    box = content.padded(pad)
    w, h = int(box.width * dpi), int(box.height * dpi)  # savefig's canvas size
    # the box's corner in these pixels: Agg draws paths with rows counted down from the canvas' whole height
    left, top = round(box.x0 * dpi), round(height - box.y0 * dpi - h)
    out = np.empty((h, w, 4), dtype=np.uint8)
    out[...] = np.round(np.array(to_rgba(fig.get_facecolor())) * 255).astype(np.uint8)
    r0, r1, c0, c1 = max(top, 0), min(top + h, height), max(left, 0), min(left + w, width)
    out[r0 - top:r1 - top, c0 - left:c1 - left] = pixels[r0:r1, c0:c1]
    imsave(tmp, out, format="png", origin="upper", dpi=dpi, metadata=_METADATA["png"])
    return True


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Write UTF-8 text atomically (temporary file + rename)."""
    path = Path(path)
    _replace_atomically(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    return path


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's process: it exists
        return True
    return True


class OutputFolder:
    """A folder losslab owns: checked at construction, filled through a staging folder, committed by rename.

    >>> folder = OutputFolder("--out", "book_out")       # refuses a user's folder, a file, a symlink
    >>> stage = folder.stage()                           # build everything under ``stage``
    >>> folder.commit()                                  # then move it into place (or folder.discard())
    """

    def __init__(self, option: str, path: str | os.PathLike) -> None:
        self.option = option
        shown = os.fspath(path)
        if not shown or "\x00" in shown:
            raise LosslabError(f"The {option!r} option must be a folder path. Got {shown!r} instead.")
        self.path = Path(shown)
        self._staging: Path | None = None
        if self.path.is_symlink():
            raise LosslabError(f"The {option!r} option must not be a symbolic link (losslab never writes through one). Got {shown!r} instead.")
        if self.path.exists() and not self.path.is_dir():
            raise LosslabError(f"The {option!r} option must be a folder, not a file. Got {shown!r}, an existing file, instead.")
        self._recover_stale()
        self.previous = self._owned_files() if self.path.exists() else set()
        parent = self.path.parent if str(self.path.parent) else Path(".")
        if not parent.is_dir():
            raise LosslabError(
                f"The {option!r} option must be a folder whose parent exists. Got {shown!r}, whose parent "
                f"{str(parent)!r} does not exist, instead."
            )
        _probe_writable(option, parent, shown)

    def __repr__(self) -> str:
        return f"OutputFolder({self.option!r}, {str(self.path)!r}, {len(self.previous)} files of a previous run)"

    def _owned_files(self) -> set[str]:
        """Relative paths of the files in the existing folder; refuses anything losslab did not write."""
        listed: set[str] = set()
        manifest = self.path / MANIFEST
        if manifest.is_file() and not manifest.is_symlink():
            try:
                listed = set(json.loads(manifest.read_text(encoding="utf-8")).get("files", []))
            except (OSError, ValueError, AttributeError, TypeError):
                listed = set()
        found: set[str] = set()
        for root, dirs, files in os.walk(self.path):
            for name in sorted(dirs + files):
                full = Path(root) / name
                rel = full.relative_to(self.path).as_posix()
                if full.is_symlink():
                    raise LosslabError(
                        f"The {self.option!r} folder {str(self.path)!r} holds a symbolic link {rel!r}; losslab never "
                        "writes through one. Remove it or choose another folder."
                    )
                if name in files and rel != MANIFEST:
                    if rel not in listed:
                        raise LosslabError(
                            f"The {self.option!r} folder {str(self.path)!r} holds {rel!r}, which losslab did not write; "
                            "it is left alone. Choose a new or empty folder, or move that file away."
                        )
                    found.add(rel)
        return found

    def _sibling_prefix(self, kind: str) -> str:
        """``.NAME.partial-HOST-PID-`` (or ``.old-``): a killed run's leftovers say whose they were."""
        host = "".join(ch for ch in socket.gethostname() if ch.isalnum())[:32] or "host"
        return f".{self.path.name}.{kind}-{host}-{os.getpid()}-"

    def _recover_stale(self) -> None:
        """Tidy what a run killed outright (SIGKILL, power loss) left beside the output: its staging folder is
        removed; the previous output it was moving aside (killed between the two renames of :meth:`commit`)
        is put back. Only leftovers of this machine's processes that no longer exist are touched."""
        parent = self.path.parent if str(self.path.parent) else Path(".")
        for kind in ("partial", "old"):
            mine = self._sibling_prefix(kind)
            host_prefix = mine[: mine.rindex("-", 0, -1) + 1]  # without this process's pid
            try:
                leftovers = [p for p in parent.iterdir() if p.name.startswith(host_prefix) and p.is_dir() and not p.is_symlink()]
            except OSError:
                return
            for leftover in leftovers:
                pid_text = leftover.name[len(host_prefix):].split("-", 1)[0]
                if not pid_text.isdigit() or _process_exists(int(pid_text)):
                    continue
                content = leftover / "content"
                if kind == "old" and not self.path.exists() and content.is_dir() and not content.is_symlink():
                    os.replace(content, self.path)
                shutil.rmtree(leftover, ignore_errors=True)

    def stage(self) -> Path:
        """A new empty folder beside the output, on the same file system (so the final move is a rename)."""
        if self._staging is None:
            parent = self.path.parent if str(self.path.parent) else Path(".")
            self._staging = Path(tempfile.mkdtemp(dir=parent, prefix=self._sibling_prefix("partial")))
            os.chmod(self._staging, 0o755)  # mkdtemp's 0700 would become the output folder's mode
        return self._staging

    def final(self, staged: str | os.PathLike) -> Path:
        """Where a file written under the staging folder will be once committed."""
        staged = Path(staged)
        if self._staging is not None:
            try:
                return self.path / staged.relative_to(self._staging)
            except ValueError:
                pass
        return staged

    def _write_manifest(self, folder: Path, files: set[str]) -> None:
        write_text(folder / MANIFEST, json.dumps({"written_by": MARK, "files": sorted(files)}, indent=1))

    def _new_files(self) -> set[str]:
        stage = self.stage()
        return {p.relative_to(stage).as_posix() for p in stage.rglob("*") if p.is_file() and p.name != MANIFEST}

    def commit(self, *, merge: bool = False) -> Path:
        """Move the staged content into place by one rename of the whole folder. ``merge``: earlier files this
        run did not rewrite are kept (linked into the staged folder first)."""
        stage = self.stage()
        new = self._new_files()
        keep: set[str] = set()
        if merge and self.path.is_dir():
            # the earlier files this run did not rewrite join the staged folder (hard links, else copies),
            # so the folder is still replaced in one rename: a kill leaves the old folder or the new one
            self._owned_files()  # the folder may have changed during the run
            for rel in sorted(self.previous - new):
                source, target = self.path / rel, stage / rel
                if not source.is_file():
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                try:
                    os.link(source, target)
                except OSError:
                    shutil.copy2(source, target)
                keep.add(rel)
        self._write_manifest(stage, new | keep)
        old = None
        if self.path.exists():
            self._owned_files()
            old = Path(tempfile.mkdtemp(dir=stage.parent, prefix=self._sibling_prefix("old")))
            os.replace(self.path, old / "content")
        os.replace(stage, self.path)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        self._staging = None
        return self.path

    def discard(self) -> None:
        """Remove the staging folder (an interrupted or failed run): the previous output stays as it was."""
        if self._staging is not None:
            shutil.rmtree(self._staging, ignore_errors=True)
            self._staging = None
