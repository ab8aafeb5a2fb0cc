"""``losslab check SHEET``: verdicts on the derivative claims of a solution sheet.

Exit status: 0 when every claim that could be checked is correct, 1 when any
claim is incorrect, 2 for bad input: a file that is unreadable, binary, empty or
too large, a sheet with no claim in it, or a claim whose LaTeX cannot be read
(unbalanced braces, an unknown macro, nesting too deep) — the report still
lists every claim first.
"""

from __future__ import annotations

from pathlib import Path

import typer

from ..errors import LosslabError


def read_sheet(path: Path) -> str:
    """The sheet's text, or a LosslabError saying why it cannot be read."""
    from ..symbolic.sheet import MAX_SHEET_BYTES

    if not path.exists():
        raise LosslabError(f"The 'sheet' argument must be an existing file. Got {str(path)!r} instead.")
    if not path.is_file():
        raise LosslabError(f"The 'sheet' argument must be a file, not a directory. Got {str(path)!r} instead.")
    size = path.stat().st_size
    if size > MAX_SHEET_BYTES:
        raise LosslabError(
            f"The 'sheet' file is too large: at most {MAX_SHEET_BYTES // 1000} kB. Got {size / 1e6:.1f} MB instead."
        )
    try:
        data = path.read_bytes()
    except OSError as err:
        raise LosslabError(f"The 'sheet' file {str(path)!r} cannot be read: {err.strerror}.") from None
    if b"\x00" in data:
        raise LosslabError(f"The 'sheet' file must be text (Markdown/LaTeX). Got a binary file {str(path)!r} instead.")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise LosslabError(f"The 'sheet' file must be UTF-8 text. Got undecodable bytes in {str(path)!r} instead.") from None
    if not text.strip():
        raise LosslabError(f"The 'sheet' file {str(path)!r} is empty: nothing to check.")
    return text


DEFAULT_SECONDS = 300.0  # the whole sheet; each claim also has the checker's own, softer budget
DEFAULT_MEMORY_GIB = 2.0


def checker_kwargs(check_sheet, **wanted) -> dict:
    """The keyword arguments among ``wanted`` that this version of ``check_sheet`` accepts."""
    import inspect

    try:
        accepted = inspect.signature(check_sheet).parameters
    except (TypeError, ValueError):
        return {}
    return {k: v for k, v in wanted.items() if k in accepted and v is not None}


def check_bounded(text: str, *, seconds: float, memory_bytes: int, what: str, cancelled=None, **options):
    """check_sheet(text) in a worker process that is killed at the deadline or above the memory cap."""
    from ..bounded import run_bounded
    from ..symbolic.checker import check_sheet

    return run_bounded(check_sheet, text, seconds=seconds, memory_bytes=memory_bytes, what=what, cancelled=cancelled,
                       **checker_kwargs(check_sheet, **options))


def check(
    sheet: Path = typer.Argument(..., help="Markdown/LaTeX solution sheet ($$ display math $$, problems under headings)."),
    json: bool = typer.Option(False, "--json", help="Print a JSON list of claims instead of the report."),
    time_limit: float = typer.Option(DEFAULT_SECONDS, "--time-limit", help="Seconds the whole check may take; it is stopped after."),
    memory_limit: float = typer.Option(DEFAULT_MEMORY_GIB, "--memory-limit", help="GiB the check may use; it is stopped above."),
) -> None:
    """Check every derivative claim of a hand-written solution sheet: correct, incorrect (why) or not checked (why)."""
    from ..errors import check_number

    seconds = check_number("--time-limit", time_limit, owner="losslab check", gt=0, le=86400)
    from ..memory import check_limit_gib

    memory = check_limit_gib("--memory-limit", memory_limit, owner="losslab check")
    results = check_bounded(read_sheet(sheet), seconds=seconds, memory_bytes=int(memory),
                            what=f"Checking {str(sheet)!r}", filename=str(sheet))
    if json:
        from ._common import print_json

        print_json([r.to_dict() for r in results])
    else:
        _report(results, sheet)
    if any(r.verdict == "incorrect" for r in results):
        raise typer.Exit(1)
    if not results:
        raise LosslabError(f"No derivative claims found in {str(sheet)!r}: nothing was checked.")
    unreadable = [r for r in results if r.unreadable]
    if unreadable:
        lines = ", ".join(str(r.line) for r in unreadable)
        raise LosslabError(
            f"{len(unreadable)} claim(s) could not be read (line {lines}); fix the LaTeX and check again."
        )


def _report(results, sheet: Path) -> None:
    from rich.console import Console
    from rich.markup import escape

    console = Console(highlight=False, soft_wrap=True)
    style = {"correct": "bold green", "incorrect": "bold red", "not checked": "bold yellow"}
    mark = {"correct": "✓", "incorrect": "✗", "not checked": "?"}
    if not results:
        return
    current = None
    for r in results:
        if r.problem != current:
            current = r.problem
            console.print(f"\n[bold]Problem {escape(r.problem or '(no heading)')}[/]")
        console.print(f"  [{style[r.verdict]}]{mark[r.verdict]} {r.verdict}[/]  line {r.line}: {escape(_clip(r.latex))}")
        console.print(f"      {escape(r.reason)}")
        if r.verdict == "incorrect" and r.truth_latex:
            console.print(f"      truth: {escape(_clip(r.truth_latex, 400))}")
    counts = {v: sum(r.verdict == v for r in results) for v in style}
    console.print(
        f"\n{len(results)} claims: [green]{counts['correct']} correct[/], [red]{counts['incorrect']} incorrect[/], "
        f"[yellow]{counts['not checked']} not checked[/]"
    )


def _clip(text: str, width: int = 110) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 3] + "..."


def register(app: typer.Typer) -> None:
    app.command("check")(check)
