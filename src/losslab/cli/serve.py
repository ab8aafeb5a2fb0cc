"""``losslab serve``: the interactive optimiser explorer in the browser."""

from __future__ import annotations

from pathlib import Path

import typer

from ..errors import LosslabError, check_int


def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to bind. The default serves this machine only."),
    port: int = typer.Option(8000, "--port", help="TCP port (1-65535)."),
    book: Path | None = typer.Option(None, "--book", help="A folder `losslab book` wrote: served at /book/ beside the explorer."),
) -> None:
    """Open the optimiser explorer: loss landscapes, trajectories, model fits and line searches in the browser."""
    port = check_int("port", port, owner="serve", ge=1, le=65535)
    if not host or any(ch.isspace() for ch in host):
        raise LosslabError(f"The 'host' option must be an interface name or address such as 127.0.0.1. Got {host!r} instead.")
    import uvicorn

    from ..web.app import app, create_app

    if book is not None:
        app = create_app(book)
    shown = f"[{host}]" if ":" in host else host
    typer.echo(f"losslab explorer: http://{shown}:{port}/   (Ctrl+C to stop)")
    if book is not None:
        typer.echo(f"the problem book: http://{shown}:{port}/book/")
    uvicorn.run(app, host=host, port=port, log_level="warning")


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
