"""Shared helpers for the benchmark scripts: timing, records, the table."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

import numpy as np

# run.py --progress: each row goes to stderr as soon as it is measured, so a run stopped by a
# time limit (the GPU check's `timeout`) still shows what it had measured
PROGRESS = False


def best_of(fn: Callable, repeats: int = 3, *, warmup: int = 1):
    """(best seconds, last result) over ``repeats`` calls after ``warmup`` untimed calls (compilation)."""
    out = None
    for _ in range(warmup):
        out = fn()
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def record(workload: str, implementation: str, seconds: float | None, work: float, *, unit: str,
           agree: float | None = None, note: str = "") -> dict:
    """One row: ``rate`` is work per second (``unit`` says what work is)."""
    if PROGRESS:
        shown = "skipped" if seconds is None else f"{seconds:.4g} s"
        print(f"[measured] {workload} | {implementation} | {shown} | {note}", file=sys.stderr, flush=True)
    return {
        "workload": workload,
        "implementation": implementation,
        "seconds": None if seconds is None else float(seconds),
        "rate": None if not seconds else float(work / seconds),
        "unit": unit,
        "max_rel_diff": None if agree is None else float(agree),
        "note": note,
    }


def finish(rows: list[dict], losslab_impl: str) -> list[dict]:
    """Fill speedup_of_losslab = peer seconds / losslab seconds (the named losslab row is the reference)."""
    ref = next(r["seconds"] for r in rows if r["implementation"] == losslab_impl)
    for r in rows:
        r["speedup_of_losslab"] = None if (r["seconds"] is None or not ref) else float(r["seconds"] / ref)
    return rows


def rel_diff(a, b) -> float:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-300)))


class TorchUnavailable(ImportError):
    """PyTorch is missing, or cannot run on the device asked for: its peers are skipped."""


def torch_device(device: str) -> str:
    """The PyTorch device for ``--device``; raises :class:`TorchUnavailable` (an ImportError,
    so each benchmark skips its PyTorch peers with this reason) when it cannot be used."""
    import torch

    if device == "gpu" and not torch.cuda.is_available():
        raise TorchUnavailable(f"skipped: this PyTorch ({torch.__version__}) has no CUDA device")
    return "cuda" if device == "gpu" else "cpu"


def skip_note(exc: ImportError) -> str:
    return str(exc) if isinstance(exc, TorchUnavailable) else "skipped: torch not installed"


def torch_note(threads: int | None, device: str, *, best: bool = True) -> str:
    """How a PyTorch row ran: on the GPU, or with how many CPU threads (the best of those tried)."""
    if device == "gpu":
        return "PyTorch on CUDA"
    return f"{'best with ' if best else ''}{threads} torch thread(s)"


def sync_torch(device: str) -> None:
    if device == "gpu":
        import torch

        torch.cuda.synchronize()


def torch_thread_counts() -> list[int]:
    """Thread counts to try for PyTorch peers: 1 and all cores. On a CPU shared with other
    processes, PyTorch's intra-op threads can be far slower than one thread (measured here:
    sin 1.1e9/s on 1 thread vs 8.7e7/s on 2), so each peer gets its best setting."""
    import os

    return sorted({1, os.cpu_count() or 1})


def best_torch(timed: Callable, device: str = "cpu"):
    """Run ``timed() -> (seconds, result)`` under each thread count; (best seconds, result, threads)."""
    import torch

    if device == "gpu":
        s, out = timed()
        return s, out, torch.get_num_threads()
    before = torch.get_num_threads()
    best = (np.inf, None, before)
    try:
        for n in torch_thread_counts():
            torch.set_num_threads(n)
            s, out = timed()
            if s < best[0]:
                best = (s, out, n)
    finally:
        torch.set_num_threads(before)
    return best


def race(entries: dict, rounds: int = 3, *, warmup: bool = True) -> dict:
    """Time several implementations round-robin (one call each per round, after one warm-up each),
    so a change in machine load hits all of them alike. Returns {name: (best seconds, last result)}.

    ``entries`` maps a name to ``fn`` or to ``(fn, torch_threads)``; with a thread count the
    PyTorch thread pool is set to it around each call.
    """
    def call(entry):
        fn, threads = entry if isinstance(entry, tuple) else (entry, None)
        if threads is None:
            return fn()
        import torch

        before = torch.get_num_threads()
        torch.set_num_threads(threads)
        try:
            return fn()
        finally:
            torch.set_num_threads(before)

    out = {name: [np.inf, call(entry) if warmup else None] for name, entry in entries.items()}
    for _ in range(rounds):
        for name, entry in entries.items():
            start = time.perf_counter()
            res = call(entry)
            out[name][0] = min(out[name][0], time.perf_counter() - start)
            out[name][1] = res
    return {k: (v[0], v[1]) for k, v in out.items()}


def best_threads(results: dict, prefix: str):
    """Among race results named ``prefix + " @<n>"``, the fastest: (seconds, result, n)."""
    cands = [(v[0], v[1], int(k.rsplit("@", 1)[1])) for k, v in results.items() if k.startswith(prefix + " @")]
    return min(cands, key=lambda c: c[0])
