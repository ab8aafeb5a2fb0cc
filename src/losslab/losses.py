"""Losses, per example and reduced.

The book writes every loss as a **sum** over data points (eq. 6.5); a mean
divides it by I. Each function returns per-example losses ``l_i``;
:func:`reduce` turns them into L with ``reduction="sum"`` (the book) or
``"mean"``. Binary cross-entropy works on logits so confident wrong
predictions never take log(0).
"""

from __future__ import annotations

import jax.numpy as jnp

from .errors import check_choice

__all__ = ["least_squares", "binary_cross_entropy", "reduce", "REDUCTIONS", "LOSS_NAMES", "LOSS_LATEX"]

REDUCTIONS = ("sum", "mean")
LOSS_NAMES = ("least_squares", "bce")
# each loss's summand l_i as the book writes it (the HTML and notebook views put the sum or mean around it)
LOSS_LATEX = {
    "least_squares": r"\left(f[x_i, \boldsymbol\phi] - y_i\right)^2",
    "bce": r"\left(-y_i \log \text{sig}\left[f[x_i, \boldsymbol\phi]\right] "
    r"- (1 - y_i) \log\left(1 - \text{sig}\left[f[x_i, \boldsymbol\phi]\right]\right)\right)",
}


def least_squares(prediction, y):
    """Per-example least squares l_i = (f[x_i, phi] - y_i)^2 (the summand of eq. 6.5)."""
    return (prediction - y) ** 2


def binary_cross_entropy(logit, y):
    """Per-example binary cross-entropy from a logit z = f[x_i, phi]:

    l_i = -y_i log sig[z] - (1 - y_i) log(1 - sig[z]) = log(1 + e^z) - y_i z,

    computed as ``logaddexp(0, z) - y z``: finite for z = +-1000.
    """
    return jnp.logaddexp(0.0, logit) - y * logit


def reduce(per_example, reduction: str = "sum"):
    """L = sum_i l_i (the book, ``"sum"``) or (1/I) sum_i l_i (``"mean"``)."""
    if reduction == "sum":
        return jnp.sum(per_example)
    if reduction == "mean":
        return jnp.mean(per_example)
    check_choice("reduction", reduction, REDUCTIONS)
    raise AssertionError("unreachable")


PER_EXAMPLE = {"least_squares": least_squares, "bce": binary_cross_entropy}
