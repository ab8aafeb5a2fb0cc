"""Problem number -> module: ``"6.4"`` is :mod:`losslab.book.p6_04`. Each module has ``TITLE``, ``STATEMENT``
and ``solve(ctx) -> ProblemResult``."""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable, Iterable

from ..errors import LosslabError
from .result import BookContext, Check, ProblemResult

__all__ = ["PROBLEMS", "problem_module", "solve", "solve_many", "parse_problems"]

PROBLEMS: tuple[str, ...] = tuple(f"6.{k}" for k in range(1, 12))


def problem_module(problem: str):
    if problem not in PROBLEMS:
        raise LosslabError(f"The 'problem' parameter must be one of {', '.join(PROBLEMS)} or 'all'. Got {problem!r} instead.")
    number = int(problem.split(".")[1])
    return importlib.import_module(f"losslab.book.p6_{number:02d}")


def parse_problems(text: str) -> list[str]:
    """'all' -> every problem; '6.1,6.9' or '6.1 6.9' -> those (each validated)."""
    text = (text or "").strip()
    if text.lower() == "all":
        return list(PROBLEMS)
    names = [t for t in text.replace(",", " ").split() if t]
    if not names:
        raise LosslabError(f"The 'problem' parameter must be one of {', '.join(PROBLEMS)} or 'all'. Got {text!r} instead.")
    out = []
    for name in names:
        if name.isdigit():  # "9" -> "6.9"
            name = f"6.{name}"
        problem_module(name)
        out.append(name)
    return out


def solve(problem: str, ctx: BookContext | None = None) -> ProblemResult:
    """Solve one problem; an unexpected exception becomes a failed check rather than a crash of `solve all`."""
    module = problem_module(problem)
    ctx = ctx or BookContext()
    start = time.perf_counter()
    try:
        result = module.solve(ctx)
    except (LosslabError, OSError):  # bad input and I/O errors are not failed maths checks
        raise
    except Exception as error:  # a bug in one problem must not hide the other ten
        import traceback

        result = ProblemResult(
            problem=problem,
            title=getattr(module, "TITLE", problem),
            statement=getattr(module, "STATEMENT", ""),
            answer={},
            summary="The computation raised an error; see the failed check.",
            checks=[Check("computation ran", False, f"{type(error).__name__}: {error}\n{traceback.format_exc(limit=4)}")],
        )
    result.seconds = time.perf_counter() - start
    return result


def solve_many(problems: Iterable[str], ctx: BookContext | None = None, *, on_done: Callable[[ProblemResult], None] | None = None,
               on_start: Callable[[str], None] | None = None) -> list[ProblemResult]:
    ctx = ctx or BookContext()
    results = []
    for problem in problems:
        if on_start is not None:
            on_start(problem)
        result = solve(problem, ctx)
        results.append(result)
        if on_done is not None:
            on_done(result)
    return results


from ..precision import float64_api  # noqa: E402  (last: wraps what this module defines)

float64_api(globals())  # every public function and method computes in float64 (losslab.precision)
