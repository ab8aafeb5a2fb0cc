"""Problem 6.10: the momentum term as a weighted sum of past gradients, and its weights."""

from __future__ import annotations

import numpy as np

from .result import BookContext, Check, ProblemResult, check_close
from .seed import derivative_verdict

TITLE = "Momentum as a weighted sum of past gradients"
STATEMENT = (
    "Show that the momentum term $\\mathbf{m}_t$ (eq. 6.11) is an infinite weighted sum of the gradients at the previous "
    "iterations and derive an expression for the coefficients (weights) of that sum. "
    "$$\\mathbf{m}_{t+1} \\leftarrow \\beta \\mathbf{m}_t + (1 - \\beta) \\sum_{i \\in \\mathcal{B}_t} \\frac{\\partial l_i[\\phi_t]}{\\partial \\phi}$$"
)

WEIGHTS_LATEX = (
    r"\mathbf{m}_{t+1} = \beta^{t+1}\mathbf{m}_0 + \sum_{k=0}^{t} (1-\beta)\,\beta^{t-k}\,\mathbf{g}_k,"
    r"\qquad w_k = (1-\beta)\,\beta^{t-k}"
)


def momentum_weights(beta: float, t: int) -> np.ndarray:
    """w_k = (1 - beta) beta^(t - k), k = 0..t: the weight of the gradient g_k in m_{t+1} (oldest first)."""
    k = np.arange(t + 1)
    return (1.0 - beta) * beta ** (t - k)


def unrolled(beta: float, m0: np.ndarray, grads: np.ndarray) -> np.ndarray:
    """The closed form beta^(t+1) m_0 + sum_k w_k g_k for grads g_0..g_t (rows)."""
    t = grads.shape[0] - 1
    return beta ** (t + 1) * m0 + momentum_weights(beta, t) @ grads


def recurrence(beta: float, m0: np.ndarray, grads: np.ndarray) -> np.ndarray:
    """Eq. 6.11 run step by step: m <- beta m + (1 - beta) g."""
    m = np.array(m0, dtype=np.float64)
    for g in grads:
        m = beta * m + (1.0 - beta) * g
    return m


# Tolerances of the checks, and why
RECURRENCE_RTOL = 1e-12  # 200 float64 steps of m <- beta m + (1 - beta) g vs the closed form: round-off only
ENGINE_RTOL, ENGINE_ATOL = 1e-10, 1e-12  # the engine's m is recovered as -update / alpha: one more rounding per entry
WEIGHT_SUM_RTOL = 1e-12


def _engine_momentum(beta: float, alpha: float, grads: np.ndarray) -> np.ndarray:
    """The engine's optimiser (eq. 6.11) fed ``grads``: its updates are -alpha m_{t+1}, so m_{t+1} is recovered."""
    import jax.numpy as jnp

    from ..optim import make_optimizer

    opt = make_optimizer("momentum", learning_rate=alpha, beta=beta)
    dim = grads.shape[1]
    state, params, engine_m = opt.init(jnp.zeros(dim)), jnp.zeros(dim), None
    for g in grads:
        updates, state = opt.update(jnp.asarray(g), state, params)
        engine_m = -np.asarray(updates) / alpha
    return engine_m


def solve(ctx: BookContext) -> ProblemResult:
    from ..plots.book import momentum_weights_figure
    from ..symbolic.certificates import momentum_certificate

    # -- compute: the unrolled recurrence, exactly (losslab.symbolic):
    # m_{t+1} = beta^{t+1} m_0 + (1 - beta) sum_k beta^k g_{t-k}, i.e. g_k has weight (1 - beta) beta^(t - k);
    # then the closed form on random gradients in 5 dimensions with m_0 != 0, and the engine's momentum
    cert = momentum_certificate(seed=ctx.seed)
    base_ok, induction_ok, exact_ok, _, _ = (ok for _, ok in cert.steps)  # its run and weight-sum steps: checked below on 200 steps
    rng = np.random.default_rng(ctx.seed)
    beta, steps, dim, alpha = 0.9, 200, 5, 0.1
    grads = rng.standard_normal((steps, dim))
    m0 = rng.standard_normal(dim)
    closed = unrolled(beta, m0, grads)
    engine_m = _engine_momentum(beta, alpha, grads)
    weight_sum = float(momentum_weights(beta, steps - 1).sum())
    # the seed's formula: (1 - beta) sum_{i=0}^t beta^i g_{t-i}  (no m_0 term); a short run (t = 4, m_0 != 0) shows the omitted term
    seed_formula = (1 - beta) * sum(beta**i * grads[steps - 1 - i] for i in range(steps))
    short = grads[:5]
    seed_short = (1 - beta) * sum(beta**i * short[4 - i] for i in range(5))
    seed_gap_m0 = float(np.max(np.abs(seed_short - recurrence(beta, m0, short))))
    verdict, checker_notes, _ = derivative_verdict("6.10")

    # -- checks, against independent references: the recurrence run step by step, the geometric series
    run = recurrence(beta, m0, grads)
    max_abs_error = float(np.max(np.abs(closed - run)))
    seed_matches_m0_zero = bool(np.allclose(seed_formula, recurrence(beta, np.zeros(dim), grads), rtol=RECURRENCE_RTOL, atol=RECURRENCE_RTOL))
    checks: list[Check] = [
        Check("SymPy: unrolled recurrence, coefficient of g_k is (1-beta) beta^(t-k) and of m_0 is beta^(t+1)", bool(exact_ok),
              "t = 0..8: the closed form equals the iterated recurrence exactly (symbolic beta, m_0, g_k)"),
        Check("SymPy: proof by induction for symbolic t (base case t = 0 and induction step)", bool(base_ok and induction_ok), cert.details["closed_form"]),
        check_close("closed form vs the recurrence (200 steps, m_0 != 0)", closed, run, rtol=RECURRENCE_RTOL, atol=RECURRENCE_RTOL),
        check_close("losslab.optim momentum (m_0 = 0) vs closed form", engine_m, unrolled(beta, np.zeros(dim), grads), rtol=ENGINE_RTOL, atol=ENGINE_ATOL),
        check_close("weights sum to 1 - beta^(t+1)", weight_sum, 1 - beta**steps, rtol=WEIGHT_SUM_RTOL),
        Check("seed sheet judged by losslab.symbolic.check_sheet", verdict is not None, checker_notes),
    ]

    # -- figure and text
    figures = [str(momentum_weights_figure({b: momentum_weights(b, 30) for b in (0.6, 0.9)}, ctx.figure_path("p6_10_momentum_weights.png")))]
    summary = (
        "Unrolling eq. 6.11 gives $" + WEIGHTS_LATEX + "$ where $\\mathbf{g}_k$ is the (batch) gradient at iteration $k$. "
        "The weights decay geometrically with the age $t-k$ of the gradient: an exponentially weighted moving average. "
        f"They sum to $1-\\beta^{{t+1}}$ (not 1), which is why Adam divides by $1-\\beta^{{t+1}}$ (eq. 6.16). "
        f"For $t\\to\\infty$ the sum becomes the infinite series $\\sum_{{j\\ge 0}}(1-\\beta)\\beta^j \\mathbf{{g}}_{{t-j}}$ "
        f"and the $\\mathbf{{m}}_0$ term vanishes. Closed form vs a 200-step run: max error {max_abs_error:.2e}."
    )
    derivation = (
        "Write $\\mathbf{g}_t = \\sum_{i\\in\\mathcal{B}_t} \\partial l_i[\\phi_t]/\\partial\\phi$. Substituting the recurrence into itself,"
        "$$\\mathbf{m}_{t+1} = \\beta\\mathbf{m}_t + (1-\\beta)\\mathbf{g}_t = \\beta^2\\mathbf{m}_{t-1} + (1-\\beta)(\\mathbf{g}_t + \\beta\\mathbf{g}_{t-1})$$"
        "and after $t+1$ substitutions (induction on $t$):"
        "$$\\mathbf{m}_{t+1} = \\beta^{t+1}\\mathbf{m}_0 + (1-\\beta)\\sum_{k=0}^{t}\\beta^{t-k}\\mathbf{g}_k .$$"
        "Induction step: if it holds for $t$, then $\\beta\\mathbf{m}_{t+1} + (1-\\beta)\\mathbf{g}_{t+1} = "
        "\\beta^{t+2}\\mathbf{m}_0 + (1-\\beta)\\sum_{k=0}^{t+1}\\beta^{t+1-k}\\mathbf{g}_k$. "
        "The weights sum to $(1-\\beta)\\sum_{j=0}^{t}\\beta^j = 1-\\beta^{t+1}$.\n\n"
        "It is a finite sum of the $t+1$ gradients seen so far plus the initial term $\\beta^{t+1}\\mathbf{m}_0$; it is an "
        "\"infinite weighted sum\" only in the limit (or if the recursion is imagined to have started infinitely long ago), "
        "when $\\beta^{t+1}\\mathbf{m}_0\\to 0$ for $0\\le\\beta<1$."
    )
    seed_notes = (
        "The sheet's formula $\\mathbf{m}_{t+1} = (1-\\beta)\\sum_{i=0}^t\\beta^i\\nabla l_{t-i}$ and its weights $(1-\\beta)\\beta^i$ are right "
        f"under the book's convention $\\mathbf{{m}}_0 = 0$ (its notebooks start momentum there; numerically equal to the recurrence: "
        f"{seed_matches_m0_zero}). From another starting value the term $\\beta^{{t+1}}\\mathbf{{m}}_0$ would be missing "
        f"(after 5 steps from a random $\\mathbf{{m}}_0$ it is off by {seed_gap_m0:.2e}). "
        "It writes a finite sum but calls it infinite: the sum is finite at every $t$ and becomes an infinite series only as "
        "$t\\to\\infty$. It does not note that the weights sum to $1-\\beta^{t+1}$. Checker: " + checker_notes
    )
    return ProblemResult(
        problem="6.10",
        title=TITLE,
        statement=STATEMENT,
        answer={
            "weights": WEIGHTS_LATEX,
            "max_abs_error": max_abs_error,
            "weight_sum": weight_sum,
            "beta": beta,
            "steps": steps,
            "seed_formula_matches_when_m0_zero": seed_matches_m0_zero,
        },
        summary=summary,
        checks=checks,
        figures=figures,
        seed_verdict=verdict or ("agrees" if seed_matches_m0_zero else "disagrees"),
        seed_notes=seed_notes,
        derivation=derivation,
    )
