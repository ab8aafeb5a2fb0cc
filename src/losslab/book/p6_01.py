"""Problem 6.1: the derivatives of the least-squares loss of the linear model (eq. 6.5 -> eq. 6.7)."""

from __future__ import annotations

import numpy as np

from .result import BookContext, Check, ProblemResult, check_close, gradients_three_ways
from .seed import derivative_verdict

TITLE = "Derivatives of the least-squares loss (linear model)"
STATEMENT = (
    "Show that the derivatives of the least squares loss function in equation 6.5 are given by the expressions in equation 6.7."
    "$$L = \\sum_{i=1}^I (\\phi_0 + \\phi_1 x_i - y_i)^2 \\quad (6.5)$$"
)


# Tolerances of the checks, and why
FORMULA_RTOL = 1e-12  # the derived formula, autodiff and eq. 6.7 sum the same 12 terms in float64: round-off only
FD_STEP = 1e-6  # central differences: truncation O(h^2) times the third derivative, plus round-off O(eps |L| / h)
FD_RTOL = 1e-7  # both are ~1e-9 here
CHECK_VALUE, CHECK_VALUE_TOL = 12.367, 5e-4  # the notebook prints L(0.6, -0.2) to three decimals


def solve(ctx: BookContext) -> ProblemResult:
    import sympy as sp

    from ..objective import make_objective
    from ..symbolic.certificates import sums_equal
    from ..symbolic.derive import derive
    from ..symbolic.latex import indexed_base, symbol
    from ..symbolic.printing import book_latex

    # -- compute: the derivatives for symbolic I, then their values at five parameter vectors
    d = derive("linear")  # L = sum_{i=1}^I (phi_0 + phi_1 x_i - y_i)^2, differentiated for symbolic I
    d0, d1 = d.gradient
    obj = make_objective("linear", "book:linear")
    rng = np.random.default_rng(ctx.seed)
    points = [np.array([0.6, -0.2]), *rng.normal(0, 2, (4, 2))]
    derived, autodiff, analytic = gradients_three_ways(d, obj, points)
    loss_check = float(obj.value([0.6, -0.2]))
    verdict, notes, claims = derivative_verdict("6.1")  # the seed sheet, judged by losslab.symbolic

    # -- checks, against independent references: eq. 6.7 as written, autodiff, finite differences
    p0, p1, i, I = symbol("phi_0"), symbol("phi_1"), symbol("i"), symbol("I")
    x, y = indexed_base("x"), indexed_base("y")
    expected0 = 2 * sp.Sum(p0 + p1 * x[i] - y[i], (i, 1, I))
    expected1 = 2 * sp.Sum(x[i] * (p0 + p1 * x[i] - y[i]), (i, 1, I))
    fd = np.array([[(float(obj.value(p + FD_STEP * e)) - float(obj.value(p - FD_STEP * e))) / (2 * FD_STEP) for e in np.eye(2)]
                   for p in points])
    checks: list[Check] = [
        Check("SymPy: dL/dphi_0 = 2 sum_i (phi_0 + phi_1 x_i - y_i) (eq. 6.6 + 6.7)", sums_equal(d0, expected0), book_latex(d0)),
        Check("SymPy: dL/dphi_1 = 2 sum_i x_i (phi_0 + phi_1 x_i - y_i)", sums_equal(d1, expected1), book_latex(d1)),
        check_close("derived formula vs autodiff on the linear data (5 points)", derived, autodiff, rtol=FORMULA_RTOL, atol=FORMULA_RTOL),
        check_close("derived formula vs eq. 6.7 summed (losslab.derivatives)", derived, analytic, rtol=FORMULA_RTOL, atol=FORMULA_RTOL),
        check_close("derived formula vs central finite differences", derived, fd, rtol=FD_RTOL, atol=FD_RTOL),
        Check("published check value L(0.6, -0.2) = 12.367", abs(loss_check - CHECK_VALUE) < CHECK_VALUE_TOL, f"L = {loss_check:.6f}"),
        Check("seed sheet judged by losslab.symbolic.check_sheet", verdict is not None, notes),
    ]

    # -- text
    missing_sum = any("sum" in (c.reason or "").lower() for c in claims if c.verdict == "incorrect")
    grad_latex = d.gradient_latex()
    d0_latex = r"\frac{\partial L}{\partial \phi_0} = " + grad_latex["dL/dphi_0"]
    d1_latex = r"\frac{\partial L}{\partial \phi_1} = " + grad_latex["dL/dphi_1"]
    summary = (
        f"$${d0_latex}$$ $${d1_latex}$$ "
        "that is, $\\partial L/\\partial\\phi = \\sum_i \\partial l_i/\\partial\\phi$ (eq. 6.6) with the per-example terms of eq. 6.7. "
        f"The derived formulas match autodiff, eq. 6.7 and finite differences on the book's 12 points at 5 parameter vectors "
        f"(largest difference {np.max(np.abs(derived - autodiff)):.1e})."
    )
    derivation = (
        "The loss is a sum, and differentiation is linear, so the derivative of $L$ is the sum of the derivatives of its terms (eq. 6.6). "
        "By the chain rule, with the residual $r_i = \\phi_0+\\phi_1x_i-y_i$,"
        "$$\\frac{\\partial r_i^2}{\\partial\\phi_0} = 2r_i\\frac{\\partial r_i}{\\partial\\phi_0} = 2r_i,\\qquad \\frac{\\partial r_i^2}{\\partial\\phi_1} = 2r_i x_i,$$"
        "which are the two entries of eq. 6.7 for one point; summing over $i$ gives"
        f"$${d0_latex},\\qquad {d1_latex}.$$"
    )
    seed_notes = notes
    if verdict == "disagrees":
        seed_notes = (
            ("The sheet's two derivatives drop the sum over $i$: they are the per-example derivatives $\\partial l_i/\\partial\\phi$ of eq. 6.7, "
             "not the derivatives of $L$ in eq. 6.5 (they still contain the free index $i$). " if missing_sum else "")
            + "Checker: " + notes
        )
    return ProblemResult(
        problem="6.1",
        title=TITLE,
        statement=STATEMENT,
        answer={"dL_dphi0": d0_latex, "dL_dphi1": d1_latex, "max_abs_error_vs_autodiff": float(np.max(np.abs(derived - autodiff)))},
        summary=summary,
        checks=checks,
        seed_verdict=verdict or "no answer",
        seed_notes=seed_notes,
        derivation=derivation,
    )

