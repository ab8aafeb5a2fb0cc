"""losslab: Chapter 6 of Prince's *Understanding Deep Learning*, exactly and fast.

Float64 where losslab computes, and nowhere else: importing losslab leaves JAX's
``jax_enable_x64`` switch as it was. Every public function and method of the computing
modules runs under ``jax.enable_x64(True)``, JAX's thread-local scope for the switch
(:mod:`losslab.precision`), so its results are float64 while a user's own JAX code keeps
float32 unless the user asks for 64 bits. Called inside a user's own ``jit``/``grad``,
losslab follows the user's precision. The ``losslab`` command and server turn float64 on
for their whole process. README, "Float64 and your other JAX code", says what follows.
"""

from .data import Dataset, load_dataset, logistic_data, sample_from_model
from .errors import LosslabError
from .models import Model, custom, gabor, get_model, linear, logistic, mlp, shallow
from .objective import Objective, make_objective

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
