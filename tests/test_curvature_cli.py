"""`losslab hessian`: JSON numbers against the dense Hessian; bad options refused with exit code 2."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from losslab import make_objective
from losslab.cli import app, main

runner = CliRunner()


def test_hessian_json_gabor_matches_dense():
    res = runner.invoke(app, ["hessian", "--model", "gabor", "--params", "0.6,-0.2", "--top-k", "2", "--reduction", "sum", "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    h = np.asarray(make_objective("gabor").hessian(np.array([0.6, -0.2])))
    np.testing.assert_allclose(out["top_eigenvalues"], np.linalg.eigvalsh(h)[::-1], rtol=1e-10)
    assert out["trace"] == pytest.approx(np.trace(h), rel=1e-12)
    assert out["trace_stderr"] == 0.0
    assert out["parameters"] == 2 and out["seconds"] > 0


def test_hessian_json_small_mlp_fields(tmp_path):
    fig = tmp_path / "density.png"
    res = runner.invoke(
        app,
        ["hessian", "--model", "mlp", "--widths", "1,6,1", "--points", "25", "--top-k", "2", "--bottom-k", "1",
         "--trace-samples", "12", "--density", str(fig), "--json"],
    )
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["parameters"] == 19 and out["points"] == 25
    assert {"top_eigenvalues", "trace", "trace_stderr", "seconds", "bottom_eigenvalues"} <= set(out)
    # rebuild the same objective: the CLI's synthetic data are seeded
    from losslab import Objective, mlp
    from losslab.cli.hessian import _synthetic

    obj = Objective(mlp((1, 6, 1)), _synthetic((1, 6, 1), 25, 0), reduction="mean")
    h = np.asarray(obj.hessian(obj.model.init(0)))
    ev = np.linalg.eigvalsh(h)
    np.testing.assert_allclose(out["top_eigenvalues"], ev[::-1][:2], rtol=1e-8)
    np.testing.assert_allclose(out["bottom_eigenvalues"], ev[:1], rtol=1e-6, atol=1e-9)
    assert abs(out["trace"] - np.trace(h)) < 5 * out["trace_stderr"]
    assert fig.stat().st_size > 1000


def test_hessian_text_output():
    res = runner.invoke(app, ["hessian", "--model", "linear", "--top-k", "1"])
    assert res.exit_code == 0, res.output
    assert "top eigenvalues" in res.stdout and "trace" in res.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (["--model", "gabor", "--top-k", "3"], "must be <= 2"),
        (["--model", "mlp", "--widths", "1,a,1"], "'--widths' option"),
        (["--model", "mlp", "--widths", "1,4,1", "--top-k", "0"], "'--top-k' parameter"),
        (["--model", "mlp", "--widths", "1,4,1", "--trace-samples", "1"], "'--trace-samples' parameter"),
    ],
)
def test_bad_options_exit_2(monkeypatch, capsys, args, message):
    monkeypatch.setattr("sys.argv", ["losslab", "hessian", *args])
    with pytest.raises(SystemExit) as exc:
        main()
    assert exc.value.code == 2
    assert message in capsys.readouterr().err.replace("\n", " ")


def test_landscape_command_json_and_figure(tmp_path):
    fig = tmp_path / "land.png"
    res = runner.invoke(app, ["landscape", "--model", "linear", "--range0", "-1,2", "--range1", "-1,1",
                              "--resolution", "4", "--min-eigenvalue", "--out", str(fig), "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    obj = make_objective("linear")
    i, j = 2, 1
    expected = float(obj.value([out["phi0"][i], out["phi1"][j]]))
    assert out["loss"][j][i] == pytest.approx(expected, rel=1e-13)
    assert out["convex_fraction"] == 1.0 and fig.stat().st_size > 3000


def test_landscape_command_refuses_huge_grid(monkeypatch, capsys):
    monkeypatch.setattr("sys.argv", ["losslab", "landscape", "--resolution", "30000"])
    with pytest.raises(SystemExit) as exc:
        main()
    assert exc.value.code == 2
    # the grid is held up to four times (device rows, their stack, the NumPy copy, the reordered result)
    assert "needs 26.8 GiB, limit 4.0 GiB" in capsys.readouterr().err.replace("\n", " ")


def test_hessian_command_refuses_a_model_too_big_for_memory_before_allocating_it(monkeypatch, capsys):
    # 900 million parameters: 38 vectors of P alone are 255 GiB; nothing may be allocated first
    monkeypatch.setattr("sys.argv", ["losslab", "hessian", "--model", "mlp", "--widths", "1,30000,30000,1", "--top-k", "2"])
    with pytest.raises(SystemExit) as exc:
        main()
    assert exc.value.code == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "900,120,001 parameters" in err and "limit 4.0 GiB" in err and "--memory-limit" in err
    need = float(err.split("needs ")[1].split(" GiB")[0])
    assert need >= 38 * 8 * 900_120_001 / 2**30


def test_curvature_memory_estimate_counts_the_basis_and_the_activations():
    import losslab as ll
    from losslab.curvature import estimate_bytes, top_eigenvalues
    from losslab.errors import LosslabError

    obj = ll.Objective(ll.mlp((1, 400, 1)), ll.Dataset(np.linspace(-1, 1, 500), np.zeros(500)))
    p = obj.n_params
    basis_only = 8 * p * 40
    est = estimate_bytes(obj, vectors=40)
    # the hidden layer's pre-activations (500 x 400 float64) are kept by the linearisation
    assert est >= basis_only + 500 * 400 * 8
    assert est < basis_only + 50 * 500 * 400 * 8
    with pytest.raises(LosslabError, match=r"needs .* MiB, limit 1\.0 MiB; use fewer iterations"):
        top_eigenvalues(obj, obj.model.init(0), 2, memory_limit=2**20)


def test_hessian_command_flags_unconverged_eigenvalues_as_bounds():
    res = runner.invoke(app, ["hessian", "--model", "mlp", "--widths", "1,12,1", "--points", "40", "--top-k", "3",
                              "--iters", "3", "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert len(out["top_converged"]) == 3 and not all(out["top_converged"])
    # Ritz values from a Krylov subspace never exceed the true eigenvalues of the same rank
    import losslab as ll
    from losslab.cli.hessian import _synthetic

    obj = ll.Objective(ll.mlp((1, 12, 1)), _synthetic((1, 12, 1), 40, 0), reduction="mean")
    exact = np.sort(np.linalg.eigvalsh(np.asarray(obj.hessian(obj.model.init(0)))))[::-1][:3]
    assert np.all(np.asarray(out["top_eigenvalues"]) <= exact + 1e-9 * abs(exact[0]))
    text = runner.invoke(app, ["hessian", "--model", "mlp", "--widths", "1,12,1", "--points", "40", "--top-k", "3",
                               "--iters", "3"]).output
    assert "have not converged" in text and "lower bounds" in " ".join(text.split())
