"""What the page offers: the objectives (with the notebooks' ranges and starts) and the optimisers.

Each entry names engine objects only; nothing here computes a loss.
Ranges, starts and settings are those of the companion notebooks
(shared/reference/chapter6.md, "Notebook experiments").
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["ObjectiveEntry", "OBJECTIVES", "OBJECTIVE_ALIASES", "OPTIMIZERS", "DEFAULT_OBJECTIVE"]


def _opt(name: str, lr: float, steps: int, *, beta: float = 0.9, gamma: float = 0.99, batch_size: int | None = None,
         seed: int = 0, line_search: bool = False, max_dist: float = 0.1) -> dict:
    return {"name": name, "lr": lr, "beta": beta, "gamma": gamma, "batch_size": batch_size, "steps": steps,
            "seed": seed, "line_search": line_search, "max_dist": max_dist}


@dataclass(frozen=True)
class ObjectiveEntry:
    key: str  # the engine's name: a model ("gabor") or a notebook function ("fn:6.5", see losslab.presets)
    label: str
    kind: str  # "model" (a model fitted to data) or "function" (a notebook's closed-form loss)
    dims: int
    range0: tuple[float, float]
    range1: tuple[float, float] | None
    start: tuple[float, ...]
    optimizers: tuple[dict, ...]
    param_names: tuple[str, ...] = ("phi_0", "phi_1")
    data_name: str | None = None
    description: str = ""
    formula: str = ""  # the loss in LaTeX, as the book writes it (rendered by losslab.mathml)
    resolution: int = 120
    log_color: bool = False
    extra: dict = field(default_factory=dict)


OBJECTIVES: dict[str, ObjectiveEntry] = {
    e.key: e
    for e in (
        ObjectiveEntry(
            "linear", "linear model, book data (notebook 6.2)", "model", 2, (0.0, 2.0), (-1.0, 1.0), (1.6, -0.5),
            (_opt("gd", 0.1, 10, line_search=True, max_dist=0.1), _opt("gd", 0.01, 100), _opt("momentum", 0.02, 100, beta=0.6)),
            data_name="book:linear", description="eq. 6.4 + least squares (eq. 6.5), 12 points",
            formula=r"L[\boldsymbol\phi] = \sum_{i=1}^{I} \left(\phi_0 + \phi_1 x_i - y_i\right)^2",
            log_color=True,
        ),
        ObjectiveEntry(
            "gabor", "Gabor model, book data (notebooks 6.3/6.4)", "model", 2, (-10.0, 10.0), (2.5, 22.5), (-1.5, 6.5),
            (_opt("sgd", 0.6, 81, batch_size=5), _opt("momentum", 0.6, 81, beta=0.6, batch_size=5),
             _opt("nesterov", 0.6, 81, beta=0.6, batch_size=5)),
            data_name="book:gabor", description="eq. 6.8 + least squares, 30 points",
            formula=r"L[\boldsymbol\phi] = \sum_{i=1}^{I} \left(\sin[\phi_0 + 0.06 \phi_1 x_i] \exp\left[-\frac{(\phi_0 + 0.06 \phi_1 x_i)^2}{32}\right] - y_i\right)^2",
        ),
        ObjectiveEntry(
            "logistic", "logistic regression, seeded data (problem 6.4)", "model", 2, (-4.0, 4.0), (-4.0, 6.0), (-3.0, -3.0),
            (_opt("gd", 0.05, 100), _opt("adam", 0.1, 100)),
            data_name="logistic:0", description="sig[phi_0 + phi_1 x] + binary cross-entropy, 20 points",
            formula=r"L[\boldsymbol\phi] = -\sum_{i=1}^{I} \left(y_i \log \text{sig}[\phi_0 + \phi_1 x_i] + (1 - y_i) \log\left(1 - \text{sig}[\phi_0 + \phi_1 x_i]\right)\right)",
            log_color=True,
        ),
        ObjectiveEntry(
            "fn:6.5", "notebook 6.5 function", "function", 2, (-1.5, 1.5), (-1.0, 1.0), (-0.7, -0.9),
            (_opt("gd", 0.08, 200), _opt("normalized", 0.08, 40), _opt("adam", 0.05, 60, beta=0.9, gamma=0.99)),
            description="L = 1 - exp(-2 phi_1^2) exp(-(phi_0 - 0.7)^2 / 8)",
            formula=r"L[\boldsymbol\phi] = 1 - \exp\left[-2\phi_1^2\right] \exp\left[-\frac{(\phi_0 - 0.7)^2}{8}\right]",
        ),
        ObjectiveEntry(
            "fn:6.1", "notebook 6.1 one-dimensional function", "function", 1, (0.0, 1.0), None, (0.05,),
            (_opt("gd", 0.01, 50), _opt("gd", 0.1, 10, line_search=True, max_dist=1.0)),
            param_names=("phi",), resolution=400,
            description="L = 1 - 0.5 exp(-(phi-0.65)^2/0.1) - 0.45 exp(-(phi-0.35)^2/0.02)",
            formula=r"L[\phi] = 1 - 0.5 \exp\left[-\frac{(\phi - 0.65)^2}{0.1}\right] - 0.45 \exp\left[-\frac{(\phi - 0.35)^2}{0.02}\right]",
        ),
    )
}

DEFAULT_OBJECTIVE = "gabor"

# The names the web API and the page's shared links gave the notebook functions before they took the engine's
# (docs/web.md): still accepted, and read as the one name.
OBJECTIVE_ALIASES: dict[str, str] = {"nb6_5": "fn:6.5", "nb6_1": "fn:6.1"}

# name -> (label, hyperparameters the page shows, whether the line search applies)
OPTIMIZERS: dict[str, tuple[str, tuple[str, ...], bool]] = {
    "gd": ("gradient descent (6.3)", ("lr", "steps"), True),
    "sgd": ("SGD (6.10)", ("lr", "batch_size", "steps", "seed"), False),
    "momentum": ("momentum (6.11)", ("lr", "beta", "batch_size", "steps", "seed"), False),
    "nesterov": ("Nesterov (6.12)", ("lr", "beta", "batch_size", "steps", "seed"), False),
    "normalized": ("normalised gradients (6.13-6.14)", ("lr", "batch_size", "steps", "seed"), False),
    "adam": ("Adam (6.15-6.18)", ("lr", "beta", "gamma", "batch_size", "steps", "seed"), False),
}
