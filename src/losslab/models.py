"""Models as pure JAX functions ``f(params, x)`` of a flat parameter vector.

Every model maps a 1-D parameter vector and a batch of inputs ``x`` (shape
``(N,)``, or ``(N, d)`` for an MLP with d inputs) to ``N`` outputs. Models whose
``output`` is ``"logit"`` return the pre-sigmoid value; the loss applies the
sigmoid (stably). A flat vector keeps every layer above simple: Hessians,
optimisers and ``vmap`` over many starts all see one array.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import jax
import jax.numpy as jnp
import numpy as np

from .backprop import mlp_forward, mlp_inputs, mlp_least_squares_fused
from .errors import LosslabError, check_int, check_seed
from .numerics import SINCOS_MAX, sincos

__all__ = [
    "Model",
    "MODEL_NAMES",
    "linear",
    "gabor",
    "logistic",
    "shallow",
    "mlp",
    "custom",
    "get_model",
    "relu",
]


def relu(z):
    """ReLU a[z] = max(0, z). Its derivative is taken as I[z > 0]: 0 at z = 0, as in JAX."""
    return jax.nn.relu(z)


@dataclass(frozen=True, eq=False)
class Model:
    """A named model: ``fn(params, x) -> outputs`` with ``n_params`` parameters."""

    name: str
    fn: Callable = field(repr=False)
    n_params: int
    param_names: tuple[str, ...]
    output: str = "real"  # "real" (least squares) or "logit" (binary cross-entropy)
    equation: str = ""
    init_fn: Callable | None = field(default=None, repr=False)
    meta: dict = field(default_factory=dict, compare=False, repr=False)

    def __call__(self, params, x):
        return self.fn(params, x)

    def __repr__(self) -> str:
        names = ", ".join(self.param_names) if self.n_params <= 12 else f"{self.n_params} parameters"
        eq = f", {self.equation}" if self.equation else ""
        return f"Model({self.name!r}, params=[{names}]{eq})"

    def predict(self, params, x):
        """What the model means: the output, or for a logit model the probability sig[f]."""
        out = self.fn(params, x)
        return jax.nn.sigmoid(out) if self.output == "logit" else out

    def check_params(self, params) -> jnp.ndarray:
        """``params`` as a 1-D array of length ``n_params``, or a clear error."""
        try:
            array = jnp.asarray(params)
        except (TypeError, ValueError):
            raise LosslabError(
                f"The 'params' parameter of model {self.name!r} must be {self.n_params} numbers. Got {params!r} instead."
            ) from None
        if array.ndim != 1 or array.shape[0] != self.n_params:
            raise LosslabError(
                f"The 'params' parameter of model {self.name!r} must have {self.n_params} entries "
                f"({self._names_hint()}). Got shape {tuple(array.shape)} instead."
            )
        if not jnp.issubdtype(array.dtype, jnp.floating):
            array = array.astype(jnp.float64)
        if not bool(jnp.all(jnp.isfinite(array))):
            raise LosslabError(f"The 'params' parameter of model {self.name!r} must be finite. Got {np.asarray(array)} instead.")
        return array

    def init(self, seed: int = 0) -> jnp.ndarray:
        """A starting point: the model's own initialiser, else N(0, 1) entries."""
        key = jax.random.PRNGKey(check_seed("seed", seed, owner=f"{self.name}.init"))
        if self.init_fn is not None:
            return self.init_fn(key)
        return jax.random.normal(key, (self.n_params,), dtype=jnp.float64)

    def _names_hint(self) -> str:
        if self.n_params <= 12:
            return ", ".join(self.param_names)
        return f"{self.param_names[0]}, ..., {self.param_names[-1]}"


def _linear_fn(params, x):
    phi0, phi1 = params[0], params[1]
    return phi0 + phi1 * x  # eq. 6.4


def linear() -> Model:
    """The 1D linear model of eq. 6.4: f[x, phi] = phi_0 + phi_1 x."""
    return Model("linear", _linear_fn, 2, ("phi_0", "phi_1"), equation="eq. 6.4: phi_0 + phi_1 x")


GABOR_FREQUENCY = 0.06
GABOR_WIDTH = 32.0


def _gabor_sine(z):
    # XLA's float64 sine on CPU is a scalar library call; the vectorised sincos is exact
    # to 1 ulp with an exact derivative. Beyond |z| = 1e6 the envelope exp(-z^2/32) is
    # exactly 0 in float64, so the clamped sine's value there never reaches the output.
    if z.dtype != jnp.float64:
        return jnp.sin(z)
    return sincos(jnp.where(jnp.abs(z) < SINCOS_MAX, z, 0.0))[0]


def _gabor_fn(params, x):
    z = params[0] + GABOR_FREQUENCY * params[1] * x
    return _gabor_sine(z) * jnp.exp(-(z**2) / GABOR_WIDTH)  # eq. 6.8


def gabor() -> Model:
    """The Gabor model of eq. 6.8: sin[phi_0 + 0.06 phi_1 x] exp(-(phi_0 + 0.06 phi_1 x)^2 / 32)."""
    return Model(
        "gabor",
        _gabor_fn,
        2,
        ("phi_0", "phi_1"),
        equation="eq. 6.8: sin[z] exp(-z^2/32), z = phi_0 + 0.06 phi_1 x",
    )


def logistic() -> Model:
    """Logistic regression (problem 6.4): Pr(y = 1 | x) = sig[phi_0 + phi_1 x]; returns the logit."""
    return Model(
        "logistic",
        _linear_fn,
        2,
        ("phi_0", "phi_1"),
        output="logit",
        equation="problem 6.4: sig[phi_0 + phi_1 x]",
    )


SHALLOW_PARAM_NAMES = (
    "phi_0", "phi_1", "phi_2", "phi_3",
    "theta_10", "theta_11", "theta_20", "theta_21", "theta_30", "theta_31",
)


def _shallow_fn(params, x):
    phi = params[:4]
    theta = params[4:].reshape(3, 2)  # rows k: (theta_k0, theta_k1)
    hidden = relu(theta[:, 0][None, :] + theta[:, 1][None, :] * x[:, None])  # (N, 3)
    return phi[0] + hidden @ phi[1:]  # eq. 3.1


def shallow() -> Model:
    """The shallow network of eq. 3.1 with three ReLU units and ten parameters, ordered
    (phi_0, phi_1, phi_2, phi_3, theta_10, theta_11, theta_20, theta_21, theta_30, theta_31)."""
    return Model(
        "shallow",
        _shallow_fn,
        10,
        SHALLOW_PARAM_NAMES,
        equation="eq. 3.1: phi_0 + sum_k phi_k a[theta_k0 + theta_k1 x]",
    )


def mlp(widths: Sequence[int]) -> Model:
    """A ReLU MLP with layer widths ``(d_in, h_1, ..., d_out=1)``; linear output.

    Parameters are flattened layer by layer as (W_1, b_1, W_2, b_2, ...), W_l of
    shape (h_{l-1}, h_l). Initialisation is He-normal with zero biases.
    """
    try:
        widths = tuple(int(w) for w in widths)
    except (TypeError, ValueError):
        raise LosslabError(f"The 'widths' parameter of mlp must be integers. Got {widths!r} instead.") from None
    if len(widths) < 2 or any(w < 1 for w in widths):
        raise LosslabError(
            f"The 'widths' parameter of mlp must be at least two positive integers, e.g. 1,64,1. Got {widths!r} instead."
        )
    if widths[-1] != 1:
        raise LosslabError(f"The last entry of 'widths' of mlp must be 1 (one output). Got {widths[-1]} instead.")
    shapes = []
    for d_in, d_out in zip(widths[:-1], widths[1:]):
        shapes.append((d_in, d_out))
        shapes.append((d_out,))
    sizes = [int(np.prod(s)) for s in shapes]
    offsets = np.concatenate([[0], np.cumsum(sizes)]).tolist()
    n_params = int(offsets[-1])
    d_in = widths[0]

    def unravel(params):
        return [params[offsets[k] : offsets[k + 1]].reshape(shapes[k]) for k in range(len(shapes))]

    def fn(params, x):
        _, pre = mlp_forward(unravel(params), mlp_inputs(x, d_in))
        return pre[-1][:, 0]

    def init_fn(key):
        pieces = []
        for k, shape in enumerate(shapes):
            if len(shape) == 2:
                key, sub = jax.random.split(key)
                pieces.append(jax.random.normal(sub, shape, dtype=jnp.float64).ravel() * np.sqrt(2.0 / shape[0]))
            else:
                pieces.append(jnp.zeros(shape, dtype=jnp.float64))
        return jnp.concatenate(pieces)

    names = tuple(f"w{i}" for i in range(n_params)) if n_params <= 12 else ("w0", f"w{n_params - 1}")
    model = Model(
        f"mlp[{','.join(map(str, widths))}]",
        fn,
        n_params,
        names,
        equation=f"ReLU MLP {widths}",
        init_fn=init_fn,
        meta={
            "widths": widths,
            "input_dim": d_in,  # inputs per data point: the objective refuses data of another width
            "unravel": unravel,
            # the objective differentiates least squares through hand-written backprop (faster on CPU)
            "fused": {"least_squares": mlp_least_squares_fused(unravel, len(shapes) // 2, d_in)},
        },
    )
    return model


def custom(fn: Callable, n_params: int, *, name: str = "custom", output: str = "real", vectorized: bool = False) -> Model:
    """Wrap a user's JAX function as a model.

    ``fn(params, x)`` takes a 1-D parameter vector and either one input
    (``vectorized=False``: it is ``vmap``-ed over the data) or the whole batch.
    """
    if not callable(fn):
        raise LosslabError(f"The 'fn' parameter of custom must be a callable f(params, x). Got {fn!r} instead.")
    n_params = check_int("n_params", n_params, owner="custom", ge=1)
    if output not in ("real", "logit"):
        raise LosslabError(f"The 'output' parameter of custom must be 'real' or 'logit'. Got {output!r} instead.")
    batched = fn if vectorized else jax.vmap(fn, in_axes=(None, 0))
    return Model(name, batched, n_params, tuple(f"p{i}" for i in range(n_params)), output=output, equation="user function")


_BUILTIN = {"linear": linear, "gabor": gabor, "logistic": logistic, "shallow": shallow}
MODEL_NAMES = (*_BUILTIN, "mlp")


def get_model(name: str, *, widths: Sequence[int] | None = None) -> Model:
    """A built-in model by name; ``mlp`` needs ``widths``."""
    if name in _BUILTIN:
        return _BUILTIN[name]()
    if name == "mlp":
        if widths is None:
            raise LosslabError("The 'widths' parameter is required for model 'mlp', e.g. widths=(1, 64, 1). Got None instead.")
        return mlp(widths)
    known = ", ".join(repr(n) for n in MODEL_NAMES)
    raise LosslabError(f"The 'model' parameter must be one of {known}. Got {name!r} instead.")
