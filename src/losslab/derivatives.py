"""The chapter's hand-derived derivatives, written as the book writes them.

Each ``*_example_grads`` returns the per-example gradients dl_i/dphi as an
``(I, P)`` array; the gradient of the book's loss is their sum (eq. 6.6).
Hessians are of the summed loss. :class:`~losslab.objective.Objective` scales
both by 1/I for ``reduction="mean"``. Tests check every formula against
autodiff and central finite differences.
"""

from __future__ import annotations

import jax.numpy as jnp

from .models import GABOR_FREQUENCY, GABOR_WIDTH, gabor
from .numerics import SINCOS_MAX, sincos

__all__ = [
    "linear_example_grads",
    "linear_hessian",
    "gabor_example_grads",
    "logistic_example_grads",
    "logistic_hessian",
    "shallow_output_grads",
    "shallow_example_grads",
    "ANALYTIC",
    "gabor_least_squares_fused",
    "gabor_least_squares_columns",
    "fused_for",
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


def gabor_example_grads(params, x, y):
    """Problem 6.3, with z_i = phi_0 + 0.06 phi_1 x_i and f = sin z exp(-z^2/32):

    dl_i/dphi_0 = 2 (f_i - y_i) (cos z_i - (z_i / 16) sin z_i) exp(-z_i^2 / 32)
    dl_i/dphi_1 = 0.06 x_i * dl_i/dphi_0
    """
    z = params[0] + GABOR_FREQUENCY * params[1] * x
    envelope = jnp.exp(-(z**2) / GABOR_WIDTH)
    f = jnp.sin(z) * envelope
    df_dz = (jnp.cos(z) - (2.0 * z / GABOR_WIDTH) * jnp.sin(z)) * envelope
    dl_dphi0 = 2.0 * (f - y) * df_dz
    return jnp.stack([dl_dphi0, GABOR_FREQUENCY * x * dl_dphi0], axis=1)


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


# (model name, loss name) -> (per-example gradients, Hessian of the summed loss or None)
ANALYTIC = {
    ("linear", "least_squares"): (linear_example_grads, linear_hessian),
    ("gabor", "least_squares"): (gabor_example_grads, None),
    ("logistic", "bce"): (logistic_example_grads, logistic_hessian),
    ("shallow", "least_squares"): (shallow_example_grads, None),
}


def _gabor_residual_terms(z, y):
    """r_i = f_i - y_i and w_i = dl_i/dphi_0 = 2 r_i f'(z_i) at z_i = phi_0 + 0.06 phi_1 x_i (problem 6.3)."""
    s, c = sincos(jnp.where(jnp.abs(z) < SINCOS_MAX, z, 0.0))  # the envelope is exactly 0 beyond
    envelope = jnp.exp(-(z**2) / GABOR_WIDTH)
    r = s * envelope - y
    return r, 2.0 * r * envelope * (c - (2.0 * z / GABOR_WIDTH) * s)


def gabor_least_squares_fused(params, x, y):
    """The Gabor least-squares loss (eq. 6.9, a sum) with problem 6.3's gradient, in one pass.

    Returns ``(L, dL/dphi, w, r)`` with r_i = f_i - y_i and w_i = dl_i/dphi_0 =
    2 r_i f'(z_i), so that dl_i/dphi_1 = 0.06 x_i w_i, dL/dx_i = 0.06 phi_1 w_i and
    dL/dy_i = -2 r_i: everything a Jacobian-vector product of L needs. Sharing
    sin, cos and exp between the value and the gradient is what makes it fast.
    ``params`` may carry leading batch axes (..., 2), e.g. a grid of parameter vectors.
    """
    r, w = _gabor_residual_terms(params[..., 0:1] + GABOR_FREQUENCY * params[..., 1:2] * x, y)
    # both sums in one product: XLA would otherwise recompute w inside each reduction
    grad = w @ jnp.stack([jnp.ones_like(x), GABOR_FREQUENCY * x], axis=1)
    return jnp.sum(r * r, axis=-1), grad, w, r


def gabor_least_squares_columns(params, x, y):
    """``(L, dL/dphi)`` for many parameter vectors stored as the columns of ``params`` (2, S).

    The same formula as :func:`gabor_least_squares_fused`, laid out (I, S): the runs are
    the contiguous axis, so every vector lane does useful work (with I = 30 points along
    it, 30 of 32 lanes would; measured 1.2x faster for 10,000 runs).
    """
    r, w = _gabor_residual_terms(params[0] + GABOR_FREQUENCY * params[1] * x[:, None], y[:, None])
    grad = jnp.stack([jnp.ones_like(x), GABOR_FREQUENCY * x]) @ w
    return jnp.sum(r * r, axis=0), grad


def _gabor_objective_fused(params, x, y):
    value, grad, w, r = gabor_least_squares_fused(params, x, y)
    # dL/dx_i = 0.06 phi_1 w_i and dL/dy_i = -2 r_i
    return value, grad, w * (GABOR_FREQUENCY * params[1]), -2.0 * r


_FUSED = {("gabor", "least_squares"): (gabor, _gabor_objective_fused)}


def fused_for(model, loss: str, dtype: str = "float64"):
    """The fused ``(L, dL/dphi, dL/dx, dL/dy)`` of a hand-derived formula for this built-in
    model and loss in float64, else None (a user's model that merely shares the name gets
    autodiff). The Gabor model uses problem 6.3's formula; an MLP carries its hand-written
    backpropagation (:mod:`losslab.backprop`) in ``model.meta["fused"]``."""
    if dtype != "float64":
        return None
    carried = model.meta.get("fused", {}).get(loss)
    if carried is not None:
        return carried
    entry = _FUSED.get((model.name, loss))
    if entry is None or model.fn is not entry[0]().fn:
        return None
    return entry[1]
