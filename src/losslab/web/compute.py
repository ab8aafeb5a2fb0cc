"""The API's computations run in worker processes, so a request's work can always be stopped.

A landscape, a run, a line search or a fit is sized before it starts (``service.refuse_work``),
but its work could not be stopped once it had: a computing thread cannot be interrupted, and
one long XLA call never reaches a cooperative check. Here the work runs in one of a few
spawned worker processes (started with the server, their compiled programs reused from
request to request and, through JAX's persistent cache, from one worker to the next). While a
request waits for its answer the server watches three things, and any one of them kills the
worker doing its work -- the computation stops, its memory is the system's again -- and a fresh
worker takes its place:

- the client went away (:class:`ClientGone`, no answer is sent);
- its work ran past its deadline (:class:`ComputeTimeout`, HTTP 504 with a sentence);
- the server is shutting down (:class:`ShuttingDown`, HTTP 503 with a sentence).

A request waiting for a worker has no deadline (its client may still leave), but at most
:data:`MAX_WAITING` wait; more are answered 503 at once (:class:`ServerBusy`).

A worker also gives its memory back after each request (``malloc_trim``); one that has still
grown by more than :data:`RECYCLE_BYTES` since it started is replaced, so a large request
never leaves the server larger. Each worker's address space is capped (``bounded.cap_memory``):
an allocation past the cap is a MemoryError (HTTP 503), not the machine's memory.

>>> import asyncio, math
>>> pool = ComputePool(workers=1)
>>> asyncio.run(pool.call(math.factorial, 5))
120
>>> pool.close()
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import time
from collections.abc import Awaitable, Callable
from typing import Any

from ..bounded import resident_bytes
from ..errors import LosslabError
from ..memory import DEFAULT_MEMORY_LIMIT
from .guard import SHUTDOWN_SENTENCE

__all__ = ["COMPUTE_SECONDS", "MAX_WAITING", "RECYCLE_BYTES", "ClientGone", "ComputePool", "ComputeTimeout", "POOL",
           "ServerBusy", "ShuttingDown", "WorkerStopped"]

COMPUTE_SECONDS = 60.0  # a request's deadline for its work, from when a worker takes it
START_SECONDS = 300.0  # a new worker's imports (JAX, SymPy) on a loaded machine
MAX_WAITING = 64  # requests waiting for a worker; more are answered 503 at once (a queue cannot grow without end)
RECYCLE_BYTES = 256 * 2**20  # a worker this much larger than when it started is replaced after its request
WORKERS = 2 if (os.cpu_count() or 1) >= 2 else 1


class ClientGone(Exception):
    """The client closed the connection while its request was being worked on."""


class ComputeTimeout(LosslabError):
    """The request's work did not finish within its deadline and was stopped (HTTP 504)."""


class ShuttingDown(LosslabError):
    """The server is stopping; the request's work was stopped unfinished (HTTP 503)."""


class ServerBusy(LosslabError):
    """Too many requests are already waiting for a worker (HTTP 503)."""


class WorkerStopped(LosslabError):
    """The worker doing the request's work ended without an answer (HTTP 503)."""


def _start_jax_runtime() -> None:
    """Start JAX's CPU backend and compile one program, before the worker's address space is capped.

    The cap (``bounded.cap_memory``) counts address space, and XLA reserves about 1 GB of it once per
    process (its thread pools' stacks and allocator arenas: measured 437 -> 1,468 MB by the first
    compiled program, then ~20 MB for each new landscape). Under a cap set before that, the second
    program a worker compiled could not start a thread and the process aborted (a 503 for a request
    well within its memory)."""
    import jax
    import jax.numpy as jnp

    jax.jit(lambda v: jnp.sin(v) * 2.0)(jnp.ones(3)).block_until_ready()


def _serve(conn, memory_bytes: int | None) -> None:  # pragma: no cover - runs in the worker process
    """A worker's life: import once, then answer ``(fn, args, uploads)`` requests until told to stop."""
    from ..bounded import cap_memory
    from ..compile_cache import enable
    from . import service
    from .guard import release_memory

    from ..precision import enable_float64_process
    enable_float64_process()  # losslab's own process: float64 throughout
    enable()  # a replacement worker loads the compiled programs its predecessor wrote
    if memory_bytes is not None:
        _start_jax_runtime()
        cap_memory(memory_bytes)
    parent = multiprocessing.parent_process()
    conn.send(("ready", None, resident_bytes()))
    while True:
        if not conn.poll(1.0):
            # a server killed by a signal runs no exit handlers: the worker leaves with it rather than linger
            if parent is not None and not parent.is_alive():
                return
            continue
        try:
            item = conn.recv()
        except (EOFError, OSError):
            return
        if item is None:
            return
        fn, args, uploads = item
        for key, data in uploads.items():
            service.UPLOADS.put(key, data)
        try:
            reply = ("ok", fn(*args))
        except MemoryError:
            reply = ("memory", None)
        except LosslabError as err:
            reply = ("error", str(err))
        except Exception as err:  # noqa: BLE001  (a bug: the request says what happened, the worker lives on)
            reply = ("crash", f"{type(err).__name__}: {err}")
        release_memory()
        try:
            conn.send((*reply, resident_bytes()))
        except MemoryError:
            conn.send(("memory", None, resident_bytes()))


class _Worker:
    """One worker process and the parent's end of its pipe."""

    def __init__(self, memory_bytes: int | None) -> None:
        ctx = multiprocessing.get_context("spawn")  # a clean process: no fork of JAX's threads
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=_serve, args=(child, memory_bytes), daemon=True, name="losslab-compute")
        self.process.start()
        child.close()
        self.start_rss: int | None = None  # resident memory when it was ready
        self.busy = False

    def __repr__(self) -> str:
        state = "busy" if self.busy else ("idle" if self.start_rss is not None else "starting")
        return f"_Worker(pid={self.process.pid}, {state})"

    def kill(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join(2)
        self.conn.close()


class ComputePool:
    """A few worker processes; :meth:`call` runs one function in an idle one, under a deadline, and stops it
    (by killing its worker) when the caller's client leaves, the deadline passes or the pool is closed."""

    def __init__(self, *, workers: int = WORKERS, seconds: float = COMPUTE_SECONDS,
                 memory_bytes: int | None = DEFAULT_MEMORY_LIMIT, recycle_bytes: int = RECYCLE_BYTES) -> None:
        self.size = int(workers)
        self.seconds = float(seconds)
        self.memory_bytes = memory_bytes
        self.recycle_bytes = int(recycle_bytes)
        self.closing = False
        self.stopped = 0  # workers killed because their request was cancelled, late or too large
        self.waiting = 0
        self._workers: list[_Worker] = []

    def __repr__(self) -> str:
        busy = sum(w.busy for w in self._workers)
        return (f"ComputePool({len(self._workers)} of {self.size} workers, {busy} busy, deadline {self.seconds:g} s"
                f"{', closing' if self.closing else ''})")

    @property
    def pids(self) -> list[int]:
        """The worker processes' ids (for tests and the load benchmark)."""
        return [w.process.pid for w in self._workers]

    def start(self) -> None:
        """Start the workers now (the server's startup), so the first requests do not wait for their imports."""
        self.closing = False
        while len(self._workers) < self.size:
            self._workers.append(_Worker(self.memory_bytes))

    def begin_shutdown(self) -> None:
        """Refuse new work and kill every worker, so waiting requests are answered 503 at once. Safe in a
        signal handler: it only sets a flag and sends signals."""
        self.closing = True
        for worker in list(self._workers):
            if worker.process.is_alive():
                worker.process.kill()

    def close(self) -> None:
        """Stop every worker and wait for them (the server's shutdown, tests). A later call starts new ones."""
        self.begin_shutdown()
        for worker in self._workers:
            worker.kill()
        self._workers.clear()
        self.closing = False

    def _discard(self, worker: _Worker) -> None:
        """Kill ``worker`` and put a fresh one in its place (unless the pool is closing)."""
        worker.kill()
        if worker in self._workers:
            self._workers.remove(worker)
        if not self.closing:
            self._workers.append(_Worker(self.memory_bytes))

    async def _stop_if_needed(self, deadline: tuple[float, float], cancelled: Callable[[], Awaitable[bool]] | None) -> None:
        if self.closing:
            raise ShuttingDown(SHUTDOWN_SENTENCE)
        if time.monotonic() > deadline[0]:
            raise ComputeTimeout(f"The request did not finish within its time limit of {deadline[1]:g} s and was "
                                 "stopped; ask for less (a smaller grid, fewer steps or data points).")
        if cancelled is not None and await cancelled():
            raise ClientGone

    async def _acquire(self, cancelled) -> _Worker:
        """An idle worker, marked busy. Waiting for one has no deadline (a waiting request costs nothing), but
        the client may leave meanwhile, and at most MAX_WAITING requests wait."""
        if self.waiting >= MAX_WAITING:
            raise ServerBusy(f"The server is busy: {self.waiting} requests are waiting for their turn. Send this one "
                             "again in a few seconds.")
        self.waiting += 1
        try:
            return await self._first_idle(cancelled)
        finally:
            self.waiting -= 1

    async def _first_idle(self, cancelled) -> _Worker:
        no_deadline = (float("inf"), float("inf"))
        while True:
            await self._stop_if_needed(no_deadline, cancelled)
            for worker in list(self._workers):
                if not worker.busy and not worker.process.is_alive():
                    self._discard(worker)  # died while idle (killed from outside): replaced
            idle = [w for w in self._workers if not w.busy]
            if idle or len(self._workers) < self.size:
                worker = idle[0] if idle else _Worker(self.memory_bytes)
                if not idle:
                    self._workers.append(worker)
                worker.busy = True
                return worker
            await asyncio.sleep(0.02)

    async def _message(self, worker: _Worker, deadline: tuple[float, float], cancelled) -> tuple:
        """The worker's next message; stops (raising) as :meth:`_stop_if_needed` says, or when the worker died."""
        pause = 0.002
        while not worker.conn.poll(0):
            await self._stop_if_needed(deadline, cancelled)
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.05)
        try:
            return await asyncio.to_thread(worker.conn.recv)
        except (EOFError, OSError):
            await self._stop_if_needed(deadline, None)  # killed by a shutdown: that is what to say
            raise WorkerStopped(f"The computation stopped unexpectedly (its worker process ended with code "
                                f"{worker.process.exitcode}); ask for less (a smaller grid, fewer steps or "
                                "data points).") from None

    async def call(self, fn: Callable[..., Any], *args: Any, uploads: dict | None = None,
                   cancelled: Callable[[], Awaitable[bool]] | None = None, seconds: float | None = None) -> Any:
        """``fn(*args)`` in a worker (``fn`` and its arguments must pickle; ``uploads`` are data sets put in the
        worker's upload store first). ``cancelled`` is polled while waiting, e.g. ``request.is_disconnected``.
        The deadline (``seconds``, default the pool's) counts the work only: not the wait for a worker, nor
        a new worker's imports."""
        limit = self.seconds if seconds is None else float(seconds)
        worker = await self._acquire(cancelled)
        try:
            while worker.start_rss is None:  # a new worker: its imports first
                _, _, worker.start_rss = await self._message(worker, (time.monotonic() + START_SECONDS, START_SECONDS), cancelled)
            worker.conn.send((fn, args, dict(uploads or {})))
            status, payload, rss = await self._message(worker, (time.monotonic() + limit, limit), cancelled)
        except BaseException:
            # cancelled, late, shut down or dead: the work stops with its process, and its memory goes with it
            self._discard(worker)
            self.stopped += 1
            raise
        worker.busy = False
        if worker.start_rss is not None and rss > worker.start_rss + self.recycle_bytes:
            self._discard(worker)  # still large after malloc_trim: a fresh worker is small again
        if status == "ok":
            return payload
        if status == "error":
            raise LosslabError(payload)
        if status == "memory":
            raise MemoryError
        raise RuntimeError(f"the computation failed in its worker: {payload}")


POOL = ComputePool()
