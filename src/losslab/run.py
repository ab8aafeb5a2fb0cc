"""Compiled optimisation runs: one run, or thousands at once.

>>> from losslab import make_objective
>>> from losslab.run import run
>>> obj = make_objective("gabor", "book:gabor")
>>> result = run(obj, "momentum", [-1.5, 6.5], steps=81, batch_size=5, seed=1, learning_rate=0.6, beta=0.6)
>>> result.steps, result.epochs, result.examples_seen
(81, 13, 405)

The whole run is one ``lax.scan``. Step t (t = 0..T) records phi_t, the
full-data loss L[phi_t], the full-data gradient norm, the step size used to
leave phi_t (the learning rate alpha_t, or the line-search step) and the
epochs completed after t iterations. Minibatches come from
:class:`losslab.sampler.Sampler` (reproducible from ``seed``).

A run stops early when the full-data gradient norm falls to ``tol`` or below
(``converged``), and when it diverges: phi_t or L[phi_t] is NaN, infinite or
beyond ``OVERFLOW`` in magnitude. A diverged run is a result: ``diverged_at``
is the first such t, and the records end there.

Hyperparameters are traced arguments of the compiled function, so running
again with other values (or :func:`run_many` over a grid) does not recompile.

This is the one run engine: :func:`run` records one run step by step;
:func:`run_many` runs every start with every learning rate and records every
step's parameters and loss (``record="params"``), every step's loss
(``record="loss"``), or only where each run ends (``record="final"``: full-batch
runs split over every device, stepped with the model's column kernel where it
declares one). Compiled functions live in one cache, and every request is
checked against the one memory rule of :mod:`losslab.memory` before it runs.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax import lax

from .errors import LosslabError, check_choice, check_int, check_number, check_seed
from .jsonable import finite_or_none
from .memory import refuse_if_over, refuse_printed
from .optim.book import _find_lookahead, gradient_point
from .optim.line_search import LineSearch, make_line_search, search_step
from .optim.registry import OPTIMIZER_NAMES, build_optimizer, validate_hparams
from .sampler import Sampler
from .program_store import stored_jit
from .sharding import map_rows

__all__ = ["RunResult", "ManyRunResult", "run", "run_many", "OVERFLOW", "RECORDS", "trace_count"]

OVERFLOW = 1e100  # |phi| or |L| beyond this counts as divergence (its square would overflow float64)

_TRACES = {"count": 0}


def trace_count() -> int:
    """How many times a run engine has been traced (compiled) in this process."""
    return _TRACES["count"]


# -- results -------------------------------------------------------------------------
@dataclass(repr=False)
class RunResult:
    """One run's records (NumPy arrays over t = 0..steps) and its summary numbers."""

    params: np.ndarray
    loss: np.ndarray
    grad_norm: np.ndarray
    step_size: np.ndarray
    epoch: np.ndarray
    diverged: bool
    diverged_at: int | None
    converged: bool
    steps: int
    epochs: int
    examples_seen: int
    optimizer: str = ""
    batch_size: int | None = None
    n_examples: int = 0
    seed: int = 0

    @property
    def final_params(self) -> np.ndarray:
        return self.params[-1]

    @property
    def final_loss(self) -> float:
        return float(self.loss[-1])

    def summary(self) -> str:
        if self.diverged:
            return f"diverged at step {self.diverged_at}"
        state = "converged" if self.converged else "finished"
        return f"{state} after {self.steps} steps: loss {self.final_loss:.6g}"

    def to_dict(self) -> dict:
        """The ``--json`` shape: params, loss, steps, epochs, examples_seen, diverged, trajectory."""
        return {
            "params": [float(v) for v in self.final_params],
            "loss": finite_or_none(self.final_loss),
            "steps": int(self.steps),
            "epochs": int(self.epochs),
            "examples_seen": int(self.examples_seen),
            "diverged": bool(self.diverged),
            "diverged_at": self.diverged_at,
            "converged": bool(self.converged),
            "message": self.summary(),
            "optimizer": self.optimizer,
            "batch_size": self.batch_size,
            "seed": self.seed,
            "trajectory": [
                {
                    "step": t,
                    "params": [finite_or_none(v) for v in self.params[t]],
                    "loss": finite_or_none(self.loss[t]),
                    "grad_norm": finite_or_none(self.grad_norm[t]),
                    "step_size": finite_or_none(self.step_size[t]),
                    "epoch": int(self.epoch[t]),
                }
                for t in range(len(self.loss))
            ],
        }

    def _repr_html_(self) -> str:
        from .views import run_html

        return run_html(self)

    def __repr__(self) -> str:
        return (
            f"RunResult({self.optimizer or 'optimizer'}, steps={self.steps}, epochs={self.epochs}, "
            f"examples_seen={self.examples_seen}, {self.summary()})"
        )


RECORDS = ("params", "loss", "final")  # what run_many keeps of every run


@dataclass(repr=False)
class ManyRunResult:
    """Runs over learning rates x starts: arrays with leading axes (L, S).

    ``loss`` (every step) is None for ``record="final"``, ``params`` (every step) is
    None unless ``record="params"``; ``diverged_at`` is None for ``record="final"``
    (a run that diverged is known from its final values only).
    """

    learning_rates: np.ndarray
    inits: np.ndarray
    final_params: np.ndarray  # (L, S, P)
    final_loss: np.ndarray  # (L, S)
    loss: np.ndarray | None  # (L, S, T+1), frozen after a stop
    params: np.ndarray | None  # (L, S, T+1, P)
    diverged: np.ndarray  # (L, S) bool
    diverged_at: np.ndarray | None  # (L, S) int, -1 where it did not diverge
    converged: np.ndarray
    steps: np.ndarray  # (L, S) updates applied
    optimizer: str = ""
    record: str = "params"

    def __repr__(self) -> str:
        L, S = self.diverged.shape
        ok = ~self.diverged
        best = f", best loss {float(np.min(self.final_loss[ok])):.6g}" if ok.any() else ""
        return (
            f"ManyRunResult({self.optimizer}, {L} learning rates x {S} starts, record={self.record!r}{best}, "
            f"{int(self.diverged.sum())} diverged, {int(self.converged.sum())} converged)"
        )


# -- the engine ------------------------------------------------------------------------
# One cache of compiled runs for every path (a run, many runs, final-only runs), least
# recently used first out. Keys hold the objective's id; entries hold the objective
# itself, so an id is never reused while its entry lives.
_CACHE: OrderedDict = OrderedDict()
_CACHE_SIZE = 64


def _cached(key, owners: tuple, build):
    """The compiled function under ``key`` (built on a miss); ``owners`` are the objects whose ids the key holds."""
    hit = _CACHE.get(key)
    if hit is not None and all(a is b for a, b in zip(hit[0], owners)):
        _CACHE.move_to_end(key)
        return hit[1]
    compiled = build()
    _CACHE[key] = (owners, compiled)
    if len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)
    return compiled


def _batch_loss_fn(objective, full_batch: bool):
    """L on a minibatch: the book's sum over B (or mean over its real members) via a padding mask."""
    if full_batch:
        return lambda p, idx, mask: objective.loss_on(p, objective.x, objective.y)

    def loss(p, idx, mask):
        per_example = objective.example_losses(p, objective.x[idx], objective.y[idx])
        total = jnp.sum(jnp.where(mask, per_example, 0.0))
        if objective.reduction == "mean":
            return total / jnp.sum(mask)
        return total

    return loss


def _make_engine(objective, optimizer, steps: int, full_batch: bool, spec: LineSearch | None, progress, every: int,
                 stopping: bool = True):
    """engine(init, hp, tol, idx, mask) -> records; ``optimizer`` a name or a GradientTransformation.

    With ``stopping=False`` (no tolerance, one run) the loop body carries no stop logic:
    divergence cannot change what is recorded up to the first bad step, so it is found
    afterwards from the records, which keeps the compiled loop as lean as a hand-written one.
    """
    full_loss = lambda p: objective.loss_on(p, objective.x, objective.y)  # noqa: E731
    full_vg = jax.value_and_grad(full_loss)
    batch_loss = _batch_loss_fn(objective, full_batch)
    batch_grad = jax.grad(batch_loss)

    def diverging(params, loss):
        return (
            ~jnp.isfinite(loss)
            | ~jnp.all(jnp.isfinite(params), axis=-1)
            | (jnp.abs(loss) > OVERFLOW)
            | (jnp.max(jnp.abs(params), axis=-1) > OVERFLOW)
        )

    def engine(init, hp, tol, idx, mask):
        _TRACES["count"] += 1
        hp = dict(hp)
        if isinstance(optimizer, str):
            rate = hp.pop("learning_rate")
            tx = build_optimizer(optimizer, rate, **hp)
        else:
            rate, tx = None, optimizer
        alpha = (rate if callable(rate) else (lambda count: rate)) if rate is not None else None
        params0 = jnp.asarray(init, jnp.float64)
        state0 = tx.init(params0)
        looks_ahead = _has_lookahead(state0)
        # one extra (unused) batch row so step T can be scanned like the others
        idx_all = jnp.concatenate([idx, idx[:1] if idx.shape[0] else jnp.zeros((1, idx.shape[1]), idx.dtype)])
        mask_all = jnp.concatenate([mask, mask[:1] if mask.shape[0] else jnp.ones((1, mask.shape[1]), bool)])

        def advance(params, state, g_full, t, b_idx, b_mask):
            """(phi_{t+1}, state_{t+1}, step size used to leave phi_t)."""
            if spec is not None:
                g = g_full if full_batch else batch_grad(params, b_idx, b_mask)
                step = search_step(spec, lambda s: batch_loss(params - s * g, b_idx, b_mask))
                return params - step * g, state, step
            if full_batch and not looks_ahead:  # the gradient at phi_t on all data: already computed
                g = g_full
            else:
                g = batch_grad(gradient_point(params, state), b_idx, b_mask)
            updates, new_state = tx.update(g, state, params)
            if alpha is not None:
                step = jnp.asarray(alpha(state.count if hasattr(state, "count") else t), jnp.float64)
            else:  # an arbitrary transformation: the effective rate |update| / |g|
                step = jnp.sqrt(jnp.sum(updates * updates)) / jnp.maximum(jnp.sqrt(jnp.sum(g * g)), 1e-300)
            return optax.apply_updates(params, updates), new_state, step

        def observe(params, t):
            if progress is not None:
                lax.cond(t % every == 0, lambda: jax.debug.callback(progress, t), lambda: None)
            loss, g_full = full_vg(params)
            return loss, g_full, jnp.sqrt(jnp.sum(g_full * g_full))

        def body(carry, xs):
            params, state, done, n_updates, div_at, conv = carry
            t, b_idx, b_mask = xs
            loss, g_full, gnorm = observe(params, t)
            bad = diverging(params, loss)
            div_at = jnp.where(bad & ~done, t, div_at)
            converged_now = (gnorm <= tol) & ~bad & ~done
            conv = conv | converged_now
            stop = done | bad | converged_now | (t == steps)
            new_params, new_state, step = advance(params, state, g_full, t, b_idx, b_mask)
            keep = lambda old, new: jnp.where(stop, old, new)  # noqa: E731
            params_next = keep(params, new_params)
            state_next = jax.tree_util.tree_map(keep, state, new_state)
            record = (params, loss, gnorm, jnp.where(stop, jnp.nan, step))
            carry = (params_next, state_next, stop, n_updates + (~stop).astype(jnp.int32), div_at, conv)
            return carry, record

        def lean_body(carry, xs):
            params, state = carry
            t, b_idx, b_mask = xs
            loss, g_full, gnorm = observe(params, t)
            new_params, new_state, step = advance(params, state, g_full, t, b_idx, b_mask)
            return (new_params, new_state), (params, loss, gnorm, step)

        ts = jnp.arange(steps + 1, dtype=jnp.int32)
        # A small model's step is a few dozen operations, so the loop's own overhead
        # dominates; unrolling four steps per iteration removes most of it (measured:
        # 1.06 -> 0.83 ms for 1,000 Gabor steps). It costs compilation (0.4 s more for
        # a Gabor run), so only long runs of small models without a line search (whose
        # inner loop would be copied four times) are unrolled; others would only compile longer.
        unroll = 4 if objective.n_params <= 1000 and spec is None and steps >= 1000 else 1
        if stopping:
            carry0 = (params0, state0, jnp.asarray(False), jnp.asarray(0, jnp.int32), jnp.asarray(-1, jnp.int32), jnp.asarray(False))
            carry, records = lax.scan(body, carry0, (ts, idx_all, mask_all))
            _, _, _, n_updates, div_at, conv = carry
            return records, n_updates, div_at, conv
        _, (params, loss, gnorm, step) = lax.scan(lean_body, (params0, state0), (ts, idx_all, mask_all), unroll=unroll)
        bad = diverging(params, loss)
        div_at = jnp.where(jnp.any(bad), jnp.argmax(bad), -1).astype(jnp.int32)
        n_updates = jnp.where(div_at >= 0, div_at, steps).astype(jnp.int32)
        step = jnp.where(ts >= n_updates, jnp.nan, step)  # no step leaves the last recorded point
        return (params, loss, gnorm, step), n_updates, div_at, jnp.asarray(False)

    return engine


def _has_lookahead(state) -> bool:
    return _find_lookahead(state) is not None


def _engine_for(objective, optimizer, steps, full_batch, spec, progress=None, every=1, many=False, hp_keys=(),
                stopping=True):
    key = ("engine", id(objective), optimizer if isinstance(optimizer, str) else id(optimizer), steps, full_batch, spec,
           id(progress) if progress else None, every, many, hp_keys, stopping)

    # an objective with a recipe (a built-in model; not a plain function), a named optimiser and no progress
    # callback: then everything the engine closes over is named here, and its traced programs are kept between runs
    closes_over = getattr(objective, "recipe", None)
    named = closes_over is not None and isinstance(optimizer, str) and progress is None
    recipe = ("engine", closes_over, optimizer, steps, full_batch, spec, every, many, hp_keys, stopping) if named else None

    def build():
        engine = _make_engine(objective, optimizer, steps, full_batch, spec, progress, every, stopping)
        if many:
            # inner vmap over hyperparameter settings, outer over starts: every output has the starts
            # first, so sharding.map_rows can split the starts over devices and processes
            over_settings = jax.vmap(engine, in_axes=(None, 0, None, None, None))

            def rows(starts, hp, tol, idx, mask):
                (params, loss, gnorm, step), n_updates, div_at, conv = jax.vmap(over_settings, in_axes=(0, None, None, None, None))(
                    starts, hp, tol, idx, mask)
                return params, loss, gnorm, step, n_updates, div_at, conv

            return stored_jit(rows, recipe=recipe, name="run.rows")
        return stored_jit(_packed(engine), recipe=recipe, name="run.packed")

    return _cached(key, (objective, optimizer), build)


def _packed(engine):
    """The engine's records and counters as one float64 vector: one host transfer instead of
    seven (a 1,000-step Gabor run computes in ~0.55 ms; each extra transfer cost ~0.01 ms)."""

    def packed(init, hp, tol, idx, mask):
        (params, loss, gnorm, step), n_updates, div_at, conv = engine(init, hp, tol, idx, mask)
        counters = jnp.stack([n_updates, div_at, conv.astype(jnp.int32)]).astype(jnp.float64)
        return jnp.concatenate([params.ravel(), loss, gnorm, step, counters])

    return packed


def _unpack(flat: np.ndarray, steps: int, n_params: int):
    rows = steps + 1
    params = flat[: rows * n_params].reshape(rows, n_params)
    loss, gnorm, step = flat[rows * n_params : rows * (n_params + 3)].reshape(3, rows)
    n_updates, div_at, conv = (int(v) for v in flat[rows * (n_params + 3) :])
    return (params, loss, gnorm, step), n_updates, div_at, bool(conv)


def _check_common(objective, steps, batch_size, seed, tol):
    steps = check_int("steps", steps, owner="run", ge=1)
    n = int(objective.n_examples)
    if batch_size is not None:
        batch_size = check_int("batch_size", batch_size, owner="run", ge=1, le=n)
    seed = check_seed("seed", seed, owner="run")
    tol = -1.0 if tol is None else check_number("tol", tol, owner="run", ge=0)
    return steps, n, batch_size, seed, tol


def _resolve(optimizer, line_search, line_search_options, hparams):
    """(engine optimizer key, traced hyperparameters, line-search spec, label)."""
    spec = None
    if line_search is not None:
        spec = make_line_search(line_search, **(line_search_options or {}))
        name = optimizer if isinstance(optimizer, str) else None
        if name not in ("gd", "sgd"):
            raise LosslabError(
                f"The 'line_search' parameter of run works with the optimizer 'gd' or 'sgd' (it chooses alpha). Got optimizer {optimizer!r} instead."
            )
        extra = sorted(set(hparams) - {"learning_rate"})
        if extra:
            raise LosslabError(f"The optimizer {name!r} with a line search takes no hyperparameters. Got {', '.join(map(repr, extra))} instead.")
        return name, {"learning_rate": 1.0}, spec, f"{name} + {spec!r}"
    if isinstance(optimizer, str):
        if optimizer not in OPTIMIZER_NAMES:
            validate_hparams(optimizer, 1.0, {})  # raises the standard message
        if "learning_rate" not in hparams:
            raise LosslabError(f"The 'learning_rate' parameter of {optimizer} is required (a number > 0). Got nothing instead.")
        values = validate_hparams(optimizer, hparams.pop("learning_rate"), hparams)
        label = optimizer + "(" + ", ".join(f"{k}={v!r}" if callable(v) else f"{k}={v:g}" for k, v in values.items()) + ")"
        return optimizer, values, None, label
    if isinstance(optimizer, optax.GradientTransformation):
        if hparams:
            raise LosslabError(f"Hyperparameters go into the transformation itself. Got {', '.join(map(repr, hparams))} besides one instead.")
        return optimizer, {}, None, repr(optimizer)
    raise LosslabError(
        f"The 'optimizer' parameter of run must be one of {', '.join(map(repr, OPTIMIZER_NAMES))} or an optax GradientTransformation. Got {optimizer!r} instead."
    )


def _split_static(values: dict):
    """Numbers become traced float64 scalars; a schedule (callable) stays a Python value."""
    # NumPy scalars, not jnp arrays: jit takes them directly, without one dispatch each
    traced = {k: np.float64(v) for k, v in values.items() if not callable(v)}
    static = {k: v for k, v in values.items() if callable(v)}
    return traced, static


def run(
    objective,
    optimizer,
    init,
    *,
    steps: int,
    batch_size: int | None = None,
    seed: int = 0,
    tol: float | None = None,
    line_search: str | LineSearch | None = None,
    line_search_options: dict | None = None,
    replace: bool = False,
    drop_last: bool = False,
    progress=None,
    progress_every: int = 1,
    **hparams,
) -> RunResult:
    """Run ``optimizer`` (a name of :data:`OPTIMIZER_NAMES` or a GradientTransformation) from ``init``.

    ``hparams`` are the optimiser's (``learning_rate``, ``beta``, ``gamma``, ``eps``...).
    With ``line_search`` ("four_point", "golden", "armijo", "wolfe"; options such as
    ``max_dist`` in ``line_search_options``) the optimiser must be gd/sgd and the
    step along -g is chosen by the search. ``progress(t)`` is called from inside
    the compiled run every ``progress_every`` steps (for a progress bar).
    """
    steps, n, batch_size, seed, tol = _check_common(objective, steps, batch_size, seed, tol)
    check_size(objective, steps=steps)
    opt_key, values, spec, label = _resolve(optimizer, line_search, line_search_options, dict(hparams))
    init = _check_init(objective, init)
    sampler = Sampler(n, batch_size, replace=replace, drop_last=drop_last, seed=seed)
    if batch_size is None:  # full batch: the engine reads no indices, so send none
        idx, mask = np.zeros((steps, 0), np.int32), np.zeros((steps, 0), bool)
    else:
        idx, mask = sampler.batches(steps)
    traced, static = _split_static(values)
    if static:  # a schedule is part of the compiled function
        opt_key = build_optimizer(opt_key, static["learning_rate"], **{k: float(v) for k, v in traced.items()})
        traced = {}
    engine = _engine_for(objective, opt_key, steps, batch_size is None, spec, progress, max(int(progress_every), 1),
                         hp_keys=tuple(sorted(traced)), stopping=tol >= 0)
    flat = np.asarray(engine(init, traced, np.float64(tol), idx, mask))
    (params, loss, gnorm, step), n_updates, div_at, conv = _unpack(flat, steps, objective.n_params)
    diverged = div_at >= 0
    taken = int(n_updates)
    end = div_at if diverged else taken
    count = sampler.count(taken)
    epoch = _epochs_vector(sampler, end)
    return RunResult(
        params=params[: end + 1], loss=loss[: end + 1], grad_norm=gnorm[: end + 1], step_size=step[: end + 1],
        epoch=epoch, diverged=diverged, diverged_at=div_at if diverged else None, converged=bool(conv),
        steps=taken, epochs=count.epochs, examples_seen=count.examples_seen, optimizer=label,
        batch_size=batch_size, n_examples=n, seed=seed,
    )


def check_size(objective, *, steps: int, json: bool = False) -> None:
    """Refuse, before any parameter exists, a run whose records (or their JSON) exceed the memory limit.

    Every step's parameters are recorded (twice while they come back from the device), on top of
    the parameter vector, its gradient and the optimiser's state (a few vectors of P).
    """
    p = int(objective.n_params)
    refuse_if_over(16 * (steps + 1) * (p + 3) + 64 * p, None, owner="run",
                   what=f"Recording {steps + 1:,} steps of {p:,} parameters",
                   advice="run fewer steps or use a smaller model (run_many(record='final') keeps only where each run ends)")
    if json:  # every step as {"step", "params", "loss", "grad_norm", "step_size", "epoch"}
        refuse_printed((steps + 1) * (p + 8), owner="run", what=f"The JSON of {steps + 1:,} steps of {p:,} parameters",
                       advice="run fewer steps, or leave out --json")


def _epochs_vector(sampler: Sampler, end: int) -> np.ndarray:
    """Epochs completed after t = 0..end iterations (the arithmetic of :func:`epochs_for`, vectorised)."""
    t = np.arange(end + 1, dtype=np.int64)
    if sampler.batch_size is None:
        return t
    if sampler.replace:
        return (t * sampler.batch_size) // sampler.n
    return t // sampler.count(0).batches_per_epoch


def _check_init(objective, init) -> jnp.ndarray:
    array = np.asarray(init, dtype=np.float64)
    if array.ndim != 1 or array.shape[0] != objective.n_params:
        raise LosslabError(f"The 'init' parameter of run must have {objective.n_params} entries. Got shape {array.shape} instead.")
    if not np.all(np.isfinite(array)):
        raise LosslabError(f"The 'init' parameter of run must be finite. Got {array.tolist()} instead.")
    return array


def run_many(
    objective,
    optimizer: str,
    inits,
    *,
    steps: int,
    learning_rates,
    batch_size: int | None = None,
    seed: int = 0,
    tol: float | None = None,
    replace: bool = False,
    drop_last: bool = False,
    record: str = "params",
    chunk: int | None = None,
    memory_limit: float | None = None,
    **hparams,
) -> ManyRunResult:
    """Every start in ``inits`` (S, P) with every learning rate (L,), compiled once.

    Other hyperparameters are scalars or arrays of length L (paired with the
    learning rates). All share the same minibatch sequence (from ``seed``).
    Changing only values (not shapes) reuses the compiled function.

    ``record`` is what is kept: ``"params"`` (every step's parameters and loss),
    ``"loss"`` (every step's loss) or ``"final"`` (where each run ends). Final-only
    full-batch runs without a tolerance are the lean path: no per-step records, the
    starts split over every device in chunks of ``chunk`` per device, and a model that
    declares a column kernel (``model.capabilities.columns``) steps all runs with it.
    Records larger than ``memory_limit`` bytes (default 4 GiB) are refused up front.
    """
    steps, n, batch_size, seed, tol = _check_common(objective, steps, batch_size, seed, tol)
    record = check_choice("record", record, RECORDS, owner="run_many")
    if not isinstance(optimizer, str):
        raise LosslabError(f"The 'optimizer' parameter of run_many must be a name. Got {optimizer!r} instead.")
    rates = np.atleast_1d(np.asarray(learning_rates, dtype=np.float64))
    if rates.ndim != 1 or rates.size == 0:
        raise LosslabError(f"The 'learning_rates' parameter of run_many must be a 1-D list of numbers. Got shape {rates.shape} instead.")
    starts = np.asarray(inits, dtype=np.float64)
    if starts.ndim != 2 or starts.shape[1] != objective.n_params:
        raise LosslabError(f"The 'inits' parameter of run_many must have shape (S, {objective.n_params}). Got {starts.shape} instead.")
    if chunk is not None:
        chunk = check_int("chunk", chunk, owner="run_many", ge=1)
    L = rates.size
    columns = {}
    for key, value in hparams.items():
        arr = np.asarray(value, dtype=np.float64)
        if arr.ndim == 0:
            arr = np.full(L, float(arr))
        if arr.shape != (L,):
            raise LosslabError(f"The {key!r} parameter of run_many must be a number or {L} numbers (one per learning rate). Got shape {arr.shape} instead.")
        columns[key] = arr
    for i in range(L):  # validate every setting once, at the edge
        values = validate_hparams(optimizer, rates[i], {k: v[i] for k, v in columns.items()})
    keys = tuple(sorted(values))
    table = {"learning_rate": rates}
    for k in keys:
        if k != "learning_rate":
            table[k] = columns.get(k, np.full(L, values[k]))
    S, P = starts.shape
    lean = record == "final" and batch_size is None and tol < 0
    if lean:  # final parameters and loss, on the device and on the host
        need = 16 * L * S * (P + 1)
    else:  # the engine's records of every step (params, loss, grad norm, step size), plus what is kept
        need = 8 * L * S * (steps + 1) * ((P + 3) + {"params": P + 1, "loss": 1, "final": 0}[record])
    refuse_if_over(need, memory_limit, owner="run_many",
                   what=f"Recording {L * S:,} runs x {steps + 1:,} steps of {P:,} parameters (record={record!r})",
                   advice="pass fewer starts or learning rates, or record='final' with full batches and no tol")
    if lean:
        return _final_only(objective, optimizer, starts, steps, rates, table, keys, chunk)
    sampler = Sampler(n, batch_size, replace=replace, drop_last=drop_last, seed=seed)
    idx, mask = sampler.batches(steps)
    engine = _engine_for(objective, optimizer, steps, batch_size is None, None, many=True, hp_keys=keys)
    traced = {k: np.asarray(v) for k, v in table.items()}
    # the starts split over every device (and every process of jax.distributed), each with every setting;
    # the records come back to every process, starts first: (S, L, ...) -> (L, S, ...), a view
    outs = map_rows(engine, starts, chunk=chunk, args=(traced, np.float64(tol), np.asarray(idx), np.asarray(mask)))
    params, loss, _, _, n_updates, div_at, conv = (np.moveaxis(a, 0, 1) for a in outs)
    # on the host from here: NumPy needs no compiled program per shape, as eager jnp calls would
    end = np.minimum(np.where(div_at >= 0, div_at, n_updates), steps)
    return ManyRunResult(
        learning_rates=rates, inits=starts, final_params=np.take_along_axis(params, end[..., None, None], axis=2)[:, :, 0],
        final_loss=np.take_along_axis(loss, end[..., None], axis=2)[..., 0],
        loss=None if record == "final" else loss, params=params if record == "params" else None,
        diverged=div_at >= 0, diverged_at=div_at, converged=conv,
        steps=n_updates, optimizer=optimizer, record=record,
    )


def _final_only(objective, optimizer: str, starts, steps: int, rates, table: dict, keys: tuple, chunk) -> ManyRunResult:
    """Full-batch runs that keep only where they end: each setting's starts split over every device."""
    kernel = objective.model.capabilities.columns.get(objective.loss) if objective.dtype == "float64" else None
    static = _static_steps()
    key = ("final", id(objective), id(kernel), optimizer, keys, static)
    runs = _cached(key, (objective, kernel), lambda: _final_runs(objective, kernel, optimizer, static_steps=static))
    finals, losses = [], []
    if static:  # a Python int, kept out of map_rows's args (which go to every device as arrays)
        fn, bound = partial(_call_with_steps, runs, int(steps)), ()
    else:
        fn, bound = runs, (np.int32(steps),)
    for i in range(rates.size):
        hp = {k: np.float64(table[k][i]) for k in keys}
        final, loss = map_rows(fn, starts, chunk=chunk, args=(hp, objective.x, objective.y, *bound))
        finals.append(final)
        losses.append(loss)
    final_params, final_loss = np.stack(finals), np.stack(losses)
    diverged = (~np.isfinite(final_loss) | ~np.all(np.isfinite(final_params), axis=-1) | (np.abs(final_loss) > OVERFLOW)
                | (np.max(np.abs(final_params), axis=-1, initial=0.0) > OVERFLOW))
    shape = final_loss.shape
    return ManyRunResult(
        learning_rates=rates, inits=starts, final_params=final_params, final_loss=final_loss, loss=None, params=None,
        diverged=diverged, diverged_at=None, converged=np.zeros(shape, bool), steps=np.full(shape, steps),
        optimizer=optimizer, record="final",
    )


# On a CPU the number of steps of final-only runs is a traced loop bound, so runs of another
# length reuse the compiled program. On a GPU that costs a device-to-host copy of the loop's
# condition after every step (XLA runs a loop whose trip count it cannot see by asking the host
# each time): measured on an H200, 10,000 Gabor runs x 1,000 steps took 29.6 ms against 10.8 ms
# for a vmap of lax.scan of the same kernel. There the number of steps is part of the compiled
# program (a loop with a known trip count), compiled once per length.
_STATIC_STEPS = "auto"  # "auto": on any backend but the CPU; tests set "always" / "never"


def _static_steps() -> bool:
    return _STATIC_STEPS == "always" or (_STATIC_STEPS == "auto" and jax.default_backend() != "cpu")


def _call_with_steps(runs, steps: int, p0, hp, x, y):
    return runs(p0, hp, x, y, steps)


def _final_runs(objective, kernel, optimizer: str, *, static_steps: bool = False):
    """The jitted (starts, hp, x, y, steps) -> (final params, final loss) of full-batch runs
    (``static_steps``: ``steps`` a Python int compiled into the program, see ``_STATIC_STEPS``)."""
    scale = 1.0 / objective.n_examples if objective.reduction == "mean" else 1.0
    if static_steps:
        jit = partial(jax.jit, static_argnums=(4,))
    else:  # x and y are arguments: the programs close over the model, loss and reduction (the kernels' recipe)
        recipe = getattr(objective, "kernel_recipe", None)
        named = None if recipe is None else ("final runs", recipe, objective.dtype, optimizer, kernel is not None)
        jit = partial(stored_jit, recipe=named, name="run.final_runs")
    if kernel is not None:
        return _column_runs(kernel, scale, optimizer, jit)
    loss_on = objective.loss_on
    grad_fn = jax.grad(loss_on)

    @jit
    def runs(p0, hp, x, y, steps):
        _TRACES["count"] += 1
        hp = dict(hp)
        tx = build_optimizer(optimizer, hp.pop("learning_rate"), **hp)

        def one(p):
            def step(_, carry):
                params, state = carry
                g = grad_fn(gradient_point(params, state), x, y)
                updates, state = tx.update(g, state, params)
                return optax.apply_updates(params, updates), state

            final = lax.fori_loop(0, steps, step, (p, tx.init(p)))[0]
            return final, loss_on(final, x, y)

        return jax.vmap(one)(p0)

    return runs


def _column_runs(kernel, scale: float, optimizer: str, jit=jax.jit):
    """Runs stepped as the columns of a (P, S) array with the model's column kernel: the runs
    are the contiguous axis, so every vector lane is busy; the optimiser is ``vmap``-ed over
    that last axis, so no per-run quantity is ever transposed inside the loop."""
    per_run = partial(jax.vmap, in_axes=-1, out_axes=-1)

    @jit
    def runs(p0, hp, x, y, steps):
        _TRACES["count"] += 1
        hp = dict(hp)
        tx = build_optimizer(optimizer, hp.pop("learning_rate"), **hp)

        def step(_, carry):
            params, state = carry
            g = kernel(per_run(gradient_point)(params, state), x, y)[1] * scale
            updates, state = per_run(tx.update)(g, state, params)
            return optax.apply_updates(params, updates), state

        start = p0.T
        final = lax.fori_loop(0, steps, step, (start, per_run(tx.init)(start)))[0]
        return final.T, kernel(final, x, y)[0] * scale

    return runs


from .precision import float64_api  # noqa: E402  (last: wraps what this module defines)

float64_api(globals())  # every public function and method computes in float64 (losslab.precision)
