"""POST /api/check without a browser: the CLI's JSON, refusals with sentences, the worker's hard deadline."""

from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path

import warnings

import pytest
from typer.testing import CliRunner

from losslab.web import check_worker
from losslab.web.app import create_app

with warnings.catch_warnings():
    # starlette >= 1.0 warns at import that it would rather use 'httpx2'; httpx works and is what is installed
    warnings.filterwarnings("ignore", message=".*httpx.*")
    from fastapi.testclient import TestClient

SEED = Path(__file__).resolve().parent / "sheets" / "seed_sheet.md"
SMALL = ("### Problem 6.1\n\n$$L = \\sum_{i=1}^{I} (\\phi_0 + \\phi_1 x_i - y_i)^2$$\n\n"
         "$$\\frac{\\partial L}{\\partial \\phi_0} = 2\\sum_{i=1}^{I} (\\phi_0 + \\phi_1 x_i - y_i)$$\n")


@pytest.fixture(scope="module")
def client():
    with TestClient(create_app()) as c:  # the lifespan stops the worker at the end
        yield c


def test_upload_and_paste_give_the_cli_json(client, tmp_path):
    from losslab.cli import app

    sheet = tmp_path / "small.md"
    sheet.write_text(SMALL, encoding="utf-8")
    cli = json.loads(CliRunner().invoke(app, ["check", "--json", str(sheet)]).stdout)
    uploaded = client.post("/api/check", files={"file": ("small.md", SMALL.encode(), "text/markdown")})
    pasted = client.post("/api/check", data={"text": SMALL})
    assert uploaded.status_code == pasted.status_code == 200
    assert uploaded.json()["claims"] == pasted.json()["claims"] == cli
    assert uploaded.json()["counts"] == {"correct": 1, "incorrect": 0, "not checked": 0}
    assert 'data-verdict="correct"' in uploaded.json()["html"] and "<math" in uploaded.json()["html"]


@pytest.mark.parametrize("name", ["linear_en.tex", "momentum.ipynb"])
def test_latex_and_notebook_sheets_give_the_cli_json(client, name):
    from losslab.cli import app

    path = Path(__file__).resolve().parent / "sheets" / "formats" / name
    cli = json.loads(CliRunner().invoke(app, ["check", "--json", str(path)]).stdout)
    r = client.post("/api/check", files={"file": (name, path.read_bytes(), "application/octet-stream")})
    assert r.status_code == 200 and len(cli) > 5
    key = lambda c: (c["problem"], c["line"], c["cell"], c["verdict"], c["truth"])  # noqa: E731
    assert [key(c) for c in r.json()["claims"]] == [key(c) for c in cli]
    # pasted, the same document is told apart from Markdown by its text (auto) or by the format asked for
    fmt = "latex" if name.endswith(".tex") else "notebook"
    for asked in ("auto", fmt):
        pasted = client.post("/api/check", data={"text": path.read_text(encoding="utf-8"), "format": asked})
        assert pasted.status_code == 200 and pasted.json()["claims"] == r.json()["claims"], asked
    page = r.json()["html"]
    assert page.count('class="ll-claim') == len(cli) and 'class="math-error"' not in page
    if name.endswith(".ipynb"):  # a notebook's claims sit in cells: listed with their cell, not against JSON lines
        assert "ll-row" not in page and "cell " in page


@pytest.mark.parametrize("name, data, status, words", [
    ("big.md", b"x" * 1_000_001, 413, "too large: at most 1000 kB"),
    # over the server's body limit: refused before it is read, in the same words
    ("huge.md", b"x" * 1_200_000, 413, "The 'sheet' file is too large: at most 1000 kB. Got 1.2 MB or more"),
    ("sheet.md", b"\x00\x01\x02", 415, "Got a binary file 'sheet.md'"),
    ("sheet.docx", b"PK\x03\x04", 415, "Got 'sheet.docx' instead"),
    ("sheet.tex", "caf\u00e9".encode("latin-1"), 415, "must be UTF-8 text"),
    ("empty.md", b"   \n", 422, "is empty"),
])
def test_refusals_are_sentences(client, name, data, status, words):
    r = client.post("/api/check", files={"file": (name, data, "application/octet-stream")})
    assert r.status_code == status and words in r.json()["detail"]


def test_nothing_sent_names_both_parameters(client):
    r = client.post("/api/check")
    assert r.status_code == 422 and "'file' or 'text'" in r.json()["detail"]


def test_an_unknown_paste_format_is_named(client):
    r = client.post("/api/check", data={"text": SMALL, "format": "docx"})
    assert r.status_code == 422 and r.json()["detail"].startswith("The 'format' parameter must be one of 'auto', 'markdown'")
    assert "Got 'docx' instead." in r.json()["detail"]


def test_server_answers_while_a_sheet_is_checked(client):
    done = threading.Event()
    result = {}

    def check():
        result["r"] = client.post("/api/check", files={"file": ("seed_sheet.md", SEED.read_bytes(), "text/markdown")})
        done.set()

    thread = threading.Thread(target=check)
    thread.start()
    answered_while_busy = 0
    for _ in range(200):
        if done.is_set():
            break
        assert client.get("/api/objectives").status_code == 200
        answered_while_busy += not done.is_set()
    thread.join(300)
    assert answered_while_busy >= 1 and result["r"].status_code == 200
    assert result["r"].json()["counts"]["incorrect"] >= 1


def test_a_check_past_its_deadline_is_stopped_and_the_next_one_works():
    text = SEED.read_text(encoding="utf-8")
    asyncio.run(check_worker.check_in_worker(SMALL))  # a started worker, so the deadline covers only the check
    with pytest.raises(check_worker.CheckTimeout, match="within 0.2 s"):
        asyncio.run(check_worker.check_in_worker(text, "seed_sheet.md", seconds=0.2))
    claims = asyncio.run(check_worker.check_in_worker(SMALL, "small.md"))
    assert [c["verdict"] for c in claims] == ["correct"]
    check_worker.shutdown()
