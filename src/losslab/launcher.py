"""The ``losslab`` console script: what a command needs started is started before the command line is imported.

``losslab solve all`` spends its first seconds importing: the command line its own modules (typer, rich,
NumPy: ~0.25 s) and the workers' fork server its preload (JAX, SymPy, the engine: ~2 s, the one serial
stretch of the run). So the fork server is started from here, first of all, and the command line is
imported beside it. This module imports only the standard library and losslab's base modules for that
reason (``tests/test_solve_workers.py`` checks it).
"""

from __future__ import annotations

import sys

__all__ = ["main", "prepare", "start_workers_early"]


def start_workers_early(argv: list[str]) -> None:
    """Start the workers' fork server at once when ``argv`` is a ``solve`` or ``book`` that will use workers.

    A guess from the raw arguments: typer parses and validates them later; a wrong guess costs only time
    (an idle server, or one started later by the pool).
    """
    if not argv or argv[0] not in ("solve", "book") or any(a in ("--help", "-h") for a in argv):
        return
    options = {"--out": None, "--seed": None, "--workers": None, "--problems": None}
    positional = []
    rest = iter(argv[1:])
    for arg in rest:
        name, eq, value = arg.partition("=")
        if name in options:
            options[name] = value if eq else next(rest, "")
        elif not arg.startswith("-"):
            positional.append(arg)
    spec = (positional[:1] or [""])[0] if argv[0] == "solve" else (options["--problems"] or "all")
    count = 11 if spec.strip().lower() == "all" else len(spec.replace(",", " ").split())  # the chapter's 11 problems
    try:
        workers = int(options["--workers"] or 0)
    except ValueError:
        return
    from .worker_server import default_workers, start

    if count > 1 and (workers or default_workers(count)) > 1:
        start()


def prepare(argv: list[str]) -> None:
    """Before the command line's imports: XLA's quick-compiling options for ``solve`` and ``book`` (the
    chapter's ~70 small programs: compiling is most of a first run), then their workers' fork server,
    which inherits them."""
    if argv[:1] in (["solve"], ["book"]):
        from .xla_cpu_flags import compile_quickly

        compile_quickly()
    start_workers_early(argv)


def main() -> None:
    """Console-script entry point: :func:`prepare`, then the command line (:func:`losslab.cli.main`)."""
    prepare(sys.argv[1:])
    from .cli import main as command_line

    command_line()
