"""One error type and the validators that produce its messages.

Messages follow scikit-learn: name the parameter, say what was expected and
what was received, e.g. "The 'learning_rate' parameter of adam must be > 0.
Got -0.1 instead."  Validation happens once, where input enters (CLI options,
API models, file readers, constructors); the engine below assumes valid input.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any


class LosslabError(ValueError):
    """Bad input from a user: a message a person can act on, never a JAX trace."""


def _where(owner: str | None) -> str:
    return f" of {owner}" if owner else ""


def check_number(
    name: str,
    value: Any,
    *,
    owner: str | None = None,
    gt: float | None = None,
    ge: float | None = None,
    lt: float | None = None,
    le: float | None = None,
) -> float:
    """Return ``value`` as a finite float, or raise naming ``name`` and its bounds."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise LosslabError(
            f"The {name!r} parameter{_where(owner)} must be a number. Got {value!r} instead."
        ) from None
    if not math.isfinite(number):
        raise LosslabError(
            f"The {name!r} parameter{_where(owner)} must be finite. Got {value!r} instead."
        )
    bounds = []
    if gt is not None and not number > gt:
        bounds.append(f"> {gt}")
    if ge is not None and not number >= ge:
        bounds.append(f">= {ge}")
    if lt is not None and not number < lt:
        bounds.append(f"< {lt}")
    if le is not None and not number <= le:
        bounds.append(f"<= {le}")
    if bounds:
        wanted = " and ".join(
            text
            for text, limit in ((f"> {gt}", gt), (f">= {ge}", ge), (f"< {lt}", lt), (f"<= {le}", le))
            if limit is not None
        )
        raise LosslabError(
            f"The {name!r} parameter{_where(owner)} must be {wanted}. Got {value!r} instead."
        )
    return number


def check_int(
    name: str,
    value: Any,
    *,
    owner: str | None = None,
    ge: int | None = None,
    le: int | None = None,
) -> int:
    """Return ``value`` as an int, or raise naming ``name`` and its bounds."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not hasattr(value, "__index__"):
        raise LosslabError(
            f"The {name!r} parameter{_where(owner)} must be an integer. Got {value!r} instead."
        )
    number = int(value)
    if ge is not None and number < ge:
        tail = f" and <= {le}" if le is not None else ""
        raise LosslabError(
            f"The {name!r} parameter{_where(owner)} must be >= {ge}{tail}. Got {number} instead."
        )
    if le is not None and number > le:
        head = f">= {ge} and " if ge is not None else ""
        raise LosslabError(
            f"The {name!r} parameter{_where(owner)} must be {head}<= {le}. Got {number} instead."
        )
    return number


MAX_SEED = 2**32 - 1  # what every random generator used here (NumPy, JAX keys) accepts


def check_seed(name: str, value: Any, *, owner: str | None = None) -> int:
    """A seed: an integer in [0, 2**32 - 1]."""
    return check_int(name, value, owner=owner, ge=0, le=MAX_SEED)


def check_choice(name: str, value: Any, choices: Iterable[str], *, owner: str | None = None) -> str:
    """Return ``value`` if it is one of ``choices``, else raise listing them."""
    options = list(choices)
    if value not in options:
        listed = ", ".join(repr(c) for c in options)
        raise LosslabError(
            f"The {name!r} parameter{_where(owner)} must be one of {listed}. Got {value!r} instead."
        )
    return value
