"""A small SymPy helper for the problems' certificates: split a double sum of products into products of single sums.

SymPy does not turn sum_i sum_j x_i x_j into (sum_i x_i)^2 by itself for a symbolic number of terms I
(see shared/notes/latex-checking.md); this does, for summands that are sums of products of factors each
depending on one index.
"""

from __future__ import annotations

import sympy as sp


def _single_sum(factor, index, upper):
    if factor == 1:
        return upper
    return sp.Sum(factor, (index, 1, upper))


def split_double_sum(summand, i, j, upper, canonical):
    """sum_{i=1}^{upper} sum_{j=1}^{upper} summand, with every j-sum renamed to the ``canonical`` index."""
    total = sp.Integer(0)
    for term in sp.Add.make_args(sp.expand(summand)):
        coeff, factors = term.as_coeff_mul()
        fi, fj = sp.Integer(1), sp.Integer(1)
        for f in factors:
            has_i, has_j = f.has(i), f.has(j)
            if has_i and has_j:
                raise ValueError(f"factor {f} depends on both indices")
            if has_j:
                fj *= f
            else:
                fi *= f  # factors free of both indices go with i (they are constants)
        sum_i = _single_sum(fi.subs(i, canonical), canonical, upper) if fi.has(i) else fi * upper
        sum_j = _single_sum(fj.subs(j, canonical), canonical, upper) if fj != 1 else upper
        total += coeff * sum_i * sum_j
    return total


def pretty_latex(expr) -> str:
    """LaTeX of a SymPy result as the book writes it: constants pulled out of sums, x_{i} rather than {x}_{i}."""
    import re

    text = sp.latex(sp.factor_terms(expr))
    return re.sub(r"\{([A-Za-z])\}_\{(\w+)\}", r"\1_{\2}", text)
