"""benchmarks/run.py --quick runs every workload and all implementations agree numerically.
(No timing assertions: speed is measured by the benchmark scripts, not tests.)"""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_quick_benchmarks_run_and_agree():
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT / "src") + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "run.py"), "--quick", "--json"],
        capture_output=True, text=True, env=env, timeout=600, cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = json.loads(proc.stdout)
    assert {r["workload"].split()[0] for r in rows} == {"W1", "W2", "W3", "W4"}
    for r in rows:
        assert {"workload", "implementation", "seconds", "rate", "speedup_of_losslab"} <= set(r)
        if r["seconds"] is None:
            assert r["note"].startswith("skipped"), r
            continue
        assert r["seconds"] > 0 and r["rate"] > 0
        # eigenvalues after 20 iterations from different start vectors agree less tightly
        tol = 1e-4 if "eigenvalue" in r["implementation"] else 1e-9
        assert r["max_rel_diff"] is not None and r["max_rel_diff"] < tol, r
    # W4's peers are all PyTorch (the optional torch/bench extra; .ci/run installs torch)
    has_torch = importlib.util.find_spec("torch") is not None
    for w in ("W1", "W2", "W3", "W4"):
        mine = [r for r in rows if r["workload"].startswith(w)]
        assert any(r["implementation"].startswith("losslab") and r["speedup_of_losslab"] == 1.0 for r in mine)
        if w != "W4" or has_torch:
            assert sum(not r["implementation"].startswith("losslab") and r["seconds"] is not None for r in mine) >= 1


def test_gpu_flag_without_a_gpu_is_refused_with_a_clear_message():
    import jax
    import pytest

    try:
        if jax.devices("gpu"):
            pytest.skip("a GPU is present: --device gpu is a valid request here")
    except RuntimeError:
        pass
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "run.py"), "--quick", "--device", "gpu", "W2"],
        capture_output=True, text=True, timeout=300, cwd=ROOT,
    )
    assert proc.returncode == 2
    assert "--device gpu: JAX sees no GPU here" in proc.stderr and "Traceback" not in proc.stderr


def test_markdown_streams_rows_and_progress_shows_each_measurement():
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT / "src") + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "run.py"), "--quick", "--markdown", "--progress", "W2"],
        capture_output=True, text=True, env=env, timeout=300, cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    table = [line for line in proc.stdout.splitlines() if line.startswith("|")]
    assert table[0].startswith("| workload | implementation |") and table[1].startswith("|---")
    assert sum(line.startswith("| workload |") for line in table) == 1
    rows = [line.split(" | ")[1] for line in table[2:]]
    assert rows[0] == "losslab run()" and len(rows) >= 2
    # every row of the table was announced on stderr as it was measured, with its seconds
    measured = [line.split(" | ") for line in proc.stderr.splitlines() if line.startswith("[measured] W2")]
    assert [m[1] for m in measured] == rows
    assert all(m[2] == "skipped" or float(m[2].removesuffix(" s")) > 0 for m in measured)
    assert proc.stdout.rstrip().splitlines()[-1].startswith("machine: ")
