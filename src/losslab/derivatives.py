"""The chapter's hand-derived derivatives, written as the book writes them.

Each ``*_example_grads`` returns the per-example gradients dl_i/dphi as an
``(I, P)`` array; the gradient of the book's loss is their sum (eq. 6.6).
Hessians are of the summed loss. :class:`~losslab.objective.Objective` scales
both by 1/I for ``reduction="mean"``. Tests check every formula against
autodiff and central finite differences. Problem 6.3's Gabor gradient lives with the
rest of the Gabor model in :mod:`losslab.gabor` (re-exported here). Each built-in model
declares which of these formulas it has (:class:`losslab.models.Capabilities`).
"""

from __future__ import annotations

import jax.numpy as jnp

from .gabor import example_grads as gabor_example_grads

__all__ = [
    "linear_example_grads",
    "linear_hessian",
    "gabor_example_grads",
    "logistic_example_grads",
    "logistic_hessian",
    "shallow_output_grads",
    "shallow_example_grads",
]


def linear_example_grads(params, x, y):
    """Eq. 6.7: dl_i/dphi = [2(phi_0 + phi_1 x_i - y_i), 2 x_i (phi_0 + phi_1 x_i - y_i)]."""
    residual = params[0] + params[1] * x - y
    return jnp.stack([2.0 * residual, 2.0 * x * residual], axis=1)


def linear_hessian(params, x, y):
    """Problem 6.2: H = [[2I, 2 sum x_i], [2 sum x_i, 2 sum x_i^2]], the same at every phi."""
    count = jnp.asarray(x.shape[0], dtype=x.dtype)
    sx = jnp.sum(x)
    return 2.0 * jnp.array([[count, sx], [sx, jnp.sum(x**2)]])


def _sig(z):
    return 1.0 / (1.0 + jnp.exp(-z))


def logistic_example_grads(params, x, y):
    """Problem 6.4 (simplified): dl_i/dphi = (sig[phi_0 + phi_1 x_i] - y_i) [1, x_i]."""
    s = _sig(params[0] + params[1] * x)
    return jnp.stack([s - y, (s - y) * x], axis=1)


def logistic_hessian(params, x, y):
    """Problem 6.4 (v): H = sum_i s_i (1 - s_i) [1, x_i]^T [1, x_i], s_i = sig[phi_0 + phi_1 x_i]."""
    s = _sig(params[0] + params[1] * x)
    w = s * (1.0 - s)
    return jnp.array([[jnp.sum(w), jnp.sum(w * x)], [jnp.sum(w * x), jnp.sum(w * x * x)]])


def shallow_output_grads(params, x):
    """Problem 6.5: the ten derivatives df[x_i, phi]/d(param) of eq. 3.1, shape (I, 10).

    With h_k = theta_k0 + theta_k1 x_i and the ReLU derivative I[h_k > 0]
    (0 at h_k = 0, the convention of ``jax.nn.relu``):
    df/dphi_0 = 1, df/dphi_k = a[h_k], df/dtheta_k0 = phi_k I[h_k > 0],
    df/dtheta_k1 = phi_k x_i I[h_k > 0].
    """
    phi = params[:4]
    theta = params[4:].reshape(3, 2)
    h = theta[:, 0][None, :] + theta[:, 1][None, :] * x[:, None]  # (I, 3)
    active = (h > 0).astype(x.dtype)
    columns = [jnp.ones_like(x)]
    columns += [jnp.maximum(h[:, k], 0.0) for k in range(3)]
    for k in range(3):
        columns.append(phi[k + 1] * active[:, k])
        columns.append(phi[k + 1] * x * active[:, k])
    return jnp.stack(columns, axis=1)


def shallow_example_grads(params, x, y):
    """dl_i/dparam = 2 (f[x_i, phi] - y_i) df[x_i, phi]/dparam for the ten parameters of eq. 3.1."""
    phi = params[:4]
    theta = params[4:].reshape(3, 2)
    h = theta[:, 0][None, :] + theta[:, 1][None, :] * x[:, None]
    f = phi[0] + jnp.maximum(h, 0.0) @ phi[1:]
    return 2.0 * (f - y)[:, None] * shallow_output_grads(params, x)
