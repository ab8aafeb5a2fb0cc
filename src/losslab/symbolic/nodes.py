"""SymPy nodes for notation that plain SymPy has no word for.

The parser builds these; the evaluator (``losslab.symbolic.evaluate``) gives
them meaning once the problem's definitions and shapes are known:

- ``Transpose(x)``: ``x^T`` / ``x^\\top`` (the identity on scalars);
- ``MatProd(a, b, ..)``: a product whose factor order matters because some
  factor may be a vector or matrix (``X^T (\\hat y - y)``, ``w^T x``);
- ``Hadamard(a, b)``: ``a \\odot b``, elementwise;
- ``Grad(F)``: ``\\nabla F`` written without a variable (``\\nabla \\ell(\\Theta^{(t)})``,
  ``\\nabla l_t``): the gradient of the loss at a point, an opaque value;
- ``SetSum(body, i, S)``: ``\\sum_{i \\in S} body`` (a minibatch sum);
- ``IApply(z_i, (x_n,))``: an indexed name applied to arguments, ``z_i(x_n)``.
"""

from __future__ import annotations

import sympy as sp

__all__ = ["Transpose", "MatProd", "Hadamard", "Grad", "SetSum", "IApply", "IMPLICIT_INDEX", "prime_name"]


class Transpose(sp.Function):
    nargs = 1

    def _sympystr(self, printer):
        return f"({printer._print(self.args[0])})^T"

    def _latex(self, printer):
        return f"{{{printer._print(self.args[0])}}}^{{T}}"


class MatProd(sp.Function):
    """An ordered product (evaluated left to right with matrix rules)."""


class Hadamard(sp.Function):
    nargs = 2


class Grad(sp.Function):
    nargs = 1


class SetSum(sp.Function):
    nargs = 3


class IApply(sp.Function):
    nargs = 2


# the index of a sum written without one (``\sum x_i^2``): bound to the example index later
IMPLICIT_INDEX = sp.Symbol("_k", integer=True)


def prime_name(name: str, order: int) -> str:
    """``a'`` -> "a'", ``f''`` -> "f''": the derivative of a one-argument function, as a function name."""
    return name + "'" * order
