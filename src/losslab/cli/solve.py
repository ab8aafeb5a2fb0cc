"""``losslab solve 6.N|all``: the chapter's problems, answered, checked and compared with the seed sheet;
``losslab book --out DIR``: all of them as one offline HTML page with figures.

Exit status: 0 when every check passed, 1 when any check failed, 2 on bad input.
``--json`` prints one JSON object for a single problem and a JSON list of objects for several (``all``).
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from pathlib import Path

import typer

DEFAULT_OUT = "losslab_out"


def register(app: typer.Typer) -> None:
    app.command("solve")(solve)
    app.command("book")(book)


def solve(
    problem: str = typer.Argument(..., help="A problem number 6.1 ... 6.11 (or just 1 ... 11), several separated by commas, or 'all'."),
    out: Path = typer.Option(Path(DEFAULT_OUT), "--out", help="Folder for the figures."),
    small: bool = typer.Option(False, "--small", help="Smaller sweeps and a 10,401-parameter MLP for 6.11 (CI)."),
    seed: int = typer.Option(0, "--seed", min=0, max=2**32 - 1, help="Seed for the random data (6.4) and random test points."),
    json_output: bool = typer.Option(False, "--json", help="JSON: one object for one problem, a list for several."),
    workers: int = typer.Option(0, "--workers", min=0, max=64, help="Processes solving problems side by side (0: one per CPU, at most 4)."),
) -> None:
    """Solve problems of Chapter 6: the answer in words and formulas, its checks, and where the seed sheet disagrees."""
    import time

    from rich.console import Console

    from ..book import BookContext, default_workers, parse_problems, solve_many
    from ..outputs import OutputFolder
    from ._common import print_json

    problems = parse_problems(problem)
    workers = workers or default_workers(len(problems))
    folder = OutputFolder("--out", out)  # before any work: a file, a symlink or a user's folder is refused
    ctx = BookContext(out_dir=folder.stage(), small=small, seed=seed)
    console = Console(stderr=json_output)
    start = time.perf_counter()
    try:
        with _progress(len(problems)) as (started, finished):
            if json_output:
                results = solve_many(problems, ctx, on_start=started, on_done=lambda r: finished(), workers=workers)
                dicts = [r.to_dict() for r in results]
                for d in dicts:
                    d["figures"] = [str(folder.final(f)) for f in d["figures"]]
            else:
                results = solve_many(problems, ctx, on_start=started, workers=workers,
                                     on_done=lambda r: (finished(), _print_result(console, r, folder)))
        folder.commit(merge=True)
    finally:
        folder.discard()
    if json_output:
        print_json(dicts[0] if len(dicts) == 1 else dicts)
    elif len(results) > 1:
        _print_summary(console, results, time.perf_counter() - start)
    if not all(r.passed for r in results):
        raise typer.Exit(1)


@contextmanager
def _progress(total: int):
    """A progress bar on stderr (never in the --json output on stdout) while the problems run:
    which one is running, how many are done, the time so far. Yields (started(name), finished())."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                        TimeElapsedColumn(), console=Console(stderr=True), transient=True)
    task = progress.add_task("solving", total=total)
    with progress:
        yield (lambda name: progress.update(task, description=f"problem {name}"), lambda: progress.advance(task))


def book(
    out: Path = typer.Option(Path("book_out"), "--out", help="Folder for index.html and figures/."),
    small: bool = typer.Option(False, "--small", help="Smaller sweeps and MLP (for CI)."),
    seed: int = typer.Option(0, "--seed", min=0, max=2**32 - 1, help="Seed for the random data (6.4) and random test points."),
    problems: str = typer.Option("all", "--problems", help="Which problems, e.g. 6.1,6.9 (default all)."),
    workers: int = typer.Option(0, "--workers", min=0, max=64, help="Processes solving problems side by side (0: one per CPU, at most 4)."),
) -> None:
    """Write OUT/index.html: every problem with its derivation (rendered math), figures, checks and the verdict on the seed sheet."""
    import time

    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from ..book import BookContext, default_workers, parse_problems, solve_many, write_report
    from ..outputs import OutputFolder

    names = parse_problems(problems)
    workers = workers or default_workers(len(names))
    folder = OutputFolder("--out", out)  # before any work: a file, a symlink or a user's folder is refused
    ctx = BookContext(out_dir=folder.stage(), small=small, seed=seed)
    console = Console()
    start = time.perf_counter()
    # built in a staging folder and moved into place when complete: an interrupted run leaves the previous page
    try:
        with Progress(TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"), TimeElapsedColumn(),
                      console=console, transient=False) as progress:
            task = progress.add_task("solving", total=len(names) + 1)
            results = solve_many(names, ctx, workers=workers, on_start=lambda name: progress.update(task, description=f"problem {name}"),
                                 on_done=lambda r: progress.advance(task))
            progress.update(task, description="writing index.html")
            path = folder.final(write_report(results, folder.stage()))
            folder.commit()
            progress.advance(task)
    finally:
        folder.discard()
    _print_summary(console, results, time.perf_counter() - start)
    console.print(f"wrote [bold]{path}[/] and {sum(len(r.figures) for r in results)} figures in {Path(out) / 'figures'}")
    if not all(r.passed for r in results):
        raise typer.Exit(1)


def _short(value) -> str:
    import numpy as np

    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_short(v)}" for k, v in value.items()) + "}"
    if hasattr(value, "shape") and getattr(value, "size", 0) > 8:
        arr = np.asarray(value)
        return f"array{arr.shape} [{', '.join(f'{v:.6g}' for v in arr.ravel()[:4])}, ...]"
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, float):
        return f"{value:.10g}"
    if isinstance(value, str) and ("\\" in value or "$" in value):  # LaTeX in --json, Unicode on the terminal
        from ..unicode_math import latex_to_unicode, prose_to_unicode

        # a label with $math$ in words, or one bare formula
        return prose_to_unicode(value) if "$" in value else latex_to_unicode(value)
    if isinstance(value, (list, tuple)) and len(value) > 8:
        return f"[{', '.join(_short(v) for v in value[:4])}, ... ({len(value)} items)]"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_short(v) for v in value) + "]"
    return str(value)


def _print_result(console, result, folder=None) -> None:
    from rich.markup import escape
    from rich.panel import Panel
    from rich.table import Table

    from ..unicode_math import latex_to_unicode, prose_to_unicode

    def uni(text: str) -> str:
        # a detail that is bare LaTeX (no $...$) is one formula; prose may quote LaTeX outside $...$ as well
        # ("an elided series (\\dots)"); **bold** stays markdown for the report
        return latex_to_unicode(text) if "\\" in text and "$" not in text else prose_to_unicode(text)

    def bold(text: str) -> str:
        return re.sub(r"\*\*(.+?)\*\*", r"[bold]\1[/bold]", text)

    status = "[green]all checks pass[/]" if result.passed else "[bold red]CHECK FAILED[/]"
    console.rule(f"[bold]Problem {result.problem}[/]: {escape(result.title)}  ({status}, {result.seconds:.1f} s)")
    console.print(bold(escape(uni(result.summary))), soft_wrap=False, highlight=False)
    answer = Table("answer", "value", show_header=True, header_style="bold", expand=False)
    for key, value in result.answer.items():
        answer.add_row(key, escape(_short(value)))
    console.print(answer)
    checks = Table("", "check", "detail", show_header=True, header_style="bold")
    for c in result.checks:
        checks.add_row("[green]pass[/]" if c.passed else "[bold red]FAIL[/]", escape(uni(c.name)), escape(uni(c.detail)))
    console.print(checks)
    colour = {"agrees": "green", "disagrees": "red", "no answer": "yellow"}[result.seed_verdict]
    console.print(Panel(escape(uni(result.seed_notes)), title=f"seed sheet: [{colour}]{result.seed_verdict}[/]", title_align="left"))
    for fig in result.figures:
        console.print(f"figure: {folder.final(fig) if folder is not None else fig}", highlight=False)


def _print_summary(console, results, seconds: float) -> None:
    from rich.table import Table

    table = Table("problem", "title", "checks", "seed sheet", "time", title=f"{len(results)} problems in {seconds:.1f} s", header_style="bold")
    for r in results:
        n_ok = sum(c.passed for c in r.checks)
        table.add_row(r.problem, r.title, f"[{'green' if r.passed else 'red'}]{n_ok}/{len(r.checks)}[/]", r.seed_verdict, f"{r.seconds:.1f} s")
    console.print(table)
