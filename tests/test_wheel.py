"""The wheel carries every file losslab reads at run time, and works installed without -e.

Builds the wheel (``python -m build``), checks its file list against the
package's non-Python files, then installs it without ``-e`` into a new virtual
environment and runs its ``losslab`` command: ``losslab book``, ``losslab
check`` and ``losslab serve`` (the page, the static files, plotly.js, the math
font, the book, and a sheet sent to the check API), with the source tree out
of the import path.
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


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(url: str, data: bytes | None = None, headers: dict | None = None) -> tuple[int, bytes]:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=data, headers=headers or {}), timeout=120) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def test_installed_wheel_serves_book_explorer_and_checks(wheel, tmp_path):
    """The wheel in a new virtual environment (its dependencies are this environment's, seen through
    --system-site-packages; losslab itself only from the wheel), driven through its `losslab` command."""
    import time

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True, timeout=300)
    python, losslab = venv / "bin" / "python", venv / "bin" / "losslab"
    proc = subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--no-deps", "--no-compile", str(wheel)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    where = subprocess.run([str(python), "-c", "import losslab; print(losslab.__file__)"], cwd=tmp_path, env=env,
                           capture_output=True, text=True, timeout=300)
    assert Path(where.stdout.strip()).resolve().is_relative_to(venv.resolve()), where.stdout + where.stderr

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(losslab), *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)

    book = tmp_path / "book"
    made = cli("book", "--small", "--problems", "6.9", "--out", str(book))
    assert made.returncode == 0, made.stdout[-2000:] + made.stderr[-2000:]
    seed = ROOT / "tests" / "sheets" / "seed_sheet.md"
    checked = cli("check", "--json", str(seed))
    claims = json.loads(checked.stdout)
    assert checked.returncode == 1 and {"correct", "incorrect"} <= {c["verdict"] for c in claims}  # the seed has both

    port = _free_port()
    log = open(tmp_path / "serve.log", "wb")
    server = subprocess.Popen([str(losslab), "serve", "--port", str(port), "--book", str(book)], cwd=tmp_path, env=env,
                              stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if _get(base + "/api/info")[0] == 200:
                    break
            except OSError:
                pass
            assert server.poll() is None and time.monotonic() < deadline, (tmp_path / "serve.log").read_text()[-2000:]
            time.sleep(0.5)
        page = _get(base + "/")[1].decode()
        # every file the page and the book name, and the renderer's assets, come from the installed packages
        for path in ("/static/app.js", "/static/check.js", "/static/style.css", "/static/plotly.min.js", "/static/math.css",
                     "/static/math/STIXTwoMath-Regular.ttf", "/book/", "/book/assets/STIXTwoMath-Regular.ttf"):
            status, body = _get(base + path)
            assert status == 200 and len(body) > 100, (path, status, len(body))
        for ref in ("/static/app.js", "/static/check.js", "/static/plotly.min.js", "/static/math.css"):
            assert ref in page
        boundary = "losslab-wheel-test"
        form = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"seed_sheet.md\"\r\n"
                f"Content-Type: text/markdown\r\n\r\n").encode() + seed.read_bytes() + f"\r\n--{boundary}--\r\n".encode()
        status, body = _get(base + "/api/check", form, {"Content-Type": f"multipart/form-data; boundary={boundary}"})
        assert status == 200 and json.loads(body)["claims"] == claims  # the panel's answer is the CLI's JSON
    finally:
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(10)
        log.close()
