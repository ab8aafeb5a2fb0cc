"""The `losslab serve` command(s). Not built yet: registers nothing, so `losslab --help` does not list it."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    pass
