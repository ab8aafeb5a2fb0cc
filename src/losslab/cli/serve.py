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
    _check_bindable(host, port)
    from ..web.app import app, create_app

    if book is not None:
        app = create_app(book)
    shown = f"[{host}]" if ":" in host else host
    typer.echo(f"losslab explorer: http://{shown}:{port}/   (Ctrl+C to stop)")
    if book is not None:
        typer.echo(f"the problem book: http://{shown}:{port}/book/")
    run_server(app, host=host, port=port)


GRACE_SECONDS = 2


def run_server(app, *, host: str, port: int) -> None:
    """uvicorn, with a shutdown that does not wait for work: on SIGTERM or Ctrl+C the compute and check workers
    are stopped at once, so the requests they were doing are answered 503 and the server exits in about a second."""
    import uvicorn

    from ..web import check_worker, compute

    class Server(uvicorn.Server):
        def handle_exit(self, sig, frame) -> None:
            compute.POOL.begin_shutdown()
            check_worker.abandon()
            super().handle_exit(sig, frame)

    config = uvicorn.Config(app, host=host, port=port, log_level="warning", timeout_graceful_shutdown=GRACE_SECONDS)
    Server(config).run()


def _check_bindable(host: str, port: int) -> None:
    """Refuse, with a sentence, a host that does not resolve or an address already in use (before uvicorn starts)."""
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as err:
        raise LosslabError(f"The 'host' option must be an interface name or address of this machine, such as 127.0.0.1. "
                           f"Got {host!r}, which does not resolve ({getattr(err, 'strerror', None) or err}), instead.") from None
    family, kind, proto, _, address = infos[0]
    probe = socket.socket(family, kind, proto)
    try:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind(address)
    except OSError as err:
        raise LosslabError(f"The 'host' and 'port' options must name a free address of this machine. Got {host}:{port}, "
                           f"which cannot be bound ({err.strerror or err}), instead.") from None
    finally:
        probe.close()


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
