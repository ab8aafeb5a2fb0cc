"""Models as pure JAX functions ``f(params, x)`` of a flat parameter vector.

Every model maps a 1-D parameter vector and a batch of inputs ``x`` (shape
``(N,)``, or ``(N, d)`` for an MLP with d inputs) to ``N`` outputs. Models whose
``output`` is ``"logit"`` return the pre-sigmoid value; the loss applies the
sigmoid (stably). A flat vector keeps every layer above simple: Hessians,
optimisers and ``vmap`` over many starts all see one array.

What a model can do besides being evaluated is data on the model
(:class:`Capabilities`): hand-derived gradients and Hessians, a fused
loss-and-gradient, a column kernel for many runs, a landscape grid kernel. The
built-in constructors fill them in; :func:`custom` declares none, so a user's
model always gets autodiff, whatever its name. The layers above read these
fields and never recognise a model by its name, identity or constants.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

import jax
import jax.numpy as jnp
import numpy as np

from . import derivatives as _d
from . import gabor as _gabor
from .backprop import mlp_forward, mlp_inputs, mlp_least_squares_fused
from .errors import LosslabError, check_int, check_seed

__all__ = [
    "Model",
    "Capabilities",
    "MODEL_NAMES",
    "SIZED_MODELS",
    "linear",
    "gabor",
    "logistic",
    "shallow",
    "mlp",
    "custom",
    "get_model",
    "relu",
    "stored_recipe",
]


def relu(z):
    """ReLU a[z] = max(0, z). Its derivative is taken as I[z > 0]: 0 at z = 0, as in JAX."""
    return jax.nn.relu(z)


def _frozen(mapping: Mapping | None) -> Mapping:
    return MappingProxyType(dict(mapping or {}))


@dataclass(frozen=True)
class Capabilities:
    """What a model can do beyond ``fn``, each keyed by loss name ("least_squares", "bce").

    * ``example_grads[loss](params, x, y)``: dl_i/dphi by a hand-derived formula, (I, P);
    * ``hessian[loss](params, x, y)``: the closed-form Hessian of the summed loss, (P, P);
    * ``fused[loss](params, x, y)``: ``(L, dL/dphi, dL/dx, dL/dy)`` of the summed loss in one
      pass (float64): the objective differentiates through it (exact, and fast);
    * ``columns[loss](params, x, y)``: ``(L, dL/dphi)`` for parameter vectors stored as the
      columns of ``params`` (P, S) (float64): many runs at once step with it;
    * ``grid[loss](phi0, phi1, x, y, rows=None)``: the summed loss on a two-parameter grid,
      ``(G1, G0)``, or None where the kernel does not apply (float64).

    An empty field means autodiff (or the direct grid).
    """

    example_grads: Mapping[str, Callable] = field(default_factory=dict)
    hessian: Mapping[str, Callable] = field(default_factory=dict)
    fused: Mapping[str, Callable] = field(default_factory=dict)
    columns: Mapping[str, Callable] = field(default_factory=dict)
    grid: Mapping[str, Callable] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("example_grads", "hessian", "fused", "columns", "grid"):
            object.__setattr__(self, name, _frozen(getattr(self, name)))

    def __repr__(self) -> str:
        held = [f"{name}[{', '.join(sorted(m))}]" for name in ("example_grads", "hessian", "fused", "columns", "grid")
                if (m := getattr(self, name))]
        return f"Capabilities({', '.join(held) or 'autodiff only'})"


@dataclass(frozen=True, eq=False)
class Model:
    """A named model: ``fn(params, x) -> outputs`` with ``n_params`` parameters.

    ``capabilities`` are the model's hand-derived kernels (:class:`Capabilities`);
    ``default_data`` the data set used when none is given; ``scalar_input`` says that
    ``x`` must be 1-D; ``meta`` holds structure (an MLP's ``widths`` and ``unravel``).
    """

    name: str
    fn: Callable = field(repr=False)
    n_params: int
    param_names: tuple[str, ...]
    output: str = "real"  # "real" (least squares) or "logit" (binary cross-entropy)
    equation: str = ""
    init_fn: Callable | None = field(default=None, repr=False)
    latex: str = field(default="", repr=False)  # f[x, phi] as the book writes it, for the HTML and notebook views
    meta: dict = field(default_factory=dict, compare=False, repr=False)
    capabilities: Capabilities = field(default_factory=Capabilities, repr=False)
    default_data: str | None = field(default=None, repr=False)
    scalar_input: bool = field(default=False, repr=False)
    # the built-in constructor call that makes this model from losslab's source, ("mlp", widths); None for
    # a user's model. Programs traced for the model are kept between runs under it (see stored_recipe)
    recipe: tuple | None = field(default=None, compare=False, repr=False)

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
        if not np.isfinite(np.asarray(array)).all():  # on the host: no compiled program per shape
            raise LosslabError(f"The 'params' parameter of model {self.name!r} must be finite. Got {np.asarray(array)} instead.")
        return array

    def init(self, seed: int = 0) -> jnp.ndarray:
        """A starting point: the model's own initialiser ``init_fn(seed)``, else N(0, 1) entries."""
        seed = check_seed("seed", seed, owner=f"{self.name}.init")
        if self.init_fn is not None:
            return jnp.asarray(self.init_fn(seed), dtype=jnp.float64)
        return jax.random.normal(jax.random.PRNGKey(seed), (self.n_params,), dtype=jnp.float64)

    def _names_hint(self) -> str:
        if self.n_params <= 12:
            return ", ".join(self.param_names)
        return f"{self.param_names[0]}, ..., {self.param_names[-1]}"


def _linear_fn(params, x):
    phi0, phi1 = params[0], params[1]
    return phi0 + phi1 * x  # eq. 6.4


def linear() -> Model:
    """The 1D linear model of eq. 6.4: f[x, phi] = phi_0 + phi_1 x."""
    return Model(
        "linear",
        _linear_fn,
        2,
        ("phi_0", "phi_1"),
        equation="eq. 6.4: phi_0 + phi_1 x",
        latex=r"f[x, \boldsymbol\phi] = \phi_0 + \phi_1 x",
        capabilities=Capabilities(
            example_grads={"least_squares": _d.linear_example_grads},
            hessian={"least_squares": _d.linear_hessian},
        ),
        default_data="book:linear",
        scalar_input=True,
        recipe=("linear",),
    )


def gabor() -> Model:
    """The Gabor model of eq. 6.8: sin[phi_0 + 0.06 phi_1 x] exp(-(phi_0 + 0.06 phi_1 x)^2 / 32)."""
    return Model(
        "gabor",
        _gabor.gabor_fn,
        2,
        ("phi_0", "phi_1"),
        equation="eq. 6.8: sin[z] exp(-z^2/32), z = phi_0 + 0.06 phi_1 x",
        latex=r"f[x, \boldsymbol\phi] = \sin[\phi_0 + 0.06 \phi_1 x] \exp\left[-\frac{(\phi_0 + 0.06 \phi_1 x)^2}{32}\right]",
        capabilities=Capabilities(
            example_grads={"least_squares": _gabor.example_grads},
            fused={"least_squares": _gabor.objective_fused},
            columns={"least_squares": _gabor.least_squares_columns},
            grid={"least_squares": _gabor.separable_grid},
        ),
        default_data="book:gabor",
        scalar_input=True,
        recipe=("gabor",),
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
        latex=r"f[x, \boldsymbol\phi] = \phi_0 + \phi_1 x, \quad Pr(y = 1 \mid x) = \text{sig}\left[f[x, \boldsymbol\phi]\right]",
        capabilities=Capabilities(
            example_grads={"bce": _d.logistic_example_grads},
            hessian={"bce": _d.logistic_hessian},
        ),
        default_data="logistic",
        scalar_input=True,
        recipe=("logistic",),
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
        latex=r"f[x, \boldsymbol\phi] = \phi_0 + \sum_{k=1}^{3} \phi_k\, \mathrm{a}[\theta_{k0} + \theta_{k1} x]",
        capabilities=Capabilities(example_grads={"least_squares": _d.shallow_example_grads}),
        default_data="book:shallow",
        scalar_input=True,
        recipe=("shallow",),
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

    def init_fn(seed: int) -> np.ndarray:
        # He initialisation (weights N(0, 2 / fan_in), biases 0), drawn by NumPy: a million
        # parameters in 20 ms, where jax.random would first compile a program per widths (~1 s)
        rng = np.random.default_rng(seed)
        return np.concatenate([rng.standard_normal(shape).ravel() * np.sqrt(2.0 / shape[0]) if len(shape) == 2 else np.zeros(shape)
                               for shape in shapes])

    names = tuple(f"w{i}" for i in range(n_params)) if n_params <= 12 else ("w0", f"w{n_params - 1}")
    model = Model(
        f"mlp[{','.join(map(str, widths))}]",
        fn,
        n_params,
        names,
        equation=f"ReLU MLP {widths}",
        init_fn=init_fn,
        # input_dim: inputs per data point, so the objective refuses data of another width
        meta={"widths": widths, "unravel": unravel, "input_dim": d_in},
        # the objective differentiates least squares through hand-written backprop (faster on CPU)
        capabilities=Capabilities(fused={"least_squares": mlp_least_squares_fused(unravel, len(shapes) // 2, d_in)}),
        recipe=("mlp", widths),
    )
    return model


def custom(fn: Callable, n_params: int, *, name: str = "custom", output: str = "real", vectorized: bool = False) -> Model:
    """Wrap a user's JAX function as a model.

    ``fn(params, x)`` takes a 1-D parameter vector and either one input
    (``vectorized=False``: it is ``vmap``-ed over the data) or the whole batch.
    It declares no capabilities: every derivative is autodiff of ``fn``, even when
    ``name`` is the name of a built-in model.
    """
    if not callable(fn):
        raise LosslabError(f"The 'fn' parameter of custom must be a callable f(params, x). Got {fn!r} instead.")
    n_params = check_int("n_params", n_params, owner="custom", ge=1)
    if output not in ("real", "logit"):
        raise LosslabError(f"The 'output' parameter of custom must be 'real' or 'logit'. Got {output!r} instead.")
    batched = fn if vectorized else jax.vmap(fn, in_axes=(None, 0))
    return Model(name, batched, n_params, tuple(f"p{i}" for i in range(n_params)), output=output, equation="user function")


def stored_recipe(model: Model) -> tuple | None:
    """``model.recipe`` if the model is what that constructor call builds, else None.

    A recipe keys programs kept between runs (:mod:`losslab.program_store`), so it is trusted only after
    a check: the constructor is called again and every function of the model (``fn`` and each capability)
    must run the same code as the rebuilt one's. A model altered after it was built (say
    ``dataclasses.replace(gabor(), fn=my_fn)``) has no recipe: its programs are traced every run.
    """
    recipe = model.recipe
    if not isinstance(recipe, tuple) or not recipe or recipe[0] not in MODEL_NAMES:
        return None
    try:
        rebuilt = get_model(recipe[0], widths=recipe[1] if len(recipe) > 1 else None)
    except LosslabError:
        return None
    if rebuilt.recipe != recipe or (rebuilt.n_params, rebuilt.output) != (model.n_params, model.output):
        return None
    pairs = [(model.fn, rebuilt.fn)]
    for kind in ("example_grads", "hessian", "fused", "columns", "grid"):
        mine, theirs = getattr(model.capabilities, kind), getattr(rebuilt.capabilities, kind)
        if set(mine) != set(theirs):
            return None
        pairs.extend((mine[k], theirs[k]) for k in mine)
    return recipe if all(_same_code(a, b) for a, b in pairs) else None


def _same_code(a, b) -> bool:
    """Whether two functions run the same code (closures aside: the recipe fixes what they close over)."""
    import inspect

    code_a, code_b = (getattr(inspect.unwrap(f), "__code__", None) for f in (a, b))
    return a is b or (code_a is not None and code_a is code_b)


_BUILTIN = {"linear": linear, "gabor": gabor, "logistic": logistic, "shallow": shallow}
_SIZED = {"mlp": mlp}  # constructors that take the layer widths
MODEL_NAMES = (*_BUILTIN, *_SIZED)
SIZED_MODELS = tuple(_SIZED)  # the names that need ``widths`` (the CLI's --widths applies to these only)


def get_model(name: str, *, widths: Sequence[int] | None = None) -> Model:
    """A built-in model by name; ``mlp`` needs ``widths``."""
    if name in _BUILTIN:
        return _BUILTIN[name]()
    if name in _SIZED:
        if widths is None:
            raise LosslabError(f"The 'widths' parameter is required for model {name!r}, e.g. widths=(1, 64, 1). Got None instead.")
        return _SIZED[name](widths)
    known = ", ".join(repr(n) for n in MODEL_NAMES)
    raise LosslabError(f"The 'model' parameter must be one of {known}. Got {name!r} instead.")


from .precision import float64_api  # noqa: E402  (last: wraps what this module defines)

float64_api(globals())  # every public function and method computes in float64 (losslab.precision)

# The package's public `losslab.gabor` is the constructor above (`from losslab import gabor`), as it was when the
# package imported everything eagerly; importing the submodule losslab.gabor (at the top) made it the module
sys.modules[__package__].gabor = gabor
