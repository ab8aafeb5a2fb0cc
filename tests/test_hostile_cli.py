"""Issue 16's hostile inputs to the command line, each: exit 2, one line naming the option, no traceback,
and nothing of the user's touched. The heavy cases (each once a crash, a hang or gigabytes) run in one
child process whose address space is capped, so a regression that allocates first fails here instead
of taking the machine."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
ADDRESS_SPACE = 12 * 2**30  # far below what any of these cases used before the fixes (up to 30 GiB)

_RUNNER = textwrap.dedent(
    """
    import io, json, resource, sys, contextlib
    resource.setrlimit(resource.RLIMIT_AS, ({limit}, {limit}))
    from losslab.cli import main
    out = []
    for argv in json.loads(sys.argv[1]):
        err, std = io.StringIO(), io.StringIO()
        sys.argv = ["losslab", *argv]
        code = 0
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(std):
            try:
                main()
            except SystemExit as exit:
                code = exit.code if isinstance(exit.code, int) else 1
            except BaseException as exc:  # a traceback: reported, the test fails
                import traceback
                code = "traceback"
                err.write(traceback.format_exc())
        out.append({{"argv": argv, "code": code, "err": err.getvalue(), "out": std.getvalue()[-2000:], "out_len": len(std.getvalue())}})
    print(json.dumps(out))
    """
)


def run_many_cli(cases: list[list[str]], cwd: Path) -> list[dict]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT / "src") + os.pathsep + env.get("PYTHONPATH", "")
    env["COLUMNS"] = "200"
    proc = subprocess.run([sys.executable, "-c", _RUNNER.format(limit=ADDRESS_SPACE), json.dumps(cases)],
                          capture_output=True, text=True, env=env, cwd=cwd, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def one_line_error(result: dict, *fragments: str) -> None:
    err = result["err"]
    assert result["code"] == 2, result
    assert "Traceback" not in err, err
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert lines and lines[0].startswith("error:"), err
    flat = " ".join(err.split())
    for fragment in fragments:
        assert fragment in flat, (fragment, flat)


def _bomb(path: Path) -> None:
    """A valid-looking NPZ whose directory says 'x.npy' unpacks to ~4 GiB (the bytes themselves are tiny)."""
    np.savez(path, x=np.arange(3.0), y=np.arange(3.0))
    data = bytearray(path.read_bytes())
    at = data.find(b"PK\x01\x02")  # the first central-directory entry: uncompressed size at offset 24
    data[at + 24 : at + 28] = (0xFFFFFFF0).to_bytes(4, "little")
    path.write_bytes(bytes(data))
    with zipfile.ZipFile(path) as z:
        assert z.infolist()[0].file_size == 0xFFFFFFF0


HEAVY = [
    # argv, fragments of the one line
    (["fit", "--data", "bad.npz", "--lr", "0.1"], ["'bad.npz' must be a valid NPZ archive"]),
    (["fit", "--data", "bomb.npz", "--lr", "0.1"], ["'bomb.npz' (decompressed) needs", "limit 4.0 GiB"]),
    (["fit", "--data", "three.csv", "--lr", "0.1"], ["Row 1 of CSV data 'three.csv' must have two columns (x, y). Got 3 instead."]),
    (["fit", "--model", "mlp", "--data", "book:shallow", "--widths", "2,8,1", "--lr", "0.1"],
     ["'widths' parameter of mlp[2,8,1] must start with 1", "Got 2,8,1 instead."]),
    (["fit", "--lr", "0.1", "--plot", "no/such/folder/a.png"], ["'--plot' option must name a file in an existing folder"]),
    (["fit", "--lr", "0.1", "--plot", "/proc/a.png"], ["'--plot' option must name a place losslab can write"]),
    (["fit", "--lr", "0.1", "--plot", "out.xyz"], ["'--plot' option must be a file ending in .png, .svg, .pdf. Got 'out.xyz'"]),
    (["fit", "--lr", "0.1", "--plot", "userdir"], ["'--plot' option must be a file ending in"]),
    (["fit", "--lr", "0.1", "--plot", "mine.png"], ["'--plot' option names an existing file that losslab did not write"]),
    (["hessian", "--density", "no/such/folder/d.png"], ["'--density' option must name a file in an existing folder"]),
    (["landscape", "--out", "userdir"], ["'--out' option must be a file ending in .png, .svg, .pdf. Got 'userdir'"]),
    (["book", "--out", "mine.png"], ["'--out' option must be a folder, not a file"]),
    (["book", "--out", "userdir"], ["folder 'userdir' holds 'index.html', which losslab did not write"]),
    (["book", "--out", "linkdir"], ["'--out' option must not be a symbolic link"]),
    (["book", "--out", "withlink"], ["holds a symbolic link 'results.json'"]),
    (["solve", "6.3", "--out", "mine.png"], ["'--out' option must be a folder, not a file"]),
    (["fit", "--lr", "0.1", "--seed", "99999999999999999999"], ["'--seed' parameter must be >= 0 and <= 4294967295"]),
    (["hessian", "--seed", "99999999999999999999"], ["'--seed' parameter", "<= 4294967295"]),
    (["fit", "--model", "mlp", "--data", "book:shallow", "--widths", "1,100000,100000,1", "--lr", "0.1"],
     ["10,000,400,001 parameters needs", "limit 4.0 GiB"]),
    (["fit", "--model", "mlp", "--data", "book:shallow", "--widths", "1,20000,20000,1", "--lr", "0.1"],
     ["400,080,001 parameters needs", "limit 4.0 GiB"]),
    (["hessian", "--points", "1000000000"], ["1,000,000,000 synthetic data points needs 29.8 GiB, limit 4.0 GiB"]),
    (["landscape", "--resolution", "20000"], ["20000x20000 grid over 30 points needs", "use a smaller resolution"]),
    (["landscape", "--resolution", "15000"], ["15000x15000 grid over 30 points needs", "limit 4.0 GiB"]),
    (["landscape", "--json", "--resolution", "8000"], ["JSON of a 8000x8000 grid would print 64,000,000 numbers", "limit 256 MiB"]),
    (["fit", "--lr", "0.1", "--steps", "10000000", "--json"], ["JSON of 10,000,001 steps of 2 parameters would print"]),
    (["fit", "--lr", "0.1", "--decay-every", "2", "--decay-factor", "0"], ["'--decay-factor' parameter must be > 0 and <= 1. Got 0.0"]),
    (["fit", "--model", "gabor", "--widths", "1,8,1", "--lr", "0.1"], ["'--widths' option applies only to --model mlp"]),
    (["loss", "--model", "gabor", "--widths", "1,8,1", "--params", "1,2"], ["'--widths' option applies only to --model mlp"]),
    (["fit", "--model", "fn:6.1", "--data", "book:linear", "--lr", "0.1"], ["'--data' option does not apply to --model fn:6.1"]),
    (["fit", "--data", "huge.csv", "--lr", "0.1"], ["loss at the starting parameters overflows float64"]),
    (["serve", "--host", "no.such.host", "--port", "1"], ["'host' option must be an interface name or address", "does not resolve"]),
]


@pytest.fixture(scope="module")
def heavy_results(tmp_path_factory):
    here = tmp_path_factory.mktemp("hostile")
    np.savez(here / "ok.npz", x=np.arange(3.0), y=np.arange(3.0))
    (here / "bad.npz").write_bytes((here / "ok.npz").read_bytes()[:100])
    _bomb(here / "bomb.npz")
    (here / "three.csv").write_text("1,2,3\n4,5,6\n")
    (here / "huge.csv").write_text("1e308,1e308\n2,3\n")
    (here / "userdir").mkdir()
    (here / "userdir" / "index.html").write_text("the user's own page")
    (here / "mine.png").write_bytes(b"\x89PNG the user's picture")
    (here / "elsewhere").mkdir()
    (here / "linkdir").symlink_to(here / "elsewhere")
    (here / "withlink").mkdir()
    (here / "withlink" / ".losslab-manifest.json").write_text('{"files": ["results.json"]}')
    (here / "withlink" / "results.json").symlink_to(here / "mine.png")
    results = run_many_cli([argv for argv, _ in HEAVY], here)
    return here, {tuple(r["argv"]): r for r in results}


@pytest.mark.parametrize(("argv", "fragments"), HEAVY, ids=[" ".join(a)[:60] for a, _ in HEAVY])
def test_hostile_case_is_one_line_and_exit_2(heavy_results, argv, fragments):
    _, results = heavy_results
    one_line_error(results[tuple(argv)], *fragments)


def test_nothing_of_the_users_was_touched(heavy_results):
    here, _ = heavy_results
    assert (here / "userdir" / "index.html").read_text() == "the user's own page"
    assert (here / "mine.png").read_bytes() == b"\x89PNG the user's picture"
    assert sorted(p.name for p in here.iterdir() if p.name.startswith(".")) == []  # no staging folder left behind
    assert not (here / "userdir.png").exists()


def test_a_wide_mlp_prints_a_short_table_and_a_1e300_range_computes(tmp_path):
    results = run_many_cli([
        ["fit", "--model", "mlp", "--data", "book:shallow", "--widths", "1,4000,4000,1", "--lr", "1e-9", "--steps", "1"],
        ["landscape", "--range0", "-1e300,1e300", "--resolution", "5", "--json"],
    ], tmp_path)
    wide, far = results
    assert wide["code"] == 0, wide
    assert "(16,016,001 parameters)" in " ".join(wide["out"].split()) and wide["out_len"] < 10_000
    assert far["code"] == 0, far
    land = json.loads(far["out"])
    # phi_0 = +-1e300 and +-5e299: the Gabor envelope is 0 there, so the loss is sum y_i^2 (model output 0)
    from losslab.data import load_dataset

    y = load_dataset("book:gabor").y
    loss = np.array(land["loss"], dtype=float)
    np.testing.assert_allclose(loss[:, [0, 1, 3, 4]], np.sum(y**2), rtol=1e-12)


def test_an_unreadable_csv_is_an_error_naming_the_file(tmp_path, monkeypatch):
    from losslab.data import from_csv
    from losslab.errors import LosslabError

    path = tmp_path / "locked.csv"
    path.write_text("1,2\n")

    def denied(self, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_text", denied)
    with pytest.raises(LosslabError, match=r"The CSV file '.*locked\.csv' cannot be read: Permission denied\."):
        from_csv(path)


def test_an_index_table_too_large_is_refused_before_it_exists():
    from losslab.errors import LosslabError
    from losslab.sampler import Sampler

    # 4e9 steps x 5 examples: 20e9 slots of int32 + bool (and the permutations) would be ~190 GiB
    with pytest.raises(LosslabError, match=r"minibatch index table of 4,000,000,000 steps x 5 examples needs .* limit 4\.0 GiB"):
        Sampler(30, 5, seed=0).batches(4_000_000_000)


def test_run_many_counts_loss_records_when_it_keeps_only_the_loss():
    from losslab import make_objective
    from losslab.errors import LosslabError
    from losslab.run import run_many

    obj = make_objective("gabor")
    with pytest.raises(LosslabError, match=r"Recording 1,000 runs x 100,000,001 steps of 2 parameters \(record='loss'\) needs"):
        run_many(obj, "gd", np.zeros((100, 2)), steps=100_000_000, learning_rates=np.linspace(0.01, 0.1, 10), record="loss")


def test_an_overflowing_quantity_is_null_with_a_note_naming_it():
    from typer.testing import CliRunner

    from losslab.cli import app

    result = CliRunner().invoke(app, ["loss", "--model", "gabor", "--params", "1e308,1e308", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    # at phi = 1e308 the factor exp(-z^2 / 32) is 0 in float64, so the true gradient is 0: the formula and
    # autodiff agree on it; the Hessian's second derivatives meet 0 * inf and are null, each named in a note
    assert out["grad_analytic"] == out["grad_autodiff"] == [0.0, 0.0] and np.isfinite(out["loss"])
    nulls = [k for k, v in enumerate(sum(out["hessian_autodiff"], [])) if v is None]
    assert nulls and any(note.startswith("hessian_autodiff[0, 0]") and "not finite in float64" in note
                         for note in out["notes"])
    values = {k: v for k, v in out.items() if k not in ("notes", "objective")}
    assert '"inf"' not in json.dumps(values) and "NaN" not in json.dumps(values)  # never a string or a bare NaN


def test_a_run_that_overflows_has_its_nulls_named_in_notes():
    from typer.testing import CliRunner

    from losslab import make_objective
    from losslab.cli import app
    from losslab.run import run

    result = CliRunner().invoke(app, ["fit", "--lr", "1e200", "--steps", "5", "--json", "--init", "0,0"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    direct = run(make_objective("linear"), "gd", [0.0, 0.0], steps=5, learning_rate=1e200)
    assert not np.isfinite(direct.final_loss) and direct.diverged_at == 1  # (1e200 * gradient)^2 overflows
    assert out["loss"] is None and out["trajectory"][1]["loss"] is None and out["diverged_at"] == 1
    assert out["notes"][:2] == ["loss: not finite in float64 (overflow or 0 * inf), shown as null",
                                "trajectory.loss[1]: not finite in float64 (overflow or 0 * inf), shown as null"]
    calm = json.loads(CliRunner().invoke(app, ["fit", "--lr", "0.01", "--steps", "5", "--json"]).stdout)
    assert "notes" not in calm and calm["trajectory"][-1]["step_size"] is None  # no step after the last record


def test_serve_refuses_an_address_in_use():
    import socket

    from losslab.cli.serve import _check_bindable
    from losslab.errors import LosslabError

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(LosslabError, match=rf"Got 127.0.0.1:{port}, which cannot be bound \(Address already in use\)"):
            _check_bindable("127.0.0.1", port)
