"""The web API (FastAPI TestClient): every endpoint, checked against independent references, and bad input."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

with warnings.catch_warnings():
    # starlette >= 1.0 warns at import that it would rather use 'httpx2'; httpx works and is what is installed
    warnings.filterwarnings("ignore", message=".*httpx.*")
    from fastapi.testclient import TestClient

from losslab.data import Dataset, load_dataset
from losslab.objective import make_objective
from losslab.web.app import app, plotly_js_path
from losslab.web.schemas import MAX_UPLOAD_BYTES


@pytest.fixture(scope="module")
def client():
    with TestClient(app) as c:
        yield c


def nb65(p0, p1):
    return 1.0 - np.exp(-0.5 * 4.0 * p1**2) * np.exp(-0.5 * (p0 - 0.7) ** 2 / 4.0)


def nb61(phi):
    return 1.0 - 0.5 * np.exp(-((phi - 0.65) ** 2) / 0.1) - 0.45 * np.exp(-((phi - 0.35) ** 2) / 0.02)


def detail(response) -> str:
    assert response.status_code == 422, response.text
    text = response.json()["detail"]
    assert isinstance(text, str) and text
    return text


# ---------------------------------------------------------------- page and catalogue
def test_page_and_local_plotly(client):
    page = client.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert '<script src="/static/plotly.min.js">' in page.text and "cdn" not in page.text.lower()
    js = client.get("/static/plotly.min.js")
    assert js.status_code == 200 and js.content == plotly_js_path().read_bytes()
    for name in ("app.js", "style.css"):
        assert client.get(f"/static/{name}").status_code == 200
    assert client.get("/static/../app.py").status_code == 404


def test_objectives_catalogue(client):
    body = client.get("/api/objectives").json()
    keys = [o["key"] for o in body["objectives"]]
    assert keys == ["linear", "gabor", "logistic", "fn:6.5", "fn:6.1"]
    assert body["default"] in keys
    assert body["limits"] == {"max_resolution": 400, "max_steps": 5000, "max_optimizers": 4, "max_upload_bytes": MAX_UPLOAD_BYTES}
    gabor = next(o for o in body["objectives"] if o["key"] == "gabor")
    assert gabor["range0"] == [-10.0, 10.0] and gabor["range1"] == [2.5, 22.5] and gabor["n_data"] == 30
    assert next(o for o in body["objectives"] if o["key"] == "fn:6.1")["dims"] == 1
    assert {o["name"] for o in body["optimizers"]} >= {"gd", "sgd", "momentum", "nesterov", "normalized", "adam"}


# ---------------------------------------------------------------- landscapes
def test_landscape_matches_objective_and_book_check_value(client):
    r = client.post("/api/landscape", json={"objective": "linear", "range0": [0.6, 1.6], "range1": [-0.2, 0.8], "resolution": 3})
    body = r.json()
    assert r.status_code == 200 and body["dims"] == 2
    loss = np.array(body["loss"])
    assert loss.shape == (3, 3)
    assert loss[0, 0] == pytest.approx(12.367, abs=5e-4)  # notebook 6.2's printed value at (0.6, -0.2)
    obj = make_objective("linear", "book:linear")
    for j, p1 in enumerate(body["phi1"]):
        for i, p0 in enumerate(body["phi0"]):
            assert loss[j, i] == pytest.approx(float(obj.value([p0, p1])), rel=1e-12)


def test_landscape_of_the_notebook_functions(client):
    body = client.post("/api/landscape", json={"objective": "fn:6.5", "range0": [-1.5, 1.5], "range1": [-1, 1], "resolution": 7}).json()
    p0, p1 = np.meshgrid(body["phi0"], body["phi1"])
    np.testing.assert_allclose(body["loss"], nb65(p0, p1), rtol=1e-12, atol=1e-14)
    one = client.post("/api/landscape", json={"objective": "fn:6.1", "range0": [0, 1], "resolution": 11}).json()
    assert one["dims"] == 1
    np.testing.assert_allclose(one["phi0"], np.linspace(0, 1, 11))
    np.testing.assert_allclose(one["loss"], nb61(np.linspace(0, 1, 11)), rtol=1e-12)


def test_older_names_of_the_notebook_functions_are_read_as_the_one_name(client):
    # nb6_5 / nb6_1: the web API's names before the notebook functions took the engine's (documented in docs/web.md)
    assert client.get("/api/objectives").json()["aliases"] == {"nb6_5": "fn:6.5", "nb6_1": "fn:6.1"}
    grid = {"range0": [-1.5, 1.5], "range1": [-1, 1], "resolution": 5}
    old = client.post("/api/landscape", json={"objective": "nb6_5", **grid}).json()
    p0, p1 = np.meshgrid(old["phi0"], old["phi1"])
    np.testing.assert_allclose(old["loss"], nb65(p0, p1), rtol=1e-12, atol=1e-14)
    assert old == client.post("/api/landscape", json={"objective": "fn:6.5", **grid}).json()
    run = {"start": [0.05], "optimizers": [{"name": "gd", "lr": 0.01, "steps": 5}]}
    old = client.post("/api/run", json={"objective": "nb6_1", **run}).json()
    assert old["start_loss"] == pytest.approx(nb61(0.05), rel=1e-12)
    assert old == client.post("/api/run", json={"objective": "fn:6.1", **run}).json()
    r = client.post("/api/landscape", json={"objective": "nb6_7", **grid})
    assert r.status_code == 422 and "'fn:6.5' or 'fn:6.1'. Got 'nb6_7' instead." in r.json()["detail"]


def test_landscape_200_by_200(client):
    body = client.post("/api/landscape", json={"objective": "gabor", "range0": [-10, 10], "range1": [2.5, 22.5], "resolution": 200}).json()
    loss = np.array(body["loss"])
    assert loss.shape == (200, 200) and np.all(np.isfinite(loss))
    assert body["min"] == pytest.approx(loss.min()) and body["max"] == pytest.approx(loss.max())
    obj = make_objective("gabor", "book:gabor")
    assert loss[57, 123] == pytest.approx(float(obj.value([body["phi0"][123], body["phi1"][57]])), rel=1e-10)


# ---------------------------------------------------------------- runs
def test_run_gd_matches_a_numpy_loop(client):
    data = load_dataset("book:linear")
    phi = np.array([1.6, -0.5])
    reference = [phi.copy()]
    for _ in range(25):
        r = phi[0] + phi[1] * data.x - data.y
        phi = phi - 0.01 * np.array([2 * r.sum(), 2 * (r * data.x).sum()])  # eq. 6.7 (sum loss), eq. 6.3
        reference.append(phi.copy())
    body = client.post("/api/run", json={"objective": "linear", "start": [1.6, -0.5],
                                        "optimizers": [{"name": "gd", "lr": 0.01, "steps": 25}]}).json()
    run = body["runs"][0]
    np.testing.assert_allclose(run["params"], reference, rtol=1e-12, atol=1e-12)
    assert run["final_loss"] == pytest.approx(float(np.sum((reference[-1][0] + reference[-1][1] * data.x - data.y) ** 2)), rel=1e-12)
    assert body["start_loss"] == pytest.approx(run["loss"][0]) and run["loss"][-1] < run["loss"][0]


def test_run_adam_on_the_notebook_65_function_matches_optax(client):
    import jax
    import jax.numpy as jnp
    import optax

    f = lambda p: 1.0 - jnp.exp(-0.5 * 4.0 * p[1] ** 2) * jnp.exp(-0.5 * (p[0] - 0.7) ** 2 / 4.0)  # noqa: E731
    tx = optax.adam(0.05, b1=0.9, b2=0.99, eps=1e-8)
    p = jnp.array([-0.7, -0.9])
    state = tx.init(p)
    path = [np.asarray(p)]
    for _ in range(60):
        updates, state = tx.update(jax.grad(f)(p), state, p)
        p = optax.apply_updates(p, updates)
        path.append(np.asarray(p))
    body = client.post("/api/run", json={"objective": "fn:6.5", "start": [-0.7, -0.9],
                                        "optimizers": [{"name": "adam", "lr": 0.05, "beta": 0.9, "gamma": 0.99, "steps": 60}]}).json()
    np.testing.assert_allclose(body["runs"][0]["params"], path, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(body["runs"][0]["loss"], [nb65(*q) for q in path], rtol=1e-9, atol=1e-12)


def test_run_four_optimisers_of_500_steps(client):
    specs = [{"name": "sgd", "lr": 0.6, "batch_size": 5, "steps": 500, "seed": 1},
             {"name": "momentum", "lr": 0.6, "beta": 0.6, "batch_size": 5, "steps": 500},
             {"name": "nesterov", "lr": 0.6, "beta": 0.6, "batch_size": 5, "steps": 500},
             {"name": "adam", "lr": 0.05, "steps": 500}]
    body = client.post("/api/run", json={"objective": "gabor", "start": [-1.5, 6.5], "optimizers": specs}).json()
    assert [r["name"] for r in body["runs"]] == ["sgd", "momentum", "nesterov", "adam"]
    obj = make_objective("gabor", "book:gabor")
    for run in body["runs"]:
        assert len(run["params"]) == len(run["loss"]) == 501
        assert run["final_loss"] == pytest.approx(float(obj.value(run["params"][-1])), rel=1e-10)
        assert run["final_loss"] < body["start_loss"]
    # momentum and Nesterov differ (6.12 takes the gradient at the look-ahead point)
    assert not np.allclose(body["runs"][1]["params"], body["runs"][2]["params"])


def test_run_seed_changes_the_minibatches_only(client):
    def path(seed):
        body = client.post("/api/run", json={"objective": "gabor", "start": [-1.5, 6.5], "optimizers": [
            {"name": "sgd", "lr": 0.6, "batch_size": 5, "steps": 30, "seed": seed}]}).json()
        return np.array(body["runs"][0]["params"])

    assert np.array_equal(path(3), path(3))
    assert not np.allclose(path(3), path(4))


def test_run_with_line_search_descends(client):
    body = client.post("/api/run", json={"objective": "linear", "start": [1.6, -0.5],
                                        "optimizers": [{"name": "gd", "line_search": True, "max_dist": 0.1, "steps": 10}]}).json()
    loss = body["runs"][0]["loss"]
    assert len(loss) == 11 and all(b <= a + 1e-12 for a, b in zip(loss, loss[1:]))
    assert loss[-1] < 0.5 * loss[0]


def test_run_one_dimensional(client):
    body = client.post("/api/run", json={"objective": "fn:6.1", "start": [0.05],
                                        "optimizers": [{"name": "gd", "lr": 0.01, "steps": 3}]}).json()
    phi, path = 0.05, [0.05]
    for _ in range(3):  # derivative of the notebook 6.1 function, by hand
        d = 0.5 * np.exp(-((phi - 0.65) ** 2) / 0.1) * 2 * (phi - 0.65) / 0.1 + 0.45 * np.exp(-((phi - 0.35) ** 2) / 0.02) * 2 * (phi - 0.35) / 0.02
        phi = phi - 0.01 * d
        path.append(phi)
    np.testing.assert_allclose(np.array(body["runs"][0]["params"])[:, 0], path, rtol=1e-12)


# ---------------------------------------------------------------- line search
def notebook_61_search(f, max_dist, thresh, max_iter):
    """Notebook 6.1's rules, written out again as the reference."""
    a, b, c, d = 0.0, 0.33 * max_dist, 0.66 * max_dist, max_dist
    brackets = [(a, b, c, d)]
    n = 0
    while abs(b - c) > thresh and n < max_iter:
        n += 1
        la, lb, lc, ld = f(a), f(b), f(c), f(d)
        if min(la, lb, lc, ld) == la:
            b, c, d = a + (b - a) / 2, a + (c - a) / 2, a + (d - a) / 2
        elif lb < lc:
            d = c
            b, c = a + (d - a) / 3, a + 2 * (d - a) / 3
        else:
            a = b
            b, c = a + (d - a) / 3, a + 2 * (d - a) / 3
        brackets.append((a, b, c, d))
    return (b + c) / 2, brackets


def test_linesearch_notebook_61(client):
    body = client.post("/api/linesearch", json={"objective": "fn:6.1", "point": [0.0], "max_dist": 1.0, "thresh": 1e-4,
                                               "max_iter": 10, "direction": "positive"}).json()
    step, brackets = notebook_61_search(nb61, 1.0, 1e-4, 10)
    assert body["brackets"][0] == pytest.approx([0.0, 0.33, 0.66, 1.0])
    np.testing.assert_allclose(body["brackets"], brackets, rtol=1e-12, atol=1e-15)
    assert body["step"] == pytest.approx(step, rel=1e-12)
    np.testing.assert_allclose(body["f"], nb61(np.array(body["t"])), rtol=1e-12)


def test_linesearch_along_the_negative_gradient(client):
    obj = make_objective("linear", "book:linear")
    point = np.array([1.6, -0.5])
    g = np.asarray(obj.grad(point))
    body = client.post("/api/linesearch", json={"objective": "linear", "point": point.tolist(), "max_dist": 0.1,
                                               "thresh": 1e-5, "max_iter": 15}).json()
    step, brackets = notebook_61_search(lambda t: float(obj.value(point - t * g)), 0.1, 1e-5, 15)
    assert body["step"] == pytest.approx(step, rel=1e-10)
    assert len(body["brackets"]) == len(brackets)
    assert body["f_step"] == pytest.approx(float(obj.value(point - step * g)), rel=1e-12)


# ---------------------------------------------------------------- model fit
def test_fit_curves_are_the_models(client):
    params = [[0.1, 10.0], [-1.0, 5.0]]
    body = client.post("/api/fit", json={"objective": "gabor", "params": params, "samples": 9}).json()
    x = np.array(body["x"])
    for p, curve in zip(params, body["curves"]):
        z = p[0] + 0.06 * p[1] * x
        np.testing.assert_allclose(curve, np.sin(z) * np.exp(-(z**2) / 32.0), rtol=1e-12, atol=1e-15)  # eq. 6.8
    assert body["x_data"] == load_dataset("book:gabor").x.tolist()
    logistic = client.post("/api/fit", json={"objective": "logistic", "data": "logistic:3", "params": [[0.5, 2.0]]}).json()
    assert logistic["output"] == "logit"
    xl = np.array(logistic["x"])
    np.testing.assert_allclose(logistic["curves"][0], 1 / (1 + np.exp(-(0.5 + 2.0 * xl))), rtol=1e-12)
    assert logistic["x_data"] == load_dataset("logistic:3").x.tolist()


# ---------------------------------------------------------------- uploads
def test_upload_then_use_it(client):
    rng = np.random.default_rng(5)
    x = rng.uniform(0, 2, 15)
    y = 0.3 + 0.8 * x + 0.05 * rng.standard_normal(15)
    text = "x,y\n" + "\n".join(f"{float(a)!r},{float(b)!r}" for a, b in zip(x, y))
    up = client.post("/api/upload", files={"file": ("mine.csv", text.encode(), "text/csv")})
    assert up.status_code == 200
    info = up.json()
    assert info["n"] == 15 and info["data"].startswith("upload:")
    body = client.post("/api/landscape", json={"objective": "linear", "data": info["data"], "range0": [0, 1], "range1": [0, 1],
                                              "resolution": 4}).json()
    ref = make_objective("linear", Dataset(x, y))
    assert body["loss"][2][1] == pytest.approx(float(ref.value([body["phi0"][1], body["phi1"][2]])), rel=1e-12)
    fit = client.post("/api/fit", json={"objective": "linear", "data": info["data"], "params": [[0.3, 0.8]]}).json()
    np.testing.assert_allclose(fit["x_data"], x)


def test_upload_bad_files(client):
    big = b"1,2\n" * (MAX_UPLOAD_BYTES // 4 + 1)
    assert "at most 1000000 bytes" in detail(client.post("/api/upload", files={"file": ("big.csv", big)}))
    assert "Row 3" in detail(client.post("/api/upload", files={"file": ("a.csv", b"x,y\n1,2\n3,__import__('os')\n")}))
    assert "UTF-8" in detail(client.post("/api/upload", files={"file": ("a.csv", b"\xff\xfe\x00\x01")}))
    assert "empty" in detail(client.post("/api/upload", files={"file": ("a.csv", b"")}))
    assert "required" in detail(client.post("/api/upload"))
    gone = client.post("/api/landscape", json={"objective": "linear", "data": "upload:0123456789abcdef", "range0": [0, 1],
                                              "range1": [0, 1], "resolution": 4})
    assert "Upload the CSV file again" in detail(gone)


# ---------------------------------------------------------------- bad input: 422 with a sentence
LAND = {"objective": "gabor", "range0": [-10, 10], "range1": [2.5, 22.5], "resolution": 20}
RUN = {"objective": "gabor", "start": [-1.5, 6.5], "optimizers": [{"name": "sgd", "lr": 0.6, "batch_size": 5, "steps": 5}]}


def with_opt(**changes):
    return {**RUN, "optimizers": [{**RUN["optimizers"][0], **changes}]}


@pytest.mark.parametrize(
    ("path", "body", "expected"),
    [
        ("/api/landscape", {**LAND, "resolution": 401}, "The 'resolution' parameter must be less than or equal to 400. Got 401 instead."),
        ("/api/landscape", {**LAND, "resolution": 1}, "'resolution' parameter must be greater than or equal to 2"),
        ("/api/landscape", {**LAND, "range0": [3, -3]}, "'range0' parameter is invalid: it needs lo < hi"),
        ("/api/landscape", {**LAND, "objective": "rosenbrock"}, "The 'objective' parameter must be 'linear', 'gabor'"),
        ("/api/landscape", {**LAND, "range1": None}, "'range1' parameter is required"),
        ("/api/landscape", {"objective": "fn:6.1", "range0": [0, 1], "range1": [0, 1]}, "'range1' parameter must be empty"),
        ("/api/landscape", {**LAND, "data": "../../etc/passwd"}, "'data' parameter must be empty, 'upload:ID'"),
        ("/api/landscape", {**LAND, "data": "logistic:3"}, "for models with a logit output only"),
        ("/api/landscape", {"objective": "fn:6.5", "data": "logistic:1", "range0": [0, 1], "range1": [0, 1]}, "must be empty for the notebook 6.5"),
        ("/api/landscape", {**LAND, "colour": "red"}, "The 'colour' parameter is not known; remove it."),
        ("/api/run", with_opt(lr=-0.1), "The 'lr' parameter of optimiser 1 must be greater than 0. Got -0.1 instead."),
        ("/api/run", with_opt(lr="__import__('os')"), "The 'lr' parameter of optimiser 1 must be a valid number"),
        ("/api/run", with_opt(beta=1.0), "The 'beta' parameter of optimiser 1 must be less than 1"),
        ("/api/run", with_opt(steps=5001), "The 'steps' parameter of optimiser 1 must be less than or equal to 5000"),
        ("/api/run", with_opt(batch_size=31), "The 'batch_size' of optimiser 1 must be at most 30"),
        ("/api/run", with_opt(name="sgdd"), "The 'name' of optimiser 1 must be one of 'gd', 'sgd'"),
        ("/api/run", with_opt(name="adam", line_search=True), "line search of optimiser 1 works with 'gd' only"),
        ("/api/run", {**RUN, "optimizers": RUN["optimizers"] * 5}, "The 'optimizers' parameter must satisfy: list should have at most 4 items"),
        ("/api/run", {**RUN, "optimizers": []}, "list should have at least 1 item"),
        ("/api/run", {**RUN, "start": [1.0]}, "The 'start' parameter must have 2 numbers for the Gabor model"),
        ("/api/run", {**RUN, "start": [1e300, 0]}, "'start' parameter is invalid: its values must be finite"),
        ("/api/linesearch", {"objective": "linear", "point": [0, 0], "max_dist": 0}, "'max_dist' parameter must be greater than 0"),
        ("/api/linesearch", {"objective": "linear", "point": [0, 0], "direction": "sideways"}, "'direction' parameter must be 'gradient' or 'positive'"),
        ("/api/fit", {"objective": "fn:6.5", "params": [[0, 0]]}, "needs a model with data"),
        ("/api/fit", {"objective": "linear", "params": [[0, 0, 0]]}, "each parameter vector needs 1 or 2 numbers"),
    ],
)
def test_bad_requests_get_a_sentence(client, path, body, expected):
    assert expected in detail(client.post(path, json=body))


def test_malformed_json_and_nan(client):
    r = client.post("/api/run", content=b"{not json", headers={"Content-Type": "application/json"})
    assert "valid JSON" in detail(r)
    r = client.post("/api/run", content=b'{"objective": "gabor", "start": [NaN, 1], "optimizers": [{"name": "gd"}]}',
                    headers={"Content-Type": "application/json"})
    assert "finite" in detail(r)


def test_diverging_run_reports_where(client):
    body = client.post("/api/run", json={"objective": "linear", "start": [1.6, -0.5],
                                        "optimizers": [{"name": "gd", "lr": 1.0, "steps": 200}]}).json()
    run = body["runs"][0]
    assert run["diverged"] is True and isinstance(run["diverged_at"], int)
    assert all(v is None or math.isfinite(v) for v in run["loss"])


def test_run_cut_from_a_longer_compiled_run_equals_the_engine_run(client):
    from losslab.run import run
    from losslab.web.service import compiled_steps

    assert compiled_steps(81) == 128 and compiled_steps(5000) == 5000 and compiled_steps(1) == 16
    obj = make_objective("gabor", "book:gabor")
    direct = run(obj, "nesterov", [-1.5, 6.5], steps=81, batch_size=5, seed=2, learning_rate=0.6, beta=0.6)
    body = client.post("/api/run", json={"objective": "gabor", "start": [-1.5, 6.5], "optimizers": [
        {"name": "nesterov", "lr": 0.6, "beta": 0.6, "batch_size": 5, "steps": 81, "seed": 2}]}).json()
    web = body["runs"][0]
    np.testing.assert_array_equal(web["params"], direct.params)
    np.testing.assert_array_equal(web["loss"], direct.loss)
    assert web["steps"] == 81 and web["epochs"] == direct.epochs


# ---------------------------------------------------------------- the serve command
def test_serve_binds_localhost_by_default_and_prints_the_url(monkeypatch):
    from typer.testing import CliRunner

    from losslab.cli import app as cli_app
    from losslab.cli import serve

    calls = []
    monkeypatch.setattr(serve, "run_server", lambda app, **kw: calls.append(kw))
    result = CliRunner().invoke(cli_app, ["serve"])
    assert result.exit_code == 0, result.output
    assert "http://127.0.0.1:8000/" in result.output
    assert calls[0]["host"] == "127.0.0.1" and calls[0]["port"] == 8000
    result = CliRunner().invoke(cli_app, ["serve", "--host", "0.0.0.0", "--port", "9001"])
    assert "http://0.0.0.0:9001/" in result.output and calls[1]["host"] == "0.0.0.0" and calls[1]["port"] == 9001


def test_serve_refuses_a_bad_port():
    from typer.testing import CliRunner

    from losslab.cli import app as cli_app
    from losslab.errors import LosslabError

    result = CliRunner().invoke(cli_app, ["serve", "--port", "70000"])
    assert isinstance(result.exception, LosslabError) and "'port'" in str(result.exception) and "65535" in str(result.exception)
