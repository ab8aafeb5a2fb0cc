"""Optimisers of Chapter 6 (book rules and library conventions), line searches, schedules.

>>> from losslab.optim import make_optimizer, OPTIMIZER_NAMES
"""

from . import book, conventions, line_search, schedules  # noqa: F401
from .book import gradient_point
from .line_search import LineSearchResult, armijo_backtracking, four_point_search, golden_section, strong_wolfe
from .registry import BOOK_NAMES, OPTIMIZER_NAMES, build_optimizer, hyperparameters, make_optimizer, validate_hparams

__all__ = [
    "BOOK_NAMES",
    "OPTIMIZER_NAMES",
    "LineSearchResult",
    "armijo_backtracking",
    "build_optimizer",
    "four_point_search",
    "golden_section",
    "gradient_point",
    "hyperparameters",
    "make_optimizer",
    "strong_wolfe",
    "validate_hparams",
]
