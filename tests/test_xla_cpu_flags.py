"""The XLA:CPU option losslab's own processes compile with: added only under a jaxlib it was verified
with, never over the user's XLA_FLAGS, and a process that sets it still compiles and runs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from losslab import xla_cpu_flags
from losslab.xla_cpu_flags import OPTION, compile_quickly

SRC = str(Path(__file__).resolve().parents[1] / "src")


@pytest.mark.parametrize(("before", "version", "after", "in_effect"), [
    (None, "0.10.2", OPTION, True),
    ("--xla_force_host_platform_device_count=2", "0.10.2", f"--xla_force_host_platform_device_count=2 {OPTION}", True),
    (None, "0.11.2", None, False),  # refuses the option: the process would abort
    (None, None, None, False),  # no jaxlib metadata
    ("--xla_cpu_use_fusion_emitters=true", "0.10.2", "--xla_cpu_use_fusion_emitters=true", False),  # the user's choice
    (OPTION, "0.10.2", OPTION, True),
])
def test_the_option_is_added_only_where_verified_and_never_over_the_users(monkeypatch, before, version, after, in_effect):
    if before is None:
        monkeypatch.delenv("XLA_FLAGS", raising=False)
    else:
        monkeypatch.setenv("XLA_FLAGS", before)
    monkeypatch.setattr(xla_cpu_flags, "_jaxlib_version", lambda: version)
    assert compile_quickly() is in_effect
    assert os.environ.get("XLA_FLAGS") == after


_PROGRAM = r"""
import os
from losslab.xla_cpu_flags import compile_quickly
on = compile_quickly()
import jax, jax.numpy as jnp
jax.config.update("jax_enable_x64", True)
x = jnp.linspace(0.0, 3.0, 7)
print(on, os.environ.get("XLA_FLAGS", ""), float(jax.jit(lambda v: jnp.sum(jnp.sin(v) * jnp.exp(-v)))(x)))
"""


def test_a_process_that_sets_it_compiles_and_agrees_with_numpy():
    import numpy as np

    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"} | {"PYTHONPATH": SRC, "JAX_PLATFORMS": "cpu"}
    run = subprocess.run([sys.executable, "-c", _PROGRAM], capture_output=True, text=True, env=env, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]  # under this jaxlib the option, if added, is accepted
    on, *flags, value = run.stdout.split()
    x = np.linspace(0.0, 3.0, 7)
    assert float(value) == pytest.approx(float(np.sum(np.sin(x) * np.exp(-x))), rel=1e-15)
    assert (flags == [OPTION]) == (on == "True")


@pytest.mark.parametrize(("argv", "added"), [(["solve", "all"], True), (["book", "--out", "x"], True),
                                             (["fit", "--model", "gabor"], False), (["serve"], False), ([], False)])
def test_only_solve_and_book_set_it_before_anything_starts(monkeypatch, argv, added):
    import losslab.cli as cli
    from losslab import compile_cache, launcher

    monkeypatch.delenv("XLA_FLAGS", raising=False)
    monkeypatch.setattr(xla_cpu_flags, "_jaxlib_version", lambda: "0.10.2")
    seen = {}
    monkeypatch.setattr(launcher, "start_workers_early", lambda args: seen.setdefault("flags_at_fork_server", os.environ.get("XLA_FLAGS")))
    monkeypatch.setattr(compile_cache, "enable", lambda *a: None)
    monkeypatch.setattr(cli, "app", lambda: None)
    monkeypatch.setattr(sys, "argv", ["losslab", *argv])
    launcher.main()
    assert seen["flags_at_fork_server"] == (OPTION if added else None)
