"""Problem 6.2: the Hessian of the linear least-squares loss, its trace and determinant, and convexity."""

from __future__ import annotations

import re

import numpy as np

from .result import BookContext, Check, ProblemResult, check_close
from .seed import derivative_verdict, seed_section

TITLE = "Hessian and convexity of the linear least-squares loss"
STATEMENT = (
    "A surface is convex if the eigenvalues of the Hessian $\\mathbf{H}[\\phi]$ are positive everywhere. Find an algebraic expression "
    "for the Hessian matrix of the linear regression model (eq. 6.5). Prove that this function is convex by showing that the "
    "eigenvalues are always positive, by showing that both the trace and the determinant of the matrix are positive."
)


# Tolerances of the checks, and why
HESSIAN_RTOL = 1e-12  # the closed form and autodiff sum the same 12 terms in float64: round-off only
SINGULAR_ATOL = 1e-12  # an eigenvalue that is exactly 0 in exact arithmetic comes out at round-off size


def solve(ctx: BookContext) -> ProblemResult:
    from ..data import Dataset
    from ..models import linear
    from ..objective import Objective, make_objective
    from ..symbolic.certificates import linear_least_squares_certificate
    from ..symbolic.derive import derive
    from ..symbolic.printing import book_latex

    # -- compute: the Hessian for symbolic I and its proof, then its numbers on the book's data and on
    # two data sets where strict convexity fails (all x_i equal; one point)
    d = derive("linear")
    hess = d.hessian
    cert = linear_least_squares_certificate()  # the proof, for symbolic I
    hessian_ok, trace_ok, det_identity_ok, det_nonneg_ok, det_zero_ok = (bool(ok) for _, ok in cert.steps)
    depends_on_phi = any(e.has(p) for e in hess for p in d.params)
    obj = make_objective("linear", "book:linear")
    phi = np.array([0.6, -0.2])
    h_auto = np.asarray(obj.hessian(phi))
    h_formula = d.hessian_numeric(phi, obj.data.x, obj.data.y)
    eig = np.linalg.eigvalsh(h_auto)
    same_x = Objective(linear(), Dataset(np.full(5, 0.7), np.arange(5.0), "equal x"))
    eig_same = np.linalg.eigvalsh(np.asarray(same_x.hessian(phi)))
    single = Objective(linear(), Dataset(np.array([1.3]), np.array([0.2]), "one point"))
    eig_one = np.linalg.eigvalsh(np.asarray(single.hessian(phi)))

    # -- checks, against independent references: SymPy's proof, autodiff, NumPy's closed forms
    xv = np.asarray(obj.data.x)
    tr_np, det_np = 2 * len(xv) + 2 * np.sum(xv**2), 4 * (len(xv) * np.sum(xv**2) - np.sum(xv) ** 2)
    lagrange_np = 2 * np.sum((xv[:, None] - xv[None, :]) ** 2)
    checks: list[Check] = [
        Check("SymPy Hessian = [[2I, 2 sum x_i], [2 sum x_i, 2 sum x_i^2]], independent of phi", hessian_ok and not depends_on_phi, book_latex(hess)),
        Check("SymPy: tr H = 2I + 2 sum x_i^2 > 0 (symbolic I)", trace_ok, cert.details["trace"]),
        Check("certificate: det H = 4(I sum x_i^2 - (sum x_i)^2) = 2 sum_i sum_j (x_i - x_j)^2 (symbolic I)", det_identity_ok, cert.details["det"]),
        Check("SymPy: sum_i sum_j (x_i - x_j)^2 is non-negative for real x", det_nonneg_ok, "is_nonnegative"),
        Check("certificate: det H = 0 exactly when all x_i are equal", det_zero_ok, "equal x -> 0, distinct x -> > 0"),
        check_close("formula on the book's 12 points vs autodiff Hessian", h_formula, h_auto, rtol=HESSIAN_RTOL, atol=HESSIAN_RTOL),
        check_close("eigenvalues: sum = trace, product = det (closed forms)", [eig.sum(), eig.prod()], [tr_np, det_np], rtol=HESSIAN_RTOL),
        Check("both eigenvalues positive on the book data", bool(np.all(eig > 0)), f"eigenvalues {eig.round(6).tolist()}"),
        check_close("det = 2 sum_ij (x_i - x_j)^2 on the book data", det_np, lagrange_np, rtol=HESSIAN_RTOL),
        # strictness needs two distinct x: with all x_i equal the determinant is exactly 0
        Check("all x_i equal: smallest eigenvalue 0 (not strictly convex)", abs(eig_same[0]) < SINGULAR_ATOL, f"eigenvalues {eig_same.round(12).tolist()}"),
        Check("one point: det 0 (errata 2025)", abs(eig_one[0]) < SINGULAR_ATOL, f"eigenvalues {eig_one.round(12).tolist()}"),
    ]

    # -- the seed sheet's verdict, then the text
    verdict, notes, _ = derivative_verdict("6.2")
    seed = seed_section("6.2")
    claims_pd = bool(re.search(r"positive definite|eigenvalues are always positive", seed))
    refuted = claims_pd and abs(eig_same[0]) < SINGULAR_ATOL  # a data set where the claimed strict positivity fails
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
    h_latex = r"\mathbf{H} = " + book_latex(hess)
    trace_latex = book_latex(hess.trace())
    summary = (
        f"$${h_latex}$$ the same at every $\\phi$ (the loss is quadratic). "
        f"$\\mathrm{{tr}}\\,\\mathbf{{H}} = {trace_latex} > 0$ and "
        "$\\det\\mathbf{H} = 4\\left(I\\sum_i x_i^2 - (\\sum_i x_i)^2\\right) = 2\\sum_{i}\\sum_{j}(x_i-x_j)^2 \\ge 0$. "
        "So both eigenvalues are $\\ge 0$: **the loss is convex** for any data; it is **strictly convex** (both eigenvalues $>0$, unique minimum) "
        "if and only if at least two $x_i$ differ. "
        f"On the book's 12 points the eigenvalues are {eig[0]:.6g} and {eig[1]:.6g}."
    )
    derivation = (
        "Differentiating the first derivatives of problem 6.1 once more:"
        "$$\\frac{\\partial^2L}{\\partial\\phi_0^2} = 2\\sum_i 1 = 2I,\\quad "
        "\\frac{\\partial^2L}{\\partial\\phi_0\\partial\\phi_1} = 2\\sum_i x_i,\\quad "
        "\\frac{\\partial^2L}{\\partial\\phi_1^2}=2\\sum_i x_i^2.$$"
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
            "trace": trace_latex,
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
