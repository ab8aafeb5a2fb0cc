"""Problem 6.1: the derivatives of the least-squares loss of the linear model (eq. 6.5 -> eq. 6.7)."""

from __future__ import annotations

import numpy as np

from .result import BookContext, Check, ProblemResult, check_close
from ._sums import pretty_latex
from .seed import derivative_verdict

TITLE = "Derivatives of the least-squares loss (linear model)"
STATEMENT = (
    "Show that the derivatives of the least squares loss function in equation 6.5 are given by the expressions in equation 6.7."
    "$$L = \\sum_{i=1}^I (\\phi_0 + \\phi_1 x_i - y_i)^2 \\quad (6.5)$$"
)


def symbolic_gradient():
    """SymPy: d/dphi_j of L = sum_{i=1}^I (phi_0 + phi_1 x_i - y_i)^2 for a symbolic number of points I."""
    import sympy as sp

    p0, p1 = sp.symbols("phi_0 phi_1", real=True)
    i, I = sp.symbols("i I", integer=True, positive=True)
    x, y = sp.IndexedBase("x"), sp.IndexedBase("y")
    loss = sp.Sum((p0 + p1 * x[i] - y[i]) ** 2, (i, 1, I))
    d0 = sp.diff(loss, p0)
    d1 = sp.diff(loss, p1)
    return {"symbols": (p0, p1, i, I, x, y), "loss": loss, "d0": d0, "d1": d1}


def summand_function(expr, symbols):
    """Lambdify the summand of a Sum (never the Sum itself) and sum it with NumPy."""
    import sympy as sp

    p0, p1, i, I, x, y = symbols
    expr = sp.expand(expr) if not isinstance(expr, sp.Sum) else expr
    coeff, sums = sp.Integer(1), expr
    if isinstance(expr, sp.Mul):
        coeff = sp.Mul(*[a for a in expr.args if not isinstance(a, sp.Sum)])
        sums = [a for a in expr.args if isinstance(a, sp.Sum)][0]
    xs, ys = sp.symbols("xs ys")
    body = sums.function.subs({x[i]: xs, y[i]: ys})
    f = sp.lambdify((p0, p1, xs, ys), coeff * body, "numpy")
    return lambda phi, xv, yv: float(np.sum(f(phi[0], phi[1], xv, yv)))


def solve(ctx: BookContext) -> ProblemResult:
    import sympy as sp

    from ..objective import make_objective

    sym = symbolic_gradient()
    p0, p1, i, I, x, y = sym["symbols"]
    d0, d1 = sym["d0"], sym["d1"]
    checks: list[Check] = []
    expected0 = 2 * sp.Sum(p0 + p1 * x[i] - y[i], (i, 1, I))
    expected1 = 2 * sp.Sum(x[i] * (p0 + p1 * x[i] - y[i]), (i, 1, I))
    same0 = sp.simplify((d0 - expected0).doit()) == 0
    same1 = sp.simplify(sp.expand((d1 - expected1).doit())) == 0 or _numeric_equal(d1, expected1, sym["symbols"])
    checks.append(Check("SymPy: dL/dphi_0 = 2 sum_i (phi_0 + phi_1 x_i - y_i) (eq. 6.6 + 6.7)", bool(same0), sp.sstr(d0)))
    checks.append(Check("SymPy: dL/dphi_1 = 2 sum_i x_i (phi_0 + phi_1 x_i - y_i)", bool(same1), sp.sstr(d1)))

    obj = make_objective("linear", "book:linear")
    xv, yv = np.asarray(obj.data.x), np.asarray(obj.data.y)
    g0, g1 = summand_function(d0, sym["symbols"]), summand_function(d1, sym["symbols"])
    rng = np.random.default_rng(ctx.seed)
    points = [np.array([0.6, -0.2]), *rng.normal(0, 2, (4, 2))]
    derived = np.array([[g0(p, xv, yv), g1(p, xv, yv)] for p in points])
    autodiff = np.array([np.asarray(obj.grad(p)) for p in points])
    analytic = np.array([np.asarray(obj.analytic_grad(p)) for p in points])
    h = 1e-6
    fd = np.array([[(float(obj.value(p + h * e)) - float(obj.value(p - h * e))) / (2 * h) for e in np.eye(2)] for p in points])
    checks.append(check_close("derived formula vs autodiff on the linear data (5 points)", derived, autodiff, rtol=1e-12, atol=1e-12))
    checks.append(check_close("derived formula vs eq. 6.7 summed (losslab.derivatives)", derived, analytic, rtol=1e-12, atol=1e-12))
    checks.append(check_close("derived formula vs central finite differences", derived, fd, rtol=1e-7, atol=1e-7))
    loss_check = float(obj.value([0.6, -0.2]))
    checks.append(Check("published check value L(0.6, -0.2) = 12.367", abs(loss_check - 12.367) < 5e-4, f"L = {loss_check:.6f}"))

    verdict, notes, claims = derivative_verdict("6.1")
    checks.append(Check("seed sheet judged by losslab.symbolic.check_sheet", verdict is not None, notes))
    missing_sum = any("sum" in (c.reason or "").lower() for c in claims if c.verdict == "incorrect")
    d0_latex = r"\frac{\partial L}{\partial \phi_0} = " + pretty_latex(d0)
    d1_latex = r"\frac{\partial L}{\partial \phi_1} = " + pretty_latex(d1)
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


def _numeric_equal(a, b, symbols, n: int = 5) -> bool:
    """Substitute I = n and random numbers: a fallback equality test for sums SymPy does not simplify."""
    import sympy as sp

    p0, p1, i, I, x, y = symbols
    rng = np.random.default_rng(1)
    subs = {p0: rng.normal(), p1: rng.normal()}
    ea = a.subs(I, n).doit()
    eb = b.subs(I, n).doit()
    for k in range(1, n + 1):
        subs[x[k]] = rng.normal()
        subs[y[k]] = rng.normal()
    return abs(float(ea.subs(subs)) - float(eb.subs(subs))) < 1e-12
