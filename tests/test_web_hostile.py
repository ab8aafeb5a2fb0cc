"""The server under hostile requests: a 4xx with a sentence for every malformed one, never a 500; a body
limit; work sized before it starts; overflow as null plus a note. And a quick variant of the load test
(benchmarks/web_load.py runs the full 200 requests with 20 in flight)."""

from __future__ import annotations

import importlib.util
import warnings
from pathlib import Path

import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # starlette's notice about httpx, raised on import
    from fastapi.testclient import TestClient

from losslab.web.app import app
from losslab.web.schemas import MAX_BODY_BYTES, MAX_WORK

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def client():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with TestClient(app, raise_server_exceptions=False) as c:
            yield c


def _sentence(response) -> str:
    detail = response.json()["detail"]
    assert isinstance(detail, str) and detail.endswith(".") and len(detail) > 20, detail
    return detail


@pytest.mark.parametrize(("kwargs", "fragment"), [
    ({"content": b"hello", "headers": {"content-type": "text/plain"}}, "must be a JSON object (Content-Type: application/json). Got 5 bytes"),
    ({"data": {"objective": "gabor"}}, "must be a JSON object"),
    ({"content": b"\xff\xfe\x00", "headers": {"content-type": "application/json"}}, "must be valid JSON in UTF-8"),
    ({"content": b'{"objective": "gabor", "range0": [NaN, 1], "range1": [0, 1]}', "headers": {"content-type": "application/json"}},
     "'range0'"),
])
def test_malformed_bodies_are_4xx_sentences(client, kwargs, fragment):
    response = client.post("/api/landscape", **kwargs)
    assert response.status_code in (400, 422)
    assert fragment in _sentence(response)


def test_unknown_pages_and_methods_are_sentences(client):
    assert "no page or endpoint '/no/such'" in _sentence(client.get("/no/such"))
    response = client.get("/api/run")
    assert response.status_code == 405 and "does not accept GET" in _sentence(response)


def test_a_body_over_the_limit_is_refused_before_it_is_read(client):
    response = client.post("/api/landscape", content=b"[" + b"1," * MAX_BODY_BYTES + b"1]", headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert f"must be at most {MAX_BODY_BYTES:,} bytes" in _sentence(response)

    def chunks():  # no Content-Length: counted as it arrives
        for _ in range(40):
            yield b" " * 50_000

    response = client.post("/api/run", content=chunks(), headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert "more than" in _sentence(response)


def _upload(client, text: str) -> str:
    response = client.post("/api/upload", files={"file": ("d.csv", text.encode(), "text/csv")})
    assert response.status_code == 200, response.text
    return response.json()["data"]


def test_work_too_large_is_refused_before_it_starts(client):
    n = 20_000
    data = _upload(client, "".join(f"{i / n:.6f},{(i % 5) * 0.1:.2f}\n" for i in range(n)))
    response = client.post("/api/landscape", json={"objective": "linear", "data": data, "range0": [-1, 1], "range1": [-1, 1],
                                                   "resolution": 400})
    assert response.status_code == 422
    # 400^2 grid points x 20,000 data points; the largest allowed resolution is floor(sqrt(MAX_WORK / n))
    detail = _sentence(response)
    assert f"needs {400 * 400 * n:,} evaluations" in detail and f"at most {int((MAX_WORK / n) ** 0.5)}" in detail
    response = client.post("/api/run", json={"objective": "linear", "data": data, "start": [0, 0],
                                             "optimizers": [{"name": "sgd", "lr": 0.1, "batch_size": 20_000, "steps": 5000}]})
    assert response.status_code == 422 and "evaluations" in _sentence(response)


def test_a_line_search_whose_loss_overflows_is_null_with_a_note(client):
    data = _upload(client, "0,1e200\n1,1e200\n2,1e200\n")
    response = client.post("/api/linesearch", json={"objective": "linear", "data": data, "point": [0, 0], "max_dist": 100})
    assert response.status_code == 200
    body = response.json()
    assert all(v is None for row in body["f_brackets"] for v in row)  # (1e200)^2 overflows float64
    assert "overflows float64" in body["notes"][0]


def test_quick_load_no_500_no_lost_request_memory_back():
    spec = importlib.util.spec_from_file_location("web_load", ROOT / "benchmarks" / "web_load.py")
    web_load = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(web_load)
    report = web_load.load_test(32, 8)
    assert web_load.verdict(report) == [], report
    assert report["requests"] == 32 + 6 and report["status_codes"].get("413", 0) >= 1


def test_a_check_stops_when_its_client_leaves():
    import socket
    import threading
    import time

    import httpx
    import uvicorn

    from losslab.web import check_worker

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        while not server.started:
            time.sleep(0.05)
        claim = "$$\\frac{\\partial L}{\\partial \\phi_0} = \\sum_{i=1}^{I} 2(\\phi_0 + \\phi_1 x_i - y_i)$$\n"
        sheet = "# Problem 6.1\n$$L[\\phi] = \\sum_{i=1}^{I} (\\phi_0 + \\phi_1 x_i - y_i)^2$$\n" + claim * 400
        with pytest.raises(httpx.ReadTimeout):  # the client gives up long before 400 claims are checked
            httpx.post(f"http://127.0.0.1:{port}/api/check", data={"text": sheet}, timeout=3)
        deadline = time.monotonic() + 20  # well inside the check's own 60 s deadline
        while time.monotonic() < deadline:
            worker = check_worker._worker
            if worker is None or not worker.process.is_alive():
                break
            time.sleep(0.2)
        assert worker is None or not worker.process.is_alive()  # killed, not checking for nobody
    finally:
        server.should_exit = True
        thread.join(10)
        check_worker.shutdown()


def _json_values():
    from hypothesis import strategies as st

    leaves = st.one_of(st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
                       st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=20),
                       st.sampled_from([1e308, -1e308, 0, -1, 10**9, "upload:0123456789abcdef", "logistic:3", "gabor"]))
    return st.recursive(leaves, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                         st.dictionaries(st.text(max_size=8), inner, max_size=4)), max_leaves=12)


VALID = {
    "/api/landscape": {"objective": "gabor", "range0": [-10, 10], "range1": [2.5, 22.5], "resolution": 20},
    "/api/run": {"objective": "gabor", "start": [-1.5, 6.5], "optimizers": [{"name": "adam", "lr": 0.05, "steps": 16}]},
    "/api/linesearch": {"objective": "linear", "point": [0.5, 0.5]},
    "/api/fit": {"objective": "linear", "params": [[0.5, 0.5]]},
}


@pytest.mark.parametrize("path", sorted(VALID))
def test_mutated_bodies_never_get_a_500(client, path):
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    base = VALID[path]

    @settings(max_examples=25, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(key=st.sampled_from(sorted(base) + ["extra"]), value=_json_values(), whole=st.booleans())
    def fuzz(key, value, whole):
        body = value if whole else {**base, key: value}
        response = client.post(path, json=body)
        assert response.status_code < 500, (body, response.text)
        if response.status_code >= 400:
            _sentence(response)

    fuzz()
