"""``losslab check SHEET``: verdicts on the derivative claims of a solution sheet.

Exit status: 0 when every judged claim is correct, 1 when any claim is
incorrect, 2 for bad input only: a file that is unreadable, binary, empty or
too large, or one with no math in it at all. LaTeX that losslab cannot judge
is a claim "not checked" with the reason, never exit 2.
"""

from __future__ import annotations

from pathlib import Path

import typer

from ..errors import LosslabError


def read_sheet(path: Path) -> str:
    """The sheet's text, or a LosslabError saying why it cannot be read."""
    from ..sheet_input import MAX_SHEET_BYTES, sheet_text

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
    return sheet_text(data, str(path))


DEFAULT_SECONDS = 600.0  # the whole sheet; each claim also has the checker's own, softer budget
DEFAULT_MEMORY_GIB = 2.0


def check_bounded(text: str, *, seconds: float, memory_bytes: int, what: str, filename: str | None = None, cancelled=None):
    """check_sheet(text) in a worker process that is killed at the deadline or above the memory cap."""
    from ..bounded import run_bounded
    from ..check_view import _run_checker

    return run_bounded(_run_checker, text, filename, seconds=seconds, memory_bytes=memory_bytes, what=what, cancelled=cancelled)


def check(
    sheet: Path = typer.Argument(..., help="Markdown/LaTeX solution sheet ($$ display math $$, problems under headings)."),
    json: bool = typer.Option(False, "--json", help="Print a JSON list of claims instead of the report."),
    time_limit: float = typer.Option(DEFAULT_SECONDS, "--time-limit", help="Seconds the whole check may take; it is stopped after."),
    memory_limit: float = typer.Option(DEFAULT_MEMORY_GIB, "--memory-limit", help="GiB the check may use; it is stopped above."),
) -> None:
    """Check every derivative claim of a hand-written solution sheet: correct, incorrect (why) or not checked (why)."""
    from ..errors import check_number
    from ..memory import check_limit_gib

    seconds = check_number("--time-limit", time_limit, owner="losslab check", gt=0, le=86400)
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


def _report(results, sheet: Path) -> None:
    from rich.console import Console
    from rich.markup import escape

    from ..unicode_math import latex_to_unicode, prose_to_unicode

    console = Console(highlight=False, soft_wrap=True)
    style = {"correct": "bold green", "incorrect": "bold red", "not checked": "bold yellow"}
    mark = {"correct": "✓", "incorrect": "✗", "not checked": "?"}
    if not results:
        return
    current = None
    for r in results:
        d = r.to_dict()  # what --json prints: the keys the checker gives, shown when present
        if d.get("problem") != current:
            current = d.get("problem")
            console.print(f"\n[bold]Problem {escape(current or '(no heading)')}[/]")
        where = f"line {d.get('line')}" + (f" (cell {d['cell']})" if d.get("cell") is not None else "")
        verdict = d.get("verdict", "not checked")
        console.print(f"  [{style.get(verdict, 'bold')}]{mark.get(verdict, '?')} {verdict}[/]  {where}: "
                      f"{escape(_clip(latex_to_unicode(d.get('latex', ''))))}")
        console.print(f"      {escape(prose_to_unicode(str(d.get('reason', ''))))}")
        for k, step in enumerate(d.get("steps") or [], start=1):
            if isinstance(step, dict):
                latex = str(step.get("latex") or f"{step.get('before', '')} {step.get('op', '=')} {step.get('after', '')}")
                text = latex_to_unicode(latex)
                console.print(f"      step {k}: {escape(str(step.get('verdict', '')))}  {escape(_clip(text, 100))}"
                              + (f" ({escape(prose_to_unicode(str(step['reason'])))})"
                                 if step.get("reason") and step.get("verdict") != "correct" else ""))
        if d.get("mistake"):
            console.print(f"      mistake: {escape(prose_to_unicode(str(d['mistake'])))}")
        if d.get("convention"):
            console.print(f"      convention: {escape(prose_to_unicode(str(d['convention'])))}")
        if verdict == "incorrect" and d.get("truth"):
            console.print(f"      truth: {escape(_clip(latex_to_unicode(d['truth']), 400))}")
        if verdict == "incorrect" and d.get("correction"):
            console.print(f"      corrected: {escape(_clip(latex_to_unicode(d['correction']), 400))}")
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
