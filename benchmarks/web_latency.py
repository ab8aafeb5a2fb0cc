"""Latency of the web API after warm-up: a 200 x 200 landscape and four 500-step runs.

    PYTHONPATH=src python benchmarks/web_latency.py

Goes through a real uvicorn server on 127.0.0.1 (HTTP + JSON included), warms up
once (compilation), then times each request and the pair. Changing only the
hyperparameters between timed calls checks that sliders do not recompile.
"""

from __future__ import annotations

import socket
import statistics
import threading
import time

import httpx
import uvicorn

from losslab.web.app import app


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main(repeats: int = 7) -> None:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    base = f"http://127.0.0.1:{port}"
    land = {"objective": "gabor", "range0": [-10, 10], "range1": [2.5, 22.5], "resolution": 200}

    def run_body(lr: float) -> dict:
        return {"objective": "gabor", "start": [-1.5, 6.5], "optimizers": [
            {"name": "sgd", "lr": lr, "batch_size": 5, "steps": 500},
            {"name": "momentum", "lr": lr, "beta": 0.6, "batch_size": 5, "steps": 500},
            {"name": "nesterov", "lr": lr, "beta": 0.6, "batch_size": 5, "steps": 500},
            {"name": "adam", "lr": lr / 10, "steps": 500}]}

    with httpx.Client(base_url=base, timeout=120) as client:
        t0 = time.perf_counter()
        client.post("/api/landscape", json=land).raise_for_status()
        client.post("/api/run", json=run_body(0.6)).raise_for_status()
        print(f"first (cold, compiling): {time.perf_counter() - t0:.2f} s")
        lands, runs, pairs = [], [], []
        for k in range(repeats):
            t0 = time.perf_counter()
            client.post("/api/landscape", json={**land, "range0": [-10 + 0.01 * k, 10]}).raise_for_status()
            t1 = time.perf_counter()
            client.post("/api/run", json=run_body(0.5 + 0.01 * k)).raise_for_status()  # a slider moved
            t2 = time.perf_counter()
            lands.append(t1 - t0)
            runs.append(t2 - t1)
            pairs.append(t2 - t0)
    server.should_exit = True
    thread.join(5)
    print(f"landscape 200x200:        median {statistics.median(lands) * 1000:.0f} ms")
    print(f"four 500-step runs:       median {statistics.median(runs) * 1000:.0f} ms")
    print(f"both (warm, over HTTP):   median {statistics.median(pairs) * 1000:.0f} ms, max {max(pairs) * 1000:.0f} ms")


if __name__ == "__main__":
    main()
