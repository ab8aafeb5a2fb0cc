"""`losslab solve all`, first run (a fresh, empty compilation cache) and second run (the cache
the first one filled), as a new user runs it: one process per run.

    python benchmarks/solve_all.py [--runs-without-cache] [--json]

Each run is the CLI itself (``losslab solve all --json --out TMP``) in a child process with
``LOSSLAB_CACHE_DIR`` pointing at a temporary folder; the script reports its wall time, the CPU
time it used (user + system, all threads: on a shared machine the steadier number), the load
average around it, and whether every check passed. ``--runs-without-cache`` adds a run with
the cache off (``LOSSLAB_CACHE_DIR=""``), the state before the cache existed.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _cpu_by_pid() -> dict[int, tuple[int, float]]:
    """{pid: (parent pid, user + system seconds)} of every process, from /proc (empty where there is none)."""
    out = {}
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        out[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / TICK)
    return out


def _descendants(root: int, table: dict) -> set[int]:
    tree, grew = {root}, True
    while grew:
        more = {pid for pid, (ppid, _) in table.items() if ppid in tree} - tree
        tree |= more
        grew = bool(more)
    return tree


def one_run(cache: str, out: Path) -> dict:
    env = dict(os.environ, LOSSLAB_CACHE_DIR=cache, PYTHONPATH=str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", ""))
    cmd = [sys.executable, "-c", "from losslab.launcher import main; main()", "solve", "all", "--json", "--out", str(out)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    load = os.getloadavg()[0]
    start = time.perf_counter()
    # The workers are children of a fork server that nobody waits for, so the CPU each process uses is
    # read from /proc while it runs (every 0.1 s; the last tenth of a second of each may be missed).
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    seen: dict[int, float] = {}
    while proc.poll() is None:
        table = _cpu_by_pid()
        for pid in _descendants(proc.pid, table):  # each process's own time (not its children's): no double counting
            seen[pid] = table[pid][1]
        time.sleep(0.1)
    stdout, stderr = proc.communicate()
    proc = subprocess.CompletedProcess(cmd, proc.returncode, stdout, stderr)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    try:
        results = json.loads(proc.stdout) if proc.returncode in (0, 1) else None
    except json.JSONDecodeError:
        results = None
    if results is None:
        raise SystemExit(f"losslab solve all failed (exit {proc.returncode}):\n{proc.stdout[:2000]}\n{proc.stderr[-3000:]}")
    checks = [c for r in results for c in r["checks"]]
    return {
        "wall_s": round(wall, 2),
        # the CLI and every process under it; without /proc, what the CLI and the children it waited for used
        "cpu_s": round(sum(seen.values()) if seen else (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), 2),
        "load_before": round(load, 2),
        "load_after": round(os.getloadavg()[0], 2),
        "checks_passed": sum(bool(c["passed"]) for c in checks),
        "checks": len(checks),
        "per_problem_s": {r["problem"]: round(r["seconds"], 2) for r in results},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs-without-cache", action="store_true", help="also time one run with the cache off")
    parser.add_argument("--json", action="store_true", help="print the records as JSON")
    args = parser.parse_args()
    rows = {}
    with tempfile.TemporaryDirectory(prefix="losslab-bench-") as tmp:
        cache = Path(tmp) / "cache"
        if args.runs_without_cache:
            rows["no cache"] = one_run("", Path(tmp) / "out0")
        rows["first run (empty cache)"] = one_run(str(cache), Path(tmp) / "out1")
        rows["second run (cache filled)"] = one_run(str(cache), Path(tmp) / "out2")
        size = sum(f.stat().st_size for f in cache.rglob("*") if f.is_file())
    if args.json:
        print(json.dumps({"cpus": os.cpu_count(), "cache_bytes": size, "runs": rows}, indent=2))
        return
    print(f"losslab solve all on {os.cpu_count()} CPUs; cache after the first run: {size / 2**20:.1f} MiB")
    print(f"{'run':28} {'wall s':>8} {'CPU s':>8} {'load before/after':>18} {'checks':>8}")
    for name, r in rows.items():
        print(f"{name:28} {r['wall_s']:8.2f} {r['cpu_s']:8.2f} {r['load_before']:>8.2f} / {r['load_after']:<7.2f} "
              f"{r['checks_passed']:>3}/{r['checks']}")
    slow = max(rows.values(), key=lambda r: r["wall_s"])["per_problem_s"]
    print("slowest run, seconds per problem: " + ", ".join(f"{k} {v}" for k, v in slow.items()))


if __name__ == "__main__":
    main()
