"""Results as JSON values: the one conversion the CLI, the web API, the book and run records share.

JSON has no NaN or infinity: a non-finite float becomes ``null`` (and, when the caller
collects ``notes``, the path of each one is recorded so the output can say which
quantity overflowed). NumPy and JAX arrays become (nested) lists.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["to_jsonable", "finite_or_none", "floats_or_none"]


def to_jsonable(obj, notes: list[str] | None = None, path: str = ""):
    """Plain JSON values; a non-finite float becomes None and its path is appended to ``notes``."""
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v, notes, f"{path}.{k}" if path else str(k)) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v, notes, f"{path}[{i}]") for i, v in enumerate(obj)]
    if hasattr(obj, "tolist") and hasattr(obj, "dtype"):
        arr = np.asarray(obj)
        if arr.dtype.kind == "f" and arr.size and not np.all(np.isfinite(arr)):
            if notes is not None:
                for where in np.argwhere(~np.isfinite(arr))[:4]:
                    notes.append(f"{path}[{', '.join(map(str, where))}]" if arr.ndim else path)
            values = np.where(np.isfinite(arr), arr, 0.0).tolist()
            return _nulls(values, np.isfinite(arr).tolist())
        return arr.tolist()
    if isinstance(obj, (np.floating, np.integer, np.bool_)):
        return to_jsonable(obj.item(), notes, path)
    if isinstance(obj, float) and not math.isfinite(obj):
        if notes is not None:
            notes.append(path or "value")
        return None
    return obj


def _nulls(values, finite):
    if isinstance(values, list):
        return [_nulls(v, f) for v, f in zip(values, finite)]
    return values if finite else None


def finite_or_none(value) -> float | None:
    """One number as a float, or None when it is not finite."""
    value = float(value)
    return value if math.isfinite(value) else None


def floats_or_none(values) -> list:
    """An array of numbers as a (nested) list of floats with non-finite entries as None."""
    return to_jsonable(np.asarray(values, dtype=np.float64))
