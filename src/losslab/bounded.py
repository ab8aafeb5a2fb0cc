"""Run a function under a hard wall-clock deadline and a memory cap, in a worker process.

A time limit inside the process (SIGALRM, a cooperative check) can be swallowed by a library
callback or never reached inside one long C call. A separate process cannot: when the deadline
passes it is killed, and its address space is capped (``RLIMIT_AS``) so it cannot take the
machine's memory either. Used for work whose cost cannot be sized before it starts: checking a
hand-written sheet (``losslab check`` and the web server).

>>> run_bounded(sum, [1, 2, 3], seconds=30, memory_bytes=2**30, what="A sum")
6
"""

from __future__ import annotations

import multiprocessing
import os
import time
import traceback
from collections.abc import Callable
from typing import Any

from .errors import LosslabError, check_number
from .memory import gib

__all__ = ["run_bounded", "BoundExceeded", "cap_memory", "resident_bytes"]


class BoundExceeded(LosslabError):
    """The work ran past its deadline or its memory cap and was stopped."""


def _context():
    methods = multiprocessing.get_all_start_methods()
    # forkserver: a clean, single-threaded parent for every worker (no fork of JAX's threads), cheaper than spawn
    return multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")


def _statm(field: int) -> int:
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[field]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def _address_space() -> int:
    """This process's virtual size in bytes (what RLIMIT_AS counts), 0 where unknown."""
    return _statm(0)


def resident_bytes() -> int:
    """This process's resident memory in bytes, 0 where unknown."""
    return _statm(1)


def cap_memory(memory_bytes: int) -> None:
    """Cap this process's address space at what it maps now plus ``memory_bytes`` (a worker's own call:
    an allocation above it raises MemoryError instead of growing the machine's memory)."""
    import resource

    cap = _address_space() + int(memory_bytes)  # on top of what the imports already mapped
    try:
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    except (ValueError, OSError):
        pass


def _child(conn, fn: Callable, args: tuple, kwargs: dict, memory_bytes: int | None) -> None:
    try:
        from .precision import enable_float64_process

        enable_float64_process()  # losslab's own worker process: float64 throughout, as in its parent's scope
        if memory_bytes is not None:
            cap_memory(memory_bytes)
        result = fn(*args, **kwargs)
        conn.send(("ok", result))
    except MemoryError:
        conn.send(("memory", ""))
    except LosslabError as err:
        conn.send(("losslab", str(err)))
    except BaseException as err:  # noqa: BLE001  (reported to the parent, which decides)
        try:
            conn.send(("error", f"{type(err).__name__}: {err}\n{traceback.format_exc(limit=6)}"))
        except Exception:  # noqa: BLE001
            pass
    finally:
        conn.close()


def run_bounded(
    fn: Callable[..., Any],
    *args: Any,
    seconds: float,
    memory_bytes: int | None,
    what: str,
    cancelled: Callable[[], bool] | None = None,
    **kwargs: Any,
) -> Any:
    """``fn(*args, **kwargs)`` in a worker process; its result, or a :class:`BoundExceeded` naming the limit.

    ``fn``, its arguments and its result must pickle. ``cancelled()`` (polled every 0.2 s) stops the
    work early, e.g. when a web client has gone away. A LosslabError raised by ``fn`` is raised here
    with its message; any other exception becomes a RuntimeError carrying the worker's traceback.
    """
    seconds = check_number("seconds", seconds, owner="run_bounded", gt=0)
    if memory_bytes is not None:
        memory_bytes = int(check_number("memory_bytes", memory_bytes, owner="run_bounded", gt=0))
    ctx = _context()
    receive, send = ctx.Pipe(duplex=False)
    worker = ctx.Process(target=_child, args=(send, fn, args, kwargs, memory_bytes), daemon=True)
    worker.start()
    send.close()
    deadline = time.monotonic() + seconds
    message = None
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise BoundExceeded(f"{what} did not finish within its time limit of {seconds:g} s and was stopped.")
            if cancelled is not None and cancelled():
                raise BoundExceeded(f"{what} was stopped: the request was cancelled.")
            if receive.poll(min(left, 0.2)):
                try:
                    message = receive.recv()
                except (EOFError, OSError):
                    message = ("died", "")
                break
            if not worker.is_alive() and not receive.poll(0):
                message = ("died", "")
                break
    finally:
        if worker.is_alive():
            worker.kill()
        worker.join(5)
        receive.close()
    status, payload = message
    if status == "ok":
        return payload
    if status == "losslab":
        raise LosslabError(payload)
    if status == "memory" or (status == "died" and memory_bytes is not None):
        limit = f" of {gib(memory_bytes)}" if memory_bytes is not None else ""
        raise BoundExceeded(f"{what} needed more than its memory limit{limit} and was stopped.")
    if status == "died":
        raise BoundExceeded(f"{what} stopped unexpectedly (exit code {worker.exitcode}).")
    raise RuntimeError(f"{what} failed in its worker process: {payload}")
