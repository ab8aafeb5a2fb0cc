"""Fast elementary functions that are exact to float64 round-off.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

# XLA's float64 sin/cos on CPU are scalar library calls (measured ~50x slower than its
# vectorised exp here). A Cody-Waite reduction by pi/2 plus two polynomials in r^2 is vectorised by
# XLA and within 2 ulp of NumPy: sin r = r + r^3 P(r^2) and cos r = 1 - r^2/2 + r^4 Q(r^2) on |r| <= pi/4.
# P and Q (and exp's polynomial below) interpolate their functions at Chebyshev nodes, which is
# nearly the best polynomial of its degree (the error spreads evenly over the interval instead of
# growing at its ends as a Taylor polynomial's does): 7 and 6 terms where Taylor needs 8 and 8.
# Derived by derive_coefficients() (mpmath, 256 bits); tests/test_sharding.py derives them again.
# Their error is below 1e-20 (sin) and 7e-19 (cos) relative, far under float64's 1.1e-16.
_S = (-0.16666666666666666, 0.008333333333333331, -0.00019841269841265065, 2.7557319219339167e-06,
      -2.5052106232447578e-08, 1.6058531618986147e-10, -7.586697117706918e-13)
_C = (0.041666666666666664, -0.0013888888888887398, 2.480158729876569e-05, -2.7557317271729793e-07,
      2.08761462684032e-09, -1.1382632425521717e-11)
# pi/2 as hi + mid + lo, hi and mid with 33 significant bits so that n * hi and n * mid are exact for
# |n| < 2^20 (derived with mpmath at 400 bits; tests/test_sharding.py derives them again)
_PIO2 = (1.5707963267341256, 6.077100506303966e-11, 2.0222662487959506e-21)
SINCOS_MAX = 1e6  # n * pi/2 split exactly for |z| below this
# leading terms kept in Horner's order (see _polynomial): none for sin and cos (their polynomials are
# corrections to r and 1 - r^2/2 already), two for exp (whose result is the polynomial itself, 1 + r + ...)
HORNER_SIN, HORNER_COS = 0, 0


def _polynomial(coefficients, t, *, horner: int):
    """``sum_k c_k t^k``: the first ``horner`` terms by Horner's rule, the rest by Estrin's scheme.

    Horner's rule is a chain of n dependent multiply-adds, so the CPU waits on each; Estrin's
    (pairs ``c_k + c_{k+1} t``, then pairs of pairs with ``t^2``, ``t^4``, ...) is a tree of depth
    log2 n whose branches run side by side: measured 15-20 % faster in the Gabor kernels. The
    leading terms, which decide the rounding of the result, stay in Horner's order, so the
    error bounds hold (tested in ulp against NumPy)."""
    tail = list(coefficients[horner:])
    power = t
    while len(tail) > 1:
        tail = [tail[k] + power * tail[k + 1] if k + 1 < len(tail) else tail[k] for k in range(0, len(tail), 2)]
        power = power * power
    acc = tail[0] if tail else 0.0 * t
    for c in reversed(coefficients[:horner]):
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
    s = r + r * r2 * _polynomial(_S, r2, horner=HORNER_SIN)
    c = 1.0 - 0.5 * r2 + r2 * r2 * _polynomial(_C, r2, horner=HORNER_COS)
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
# the Gabor kernels: half their time). x = k ln2 + r (Cody-Waite, |r| <= ln2/2), e^r by a polynomial
# of degree 12 (Chebyshev interpolation as above; error below 6e-20 relative; Taylor needs degree 14),
# then the scale 2^k assembled from exponent bits (no float -> int conversion, which AVX2 cannot
# vectorise).
_LN2 = (0.6931471805598903, 5.497923018708371e-14)  # hi has 42 significant bits: k * hi is exact for |k| < 2^11
_INV_LN2 = 1.4426950408889634
_E = (1.0, 1.0, 0.5, 0.16666666666666702, 0.04166666666666669, 0.008333333333309528, 0.001388888888887189,
      0.000198412699092171, 2.4801587350110797e-05, 2.7557224958392624e-06, 2.7557251904174915e-07,
      2.5114869528657765e-08, 2.09215799649503e-09)
_ROUND = 6755399441055744.0  # 1.5 * 2^52: an integer |k| < 2^51 added to it sits in the low bits
EXP_MAX = math.log(np.finfo(np.float64).max)  # above: inf
EXP_MIN = -1075 * math.log(2.0)  # below: 0 (under half the smallest subnormal, 2^-1074)
HORNER_EXP = 2  # see HORNER_SIN


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
    y = _polynomial(_E, r, horner=HORNER_EXP)  # e^r, in [0.7, 1.42]
    half = jnp.floor(0.5 * k)  # 2^k as two normal factors, so subnormal and near-overflow results round once
    out = (y * _pow2(half)) * _pow2(k - half)
    out = jnp.where(x > EXP_MAX, jnp.inf, jnp.where(x < EXP_MIN, 0.0, out))
    return jnp.where(jnp.isnan(x), x, out)


@exp.defjvp
def _exp_jvp(primals, tangents):
    (x,), (dx,) = primals, tangents
    e = exp(x)
    return e, e * dx


def derive_coefficients(bits: int = 256) -> dict[str, tuple[float, ...]]:
    """The coefficients of ``_S``, ``_C`` and ``_E``, derived again with mpmath at ``bits`` bits:
    each polynomial interpolates its function at the Chebyshev nodes of its interval (a
    Vandermonde system solved in high precision), then is rounded to float64."""
    import mpmath

    with mpmath.workprec(bits):
        def interpolate(f, a, b, n):
            nodes = [(a + b) / 2 + (b - a) / 2 * mpmath.cos(mpmath.pi * (2 * k + 1) / (2 * n)) for k in range(n)]
            vandermonde = mpmath.matrix([[x**j for j in range(n)] for x in nodes])
            solved = mpmath.lu_solve(vandermonde, mpmath.matrix([f(x) for x in nodes]))
            return tuple(float(solved[j]) for j in range(n))

        u_max = (mpmath.pi / 4) ** 2  # r^2 on |r| <= pi/4
        half_ln2 = mpmath.log(2) / 2

        def p(u):  # (sin r - r) / r^3 as a function of u = r^2 (its limit -1/6 at 0)
            return (mpmath.sin(mpmath.sqrt(u)) - mpmath.sqrt(u)) / (mpmath.sqrt(u) * u) if u else mpmath.mpf(-1) / 6

        def q(u):  # (cos r - 1 + r^2 / 2) / r^4 (its limit 1/24 at 0)
            return (mpmath.cos(mpmath.sqrt(u)) - 1 + u / 2) / (u * u) if u else mpmath.mpf(1) / 24

        return {"sin": interpolate(p, mpmath.mpf(0), u_max, len(_S)),
                "cos": interpolate(q, mpmath.mpf(0), u_max, len(_C)),
                "exp": interpolate(mpmath.exp, -half_ln2, half_ln2, len(_E))}
