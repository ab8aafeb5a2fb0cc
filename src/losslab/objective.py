"""Model + loss + data, bound together: the thing every optimiser minimises.

>>> from losslab import make_objective
>>> obj = make_objective("linear", "book:linear")
>>> obj
Objective(model='linear', loss='least_squares', reduction='sum', data='book:linear' (12 points), dtype=float64)
>>> round(float(obj.value([0.6, -0.2])), 3)
12.367

Autodiff is always available; the chapter's hand-derived formulas are
available as ``analytic_grad`` / ``analytic_hessian`` where the model declares
them (:class:`losslab.models.Capabilities`), and a declared fused
loss-and-gradient is what the objective differentiates through. The pure function
``Objective.loss_on`` takes the data explicitly so that runs can
``jit``/``vmap``/``scan`` it over minibatches.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from functools import lru_cache
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from . import losses as _losses
from .content_hash import feed
from .data import Dataset, load_dataset
from .errors import LosslabError, check_choice
from .models import Model, get_model, stored_recipe
from .program_store import stored_jit

__all__ = ["Objective", "make_objective", "MAX_DENSE_HESSIAN_PARAMS"]

# A dense float64 Hessian of 8,000 parameters is 512 MB; beyond that use hvp().
MAX_DENSE_HESSIAN_PARAMS = 8000


class _Kernels(NamedTuple):
    example_losses: Callable
    loss_on: Callable
    value: Callable
    value_and_grad: Callable
    example_grads: Callable
    hessian: Callable
    hvp: Callable


def _with_fused_derivative(fused: Callable) -> Callable:
    """The summed loss whose derivative is a hand-derived formula (exact, and one pass).

    ``fused(params, x, y)`` returns ``(L, dL/dparams, dL/dx, dL/dy)``: everything a
    Jacobian-vector product of L needs, so gradients, Hessians and HVPs all go through it.
    """

    @jax.custom_jvp
    def loss_sum(params, x, y):
        return fused(params, x, y)[0]

    @loss_sum.defjvp
    def _jvp(primals, tangents):
        params, x, y = primals
        d_params, d_x, d_y = tangents
        value, grad, grad_x, grad_y = fused(params, x, y)
        d_value = grad @ d_params + jnp.sum(grad_x * d_x) + jnp.sum(grad_y * d_y)
        return value, d_value

    return loss_sum


@lru_cache(maxsize=256)
def _kernels(model_fn: Callable, loss: str, reduction: str, fused: Callable | None = None, recipe: tuple | None = None) -> _Kernels:
    """The compiled kernels of one model function, loss and reduction; ``recipe`` names them for
    :mod:`losslab.program_store` (None: a user's model, traced every run)."""
    per_example = _losses.PER_EXAMPLE[loss]

    def jit(fn: Callable, name: str) -> Callable:
        return stored_jit(fn, recipe=recipe, name=f"objective.{name}")

    def example_losses(params, x, y):
        """l_i for every data point: shape (I,)."""
        return per_example(model_fn(params, x), y)

    if fused is None:

        def loss_on(params, x, y):
            """L on the data (x, y), reduced by the objective's ``reduction``."""
            return _losses.reduce(example_losses(params, x, y), reduction)

    else:
        loss_sum = _with_fused_derivative(fused)

        def loss_on(params, x, y):
            """L on the data (x, y), reduced by the objective's ``reduction``; its gradient is the chapter's formula."""
            total = loss_sum(params, x, y)
            return total if reduction == "sum" else total / x.shape[0]

    def one_loss(params, x_i, y_i):
        return per_example(model_fn(params, x_i[None]), y_i[None])[0]

    def hvp(params, vector, x, y):
        # forward-over-reverse: about the cost of two gradients, no dense matrix
        return jax.jvp(lambda p: jax.grad(loss_on)(p, x, y), (params,), (vector,))[1]

    return _Kernels(
        example_losses=example_losses,
        loss_on=loss_on,
        value=jit(loss_on, "value"),
        value_and_grad=jit(jax.value_and_grad(loss_on), "value_and_grad"),
        example_grads=jit(jax.vmap(jax.grad(one_loss), in_axes=(None, 0, 0)), "example_grads"),
        hessian=jit(jax.hessian(loss_on), "hessian"),
        hvp=jit(hvp, "hvp"),
    )


@lru_cache(maxsize=256)
def _compiled(formula: Callable, summed: bool = False, recipe: tuple | None = None) -> Callable:
    """A hand-derived formula (optionally summed over the examples) as one compiled program:
    called eagerly, each of its dozens of operations would compile a program of its own.
    ``recipe`` names the formula for :mod:`losslab.program_store` (None: traced every run)."""
    name = f"objective.formula.{formula.__module__}.{formula.__qualname__}"
    if summed:
        return stored_jit(lambda params, x, y: jnp.sum(formula(params, x, y), axis=0), recipe=recipe, name=f"{name}.summed")
    return stored_jit(formula, recipe=recipe, name=name)


class Objective:
    """L[phi] for one model, one loss and one data set (``reduction`` "sum" as the book, or "mean")."""

    def __init__(
        self,
        model: Model,
        data: Dataset,
        *,
        loss: str | None = None,
        reduction: str = "sum",
        dtype: str = "float64",
    ) -> None:
        if not isinstance(model, Model):
            raise LosslabError(f"The 'model' parameter of Objective must be a losslab Model. Got {type(model).__name__} instead.")
        if not isinstance(data, Dataset):
            raise LosslabError(f"The 'data' parameter of Objective must be a losslab Dataset. Got {type(data).__name__} instead.")
        if loss is None:
            loss = "bce" if model.output == "logit" else "least_squares"
        self.loss = check_choice("loss", loss, _losses.LOSS_NAMES, owner="Objective")
        self.reduction = check_choice("reduction", reduction, _losses.REDUCTIONS, owner="Objective")
        self.dtype = check_choice("dtype", dtype, ("float64", "float32"), owner="Objective")
        if self.loss == "bce":
            labels = np.unique(data.y)
            if not np.all(np.isin(labels, (0.0, 1.0))):
                shown = labels[~np.isin(labels, (0.0, 1.0))][:5]
                raise LosslabError(
                    f"The 'y' labels of data {data.name!r} must be 0 or 1 for binary cross-entropy. "
                    f"Got {shown.tolist()} instead."
                )
        d_in = model.meta.get("input_dim")
        got = 1 if data.x.ndim == 1 else int(data.x.shape[1])
        if d_in is not None and got != d_in:
            widths = model.meta.get("widths")
            shown = ",".join(map(str, widths)) if widths else d_in
            raise LosslabError(
                f"The 'widths' parameter of {model.name} must start with {got}, the inputs per point of data {data.name!r}. "
                f"Got {shown} instead."
            )
        self.model = model
        self.data = data
        self.x = jnp.asarray(data.x, dtype=self.dtype)
        self.y = jnp.asarray(data.y, dtype=self.dtype)
        capabilities = model.capabilities
        # the fused kernels are float64 formulas; float32 objectives differentiate model.fn
        fused = capabilities.fused.get(self.loss) if self.dtype == "float64" else None
        model_recipe = stored_recipe(model)
        # what loss_on and the kernels close over (the data are their arguments), for programs kept between runs
        self.kernel_recipe = None if model_recipe is None else (model_recipe, self.loss, self.reduction, fused is not None)
        kernels = _kernels(model.fn, self.loss, self.reduction, fused, self.kernel_recipe)
        # Pure functions of (params, x, y), shared by every objective with the same
        # model function, loss and reduction, so runs that jit/vmap/scan them and
        # new Objective instances reuse compiled code instead of recompiling.
        self.example_losses = kernels.example_losses
        self.loss_on = kernels.loss_on
        self._kernels = kernels
        self._analytic_example_grads = capabilities.example_grads.get(self.loss)
        self._analytic_hessian = capabilities.hessian.get(self.loss)
        self._recipe: tuple | None = None

    @property
    def recipe(self) -> tuple | None:
        """What a program that closes over this objective depends on beyond losslab's source: the kernels'
        recipe (model, loss, reduction), the dtype and a SHA-256 of the data's bytes; None for a user's
        model (:mod:`losslab.program_store`)."""
        if self.kernel_recipe is None:
            return None
        if self._recipe is None:
            h = hashlib.sha256()
            feed(h, (np.asarray(self.x), np.asarray(self.y)))
            self._recipe = (self.kernel_recipe, self.dtype, h.hexdigest())
        return self._recipe

    # -- on the bound data, validated at the edge -------------------------------
    @property
    def n_params(self) -> int:
        return self.model.n_params

    @property
    def n_examples(self) -> int:
        return len(self.data)

    def check_params(self, params) -> jnp.ndarray:
        return self.model.check_params(params).astype(self.dtype)

    def value(self, params) -> jnp.ndarray:
        """L[phi] on the whole data set."""
        return self._kernels.value(self.check_params(params), self.x, self.y)

    def __call__(self, params) -> jnp.ndarray:
        return self.value(params)

    def value_and_grad(self, params):
        return self._kernels.value_and_grad(self.check_params(params), self.x, self.y)

    def grad(self, params) -> jnp.ndarray:
        """dL/dphi by autodiff."""
        return self.value_and_grad(params)[1]

    def example_grads(self, params) -> jnp.ndarray:
        """dl_i/dphi for every data point by autodiff: shape (I, P)."""
        return self._kernels.example_grads(self.check_params(params), self.x, self.y)

    def batch_grad(self, params, indices) -> jnp.ndarray:
        """The minibatch gradient over ``indices``: sum_{i in B} dl_i/dphi (``"sum"``) or its mean over B."""
        idx = np.asarray(indices)
        if idx.ndim != 1 or idx.size == 0 or not np.issubdtype(idx.dtype, np.integer):
            raise LosslabError(f"The 'indices' parameter of batch_grad must be a non-empty 1-D list of integers. Got {indices!r} instead.")
        if idx.min() < 0 or idx.max() >= self.n_examples:
            raise LosslabError(
                f"The 'indices' parameter of batch_grad must lie in [0, {self.n_examples - 1}]. Got values in [{idx.min()}, {idx.max()}] instead."
            )
        return self._kernels.value_and_grad(self.check_params(params), self.x[idx], self.y[idx])[1]

    def hessian(self, params) -> jnp.ndarray:
        """The dense Hessian by autodiff (refused above MAX_DENSE_HESSIAN_PARAMS: use hvp)."""
        self._check_dense()
        return self._kernels.hessian(self.check_params(params), self.x, self.y)

    def hvp(self, params, vector) -> jnp.ndarray:
        """H[phi] v by forward-over-reverse autodiff, without forming H."""
        params = self.check_params(params)
        vector = jnp.asarray(vector, dtype=self.dtype)
        if vector.shape != params.shape:
            raise LosslabError(f"The 'vector' parameter of hvp must have shape {tuple(params.shape)}. Got {tuple(vector.shape)} instead.")
        return self._kernels.hvp(params, vector, self.x, self.y)

    # -- the chapter's formulas -------------------------------------------------
    @property
    def has_analytic_grad(self) -> bool:
        return self._analytic_example_grads is not None

    @property
    def has_analytic_hessian(self) -> bool:
        return self._analytic_hessian is not None

    def _example_grads_formula(self) -> Callable:
        if not self.has_analytic_grad:
            raise LosslabError(
                f"No hand-derived gradient for model {self.model.name!r} with loss {self.loss!r}; use grad() (autodiff)."
            )
        return self._analytic_example_grads

    def analytic_example_grads(self, params) -> jnp.ndarray:
        """dl_i/dphi by the chapter's formula (see :mod:`losslab.derivatives`)."""
        return _compiled(self._example_grads_formula(), False, self._formula_recipe("example_grads"))(self.check_params(params), self.x, self.y)

    def analytic_grad(self, params) -> jnp.ndarray:
        """dL/dphi = sum_i dl_i/dphi (eq. 6.6), divided by I for ``"mean"``."""
        total = _compiled(self._example_grads_formula(), True, self._formula_recipe("example_grads"))(self.check_params(params), self.x, self.y)
        return total if self.reduction == "sum" else total / self.n_examples

    def analytic_hessian(self, params) -> jnp.ndarray:
        """The chapter's closed-form Hessian (linear: problem 6.2; logistic: problem 6.4)."""
        if not self.has_analytic_hessian:
            raise LosslabError(
                f"No closed-form Hessian for model {self.model.name!r} with loss {self.loss!r}; use hessian() (autodiff)."
            )
        hess = _compiled(self._analytic_hessian, False, self._formula_recipe("hessian"))(self.check_params(params), self.x, self.y)
        return hess if self.reduction == "sum" else hess / self.n_examples

    def _formula_recipe(self, kind: str) -> tuple | None:
        """The recipe of the model's ``kind`` formula for this loss (the model's recipe vouches for the formula)."""
        return None if self.kernel_recipe is None else ("formula", kind, self.kernel_recipe)

    def _check_dense(self) -> None:
        p = self.n_params
        if p > MAX_DENSE_HESSIAN_PARAMS:
            need = p * p * np.dtype(self.dtype).itemsize
            raise LosslabError(
                f"A dense Hessian of {p:,} parameters needs {need / 2**30:.1f} GiB "
                f"(limit: {MAX_DENSE_HESSIAN_PARAMS:,} parameters). Use hvp() or losslab.curvature instead."
            )

    def with_data(self, data: Dataset) -> Objective:
        return Objective(self.model, data, loss=self.loss, reduction=self.reduction, dtype=self.dtype)

    def _repr_latex_(self) -> str:
        from .views import objective_latex

        return f"$${objective_latex(self)}$$"

    def _repr_html_(self) -> str:
        from .views import objective_html

        return objective_html(self)

    def __repr__(self) -> str:
        return (
            f"Objective(model={self.model.name!r}, loss={self.loss!r}, reduction={self.reduction!r}, "
            f"data={self.data.name!r} ({self.n_examples} points), dtype={self.dtype})"
        )


def make_objective(
    model: str | Model = "linear",
    data: str | Dataset | None = None,
    *,
    loss: str | None = None,
    reduction: str = "sum",
    widths=None,
    dtype: str = "float64",
) -> Objective:
    """An :class:`Objective` from names: ``make_objective("gabor", "book:gabor")``.

    With ``data=None`` the model's own data set is used (``model.default_data``;
    ``logistic`` uses seed 0).
    """
    model_obj = model if isinstance(model, Model) else get_model(model, widths=widths)
    if data is None:
        if model_obj.default_data is None:
            raise LosslabError(f"The 'data' parameter is required for model {model_obj.name!r}. Got None instead.")
        data = model_obj.default_data
    data_obj = data if isinstance(data, Dataset) else load_dataset(data)
    if data_obj.x.ndim == 2 and model_obj.scalar_input:
        raise LosslabError(f"The 'x' data for model {model_obj.name!r} must be 1-D. Got shape {data_obj.x.shape} instead.")
    return Objective(model_obj, data_obj, loss=loss, reduction=reduction, dtype=dtype)


from .precision import float64_api  # noqa: E402  (last: wraps what this module defines)

float64_api(globals())  # every public function and method computes in float64 (losslab.precision)
