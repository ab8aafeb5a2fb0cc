"""A bounded load test of `losslab serve`: valid and hostile requests mixed, many in flight at once.

    PYTHONPATH=src python benchmarks/web_load.py [--requests 200] [--in-flight 20] [--json]

Starts the real server (`python -m losslab.cli serve`, loopback only, a free port) in its own process,
sends a fixed list of requests (valid landscapes, runs, line searches, fits, an upload; and hostile
ones: bodies that are not JSON, forms, a body over the limit, NaN, huge numbers, unknown fields, work
too large, overflowing losses), ``--in-flight`` at a time; then two clients that give up on heavy runs;
then SIGTERM while four long runs are computing. Reports every status code, the 5xx count, requests
without an answer, the server's resident memory (its process and its worker processes) before, at its
peak and after, how many worker processes were stopped for the clients that left, how long SIGTERM
took and what the requests it cut were answered. Exit status 1 when any request got a 5xx or no answer,
the memory after is more than 300 MB above the memory before, no worker was stopped for the clients
that left, SIGTERM took more than 5 s, or a request it cut was answered other than 200 or 503.
"""

from __future__ import annotations

import argparse
import collections
import concurrent.futures
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
RSS_SLACK = 300 * 2**20
SIGTERM_SECONDS = 5.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _own_rss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:  # it ended meanwhile
        pass
    return 0


def _children(pid: int) -> list[int]:
    kids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    if int(stat.read().rsplit(")", 1)[1].split()[1]) == pid:
                        kids.append(int(entry))
            except (OSError, ValueError, IndexError):
                continue
    return kids


def rss(pid: int) -> int:
    """Resident set size in bytes of ``pid`` and every process under it (the server computes in worker
    processes: their memory is the server's too). Linux /proc."""
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        total += _own_rss(current)
        todo.extend(_children(current))
    return total


def requests(n: int) -> list[tuple[str, str, dict]]:
    """``n`` requests (method, path, httpx keyword arguments), valid and hostile in a fixed rotation."""
    big_csv = "".join(f"{i * 1e-3:.6f},{(i % 7) * 0.1:.3f}\n" for i in range(60_000)).encode()  # ~0.9 MB, 60k points
    overflow_csv = b"0,1e200\n1,1e200\n2,1e200\n"
    run = {"objective": "gabor", "start": [-1.5, 6.5], "optimizers": [
        {"name": "sgd", "lr": 0.6, "batch_size": 5, "steps": 300}, {"name": "adam", "lr": 0.05, "steps": 300}]}
    rotation = [
        ("POST", "/api/landscape", {"json": {"objective": "gabor", "range0": [-10, 10], "range1": [2.5, 22.5], "resolution": 120}}),
        ("POST", "/api/run", {"json": run}),
        ("POST", "/api/landscape", {"content": b"not json at all", "headers": {"content-type": "text/plain"}}),
        ("POST", "/api/run", {"data": {"objective": "gabor"}}),  # a form
        ("POST", "/api/linesearch", {"json": {"objective": "linear", "point": [0.5, 0.5]}}),
        ("POST", "/api/landscape", {"content": b"[" + b"1," * 1_500_000 + b"1]", "headers": {"content-type": "application/json"}}),
        ("POST", "/api/fit", {"json": {"objective": "linear", "params": [[0.5, 0.5]]}}),
        ("POST", "/api/run", {"content": b'{"objective": "gabor", "start": [NaN, 1e999], "optimizers": []}',
                              "headers": {"content-type": "application/json"}}),
        ("POST", "/api/upload", {"files": {"file": ("big.csv", big_csv, "text/csv")}}),
        ("POST", "/api/landscape", {"json": {"objective": "gabor", "range0": [-1e300, 1e300], "range1": [2.5, 22.5], "resolution": 50}}),
        ("GET", "/api/objectives", {}),
        ("POST", "/api/upload", {"files": {"file": ("o.csv", overflow_csv, "text/csv")}}),
        ("POST", "/api/run", {"json": {**run, "extra": 1}}),
        ("POST", "/api/linesearch", {"json": {"objective": "gabor", "point": [1e6, 1e6], "max_dist": 1e4}}),
        ("POST", "/api/landscape", {"content": b"\xff\xfe\x00", "headers": {"content-type": "application/json"}}),
        ("GET", "/no/such/page", {}),
    ]
    return [rotation[i % len(rotation)] for i in range(n)]


def _send(client: httpx.Client, method: str, path: str, kwargs: dict, uploads: list) -> tuple[str, int | None, float]:
    start = time.perf_counter()
    try:
        response = client.request(method, path, **kwargs)
        if path == "/api/upload" and response.status_code == 200:
            uploads.append(response.json()["data"])
        return path, response.status_code, time.perf_counter() - start
    except httpx.HTTPError:
        return path, None, time.perf_counter() - start


def _stop(server: subprocess.Popen) -> float:
    """SIGTERM, then the seconds until the server exited (killed after 30 s)."""
    t0 = time.perf_counter()
    server.send_signal(signal.SIGTERM)
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()
    return time.perf_counter() - t0


def load_test(n_requests: int = 200, in_flight: int = 20, *, timeout: float = 300.0) -> dict:
    """Run the load test against a fresh server process; a dict of what happened (see the module doc)."""
    port = free_port()
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT / "src") + os.pathsep + env.get("PYTHONPATH", "")
    log = tempfile.TemporaryFile()  # the server's stderr (a pipe nobody reads could fill and block it)
    server = subprocess.Popen([sys.executable, "-c", "from losslab.cli import main; main()", "serve", "--host", "127.0.0.1",
                               "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=log)
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base, timeout=timeout) as client:
            deadline = time.monotonic() + 120
            while True:
                try:
                    client.get("/api/objectives")
                    break
                except httpx.HTTPError:
                    if time.monotonic() > deadline or server.poll() is not None:
                        log.seek(0)
                        raise RuntimeError("the server did not start: " + log.read().decode()[-2000:]) from None
                    time.sleep(0.2)
            # warm up the compiled paths once, so "before" is the server as a user finds it after a first use
            client.post("/api/landscape", json={"objective": "gabor", "range0": [-10, 10], "range1": [2.5, 22.5], "resolution": 120})
            before = rss(server.pid)
            peak = before
            uploads: list[str] = []
            plan = requests(n_requests)
            results = []
            with concurrent.futures.ThreadPoolExecutor(max_workers=in_flight) as pool:
                futures = [pool.submit(_send, client, m, p, kw, uploads) for m, p, kw in plan]
                while not all(f.done() for f in futures):
                    peak = max(peak, rss(server.pid))
                    time.sleep(0.05)
                results = [f.result() for f in futures]
            # requests over the uploaded data: a landscape and an SGD run too large, and an overflowing line search
            for data in uploads[:2]:
                for path, body in (("/api/landscape", {"objective": "linear", "data": data, "range0": [-1, 1], "range1": [-1, 1], "resolution": 400}),
                                   ("/api/run", {"objective": "linear", "data": data, "start": [0, 0],
                                                 "optimizers": [{"name": "sgd", "lr": 0.1, "batch_size": 50000, "steps": 5000}]}),
                                   ("/api/linesearch", {"objective": "linear", "data": data, "point": [0, 0], "max_dist": 100})):
                    results.append(_send(client, "POST", path, {"json": body}, []))
            time.sleep(0.5)
            after = rss(server.pid)
            # clients that give up on heavy requests: the workers doing them are stopped (killed, replaced)
            heavy = {"objective": "gabor", "start": [-1.5, 6.5], "optimizers": [
                {"name": n, "lr": 0.05, "batch_size": 3, "steps": 4999} for n in ("sgd", "momentum", "nesterov", "adam")]}
            workers = set(_children(server.pid))
            with httpx.Client(base_url=base, timeout=0.3) as impatient:
                for k in range(2):
                    _send(impatient, "POST", "/api/run", {"json": {**heavy, "start": [-1.5, 6.5 + 0.01 * k]}}, [])
            time.sleep(3.0)
            stopped = len(workers - set(_children(server.pid)))
            # SIGTERM while requests are computing (step counts not compiled yet: seconds of work each)
            with concurrent.futures.ThreadPoolExecutor(max_workers=4) as busy:
                cut = [busy.submit(_send, client, "POST", "/api/run", {"json": {**heavy, "start": [-1.4, 6.5 + 0.01 * k]}}, [])
                       for k in range(4)]
                time.sleep(1.0)
                stop_seconds = _stop(server)
                cut_codes = collections.Counter(f.result()[1] for f in cut)
    finally:
        if server.poll() is None:
            _stop(server)
        log.close()
    codes = collections.Counter(code for _, code, _ in results)
    return {
        "requests": len(results),
        "in_flight": in_flight,
        "status_codes": {str(k): v for k, v in sorted(codes.items(), key=lambda kv: str(kv[0]))},
        "server_errors": sum(v for k, v in codes.items() if k is not None and k >= 500),
        "no_answer": codes.get(None, 0),
        "slowest_seconds": max(s for _, _, s in results),
        "rss_before_mb": before / 2**20,
        "rss_peak_mb": peak / 2**20,
        "rss_after_mb": after / 2**20,
        "workers_stopped_by_leaving_clients": stopped,
        "sigterm_seconds": stop_seconds,
        "status_codes_cut_by_sigterm": {str(k): v for k, v in sorted(cut_codes.items(), key=lambda kv: str(kv[0]))},
        "exit_code": server.returncode,
    }


def verdict(report: dict) -> list[str]:
    """What went wrong, one sentence each (empty: the server held)."""
    problems = []
    if report["server_errors"]:
        problems.append(f"{report['server_errors']} request(s) answered 5xx")
    if report["no_answer"]:
        problems.append(f"{report['no_answer']} request(s) got no answer")
    if (report["rss_after_mb"] - report["rss_before_mb"]) * 2**20 > RSS_SLACK:
        problems.append(f"memory after is {report['rss_after_mb'] - report['rss_before_mb']:.0f} MB above before (limit 300 MB)")
    if not report["workers_stopped_by_leaving_clients"]:
        problems.append("no worker was stopped when its client left")
    bad_cut = {k: v for k, v in report["status_codes_cut_by_sigterm"].items() if k not in ("200", "503")}
    if bad_cut:
        problems.append(f"requests cut by SIGTERM were answered {bad_cut} (expected 200 or 503)")
    if report["sigterm_seconds"] > SIGTERM_SECONDS:
        problems.append(f"SIGTERM took {report['sigterm_seconds']:.1f} s (limit {SIGTERM_SECONDS:g} s)")
    return problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--in-flight", type=int, default=20)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    report = load_test(args.requests, args.in_flight)
    problems = verdict(report)
    if args.json:
        print(json.dumps({**report, "problems": problems}, indent=1))
    else:
        for key, value in report.items():
            print(f"{key:>16}: {value:.1f}" if isinstance(value, float) else f"{key:>16}: {value}")
        print("OK: no 5xx, every request answered, memory back, SIGTERM prompt" if not problems else "FAILED: " + "; ".join(problems))
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
