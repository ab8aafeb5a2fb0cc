"""Up-front memory budgets: a request too large is refused with its estimate, never killed.

One rule for every request: estimate the bytes before allocating anything, refuse above the
limit (4 GiB unless the caller passes ``memory_limit``, bytes; the CLI takes GiB). It covers
parameter vectors and run records (:func:`losslab.run.check_size`), data sets and decompressed
files (:func:`losslab.data.from_npz`), minibatch index tables (:class:`losslab.sampler.Sampler`),
landscape grids and curvature computations, and what a command prints (:func:`refuse_printed`:
a JSON document or table is built in memory as Python objects, ~100 bytes a number, and printed
as ~25 characters a number, at most :data:`PRINTED_LIMIT` of text).
"""

from __future__ import annotations

from .errors import LosslabError, check_number

__all__ = ["DEFAULT_MEMORY_LIMIT", "PRINTED_LIMIT", "gib", "resolve_limit", "refuse_if_over", "refuse_printed",
           "physical_memory", "check_limit_gib"]

DEFAULT_MEMORY_LIMIT = 4 * 2**30  # bytes a single request may use
PRINTED_LIMIT = 256 * 2**20  # text one command prints: beyond this, writing it takes minutes and no one reads it
PRINTED_BYTES_PER_NUMBER = 25  # "-1.2345678901234567e-300, "
BUILT_BYTES_PER_NUMBER = 100  # a Python float, its list slot, and its text while being encoded


def gib(n: float) -> str:
    """Bytes as GiB, or MiB below a tenth of a GiB (so a small limit never reads "0.0 GiB")."""
    return f"{n / 2**30:.1f} GiB" if n >= 0.1 * 2**30 else f"{n / 2**20:.1f} MiB"


def resolve_limit(memory_limit: float | None, owner: str) -> float:
    """The caller's ``memory_limit`` (bytes, > 0) or the default."""
    if memory_limit is None:
        return float(DEFAULT_MEMORY_LIMIT)
    return check_number("memory_limit", memory_limit, owner=owner, gt=0)


def refuse_if_over(need: float, memory_limit: float | None, *, what: str, advice: str, owner: str) -> None:
    """Raise "<what> needs X GiB, limit Y GiB; <advice>." when ``need`` exceeds the limit."""
    limit = resolve_limit(memory_limit, owner)
    if need > limit:
        raise LosslabError(f"{what} needs {gib(need)}, limit {gib(limit)}; {advice}.")


def refuse_printed(n_numbers: float, *, what: str, advice: str, owner: str, memory_limit: float | None = None) -> None:
    """Refuse, before computing it, output of ``n_numbers`` numbers too large to build or to print."""
    text = n_numbers * PRINTED_BYTES_PER_NUMBER
    if text > PRINTED_LIMIT:
        raise LosslabError(
            f"{what} would print {int(n_numbers):,} numbers ({gib(text)} of text), limit {PRINTED_LIMIT >> 20} MiB; {advice}."
        )
    refuse_if_over(n_numbers * BUILT_BYTES_PER_NUMBER, memory_limit, what=what, advice=advice, owner=owner)


def physical_memory() -> float:
    """This machine's memory in bytes (inf where the system does not say)."""
    import os

    try:
        return float(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return float("inf")


def check_limit_gib(option: str, value, *, owner: str) -> float:
    """A user's memory limit in GiB -> bytes: > 0 and no more than this machine has (a larger one would
    let a request through that can only end in the kernel's out-of-memory kill)."""
    from .errors import check_number

    ceiling = physical_memory() / 2**30
    return check_number(option, value, owner=owner, gt=0, le=round(ceiling, 1) if ceiling != float("inf") else None) * 2**30
