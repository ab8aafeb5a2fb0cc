"""The wheel carries every file losslab reads at run time, and works installed without -e.

Builds the wheel (``python -m build``), checks its file list against the
package's non-Python files, then installs it with ``--no-deps --target`` into
a temporary folder (the dependencies are this environment's) and runs
``losslab check``, ``losslab book`` and the explorer's pages from there, with
the source tree out of the import path.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "losslab"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    pytest.importorskip("build")
    out = tmp_path_factory.mktemp("dist")
    proc = subprocess.run([sys.executable, "-m", "build", "--wheel", "--outdir", str(out), str(ROOT)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    (path,) = out.glob("losslab-*.whl")
    return path


def _tracked_data_files() -> set[str]:
    """Non-Python files under src/losslab that git tracks: what the package reads at run time."""
    proc = subprocess.run(["git", "ls-files", "src/losslab"], cwd=ROOT, capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip("not a git checkout: cannot list the package's files")
    return {f[len("src/"):] for f in proc.stdout.split() if not f.endswith(".py")}


def test_wheel_holds_every_data_file_and_declares_the_renderer(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    data = _tracked_data_files()
    assert {"losslab/web/static/index.html", "losslab/web/static/check.js", "losslab/book/seed_sheet.md"} <= data
    assert data <= names, f"missing from the wheel: {sorted(data - names)}"
    metadata = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    requires = {line.split(":", 1)[1].strip().split()[0].split(">")[0].split("=")[0].split(";")[0]
                for line in metadata.splitlines() if line.startswith("Requires-Dist:") and "extra ==" not in line}
    # the renderer's assets come from declared dependencies, not from files in the repository
    assert {"latex2mathml", "ziamath", "plotly", "markdown-it-py", "mdit-py-plugins"} <= requires


_SCRIPT = r"""
import json, sys
from pathlib import Path
import losslab
assert Path(losslab.__file__).resolve().is_relative_to(Path(sys.argv[1]).resolve()), losslab.__file__
from fastapi.testclient import TestClient
from losslab.web.app import create_app
from losslab.cli import app
from typer.testing import CliRunner

book = Path(sys.argv[2])
res = CliRunner().invoke(app, ["book", "--small", "--problems", "6.9", "--out", str(book)])
assert res.exit_code == 0, res.output
client = TestClient(create_app(book))
out = {}
for path in ("/", "/static/app.js", "/static/check.js", "/static/plotly.min.js", "/static/math.css",
             "/static/math/STIXTwoMath-Regular.ttf", "/book/", "/book/assets/STIXTwoMath-Regular.ttf"):
    r = client.get(path)
    out[path] = [r.status_code, len(r.content)]
res = CliRunner().invoke(app, ["check", "--json", sys.argv[3]])
out["check"] = [res.exit_code, [c["verdict"] for c in json.loads(res.stdout)]]
print(json.dumps(out))
"""


def test_installed_wheel_serves_book_explorer_and_checks(wheel, tmp_path):
    target = tmp_path / "site"
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-compile", "--target",
                           str(target), str(wheel)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    # the wheel's copy first; the editable install's finder (if any) comes later on sys.path and is never reached
    env["PYTHONPATH"] = str(target)
    sheet = ROOT / "tests" / "sheets" / "seed_sheet.md"
    run = subprocess.run([sys.executable, "-c", _SCRIPT, str(target), str(tmp_path / "book"), str(sheet)],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    out = json.loads(run.stdout.strip().splitlines()[-1])
    for path, (status, size) in out.items():
        if path != "check":
            assert status == 200 and size > 100, (path, status, size)
    code, verdicts = out["check"]
    assert code == 1 and "incorrect" in verdicts and "correct" in verdicts  # the seed sheet has both
