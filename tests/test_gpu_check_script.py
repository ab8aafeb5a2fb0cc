"""benchmarks/gpu_check.sh, the GPU check of issue 15, without a GPU: its argument check and its
time budget (each step is skipped once the budget is spent, and the summary says so). The steps
themselves run on a GPU machine; GPU_CHECK_DEVICE=cpu runs them on the CPU by hand (~1 minute)."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "gpu_check.sh"
STEPS = ["environment", "run.py --quick", "run.py --markdown W1", "run.py --markdown W2", "run.py --markdown W3",
         "run.py --markdown W4", "examples/digits_spectrum.py"]

pytestmark = pytest.mark.skipif(shutil.which("bash") is None or shutil.which("timeout") is None,
                                reason="needs bash and coreutils' timeout")


def _run(tmp_path, **env):
    out = tmp_path / "out"
    full = dict(os.environ, OUT=str(out), **env)
    return subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True, env=full, timeout=60, cwd=tmp_path), out


def test_the_script_parses():
    proc = subprocess.run(["bash", "-n", str(SCRIPT)], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr


def test_an_unknown_device_is_refused_by_name(tmp_path):
    proc, _ = _run(tmp_path, GPU_CHECK_DEVICE="tpu")
    assert proc.returncode == 2
    assert "GPU_CHECK_DEVICE must be gpu or cpu. Got 'tpu' instead." in proc.stderr


def test_a_spent_budget_skips_every_step_and_the_summary_lists_them(tmp_path):
    proc, out = _run(tmp_path, GPU_CHECK_BUDGET="0", GPU_CHECK_DEVICE="cpu")
    assert proc.returncode == 0, proc.stderr
    summary = (out / "summary.txt").read_text().splitlines()
    names = [line.split(": not run")[0] for line in summary if ": not run" in line]
    # the wheels step appears only where .whl/ holds wheels
    assert [n for n in names if n != "wheels"] == STEPS
    assert len(names) == len(summary)
    # a skipped step writes nothing
    assert sorted(p.name for p in out.iterdir()) == ["summary.txt"]
