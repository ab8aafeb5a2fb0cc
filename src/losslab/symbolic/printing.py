"""SymPy -> LaTeX in the book's notation: a[z] for the ReLU, I[z > 0] for its derivative."""

from __future__ import annotations

import sympy as sp
from sympy.core.function import AppliedUndef
from sympy.printing.latex import LatexPrinter

__all__ = ["book_latex", "Sig", "as_exp"]


class BookLatexPrinter(LatexPrinter):
    """Prints ``Max(0, z)`` as ``a[z]``, ``Heaviside(z)`` as ``\\mathbb{I}[z > 0]``, ``nabla_l[t]`` as ``\\nabla l_{t}``."""

    # matrices as the book (and the parser, and the book report's renderer) write them: \begin{bmatrix}
    _default_settings = {**LatexPrinter._default_settings, "mat_str": "bmatrix", "mat_delim": ""}

    def _print_Heaviside(self, expr, exp=None):
        tex = r"\mathbb{I}\left[%s > 0\right]" % self._print(expr.args[0])
        return f"{tex}^{{{exp}}}" if exp else tex

    def _print_Max(self, expr, exp=None):
        args = list(expr.args)
        if len(args) == 2 and sp.S.Zero in args:
            other = args[0] if args[1] == 0 else args[1]
            tex = r"a\left[%s\right]" % self._print(other)
            return f"{tex}^{{{exp}}}" if exp else tex
        return super()._print_Max(expr, exp)

    def _print_Rational(self, expr):
        # the book writes 0.06, not 3/50: decimals for denominators dividing 10^4 (but not 1/2, 1/4, ...)
        q = int(expr.q)
        if q > 1 and 10**4 % q == 0 and q & (q - 1) != 0:
            digits = len(str(10**4 // 1)) - 1
            text = f"{float(expr):.{digits}f}".rstrip("0")
            return text
        return super()._print_Rational(expr)

    def _print_Mul(self, expr):
        coeff, rest = expr.as_coeff_Mul()
        if isinstance(coeff, sp.Rational) and not coeff.is_Integer and rest != 1:
            q = int(coeff.q)
            if 10**4 % q == 0 and q & (q - 1) != 0:
                sign = "- " if coeff < 0 else ""
                body = self._print(rest)
                if isinstance(rest, sp.Add):
                    body = r"\left(%s\right)" % body
                return f"{sign}{self._print_Rational(abs(coeff))} {body}"
        return super()._print_Mul(expr)

    def _bracket(self, name, expr, exp=None):
        tex = r"\%s\left[%s\right]" % (name, self._print(expr.args[0]))
        return f"{tex}^{{{exp}}}" if exp else tex

    def _print_sin(self, expr, exp=None):
        return self._bracket("sin", expr, exp)

    def _print_cos(self, expr, exp=None):
        return self._bracket("cos", expr, exp)

    def _print_exp(self, expr, exp=None):
        return self._bracket("exp", expr, exp)

    def _print_Function(self, expr, exp=None):
        # f[x_i, phi], a[z], sig[z]: the book's square brackets for its own functions
        if not isinstance(expr, AppliedUndef):
            return super()._print_Function(expr, exp)
        name = expr.func.__name__
        head = {"sig": r"\text{sig}", "Tr": r"\mathrm{Tr}", "Det": r"\det"}.get(name) or self._print(sp.Symbol(name))
        tex = r"%s\left[%s\right]" % (head, ", ".join(self._print(a) for a in expr.args))
        return f"{tex}^{{{exp}}}" if exp else tex

    def _print_Derivative(self, expr):
        # d f[x_i, phi] / d phi_0 written as one fraction, as people write it
        variables = expr.variables
        if len(set(variables)) == 1 and isinstance(expr.expr, (AppliedUndef, sp.Symbol)):
            n = len(variables)
            top = r"\partial^{%d}" % n if n > 1 else r"\partial"
            bottom = r"\partial %s^{%d}" % (self._print(variables[0]), n) if n > 1 else r"\partial %s" % self._print(variables[0])
            return r"\frac{%s %s}{%s}" % (top, self._print(expr.expr), bottom)
        return super()._print_Derivative(expr)

    def _print_Indexed(self, expr):
        label = str(expr.base.label)
        indices = ",".join(self._print(i) for i in expr.indices)
        if label.startswith("nabla_"):
            return r"\nabla %s_{%s}" % (label[len("nabla_"):], indices)
        return "%s_{%s}" % (self._print(expr.base.label), indices)


def book_latex(expr) -> str:
    """LaTeX of a SymPy object in the book's notation."""
    return BookLatexPrinter().doprint(expr)


class Sig(sp.Function):
    """The logistic sigmoid sig[z] = 1 / (1 + exp(-z)), kept as one symbol so derivatives read as in the book.

    d sig / dz = sig (1 - sig). ``as_exp`` turns it into exponentials for numbers.
    """

    is_real = True

    def fdiff(self, argindex=1):
        s = Sig(self.args[0])
        return s * (1 - s)

    @classmethod
    def eval(cls, z):
        if z == 0:
            return sp.Rational(1, 2)
        return None

    def _eval_rewrite_as_exp(self, z, **kwargs):
        return 1 / (1 + sp.exp(-z))

    def _eval_is_positive(self):
        return self.args[0].is_real or None

    def _latex(self, printer, exp=None):
        tex = r"\text{sig}\left[%s\right]" % printer._print(self.args[0])
        return f"{tex}^{{{exp}}}" if exp else tex


def as_exp(expr):
    """Replace every sig[z] by 1 / (1 + exp(-z))."""
    return expr.replace(lambda e: isinstance(e, Sig), lambda e: 1 / (1 + sp.exp(-e.args[0])))
