"""Run the losslab benchmarks side by side with their peers and print a table.

    python benchmarks/run.py [--quick] [--json | --markdown] [--progress] [W1 W2 W3 W4] [--device cpu|gpu]

``--json`` prints a list of {workload, implementation, seconds, rate, speedup_of_losslab}
(plus unit, max_rel_diff against losslab, note); speedup_of_losslab = peer seconds /
losslab seconds. Every JIT-compiled implementation is timed after one warm-up call
(compilation excluded), best of a few repeats. These are scripts, not tests.
``--markdown`` prints the table's rows workload by workload as each finishes; ``--progress``
also prints every row to stderr as soon as it is measured.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORKLOADS = {"W1": "w1_landscape", "W2": "w2_one_run", "W3": "w3_many_runs", "W4": "w4_curvature"}


def machine(device: str) -> str:
    import jax

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    devices = ", ".join(sorted({d.device_kind for d in jax.devices()}))
    torch = sys.modules.get("torch")  # only if a workload imported it
    peer = "" if torch is None else f"; torch {torch.__version__}" + (f" (CUDA {torch.version.cuda})" if device == "gpu" else "")
    return (f"{cpu}, {os.cpu_count()} logical CPUs; Python {platform.python_version()}; JAX {jax.__version__} on "
            f"{jax.default_backend()} ({jax.device_count()} x {devices}){peer}; device={device}")


def _cells(r: dict, unit: bool = False) -> tuple[str, str, str, str]:
    """(seconds, rate, speedup, max rel diff) of one row, as text."""
    sec = "skipped" if r["seconds"] is None else f"{r['seconds']:.4g}"
    rate = "" if r["rate"] is None else f"{r['rate']:.3g}" + (f" {r['unit']}" if unit else "")
    speed = "" if r.get("speedup_of_losslab") is None else f"{r['speedup_of_losslab']:.3g}"
    diff = "" if r["max_rel_diff"] is None else f"{r['max_rel_diff']:.1e}"
    return sec, rate, speed, diff


def table(rows: list[dict]) -> str:
    head = f"{'workload':<44} {'implementation':<66} {'seconds':>10} {'rate':>11} {'losslab x':>10} {'max rel diff':>12}  note"
    lines = [head, "-" * len(head)]
    for r in rows:
        sec, rate, speed, diff = _cells(r)
        lines.append(f"{r['workload'][:44]:<44} {r['implementation'][:66]:<66} {sec:>10} {rate:>11} {speed:>10} {diff:>12}  {r['note']}")
    return "\n".join(lines)


MARKDOWN_HEAD = ["| workload | implementation | seconds | rate | losslab speedup (peer s / losslab s) | max rel diff | note |",
                 "|---|---|---:|---:|---:|---:|---|"]


def markdown_rows(rows: list[dict]) -> str:
    """The rows of the Markdown table (its head is MARKDOWN_HEAD)."""
    lines = []
    for r in rows:
        sec, rate, speed, diff = _cells(r, unit=True)
        lines.append(f"| {r['workload']} | {r['implementation']} | {sec} | {rate} | {speed} | {diff} | {r['note']} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workloads", nargs="*", help="W1 W2 W3 W4 (default: all)")
    parser.add_argument("--quick", action="store_true", help="tiny sizes: checks that everything runs and agrees")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table (for benchmarks/README.md)")
    parser.add_argument("--progress", action="store_true", help="also print each row to stderr as soon as it is measured")
    parser.add_argument("--device", choices=("cpu", "gpu"), default="cpu")
    parser.add_argument("--host-devices", type=int, default=os.cpu_count() or 1,
                        help="on CPU, show JAX N devices (XLA_FLAGS=--xla_force_host_platform_device_count=N; "
                             "default: one per core) so sharded landscapes and sweeps use every core, as the "
                             "PyTorch peers use every thread; 1 = JAX's default single CPU device")
    args = parser.parse_args(argv)
    chosen = [w.upper() for w in args.workloads] or list(WORKLOADS)
    unknown = [w for w in chosen if w not in WORKLOADS]
    if unknown:
        parser.error(f"unknown workload(s) {unknown}; choose from {list(WORKLOADS)}")
    # must be decided before JAX is imported
    os.environ.setdefault("JAX_PLATFORMS", "cuda" if args.device == "gpu" else "cpu")
    if args.device == "cpu" and args.host_devices > 1:
        flags = os.environ.get("XLA_FLAGS", "")
        os.environ["XLA_FLAGS"] = f"{flags} --xla_force_host_platform_device_count={args.host_devices}".strip()
    # PyTorch's OpenMP threads otherwise spin after each parallel region, stealing the
    # cores from whatever is timed next (measured: a 4k-parameter JAX gradient 5x slower)
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    sys.path.insert(0, str(HERE))
    src = HERE.parent / "src"
    if src.is_dir():
        sys.path.insert(0, str(src))
    import importlib

    import common

    common.PROGRESS = args.progress

    import jax

    # the peers are float64 JAX programs; losslab computes in float64 either way (losslab.precision)
    jax.config.update("jax_enable_x64", True)

    if args.device == "gpu":
        try:
            gpus = jax.devices("gpu")
        except Exception as exc:  # JAX raises differently per version when no backend exists
            gpus, why = [], f"{type(exc).__name__}: {exc}".strip().rstrip(":")
        else:
            why = ""
        if not gpus:
            parser.error(f"--device gpu: JAX sees no GPU here ({why or 'no GPU devices'}). "
                         "Install a CUDA build of JAX (jax[cuda12] or jax[cuda13]) on a machine with an NVIDIA GPU, "
                         "or use --device cpu.")

    rows = []
    start = time.perf_counter()
    if args.markdown and not args.json:
        print("\n".join(MARKDOWN_HEAD), flush=True)
    for w in chosen:
        module = importlib.import_module(WORKLOADS[w])
        got = module.bench(quick=args.quick, device=args.device)
        rows.extend(got)
        if args.json:
            continue
        if args.markdown:  # row by row as workloads finish: a run stopped by a time limit keeps what it had
            print(markdown_rows(got), flush=True)
        else:
            print(table(got), flush=True)
            print(flush=True)
    if args.json:
        keep = ("workload", "implementation", "seconds", "rate", "speedup_of_losslab", "unit", "max_rel_diff", "note")
        json.dump([{k: r.get(k) for k in keep} for r in rows], sys.stdout, indent=1)
        sys.stdout.write("\n")
    elif args.markdown:
        print(f"\nmachine: {machine(args.device)}; total wall time {time.perf_counter() - start:.0f} s")
    else:
        print(f"machine: {machine(args.device)}")
        print(f"total wall time {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
