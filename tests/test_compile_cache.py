"""The persistent compilation cache: the user's cache folder (XDG_CACHE_HOME respected, never the
repository), off when unwritable, and a second process really reuses what the first compiled."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from losslab.compile_cache import cache_dir, enable

SRC = str(Path(__file__).resolve().parents[1] / "src")


def test_cache_folder_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.delenv("LOSSLAB_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cache_dir() == tmp_path / "losslab" / "jax"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/dir")  # invalid per the XDG spec: ignored
    assert cache_dir() == Path.home() / ".cache" / "losslab" / "jax"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert cache_dir() == Path.home() / ".cache" / "losslab" / "jax"
    monkeypatch.setenv("LOSSLAB_CACHE_DIR", str(tmp_path / "mine"))
    assert cache_dir() == tmp_path / "mine"
    monkeypatch.setenv("LOSSLAB_CACHE_DIR", "")
    assert cache_dir() is None and enable() is None


def test_unwritable_folder_leaves_the_cache_off(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    assert enable(blocker / "jax") is None  # cannot be created: no error, no cache


_PROGRAM = r"""
import sys, jax, jax.numpy as jnp
from jax import monitoring
from losslab.compile_cache import enable
hits = []
monitoring.register_event_listener(lambda event, **kw: hits.append(event) if event == "/jax/compilation_cache/cache_hits" else None)
print(enable(sys.argv[1]))
print(float(jax.jit(lambda x: jnp.sin(x) * 3.0 + x ** 2)(2.0)))
print("hits", len(hits))
"""


def test_second_process_reads_the_first_ones_programs(tmp_path):
    folder = tmp_path / "cache"
    env = dict(os.environ, PYTHONPATH=SRC, JAX_PLATFORMS="cpu")
    runs = [subprocess.run([sys.executable, "-c", _PROGRAM, str(folder)], check=False, capture_output=True, text=True, env=env, timeout=120)
            for _ in range(2)]
    for r in runs:
        assert r.returncode == 0, r.stderr[-2000:]
    first, second = (r.stdout.split() for r in runs)
    assert first[0] == str(folder) and any(folder.iterdir())
    assert first[1] == second[1]
    assert first[-1] == "0" and int(second[-1]) >= 1
