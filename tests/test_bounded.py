"""The hard bound: a function in a worker process, killed at its deadline or above its memory cap."""

from __future__ import annotations

import time

import pytest

from losslab.bounded import BoundExceeded, run_bounded
from losslab.errors import LosslabError


def test_result_comes_back_and_a_losslab_error_keeps_its_message():
    assert run_bounded(sum, [1, 2, 3], seconds=120, memory_bytes=2**30, what="A sum") == 6
    from losslab.errors import check_number

    with pytest.raises(LosslabError, match=r"The 'rate' parameter must be a number\. Got 'abc' instead\."):
        run_bounded(check_number, "rate", "abc", seconds=120, memory_bytes=2**30, what="A check")


def test_the_deadline_kills_work_that_would_not_stop():
    with pytest.raises(BoundExceeded, match=r"A sleep did not finish within its time limit of 3 s and was stopped\."):
        run_bounded(time.sleep, 3600, seconds=3, memory_bytes=None, what="A sleep")


def test_the_memory_cap_stops_an_allocation_above_it():
    with pytest.raises(BoundExceeded, match=r"An allocation needed more than its memory limit of 64\.0 MiB"):
        run_bounded(bytearray, 8 * 2**30, seconds=120, memory_bytes=64 * 2**20, what="An allocation")


def test_a_cancelled_request_stops_the_work():
    with pytest.raises(BoundExceeded, match="was stopped: the request was cancelled"):
        run_bounded(time.sleep, 3600, seconds=600, memory_bytes=None, what="A sleep", cancelled=lambda: True)


def test_check_cli_is_bounded(tmp_path, monkeypatch, capsys):
    from losslab.cli import main

    sheet = tmp_path / "s.md"
    sheet.write_text("# Problem 6.1\n$$\\frac{\\partial L}{\\partial \\phi_0} = 2$$\n")
    monkeypatch.setattr("sys.argv", ["losslab", "check", str(sheet), "--time-limit", "0.001"])
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "did not finish within its time limit of 0.001 s and was stopped." in " ".join(err.split())
