"""Split batched work over every device JAX sees, with no change to user code.

A landscape is a batch of grid rows; a sweep is a batch of starting points.
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
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

__all__ = ["device_count", "row_mesh", "map_rows", "sweep", "SweepResult"]

AXIS = "rows"


def device_count() -> int:
    """How many devices the landscape/sweep functions split over."""
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


# ----------------------------------------------------------------------------- sweeps
class SweepResult:
    """Final parameters ``(S, P)`` and full-data losses ``(S,)`` of many full-batch runs."""

    def __init__(self, final_params, final_loss, optimizer: str, steps: int, gradient: str):
        self.final_params = final_params
        self.final_loss = final_loss
        self.diverged = ~np.isfinite(final_loss) | ~np.all(np.isfinite(final_params), axis=1)
        self.optimizer, self.steps, self.gradient = optimizer, steps, gradient

    def __repr__(self) -> str:
        ok = ~self.diverged
        best = float(np.min(self.final_loss[ok])) if ok.any() else float("nan")
        return (
            f"SweepResult({len(self.final_loss)} runs x {self.steps} {self.optimizer} steps, gradient={self.gradient!r}, "
            f"best loss {best:.6g}, {int(self.diverged.sum())} diverged)"
        )


def sweep(objective, optimizer: str, inits, *, steps: int, chunk: int | None = None, **hparams) -> SweepResult:
    """Many full-batch runs of a book/optax optimiser from ``inits`` (S, P), split over all devices.

    The lean sibling of :func:`losslab.run.run_many`: it keeps only each run's
    final parameters and loss (no per-step records), shards the starts over every
    device (:func:`map_rows`), and for the Gabor least-squares loss uses the
    model's column kernel where it declares one (``model.capabilities.columns``).
    Other objectives use ``jax.grad``. ``hparams`` go to :func:`losslab.optim.make_optimizer`.
    """
    from .errors import LosslabError, check_int
    from .optim import make_optimizer

    steps = check_int("steps", steps, owner="sweep", ge=1)
    starts = np.asarray(inits, dtype=np.float64)
    if starts.ndim != 2 or starts.shape[1] != objective.n_params:
        raise LosslabError(f"The 'inits' parameter of sweep must have shape (S, {objective.n_params}). Got {starts.shape} instead.")
    make_optimizer(optimizer, **hparams)  # validates the name and hyperparameters up front
    columns = objective.model.capabilities.columns.get(objective.loss) if objective.dtype == "float64" else None
    analytic = columns is not None
    scale = 1.0 / objective.n_examples if objective.reduction == "mean" else 1.0
    try:
        key = (columns if analytic else objective.loss_on, scale, optimizer, tuple(sorted(hparams.items())), steps)
        hash(key)
    except TypeError:  # an unhashable hyperparameter (an array): compile afresh
        key = object()
    runs = _sweep_fns.get(key)
    if runs is None:
        runs = _sweep_fn(objective.loss_on, columns, scale, make_optimizer(optimizer, **hparams), steps)
        if len(_sweep_fns) > 32:
            _sweep_fns.clear()
        _sweep_fns[key] = runs
    final, loss = map_rows(runs, starts, chunk=chunk, args=(objective.x, objective.y))
    return SweepResult(final, loss, optimizer, steps, "analytic" if analytic else "autodiff")


_sweep_fns: dict = {}


def _sweep_fn(loss_on, columns, scale: float, tx, steps: int):
    """The jitted (starts, x, y) -> (final params, final loss) for one optimiser setting."""
    import optax

    from .optim import gradient_point

    if columns is not None:
        return _columns_sweep(columns, scale, tx, steps)
    grad_fn = jax.grad(loss_on)

    @jax.jit
    def runs(p0, x, y):
        def one(p):
            def step(carry, _):
                params, state = carry
                g = grad_fn(gradient_point(params, state), x, y)
                updates, state = tx.update(g, state, params)
                return (optax.apply_updates(params, updates), state), None

            final = jax.lax.scan(step, (p, tx.init(p)), None, length=steps)[0][0]
            return final, loss_on(final, x, y)

        return jax.vmap(one)(p0)

    return runs


def _columns_sweep(columns, scale: float, tx, steps: int):
    """A model with a column kernel: the runs are columns of a (P, S) array while the loss and
    the gradient are computed; the optimiser is ``vmap``-ed over runs (over the last axis)."""
    import optax

    from .optim import gradient_point

    # every per-run quantity keeps the run index last, so XLA never transposes inside the loop
    per_run = partial(jax.vmap, in_axes=-1, out_axes=-1)

    @jax.jit
    def runs(p0, x, y):
        def step(carry, _):
            params, state = carry
            g = columns(per_run(gradient_point)(params, state), x, y)[1] * scale
            updates, state = per_run(tx.update)(g, state, params)
            return (optax.apply_updates(params, updates), state), None

        start = p0.T
        final = jax.lax.scan(step, (start, per_run(tx.init)(start)), None, length=steps)[0][0]
        return final.T, columns(final, x, y)[0] * scale

    return runs
