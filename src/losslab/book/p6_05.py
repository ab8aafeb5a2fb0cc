"""Problem 6.5: the ten derivatives of the least-squares loss of the shallow ReLU network (eq. 3.1)."""

from __future__ import annotations

import numpy as np

from .result import BookContext, Check, ProblemResult, check_close, gradients_three_ways
from .seed import derivative_verdict

TITLE = "Derivatives of the shallow ReLU network's loss"
STATEMENT = (
    "Compute the derivatives of the least squares loss with respect to the ten parameters of the simple neural network of eq. 3.1, "
    "$$f[x,\\phi] = \\phi_0 + \\phi_1 a[\\theta_{10}+\\theta_{11}x] + \\phi_2 a[\\theta_{20}+\\theta_{21}x] + \\phi_3 a[\\theta_{30}+\\theta_{31}x].$$ "
    "Think carefully about what the derivative of the ReLU function $a[\\bullet]$ will be."
)

NAMES = ("phi_0", "phi_1", "phi_2", "phi_3", "theta_10", "theta_11", "theta_20", "theta_21", "theta_30", "theta_31")
LATEX_NAMES = ("\\phi_0", "\\phi_1", "\\phi_2", "\\phi_3", "\\theta_{10}", "\\theta_{11}", "\\theta_{20}", "\\theta_{21}", "\\theta_{30}", "\\theta_{31}")
CHECK_PARAMS = np.array([-0.3, 2.0, -1.0, 7.0, 0.3, -1.0, -1.0, 2.0, -0.5, 0.65])  # notebook 3.1's check value 9.385


def derivative_latex() -> dict[str, str]:
    """dL/dparam for the ten parameters, with h_{ik} = theta_k0 + theta_k1 x_i and r_i = f[x_i, phi] - y_i."""
    out = {"phi_0": r"\frac{\partial L}{\partial \phi_0} = 2\sum_i r_i"}
    for k in (1, 2, 3):
        out[f"phi_{k}"] = rf"\frac{{\partial L}}{{\partial \phi_{k}}} = 2\sum_i r_i\,a[h_{{i{k}}}]"
    for k in (1, 2, 3):
        out[f"theta_{k}0"] = rf"\frac{{\partial L}}{{\partial \theta_{{{k}0}}}} = 2\sum_i r_i\,\phi_{k}\,\mathbb{{I}}[h_{{i{k}}}>0]"
        out[f"theta_{k}1"] = rf"\frac{{\partial L}}{{\partial \theta_{{{k}1}}}} = 2\sum_i r_i\,\phi_{k}\,x_i\,\mathbb{{I}}[h_{{i{k}}}>0]"
    return out


# Tolerances of the checks, and why
FORMULA_RTOL = 1e-11  # SymPy's formula, autodiff and the core: float64 sums of 20 terms, round-off only
CONVENTION_GAP = 1e-6  # ReLU'(0) = 1 instead of 0 moves the kink point's gradient by O(1); round-off is ~1e-14
FD_STEP = 1e-6  # central differences at a point away from kinks (a kink within h would break them)
FD_RTOL = 1e-6  # truncation O(h^2) plus round-off O(eps |L| / h) ~ 1e-9, with room for the larger parameters
CHECK_VALUE, CHECK_VALUE_TOL = 9.385, 5e-4  # notebook 3.1 prints the loss to three decimals


def solve(ctx: BookContext) -> ProblemResult:
    from ..objective import make_objective
    from ..plots.book import derivative_check_figure
    from ..symbolic.derive import derive

    # -- compute: SymPy's derivation with a = Max(0, .) and a'[z] = I[z > 0] (0 at 0, like jax.nn.relu and
    # torch.relu), evaluated at seven points; one has hidden units exactly at 0 for some data point
    obj = make_objective("shallow", "book:shallow")
    xv, yv = np.asarray(obj.data.x), np.asarray(obj.data.y)
    sym = derive("shallow")
    loss_check = float(obj.value(CHECK_PARAMS))
    rng = np.random.default_rng(ctx.seed)
    kink = CHECK_PARAMS.copy()  # theta_k0 = -theta_k1 x_i, exact in floating point
    kink[4], kink[5] = -xv[3], 1.0  # unit 1 at 0 for x_3
    kink[6], kink[7] = -2.0 * xv[5], 2.0  # unit 2 at 0 for x_5
    kink[8], kink[9] = -0.5 * xv[7], 0.5  # unit 3 at 0 for x_7
    h_at = [kink[4] + kink[5] * xv[3], kink[6] + kink[7] * xv[5], kink[8] + kink[9] * xv[7]]
    points = [CHECK_PARAMS, *rng.normal(0, 1.5, (5, 10)), kink]
    derived, auto, core = gradients_three_ways(sym, obj, points)
    verdict, notes, _ = derivative_verdict("6.5")

    # -- checks, against independent references: autodiff, the core, finite differences. (torch's autograd at
    # the kink point is the test suite's reference: importing torch would cost the main job more than this problem)
    # at the kink the convention matters: with ReLU'(0) = 1 the theta derivatives would differ
    differs = float(np.max(np.abs(sym.grad(kink, xv, yv, relu_at_zero=1.0) - auto[-1])))
    p = points[1]
    fd = np.array([(float(obj.value(p + FD_STEP * e)) - float(obj.value(p - FD_STEP * e))) / (2 * FD_STEP) for e in np.eye(10)])
    checks: list[Check] = [
        Check("published check value L = 9.385 (notebook 3.1 parameters)", abs(loss_check - CHECK_VALUE) < CHECK_VALUE_TOL, f"L = {loss_check:.6f}"),
        Check("kink point: three hidden units exactly 0 at a data point", all(v == 0.0 for v in h_at), f"h = {h_at}"),
        check_close("SymPy-derived gradient vs autodiff (7 points, incl. the kink point)", derived, auto, rtol=FORMULA_RTOL, atol=FORMULA_RTOL),
        check_close("SymPy-derived gradient vs losslab.derivatives.shallow_example_grads", derived, core, rtol=FORMULA_RTOL, atol=FORMULA_RTOL),
        Check("the convention is visible: ReLU'(0) = 1 would give a different gradient at the kink point", differs > CONVENTION_GAP,
              f"max |difference| = {differs:.3g}"),
        check_close("vs central finite differences (a point away from kinks)", derived[1], fd, rtol=FD_RTOL, atol=FD_RTOL),
    ]
    checks.append(Check("seed sheet judged by losslab.symbolic.check_sheet", verdict is not None, notes))

    # -- text and figure
    latex = derivative_latex()
    figures = [
        str(
            derivative_check_figure(
                list(NAMES), derived.T, auto.T, ctx.figure_path("p6_05_gradient_check.png"),
                title="Problem 6.5: the ten derived derivatives vs autodiff (7 points incl. ReLU units exactly at 0)",
            )
        )
    ]
    summary = (
        "With $h_{ik}=\\theta_{k0}+\\theta_{k1}x_i$ and the residual $r_i = f[x_i,\\phi]-y_i$, the loss $L=\\sum_i r_i^2$ has "
        "$\\partial L/\\partial\\psi = 2\\sum_i r_i\\,\\partial f[x_i,\\phi]/\\partial\\psi$ and\n\n"
        + "\n".join(f"- ${v}$" for v in latex.values())
        + "\n\nThe ReLU $a[z]=\\max(0,z)$ has derivative $\\mathbb{I}[z>0]$: 0 for $z<0$, 1 for $z>0$; at $z=0$ it is not differentiable and any value in "
        "$[0,1]$ is a subgradient; losslab (like `jax.nn.relu` and `torch.relu`) uses **0 at 0**, and the checks include points where a hidden unit is exactly 0."
    )
    derivation = (
        "$f$ is linear in $\\phi_0,\\dots,\\phi_3$: $\\partial f/\\partial\\phi_0=1$, $\\partial f/\\partial\\phi_k = a[h_{k}]$. "
        "For the hidden-unit parameters the chain rule gives $\\partial f/\\partial\\theta_{k0} = \\phi_k\\,a'[h_k]$ and "
        "$\\partial f/\\partial\\theta_{k1} = \\phi_k\\,a'[h_k]\\,x$, with $a'[z] = \\mathbb{I}[z>0]$. Finally "
        "$\\partial (f-y)^2/\\partial\\psi = 2(f-y)\\,\\partial f/\\partial\\psi$ and the loss sums over $i$. "
        "SymPy derives the same from $a=\\mathrm{Max}(0,\\cdot)$ (its derivative is a Heaviside step, here fixed to 0 at 0)."
    )
    return ProblemResult(
        problem="6.5",
        title=TITLE,
        statement=STATEMENT,
        answer={"derivatives": latex, "relu_derivative_at_0": 0.0, "max_abs_error_vs_autodiff": float(np.max(np.abs(derived - auto)))},
        summary=summary,
        checks=checks,
        figures=figures,
        seed_verdict=verdict or "no answer",
        seed_notes=(
            notes
            if verdict != "agrees"
            else "The sheet's ten derivatives of $f$ and its ReLU derivative $\\mathbb{I}[z>0]$ are right (it leaves the value at 0 implicit). "
            "Its outer formula writes $y$ where it means $y_i$, so the checker leaves that line unchecked. Checker: " + notes
        ),
        derivation=derivation,
    )

