"""SymPy derivations of every model + loss of the chapter, with the data as indexed symbols.

``derive(name)`` builds L = sum_{i=1}^I l_i with x_i, y_i as ``IndexedBase``
symbols, differentiates it symbolically (gradient and Hessian, sums over i
kept symbolic), prints them as LaTeX in the book's notation, and turns the
*summands* into fast NumPy code (``lambdify(..., cse=True)``; the sum over i is
done by NumPy, never by a lambdified 1-based Python loop).

Models (parameters in the order of :mod:`losslab.models`):

- ``linear``: f = phi_0 + phi_1 x (eq. 6.4), least squares (eq. 6.5);
- ``gabor``: f = sin[z] exp[-z^2 / 32], z = phi_0 + 0.06 phi_1 x (eq. 6.8), least squares;
- ``logistic``: Pr(y = 1 | x) = sig[phi_0 + phi_1 x], binary cross-entropy (problem 6.4);
- ``shallow``: f = phi_0 + sum_k phi_k a[theta_k0 + theta_k1 x] with the ReLU a (eq. 3.1), least squares.

The ReLU's derivative is ``Heaviside(z, 0)`` = I[z > 0] (0 at z = 0, as JAX);
its second derivative (a Dirac delta at the kinks) is taken as 0, which is
also what autodiff returns away from the kinks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import sympy as sp

from ..errors import check_choice, check_number
from .latex import indexed_base, symbol
from .printing import Sig, as_exp, book_latex

__all__ = ["Derivation", "derive", "DERIVABLE", "param_symbols"]

DERIVABLE = ("linear", "gabor", "logistic", "shallow")

_i = symbol("i")
_I = symbol("I")
_x = indexed_base("x")
_y = indexed_base("y")
_xs = sp.Symbol("x", real=True)  # one data point, for the lambdified summands
_ys = sp.Symbol("y", real=True)


def param_symbols(name: str) -> tuple[sp.Symbol, ...]:
    """The parameters of model ``name`` as SymPy symbols, in the order of losslab.models."""
    if name in ("linear", "gabor", "logistic"):
        return (symbol("phi_0"), symbol("phi_1"))
    if name == "shallow":
        names = ["phi_0", "phi_1", "phi_2", "phi_3"] + [f"theta_{k}{j}" for k in (1, 2, 3) for j in (0, 1)]
        return tuple(symbol(n) for n in names)
    raise KeyError(name)


def _sig(z):
    return Sig(z)


def _model(name: str, x, p):
    if name in ("linear", "logistic"):
        return p[0] + p[1] * x
    if name == "gabor":
        z = p[0] + sp.Rational(3, 50) * p[1] * x
        return sp.sin(z) * sp.exp(-(z**2) / 32)
    if name == "shallow":
        phi, theta = p[:4], p[4:]
        return phi[0] + sum(phi[k] * sp.Max(0, theta[2 * k - 2] + theta[2 * k - 1] * x) for k in (1, 2, 3))
    raise KeyError(name)


def _example_loss(name: str, x, y, p):
    f = _model(name, x, p)
    if name == "logistic":
        s = _sig(f)
        return -(y * sp.log(s) + (1 - y) * sp.log(1 - s))
    return (f - y) ** 2


def _drop_delta(expr):
    return expr.replace(lambda e: isinstance(e, sp.DiracDelta), lambda e: sp.S.Zero)


@dataclass(frozen=True, eq=False)
class Derivation:
    """L, its gradient and Hessian for one model + loss, symbolic in the data (sums over i = 1..I)."""

    name: str
    loss: str
    params: tuple[sp.Symbol, ...]
    example_loss: sp.Expr  # l_i, in x_i, y_i
    example_grad: tuple[sp.Expr, ...]  # dl_i / dparam
    _numeric: dict = field(default_factory=dict, repr=False)

    def __repr__(self) -> str:
        return f"Derivation({self.name!r}, loss={self.loss!r}, params={[p.name for p in self.params]})"

    # derived on first use and kept (cached_property writes the instance's __dict__, which a frozen dataclass allows)
    @cached_property
    def example_hessian(self) -> sp.ImmutableMatrix:
        """d2 l_i / dparam dparam, differentiated on first use: most users need only the gradient (the
        shallow network's 10 x 10 entries are ~0.3 s of SymPy)."""
        return _hessian_of(self.example_grad, self.params)

    # -- the sums over i ----------------------------------------------------------
    @property
    def L(self) -> sp.Sum:
        return sp.Sum(self.example_loss, (_i, 1, _I))

    @cached_property
    def gradient(self) -> tuple[sp.Expr, ...]:
        """dL/dparam = sum_i dl_i/dparam."""
        return tuple(_sum_over_i(g) for g in self.example_grad)

    @cached_property
    def hessian(self) -> sp.ImmutableMatrix:
        return sp.ImmutableMatrix(self.example_hessian.applyfunc(_sum_over_i))

    def latex(self) -> dict[str, str]:
        """LaTeX of L, each dL/dparam and the Hessian, in the book's notation."""
        return {"L": book_latex(self.L), **self.gradient_latex(), "H": book_latex(self.hessian)}

    def gradient_latex(self) -> dict[str, str]:
        """LaTeX of each dL/dparam (keys "dL/dphi_0", ...): :meth:`latex` without L and the Hessian."""
        return {f"dL/d{p.name}": book_latex(g) for p, g in zip(self.params, self.gradient)}

    # -- fast numeric code --------------------------------------------------------
    def _compiled(self, what: str, relu_at_zero: float = 0.0):
        key = (what, float(relu_at_zero))
        if key not in self._numeric:
            exprs = self.example_grad if what == "grad" else tuple(self.example_hessian)
            exprs = [_relu_step(as_exp(e), sp.Float(relu_at_zero)) if relu_at_zero else as_exp(e) for e in exprs]
            exprs = xreplace_shared(exprs, {_x[_i]: _xs, _y[_i]: _ys})
            # the module itself, not "numpy": the same NumPy printer without sympy's `from numpy import *`, which
            # imports numpy.f2py and every text codec (~0.5 s a process); no docstring: lambdify would print every
            # expression into it with str() (0.1 s for the shallow network's gradient, a third of lambdify)
            self._numeric[key] = sp.lambdify([*self.params, _xs, _ys], exprs, modules=[np], cse=True, docstring_limit=0)
        return self._numeric[key]

    def example_grads(self, params, x, y, *, relu_at_zero: float = 0.0) -> np.ndarray:
        """dl_i/dparam for every example: shape (I, P), float64.

        ``relu_at_zero`` is the value taken for a'[0] (the ReLU is not differentiable there; any value in
        [0, 1] is a subgradient). The default 0 is the convention of ``jax.nn.relu`` and ``torch.relu``.
        """
        relu_at_zero = check_number("relu_at_zero", relu_at_zero, owner="Derivation.example_grads", ge=0, le=1)
        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        cols = self._compiled("grad", relu_at_zero)(*np.asarray(params, dtype=np.float64), x, y)
        return np.stack([np.broadcast_to(np.asarray(c, dtype=np.float64), x.shape) for c in cols], axis=1)

    def grad(self, params, x, y, *, relu_at_zero: float = 0.0) -> np.ndarray:
        """dL/dparam = sum_i dl_i/dparam: shape (P,), float64."""
        return self.example_grads(params, x, y, relu_at_zero=relu_at_zero).sum(axis=0)

    def hessian_numeric(self, params, x, y) -> np.ndarray:
        """The Hessian of L = sum_i l_i at params: shape (P, P), float64."""
        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        with np.errstate(all="ignore"):
            entries = self._compiled("hessian")(*np.asarray(params, dtype=np.float64), x, y)
        P = len(self.params)
        sums = [float(np.sum(np.broadcast_to(np.asarray(e, dtype=np.float64), x.shape))) for e in entries]
        return np.array(sums).reshape(P, P)


def _relu_step(expr, value):
    """Every Heaviside(z, .) -> Heaviside(z, value): a'[z] = I[z > 0] with a'[0] := value.

    SymPy differentiates Max(0, z) to Heaviside(z), whose value at 0 is 1/2: neither what JAX and torch
    use (0) nor the book's I[z > 0], so the value at 0 is always set explicitly.
    """
    return expr.replace(lambda e: isinstance(e, sp.Heaviside), lambda e: sp.Heaviside(e.args[0], value))


def xreplace_shared(exprs, rule: dict) -> list:
    """``[e.xreplace(rule) for e in exprs]``, each subexpression object rebuilt once for all of them.

    ``xreplace`` rebuilds (and re-evaluates) a subtree every time it occurs; this does what it does, node by
    node (a node is rebuilt from its new arguments when a rule matched below it), but once per object: the
    shallow network's summands share f[x_i, phi] - y_i and its three Max(0, h_ik), whose evaluation asks
    SymPy's assumptions (0.2 s for its Hessian, 0.03 s here).
    """
    done: dict[int, tuple] = {}  # id of a subexpression of exprs (alive throughout) -> (result, whether changed)

    def rebuilt(e) -> tuple:
        if e in rule:
            return rule[e], True
        hit = done.get(id(e))
        if hit is None:
            args = [rebuilt(a) if isinstance(a, sp.Basic) else (a, False) for a in e.args]
            changed = any(c for _, c in args)
            hit = done[id(e)] = (e.func(*[a for a, _ in args]) if changed else e, changed)
        return hit

    return [rebuilt(e)[0] for e in exprs]


def _hessian_of(grad, params) -> sp.ImmutableMatrix:
    """d(grad_j)/d(param_k) for every j, k, each entry differentiated (the lower triangle is not a copy of the
    upper one: SymPy's two orders of differentiation give equal but differently written expressions)."""
    return sp.ImmutableMatrix([[_drop_delta(sp.diff(g, q)) for q in params] for g in grad])


def _sum_over_i(term):
    """sum_{i=1}^I term, with constants pulled out (sum_i 2 = 2I)."""
    term = sp.factor_terms(term)
    if _i not in term.free_symbols:
        return _I * term
    const, rest = term.as_independent(_i, as_Add=False)
    return const * sp.Sum(rest, (_i, 1, _I))


_CACHE: dict[str, Derivation] = {}


def derive(name: str) -> Derivation:
    """The symbolic derivation for model ``name`` ("linear", "gabor", "logistic", "shallow")."""
    name = check_choice("model", name, DERIVABLE, owner="derive")
    if name not in _CACHE:
        p = param_symbols(name)
        loss = "bce" if name == "logistic" else "least_squares"
        l_i = _example_loss(name, _x[_i], _y[_i], p)
        grad = tuple(_relu_step(sp.diff(l_i, q), sp.S.Zero) for q in p)
        if name == "logistic":
            # d l_i / d phi = (sig - y_i) [1, x_i] once the log-derivatives of sig cancel
            grad = tuple(sp.factor(sp.expand(g)) for g in grad)
        _CACHE[name] = Derivation(name, loss, p, l_i, grad)
    return _CACHE[name]
