"""Drawn figures kept by content, beside JAX's compiled programs in the user's cache folder, so a second
``losslab solve``/``book`` copies a picture it drew before instead of drawing it again.

Drawing is most of what a second run of ``solve all`` spends outside the maths (tick labels, text
layout and PNG encoding: about 4.6 s of CPU for the book's twelve figures). A figure function is
pure: the same numbers, titles and styles give the same picture. So the picture is filed under a
SHA-256 of everything that goes into it:

* the figure function (module and name) and the source of the modules that draw and save it;
* every argument but the output path, encoded exactly: arrays by dtype, shape and bytes (a
  masked array's mask too), floats by their hex form, mappings in their order;
* the versions of matplotlib, Pillow and NumPy, and every matplotlib setting (``rcParams``).

An argument of any other type turns the cache off for that call (it draws). Every number of an
answer and every check is still computed on every run: only pixels already drawn from identical
inputs are reused. The folder is ``figures/`` in the cache folder the process turned on with
:func:`losslab.compile_cache.enable`, as the command line does (``LOSSLAB_CACHE_DIR=`` turns both
off; a library caller who never enables it draws every time); a folder that cannot be written, or
an entry that is not a whole PNG, just means drawing.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np

from ..content_hash import Unhashable, feed

__all__ = ["cached_figure", "figure_key", "folder"]

_PNG_START = b"\x89PNG\r\n\x1a\n"
_PNG_END = b"\x00\x00\x00\x00IEND\xaeB`\x82"  # the IEND chunk: a PNG written to the end


def folder() -> Path | None:
    """Where figures are kept: ``figures/`` in the cache folder this process turned on
    (:func:`losslab.compile_cache.enable`: the command line and its workers do); None otherwise."""
    from ..compile_cache import enabled

    root = enabled()
    return None if root is None else root / "figures"


@functools.lru_cache(maxsize=None)
def _environment(module_name: str) -> bytes:
    """The drawing code and settings a picture depends on, beyond its arguments (fixed within a process)."""
    import sys

    import matplotlib
    import PIL

    from .. import outputs

    h = hashlib.sha256()
    for module in (sys.modules[module_name], sys.modules[__name__], outputs):
        h.update(Path(inspect.getsourcefile(module)).read_bytes())
    h.update(f"matplotlib {matplotlib.__version__} PIL {PIL.__version__} numpy {np.__version__};".encode())
    return h.digest()


# settings that choose a window system or a key binding, never a pixel of a PNG (the backend changes
# as pyplot is imported: keyed on, a figure drawn before and after that import would be filed twice)
_NOT_DRAWN = ("backend", "backend_fallback", "interactive", "toolbar", "keymap.", "webagg.", "savefig.directory",
              "figure.max_open_warning", "figure.raise_window", "tk.", "macosx.")


def _settings() -> bytes:
    """matplotlib's current settings (a style a user set changes the picture); read on each call."""
    import matplotlib

    params = matplotlib.rcParams  # by key: reading "backend" would resolve it, importing pyplot
    return repr(sorted((k, repr(params[k])) for k in list(params) if not k.startswith(_NOT_DRAWN))).encode()


def figure_key(fn: Callable, arguments: Mapping[str, object]) -> str | None:
    """The SHA-256 (hex) of figure function ``fn`` drawn from ``arguments`` (its output path left out),
    or None when an argument cannot be encoded exactly."""
    h = hashlib.sha256(f"{fn.__module__}.{fn.__qualname__};".encode())
    h.update(_environment(fn.__module__))
    h.update(_settings())
    try:
        feed(h, {name: arguments[name] for name in sorted(arguments)})  # by name: how a caller passed them is not drawn
    except Unhashable:
        return None
    return h.hexdigest()


def _whole_png(path: Path) -> bool:
    try:
        size = path.stat().st_size
        with path.open("rb") as f:
            start = f.read(len(_PNG_START))
            f.seek(max(size - len(_PNG_END), 0))
            end = f.read()
    except OSError:
        return False
    return size > len(_PNG_START) + len(_PNG_END) and start == _PNG_START and end == _PNG_END


def _keep(drawn: Path, entry: Path) -> None:
    """Copy the picture just drawn into the cache (atomically: a reader never sees half a file)."""
    from ..outputs import _replace_atomically

    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        _replace_atomically(entry, lambda tmp: shutil.copyfile(drawn, tmp))
    except OSError:
        pass  # a full disk or a read-only cache: the figure is written, the next run draws again


def cached_figure(fn: Callable[..., Path]) -> Callable[..., Path]:
    """Wrap a figure function ``fn(..., path, ...) -> Path`` that writes one PNG at ``path``: an identical
    earlier picture is copied to ``path`` instead of drawing (see the module's docstring)."""
    signature = inspect.signature(fn)
    if "path" not in signature.parameters:
        raise TypeError(f"{fn.__qualname__} has no 'path' parameter to write its figure to")

    @functools.wraps(fn)
    def wrapper(*args, **kwargs) -> Path:
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        path = Path(bound.arguments["path"])
        where = folder()
        key = None if where is None or path.suffix.lower() != ".png" else figure_key(
            fn, {k: v for k, v in bound.arguments.items() if k != "path"})
        if key is None:
            return fn(*args, **kwargs)
        entry = where / f"{key}.png"
        if _whole_png(entry):
            from ..outputs import _replace_atomically

            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                _replace_atomically(path, lambda tmp: shutil.copyfile(entry, tmp))
                return path
            except OSError:
                pass  # the entry went away meanwhile: draw
        written = Path(fn(*args, **kwargs))
        _keep(written, entry)
        return written

    return wrapper
