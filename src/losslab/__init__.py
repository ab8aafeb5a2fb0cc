"""losslab: Chapter 6 of Prince's *Understanding Deep Learning*, exactly and fast.

Float64 everywhere by default: importing losslab turns on ``jax_enable_x64`` for the
whole process (every compiled function, a user's ``custom`` model included, traces in
float64, and returned arrays stay float64 in the user's own JAX code). Code that wants
float32 asks for it (``dtype=jnp.float32``; ``Objective(..., dtype="float32")``). Why the
switch is process-wide and not scoped: README, "Float64 and your other JAX code".
"""

import jax as _jax

_jax.config.update("jax_enable_x64", True)

from .data import Dataset, load_dataset, logistic_data, sample_from_model  # noqa: E402
from .errors import LosslabError  # noqa: E402
from .models import Model, custom, gabor, get_model, linear, logistic, mlp, shallow  # noqa: E402
from .objective import Objective, make_objective  # noqa: E402

__version__ = "0.1.0"

__all__ = [
    "Dataset",
    "LosslabError",
    "Model",
    "Objective",
    "custom",
    "gabor",
    "get_model",
    "linear",
    "load_dataset",
    "logistic",
    "logistic_data",
    "make_objective",
    "mlp",
    "sample_from_model",
    "shallow",
]
