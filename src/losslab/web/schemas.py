"""Request and response bodies of the web API, validated by pydantic at the edge.

Every bound a person can hit (grid size, steps, number of runs, rates, upload
size) is declared here once; :mod:`losslab.web.app` turns a violation into a
422 whose ``detail`` is one sentence a person can act on.
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..optim.registry import BOUNDS
from .catalog import OBJECTIVE_ALIASES, OBJECTIVES

__all__ = [
    "MAX_RESOLUTION",
    "MAX_STEPS",
    "MAX_OPTIMIZERS",
    "MAX_UPLOAD_BYTES",
    "MAX_BODY_BYTES",
    "MAX_WORK",
    "MAX_ABS_COORD",
    "OBJECTIVE_KEYS",
    "ObjectiveRef",
    "LandscapeRequest",
    "OptimizerSpec",
    "RunRequest",
    "LineSearchRequest",
    "FitRequest",
]

MAX_RESOLUTION = 400
MAX_STEPS = 5000
MAX_OPTIMIZERS = 4
MAX_UPLOAD_BYTES = 1_000_000
MAX_ABS_COORD = 1e6
MAX_BATCH = 100_000
# One request's work: evaluations of one example's loss (grid points x data points, steps x examples per step,
# summed over the runs). About a second or two of CPU; sized before the work starts and refused above it, so
# no request computes for minutes after its client has gone.
MAX_WORK = 50_000_000
# The largest request body: an upload of MAX_UPLOAD_BYTES and its multipart envelope; every JSON body is far smaller.
MAX_BODY_BYTES = MAX_UPLOAD_BYTES + 64 * 1024

# The objectives the page offers, by the engine's names (see losslab.web.catalog for what each one is).
OBJECTIVE_KEYS = tuple(OBJECTIVES)
ObjectiveKey = Literal[OBJECTIVE_KEYS]
_OLDER_NAMES = ", ".join(f"{old} (read as {new})" for old, new in OBJECTIVE_ALIASES.items())
# 'upload:<16 hex>' (a CSV sent to /api/upload) or 'logistic:SEED' (seeded data for the logistic model).
DATA_PATTERN = r"^(upload:[0-9a-f]{16}|logistic:[0-9]{1,9})$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _finite(name: str, values: list[float]) -> list[float]:
    for v in values:
        if not math.isfinite(v) or abs(v) > MAX_ABS_COORD:
            raise ValueError(f"its values must be finite numbers of size at most {MAX_ABS_COORD:g}; got {v}")
    return values


class ObjectiveRef(_Strict):
    """Which loss: an objective key and, for the models, optionally other data."""

    objective: ObjectiveKey = Field(description=f"{' | '.join(OBJECTIVE_KEYS)}; older names: {_OLDER_NAMES}")
    data: str | None = Field(default=None, pattern=DATA_PATTERN, description="None (the book's data), 'upload:ID' or 'logistic:SEED'")

    @field_validator("objective", mode="before")
    @classmethod
    def _one_name(cls, value):
        return OBJECTIVE_ALIASES.get(value, value) if isinstance(value, str) else value


class LandscapeRequest(ObjectiveRef):
    range0: tuple[float, float] = Field(description="(lo, hi) of phi_0")
    range1: tuple[float, float] | None = Field(default=None, description="(lo, hi) of phi_1; None for a 1-D objective")
    resolution: int = Field(default=120, ge=2, le=MAX_RESOLUTION)

    @field_validator("range0", "range1")
    @classmethod
    def _range(cls, value, info):
        if value is None:
            return value
        lo, hi = _finite(info.field_name, list(value))
        if not lo < hi:
            raise ValueError(f"it needs lo < hi; got ({lo}, {hi})")
        return (lo, hi)


class OptimizerSpec(_Strict):
    """One optimiser of a run: the book's names and symbols (alpha = lr, beta, gamma)."""

    name: str = Field(min_length=1, max_length=32, pattern=r"^[a-z_]+$")
    # the optimiser registry's bounds (declared once); the page also caps the rate at 1000
    lr: float = Field(default=0.1, le=1000.0, description="learning rate alpha", **BOUNDS["learning_rate"])
    beta: float = Field(default=0.9, description="momentum / first-moment decay", **BOUNDS["beta"])
    gamma: float = Field(default=0.99, description="second-moment decay (Adam)", **BOUNDS["gamma"])
    batch_size: int | None = Field(default=None, ge=1, le=MAX_BATCH, description="None = full batch")
    steps: int = Field(default=100, ge=1, le=MAX_STEPS)
    seed: int = Field(default=0, ge=0, le=2**31 - 1)
    line_search: bool = Field(default=False, description="GD with the four-point line search of notebook 6.1")
    max_dist: float = Field(default=0.1, gt=0.0, le=1e4, description="line search: largest step tried")


class RunRequest(ObjectiveRef):
    start: list[float] = Field(min_length=1, max_length=2)
    optimizers: list[OptimizerSpec] = Field(min_length=1, max_length=MAX_OPTIMIZERS)

    @field_validator("start")
    @classmethod
    def _start(cls, value):
        return _finite("start", value)


class LineSearchRequest(ObjectiveRef):
    """The four-point search along -grad L from ``point`` (1-D objectives: along +phi from ``point``)."""

    point: list[float] = Field(min_length=1, max_length=2)
    max_dist: float = Field(default=0.1, gt=0.0, le=1e4)
    thresh: float = Field(default=1e-4, gt=0.0, le=1.0)
    max_iter: int = Field(default=10, ge=1, le=100)
    direction: Literal["gradient", "positive"] = Field(default="gradient", description="-grad L (notebook 6.2) or +1 (notebook 6.1)")
    samples: int = Field(default=200, ge=2, le=2000, description="points of the 1-D slice to draw")

    @field_validator("point")
    @classmethod
    def _point(cls, value):
        return _finite("point", value)


class FitRequest(ObjectiveRef):
    """Model outputs over the data's x-range for up to four parameter vectors."""

    params: list[list[float]] = Field(min_length=1, max_length=MAX_OPTIMIZERS)
    samples: int = Field(default=100, ge=2, le=1000)

    @field_validator("params")
    @classmethod
    def _params(cls, value):
        for p in value:
            if not 1 <= len(p) <= 2:
                raise ValueError(f"each parameter vector needs 1 or 2 numbers; got {len(p)}")
            _finite("params", p)
        return value
