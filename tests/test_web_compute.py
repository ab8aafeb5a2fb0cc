"""The server's work runs in worker processes that are stopped when the client leaves, the deadline passes or the
server shuts down: the work ends (the process is gone), its memory with it, and the request is answered with a
sentence (504, 503) or not at all (a client that left), never a 500."""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import time
import warnings

import pytest

from losslab.web import compute
from losslab.web.compute import ClientGone, ComputePool, ComputeTimeout, ServerBusy, ShuttingDown
from losslab.web.guard import SHUTDOWN_SENTENCE, Draining

FOREVER = range(10**15)  # sum() over it is one C call of days: nothing inside it checks for a stop


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@pytest.fixture(scope="module")
def shared_pool():
    pool = ComputePool(workers=1, memory_bytes=2**30)
    yield pool
    pool.close()


@pytest.fixture
def pool(shared_pool):
    """One worker, started and answering (each test may kill it: a fresh one takes its place)."""
    shared_pool.recycle_bytes = 2**40
    assert asyncio.run(shared_pool.call(abs, -3)) == 3
    shared_pool.stopped = 0
    return shared_pool


def test_a_computation_stops_when_its_client_leaves(pool):
    pid = pool.pids[0]
    t0 = time.monotonic()
    cpu = []

    async def gone() -> bool:
        if time.monotonic() < t0 + 1.0:
            return False
        cpu.append(_cpu_seconds(pid))  # it was computing, not waiting
        return True

    with pytest.raises(ClientGone):
        asyncio.run(pool.call(sum, FOREVER, cancelled=gone))
    assert time.monotonic() - t0 < 5
    assert cpu and cpu[0] > 0.05
    assert not _alive(pid) and pid not in pool.pids and pool.stopped == 1
    assert asyncio.run(pool.call(abs, -4)) == 4  # a fresh worker took its place


def test_a_computation_stops_at_its_deadline(pool):
    pid = pool.pids[0]
    t0 = time.monotonic()
    with pytest.raises(ComputeTimeout, match=r"within its time limit of 0.5 s and was stopped; ask for less"):
        asyncio.run(pool.call(sum, FOREVER, seconds=0.5))
    assert 0.5 <= time.monotonic() - t0 < 5
    assert not _alive(pid)


def test_a_shutdown_stops_running_and_waiting_work(pool):
    async def three_requests():
        calls = [asyncio.ensure_future(pool.call(sum, FOREVER)) for _ in range(3)]  # one computes, two wait
        await asyncio.sleep(0.5)
        pool.begin_shutdown()
        return await asyncio.gather(*calls, return_exceptions=True)

    pid = pool.pids[0]
    t0 = time.monotonic()
    outcomes = asyncio.run(three_requests())
    assert time.monotonic() - t0 < 5
    assert [type(o) for o in outcomes] == [ShuttingDown] * 3 and str(outcomes[0]) == SHUTDOWN_SENTENCE
    assert not _alive(pid)
    pool.close()  # ready for the next test: a call starts a new worker


def test_waiting_has_no_deadline_but_a_bounded_queue(pool, monkeypatch):
    monkeypatch.setattr(compute, "MAX_WAITING", 2)

    async def four_requests():
        busy = asyncio.ensure_future(pool.call(sum, FOREVER))  # takes the one worker
        await asyncio.sleep(0.2)
        waiting = [asyncio.ensure_future(pool.call(abs, -k, seconds=0.5)) for k in (1, 2)]
        await asyncio.sleep(1.0)  # twice their deadline: but they have not started, so they are not late
        assert not any(w.done() for w in waiting) and pool.waiting == 2
        with pytest.raises(ServerBusy, match=r"^The server is busy: 2 requests are waiting"):
            await pool.call(abs, -3)
        busy.cancel()  # its client went: the worker is killed, a fresh one serves the two that waited
        return await asyncio.gather(*waiting, busy, return_exceptions=True)

    outcomes = asyncio.run(four_requests())
    assert outcomes[:2] == [1, 2] and isinstance(outcomes[2], asyncio.CancelledError)
    assert pool.stopped == 1 and pool.waiting == 0


def test_a_worker_over_its_memory_cap_is_a_memory_error_and_is_replaced(pool):
    with pytest.raises(MemoryError):
        asyncio.run(pool.call(bytearray, 3 * 2**30))  # over the 1 GiB cap: refused by the kernel, not granted
    assert asyncio.run(pool.call(abs, -5)) == 5


def test_a_worker_that_grew_is_replaced_after_its_request(pool):
    from losslab.web import service
    from losslab.web.schemas import LandscapeRequest

    for resolution, recycle, replaced in ((60, 2**40, False), (61, 1, True)):  # a new grid grows the worker
        pool.recycle_bytes = recycle
        pid = pool.pids[0]
        req = LandscapeRequest(objective="gabor", range0=(-10, 10), range1=(2.5, 22.5), resolution=resolution)
        body = asyncio.run(pool.call(service.landscape, req))
        assert len(body["loss"]) == resolution and len(body["loss"][0]) == resolution
        assert (pid not in pool.pids) is replaced and _alive(pid) is not replaced


def test_a_capped_worker_compiles_one_new_program_after_another(monkeypatch):
    # the persistent cache off, so every new grid is a compilation under the worker's 1 GiB cap (a worker
    # capped before XLA's one-time reservations aborted on the second one: code -6, a 503)
    from losslab.web import service
    from losslab.web.schemas import LandscapeRequest

    monkeypatch.setenv("LOSSLAB_CACHE_DIR", "")  # the worker is spawned with this environment
    pool = ComputePool(workers=1, memory_bytes=2**30)
    try:
        pid = None
        for resolution in (60, 61, 62):
            req = LandscapeRequest(objective="gabor", range0=(-10, 10), range1=(2.5, 22.5), resolution=resolution)
            body = asyncio.run(pool.call(service.landscape, req))
            assert len(body["loss"]) == resolution
            assert pid in (None, pool.pids[0])  # the same worker answered each
            pid = pool.pids[0]
    finally:
        pool.close()


# ---------------------------------------------------------------- through a real loopback server
@pytest.fixture
def live():
    import uvicorn

    from losslab.web import compute
    from losslab.web.app import create_app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", compute.POOL
    finally:
        server.should_exit = True
        thread.join(10)
        compute.POOL.seconds = compute.COMPUTE_SECONDS


HEAVY_RUN = {"objective": "gabor", "start": [-1.5, 6.5], "optimizers": [
    {"name": n, "lr": 0.05, "batch_size": 3, "steps": 4999} for n in ("sgd", "momentum", "nesterov", "adam")]}


def test_the_server_stops_work_for_a_client_that_left_and_at_the_deadline(live):
    import httpx

    base, pool = live
    before, workers = pool.stopped, set(pool.pids)
    with pytest.raises(httpx.ReadTimeout):  # the workers are still starting: nothing is answered in 0.2 s
        httpx.post(base + "/api/run", json=HEAVY_RUN, timeout=0.2)
    deadline = time.monotonic() + 5
    while (pool.stopped == before or all(_alive(pid) for pid in workers)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert pool.stopped == before + 1  # its worker was killed, not left computing for nobody
    gone = [pid for pid in workers if not _alive(pid)]
    assert len(gone) == 1 and gone[0] not in pool.pids and len(pool.pids) == len(workers)  # and replaced

    pool.seconds = 0.3
    response = httpx.post(base + "/api/run", json={**HEAVY_RUN, "start": [-1.5, 6.6]}, timeout=30)
    assert response.status_code == 504
    assert response.json()["detail"].startswith("The request did not finish within its time limit of 0.3 s")
    assert pool.stopped == before + 2
    pool.seconds = 60.0
    response = httpx.post(base + "/api/fit", json={"objective": "linear", "params": [[0.5, 0.5]]}, timeout=60)
    assert response.status_code == 200 and len(response.json()["curves"][0]) == len(response.json()["x"])


# ---------------------------------------------------------------- the shutdown middleware
def _asgi(inner, closing: bool):
    sent = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    asyncio.run(Draining(inner, closing=lambda: closing)({"type": "http", "method": "POST"}, receive, send))
    return sent


def test_a_request_cut_by_the_shutdown_is_503_with_a_sentence():
    async def cancelled(scope, receive, send):
        raise asyncio.CancelledError

    async def failed(scope, receive, send):
        raise RuntimeError("the check worker stopped")

    for inner, closing in ((cancelled, False), (failed, True)):
        sent = _asgi(inner, closing)
        assert sent[0]["status"] == 503 and SHUTDOWN_SENTENCE.encode() in sent[1]["body"]
    with pytest.raises(RuntimeError):  # a failure outside a shutdown is not hidden
        _asgi(failed, False)


def test_repr():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert repr(ComputePool(workers=3, seconds=7)) == "ComputePool(0 of 3 workers, 0 busy, deadline 7 s)"
