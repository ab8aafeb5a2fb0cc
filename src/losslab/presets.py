"""The experiments of notebooks 6.1-6.5 as named presets, and the notebooks' plain functions.

>>> from losslab.presets import run_preset
>>> run_preset("6.4-momentum")                    # doctest: +ELLIPSIS
RunResult(momentum(learning_rate=0.6, beta=0.6), steps=81, ...)

Notebooks 6.1 and 6.5 minimise plain functions of the parameters, not a model
on data; :class:`FunctionObjective` gives such a function the same pure
interface as :class:`losslab.objective.Objective` (``loss_on(params, x, y)``
ignores the data), so runs, line searches and landscapes treat both alike.
Settings come from the reference file (chapter6.md, "Notebook experiments");
where the notebooks leave a choice open (the SGD seed) we use seed 1.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace

import jax
import jax.numpy as jnp
import numpy as np

from .errors import LosslabError, check_choice
from .models import Capabilities

__all__ = [
    "FunctionObjective",
    "notebook_6_1_function",
    "notebook_6_5_function",
    "Preset",
    "PRESETS",
    "PRESET_NAMES",
    "get_preset",
    "run_preset",
    "preset_objective",
    "NOTEBOOK_FUNCTIONS",
]


class FunctionObjective:
    """An objective that is a plain function L(phi) of a flat parameter vector (no data).

    Same pure interface as :class:`~losslab.objective.Objective`: ``loss_on(params, x, y)``
    and ``example_losses`` ignore (x, y); one dummy "example" makes minibatch code
    paths valid (only full batch makes sense).
    """

    reduction = "sum"
    loss = "function"
    dtype = "float64"

    def __init__(self, fn, n_params: int, *, name: str, formula: str = "", param_names=None) -> None:
        self.fn = fn
        self.name = name
        self.formula = formula
        names = tuple(param_names) if param_names else tuple(f"phi_{i}" for i in range(n_params))
        # a plain function declares no capabilities: every derivative is autodiff
        self.model = SimpleNamespace(name=name, n_params=n_params, param_names=names, output="real",
                                     capabilities=Capabilities(), meta={})
        self.data = SimpleNamespace(name="none", x=np.zeros(1), y=np.zeros(1))
        self.x = jnp.zeros(1)
        self.y = jnp.zeros(1)
        self._value = jax.jit(fn)
        self._value_and_grad = jax.jit(jax.value_and_grad(fn))
        self._hessian = jax.jit(jax.hessian(fn))

    @property
    def n_params(self) -> int:
        return self.model.n_params

    @property
    def n_examples(self) -> int:
        return 1

    def example_losses(self, params, x, y):
        return jnp.reshape(self.fn(params), (1,)) * jnp.ones_like(x[:1])

    def loss_on(self, params, x, y):
        return self.fn(params)

    def check_params(self, params) -> jnp.ndarray:
        array = jnp.asarray(params, dtype=jnp.float64)
        if array.ndim != 1 or array.shape[0] != self.n_params:
            raise LosslabError(f"The 'params' parameter of {self.name} must have {self.n_params} entries. Got shape {tuple(array.shape)} instead.")
        return array

    def value(self, params):
        return self._value(self.check_params(params))

    __call__ = value

    def value_and_grad(self, params):
        return self._value_and_grad(self.check_params(params))

    def grad(self, params):
        return self.value_and_grad(params)[1]

    def hessian(self, params):
        return self._hessian(self.check_params(params))

    def hvp(self, params, vector):
        p = self.check_params(params)
        return jax.jvp(jax.grad(self.fn), (p,), (jnp.asarray(vector, jnp.float64),))[1]

    def __repr__(self) -> str:
        return f"FunctionObjective({self.name!r}, {self.formula})"


def _loss_6_1(params):
    phi = params[0]
    return 1.0 - 0.5 * jnp.exp(-((phi - 0.65) ** 2) / 0.1) - 0.45 * jnp.exp(-((phi - 0.35) ** 2) / 0.02)


def _loss_6_5(params):
    phi0, phi1 = params[0], params[1]
    return 1.0 - jnp.exp(-0.5 * 4.0 * phi1**2) * jnp.exp(-0.5 * (phi0 - 0.7) ** 2 / 4.0)


def notebook_6_1_function() -> FunctionObjective:
    """Notebook 6.1's one-dimensional function on [0, 1] (two dips, at 0.35 and 0.65)."""
    return FunctionObjective(
        _loss_6_1, 1, name="notebook 6.1 function",
        formula="L(phi) = 1 - 0.5 exp(-(phi-0.65)^2/0.1) - 0.45 exp(-(phi-0.35)^2/0.02)", param_names=("phi",),
    )


def notebook_6_5_function() -> FunctionObjective:
    """Notebook 6.5's function: a valley far steeper in phi_1 than in phi_0 (minimum 0 at (0.7, 0))."""
    return FunctionObjective(
        _loss_6_5, 2, name="notebook 6.5 function",
        formula="L(phi) = 1 - exp(-0.5 * 4 phi_1^2) exp(-0.5 (phi_0 - 0.7)^2 / 4)", param_names=("phi_0", "phi_1"),
    )


@dataclass(frozen=True)
class Preset:
    """One notebook experiment: what to minimise, how, from where, and the plot's ranges."""

    name: str
    notebook: str
    title: str
    objective: str  # "linear", "gabor", or a notebook function "fn:6.1", "fn:6.5"
    optimizer: str | None
    init: tuple
    steps: int = 0
    batch_size: int | None = None
    seed: int = 1
    hparams: dict = field(default_factory=dict)
    line_search: str | None = None
    line_search_options: dict = field(default_factory=dict)
    range0: tuple = (0.0, 1.0)
    range1: tuple | None = None

    def __repr__(self) -> str:
        return f"Preset({self.name!r}: {self.title})"


_GABOR_RANGES = {"range0": (-10.0, 10.0), "range1": (2.5, 22.5)}
_FIVE_RANGES = {"range0": (-1.0, 2.0), "range1": (-1.0, 1.0)}

_LIST = [
    Preset("6.1-line-search", "6.1", "four-point line search on the 6.1 function", "fn:6.1", None, (0.0,),
           line_search="four_point", line_search_options={"max_dist": 1.0, "thresh": 1e-4, "max_iter": 10}),
    Preset("6.2-line-search", "6.2", "GD + line search, linear data", "linear", "gd", (1.6, -0.5), steps=10,
           line_search="four_point", line_search_options={"max_dist": 0.1, "thresh": 1e-5, "max_iter": 15},
           range0=(0.0, 2.0), range1=(-1.0, 1.0)),
    Preset("6.3-line-search", "6.3", "GD + line search, Gabor", "gabor", "gd", (-1.5, 8.5), steps=21,
           line_search="four_point", line_search_options={"max_dist": 2.0, "thresh": 1e-5, "max_iter": 15}, **_GABOR_RANGES),
    Preset("6.3-gd", "6.3", "GD, fixed rate 0.2, Gabor", "gabor", "gd", (-1.5, 8.5), steps=21,
           hparams={"learning_rate": 0.2}, **_GABOR_RANGES),
    Preset("6.3-sgd", "6.3", "SGD, rate 0.8, batch 5, Gabor", "gabor", "sgd", (3.5, 6.5), steps=41, batch_size=5,
           hparams={"learning_rate": 0.8}, **_GABOR_RANGES),
    Preset("6.4-sgd", "6.4", "SGD, rate 0.6, batch 5, Gabor", "gabor", "sgd", (-1.5, 6.5), steps=81, batch_size=5,
           hparams={"learning_rate": 0.6}, **_GABOR_RANGES),
    Preset("6.4-momentum", "6.4", "momentum (6.11), beta 0.6", "gabor", "momentum", (-1.5, 6.5), steps=81, batch_size=5,
           hparams={"learning_rate": 0.6, "beta": 0.6}, **_GABOR_RANGES),
    Preset("6.4-nesterov", "6.4", "Nesterov (6.12), beta 0.6", "gabor", "nesterov", (-1.5, 6.5), steps=81, batch_size=5,
           hparams={"learning_rate": 0.6, "beta": 0.6}, **_GABOR_RANGES),
    Preset("6.5-gd", "6.5", "GD, rate 0.08, 200 steps", "fn:6.5", "gd", (-0.7, -0.9), steps=200,
           hparams={"learning_rate": 0.08}, **_FIVE_RANGES),
    Preset("6.5-gd-large", "6.5", "GD, rate 1.0, 40 steps (oscillates in phi_1)", "fn:6.5", "gd", (-0.7, -0.9), steps=40,
           hparams={"learning_rate": 1.0}, **_FIVE_RANGES),
    Preset("6.5-normalized", "6.5", "normalised gradients, rate 0.08, 40 steps", "fn:6.5", "normalized", (-0.7, -0.9), steps=40,
           hparams={"learning_rate": 0.08}, **_FIVE_RANGES),
    Preset("6.5-adam", "6.5", "Adam, rate 0.05, beta 0.9, gamma 0.99, 60 steps", "fn:6.5", "adam", (-0.7, -0.9), steps=60,
           hparams={"learning_rate": 0.05, "beta": 0.9, "gamma": 0.99}, **_FIVE_RANGES),
]

PRESETS: dict[str, Preset] = {p.name: p for p in _LIST}
PRESET_NAMES: tuple[str, ...] = tuple(PRESETS)

_OBJECTIVES: dict = {}
# The notebooks' plain loss functions, by the one name the CLI, the presets and the web catalog use.
NOTEBOOK_FUNCTIONS = {"fn:6.1": notebook_6_1_function, "fn:6.5": notebook_6_5_function}


def preset_objective(kind: str):
    """The (cached) objective a preset minimises: "linear", "gabor", or a notebook function ("fn:6.1", "fn:6.5")."""
    check_choice("objective", kind, ("linear", "gabor", *NOTEBOOK_FUNCTIONS), owner="preset_objective")
    if kind not in _OBJECTIVES:
        if kind in NOTEBOOK_FUNCTIONS:
            _OBJECTIVES[kind] = NOTEBOOK_FUNCTIONS[kind]()
        else:
            from .objective import make_objective

            _OBJECTIVES[kind] = make_objective(kind, f"book:{kind}")
    return _OBJECTIVES[kind]


def get_preset(name: str) -> Preset:
    check_choice("preset", name, PRESET_NAMES)
    return PRESETS[name]


def run_preset(name: str, **overrides):
    """Run a preset: a :class:`~losslab.run.RunResult`, or for 6.1 a ``LineSearchResult``."""
    preset = get_preset(name)
    objective = preset_objective(preset.objective)
    if preset.optimizer is None:
        from .optim.line_search import four_point_search

        return four_point_search(lambda s: objective.value(jnp.array([s])), **preset.line_search_options)
    from .run import run

    settings = dict(steps=preset.steps, batch_size=preset.batch_size, seed=preset.seed, **preset.hparams)
    if preset.line_search:
        settings.update(line_search=preset.line_search, line_search_options=dict(preset.line_search_options))
    settings.update(overrides)
    return run(objective, preset.optimizer, list(preset.init), **settings)


from .precision import float64_api  # noqa: E402  (last: wraps what this module defines)

float64_api(globals())  # every public function and method computes in float64 (losslab.precision)
