"""JAX's persistent compilation cache in the user's cache folder, so a second ``losslab`` run
reuses the first run's compiled programs instead of compiling them again.

The folder is ``$LOSSLAB_CACHE_DIR`` if set (empty: no cache), else
``$XDG_CACHE_HOME/losslab/jax`` (``~/.cache/losslab/jax`` when XDG_CACHE_HOME is unset):
never inside the repository. A folder that cannot be created or written leaves the cache off;
the run goes on, compiling as usual. The book's drawn figures are kept in its ``figures/`` folder
(:mod:`losslab.plots.figure_cache`).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

__all__ = ["cache_dir", "enable", "enabled"]

_enabled: Path | None = None  # the folder enable() turned on in this process


def cache_dir() -> Path | None:
    """Where the compiled programs go, or None when ``LOSSLAB_CACHE_DIR`` is set empty (cache off)."""
    if "LOSSLAB_CACHE_DIR" in os.environ:
        chosen = os.environ["LOSSLAB_CACHE_DIR"].strip()
        return Path(chosen).expanduser() if chosen else None
    base = os.environ.get("XDG_CACHE_HOME", "").strip()
    # the XDG spec: a relative XDG_CACHE_HOME is invalid and is ignored
    root = Path(base) if base and os.path.isabs(base) else Path.home() / ".cache"
    return root / "losslab" / "jax"


def _writable(path: Path) -> bool:
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".probe-"):
            pass
        return True
    except OSError:
        return False


def enable(path: str | os.PathLike | None = None) -> Path | None:
    """Turn on the persistent cache in ``path`` (default :func:`cache_dir`); returns the folder,
    or None when it is off or not writable. Call before the first compilation."""
    import jax

    folder = Path(path).expanduser() if path is not None else cache_dir()
    if folder is None or not _writable(folder):
        return None
    global _enabled
    jax.config.update("jax_compilation_cache_dir", str(folder))
    _enabled = folder
    # losslab's programs are many and small: keep every one, however quick it was to compile
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    return folder


def enabled() -> Path | None:
    """The folder :func:`enable` turned on in this process (a worker's own call included), or None."""
    return _enabled
