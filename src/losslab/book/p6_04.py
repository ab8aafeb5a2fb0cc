"""Problem 6.4: logistic regression — the model's parameters, its loss, derivatives, a data set, the loss
heatmap and convexity (proof and a numerical scan of the Hessian's smallest eigenvalue)."""

from __future__ import annotations

import numpy as np

from .result import BookContext, Check, ProblemResult, check_close
from .seed import seed_section

TITLE = "Logistic regression: parameters, loss, derivatives, heatmap, convexity"
STATEMENT = (
    "The logistic regression model $Pr(y=1|x) = \\mathrm{sig}[\\phi_0 + \\phi_1 x]$, $\\mathrm{sig}[z] = 1/(1+\\exp[-z])$. "
    "Plot $y$ against $x$ for different $\\phi_0, \\phi_1$ and explain each parameter. What is a suitable loss? Compute its "
    "derivatives. Generate ten points from $N(-1, 1)$ labelled 0 and ten from $N(1, 1)$ labelled 1; plot the loss as a heatmap "
    "over $\\phi_0, \\phi_1$. Is the loss convex? How could you prove it?"
)

LOSS_LATEX = r"L[\phi] = -\sum_{i=1}^{I} \left( y_i \log \mathrm{sig}[\phi_0+\phi_1 x_i] + (1-y_i)\log(1-\mathrm{sig}[\phi_0+\phi_1 x_i]) \right)"
DL_DPHI0_LATEX = r"\frac{\partial L}{\partial \phi_0} = \sum_{i=1}^{I} \left( \mathrm{sig}[\phi_0+\phi_1 x_i] - y_i \right)"
DL_DPHI1_LATEX = r"\frac{\partial L}{\partial \phi_1} = \sum_{i=1}^{I} \left( \mathrm{sig}[\phi_0+\phi_1 x_i] - y_i \right) x_i"
HESSIAN_LATEX = r"\mathbf{H} = \sum_{i=1}^{I} s_i(1-s_i) \begin{bmatrix} 1 & x_i \\ x_i & x_i^2 \end{bmatrix},\quad s_i = \mathrm{sig}[\phi_0+\phi_1 x_i]"

CURVES = [(0.0, 1.0), (0.0, 3.0), (0.0, 0.3), (0.0, -1.0), (2.0, 1.0), (-2.0, 1.0), (2.0, -2.0)]


def symbolic_derivatives():
    """The symbolic layer's logistic derivation checked against the book's forms: d l_i / d phi = (s_i - y_i) [1, x_i],
    d2 l_i / d phi_0^2 = s_i (1 - s_i) with s_i = sig[phi_0 + phi_1 x_i]; returns (d0, d1, whether all three hold)."""
    import sympy as sp

    from ..symbolic.derive import derive
    from ..symbolic.latex import indexed_base, symbol
    from ..symbolic.printing import Sig

    d = derive("logistic")
    i = symbol("i")
    x, y = indexed_base("x"), indexed_base("y")
    s = Sig(symbol("phi_0") + symbol("phi_1") * x[i])
    d0, d1 = d.example_grad
    ok = (
        sp.simplify(d0 - (s - y[i])) == 0
        and sp.simplify(d1 - (s - y[i]) * x[i]) == 0
        and sp.simplify(d.example_hessian[0, 0] - s * (1 - s)) == 0
    )
    return d0, d1, bool(ok)


def _landscape(obj, range0, range1, resolution):
    from ..landscape import grid2d, min_eigenvalue_map

    land = grid2d(obj, range0=range0, range1=range1, resolution=resolution)
    eig = min_eigenvalue_map(obj, range0, range1, resolution)
    return land, eig


# Tolerances of the checks, and why
CROSSING_ATOL = 1e-15  # sig(0) = 0.5 exactly; -phi_0/phi_1 carries at most one rounding
SLOPE_ATOL = 1e-14  # autodiff's sig'(0) = 1/4 times phi_1 (|phi_1| <= 3): a few ulps
GRADIENT_ATOL = 1e-10  # the closed-form derivatives in NumPy vs autodiff: sums of 20 terms of size <= |x| ~ 3
LIKELIHOOD_RTOL = 1e-10  # BCE vs -log of the Bernoulli likelihood, both summed from stable log1p terms
STATIONARY_GRAD = 1e-9  # Newton's method converges quadratically: after 30 steps the gradient is round-off
HEATMAP_RTOL = 1e-11  # the engine's grid vs NumPy on the same grid: round-off only
# the closed-form 2x2 eigenvalue (a + c)/2 - sqrt(...) cancels where lambda_min << lambda_max: eps * lambda_max
EIGENVALUE_RTOL, EIGENVALUE_ATOL = 1e-7, 1e-9
PSD_ATOL = 1e-12  # a PSD matrix's smallest eigenvalue computed in floating point may be -round-off
CHORD_ATOL = 1e-10  # the convexity inequality between losses of size ~10, up to their round-off
N_GRADIENT_POINTS, N_CHORDS, NEWTON_STEPS = 5, 200, 30


def solve(ctx: BookContext) -> ProblemResult:
    import jax

    from ..data import logistic_data
    from ..models import logistic
    from ..objective import Objective
    from ..optim.second_order import newton_path
    from ..plots.book import heatmap_figure, logistic_data_figure, sigmoid_family_figure
    from ..symbolic.certificates import logistic_certificate

    # -- compute
    # (i) the model for several parameters
    x = np.linspace(-6, 6, 400)
    curves = [(p0, p1, np.asarray(jax.nn.sigmoid(p0 + p1 * x))) for p0, p1 in CURVES]
    # (ii)+(iii) the data, the loss and its derivatives (symbolic, and the PSD certificate of the Hessian)
    data = logistic_data(ctx.seed)
    obj = Objective(logistic(), data)
    xd, yd = np.asarray(data.x), np.asarray(data.y)
    d0, d1, sym_ok = symbolic_derivatives()
    cert = logistic_certificate()
    # the minimum by Newton's method on the engine's exact gradient and Hessian
    phi = newton_path(obj, np.zeros(2), NEWTON_STEPS)[-1]
    grad_norm = float(np.linalg.norm(obj.grad(phi)))
    # (iv) the heatmap and (v) the smallest Hessian eigenvalue over it
    resolution = 41 if ctx.small else 121
    range0, range1 = (-4.0, 4.0), (-3.0, 6.0)
    land, eig = _landscape(obj, range0, range1, resolution)
    phi0, phi1, loss = np.asarray(land.phi0), np.asarray(land.phi1), np.asarray(land.loss)
    eig_values = np.asarray(eig.min_eigenvalue)
    scan_min = float(eig_values.min())

    # -- checks, against independent references: autodiff, closed forms in NumPy, the definition of convexity
    sig = lambda t, p0, p1: jax.nn.sigmoid(p0 + p1 * t)  # noqa: E731
    crossing_ok = all(abs(float(sig(-p0 / p1, p0, p1)) - 0.5) < CROSSING_ATOL for p0, p1 in CURVES)
    slope_ok = all(abs(float(jax.grad(sig)(-p0 / p1, p0, p1)) - p1 / 4) < SLOPE_ATOL for p0, p1 in CURVES)
    rng = np.random.default_rng(ctx.seed + 1)
    worst, likelihood_ok = 0.0, True
    for _ in range(N_GRADIENT_POINTS):
        p = rng.normal(0, 2, 2)
        s = 1 / (1 + np.exp(-(p[0] + p[1] * xd)))
        formula = np.array([np.sum(s - yd), np.sum((s - yd) * xd)])
        worst = max(worst, float(np.max(np.abs(formula - np.asarray(obj.grad(p))))))
        # the loss is minus the log Bernoulli likelihood prod s^y (1-s)^(1-y), its log taken factor by factor, with
        # 1 - s = sig[-z] evaluated directly: 1 - s cancels to a few digits where s is near 1, and the product of
        # 20 factors can underflow (seed-dependent failures before, from the reference, not from losslab)
        z = p[0] + p[1] * xd
        log_likelihood = float(np.sum(np.where(yd == 1, -np.log1p(np.exp(-z)), -np.log1p(np.exp(z)))))
        likelihood_ok &= abs(float(obj.value(p)) + log_likelihood) < LIKELIHOOD_RTOL * max(1, abs(log_likelihood))
    # the loss in NumPy on the same grid, and the closed-form eigenvalue of the 2x2 analytic Hessian
    P0, P1 = np.meshgrid(phi0, phi1)  # P0[j, i] = phi0[i]
    z = P0[..., None] + P1[..., None] * xd
    loss_np = np.sum(np.logaddexp(0, z) - yd * z, axis=-1)
    s = 1 / (1 + np.exp(-z))
    w = s * (1 - s)
    a, b, c = w.sum(-1), (w * xd).sum(-1), (w * xd * xd).sum(-1)
    lam_min = (a + c) / 2 - np.sqrt(((a - c) / 2) ** 2 + b**2)
    chord_ok = True  # convexity along random chords (the definition, brute force)
    for _ in range(N_CHORDS):
        pa, pb = rng.uniform(-4, 4, 2), rng.uniform(-4, 4, 2)
        lam = rng.uniform()
        chord_ok &= float(obj.value(lam * pa + (1 - lam) * pb)) <= lam * float(obj.value(pa)) + (1 - lam) * float(obj.value(pb)) + CHORD_ATOL
    checks: list[Check] = [
        Check("sig crosses 0.5 at x = -phi_0/phi_1", bool(crossing_ok), f"{len(CURVES)} parameter pairs"),
        Check("slope at the crossing is phi_1/4 (autodiff)", bool(slope_ok), "steepness grows with |phi_1|; its sign sets the direction"),
        Check("SymPy: dl/dphi_0 = sig - y, dl/dphi_1 = (sig - y) x, d2l/dphi_0^2 = sig(1 - sig)", bool(sym_ok), f"SymPy gives {d0} and {d1}"),
        Check("certificate: H = sum_i s_i(1 - s_i) [1, x_i]^T [1, x_i] is positive semi-definite (losslab.symbolic)", cert.holds, repr(cert)),
        Check("derivative formulas vs autodiff (5 random phi)", worst < GRADIENT_ATOL, f"max |difference| = {worst:.2e}"),
        Check("loss = -log Bernoulli likelihood", bool(likelihood_ok), "losslab's BCE vs -log prod s^y (1-s)^(1-y) in NumPy"),
        Check("maximum-likelihood fit: gradient vanishes", grad_norm < STATIONARY_GRAD, f"phi_hat = ({phi[0]:.4f}, {phi[1]:.4f}), |grad| = {grad_norm:.1e}"),
        check_close("heatmap vs NumPy loss on the same grid (loss[j, i] at (phi0[i], phi1[j]))", loss, loss_np, rtol=HEATMAP_RTOL, atol=HEATMAP_RTOL),
        check_close("min eigenvalue map vs closed-form 2x2 eigenvalue of the analytic Hessian", eig_values, lam_min, rtol=EIGENVALUE_RTOL, atol=EIGENVALUE_ATOL),
        Check("smallest Hessian eigenvalue >= 0 over the whole heatmap", scan_min >= -PSD_ATOL, f"min over {resolution}x{resolution} grid = {scan_min:.3e}"),
        Check("convexity by definition on 200 random chords", bool(chord_ok), "L(l a + (1-l) b) <= l L(a) + (1-l) L(b)"),
    ]

    # -- figures and text
    figures = [
        str(sigmoid_family_figure(x, curves, ctx.figure_path("p6_04_sigmoid_family.png"))),
        str(logistic_data_figure(xd, yd, (float(phi[0]), float(phi[1])), ctx.figure_path("p6_04_data.png"))),
        str(heatmap_figure(phi0, phi1, loss, ctx.figure_path("p6_04_loss_heatmap.png"), title="Problem 6.4: binary cross-entropy loss",
                           label="L[phi]", marker=phi)),
        str(heatmap_figure(phi0, phi1, np.maximum(eig_values, 1e-12), ctx.figure_path("p6_04_min_eigenvalue.png"),
                           title="smallest eigenvalue of the Hessian (>= 0 everywhere)", label="lambda_min", log=True, cmap="magma")),
    ]
    summary = (
        "**Parameters.** $\\mathrm{sig}[\\phi_0+\\phi_1 x]$ crosses $0.5$ at $x=-\\phi_0/\\phi_1$ (the decision boundary): $\\phi_0$ shifts the curve "
        "(by $-\\phi_0/\\phi_1$); $|\\phi_1|$ sets its steepness (slope $\\phi_1/4$ at the crossing); the sign of $\\phi_1$ decides whether "
        "$Pr(y=1|x)$ rises ($\\phi_1>0$) or falls with $x$; $\\phi_1=0$ gives the constant $\\mathrm{sig}[\\phi_0]$.\n\n"
        "**Loss.** Binary cross-entropy $" + LOSS_LATEX + "$: the negative log-likelihood of $y_i\\sim\\mathrm{Bernoulli}(\\mathrm{sig}[\\phi_0+\\phi_1x_i])$, "
        "the maximum-likelihood recipe of chapter 5 for binary labels.\n\n"
        "**Derivatives.** $" + DL_DPHI0_LATEX + "$, $" + DL_DPHI1_LATEX + "$.\n\n"
        f"**Data and heatmap** (seed {ctx.seed}): minimum at $\\hat\\phi=({phi[0]:.3f}, {phi[1]:.3f})$.\n\n"
        "**Convex: yes.** The Hessian is a positive combination of positive semi-definite matrices, so it is PSD everywhere; "
        f"the scan of its smallest eigenvalue over the heatmap finds a minimum of {scan_min:.2e} (never negative)."
    )
    derivation = (
        "With $z_i=\\phi_0+\\phi_1x_i$, $s_i=\\mathrm{sig}[z_i]$ and $\\mathrm{sig}'[z]=\\mathrm{sig}[z](1-\\mathrm{sig}[z])$:"
        "$$\\frac{\\partial l_i}{\\partial z_i} = -y_i\\frac{s_i(1-s_i)}{s_i} + (1-y_i)\\frac{s_i(1-s_i)}{1-s_i} = s_i - y_i,$$"
        "and $\\partial z_i/\\partial\\phi_0 = 1$, $\\partial z_i/\\partial\\phi_1 = x_i$ give the two derivatives above. Differentiating again,"
        "$$\\frac{\\partial^2 L}{\\partial\\phi_0^2}=\\sum_i s_i(1-s_i),\\quad "
        "\\frac{\\partial^2 L}{\\partial\\phi_0\\partial\\phi_1}=\\sum_i s_i(1-s_i)x_i,\\quad "
        "\\frac{\\partial^2 L}{\\partial\\phi_1^2}=\\sum_i s_i(1-s_i)x_i^2 .$$"
        "**Proof of convexity.** For any $\\mathbf{v}=(v_0,v_1)$: $\\mathbf{v}^T\\mathbf{H}\\mathbf{v} = \\sum_i s_i(1-s_i)(v_0+v_1x_i)^2 \\ge 0$ since $0<s_i<1$. "
        "So $\\mathbf{H}$ is positive semi-definite at every $\\phi$ and $L$ is convex. It is zero only if $v_0+v_1x_i=0$ for every $i$, impossible "
        "for $\\mathbf{v}\\ne 0$ once two $x_i$ differ: then $L$ is strictly convex (though with separable data the minimum can be at infinity). "
        "Equivalently: $\\mathrm{tr}\\,\\mathbf{H}>0$ and $\\det\\mathbf{H} = \\frac{1}{2}\\sum_{i,j}w_iw_j(x_i-x_j)^2 \\ge 0$ with $w_i=s_i(1-s_i)$."
    )
    seed = seed_section("6.4")
    has_answer = "Answer given" not in seed and len(seed.split("Is this loss function convex? How could you prove this?")[-1].strip()) > 20
    return ProblemResult(
        problem="6.4",
        title=TITLE,
        statement=STATEMENT,
        answer={
            "loss": LOSS_LATEX,
            "dL_dphi0": DL_DPHI0_LATEX,
            "dL_dphi1": DL_DPHI1_LATEX,
            "hessian": HESSIAN_LATEX,
            "convex": bool(scan_min >= -PSD_ATOL and sym_ok and cert.holds),
            "min_eigenvalue_scan": scan_min,
            "phi_hat": phi,
            "data_seed": ctx.seed,
            "crossing": "x = -phi_0/phi_1",
        },
        summary=summary,
        checks=checks,
        figures=figures,
        seed_verdict="no answer",
        seed_notes="The sheet gives no answer to this problem (only the placeholder 'Answer given'): nothing to compare."
        if not has_answer
        else "The sheet has text after the question here, but no computable claim to compare.",
        derivation=derivation,
    )
