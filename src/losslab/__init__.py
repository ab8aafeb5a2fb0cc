"""losslab: Chapter 6 of Prince's *Understanding Deep Learning*, exactly and fast.

Float64 where losslab computes, and nowhere else: importing losslab leaves JAX's
``jax_enable_x64`` switch as it was. Every public function and method of the computing
modules runs under ``jax.enable_x64(True)``, JAX's thread-local scope for the switch
(:mod:`losslab.precision`), so its results are float64 while a user's own JAX code keeps
float32 unless the user asks for 64 bits. Called inside a user's own ``jit``/``grad``,
losslab follows the user's precision. The ``losslab`` command and server turn float64 on
for their whole process. README, "Float64 and your other JAX code", says what follows.
"""

import importlib

# The public names are imported on first use (PEP 562): ``import losslab`` alone imports no JAX, so the
# command line starts its worker processes before its own (slow) imports
_EXPORTS = {
    "Dataset": "data", "load_dataset": "data", "logistic_data": "data", "sample_from_model": "data",
    "LosslabError": "errors",
    "Model": "models", "custom": "models", "gabor": "models", "get_model": "models", "linear": "models",
    "logistic": "models", "mlp": "models", "shallow": "models",
    "Objective": "objective", "make_objective": "objective",
}


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'losslab' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))


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
