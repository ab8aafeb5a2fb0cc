"""Fast elementary functions that are exact to float64 round-off.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

# XLA's float64 sin/cos on CPU are scalar library calls (measured ~50x slower than its
# vectorised exp here). A Cody-Waite reduction by pi/2 plus Taylor polynomials (coefficients
# (-1)^k / n!, degree 17 and 18: the first omitted term is below 1e-19 on |r| <= pi/4) is
# vectorised by XLA and within 2 ulp of NumPy.
_S = tuple((-1) ** k / math.factorial(2 * k + 1) for k in range(1, 9))
_C = tuple((-1) ** k / math.factorial(2 * k) for k in range(2, 10))
# pi/2 as hi + mid + lo, hi and mid with 33 significant bits so that n * hi and n * mid are exact for
# |n| < 2^20 (derived with mpmath at 400 bits; tests/test_sharding.py derives them again)
_PIO2 = (1.5707963267341256, 6.077100506303966e-11, 2.0222662487959506e-21)
SINCOS_MAX = 1e6  # n * pi/2 split exactly for |z| below this


def _horner(coefficients, t):
    acc = coefficients[-1]
    for c in reversed(coefficients[:-1]):
        acc = c + t * acc
    return acc


@jax.custom_jvp
def sincos(z):
    """``(sin z, cos z)`` for float64 ``|z| < 1e6`` to 2 ulp, vectorisable (callers clamp larger z).

    Its derivative is exact by construction (d sin = cos dz, d cos = -sin dz), not the
    derivative of the polynomial, so gradients and Hessians through it are as exact as
    through ``jnp.sin``.
    """
    n = jnp.round(z * (2.0 / np.pi))
    r = ((z - n * _PIO2[0]) - n * _PIO2[1]) - n * _PIO2[2]
    r2 = r * r
    s = r + r * r2 * _horner(_S, r2)
    c = 1.0 - 0.5 * r2 + r2 * r2 * _horner(_C, r2)
    # the quadrant n mod 4 in floating point: AVX2 has no vector float -> int64 conversion
    q = n - 4.0 * jnp.floor(0.25 * n)
    odd = (q == 1.0) | (q == 3.0)
    sin = jnp.where(odd, c, s)
    cos = jnp.where(odd, s, c)
    return jnp.where(q >= 2.0, -sin, sin), jnp.where((q == 1.0) | (q == 2.0), -cos, cos)


@sincos.defjvp
def _sincos_jvp(primals, tangents):
    (z,), (dz,) = primals, tangents
    s, c = sincos(z)
    return (s, c), (c * dz, -s * dz)


# XLA:CPU's float64 exp is vectorised but costs as much as the whole sincos above (measured in
# the Gabor kernels: half their time). x = k ln2 + r (Cody-Waite, |r| <= ln2/2), e^r by its Taylor
# polynomial (1/n!, degree 14: the first omitted term is below 2e-19), then the scale 2^k assembled
# from exponent bits (no float -> int conversion, which AVX2 cannot vectorise).
_LN2 = (0.6931471805598903, 5.497923018708371e-14)  # hi has 42 significant bits: k * hi is exact for |k| < 2^11
_INV_LN2 = 1.4426950408889634
_E = tuple(1.0 / math.factorial(n) for n in range(15))
_ROUND = 6755399441055744.0  # 1.5 * 2^52: an integer |k| < 2^51 added to it sits in the low bits
EXP_MAX = math.log(np.finfo(np.float64).max)  # above: inf
EXP_MIN = -1075 * math.log(2.0)  # below: 0 (under half the smallest subnormal, 2^-1074)


def _pow2(k):
    """2^k for integer-valued float64 ``k`` in [-1022, 1023], from the exponent bits."""
    bits = jax.lax.bitcast_convert_type(k + _ROUND, jnp.int64) - np.int64(0x4338000000000000)
    return jax.lax.bitcast_convert_type((bits + 1023) << 52, jnp.float64)


@jax.custom_jvp
def exp(x):
    """``e^x`` for float64 within 1 ulp of NumPy's, vectorisable; 0 below ``EXP_MIN``, inf above
    ``EXP_MAX``, NaN for NaN. A subnormal result is rounded once (XLA:CPU flushes it to 0, as it does its own
    exp's). Its derivative is ``e^x dx``."""
    # keeps k in range (the ends are restored below); where, not clip: XLA's NaN-propagating min/max
    # take several AVX2 instructions each, and a NaN is restored below anyway
    v = jnp.where(x < EXP_MIN, EXP_MIN, jnp.where(x > EXP_MAX, EXP_MAX, x))
    k = jnp.round(v * _INV_LN2)  # nearest integer to x / ln2
    r = (v - k * _LN2[0]) - k * _LN2[1]
    y = _horner(_E, r)  # e^r, in [0.7, 1.42]
    half = jnp.floor(0.5 * k)  # 2^k as two normal factors, so subnormal and near-overflow results round once
    out = (y * _pow2(half)) * _pow2(k - half)
    out = jnp.where(x > EXP_MAX, jnp.inf, jnp.where(x < EXP_MIN, 0.0, out))
    return jnp.where(jnp.isnan(x), x, out)


@exp.defjvp
def _exp_jvp(primals, tangents):
    (x,), (dx,) = primals, tangents
    e = exp(x)
    return e, e * dx
