"""Bad input gets a clear error naming the parameter, what was expected and what was received."""

import numpy as np
import pytest
from typer.testing import CliRunner

import losslab as ll
from losslab.cli import app


def test_mismatched_lengths():
    with pytest.raises(ll.LosslabError, match=r"'x' and 'y' .* same length\. Got 3 x values and 2 y values"):
        ll.Dataset([1, 2, 3], [1, 2])


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_or_inf_in_data(bad):
    with pytest.raises(ll.LosslabError, match=r"'y' parameter .* must be finite .* index 1"):
        ll.Dataset([1.0, 2.0, 3.0], [0.0, bad, 1.0])


def test_wrong_parameter_count():
    obj = ll.make_objective("shallow")
    with pytest.raises(ll.LosslabError, match=r"'params' parameter of model 'shallow' must have 10 entries .*Got shape \(2,\)"):
        obj.value([0.1, 0.2])


def test_non_finite_parameters():
    with pytest.raises(ll.LosslabError, match="must be finite"):
        ll.make_objective("linear").grad([np.nan, 1.0])


def test_unknown_names():
    with pytest.raises(ll.LosslabError, match=r"'data' parameter must be one of .*'book:linear'.*Got 'book:cubic'"):
        ll.load_dataset("book:cubic")
    with pytest.raises(ll.LosslabError, match=r"'model' parameter must be one of .*Got 'quadratic'"):
        ll.get_model("quadratic")
    with pytest.raises(ll.LosslabError, match=r"'reduction' parameter of Objective must be one of 'sum', 'mean'\. Got 'avg'"):
        ll.make_objective("linear", reduction="avg")


def test_non_binary_labels_for_bce():
    with pytest.raises(ll.LosslabError, match=r"labels .* must be 0 or 1 .* Got \[0\.5\]"):
        ll.make_objective("logistic", ll.Dataset([1.0, 2.0], [0.0, 0.5]))


def test_dense_hessian_of_a_large_model_is_refused_with_an_estimate():
    obj = ll.Objective(ll.mlp((1, 100, 100, 1)), ll.Dataset([0.0, 1.0], [0.0, 1.0]))
    with pytest.raises(ll.LosslabError, match=r"needs .* GiB .* Use hvp\(\)"):
        obj.hessian(obj.model.init(0))


def test_bad_csv(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("x,y\n1,2\n3,abc\n")
    with pytest.raises(ll.LosslabError, match=r"Row 3 .* must hold two numbers"):
        ll.load_dataset(str(path))


def test_cli_reports_bad_input_in_one_line_without_a_traceback():
    result = CliRunner().invoke(app, ["loss", "--model", "linear", "--params", "1,2,3"])
    assert isinstance(result.exception, ll.LosslabError)  # main() turns this into exit 2
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-c", "from losslab.cli import main; main()", "loss", "--model", "linear", "--params", "1,x"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert "'--params' option must be comma-separated numbers" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_cli_loss_prints_the_check_value_as_json():
    import json

    result = CliRunner().invoke(app, ["loss", "--model", "gabor", "--params", "0.6,-0.2", "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert round(payload["loss"], 3) == 16.419
    np.testing.assert_allclose(payload["grad_autodiff"], payload["grad_analytic"], rtol=1e-12)
