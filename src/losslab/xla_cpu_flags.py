"""XLA:CPU options for ``losslab solve`` and ``losslab book`` and the workers they start: compile quickly.

losslab compiles many small programs that each run for milliseconds (``solve all``: about 70), so
compiling them is most of a first run. XLA:CPU's newer MLIR fusion emitters (its default) compile
these programs about 35 % slower than its classic emitters, and run them no faster. Measured on
2026-11-29 (2-core machine, jaxlib 0.10.2, ``solve all --workers 1``, two runs each):

* empty cache: 10.1-11.8 s of XLA compilation with the default, 6.4-6.8 s with the classic
  emitters (CPU time of the run 37-42 s -> 31 s); every check passes either way;
* warm cache: 11.5-12.7 s of solving either way, problem by problem within the noise;
* answers: identical, or one ulp apart (6.4's maximum-likelihood estimate).

XLA reads ``XLA_FLAGS`` once, when JAX starts its CPU backend, and stops the process on an option
it does not know (jaxlib 0.11 no longer has this one). So the option is added only under the
jaxlib versions it was measured with, only before the backend starts (processes started later
inherit it), and never over an ``XLA_FLAGS`` that already names it.

Only those two commands set it, first thing: their workers inherit it through the environment, so
a ``--workers 1`` run and a run in workers compute alike. Every other command, a library caller's
process, the workers it starts (``solve_many``) and the web server keep XLA's defaults, so their
numbers are bit for bit the library's (the web API's runs are tested equal to the engine's); the
book's answers from ``solve``/``book`` may differ from them in the last place.
"""

from __future__ import annotations

import os

__all__ = ["OPTION", "VERIFIED_JAXLIB", "compile_quickly"]

OPTION = "--xla_cpu_use_fusion_emitters=false"
VERIFIED_JAXLIB = ("0.10.2",)  # has the option and was measured; 0.11.2 refuses it (the process aborts)


def _jaxlib_version() -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("jaxlib")
    except PackageNotFoundError:
        return None


def compile_quickly() -> bool:
    """Add :data:`OPTION` to ``XLA_FLAGS`` for this process and the ones it starts; True if it is in effect
    there now (added here or by the user), False where it is not known to be safe."""
    flags = os.environ.get("XLA_FLAGS", "")
    if "xla_cpu_use_fusion_emitters" in flags:
        return OPTION in flags.split()  # the user's own choice stands
    if _jaxlib_version() not in VERIFIED_JAXLIB:
        return False
    os.environ["XLA_FLAGS"] = f"{flags} {OPTION}".strip()
    return True
