"""Parsing helpers shared by the commands (option text -> validated values)."""

from __future__ import annotations

import json
import math
import sys

import numpy as np

from ..errors import LosslabError


def parse_floats(option: str, text: str) -> np.ndarray:
    """'-1.5,6.5' -> array([-1.5, 6.5]); a clear error naming the option otherwise."""
    parts = [p.strip() for p in text.split(",")]
    try:
        values = [float(p) for p in parts]
    except ValueError:
        raise LosslabError(f"The '{option}' option must be comma-separated numbers, e.g. -1.5,6.5. Got {text!r} instead.") from None
    if not all(math.isfinite(v) for v in values):
        raise LosslabError(f"The '{option}' option must contain finite numbers. Got {text!r} instead.")
    return np.array(values, dtype=np.float64)


def parse_ints(option: str, text: str) -> tuple[int, ...]:
    """'1,1000,1' -> (1, 1000, 1)."""
    try:
        return tuple(int(p.strip()) for p in text.split(","))
    except ValueError:
        raise LosslabError(f"The '{option}' option must be comma-separated integers, e.g. 1,64,1. Got {text!r} instead.") from None


def print_json(obj) -> None:
    """One JSON object on stdout (NumPy/JAX arrays become lists)."""
    json.dump(to_jsonable(obj), sys.stdout, indent=2)
    sys.stdout.write("\n")


def to_jsonable(obj):
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if hasattr(obj, "tolist") and hasattr(obj, "dtype"):
        return to_jsonable(np.asarray(obj).tolist())
    if isinstance(obj, float) and not math.isfinite(obj):
        return None if math.isnan(obj) else ("inf" if obj > 0 else "-inf")
    if isinstance(obj, (np.floating, np.integer, np.bool_)):
        return to_jsonable(obj.item())
    return obj
