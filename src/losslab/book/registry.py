"""Problem number -> module: ``"6.4"`` is :mod:`losslab.book.p6_04`. Each module has ``TITLE``, ``STATEMENT``
and ``solve(ctx) -> ProblemResult``."""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable, Iterable

from .. import worker_server
from ..worker_server import default_workers
from ..errors import LosslabError, check_int
from .result import BookContext, Check, ProblemResult

__all__ = ["PROBLEMS", "problem_module", "solve", "solve_many", "parse_problems", "default_workers"]

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


# Seconds of each problem in a first run, in a worker (measured with two workers on the 2-core machine at load
# 1.1): the longest start first, so the workers finish together instead of one waiting for 6.8 or 6.11 at the end
_EXPECTED_SECONDS = {"6.8": 7.4, "6.11": 5.7, "6.7": 4.4, "6.4": 2.8, "6.5": 1.9, "6.6": 1.2, "6.3": 1.0, "6.10": 0.8,
                     "6.2": 0.5, "6.1": 0.3, "6.9": 0.01}


def solve_many(problems: Iterable[str], ctx: BookContext | None = None, *, on_done: Callable[[ProblemResult], None] | None = None,
               on_start: Callable[[str], None] | None = None, workers: int = 1) -> list[ProblemResult]:
    """Solve ``problems``; results (and ``on_done`` calls) come in the order asked.

    With ``workers`` > 1 the problems run in that many separate processes (each its own
    JAX), the most expensive first; every check is computed exactly as in one process.
    """
    ctx = ctx or BookContext()
    problems = list(problems)
    workers = check_int("workers", workers, owner="solve_many", ge=1)
    if workers == 1 or len(problems) < 2:
        results = []
        for problem in problems:
            if on_start is not None:
                on_start(problem)
            result = solve(problem, ctx)
            results.append(result)
            if on_done is not None:
                on_done(result)
        return results
    return _solve_in_workers(problems, ctx, min(workers, len(problems)), on_done, on_start)


def _solve_in_workers(problems, ctx, workers, on_done, on_start) -> list[ProblemResult]:
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool

    import jax

    order = sorted(problems, key=lambda p: -_EXPECTED_SECONDS.get(p, 1.0))
    done: dict[str, ProblemResult] = {}
    reported = 0

    def report() -> None:
        nonlocal reported
        while reported < len(problems) and problems[reported] in done:
            if on_done is not None:
                on_done(done[problems[reported]])
            reported += 1

    worker_server.start()  # if the command line has not already: the workers' environment is set there
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=worker_server.context(),
                               initializer=_worker_init, initargs=(jax.config.jax_compilation_cache_dir,))
    try:
        pending = {pool.submit(solve, p, ctx): p for p in order}
        while pending:
            if on_start is not None:  # the pool runs them in this order: the first `workers` still pending are running
                on_start(", ".join([p for p in order if p in pending.values()][:workers]))
            finished, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in finished:
                problem = pending.pop(future)
                try:
                    done[problem] = future.result()  # bad input or an I/O error in a worker is raised here
                except BrokenProcessPool:
                    pass  # a worker died (killed, out of memory): what it left undone is solved here below
            report()
    except BrokenProcessPool:
        pass
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    for problem in order:
        if problem not in done:
            if on_start is not None:
                on_start(problem)
            done[problem] = solve(problem, ctx)
            report()
    return [done[p] for p in problems]


def _worker_init(cache_dir: str | None) -> None:
    """A worker process is float64 throughout and compiles into (and reuses) the same persistent cache as its parent."""
    from ..precision import enable_float64_process

    enable_float64_process()  # losslab's own worker process, as the CLI is
    if cache_dir:
        from ..compile_cache import enable

        enable(cache_dir)


from ..precision import float64_api  # noqa: E402  (last: wraps what this module defines)

float64_api(globals())  # every public function and method computes in float64 (losslab.precision)
