"""The Gabor model of eq. 6.8 and everything hand-derived for it, in one place.

``f[x, phi] = sin[z] exp(-z^2 / 32)`` with ``z = phi_0 + 0.06 phi_1 x``. Besides the
model function this module holds the kernels :func:`losslab.models.gabor` declares
as the model's capabilities (no other module knows the Gabor constants):

* :func:`example_grads`: problem 6.3's per-example gradient;
* :func:`least_squares_fused`: the least-squares loss (eq. 6.9) with that gradient,
  in one pass (what the objective differentiates through);
* :func:`least_squares_columns`: the same for many parameter vectors stored as
  columns (what many runs at once step with);
* :func:`separable_grid`: the loss on a whole ``phi_0 x phi_1`` grid by an exact
  separable form (what a landscape evaluates).

The separable form. With ``z = phi_0 + 0.06 phi_1 x_k`` split as ``z = a_c + t + b``
(``a_c`` the centre of a block of phi_0 values, ``t`` the offset in the block,
``b = 0.06 phi_1 x_k``), every term of the loss ``sum_k f_k^2 - 2 y_k f_k + y_k^2``,
with ``f^2 = (e^{-z^2/16} - Re e^{2iz - z^2/16}) / 2`` and ``f = Im e^{iz - z^2/32}``,
is a sum of ``c_k e^{i w z - z^2/s}``, and

.. math::
   e^{i\\omega z - z^2/s} = \\underbrace{e^{i\\omega t - (2 a_c t + t^2)/s}}_{\\text{phi_0 only}}\\;
   \\underbrace{e^{i\\omega(a_c + b) - (a_c + b)^2/s}}_{\\text{phi_1, x only}}\\;
   \\sum_{n \\ge 0} \\frac{(-2 t b / s)^n}{n!}.

Every factor is bounded (no overflow), the series is truncated where its
remainder is below 1e-17 relative (blocks are sized so that ``|2 t b / s| <= 2``),
and ``b^n = (0.06 phi_1)^n x_k^n`` separates, so the sum over k is a GEMM.
"""

from __future__ import annotations

import math
from functools import lru_cache

import jax
import jax.numpy as jnp
import numpy as np

from .numerics import SINCOS_MAX, exp, sincos
from .sharding import map_rows

__all__ = [
    "FREQUENCY",
    "WIDTH",
    "gabor_fn",
    "example_grads",
    "least_squares_fused",
    "least_squares_columns",
    "objective_fused",
    "separable_grid",
]

FREQUENCY = 0.06  # z = phi_0 + 0.06 phi_1 x
WIDTH = 32.0  # envelope exp(-z^2 / 32)

_SERIES_TOL = 1e-17
_SIGMA_MAX = 2.0
_EXP_SAFE = 600.0  # e^600 is far from float64's overflow at e^709.8
_WORKING_SET = 256 * 2**20  # bytes live per automatic chunk of grid rows
_BYTES_PER_ROW_POINT = 160  # a phi_1 row of the separable form holds ~20 float64 per data point and term block


def _sine(z):
    # XLA's float64 sine on CPU is a scalar library call; the vectorised sincos is exact
    # to 1 ulp with an exact derivative. Beyond |z| = 1e6 the envelope exp(-z^2/32) is
    # exactly 0 in float64, so the clamped sine's value there never reaches the output.
    if z.dtype != jnp.float64:
        return jnp.sin(z)
    return sincos(jnp.where(jnp.abs(z) < SINCOS_MAX, z, 0.0))[0]


def _envelope(z):
    # XLA's float64 exp costs about as much as the vectorised sincos; numerics.exp about half (1 ulp)
    return exp(-(z**2) / WIDTH) if z.dtype == jnp.float64 else jnp.exp(-(z**2) / WIDTH)


def gabor_fn(params, x):
    """Eq. 6.8: sin[z] exp(-z^2/32), z = phi_0 + 0.06 phi_1 x."""
    z = params[0] + FREQUENCY * params[1] * x
    return _sine(z) * _envelope(z)  # eq. 6.8


def example_grads(params, x, y):
    """Problem 6.3, with z_i = phi_0 + 0.06 phi_1 x_i and f = sin z exp(-z^2/32):

    dl_i/dphi_0 = 2 (f_i - y_i) (cos z_i - (z_i / 16) sin z_i) exp(-z_i^2 / 32)
    dl_i/dphi_1 = 0.06 x_i * dl_i/dphi_0
    """
    z = params[0] + FREQUENCY * params[1] * x
    envelope = jnp.exp(-(z**2) / WIDTH)
    f = jnp.sin(z) * envelope
    df_dz = (jnp.cos(z) - (2.0 * z / WIDTH) * jnp.sin(z)) * envelope
    dl_dphi0 = 2.0 * (f - y) * df_dz
    return jnp.stack([dl_dphi0, FREQUENCY * x * dl_dphi0], axis=1)


def _residual_terms(z, y):
    """r_i = f_i - y_i and w_i = dl_i/dphi_0 = 2 r_i f'(z_i) at z_i = phi_0 + 0.06 phi_1 x_i (problem 6.3)."""
    s, c = sincos(jnp.where(jnp.abs(z) < SINCOS_MAX, z, 0.0))  # the envelope is exactly 0 beyond
    envelope = _envelope(z)
    r = s * envelope - y
    return r, 2.0 * r * envelope * (c - (2.0 * z / WIDTH) * s)


def least_squares_fused(params, x, y):
    """The Gabor least-squares loss (eq. 6.9, a sum) with problem 6.3's gradient, in one pass.

    Returns ``(L, dL/dphi, w, r)`` with r_i = f_i - y_i and w_i = dl_i/dphi_0 =
    2 r_i f'(z_i), so that dl_i/dphi_1 = 0.06 x_i w_i, dL/dx_i = 0.06 phi_1 w_i and
    dL/dy_i = -2 r_i: everything a Jacobian-vector product of L needs. Sharing
    sin, cos and exp between the value and the gradient is what makes it fast.
    ``params`` may carry leading batch axes (..., 2), e.g. a grid of parameter vectors.
    """
    r, w = _residual_terms(params[..., 0:1] + FREQUENCY * params[..., 1:2] * x, y)
    # both sums in one product: XLA would otherwise recompute w inside each reduction
    grad = w @ jnp.stack([jnp.ones_like(x), FREQUENCY * x], axis=1)
    return jnp.sum(r * r, axis=-1), grad, w, r


def least_squares_columns(params, x, y):
    """``(L, dL/dphi)`` for many parameter vectors stored as the columns of ``params`` (2, S).

    The same formula as :func:`least_squares_fused`, laid out (I, S): the runs are
    the contiguous axis, so every vector lane does useful work (with I = 30 points along
    it, 30 of 32 lanes would; measured 1.2x faster for 10,000 runs).
    """
    r, w = _residual_terms(params[0] + FREQUENCY * params[1] * x[:, None], y[:, None])
    grad = jnp.stack([jnp.ones_like(x), FREQUENCY * x]) @ w
    return jnp.sum(r * r, axis=0), grad


def objective_fused(params, x, y):
    """``(L, dL/dphi, dL/dx, dL/dy)`` of the least-squares loss: the objective's fused derivative."""
    value, grad, w, r = least_squares_fused(params, x, y)
    # dL/dx_i = 0.06 phi_1 w_i and dL/dy_i = -2 r_i
    return value, grad, w * (FREQUENCY * params[1]), -2.0 * r


# ----------------------------------------------------------------------------- the separable grid
def _series_terms(sigma: float) -> int:
    """Smallest N with sigma^N / N! * e^sigma below the tolerance (the series' remainder bound)."""
    n = 1
    while sigma**n / math.factorial(n) * math.exp(sigma) > _SERIES_TOL and n < 200:
        n += 1
    return n


def _blocks(phi0: np.ndarray, x_max: float, beta_max: float):
    """Split sorted phi_0 into blocks of equal length whose half-width keeps the series argument <= _SIGMA_MAX."""
    g0 = len(phi0)
    span = float(phi0[-1] - phi0[0])
    prod = 2.0 * x_max * beta_max / (WIDTH / 2.0)  # sigma = prod * half_width for the e^{-z^2/16} terms
    if prod == 0.0 or span == 0.0:
        n_blocks = 1
    else:
        # never more blocks than points: a span of 1e300 would otherwise ask for 1e300 blocks
        n_blocks = min(g0, max(1, math.ceil(min(span * prod / (2.0 * _SIGMA_MAX), float(g0)))))
    while True:
        size = -(-g0 // n_blocks)
        idx = np.minimum(np.arange(n_blocks * size), g0 - 1).reshape(n_blocks, size)
        vals = phi0[idx]
        half = (vals.max(axis=1) - vals.min(axis=1)) / 2.0
        if prod * half.max() <= _SIGMA_MAX or size == 1:
            break
        n_blocks += 1
    centre = (vals.max(axis=1) + vals.min(axis=1)) / 2.0
    return idx, vals, centre, np.maximum(half, 1e-300), max(prod * float(half.max()), 0.0)


@lru_cache(maxsize=32)
def _rows_fn(n_terms: int):
    """Jitted: loss rows for a batch of phi_1 values and every phi_0 block (exact separable form)."""
    n = np.arange(n_terms)
    inv_fact = jnp.asarray([1.0 / math.factorial(int(k)) for k in n])
    s16, s32 = WIDTH / 2.0, WIDTH  # the e^{-z^2/16} (f^2) and e^{-z^2/32} (f) terms

    @jax.jit
    def rows_fn(phi1_rows, t_blocks, centres, halves, x, y, x_max, beta_max):
        beta = FREQUENCY * phi1_rows  # (J,)
        b = beta[:, None] * x[None, :]  # (J, I)
        xi = x / x_max
        pow_x = xi[:, None] ** n[None, :]  # (I, N)
        pow_beta = (beta / beta_max)[:, None] ** n[None, :]  # (J, N)
        k_ones = pow_x
        k_y = y[:, None] * pow_x

        def block(args):
            t, ac, half = args
            u = ac + b
            g = exp(-(u * u) / s32)  # e^{-(a_c+b)^2/32}
            s, c = sincos(jnp.where(jnp.abs(u) < SINCOS_MAX, u, 0.0))  # g is exactly 0 beyond
            g2 = g * g
            gc, gs = g * c, g * s
            # b-side moments (J, N): sum_k c_k e^{i w (a_c+b) - (a_c+b)^2/s} xi_k^n, as real GEMMs
            j = b.shape[0]
            ones_part = jnp.concatenate([g2, gc * gc - gs * gs, 2.0 * gc * gs], axis=0) @ k_ones  # w=0 and w=2, s=16
            y_part = jnp.concatenate([gc, gs], axis=0) @ k_y  # w=1, s=32
            m_a = ones_part[:j] * pow_beta
            m_b = jax.lax.complex(ones_part[j : 2 * j], ones_part[2 * j :]) * pow_beta
            m_c = jax.lax.complex(y_part[:j], y_part[j:]) * pow_beta
            # phi_0 side (B, N): e^{i w t - (2 a_c t + t^2)/s} (-sigma tau)^n / n!
            tau = t / half
            sig16 = 2.0 * half * x_max * beta_max / s16
            series16 = (-sig16 * tau)[:, None] ** n[None, :] * inv_fact
            series32 = (-0.5 * sig16 * tau)[:, None] ** n[None, :] * inv_fact
            q16 = jnp.exp(-(2.0 * ac * t + t * t) / s16)
            q32 = jnp.exp(-(2.0 * ac * t + t * t) / s32)
            a_a = (q16[:, None] * series16).astype(jnp.complex128)
            a_b = (q16 * jnp.exp(2j * t))[:, None] * series16
            a_c = (q32 * jnp.exp(1j * t))[:, None] * series32
            # L = Re[ T_a / 2 - T_b / 2 + 2 i T_c ] + sum y^2
            lhs = jnp.concatenate([0.5 * a_a, -0.5 * a_b, 2j * a_c], axis=1)
            rhs = jnp.concatenate([m_a.astype(jnp.complex128), m_b, m_c], axis=1)
            return jnp.real(lhs) @ jnp.real(rhs).T - jnp.imag(lhs) @ jnp.imag(rhs).T  # (B, J)

        out = jax.lax.map(block, (t_blocks, centres, halves))  # (nb, B, J)
        return jnp.transpose(out.reshape(-1, out.shape[-1])) + jnp.sum(y * y)  # (J, nb*B)

    return rows_fn


def separable_grid(phi0: np.ndarray, phi1: np.ndarray, x, y, *, rows: int | None = None) -> np.ndarray | None:
    """The summed least-squares loss at every ``(phi0[i], phi1[j])`` as ``(G1, G0)``, exactly.

    ``phi0`` and ``phi1`` are finite 1-D arrays; ``rows`` bounds the phi_1 rows per device
    per call (``None``: ~256 MiB live). Returns None where the phi_0-side factor
    ``e^{-(2 a_c t + t^2)/16}`` could overflow (phi_0 very large): evaluate directly there.
    """
    order = np.argsort(phi0, kind="stable")
    sorted0 = phi0[order]
    x_max = float(np.max(np.abs(np.asarray(x)))) or 1.0
    beta_max = FREQUENCY * float(np.max(np.abs(phi1))) or 1.0
    idx, vals, centre, half, sigma = _blocks(sorted0, x_max, beta_max)
    if not float(np.max((2.0 * np.abs(centre) * half + half**2) / (WIDTH / 2.0))) < _EXP_SAFE:
        return None
    n_points = int(np.shape(x)[0])
    if rows is None:
        rows = max(1, _WORKING_SET // (_BYTES_PER_ROW_POINT * n_points))
    t_blocks = vals - centre[:, None]
    out = map_rows(
        _rows_fn(_series_terms(max(sigma, 1e-300))),
        phi1,
        chunk=rows,
        args=(
            jnp.asarray(t_blocks),
            jnp.asarray(centre),
            jnp.asarray(half),
            x,
            y,
            jnp.asarray(x_max),
            jnp.asarray(beta_max),
        ),
    )
    flat = out[:, : idx.size]
    # blocks are padded by repeating the last phi_0; keep the first occurrence of each sorted index
    first = np.full(len(phi0), -1)
    flat_idx = idx.ravel()
    for pos in range(flat_idx.size - 1, -1, -1):
        first[flat_idx[pos]] = pos
    loss_sorted = flat[:, first]
    loss = np.empty_like(loss_sorted)
    loss[:, order] = loss_sorted
    return loss
