"""The web API's computations: validated requests in, JSON-ready dicts out.

Everything numeric is delegated to the engine -- :func:`losslab.run.run` for
trajectories, :func:`losslab.landscape.grid2d` for heat maps,
:func:`losslab.optim.line_search.four_point_search` for line searches -- so the
page shows exactly what the CLI and the book compute. This module only keeps
the state the architecture allows the web app: caches of objectives (whose
compiled kernels are shared) and of uploaded data sets (in memory, bounded).
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from functools import lru_cache

import numpy as np

from ..data import Dataset, load_dataset, parse_csv_text
from ..errors import LosslabError
from ..jsonable import finite_or_none, floats_or_none
from .catalog import DEFAULT_OBJECTIVE, OBJECTIVE_ALIASES, OBJECTIVES, OPTIMIZERS
from .schemas import (
    MAX_OPTIMIZERS,
    MAX_RESOLUTION,
    MAX_STEPS,
    MAX_UPLOAD_BYTES,
    MAX_WORK,
    FitRequest,
    LandscapeRequest,
    LineSearchRequest,
    RunRequest,
)

__all__ = ["catalog", "landscape", "run", "line_search", "fit", "store_upload", "uploads_for", "UploadStore"]


# ---------------------------------------------------------------- uploads
class UploadStore:
    """Uploaded data sets, in memory only, keyed by a hash of their content; the oldest are forgotten."""

    def __init__(self, capacity: int = 32) -> None:
        self.capacity = capacity
        self._items: OrderedDict[str, Dataset] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, data: Dataset, raw: bytes) -> str:
        key = hashlib.sha256(raw).hexdigest()[:16]
        self.put(key, data)
        return key

    def put(self, key: str, data: Dataset) -> None:
        """Keep ``data`` under ``key`` (a compute worker receives the server's uploads this way)."""
        with self._lock:
            self._items[key] = data
            self._items.move_to_end(key)
            while len(self._items) > self.capacity:
                self._items.popitem(last=False)

    def get(self, key: str) -> Dataset:
        with self._lock:
            if key not in self._items:
                raise LosslabError(
                    f"The uploaded data 'upload:{key}' is not known to this server (it was restarted or the upload is too old). "
                    "Upload the CSV file again."
                )
            return self._items[key]

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"UploadStore({len(self)} of {self.capacity} data sets)"


UPLOADS = UploadStore()


def uploads_for(data: str | None) -> dict[str, Dataset]:
    """The uploaded data set a request names (``'upload:ID'``), to send with it to a compute worker; an unknown
    ID is refused here, before any work."""
    if data is None or not data.startswith("upload:"):
        return {}
    key = data.removeprefix("upload:")
    return {key: UPLOADS.get(key)}


def store_upload(raw: bytes, filename: str = "upload.csv") -> dict:
    """Parse an uploaded CSV (numbers only, via :func:`losslab.data.parse_csv_text`) and keep it in memory."""
    if len(raw) > MAX_UPLOAD_BYTES:
        raise LosslabError(f"The CSV file must be at most {MAX_UPLOAD_BYTES} bytes. Got {len(raw)} bytes instead.")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise LosslabError("The CSV file must be UTF-8 text of two numeric columns (x, y). Got binary data instead.") from None
    safe_name = "".join(ch for ch in filename if ch.isalnum() or ch in "._-")[:64] or "upload.csv"
    data = parse_csv_text(text, name=safe_name)
    if data.x.ndim != 1:
        raise LosslabError(f"The CSV file must have one x column. Got shape {data.x.shape} instead.")
    key = UPLOADS.add(data, raw)
    return {"data": f"upload:{key}", "name": safe_name, "n": len(data),
            "x_range": [float(data.x.min()), float(data.x.max())], "y_range": [float(data.y.min()), float(data.y.max())]}


# ---------------------------------------------------------------- objectives
@lru_cache(maxsize=64)
def _model_objective(model: str, data_name: str):
    from ..objective import make_objective

    return make_objective(model, load_dataset(data_name))


def _function_objective(key: str):
    from ..presets import preset_objective  # cached there, one instance per function

    return preset_objective(key)


def objective_for(key: str, data: str | None):
    """The engine objective of a request (objectives are cached, so their compiled kernels are reused)."""
    entry = OBJECTIVES[key]
    if entry.kind == "function":
        if data is not None:
            raise LosslabError(f"The 'data' parameter must be empty for the {entry.label}: it has no data. Got {data!r} instead.")
        return _function_objective(key)
    if data is None:
        return _model_objective(key, entry.data_name)
    if data.startswith("logistic:"):
        # seeded labels are 0/1: they fit a model whose output is a logit (what the model says, not its name)
        output = _model_objective(key, entry.data_name).model.output
        if output != "logit":
            raise LosslabError(f"The 'data' parameter 'logistic:SEED' (labels 0 and 1) is for models with a logit output only. "
                               f"Got it for {key!r}, whose output is {output!r}, instead.")
        return _model_objective(key, data)
    uploaded = UPLOADS.get(data.removeprefix("upload:"))
    return _cached_upload_objective(key, data, uploaded)


_UPLOAD_OBJECTIVES: OrderedDict[tuple[str, str], object] = OrderedDict()
_UPLOAD_LOCK = threading.Lock()


def _cached_upload_objective(model: str, data_key: str, data: Dataset):
    from ..objective import make_objective

    key = (model, data_key)
    with _UPLOAD_LOCK:  # requests run in a thread pool
        if key not in _UPLOAD_OBJECTIVES:
            _UPLOAD_OBJECTIVES[key] = make_objective(model, data)
            while len(_UPLOAD_OBJECTIVES) > UPLOADS.capacity:
                _UPLOAD_OBJECTIVES.popitem(last=False)
        return _UPLOAD_OBJECTIVES[key]


def _check_dims(key: str, name: str, values) -> None:
    dims = OBJECTIVES[key].dims
    if len(values) != dims:
        raise LosslabError(
            f"The '{name}' parameter must have {dims} number{'s' if dims > 1 else ''} for the {OBJECTIVES[key].label}. "
            f"Got {len(values)} instead."
        )


def refuse_work(evaluations: float, *, what: str, advice: str) -> None:
    """Refuse, before starting it, a request of more than MAX_WORK example-loss evaluations."""
    if evaluations > MAX_WORK:
        raise LosslabError(
            f"{what} needs {evaluations:,.0f} evaluations of an example's loss, more than this server does for one "
            f"request ({MAX_WORK:,}); {advice}."
        )


# ---------------------------------------------------------------- endpoints' work
def catalog() -> dict:
    from ..mathml import latex_to_mathml

    objectives = []
    for e in OBJECTIVES.values():
        n_data = None
        if e.kind == "model":
            n_data = len(load_dataset(e.data_name))
        objectives.append({
            "key": e.key, "label": e.label, "kind": e.kind, "dims": e.dims, "range0": list(e.range0),
            "range1": list(e.range1) if e.range1 else None, "start": list(e.start), "param_names": list(e.param_names),
            "data_name": e.data_name, "n_data": n_data, "description": e.description,
            "resolution": e.resolution, "log_color": e.log_color, "optimizers": [dict(o) for o in e.optimizers],
            "formula": e.formula, "formula_html": latex_to_mathml(e.formula, display=False),
        })
    return {
        "default": DEFAULT_OBJECTIVE,
        "objectives": objectives,
        "aliases": dict(OBJECTIVE_ALIASES),
        "optimizers": [{"name": n, "label": label, "params": list(params), "line_search": ls}
                       for n, (label, params, ls) in OPTIMIZERS.items()],
        "limits": {"max_resolution": MAX_RESOLUTION, "max_steps": MAX_STEPS, "max_optimizers": MAX_OPTIMIZERS,
                   "max_upload_bytes": MAX_UPLOAD_BYTES},
    }


def landscape(req: LandscapeRequest) -> dict:
    # the page asks for the same picture again on every reload or objective switch
    return _landscape_cached(req.objective, req.data, tuple(req.range0), tuple(req.range1) if req.range1 else None, req.resolution)


@lru_cache(maxsize=16)
def _landscape_cached(key: str, data: str | None, range0: tuple, range1: tuple | None, resolution: int) -> dict:
    from ..landscape import grid2d, slice_1d

    req = LandscapeRequest(objective=key, data=data, range0=range0, range1=range1, resolution=resolution)

    entry = OBJECTIVES[req.objective]
    obj = objective_for(req.objective, req.data)
    if entry.dims == 1:
        if req.range1 is not None:
            raise LosslabError(f"The 'range1' parameter must be empty for the {entry.label} (one parameter). Got {req.range1} instead.")
        # the whole 1-D landscape is the slice through 0 along +phi
        cut = slice_1d(obj, np.zeros(1), np.ones(1), alphas=req.range0, resolution=req.resolution, kind="axis")
        loss = np.asarray(cut.loss)
        return {"dims": 1, "phi0": floats_or_none(cut.alphas), "loss": floats_or_none(loss), "min": finite_or_none(np.nanmin(loss)), "max": finite_or_none(np.nanmax(loss))}
    if req.range1 is None:
        raise LosslabError(f"The 'range1' parameter is required for the {entry.label} (two parameters). Got nothing instead.")
    n = obj.n_examples
    refuse_work(req.resolution**2 * n, what=f"A {req.resolution}x{req.resolution} landscape over {n:,} data points",
                advice=f"use a resolution of at most {max(2, int((MAX_WORK / n) ** 0.5))} or fewer data points")
    # "direct" (one vmapped evaluation per grid point): at the page's sizes (<= 400 x 400) it is faster than
    # the separable Gabor form, which pays off on far larger grids
    land = grid2d(obj, req.range0, req.range1, resolution=req.resolution, method="direct")
    loss = np.asarray(land.loss)
    return {"dims": 2, "phi0": floats_or_none(land.phi0), "phi1": floats_or_none(land.phi1), "loss": floats_or_none(loss),
            "min": finite_or_none(np.nanmin(loss)), "max": finite_or_none(np.nanmax(loss))}


# Compiled runs are cached by the engine per (objective, optimiser, steps, batching, line search);
# the hyperparameters are traced values. Rounding the step count up to one of a few sizes and
# keeping the first `steps` records means moving the steps slider reuses a handful of compiled
# runs instead of compiling one per value: the first T records of a longer run are the run of T steps.
_STEP_SIZES = (16, 32, 64, 128, 256, 512, 1024, 2048, MAX_STEPS)
LINE_SEARCH_THRESH = 1e-4
LINE_SEARCH_MAX_ITER = 10


def compiled_steps(steps: int) -> int:
    """The step count actually compiled for a request of ``steps``: the smallest size >= steps."""
    return next(size for size in _STEP_SIZES if size >= steps)


def run(req: RunRequest) -> dict:
    from ..run import run as engine_run

    entry = OBJECTIVES[req.objective]
    _check_dims(req.objective, "start", req.start)
    obj = objective_for(req.objective, req.data)
    start = np.asarray(req.start, dtype=np.float64)
    n = getattr(obj, "n_examples", 1)
    work = sum(compiled_steps(spec.steps) * (min(spec.batch_size or n, n) + n) for spec in req.optimizers)
    refuse_work(work, what=f"{len(req.optimizers)} run(s) of up to {max(s.steps for s in req.optimizers):,} steps over {n:,} data points",
                advice="use fewer steps, smaller batches or fewer data points")
    runs = []
    for k, spec in enumerate(req.optimizers, start=1):
        if spec.name not in OPTIMIZERS:
            known = ", ".join(repr(n) for n in OPTIMIZERS)
            raise LosslabError(f"The 'name' of optimiser {k} must be one of {known}. Got {spec.name!r} instead.")
        label, shown, ls_ok = OPTIMIZERS[spec.name]
        if spec.line_search and not ls_ok:
            raise LosslabError(f"The line search of optimiser {k} works with 'gd' only. Got {spec.name!r} instead.")
        n = obj.n_examples
        batch = spec.batch_size if "batch_size" in shown and entry.kind == "model" else None
        if batch is not None and batch > n:
            raise LosslabError(f"The 'batch_size' of optimiser {k} must be at most {n} (the number of data points). Got {batch} instead.")
        if batch == n:
            batch = None  # the whole data set each step: the full-batch (compiled) path, same numbers
        if spec.line_search:
            options = {"max_dist": spec.max_dist, "thresh": LINE_SEARCH_THRESH, "max_iter": LINE_SEARCH_MAX_ITER}
            hparams = {"line_search": "four_point", "line_search_options": options}
        else:
            hparams = {"learning_rate": spec.lr}
            if "beta" in shown:
                hparams["beta"] = spec.beta
            if "gamma" in shown:
                hparams["gamma"] = spec.gamma
        result = engine_run(obj, spec.name, start, steps=compiled_steps(spec.steps), batch_size=batch, seed=spec.seed, **hparams)
        end = min(spec.steps, len(result.loss) - 1)  # a diverged run stops early
        loss = np.asarray(result.loss[: end + 1], dtype=np.float64)
        finite = np.isfinite(loss)
        last = int(np.nonzero(finite)[0][-1]) if finite.any() else 0
        diverged = result.diverged_at is not None and result.diverged_at <= spec.steps
        runs.append({
            "name": spec.name, "label": label,
            "params": floats_or_none(np.asarray(result.params)[: last + 1]),
            "loss": floats_or_none(loss[: last + 1]),
            "final_loss": finite_or_none(loss[last]),
            "diverged": bool(diverged), "diverged_at": int(result.diverged_at) if diverged else None,
            "steps": end, "epochs": int(result.epoch[end]) if len(result.epoch) > end else None,
            "batch_size": batch,
        })
    start_loss = runs[0]["loss"][0] if runs else None
    return {"objective": req.objective, "start": list(req.start), "start_loss": start_loss, "runs": runs}


def line_search(req: LineSearchRequest) -> dict:
    from ..landscape import slice_1d
    from ..optim.line_search import four_point_search

    _check_dims(req.objective, "point", req.point)
    obj = objective_for(req.objective, req.data)
    point = np.asarray(req.point, dtype=np.float64)
    n = getattr(obj, "n_examples", 1)
    refuse_work((req.samples + 4 * req.max_iter + 8) * n, what=f"A line search drawn at {req.samples} points over {n:,} data points",
                advice="use fewer samples or fewer data points")
    if req.direction == "gradient":
        direction = -np.asarray(obj.grad(point), dtype=np.float64)  # notebook 6.2: L(phi - t dL/dphi)
    else:
        direction = np.ones_like(point)  # notebook 6.1: L(phi + t) on [phi, phi + max_dist]

    def along(t: float) -> float:
        return float(obj.value(point + t * direction))

    result = four_point_search(along, max_dist=req.max_dist, thresh=req.thresh, max_iter=req.max_iter)
    brackets = np.asarray(result.brackets, dtype=np.float64).reshape(-1, 4)
    cut = slice_1d(obj, point, direction, alphas=(0.0, req.max_dist), resolution=req.samples, kind="line search")
    t, f = cut.alphas, cut.loss
    f_brackets = floats_or_none([[along(v) for v in row] for row in brackets])  # an overflowing loss is null, not a 500
    out = {"point": list(req.point), "direction": floats_or_none(direction), "t": floats_or_none(t), "f": floats_or_none(f),
           "brackets": floats_or_none(brackets), "f_brackets": f_brackets, "step": finite_or_none(result.step), "f_step": finite_or_none(along(result.step))}
    if not (np.all(np.isfinite(np.asarray(f, dtype=np.float64))) and all(v is not None for row in f_brackets for v in row)):
        out["notes"] = ["The loss overflows float64 (is infinite) at some points of this line; those values are null "
                        "and the search's step among them is not meaningful."]
    return out


@lru_cache(maxsize=64)
def _predict_fn(model):
    """The jitted, parameter-batched prediction of one model (objectives are cached, so their models are too)."""
    import jax

    return jax.jit(jax.vmap(model.predict, in_axes=(0, None)))


def fit(req: FitRequest) -> dict:
    entry = OBJECTIVES[req.objective]
    if entry.kind != "model":
        raise LosslabError(f"The model fit needs a model with data; the {entry.label} has none. Pick a model objective.")
    for p in req.params:
        _check_dims(req.objective, "params", p)
    obj = objective_for(req.objective, req.data)
    x_data = np.asarray(obj.data.x, dtype=np.float64)
    lo, hi = float(x_data.min()), float(x_data.max())
    pad = 0.05 * (hi - lo) if hi > lo else 1.0
    x = np.linspace(lo - pad, hi + pad, req.samples)
    curves = np.asarray(_predict_fn(obj.model)(np.asarray(req.params, dtype=np.float64), x))
    return {"x_data": floats_or_none(x_data), "y_data": floats_or_none(obj.data.y), "x": floats_or_none(x), "curves": floats_or_none(curves),
            "output": obj.model.output}
