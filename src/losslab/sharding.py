"""Split batched work over every device JAX sees, with no change to user code.

A landscape is a batch of grid rows; many runs are a batch of starting points.
Both are "map a function over the leading axis", so one helper serves both:
:func:`map_rows` pads the batch to a multiple of the device count, lays it out
with a :class:`jax.sharding.NamedSharding` over a one-axis :class:`~jax.sharding.Mesh`
and lets XLA's SPMD partitioner run each device's share. On one device it is
plain chunking; on a GPU box it uses all GPUs; under ``jax.distributed`` the
mesh spans every process's devices.

Chunking bounds memory: at most ``chunk`` rows per device are live at once.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

__all__ = ["device_count", "row_mesh", "map_rows"]

AXIS = "rows"


def device_count() -> int:
    """How many devices landscapes and final-only runs split over."""
    return jax.device_count()


def row_mesh() -> Mesh:
    """A one-axis mesh named ``"rows"`` over every device (all processes)."""
    return Mesh(np.asarray(jax.devices()), (AXIS,))


def map_rows(
    fn: Callable,
    rows,
    *,
    chunk: int | None = None,
    args: tuple = (),
) -> np.ndarray:
    """``fn(rows[a:b], *args)`` over the leading axis of ``rows``, split over all devices.

    ``fn`` must map a batch of shape ``(B, ...)`` to outputs with leading axis
    ``B`` and treat rows independently (padding rows are computed and dropped).
    ``chunk`` is the number of rows per device per call (``None``: all at once).
    ``args`` are replicated on every device. ``fn`` should be jitted by the
    caller (it is called once per chunk with the same shapes, so compiled once).
    Returns a NumPy array (or a tuple of them if ``fn`` returns a tuple).
    """
    rows = jnp.asarray(rows)
    n = rows.shape[0]
    ndev = jax.device_count()
    per_dev = -(-n // ndev) if chunk is None else max(1, min(int(chunk), -(-n // ndev)))
    block = per_dev * ndev
    n_blocks = -(-n // block)
    pad = n_blocks * block - n
    if pad:
        # repeat the last row: a valid input, so padding never makes NaNs or overflows
        rows = jnp.concatenate([rows, jnp.repeat(rows[-1:], pad, axis=0)], axis=0)
    if ndev > 1:
        mesh = row_mesh()
        sharded = NamedSharding(mesh, PartitionSpec(AXIS))
        replicated = NamedSharding(mesh, PartitionSpec())
        args = tuple(jax.device_put(a, replicated) for a in args)
    outs = []
    for b in range(n_blocks):
        piece = rows[b * block : (b + 1) * block]
        if ndev > 1:
            piece = jax.device_put(piece, sharded)
        outs.append(jax.tree_util.tree_map(_to_host, fn(piece, *args)))
    if isinstance(outs[0], tuple):
        return tuple(np.concatenate([o[i] for o in outs], axis=0)[:n] for i in range(len(outs[0])))
    return np.concatenate(outs, axis=0)[:n]


def _to_host(x) -> np.ndarray:
    """A result as a NumPy array; under ``jax.distributed`` its shards on other processes are
    gathered first, so every process holds the whole result."""
    if getattr(x, "is_fully_addressable", True):
        return np.asarray(x)
    from jax.experimental import multihost_utils

    return np.asarray(multihost_utils.process_allgather(x, tiled=True))
