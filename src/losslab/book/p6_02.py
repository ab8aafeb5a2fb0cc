"""Problem 6.2: the Hessian of the linear least-squares loss, its trace and determinant, and convexity."""

from __future__ import annotations

import re

import numpy as np

from ._sums import pretty_latex, split_double_sum
from .result import BookContext, Check, ProblemResult, check_close
from .seed import derivative_verdict, seed_section

TITLE = "Hessian and convexity of the linear least-squares loss"
STATEMENT = (
    "A surface is convex if the eigenvalues of the Hessian $\\mathbf{H}[\\phi]$ are positive everywhere. Find an algebraic expression "
    "for the Hessian matrix of the linear regression model (eq. 6.5). Prove that this function is convex by showing that the "
    "eigenvalues are always positive, by showing that both the trace and the determinant of the matrix are positive."
)


def symbolic_hessian():
    """SymPy: the Hessian of L = sum_{i=1}^I (phi_0 + phi_1 x_i - y_i)^2, its trace and determinant, and the
    certificate det H = 2 sum_i sum_j (x_i - x_j)^2 for a symbolic number of points I."""
    import sympy as sp

    p0, p1 = sp.symbols("phi_0 phi_1", real=True)
    i, j, I = sp.symbols("i j I", integer=True, positive=True)
    x, y = sp.IndexedBase("x", real=True), sp.IndexedBase("y", real=True)
    loss = sp.Sum((p0 + p1 * x[i] - y[i]) ** 2, (i, 1, I))
    hess = sp.Matrix(2, 2, lambda a, b: sp.factor_terms(sp.diff(loss, (p0, p1)[a], (p0, p1)[b]).doit()))
    trace = sp.factor_terms(hess.trace())
    det = sp.expand(hess.det())
    lagrange = 2 * split_double_sum((x[i] - x[j]) ** 2, i, j, I, i)  # 2 sum_i sum_j (x_i - x_j)^2, expanded
    certificate = sp.simplify(det - sp.expand(lagrange)) == 0
    nonneg = sp.Sum(sp.Sum((x[i] - x[j]) ** 2, (j, 1, I)), (i, 1, I)).is_nonnegative
    depends_on_phi = any(e.has(p0) or e.has(p1) for e in hess)
    return {
        "hessian": hess,
        "trace": trace,
        "det": det,
        "certificate": bool(certificate),
        "double_sum_nonnegative": bool(nonneg),
        "depends_on_phi": depends_on_phi,
        "symbols": (p0, p1, i, j, I, x, y),
    }


def hessian_latex(hess) -> str:
    entries = [[pretty_latex(hess[a, b]) for b in range(2)] for a in range(2)]
    return r"\mathbf{H} = \begin{bmatrix} " + entries[0][0] + " & " + entries[0][1] + r" \\ " + entries[1][0] + " & " + entries[1][1] + r" \end{bmatrix}"


def solve(ctx: BookContext) -> ProblemResult:
    import sympy as sp

    from ..data import Dataset
    from ..objective import Objective, make_objective
    from ..models import linear

    sym = symbolic_hessian()
    hess, trace, det = sym["hessian"], sym["trace"], sym["det"]
    p0, p1, i, j, I, x, y = sym["symbols"]
    checks: list[Check] = []
    expected = sp.Matrix([[2 * I, 2 * sp.Sum(x[i], (i, 1, I))], [2 * sp.Sum(x[i], (i, 1, I)), 2 * sp.Sum(x[i] ** 2, (i, 1, I))]])
    checks.append(Check("SymPy Hessian = [[2I, 2 sum x_i], [2 sum x_i, 2 sum x_i^2]], independent of phi",
                        all(sp.simplify(e) == 0 for e in (hess - expected)) and not sym["depends_on_phi"], sp.sstr(hess)))
    checks.append(Check("certificate: det H = 4(I sum x_i^2 - (sum x_i)^2) = 2 sum_i sum_j (x_i - x_j)^2 (symbolic I)", sym["certificate"], sp.sstr(det)))
    checks.append(Check("SymPy: sum_i sum_j (x_i - x_j)^2 is non-negative for real x", sym["double_sum_nonnegative"], "is_nonnegative"))

    obj = make_objective("linear", "book:linear")
    phi = np.array([0.6, -0.2])
    h_auto = np.asarray(obj.hessian(phi))
    h_formula = np.asarray(sp.lambdify((), expected.subs(I, 12).doit().subs({x[k + 1]: float(v) for k, v in enumerate(obj.data.x)}), "numpy")())
    checks.append(check_close("formula on the book's 12 points vs autodiff Hessian", h_formula, h_auto, rtol=1e-12, atol=1e-12))
    eig = np.linalg.eigvalsh(h_auto)
    xv = np.asarray(obj.data.x)
    tr_np, det_np = 2 * len(xv) + 2 * np.sum(xv**2), 4 * (len(xv) * np.sum(xv**2) - np.sum(xv) ** 2)
    checks.append(check_close("eigenvalues: sum = trace, product = det (closed forms)", [eig.sum(), eig.prod()], [tr_np, det_np], rtol=1e-12))
    checks.append(Check("both eigenvalues positive on the book data", bool(np.all(eig > 0)), f"eigenvalues {eig.round(6).tolist()}"))
    lagrange_np = 2 * np.sum((xv[:, None] - xv[None, :]) ** 2)
    checks.append(check_close("det = 2 sum_ij (x_i - x_j)^2 on the book data", det_np, lagrange_np, rtol=1e-12))
    # strictness needs two distinct x: with all x_i equal the determinant is exactly 0
    same_x = Objective(linear(), Dataset(np.full(5, 0.7), np.arange(5.0), "equal x"))
    eig_same = np.linalg.eigvalsh(np.asarray(same_x.hessian(phi)))
    checks.append(Check("all x_i equal: smallest eigenvalue 0 (not strictly convex)", abs(eig_same[0]) < 1e-12, f"eigenvalues {eig_same.round(12).tolist()}"))
    single = Objective(linear(), Dataset(np.array([1.3]), np.array([0.2]), "one point"))
    eig_one = np.linalg.eigvalsh(np.asarray(single.hessian(phi)))
    checks.append(Check("one point: det 0 (errata 2025)", abs(eig_one[0]) < 1e-12, f"eigenvalues {eig_one.round(12).tolist()}"))

    verdict, notes, _ = derivative_verdict("6.2")
    seed = seed_section("6.2")
    claims_pd = bool(re.search(r"positive definite|eigenvalues are always positive", seed))
    refuted = claims_pd and abs(eig_same[0]) < 1e-12  # a data set where the claimed strict positivity fails
    seed_verdict = "disagrees" if refuted or verdict == "disagrees" else (verdict or "no answer")
    if verdict == "agrees":
        formulas = f"The sheet's Hessian, trace and determinant are right (checker: {notes}). "
    elif verdict == "disagrees":
        formulas = f"The sheet checker finds errors in its formulas: {notes}. "
    else:
        formulas = f"Its formulas could not be checked automatically ({notes}); they match the Hessian derived here. "
    seed_notes = formulas + (
        "Its proof is wrong: 'both positive due to the squared terms' does not follow for the determinant, which is a difference "
        "$4I\\sum x_i^2 - 4(\\sum x_i)^2$; it needs the Cauchy-Schwarz/Lagrange identity "
        "$I\\sum x_i^2-(\\sum x_i)^2=\\frac{1}{2}\\sum_{i,j}(x_i-x_j)^2\\ge 0$. And the conclusion 'positive definite' is false in general: "
        f"with one point or all $x_i$ equal the determinant is 0 (computed smallest eigenvalue {abs(eig_same[0]):.1e}), so the loss is convex "
        "but strictly convex only with at least two distinct $x_i$ (errata 2025)."
        if refuted
        else ""
    )
    h_latex = hessian_latex(hess)
    summary = (
        f"$${h_latex}$$ the same at every $\\phi$ (the loss is quadratic). "
        f"$\\mathrm{{tr}}\\,\\mathbf{{H}} = {pretty_latex(trace)} > 0$ and "
        "$\\det\\mathbf{H} = 4\\left(I\\sum_i x_i^2 - (\\sum_i x_i)^2\\right) = 2\\sum_{i}\\sum_{j}(x_i-x_j)^2 \\ge 0$. "
        "So both eigenvalues are $\\ge 0$: **the loss is convex** for any data; it is **strictly convex** (both eigenvalues $>0$, unique minimum) "
        "if and only if at least two $x_i$ differ. "
        f"On the book's 12 points the eigenvalues are {eig[0]:.6g} and {eig[1]:.6g}."
    )
    derivation = (
        "Differentiating the first derivatives of problem 6.1 once more:"
        "$$\\frac{\\partial^2L}{\\partial\\phi_0^2} = 2\\sum_i 1 = 2I,\\quad \\frac{\\partial^2L}{\\partial\\phi_0\\partial\\phi_1} = 2\\sum_i x_i,\\quad \\frac{\\partial^2L}{\\partial\\phi_1^2}=2\\sum_i x_i^2.$$"
        "For a symmetric $2\\times 2$ matrix the eigenvalues $\\lambda_1,\\lambda_2$ satisfy $\\lambda_1+\\lambda_2 = \\mathrm{tr}\\,\\mathbf{H}$ and "
        "$\\lambda_1\\lambda_2=\\det\\mathbf{H}$; both are positive iff the trace and the determinant are. The trace $2I+2\\sum x_i^2$ is positive. For the determinant,"
        "$$\\sum_{i=1}^I\\sum_{j=1}^I (x_i-x_j)^2 = 2I\\sum_i x_i^2 - 2\\left(\\sum_i x_i\\right)^2,$$"
        "(expand the square and split the double sums; verified by SymPy for symbolic $I$), so "
        "$\\det\\mathbf{H} = 2\\sum_{i,j}(x_i-x_j)^2\\ge 0$, with equality iff all $x_i$ are equal. "
        "Hence $\\mathbf{H}$ is positive semi-definite everywhere (convex), and positive definite (strictly convex) iff two $x_i$ differ."
    )
    return ProblemResult(
        problem="6.2",
        title=TITLE,
        statement=STATEMENT,
        answer={
            "hessian": h_latex,
            "trace": pretty_latex(trace),
            "determinant": r"4\left(I\sum_i x_i^2 - (\sum_i x_i)^2\right) = 2\sum_{i,j}(x_i-x_j)^2",
            "convex": True,
            "strictly_convex_condition": "at least two distinct x_i",
            "eigenvalues_book_data": eig,
            "hessian_book_data": h_auto,
        },
        summary=summary,
        checks=checks,
        seed_verdict=seed_verdict,
        seed_notes=seed_notes,
        derivation=derivation,
    )
