"""Chapter 6's eleven problems, solved by the engine and checked independently.

>>> from losslab.book import solve
>>> result = solve("6.9")
>>> result.answer["epochs"]
200.0

One module per problem (``p6_01`` ... ``p6_11``), each stating the problem,
computing the answer with losslab's engine, checking it by an independent
route and judging the user's seed sheet. :func:`write_report` renders all of
them as one offline HTML page.
"""

from .registry import PROBLEMS, default_workers, parse_problems, problem_module, solve, solve_many
from .report import write_report
from .result import BookContext, Check, ProblemResult

__all__ = [
    "PROBLEMS",
    "BookContext",
    "default_workers",
    "Check",
    "ProblemResult",
    "parse_problems",
    "problem_module",
    "solve",
    "solve_many",
    "write_report",
]
