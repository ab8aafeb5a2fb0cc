"""Fast elementary functions that are exact to float64 round-off.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

# XLA's float64 sin/cos on CPU are scalar library calls (measured ~50x slower than its
# vectorised exp here); a Cody-Waite reduction plus fdlibm's kernel polynomials is
# vectorised by XLA and accurate to 1 ulp on |r| <= pi/4 (max error 2.2e-16 measured).
_S = (-1.66666666666666324348e-01, 8.33333333332248946124e-03, -1.98412698298579493134e-04,
      2.75573137070700676789e-06, -2.50507602534068634195e-08, 1.58969099521155010221e-10)
_C = (4.16666666666666019037e-02, -1.38888888888741095749e-03, 2.48015872894767294178e-05,
      -2.75573143513906633035e-07, 2.08757232129817482790e-09, -1.13596475577881948265e-11)
_PIO2 = (1.57079632673412561417e00, 6.07710050650619224932e-11, 2.02226624879595063154e-21)
SINCOS_MAX = 1e6  # n * pi/2 split exactly for |z| below this


@jax.custom_jvp
def sincos(z):
    """``(sin z, cos z)`` for float64 ``|z| < 1e6`` to 1 ulp, vectorisable (callers clamp larger z).

    Its derivative is exact by construction (d sin = cos dz, d cos = -sin dz), not the
    derivative of the polynomial, so gradients and Hessians through it are as exact as
    through ``jnp.sin``.
    """
    n = jnp.round(z * (2.0 / np.pi))
    r = ((z - n * _PIO2[0]) - n * _PIO2[1]) - n * _PIO2[2]
    r2 = r * r
    s = r + r * r2 * (_S[0] + r2 * (_S[1] + r2 * (_S[2] + r2 * (_S[3] + r2 * (_S[4] + r2 * _S[5])))))
    c = 1.0 - 0.5 * r2 + r2 * r2 * (_C[0] + r2 * (_C[1] + r2 * (_C[2] + r2 * (_C[3] + r2 * (_C[4] + r2 * _C[5])))))
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
# the Gabor kernels: half their time). fdlibm's e_exp.c algorithm, written with array operations:
# x = k ln2 + r (Cody-Waite, |r| <= ln2/2), exp(r) by its rational form, then the scale 2^k
# assembled from exponent bits (no float -> int conversion, which AVX2 cannot vectorise).
_LN2 = (6.93147180369123816490e-01, 1.90821492927058770002e-10)  # hi part has trailing zero bits: k * hi is exact
_INV_LN2 = 1.44269504088896338700e00
_P = (1.66666666666666019037e-01, -2.77777777770155933842e-03, 6.61375632143793436117e-05,
      -1.65339022054652515390e-06, 4.13813679705723846039e-08)
_ROUND = 6755399441055744.0  # 1.5 * 2^52: an integer |k| < 2^51 added to it sits in the low bits
EXP_MAX = 709.782712893383973096  # above: inf
EXP_MIN = -745.133219101941108420  # below: 0 (under half the smallest subnormal)


def _pow2(k):
    """2^k for integer-valued float64 ``k`` in [-1022, 1023], from the exponent bits."""
    bits = jax.lax.bitcast_convert_type(k + _ROUND, jnp.int64) - np.int64(0x4338000000000000)
    return jax.lax.bitcast_convert_type((bits + 1023) << 52, jnp.float64)


@jax.custom_jvp
def exp(x):
    """``e^x`` for float64 within 1 ulp of NumPy's (fdlibm's algorithm), vectorisable; 0 below ``EXP_MIN``, inf above
    ``EXP_MAX``, NaN for NaN. A subnormal result is rounded once (XLA:CPU flushes it to 0, as it does its own
    exp's). Its derivative is ``e^x dx``."""
    # keeps k in range (the ends are restored below); where, not clip: XLA's NaN-propagating min/max
    # take several AVX2 instructions each, and a NaN is restored below anyway
    v = jnp.where(x < EXP_MIN, EXP_MIN, jnp.where(x > EXP_MAX, EXP_MAX, x))
    k = jnp.round(v * _INV_LN2)  # nearest integer to x / ln2
    hi = v - k * _LN2[0]
    lo = k * _LN2[1]
    r = hi - lo
    t = r * r
    c = r - t * (_P[0] + t * (_P[1] + t * (_P[2] + t * (_P[3] + t * _P[4]))))
    y = 1.0 - ((lo - (r * c) / (2.0 - c)) - hi)  # e^r, in [0.7, 1.42]
    half = jnp.floor(0.5 * k)  # 2^k as two normal factors, so subnormal and near-overflow results round once
    out = (y * _pow2(half)) * _pow2(k - half)
    out = jnp.where(x > EXP_MAX, jnp.inf, jnp.where(x < EXP_MIN, 0.0, out))
    return jnp.where(jnp.isnan(x), x, out)


@exp.defjvp
def _exp_jvp(primals, tangents):
    (x,), (dx,) = primals, tangents
    e = exp(x)
    return e, e * dx
