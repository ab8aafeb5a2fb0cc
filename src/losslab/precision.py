"""Float64 where losslab computes, without changing anyone else's JAX.

JAX's switch for 64-bit types (``jax_enable_x64``) is global to the process. Importing
losslab does not touch it. Instead every public function and method of the computing
modules runs under ``jax.enable_x64(True)``, JAX's own thread-local scope for the switch:
arrays, traces and compiled programs made inside it are float64, and a user's other JAX
code, before, after and beside the call, keeps whatever the user chose (float32 by
default). Each module opts in with one line at its end, ``float64_api(globals())``.

Three rules follow from this (README, "Float64 and your other JAX code"):

* A callable that losslab returns (the ``hvp`` of ``curvature.make_hvp``, ...) is wrapped
  the same way, so calling it later is float64 too.
* Called while a user's own ``jit``/``grad``/``vmap`` is tracing (an argument is a JAX
  tracer), losslab follows the user's precision: it does not switch types in the middle
  of someone else's program.
* losslab's own processes (the ``losslab`` CLI, the web server and its workers) turn the
  switch on for the whole process, as any application may; the wrappers then cost nothing.

The float64 arrays losslab returns stay float64. Used in a float32 program, JAX truncates
them to float32 with a ``UserWarning`` (never silently); ``np.asarray`` keeps all digits.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

import jax

__all__ = ["float64", "float64_api", "enable_float64_process"]


def _tracing(args: tuple, kwargs: dict) -> bool:
    return any(isinstance(leaf, jax.core.Tracer) for leaf in jax.tree_util.tree_leaves((args, kwargs)))


def _is_plain_callable(value) -> bool:
    """A function, a partial or a jitted function (not an object that happens to have ``__call__``)."""
    return inspect.isfunction(value) or isinstance(value, functools.partial) or (callable(value) and hasattr(value, "lower"))


def float64(fn: Callable) -> Callable:
    """``fn`` run under ``jax.enable_x64(True)`` (a no-op where x64 is already on or a user's trace is open)."""
    if getattr(fn, "_losslab_float64", False):
        return fn

    @functools.wraps(fn)
    def scoped(*args, **kwargs):
        if jax.config.jax_enable_x64 or _tracing(args, kwargs):
            return fn(*args, **kwargs)
        with jax.enable_x64(True):
            out = fn(*args, **kwargs)
        # a function handed back (an hvp, a loss) computes later, outside this scope
        return float64(out) if _is_plain_callable(out) else out

    scoped._losslab_float64 = True
    return scoped


def _wrap_class(cls: type) -> None:
    for name, attr in list(vars(cls).items()):
        if name.startswith("_") and name not in ("__init__", "__call__"):
            continue
        if inspect.isfunction(attr):
            setattr(cls, name, float64(attr))
        elif isinstance(attr, property) and attr.fget is not None:
            setattr(cls, name, property(float64(attr.fget), attr.fset, attr.fdel, attr.__doc__))
        elif isinstance(attr, staticmethod):
            setattr(cls, name, staticmethod(float64(attr.__func__)))
        elif isinstance(attr, classmethod):
            setattr(cls, name, classmethod(float64(attr.__func__)))


def float64_api(namespace: dict[str, Any]) -> None:
    """Wrap, in place, every function and class method a module lists in ``__all__`` (call it last)."""
    module = namespace["__name__"]
    for name in namespace.get("__all__", ()):
        value = namespace[name]
        if getattr(value, "__module__", None) != module:
            continue  # re-exported from elsewhere: wrapped (or deliberately not) where it is defined
        if inspect.isclass(value):
            _wrap_class(value)
        elif inspect.isfunction(value):
            namespace[name] = float64(value)


def enable_float64_process() -> None:
    """Turn float64 on for the whole process: for losslab's own programs (CLI, server, workers) only."""
    jax.config.update("jax_enable_x64", True)
