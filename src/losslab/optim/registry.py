"""Every optimiser by name, with its hyperparameters validated in one place.

>>> from losslab.optim import make_optimizer
>>> make_optimizer("momentum", learning_rate=0.6, beta=0.6)
momentum(learning_rate=0.6, beta=0.6)  # eq. 6.11

Book rules: ``gd`` (6.3), ``sgd`` (6.10), ``momentum`` (6.11), ``nesterov``
(6.12), ``normalized`` (6.13-6.14), ``adam`` (6.15-6.18). Library conventions:
``heavy_ball``, ``torch_sgd``, ``torch_nesterov``, ``torch_adam``,
``torch_adamw``, ``optax_sgd``, ``optax_nesterov``, ``optax_adam``,
``optax_adamw``. Every hyperparameter is a float, so runs can trace them.
"""

from __future__ import annotations

from typing import NamedTuple

import optax

from ..errors import LosslabError, check_choice, check_number
from . import book, conventions

__all__ = ["make_optimizer", "build_optimizer", "OPTIMIZER_NAMES", "BOOK_NAMES", "BOUNDS", "hyperparameters", "OptimizerSpec"]


class OptimizerSpec(NamedTuple):
    """A rule's builder, its hyperparameters with defaults, and where it comes from."""

    builder: object
    defaults: dict
    source: str


_UNIT = {"ge": 0.0, "lt": 1.0}  # beta, gamma: [0, 1)
# Every hyperparameter's bounds, declared once: the optimisers validate with them, and the
# CLI options (losslab fit) and the web schemas read them (as check_number / pydantic Field keywords).
BOUNDS = {
    "learning_rate": {"gt": 0},
    "beta": _UNIT,
    "gamma": _UNIT,
    "eps": {"ge": 0.0},
    "dampening": {"ge": 0.0, "le": 1.0},
    "weight_decay": {"ge": 0.0},
}

_SPECS: dict[str, OptimizerSpec] = {
    "gd": OptimizerSpec(book.gd, {}, "book eq. 6.3"),
    "sgd": OptimizerSpec(book.sgd, {}, "book eq. 6.10"),
    "momentum": OptimizerSpec(book.momentum, {"beta": 0.9}, "book eq. 6.11"),
    "nesterov": OptimizerSpec(book.nesterov, {"beta": 0.9}, "book eq. 6.12 (errata)"),
    "normalized": OptimizerSpec(book.normalized, {"eps": 1e-8}, "book eqs. 6.13-6.14"),
    "adam": OptimizerSpec(book.adam, {"beta": 0.9, "gamma": 0.99, "eps": 1e-8}, "book eqs. 6.15-6.18"),
    "heavy_ball": OptimizerSpec(conventions.heavy_ball, {"beta": 0.9}, "optax/PyTorch momentum"),
    "torch_sgd": OptimizerSpec(conventions.torch_sgd, {"beta": 0.0, "dampening": 0.0, "weight_decay": 0.0}, "torch.optim.SGD"),
    "torch_nesterov": OptimizerSpec(conventions.torch_nesterov, {"beta": 0.9, "weight_decay": 0.0}, "torch.optim.SGD(nesterov=True)"),
    "torch_adam": OptimizerSpec(conventions.torch_adam, {"beta": 0.9, "gamma": 0.999, "eps": 1e-8, "weight_decay": 0.0}, "torch.optim.Adam"),
    "torch_adamw": OptimizerSpec(conventions.torch_adamw, {"beta": 0.9, "gamma": 0.999, "eps": 1e-8, "weight_decay": 0.01}, "torch.optim.AdamW"),
    "optax_sgd": OptimizerSpec(conventions.optax_sgd, {"beta": 0.0}, "optax.sgd"),
    "optax_nesterov": OptimizerSpec(conventions.optax_nesterov, {"beta": 0.9}, "optax.sgd(nesterov=True)"),
    "optax_adam": OptimizerSpec(conventions.optax_adam, {"beta": 0.9, "gamma": 0.999, "eps": 1e-8}, "optax.adam"),
    "optax_adamw": OptimizerSpec(conventions.optax_adamw, {"beta": 0.9, "gamma": 0.999, "eps": 1e-8, "weight_decay": 1e-4}, "optax.adamw"),
}

OPTIMIZER_NAMES: tuple[str, ...] = tuple(_SPECS)
BOOK_NAMES: tuple[str, ...] = ("gd", "sgd", "momentum", "nesterov", "normalized", "adam")


def hyperparameters(name: str) -> dict:
    """The hyperparameters of ``name`` (besides ``learning_rate``) with their defaults."""
    check_choice("optimizer", name, OPTIMIZER_NAMES)
    return dict(_SPECS[name].defaults)


def validate_hparams(name: str, learning_rate, hparams: dict) -> dict:
    """Check ``learning_rate`` (> 0 or a schedule) and each hyperparameter; return the full set."""
    check_choice("optimizer", name, OPTIMIZER_NAMES)
    spec = _SPECS[name]
    if not callable(learning_rate):
        learning_rate = check_number("learning_rate", learning_rate, owner=name, **BOUNDS["learning_rate"])
    unknown = sorted(set(hparams) - set(spec.defaults))
    if unknown:
        allowed = ", ".join(repr(k) for k in ["learning_rate", *spec.defaults])
        raise LosslabError(
            f"The optimizer {name!r} takes the hyperparameters {allowed}. Got unknown {', '.join(repr(u) for u in unknown)} instead."
        )
    values = {"learning_rate": learning_rate}
    for key, default in spec.defaults.items():
        value = hparams.get(key, default)
        values[key] = check_number(key, value, owner=name, **BOUNDS.get(key, {}))
    return values


def build_optimizer(name: str, learning_rate, **hparams) -> optax.GradientTransformation:
    """Build without validation: for the engine, where hyperparameters may be traced arrays."""
    return _SPECS[name].builder(learning_rate, **hparams)


def make_optimizer(name: str, *, learning_rate, **hparams) -> optax.GradientTransformation:
    """The optimiser ``name`` as an optax GradientTransformation, hyperparameters validated.

    ``learning_rate`` is a number > 0 or a schedule (:mod:`losslab.optim.schedules`).
    Unknown names or hyperparameters, a rate <= 0, beta or gamma outside [0, 1)
    raise :class:`~losslab.errors.LosslabError`.
    """
    values = validate_hparams(name, learning_rate, hparams)
    rate = values.pop("learning_rate")
    return build_optimizer(name, rate, **values)
