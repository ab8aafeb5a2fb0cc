"""The fork server that solves problems side by side (``losslab solve all``, ``losslab book``).

Its preload (the modules every problem imports: JAX, matplotlib, SymPy, the engine) takes
seconds, so the command line starts it first of all, before its own imports, and the two run at
once on two cores. This module imports nothing of losslab's for that reason.
"""

from __future__ import annotations

import multiprocessing

__all__ = ["PRELOAD", "SINGLE_THREADED", "context", "default_workers", "start"]

# What the problems import, imported once by the fork server and shared by the workers it forks (a spawned
# worker would import it all again: about 3 s of CPU each). The problems' modules and what they import
# inside their functions: the engine, the sheet reader (markdown-it), SymPy's derivations and certificates.
# Not pyplot and its backend (0.8 s of the 2.9): a second run copies its figures from the cache
# (plots.figure_cache) and never imports them, and in a first run each worker imports it while the other works.
PRELOAD = [
    "losslab.plots.book",
    "losslab.book.registry", *(f"losslab.book.p6_{k:02d}" for k in range(1, 12)), "losslab.book.seed",
    "losslab.data", "losslab.models", "losslab.objective", "losslab.run", "losslab.curvature", "losslab.landscape",
    "losslab.stationary", "losslab.optim.second_order", "jax.experimental.multihost_utils",
    "jaxlib.mlir.dialects.mhlo", "losslab.symbolic.derive", "losslab.symbolic.certificates", "losslab.symbolic.checker",
    "markdown_it", "mdit_py_plugins.dollarmath", "mdit_py_plugins.amsmath",
    # what SymPy imports inside simplify, lambdify and the tensor printer
    "sympy.physics.units", "sympy.codegen.ast", "sympy.tensor.tensor", "sympy.sets.setexpr", "sympy.assumptions.wrapper",
]


def default_workers(n_problems: int) -> int:
    """Worker processes for ``n_problems``: one per CPU, at most 4 (6.11 alone bounds the time beyond)."""
    import os

    return max(1, min(os.cpu_count() or 1, int(n_problems), 4))


def context():
    """A fork server where there is one: a clean, single-threaded parent (importing the preload starts no
    JAX backend and no thread) whose forks start at once; else spawned processes. Never a fork of the
    calling process, whose JAX runtime may have threads (a fork of them can deadlock)."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(PRELOAD)  # no effect if this process's fork server is already running
    return ctx


# The workers are one per core already, so each runs its NumPy linear algebra on one thread. With
# OpenBLAS's default (a thread per core) each worker's BLAS threads busy-wait after every call, on the
# core the other worker needs. Measured 2026-11-30 on the 2-core machine while other work kept it busy
# (load 2-3), three warm `solve all` runs each way, alternately: 14.2-17.1 s with the default, 9.7-11.9 s
# with one BLAS thread; a 673 x 673 eigvalsh took 0.03 s alone and up to 1.4 s under that contention.
# A value the user set is kept.
SINGLE_THREADED = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def start() -> None:
    """Start the fork server now (it preloads while the caller goes on); a no-op where there is none
    or it runs already. Workers asked for later are forked from it, with :data:`SINGLE_THREADED`
    BLAS (the server's environment, and so theirs; the caller's own environment is left as it was)."""
    if context().get_start_method() != "forkserver":
        return
    import os
    from multiprocessing import forkserver

    added = {name: value for name, value in SINGLE_THREADED.items() if name not in os.environ}
    os.environ.update(added)  # the server process is started from this environment, now
    try:
        forkserver.ensure_running()
    finally:
        for name in added:
            os.environ.pop(name, None)
