"""What stands between the network and the app: a request-body limit, memory handed back after each request,
and a sentence instead of a 500 for a request the server's shutdown cuts short.

:class:`BodyLimit` is plain ASGI middleware. A body declared (Content-Length) or found (chunked) to be
larger than the limit is answered 413 with a sentence before the app sees any of it; a body within the
limit is read once and replayed to the app, so no endpoint can be made to hold more than the limit.
After every request, memory the C allocator keeps for reuse is returned to the system (``malloc_trim``),
so one large request does not leave the server gigabytes larger. :class:`Draining` answers a request that
the shutdown interrupts (uvicorn cancels what is still running after its grace period, and would answer
500) with 503 and a sentence.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import json
from collections.abc import Callable, Mapping

__all__ = ["BodyLimit", "Draining", "SHUTDOWN_SENTENCE", "release_memory"]

SHUTDOWN_SENTENCE = "The server is shutting down and stopped this request unfinished; send it again when the server is back."


def _libc():
    try:
        name = ctypes.util.find_library("c")
        lib = ctypes.CDLL(name) if name else None
        return lib if lib is not None and hasattr(lib, "malloc_trim") else None
    except OSError:  # pragma: no cover - not glibc
        return None


_LIBC = _libc()


def release_memory() -> None:
    """Give freed heap pages back to the operating system (glibc only; elsewhere a no-op)."""
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


async def _send_json(send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


class BodyLimit:
    """ASGI middleware: at most ``max_bytes`` of request body, else 413 with a sentence."""

    def __init__(self, app, max_bytes: int, messages: Mapping[str, Callable[[int], str]] | None = None) -> None:
        self.app = app
        self.max_bytes = int(max_bytes)
        # path -> the sentence for a body of (at least) so many bytes, in the words of what that endpoint takes
        self.messages = dict(messages or {})

    def __repr__(self) -> str:
        return f"BodyLimit(max_bytes={self.max_bytes}, messages for {sorted(self.messages)})"

    def _too_large(self, scope, size: int, declared: bool) -> str:
        describe = self.messages.get(scope.get("path", ""))
        if describe is not None:
            return describe(size)
        got = f"{size:,} bytes" if declared else f"more than {self.max_bytes:,} bytes"
        return f"The request body must be at most {self.max_bytes:,} bytes. Got {got} instead."

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            declared = next((int(v) for k, v in scope.get("headers", ()) if k == b"content-length"), None)
        except ValueError:
            await _send_json(send, 400, "The Content-Length header must be a number of bytes. Got something else instead.")
            return
        if declared is not None and declared > self.max_bytes:
            await _send_json(send, 413, self._too_large(scope, declared, True))
            release_memory()
            return
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the client went away: no work starts
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                chunks.clear()
                await _send_json(send, 413, self._too_large(scope, size, False))
                release_memory()
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        chunks.clear()
        replayed = False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # after the body: wait for the disconnect, as the server would

        try:
            await self.app(scope, replay, send)
        finally:
            if scope.get("method") != "GET":  # the requests that compute; a page or a script load frees nothing
                release_memory()


class Draining:
    """ASGI middleware: a request cut short by the server's shutdown gets 503 and a sentence, never a 500.

    What counts as cut short: cancelled (uvicorn cancels the requests still running when its graceful
    shutdown ends), or failed while ``closing()`` is true (its worker process was stopped with the server).
    """

    def __init__(self, app, closing: Callable[[], bool]) -> None:
        self.app = app
        self.closing = closing

    def __repr__(self) -> str:
        return f"Draining(closing={self.closing()})"

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracked(message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        except (asyncio.CancelledError, Exception) as err:
            if started or not (isinstance(err, asyncio.CancelledError) or self.closing()):
                raise
            try:
                await _send_json(send, 503, SHUTDOWN_SENTENCE)
            except Exception:  # noqa: BLE001  (the connection is already closing: nobody to tell)
                pass
