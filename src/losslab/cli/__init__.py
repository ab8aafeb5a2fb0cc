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

from . import check, core, fit, hessian, serve, solve  # noqa: E402  (each registers its commands)

for _module in (core, fit, check, solve, hessian, serve):
    _module.register(app)


def main() -> None:
    """Console-script entry point."""
    from ..compile_cache import enable

    enable()  # compiled programs persist between runs (the user's cache folder; off if unwritable)
    try:
        app()
    except LosslabError as error:
        from rich.console import Console

        Console(stderr=True).print(f"[bold red]error:[/] {error}", highlight=False, soft_wrap=True)
        sys.exit(2)
