"""The ``losslab`` command line: one typer app; each command lives in its own module.

Every command validates its options at this edge and turns a
:class:`~losslab.errors.LosslabError` into one red line and exit status 2.
"""

from __future__ import annotations

import sys

import typer

from ..errors import LosslabError

app = typer.Typer(
    name="losslab",
    help="Chapter 6 of Understanding Deep Learning, computed: models, losses, derivatives, optimisers, curvature.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _float64() -> None:
    """Before any command: the CLI is losslab's own program, float64 throughout (a library call scopes it instead)."""
    from ..precision import enable_float64_process

    enable_float64_process()


from . import check, core, fit, hessian, serve, solve  # noqa: E402  (each registers its commands)

for _module in (core, fit, check, solve, hessian, serve):
    _module.register(app)


def describe_failure(error: BaseException) -> str | None:
    """The one line for a failure that is the user's input or the machine, not a bug: bad input, an I/O
    error (disk full, permission, a file vanished), memory exhausted. None for anything else (a bug)."""
    if isinstance(error, LosslabError):
        return str(error)
    if isinstance(error, OSError):
        # a copy that fails names its destination second (shutil sets filename2): that is where the trouble is
        place = getattr(error, "filename2", None) or getattr(error, "filename", None)
        where = f" {str(place)!r}" if place else ""
        return f"I/O error on{where or ' a file'}: {error.strerror or error}. Nothing was replaced."
    if isinstance(error, MemoryError):
        return "out of memory: the request is larger than this machine's memory; ask for less (fewer steps, points, a smaller model)."
    return None


def main() -> None:
    """The command line (the console script, :func:`losslab.launcher.main`, has started what the command
    needs started first: XLA's options for ``solve`` and ``book``, their workers' fork server)."""
    from ..compile_cache import enable
    enable()  # compiled programs persist between runs (the user's cache folder; off if unwritable)
    try:
        app()
    except (LosslabError, OSError, MemoryError) as error:
        from rich.console import Console
        from rich.markup import escape

        Console(stderr=True).print(f"[bold red]error:[/] {escape(describe_failure(error))}", highlight=False, soft_wrap=True)
        sys.exit(2)
