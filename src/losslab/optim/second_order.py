"""Second-order methods for small problems: Newton's method and linear conjugate gradients.

Both take an objective with ``grad``, ``hessian`` / ``hvp`` (an
:class:`~losslab.objective.Objective`) and return the whole path ``(steps + 1, P)``.
They are plain NumPy loops around the objective's compiled derivatives, not optax
transformations: Newton solves with the dense Hessian, and conjugate gradients take the
exact step of a quadratic along each H-conjugate direction. Problem 6.7 compares them
with gradient descent and exact line searches.
"""

from __future__ import annotations

import numpy as np

from ..errors import LosslabError, check_int

__all__ = ["newton_path", "conjugate_gradient_path"]


def _start(objective, start, owner: str) -> np.ndarray:
    p = np.asarray(objective.check_params(start), dtype=np.float64)
    if p.ndim != 1:
        raise LosslabError(f"The 'start' parameter of {owner} must be a 1-D parameter vector. Got shape {p.shape} instead.")
    return p


def newton_path(objective, start, steps: int) -> np.ndarray:
    """Newton's method phi <- phi - H^{-1} g with the dense Hessian (small models only)."""
    steps = check_int("steps", steps, owner="newton_path", ge=0)
    path = [_start(objective, start, "newton_path")]
    for _ in range(steps):
        p = path[-1]
        path.append(p - np.linalg.solve(np.asarray(objective.hessian(p)), np.asarray(objective.grad(p))))
    return np.array(path)


def conjugate_gradient_path(objective, start, steps: int, *, gtol: float = 1e-14) -> np.ndarray:
    """Linear conjugate gradients (Fletcher-Reeves): the exact minimiser of a quadratic along each
    H-conjugate direction, H d from Hessian-vector products. On a quadratic of P parameters it
    reaches the minimum in at most P steps; once ``|g| < gtol`` the path stays put."""
    steps = check_int("steps", steps, owner="conjugate_gradient_path", ge=0)
    p = _start(objective, start, "conjugate_gradient_path")
    g = np.asarray(objective.grad(p))
    d = -g
    path = [p]
    for _ in range(steps):
        if np.linalg.norm(g) < gtol:
            path.append(p)
            continue
        hd = np.asarray(objective.hvp(p, d))
        alpha = -(g @ d) / (d @ hd)  # exact minimiser along d of a quadratic
        p = p + alpha * d
        g_new = np.asarray(objective.grad(p))
        d = -g_new + (g_new @ g_new) / (g @ g) * d
        g = g_new
        path.append(p)
    return np.array(path)
