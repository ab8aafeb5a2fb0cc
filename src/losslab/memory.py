"""Up-front memory budgets: a request too large is refused with its estimate, never killed.

One limit for every request (a landscape grid, a curvature computation): 4 GiB unless the
caller passes ``memory_limit`` (bytes; the CLI takes GiB).
"""

from __future__ import annotations

from .errors import LosslabError, check_number

__all__ = ["DEFAULT_MEMORY_LIMIT", "gib", "resolve_limit", "refuse_if_over"]

DEFAULT_MEMORY_LIMIT = 4 * 2**30  # bytes a single request may use


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
