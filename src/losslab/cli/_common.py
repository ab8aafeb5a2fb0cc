"""Parsing helpers shared by the commands (option text -> validated values)."""

from __future__ import annotations

import json
import math
import sys

import numpy as np

from ..errors import LosslabError
from ..jsonable import to_jsonable


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


def check_applies(model: str, *, data: str | None = None, widths: str | None = None) -> None:
    """Refuse an option the chosen model would ignore, instead of ignoring it without a word."""
    from ..models import SIZED_MODELS
    from ..presets import NOTEBOOK_FUNCTIONS

    if widths is not None and model not in SIZED_MODELS:
        sized = ", ".join(SIZED_MODELS)
        raise LosslabError(f"The '--widths' option applies only to --model {sized}. Got --widths {widths} with --model {model!r} instead.")
    if data is not None and model in NOTEBOOK_FUNCTIONS:
        raise LosslabError(f"The '--data' option does not apply to --model {model} (a plain function of the parameters, no data). "
                           f"Got --data {data} instead.")


def short_vector(values, *, head: int = 8) -> str:
    """A parameter vector for a table cell: all of a short one, the first ``head`` of a long one and the count."""
    arr = np.asarray(values).ravel()
    shown = ", ".join(f"{v:.10g}" for v in arr[:head])
    return shown if arr.size <= head else f"{shown}, ... ({arr.size:,} parameters)"


def print_json(obj) -> None:
    """One JSON object on stdout (NumPy/JAX arrays become lists). A number that overflowed is ``null``,
    and a top-level object gains ``"notes"`` naming each such quantity (never a silent NaN or a string)."""
    notes: list[str] = []
    data = to_jsonable(obj, notes)
    if notes and isinstance(data, dict):
        data["notes"] = list(data.get("notes") or []) + _summarise(notes)
    if _count_numbers(data) > 100_000:  # the C encoder (no indent): a large document in seconds, not minutes
        sys.stdout.write(json.dumps(data, allow_nan=False, separators=(",", ":")))
    else:
        json.dump(data, sys.stdout, indent=2, allow_nan=False)
    sys.stdout.write("\n")


def overflow_notes(obj) -> list[str]:
    """Sentences naming each quantity of ``obj`` that is NaN or infinite (as print_json adds them)."""
    notes: list[str] = []
    to_jsonable(obj, notes)
    return _summarise(notes)


def _summarise(notes: list[str]) -> list[str]:
    by_key: dict[str, list[str]] = {}
    for entry in notes:
        key = entry.split("[", 1)[0]
        by_key.setdefault(key, []).append(entry)
    out = []
    for key, entries in by_key.items():
        listed = ", ".join(entries[:3]) + (f" and {len(entries) - 3} more" if len(entries) > 3 else "")
        out.append(f"{listed}: not finite in float64 (overflow or 0 * inf), shown as null")
    return out


def _count_numbers(obj, limit: int = 100_001) -> int:
    stack, count = [obj], 0
    while stack and count < limit:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            count += len(item)
            stack.extend(v for v in item if isinstance(v, (list, dict)))
    return count
