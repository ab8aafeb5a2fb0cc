"""`solve all` in several processes: the same results as one process, in the order asked, and a
pool that breaks leaves nothing unsolved."""

from __future__ import annotations

import pytest

from losslab.book import BookContext, default_workers, solve_many
from losslab.book import registry
from losslab.errors import LosslabError

CHEAP = ["6.10", "6.9", "6.2"]


def _comparable(result) -> dict:
    d = result.to_dict()
    d.pop("seconds")
    d["figures"] = [f.rsplit("/", 1)[-1] for f in d["figures"]]
    return d


def test_workers_give_the_one_process_results_in_the_order_asked(tmp_path):
    one = solve_many(CHEAP, BookContext(out_dir=tmp_path / "one"))
    seen, started = [], []
    two = solve_many(CHEAP, BookContext(out_dir=tmp_path / "two"), workers=2, on_done=lambda r: seen.append(r.problem),
                     on_start=started.append)
    assert [r.problem for r in two] == CHEAP == seen
    assert [_comparable(r) for r in two] == [_comparable(r) for r in one]
    assert all(r.passed for r in two)
    assert started and all(set(s.split(", ")) <= set(CHEAP) for s in started)
    # the figures were written by the workers where the parent's context says
    assert (tmp_path / "two" / "figures" / "p6_10_momentum_weights.png").stat().st_size > 1000


def _broken_init(cache_dir):
    raise RuntimeError("this worker never starts")


def test_a_broken_pool_leaves_nothing_unsolved(tmp_path, monkeypatch):
    # the workers cannot start (their initializer fails): every problem is solved in this process instead
    monkeypatch.setattr(registry, "_worker_init", _broken_init)
    results = solve_many(["6.9", "6.2"], BookContext(out_dir=tmp_path), workers=2)
    assert [r.problem for r in results] == ["6.9", "6.2"]
    assert all(r.passed for r in results)


def test_workers_must_be_a_positive_integer(tmp_path):
    with pytest.raises(LosslabError, match="'workers' parameter of solve_many"):
        solve_many(CHEAP, BookContext(out_dir=tmp_path), workers=0)


def test_default_workers_is_one_per_cpu_at_most_four(monkeypatch):
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    assert default_workers(11) == 2 and default_workers(1) == 1
    monkeypatch.setattr("os.cpu_count", lambda: 16)
    assert default_workers(11) == 4
    monkeypatch.setattr("os.cpu_count", lambda: None)
    assert default_workers(11) == 1


@pytest.mark.parametrize("argv, starts", [
    (["solve", "all"], True),
    (["solve", "all", "--json", "--out", "somewhere"], True),
    (["solve", "--out", "6.1", "all"], True),  # an option's value is not the problem
    (["solve", "6.1,6.2", "--workers=2"], True),
    (["book"], True),
    (["book", "--out", "x", "--problems", "6.1 6.9"], True),
    (["solve", "6.1"], False),
    (["solve", "all", "--workers", "1"], False),
    (["solve", "all", "--workers", "many"], False),  # typer reports it; nothing started
    (["book", "--problems=6.9"], False),
    (["solve", "all", "--help"], False),
    (["check", "sheet.md"], False),
    ([], False),
])
def test_the_command_line_starts_the_fork_server_first_only_when_workers_will_run(monkeypatch, argv, starts):
    from losslab import worker_server
    from losslab.launcher import start_workers_early

    calls = []
    monkeypatch.setattr(worker_server, "start", lambda: calls.append(True))
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    start_workers_early(argv)
    assert calls == ([True] if starts else [])


def test_importing_losslab_imports_no_jax_and_its_public_names_come_on_use():
    """The command line starts its workers before its own imports: `import losslab` must be cheap."""
    import subprocess
    import sys

    code = ("import sys, losslab; assert 'jax' not in sys.modules, 'jax imported'; import losslab.run; "
            "from losslab import gabor, Dataset; assert losslab.gabor is gabor and callable(gabor) and gabor().name == 'gabor'; "
            "assert 'Dataset' in dir(losslab); print('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "ok", out.stderr
    with pytest.raises(AttributeError, match="module 'losslab' has no attribute 'nothing_here'"):
        import losslab

        losslab.nothing_here  # noqa: B018


_ENV_SCRIPT = """
import json, os
from concurrent.futures import ProcessPoolExecutor
from losslab import worker_server
worker_server.start()
with ProcessPoolExecutor(1, mp_context=worker_server.context()) as pool:
    seen = pool.submit(os.getenv, "OPENBLAS_NUM_THREADS").result()
print(json.dumps({"worker": seen, "parent": os.getenv("OPENBLAS_NUM_THREADS")}))
"""


@pytest.mark.parametrize("user", [None, "3"])
def test_workers_run_one_blas_thread_each_unless_the_user_chose(user):
    # a fresh process: the fork server is one per process and takes its environment when it starts
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    if "forkserver" not in __import__("multiprocessing").get_all_start_methods():
        pytest.skip("no fork server on this platform")
    env = {k: v for k, v in os.environ.items() if k not in registry.worker_server.SINGLE_THREADED}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[1] / "src") + os.pathsep + os.environ.get("PYTHONPATH", "")
    if user is not None:
        env["OPENBLAS_NUM_THREADS"] = user
    out = json.loads(subprocess.run([sys.executable, "-c", _ENV_SCRIPT], env=env, check=True, capture_output=True, text=True).stdout)
    assert out == {"worker": user or "1", "parent": user}  # the caller's own environment is left as it was


def test_the_console_script_starts_the_workers_before_importing_the_command_line():
    """What `losslab` runs before the fork server starts imports nothing heavy (the preload would wait for it)."""
    import subprocess
    import sys

    code = ("import sys; from losslab import launcher, worker_server, xla_cpu_flags; "
            "print(' '.join(sorted(m for m in sys.modules if m.split('.')[0] in ('losslab', 'numpy', 'jax', 'typer', 'rich', 'sympy'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.split() == ["losslab", "losslab.launcher", "losslab.worker_server", "losslab.xla_cpu_flags"], out.stderr
