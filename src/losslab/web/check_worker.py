"""Sheets are checked in a separate worker process with a hard deadline, so the server stays responsive.

SymPy work holds the GIL and a hostile sheet can run long: in the server's own
threads it would slow every other request and could not be stopped. One
spawned worker process (started on the first check, reused after) runs
``check_sheet`` in its main thread, where the checker's per-claim time budget
works; a check past ``CHECK_SECONDS`` kills the worker (a new one starts for
the next sheet) and is answered with a sentence. Checks wait for each other
(one worker: a check is seconds of CPU on a 2-core machine).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import queue
import threading
import time

from ..errors import LosslabError

__all__ = ["CHECK_SECONDS", "CheckTimeout", "abandon", "check_in_worker", "shutdown"]

CHECK_SECONDS = 60.0
_START_SECONDS = 60.0  # importing losslab (JAX, SymPy) in a fresh process


class CheckTimeout(LosslabError):
    """The check did not finish within the deadline (HTTP 504)."""


CHECK_MEMORY = 2 * 2**30  # bytes the worker may map beyond its imports (bounded.cap_memory)


def _serve(requests, replies) -> None:  # pragma: no cover - runs in the worker process
    from ..bounded import cap_memory
    from ..check_view import _run_checker

    cap_memory(CHECK_MEMORY)
    parent = multiprocessing.parent_process()
    replies.put(("ready", None))
    while True:
        try:
            item = requests.get(timeout=1.0)
        except queue.Empty:
            # a server killed by a signal runs no exit handlers: the worker leaves with it rather than linger
            if parent is not None and not parent.is_alive():
                return
            continue
        if item is None:
            return
        text, filename = item
        try:
            replies.put(("ok", [r.to_dict() for r in _run_checker(text, filename)]))
        except LosslabError as err:
            replies.put(("error", str(err)))
        except MemoryError:
            replies.put(("error", f"The sheet needed more than the checker's memory limit of {CHECK_MEMORY / 2**30:g} GiB "
                                  "and was not checked; check fewer problems at a time."))
        except Exception as err:  # a checker bug must not kill the worker silently: the request says what happened
            replies.put(("crash", f"{type(err).__name__}: {err}"))


class _Worker:
    def __init__(self) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.requests = ctx.Queue()
        self.replies = ctx.Queue()
        self.process = ctx.Process(target=_serve, args=(self.requests, self.replies), daemon=True, name="losslab-check")
        self.process.start()
        self.ready = False

    def kill(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join(5)
        for q in (self.requests, self.replies):
            q.close()
            q.cancel_join_thread()

    def _reply(self, seconds: float):
        """The next reply; queue.Empty past ``seconds``, RuntimeError at once if the worker has died."""
        deadline = time.monotonic() + seconds
        while True:
            try:
                return self.replies.get(timeout=min(0.25, max(deadline - time.monotonic(), 0.001)))
            except queue.Empty:
                if not self.process.is_alive():
                    raise RuntimeError(f"the check worker stopped (exit code {self.process.exitcode})") from None
                if time.monotonic() >= deadline:
                    raise

    def call(self, text: str, filename: str | None, seconds: float):
        if not self.ready:
            kind, _ = self._reply(_START_SECONDS)
            self.ready = kind == "ready"
        self.requests.put((text, filename))
        return self._reply(seconds)


_lock = threading.Lock()
_worker: _Worker | None = None


def _check_blocking(text: str, filename: str | None, seconds: float) -> list[dict]:
    global _worker
    with _lock:
        if _worker is None or not _worker.process.is_alive():
            _worker = _Worker()
        try:
            kind, payload = _worker.call(text, filename, seconds)
        except RuntimeError:
            _worker.kill()
            _worker = None
            raise
        except queue.Empty:
            _worker.kill()
            _worker = None
            raise CheckTimeout(
                f"The sheet could not be checked within {seconds:g} s and the check was stopped. "
                "Check fewer problems at a time, or run `losslab check` on your machine."
            ) from None
    if kind == "ok":
        return payload
    if kind == "error":
        raise LosslabError(payload)
    raise RuntimeError(f"the checker failed: {payload}")


async def check_in_worker(text: str, filename: str | None = None, *, seconds: float = CHECK_SECONDS) -> list[dict]:
    """The claims (``losslab check --json`` entries) of one sheet, checked in the worker process."""
    return await asyncio.to_thread(_check_blocking, text, filename, seconds)


def abandon() -> None:
    """Kill the worker now, without waiting for the check it is doing (its client has gone): the waiting
    call sees the worker stop and ends; the next check starts a new worker."""
    worker = _worker
    if worker is not None and worker.process.is_alive():
        worker.process.kill()


def shutdown() -> None:
    """Stop the worker (the app's shutdown, and tests)."""
    global _worker
    with _lock:
        if _worker is not None:
            try:
                _worker.requests.put(None)
                _worker.process.join(2)
            finally:
                _worker.kill()
                _worker = None
