"""Traced programs kept between runs, so that a second run calls them without tracing them again.

JAX's persistent compilation cache (:mod:`losslab.compile_cache`) saves XLA's compilation, but a new
process still traces each program's Python and lowers it to StableHLO before it can even look the
compiled program up. For losslab's many small programs that is most of a warm run: in a second
``losslab solve all`` about 2-3 s of each worker's ~6 s.

A traced and lowered program depends only on what its Python computed it from: losslab's own source,
what the function closes over (its *recipe*: the model, loss and data, the optimiser, the number of
steps...), the shapes and dtypes of its arguments, and the versions and settings of JAX and of the
libraries traced with it (optax, NumPy). So the lowered program is serialized with :mod:`jax.export`
and filed in ``programs/`` of the cache folder under a SHA-256 of exactly those; a later run
deserializes it and calls it (its compilation then comes from JAX's cache as before). What a program
computes is unchanged: the same StableHLO inside a one-call wrapper, compiled by the same XLA (the
tests compare it with ``jax.jit`` bit for bit).

Only the caller knows what its function closes over, so it names it: :func:`stored_jit` takes the
recipe, a tuple of plain values (:mod:`losslab.content_hash`). A function without one (a user's
model or optimiser, a progress callback) is jitted as usual, as is everything when the cache is off
(``LOSSLAB_CACHE_DIR=``, or a library caller who never turned it on), when JAX sees more than one
device or a device other than the CPU (the programs here are filed for one CPU, the only setting
tested), or when a program cannot be exported. A damaged entry is exported again.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

import jax

from .content_hash import Unhashable, feed

__all__ = ["StoredProgram", "folder", "source_digest", "stored_jit"]

_FORMAT = "losslab-programs-1"  # a change of what is filed or how starts a new set of entries
_SUFFIX = ".jaxexport"


def folder() -> Path | None:
    """``programs/`` in the cache folder this process turned on (:func:`losslab.compile_cache.enable`), or None."""
    from .compile_cache import enabled

    root = enabled()
    return None if root is None else root / "programs"


@lru_cache(maxsize=1)
def source_digest() -> bytes:
    """SHA-256 of every Python file of the losslab package (path and bytes): any change of losslab's code,
    whatever function it touches, files its programs anew."""
    root = Path(__file__).resolve().parent
    h = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        h.update(f"{path.relative_to(root).as_posix()}:{path.stat().st_size};".encode())
        h.update(path.read_bytes())
    return h.digest()


# the libraries whose code runs while losslab's functions are traced: optax's transformations are traced
# into the run engine, NumPy makes the constants; an upgrade of any of them files programs anew
_TRACED_LIBRARIES = ("jaxlib", "optax", "numpy")


@lru_cache(maxsize=1)
def _versions() -> tuple:
    """JAX's and the traced libraries' versions, and the device programs are lowered for (fixed within a process)."""
    from importlib.metadata import version

    device = jax.devices()[0]
    return _FORMAT, jax.__version__, *(version(name) for name in _TRACED_LIBRARIES), device.platform, device.device_kind


def _environment() -> tuple:
    """What else a traced program depends on: :func:`_versions`, and the options that change tracing,
    lowering or compiling (read for each new program: a caller may change them)."""
    config = jax.config
    return (
        *_versions(), os.environ.get("XLA_FLAGS", ""), bool(config.jax_enable_x64), str(config.jax_default_matmul_precision),
        str(config.jax_numpy_rank_promotion), str(config.jax_numpy_dtype_promotion), str(config.jax_default_prng_impl),
    )


def _signature(args: tuple) -> tuple:
    """The arguments' tree structure and each leaf's shape, dtype and weak type: what a trace sees of them."""
    leaves, tree = jax.tree_util.tree_flatten(args)
    avals = []
    for leaf in leaves:
        aval = jax.typeof(leaf)
        avals.append((tuple(aval.shape), str(aval.dtype), bool(getattr(aval, "weak_type", False))))
    return str(tree), tuple(avals), bool(jax.config.jax_enable_x64)


@lru_cache(maxsize=1)
def _supported() -> bool:
    """jax.export and jax.typeof (in every JAX this was tested with, 0.10 and 0.11, not in all that losslab
    allows) and one CPU device, the only setting it has run on (a GPU's programs were never exported and
    called here). Fixed once JAX's backend is up: asked once per process, not on every call."""
    return (hasattr(jax, "export") and hasattr(jax, "typeof") and jax.process_count() == 1
            and jax.device_count() == 1 and jax.default_backend() == "cpu")


def _active() -> Path | None:
    where = folder()
    return where if where is not None and _supported() else None


def _write(entry: Path, blob: bytes) -> None:
    """File ``blob`` at ``entry`` atomically (a reader never sees half a program)."""
    from .outputs import _replace_atomically

    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        _replace_atomically(entry, lambda tmp: tmp.write_bytes(blob))
    except OSError:
        pass  # a full disk or a read-only cache: this run goes on, the next one traces again


class StoredProgram:
    """``jax.jit(fn)``, whose traced programs are kept between runs under ``recipe`` (see the module)."""

    def __init__(self, fn: Callable, recipe: tuple, name: str) -> None:
        self._jitted = jax.jit(fn)
        self._recipe = recipe
        self._name = name
        self._loaded: dict[tuple, Callable] = {}  # (folder, signature) -> the callable of the stored program

    def __repr__(self) -> str:
        return f"StoredProgram({self._name!r}, {len(self._loaded)} signature(s) loaded)"

    def __call__(self, *args):
        where = _active()
        if where is None:
            return self._jitted(*args)
        try:
            signature = _signature(args)
        except TypeError:  # an argument JAX cannot take: the plain jit says so in its own words
            return self._jitted(*args)
        call = self._loaded.get((where, signature))
        if call is None:  # by folder too: a process that turns the cache on elsewhere files its programs there
            call = self._loaded[where, signature] = self._load_or_export(where, signature, args)
        return call(*args)

    def lower(self, *args):
        """The plain jit's lowering for ``args`` (to inspect the program; nothing is filed)."""
        return self._jitted.lower(*args)

    def key(self, signature: tuple) -> str | None:
        """The SHA-256 (hex) an entry of ``signature`` is filed under, or None if the recipe cannot be encoded."""
        h = hashlib.sha256(source_digest())
        try:
            feed(h, (self._name, _environment(), signature, self._recipe))
        except Unhashable:
            return None
        return h.hexdigest()

    def _load_or_export(self, where: Path, signature: tuple, args: tuple) -> Callable:
        key = self.key(signature)
        if key is None:
            return self._jitted
        entry = where / f"{key}{_SUFFIX}"
        try:
            exported = jax.export.deserialize(bytearray(entry.read_bytes()))
        except Exception:  # none yet, or a damaged or foreign entry (any error of the deserializer): export it
            exported = None
        if exported is None:
            try:
                exported = jax.export.export(self._jitted)(*args)
                blob = exported.serialize()
            except Exception:
                # not exportable (a host callback, a custom call without a stable target, flatbuffers missing),
                # or the function itself fails: the plain jit traces it, and raises its own error if there is one
                return self._jitted
            _write(entry, bytes(blob))
        return jax.jit(exported.call)


def stored_jit(fn: Callable, *, recipe: tuple | None, name: str | None = None) -> Callable:
    """``jax.jit(fn)``, or, when ``recipe`` names everything ``fn`` closes over beyond losslab's source
    (None: it cannot be named), a :class:`StoredProgram` that keeps its traced programs between runs.

    ``name`` tells apart functions of the same recipe (default: ``fn``'s module and qualified name).
    """
    if recipe is None:
        return jax.jit(fn)
    return StoredProgram(fn, recipe, name or f"{fn.__module__}.{fn.__qualname__}")
