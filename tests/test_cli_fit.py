"""``losslab fit``: the documented command line, its JSON, its figure, and its errors (exit status 2)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from typer.testing import CliRunner

from losslab import make_objective
from losslab.cli import app, main
from losslab.run import run

BOOK_6_4 = ["fit", "--model", "gabor", "--data", "book:gabor", "--optimizer", "momentum", "--lr", "0.6", "--beta", "0.6",
            "--batch-size", "5", "--steps", "81", "--seed", "1", "--init", "-1.5,6.5"]


def invoke(args):
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, (result.output, result.exception)
    return result.output


def test_fit_json_matches_the_engine():
    out = json.loads(invoke([*BOOK_6_4, "--json"]))
    ref = run(make_objective("gabor", "book:gabor"), "momentum", [-1.5, 6.5], steps=81, batch_size=5, seed=1, learning_rate=0.6, beta=0.6)
    assert out["steps"] == 81 and out["epochs"] == 13 and out["examples_seen"] == 405 and out["diverged"] is False
    np.testing.assert_allclose(out["params"], ref.final_params, rtol=1e-12)
    assert out["loss"] == pytest.approx(ref.final_loss, rel=1e-12)
    assert len(out["trajectory"]) == 82
    assert out["trajectory"][0] == {**out["trajectory"][0], "step": 0, "params": [-1.5, 6.5]}
    assert {"step", "params", "loss"} <= set(out["trajectory"][-1])
    assert out["reduction"] == "sum"


def test_fit_mean_reduction_and_line_search():
    out = json.loads(invoke(["fit", "--model", "linear", "--optimizer", "gd", "--line-search", "four_point", "--max-dist", "0.1",
                             "--steps", "10", "--init", "1.6,-0.5", "--reduction", "mean", "--json"]))
    assert out["reduction"] == "mean"
    losses = [p["loss"] for p in out["trajectory"]]
    assert all(b < a for a, b in zip(losses, losses[1:]))
    mean_obj = make_objective("linear", reduction="mean")
    assert out["loss"] == pytest.approx(float(mean_obj.value(out["params"])), rel=1e-12)


def test_fit_reports_divergence_as_a_result():
    out = json.loads(invoke(["fit", "--model", "linear", "--optimizer", "gd", "--lr", "1.0", "--steps", "200", "--init", "1.6,-0.5", "--json"]))
    assert out["diverged"] is True and out["message"] == f"diverged at step {out['diverged_at']}"
    text = invoke(["fit", "--model", "linear", "--optimizer", "gd", "--lr", "1.0", "--steps", "200", "--init", "1.6,-0.5"])
    assert f"diverged at step {out['diverged_at']}" in text


def test_fit_plot_and_notebook_function(tmp_path):
    figure = tmp_path / "run.png"
    text = invoke(["fit", "--model", "fn:6.5", "--optimizer", "adam", "--lr", "0.05", "--beta", "0.9", "--gamma", "0.99",
                   "--steps", "60", "--init", "-0.7,-0.9", "--plot", str(figure)])
    assert "finished after 60 steps" in text
    assert figure.stat().st_size > 10_000 and figure.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize(
    "extra,fragment",
    [
        (["--lr", "0"], "'--lr' parameter must be > 0. Got 0.0 instead."),
        (["--lr", "-0.5"], "'--lr' parameter must be > 0. Got -0.5 instead."),
        (["--lr", "0.1", "--beta", "1.0"], "'--beta' parameter must be >= 0.0 and < 1.0. Got 1.0 instead."),
        (["--lr", "0.1", "--beta", "-0.2"], "'--beta' parameter must be >= 0.0 and < 1.0. Got -0.2 instead."),
        (["--lr", "0.1", "--batch-size", "0"], "'--batch-size' parameter must be >= 1 and <= 30. Got 0 instead."),
        (["--lr", "0.1", "--batch-size", "31"], "'--batch-size' parameter must be >= 1 and <= 30. Got 31 instead."),
        (["--lr", "0.1", "--steps", "0"], "'--steps' parameter must be >= 1. Got 0 instead."),
        (["--lr", "0.1", "--optimizer", "adagrad"], "'--optimizer' parameter must be one of 'gd', 'sgd'"),
        (["--lr", "0.1", "--reduction", "median"], "'--reduction' parameter must be one of 'sum', 'mean'. Got 'median' instead."),
        (["--lr", "0.1", "--init", "1,2,3"], "'--init' option must have 2 numbers (phi_0, phi_1). Got 3 instead."),
    ],
)
def test_bad_input_is_one_clear_line_and_exit_status_2(monkeypatch, capsys, extra, fragment):
    optimizer = [] if "--optimizer" in extra else ["--optimizer", "momentum"]
    args = ["losslab", "fit", "--model", "gabor", *optimizer, *extra]
    monkeypatch.setattr(sys, "argv", args)
    with pytest.raises(SystemExit) as info:
        main()
    assert info.value.code == 2
    err = " ".join(capsys.readouterr().err.split())
    assert fragment in err and "Traceback" not in err


def test_console_script_end_to_end():
    launcher = "import sys; from losslab.cli import main; sys.argv = ['losslab'] + sys.argv[1:]; main()"
    proc = subprocess.run([sys.executable, "-c", launcher, *BOOK_6_4, "--json"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["examples_seen"] == 405
    bad = subprocess.run(
        [sys.executable, "-c", launcher, "fit", "--model", "gabor", "--lr", "0.1", "--batch-size", "31"],
        capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "batch-size" in bad.stderr and "Traceback" not in bad.stderr


def test_an_unknown_model_is_refused_with_every_name_fit_takes(monkeypatch, capsys):
    from losslab.models import MODEL_NAMES
    from losslab.presets import NOTEBOOK_FUNCTIONS

    monkeypatch.setattr(sys, "argv", ["losslab", "fit", "--model", "nb6_5", "--steps", "3", "--lr", "0.1"])
    with pytest.raises(SystemExit) as info:
        main()
    assert info.value.code == 2
    err = " ".join(capsys.readouterr().err.split())
    for name in (*MODEL_NAMES, *NOTEBOOK_FUNCTIONS):
        assert repr(name) in err
    assert "Got 'nb6_5' instead." in err and "Traceback" not in err
