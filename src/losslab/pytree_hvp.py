r"""Hessian-vector products of a user's loss over a parameter pytree and a stream of batches.

The loss over a data set is :math:`L(\phi) = \sum_b \ell(\phi, B_b)` (or the mean over
batches), so :math:`Hv = \sum_b \nabla^2 \ell(\phi, B_b) v`: each batch's product is
computed and added, as PyHessian does with a data loader, and only one batch (per device)
is in memory at a time. The parameters may be any pytree of floating arrays (a dict, a Flax
or Equinox model's arrays); the solvers in :mod:`losslab.curvature` see one flat float64
vector of P entries.

Where the work runs:

* several local devices: each round stacks one batch per device, shards the stack over a
  one-axis mesh and lets XLA run each device's batch; a round short of batches is padded
  with copies weighted 0, so the sum is unchanged;
* several processes (``jax.distributed``): every process reduces its own batches, then one
  all-gather of the P-vector per product adds the processes' sums in process order, so
  every process holds the same product and runs the same Lanczos iterations.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from .errors import LosslabError

__all__ = ["Structure", "flatten_params", "BatchSource", "PytreeHVP", "make_pytree_hvp"]

OWNER = "hessian_spectrum"
AXIS = "batches"


# ----------------------------------------------------------------------------- parameters
@dataclass(frozen=True)
class Structure:
    """How a flat vector maps back to the parameter pytree (hashable, so compiled code is shared)."""

    treedef: object
    shapes: tuple[tuple[int, ...], ...]

    @property
    def size(self) -> int:
        return int(sum(int(np.prod(s)) for s in self.shapes))

    def unravel(self, flat):
        leaves, start = [], 0
        for shape in self.shapes:
            n = int(np.prod(shape))
            leaves.append(flat[start : start + n].reshape(shape))
            start += n
        return jax.tree_util.tree_unflatten(self.treedef, leaves)


def flatten_params(params) -> tuple[jnp.ndarray, Structure]:
    """(flat float64 vector, :class:`Structure`) of a pytree of floating arrays, validated."""
    leaves, treedef = jax.tree_util.tree_flatten(params)
    if not leaves:
        raise LosslabError(f"The 'params' parameter of {OWNER} must be a pytree with at least one array. Got {params!r} instead.")
    arrays = []
    for i, leaf in enumerate(leaves):
        try:
            a = np.asarray(leaf)
        except Exception:  # noqa: BLE001 - any object NumPy cannot read is the user's mistake
            a = None
        if a is None or not np.issubdtype(a.dtype, np.floating):
            got = type(leaf).__name__ if a is None or a.dtype == object else f"an array of dtype {a.dtype}"
            raise LosslabError(
                f"The 'params' parameter of {OWNER} must be a pytree of floating arrays (with Equinox, pass "
                f"eqx.partition(model, eqx.is_inexact_array)[0]). Leaf {i} is {got} instead."
            )
        if not np.all(np.isfinite(a)):
            raise LosslabError(f"The 'params' parameter of {OWNER} must be finite; leaf {i} holds NaN or inf.")
        arrays.append(a.astype(np.float64))
    structure = Structure(treedef, tuple(a.shape for a in arrays))
    flat = jnp.asarray(np.concatenate([a.ravel() for a in arrays]))
    return flat, structure


# ----------------------------------------------------------------------------- batches
def _as_batch(batch):
    """A batch's leaves as arrays, floating ones in float64 (integer labels keep their dtype)."""

    def leaf(x):
        a = np.asarray(x)
        return a.astype(np.float64) if np.issubdtype(a.dtype, np.floating) else a

    return jax.tree_util.tree_map(leaf, batch)


def _is_one_batch(data) -> bool:
    """An array, a tuple or a dict (a pytree that is not a list) is one batch; a list, a callable
    or any other re-iterable object (a data loader) is a sequence of batches."""
    if isinstance(data, (tuple, dict)) or hasattr(data, "shape"):
        return True
    return not (isinstance(data, list) or callable(data) or isinstance(data, Iterable))


class BatchSource:
    """Re-iterable batches from one batch, a list, a re-iterable object or a callable giving a fresh iterator."""

    def __init__(self, data):
        if data is None:
            raise LosslabError(f"The 'data' parameter of {OWNER} must be a batch, a list of batches or a callable returning an iterator of batches. Got None instead.")
        if isinstance(data, str):
            raise LosslabError(f"The 'data' parameter of {OWNER} must be a batch of arrays or batches of them. Got the string {data!r} instead.")
        self.single = _is_one_batch(data)
        if not self.single and not callable(data) and iter(data) is data:
            raise LosslabError(
                f"The 'data' parameter of {OWNER} is a one-shot iterator ({type(data).__name__}); every Hessian-vector "
                "product passes over the data again, so pass a list, a re-iterable loader, or a callable returning a fresh iterator."
            )
        self.data = data

    def __iter__(self):
        if self.single:
            yield _as_batch(self.data)
            return
        it = self.data() if callable(self.data) else iter(self.data)
        try:
            it = iter(it)
        except TypeError:
            raise LosslabError(f"The 'data' callable of {OWNER} must return an iterator of batches. It returned {type(it).__name__} instead.") from None
        for b in it:
            yield _as_batch(b)


def _signature(batch):
    leaves, treedef = jax.tree_util.tree_flatten(batch)
    return treedef, tuple((np.shape(x), np.asarray(x).dtype) for x in leaves)


# ----------------------------------------------------------------------------- compiled pieces
@lru_cache(maxsize=64)
def _flat_loss(loss_fn, structure: Structure):
    return lambda flat, batch: loss_fn(structure.unravel(flat), batch)


@lru_cache(maxsize=64)
def _compiled(loss_fn, structure: Structure):
    """The jitted value, product, linearisation and round functions of one (loss, structure)."""
    f = _flat_loss(loss_fn, structure)
    grad = jax.grad(f)

    def hvp(p, v, batch):
        # forward-over-reverse: the JVP of the gradient map
        return jax.jvp(lambda q: grad(q, batch), (p,), (v,))[1]

    def round_hvp(p, v, stacked, weights):
        return jnp.tensordot(weights, jax.vmap(lambda b: hvp(p, v, b))(stacked), axes=1)

    def round_value(p, stacked, weights):
        return jnp.vdot(weights, jax.vmap(lambda b: f(p, b))(stacked))

    def linearizer(p, batch):
        # the tangent map comes back as a pytree (jax.tree_util.Partial) holding the residuals
        return jax.linearize(lambda q: grad(q, batch), p)[1]

    return {
        "value": jax.jit(f),
        "hvp": jax.jit(hvp),
        "round_hvp": jax.jit(round_hvp),
        "round_value": jax.jit(round_value),
        "linearizer": jax.jit(linearizer),
        "f": f,
    }


@jax.jit
def _apply(linear, v):
    return linear(v)


# ----------------------------------------------------------------------------- the operator
class PytreeHVP:
    """``v -> H v`` (flat float64) for ``reduction`` of ``loss_fn`` over the batches, on ``devices``
    of this process and every process of ``jax.distributed``. Build with :func:`make_pytree_hvp`."""

    def __init__(self, loss_fn, flat, structure, source: BatchSource, *, reduction: str, devices, linearize: bool):
        self.loss_fn, self.params, self.structure, self.source = loss_fn, flat, structure, source
        self.reduction = reduction
        self.devices = list(devices)
        self.fns = _compiled(loss_fn, structure)
        self.processes = jax.process_count()
        self.matvecs = 0
        self._linear = None
        self.local_batches, first, self.loss = self._first_pass()
        self.n_batches = self._all_processes_sum(np.array([self.local_batches], dtype=np.float64)).astype(int)[0]
        if self.n_batches == 0:
            raise LosslabError(f"The 'data' parameter of {OWNER} gave no batches.")
        self.scale = 1.0 / self.n_batches if reduction == "mean" else 1.0
        self.loss = float(self._all_processes_sum(np.array([self.loss]))[0]) * self.scale
        if not np.isfinite(self.loss):
            raise LosslabError(f"The loss of {OWNER} is not finite at these params ({self.loss}): the Hessian is undefined there.")
        # one batch: linearise the gradient once (at the first product, after any memory check);
        # each product then runs only the tangent pass
        self.linearized = bool(linearize and self.local_batches == 1 and len(self.devices) == 1)
        self.first_batch = first

    @property
    def dim(self) -> int:
        return self.structure.size

    # the one collective: every process adds the processes' vectors in the same order
    def _all_processes_sum(self, x):
        if self.processes == 1:
            return np.asarray(x)
        from jax.experimental import multihost_utils

        return np.asarray(multihost_utils.process_allgather(np.asarray(x))).sum(axis=0)

    def _first_pass(self):
        """Count this process's batches, check each one, and add up their losses."""
        total, n, first = 0.0, 0, None
        for batch in self.source:
            if first is None:
                self._check_loss(batch)
                first = batch
            total += float(self.fns["value"](self.params, batch))
            n += 1
        return n, first, total

    def _check_loss(self, batch):
        try:
            out = jax.eval_shape(self.fns["f"], jax.ShapeDtypeStruct(self.params.shape, jnp.float64), batch)
        except Exception as e:  # the user's function failed: say so, with its own message
            raise LosslabError(f"The 'loss_fn' parameter of {OWNER} failed on the first batch: {type(e).__name__}: {e}") from e
        if not (hasattr(out, "shape") and out.shape == () and jnp.issubdtype(out.dtype, jnp.floating)):
            got = f"shape {getattr(out, 'shape', None)} dtype {getattr(out, 'dtype', type(out).__name__)}"
            raise LosslabError(f"The 'loss_fn' parameter of {OWNER} must return a floating scalar loss(params, batch). Got {got} instead.")

    def kept_bytes(self) -> int:
        """What the linearisation of one batch keeps (the forward pass's activations), via jax.eval_shape."""
        spec = jax.ShapeDtypeStruct(self.params.shape, jnp.float64)
        kept = jax.eval_shape(self.fns["linearizer"], spec, self.first_batch)
        return sum(int(np.prod(x.shape)) * np.dtype(x.dtype).itemsize for x in jax.tree_util.tree_leaves(kept))

    def __call__(self, v):
        self.matvecs += 1
        v = jnp.asarray(v, dtype=jnp.float64)
        if self.linearized:
            if self._linear is None:
                self._linear = self.fns["linearizer"](self.params, self.first_batch)
            local = _apply(self._linear, v)
        elif len(self.devices) == 1:
            local = jnp.zeros_like(v)
            for batch in self.source:
                local = local + self.fns["hvp"](self.params, v, batch)
        else:
            local = self._sharded(v)
        out = self._all_processes_sum(local) if self.processes > 1 else local
        out = jnp.asarray(out) * self.scale
        if not bool(jnp.all(jnp.isfinite(out))):
            raise LosslabError(f"The Hessian-vector product of {OWNER} is not finite at these params.")
        return out

    def _sharded(self, v):
        """One round per ``len(devices)`` batches of the same shapes, each device one batch."""
        mesh = Mesh(np.asarray(self.devices), (AXIS,))
        split = NamedSharding(mesh, PartitionSpec(AXIS))
        whole = NamedSharding(mesh, PartitionSpec())
        p, v = jax.device_put(self.params, whole), jax.device_put(v, whole)
        total = None
        for stacked, weights in self._rounds():
            part = self.fns["round_hvp"](p, v, jax.device_put(stacked, split), jax.device_put(weights, split))
            total = part if total is None else total + part
        if total is None:  # this process has no batches: it adds zero
            return jnp.zeros_like(self.params)
        return jax.device_put(total, self.devices[0])

    def _rounds(self):
        ndev = len(self.devices)
        pending, sig = [], None
        for batch in self.source:
            s = _signature(batch)
            if pending and s != sig:
                yield self._stack(pending, ndev)
                pending = []
            sig = s
            pending.append(batch)
            if len(pending) == ndev:
                yield self._stack(pending, ndev)
                pending = []
        if pending:
            yield self._stack(pending, ndev)

    @staticmethod
    def _stack(batches, ndev):
        # a short round is padded with copies of its first batch, weighted 0
        weights = np.zeros(ndev)
        weights[: len(batches)] = 1.0
        batches = batches + [batches[0]] * (ndev - len(batches))
        return jax.tree_util.tree_map(lambda *xs: np.stack(xs), *batches), weights

    def unravel(self, flat):
        return self.structure.unravel(jnp.asarray(flat))


def make_pytree_hvp(loss_fn: Callable, params, data, *, reduction: str = "sum", devices=None,
                    linearize: bool = True) -> PytreeHVP:
    """The operator ``v -> H v`` of ``loss_fn`` summed (or averaged) over ``data``'s batches at ``params``.

    ``devices``: this process's devices to split batches over (default all of
    ``jax.local_devices()``). Under ``jax.distributed`` each process passes its own
    batches; the product is over all of them.
    """
    from .errors import check_choice

    if not callable(loss_fn):
        raise LosslabError(f"The 'loss_fn' parameter of {OWNER} must be a function loss_fn(params, batch). Got {loss_fn!r} instead.")
    reduction = check_choice("reduction", reduction, ("sum", "mean"), owner=OWNER)
    flat, structure = flatten_params(params)
    if devices is None:
        devices = jax.local_devices()
    devices = list(devices)
    local = set(jax.local_devices())
    if not devices or any(d not in local for d in devices):
        raise LosslabError(f"The 'devices' parameter of {OWNER} must be a non-empty list of this process's devices "
                           f"(jax.local_devices()). Got {devices!r} instead.")
    return PytreeHVP(loss_fn, flat, structure, BatchSource(data), reduction=reduction, devices=devices,
                     linearize=bool(linearize))


from .precision import float64_api  # noqa: E402  (last: wraps what this module defines)

float64_api(globals())  # every public function and method computes in float64 (losslab.precision)
