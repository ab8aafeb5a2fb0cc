"""The FastAPI app behind ``losslab serve``: a static page and a small JSON API.

Endpoints::

    GET  /                    the page (static/index.html)
    GET  /static/plotly.min.js  plotly.js from the installed ``plotly`` package (no CDN)
    GET  /book/               the problem book, when ``losslab serve --book DIR`` names one
    GET  /api/objectives      the objectives, their ranges/starts, the optimisers, the limits
    POST /api/landscape       {objective, data?, range0, range1?, resolution <= 400} -> loss grid
    POST /api/run             {objective, data?, start, optimizers: 1..4 x {name, lr, beta, gamma,
                              batch_size, steps <= 5000, seed, line_search, max_dist}} -> trajectories
    POST /api/linesearch      {objective, data?, point, max_dist, thresh, max_iter, direction} -> brackets
    POST /api/fit             {objective, data?, params: 1..4 vectors} -> model outputs over the data
    POST /api/upload          multipart CSV file (<= 1 MB, numbers only) -> {data: "upload:ID", n, ...}
    POST /api/check           multipart: a sheet ``file`` (.md/.tex/.ipynb/.txt, <= 1 MB, UTF-8) or pasted
                              ``text`` with its ``format`` (auto, markdown, latex, notebook, text)
                              -> {claims: what `losslab check --json` prints, counts, html}
    GET  /static/math/STIXTwoMath-Regular.ttf  the math font that lays out MathML (from ``ziamath``)

Every bad request is answered with status 422 (413 for a body or sheet too large, 415
for one that is not text, 504 for a check or a computation past its deadline, 503 for one the
server's shutdown stopped) and ``{"detail": "<sentence>"}``, the sentence naming the parameter,
what is expected and what was received. Landscapes, runs, line searches and fits are computed in
worker processes (:mod:`losslab.web.compute`): a client that leaves, a deadline that passes or a
shutdown stops the work by ending its process.
Nothing a user sends is evaluated as code; uploads are parsed as numbers and
kept in memory (starlette spools a large multipart body to a temporary file).
"""

from __future__ import annotations

import asyncio
import importlib.resources
import json
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, File, Form, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..errors import LosslabError
from ..mathml import math_font_path
from ..sheet_input import MAX_SHEET_BYTES, SheetNotText, SheetTooLarge, check_sheet_name, pasted_name, sheet_text, too_large
from . import check_worker, compute, service
from .check_worker import CheckTimeout, check_in_worker
from .compute import ClientGone, ComputeTimeout, ServerBusy, ShuttingDown, WorkerStopped
from .guard import BodyLimit, Draining
from .schemas import (
    MAX_BODY_BYTES,
    MAX_UPLOAD_BYTES,
    FitRequest,
    LandscapeRequest,
    LineSearchRequest,
    RunRequest,
)

__all__ = ["create_app", "app", "plotly_js_path", "describe_validation_errors"]

STATIC_DIR = Path(__file__).resolve().parent / "static"

try:  # orjson is several times faster on a 400 x 400 grid; plain json is the fallback
    import orjson

    def _dumps(content) -> bytes:
        return orjson.dumps(content)
except ImportError:  # pragma: no cover - depends on the environment
    def _dumps(content) -> bytes:
        return json.dumps(content, allow_nan=False, separators=(",", ":")).encode()


class FastJSON(JSONResponse):
    """JSON without FastAPI's per-element encoder pass (the bodies are plain lists of floats)."""

    def render(self, content) -> bytes:
        return _dumps(content)


def plotly_js_path() -> Path:
    """plotly.min.js as shipped inside the installed ``plotly`` Python package."""
    path = importlib.resources.files("plotly") / "package_data" / "plotly.min.js"
    with importlib.resources.as_file(path) as real:
        if not Path(real).is_file():  # pragma: no cover - a broken plotly install
            raise FileNotFoundError(f"plotly.min.js not found in the installed plotly package (looked at {real})")
        return Path(real)


# ---------------------------------------------------------------- errors a person can act on
def _where(loc: tuple) -> tuple[str, str]:
    """('body', 'optimizers', 1, 'lr') -> ("'lr'", ' of optimiser 2')."""
    parts = [p for p in loc if p != "body"]
    owner = ""
    if len(parts) >= 2 and parts[0] == "optimizers" and isinstance(parts[1], int):
        owner = f" of optimiser {parts[1] + 1}"
        parts = parts[2:]
    elif len(parts) >= 2 and parts[0] in ("params", "start", "point", "range0", "range1") and isinstance(parts[1], int):
        owner = f" (entry {parts[1] + 1})"
        parts = parts[:1]
    name = ".".join(str(p) for p in parts) if parts else "request"
    return f"'{name}'", owner


def _show(value) -> str:
    if isinstance(value, (bytes, bytearray)):
        text = f"{len(value)} bytes that are not JSON"
    elif isinstance(value, str):
        text = repr(value)
    else:
        try:
            text = json.dumps(value, allow_nan=False)
        except (TypeError, ValueError):  # a form, NaN, anything JSON cannot say: described, never a 500
            text = type(value).__name__
    return text if len(text) <= 60 else text[:57] + "..."


def describe_validation_errors(errors: list[dict]) -> str:
    """Pydantic's error list as sentences in the house style."""
    sentences = []
    for err in errors:
        kind = err.get("type", "")
        name, owner = _where(tuple(err.get("loc", ())))
        msg = str(err.get("msg", "is invalid"))
        if kind == "missing":
            sentences.append(f"The {name} parameter{owner} is required. Got nothing instead.")
        elif kind == "extra_forbidden":
            sentences.append(f"The {name} parameter{owner} is not known; remove it.")
        elif kind in ("model_attributes_type", "dict_type") and not [p for p in err.get("loc", ()) if p != "body"]:
            sentences.append(f"The request body must be a JSON object (Content-Type: application/json). "
                             f"Got {_show(err.get('input'))} instead.")
        elif kind == "json_invalid":
            sentences.append("The request body must be valid JSON. Got malformed JSON instead.")
        else:
            if msg.startswith("Value error, "):
                msg = msg[len("Value error, "):]
                sentences.append(f"The {name} parameter{owner} is invalid: {msg}.")
                continue
            if msg.startswith("Input should be "):
                msg = "must be " + msg[len("Input should be "):]
            elif msg.startswith("String should match pattern"):
                msg = "must be empty, 'upload:ID' (from an upload) or 'logistic:SEED'" if name == "'data'" else \
                    "must be a lower-case name such as 'adam'"
            else:
                msg = "must satisfy: " + msg[0].lower() + msg[1:]
            sentences.append(f"The {name} parameter{owner} {msg}. Got {_show(err.get('input'))} instead.")
    return " ".join(sentences) or "The request is invalid."


def _simplify(errors: list[dict]) -> list[dict]:
    return [{"loc": [p for p in e.get("loc", ()) if p != "body"], "type": e.get("type"), "msg": str(e.get("msg"))} for e in errors]


# ---------------------------------------------------------------- the app
async def _unless_client_leaves(request: Request, work):
    """Await ``work``; if the client disconnects first, stop the check worker (it is killed, a new one starts
    for the next sheet) instead of computing an answer nobody will read."""
    task = asyncio.ensure_future(work)
    while True:
        done, _ = await asyncio.wait({task}, timeout=0.5)
        if done:
            return task.result()
        if await request.is_disconnected():
            check_worker.abandon()
            try:
                await task
            except Exception:  # noqa: BLE001  (the worker was killed on purpose)
                pass
            raise ClientGone


async def _computed(request: Request, fn, req) -> Response:
    """``fn(req)`` in a compute worker, stopped if the client leaves, the deadline passes or the server stops."""
    result = await compute.POOL.call(fn, req, uploads=service.uploads_for(req.data), cancelled=request.is_disconnected)
    return FastJSON(result)


def create_app(book_dir: str | Path | None = None) -> FastAPI:
    """The explorer; with ``book_dir`` (a folder ``losslab book`` wrote) it serves that book at ``/book/`` too."""
    from ..precision import enable_float64_process

    enable_float64_process()  # the server is losslab's own process: float64 throughout
    @asynccontextmanager
    async def lifespan(app: FastAPI):
        compute.POOL.start()  # the compute workers import while the server starts, not on the first request
        yield
        compute.POOL.close()
        check_worker.shutdown()  # the worker processes end with the server

    app = FastAPI(lifespan=lifespan, title="losslab", description="Chapter 6 optimiser explorer", docs_url="/api/docs", redoc_url=None)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError):
        errors = list(exc.errors())
        return JSONResponse(status_code=422, content={"detail": describe_validation_errors(errors), "errors": _simplify(errors)})

    @app.exception_handler(LosslabError)
    async def _losslab_error(request: Request, exc: LosslabError):
        return JSONResponse(status_code=422, content={"detail": str(exc)})

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException):
        # starlette's own answers ("Not Found", "There was an error parsing the body") as sentences
        sentences = {
            400: "The request body must be valid JSON in UTF-8. Got bytes that cannot be read as such instead.",
            404: f"There is no page or endpoint {request.url.path!r} here; the API is listed at /api/docs.",
            405: f"The endpoint {request.url.path!r} does not accept {request.method}; see /api/docs.",
        }
        detail = sentences.get(exc.status_code, f"{exc.detail}." if isinstance(exc.detail, str) else str(exc.detail))
        return JSONResponse(status_code=exc.status_code, content={"detail": detail}, headers=getattr(exc, "headers", None))

    @app.exception_handler(ClientGone)
    async def _client_gone(request: Request, exc: ClientGone):
        return Response(status_code=499)  # nobody reads it; no 500 in the log either

    @app.exception_handler(MemoryError)
    async def _out_of_memory(request: Request, exc: MemoryError):
        return JSONResponse(status_code=503, content={"detail": "The server ran out of memory for this request; ask for less "
                                                                "(a smaller grid, fewer steps or data points)."})

    # a sheet over the body limit is refused before it is read, in the words of the sheet's own limit
    app.add_middleware(BodyLimit, max_bytes=MAX_BODY_BYTES, messages={"/api/check": too_large})
    app.add_middleware(Draining, closing=lambda: compute.POOL.closing)

    def _status_handler(status: int):
        async def handler(request: Request, exc: LosslabError):
            return JSONResponse(status_code=status, content={"detail": str(exc)})

        return handler

    # a sheet too large, one that is not text, a check past its deadline: the status says which
    # work past its deadline, stopped by the server's shutdown or ended with its worker: the status says which too
    for kind, status in ((SheetTooLarge, 413), (SheetNotText, 415), (CheckTimeout, 504), (ComputeTimeout, 504),
                         (ShuttingDown, 503), (ServerBusy, 503), (WorkerStopped, 503)):
        app.add_exception_handler(kind, _status_handler(status))

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html", media_type="text/html")

    @app.get("/static/plotly.min.js", include_in_schema=False)
    def plotly_js() -> FileResponse:
        return FileResponse(plotly_js_path(), media_type="text/javascript")

    @app.get("/static/math.css", include_in_schema=False)
    def math_stylesheet() -> Response:
        from ..check_view import REPORT_CSS
        from ..mathml import math_css

        return Response(math_css("/static/math/" + math_font_path().name) + REPORT_CSS, media_type="text/css")

    @app.get("/static/math/{name}", include_in_schema=False)
    def math_font(name: str) -> Response:
        font = math_font_path()
        if name != font.name:
            return JSONResponse(status_code=404, content={"detail": f"No math asset {name!r}; the font is {font.name!r}."})
        return FileResponse(font, media_type="font/ttf", headers={"Cache-Control": "max-age=86400"})

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    if book_dir is not None:
        book = Path(book_dir)
        if not (book / "index.html").is_file():
            raise LosslabError(f"The 'book' folder must hold the index.html that `losslab book` writes. Got {str(book)!r} instead.")
        app.mount("/book", StaticFiles(directory=book, html=True), name="book")

    @app.get("/api/info", include_in_schema=False)
    def info() -> Response:
        return FastJSON({"book": book_dir is not None})

    @app.get("/api/objectives")
    def objectives() -> Response:
        return FastJSON(service.catalog())

    @app.post("/api/landscape")
    async def landscape(req: LandscapeRequest, request: Request) -> Response:
        return await _computed(request, service.landscape, req)

    @app.post("/api/run")
    async def run(req: RunRequest, request: Request) -> Response:
        return await _computed(request, service.run, req)

    @app.post("/api/linesearch")
    async def linesearch(req: LineSearchRequest, request: Request) -> Response:
        return await _computed(request, service.line_search, req)

    @app.post("/api/fit")
    async def fit(req: FitRequest, request: Request) -> Response:
        return await _computed(request, service.fit, req)

    @app.post("/api/upload")
    async def upload(file: UploadFile = File(...)) -> Response:
        # read one byte past the limit: enough to refuse without holding a huge body in memory
        raw = await file.read(MAX_UPLOAD_BYTES + 1)
        await file.close()
        # parsing a megabyte of CSV takes a moment: in a thread, so the other requests are not held up meanwhile
        return FastJSON(await asyncio.to_thread(service.store_upload, raw, file.filename or "upload.csv"))

    @app.post("/api/check")
    async def check(
        request: Request,
        file: UploadFile | None = File(None),
        text: str | None = Form(None),
        filename: str | None = Form(None),
        fmt: str | None = Form(None, alias="format"),
    ) -> Response:
        from ..check_view import check_report_html

        if file is not None:
            name = check_sheet_name(file.filename or "upload")
            raw = await file.read(MAX_SHEET_BYTES + 1)  # one byte past the limit is enough to refuse
            await file.close()
        elif text is not None:
            # pasted text: read as the format asked for, or (auto) as the checker finds it (notebook, LaTeX, Markdown)
            name = check_sheet_name(filename) if filename is not None and fmt is None else pasted_name(fmt or "auto")
            raw = text.encode("utf-8")
        else:
            raise LosslabError("The 'file' or 'text' parameter is required: upload a sheet or paste its text. Got neither instead.")
        shown = name or "pasted text"
        source = sheet_text(raw, shown)
        claims = await _unless_client_leaves(request, check_in_worker(source, name))
        counts = {v: sum(c.get("verdict") == v for c in claims) for v in ("correct", "incorrect", "not checked")}
        return FastJSON({"filename": shown, "claims": claims, "counts": counts, "html": check_report_html(claims, source)})

    return app


app = create_app()
