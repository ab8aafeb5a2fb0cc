"""Hypothesis drives every option of every command with hostile values (typer's CliRunner, in process).

Whatever the values, a command ends in one of three ways: exit 0/1 (it ran; 1 = a check failed), a
usage error from click (exit 2, "Invalid value for ..."), or a LosslabError (the console script prints
its one line and exits 2). Never any other exception: a traceback is a failure here. The options are read
from the app itself, so a new option is fuzzed without editing this file. The value pools hold the
issue's hostile values (huge, negative, non-finite, malformed, paths that are folders, unwritable or the
user's) and a few valid ones; the workloads they can start are small or refused up front, and the
commands whose valid runs are long (solve, book, check, serve) have their engine call replaced by a
stand-in, so their option parsing and validation are what is fuzzed here.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
import typer.main
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from losslab.cli import app, describe_failure
from losslab.errors import LosslabError

COMMAND = typer.main.get_command(app)

HOSTILE = [
    "0", "-1", "1", "3", "0.5", "nan", "inf", "-inf", "1e308", "-1e300,1e300", "99999999999999999999", "", "x",
    "1,2", "1,4,1", "2,8,1", "0,0,0", "1,100000,100000,1", "book:gabor", "book:shallow", "logistic:99999999999999999999",
    "three.csv", "bad.npz", "missing.csv", "out.png", "mine.png", "userdir", "missing/a.png", "/proc/a.png", "a.xyz",
    "all", "6.1", "6.12", "mlp", "gabor", "fn:6.1", "adam", "sum",
]
ARGUMENTS = {"problem": ["6.12", "0", "x", "", "6.1,6.99", "all"], "sheet": ["missing.md", "userdir", "bad.npz", "empty.md", "sheet.md"]}


def _options(name: str):
    sub = COMMAND.commands[name]
    return [p for p in sub.params if p.param_type_name == "option"], [p for p in sub.params if p.param_type_name == "argument"]


@st.composite
def command_lines(draw, name: str):
    options, arguments = _options(name)
    argv = [name]
    for arg in arguments:
        argv.append(draw(st.sampled_from(ARGUMENTS.get(arg.name, HOSTILE))))
    for opt in draw(st.lists(st.sampled_from(options), max_size=5, unique_by=lambda p: p.name)) if options else []:
        if getattr(opt, "is_flag", False):
            argv.append(opt.opts[0])
        else:
            argv += [opt.opts[0], draw(st.sampled_from(HOSTILE))]
    return argv


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    here = tmp_path_factory.mktemp("fuzz")
    np.savez(here / "ok.npz", x=np.arange(3.0), y=np.arange(3.0))
    (here / "bad.npz").write_bytes((here / "ok.npz").read_bytes()[:100])
    (here / "three.csv").write_text("1,2,3\n4,5,6\n")
    (here / "userdir").mkdir()
    (here / "userdir" / "index.html").write_text("mine")
    (here / "mine.png").write_bytes(b"\x89PNG mine")
    (here / "empty.md").write_text("")
    (here / "sheet.md").write_text("# Problem 6.1\n$$\\frac{\\partial L}{\\partial \\phi_0} = 2$$\n")
    return here


@pytest.fixture
def stand_ins(monkeypatch):
    """The long-running engine calls of solve/book/check/serve, replaced after validation."""
    from losslab.book import BookContext, ProblemResult

    def fake_solve(name, ctx: BookContext | None = None):
        return ProblemResult(problem=name, title="t", statement="s", answer={}, summary="", checks=[])

    monkeypatch.setattr("losslab.book.solve", fake_solve)
    monkeypatch.setattr("losslab.book.solve_many", lambda names, ctx=None, **kw: [fake_solve(n) for n in names])
    monkeypatch.setattr("losslab.cli.check.check_bounded", lambda text, **kw: [])
    monkeypatch.setattr("losslab.cli.serve.run_server", lambda *a, **kw: None)


def _verdict(result) -> None:
    exc = result.exception
    if exc is None or isinstance(exc, SystemExit):
        assert result.exit_code in (0, 1, 2), result.output
        assert "Traceback" not in result.output, result.output
        return
    message = describe_failure(exc)
    assert message is not None, f"{type(exc).__name__}: {exc}"  # anything else would be a traceback
    if isinstance(exc, LosslabError):
        assert "\n" not in message.strip(), message


# a few seconds per command in the suite; LOSSLAB_FUZZ_EXAMPLES=200 LOSSLAB_FUZZ_RANDOM=1 for a longer hunt
FUZZ = settings(max_examples=int(os.environ.get("LOSSLAB_FUZZ_EXAMPLES", "8")), deadline=None,
                derandomize=not os.environ.get("LOSSLAB_FUZZ_RANDOM"), database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@pytest.mark.parametrize("name", sorted(COMMAND.commands))
def test_every_option_of_every_command(name, sandbox, stand_ins, monkeypatch):
    monkeypatch.chdir(sandbox)
    runner = CliRunner()

    @FUZZ
    @given(argv=command_lines(name))
    def fuzz(argv):
        _verdict(runner.invoke(app, argv))

    fuzz()
    assert (sandbox / "userdir" / "index.html").read_text() == "mine"
    assert (sandbox / "mine.png").read_bytes() == b"\x89PNG mine"
