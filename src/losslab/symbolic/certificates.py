"""Convexity certificates and the unrolled momentum recurrence, proved with SymPy.

- :func:`linear_least_squares_certificate` (problem 6.2): for the linear model with
  least squares, H = [[2I, 2 sum x_i], [2 sum x_i, 2 sum x_i^2]] for *symbolic* I;
  tr H = 2I + 2 sum x_i^2 > 0 and
  det H = 4 (I sum_i x_i^2 - (sum_i x_i)^2) = 2 sum_i sum_j (x_i - x_j)^2 >= 0,
  zero exactly when all x_i are equal. The identity is proved by
  :func:`linearize_sums`, which expands double sums and splits products of
  one-index sums (SymPy does not do this by itself for symbolic I).
- :func:`logistic_certificate` (problem 6.4 (v)): the per-example Hessian of the
  binary cross-entropy is s_i (1 - s_i) [1, x_i]^T [1, x_i], s_i = sig[phi_0 + phi_1 x_i];
  u^T H u = sum_i s_i (1 - s_i) (u_0 + u_1 x_i)^2 >= 0, so H is positive semidefinite.
- :func:`momentum_certificate` (problem 6.10, eq. 6.11): m_{t+1} = beta m_t + (1 - beta) g_t
  unrolls to m_{t+1} = beta^{t+1} m_0 + (1 - beta) sum_{k=0}^t beta^k g_{t-k}: proved by
  induction for symbolic t, and checked against an actual run of the recurrence.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import sympy as sp

from .derive import derive
from .latex import indexed_base, symbol
from .printing import Sig, book_latex

__all__ = [
    "Certificate",
    "linearize_sums",
    "sums_equal",
    "linear_least_squares_certificate",
    "logistic_certificate",
    "momentum_certificate",
    "momentum_unrolled",
    "unrolled_matches_recurrence",
    "written_out",
]


@dataclass(frozen=True)
class Certificate:
    """A proof: the statement (LaTeX), the steps that were verified, and whether all of them held."""

    name: str
    statement: str
    steps: tuple[tuple[str, bool], ...]
    details: dict = field(default_factory=dict, compare=False)

    @property
    def holds(self) -> bool:
        return all(ok for _, ok in self.steps)

    def __repr__(self) -> str:
        return f"Certificate({self.name!r}, holds={self.holds}, {len(self.steps)} steps)"

    def to_dict(self) -> dict:
        return {"name": self.name, "statement": self.statement, "holds": self.holds,
                "steps": [{"step": s, "verified": ok} for s, ok in self.steps]}


_CANONICAL = sp.Symbol("k_", integer=True)


def linearize_sums(expr):
    """Rewrite sums over 1..I into sums of single monomial factors, pulled apart.

    sum_i sum_j a(i) b(j) c -> c (sum_i a(i)) (sum_j b(j)); sum_i c -> (upper - lower + 1) c.
    Bound indices are renamed canonically so that sum_j x_j and sum_i x_i are the same object.
    """
    if isinstance(expr, sp.Sum):
        body = linearize_sums(expr.function)
        for k, lo, hi in expr.limits:
            total = []
            for term in sp.Add.make_args(sp.expand(body)):
                dep, indep = [], []
                for factor in sp.Mul.make_args(term):
                    (dep if k in factor.free_symbols else indep).append(factor)
                if dep:
                    inner = sp.Mul(*dep)
                    canonical = sp.Dummy("k", integer=True)
                    inner = inner.xreplace({k: canonical})
                    total.append(sp.Mul(*indep) * sp.Sum(inner, (canonical, lo, hi)))
                else:
                    total.append((hi - lo + 1) * sp.Mul(*indep))
            body = sp.Add(*total)
        return _canonical_sums(body)
    if expr.args and not isinstance(expr, (sp.Indexed, sp.Symbol)):
        return expr.func(*[linearize_sums(a) for a in expr.args])
    return expr


def sums_equal(a, b) -> bool:
    """Are ``a`` and ``b`` (sums over 1..I, symbolic I) identical? Decided on their linearised forms."""
    return sp.expand(linearize_sums(a) - linearize_sums(b)) == 0


def _canonical_sums(expr):
    """Every single-index sum gets the same bound index name."""
    return expr.replace(
        lambda e: isinstance(e, sp.Sum) and len(e.limits) == 1,
        lambda e: sp.Sum(e.function.xreplace({e.limits[0][0]: _CANONICAL}), (_CANONICAL, *e.limits[0][1:])),
    )


def linear_least_squares_certificate() -> Certificate:
    """Problem 6.2: L = sum_i (phi_0 + phi_1 x_i - y_i)^2 is convex, for symbolic I."""
    d = derive("linear")
    I = symbol("I")
    i, j = symbol("i"), symbol("j")
    x = indexed_base("x")
    H = d.hessian
    steps = []
    expected = sp.ImmutableMatrix([[2 * I, 2 * sp.Sum(x[i], (i, 1, I))], [2 * sp.Sum(x[i], (i, 1, I)), 2 * sp.Sum(x[i] ** 2, (i, 1, I))]])
    same_h = all(sums_equal(a, b) for a, b in zip(H, expected))
    steps.append((r"\mathbf{H} = \begin{bmatrix} 2I & 2\sum_i x_i \\ 2\sum_i x_i & 2\sum_i x_i^2 \end{bmatrix} for every \phi (symbolic I)", same_h))
    trace = H.trace()
    # SymPy's assumptions decide 2I + 2 sum x_i^2 > 0 as it stands (I a positive integer); simplify (0.05 s) only if not
    linear_trace = linearize_sums(trace)
    positive = bool(linear_trace.is_positive) or bool(sp.simplify(linear_trace).is_positive) or _positive_trace(trace)
    steps.append((r"\mathrm{tr}\,\mathbf{H} = 2I + 2\sum_i x_i^2 > 0 \text{ since } I \geq 1", positive))
    det = sp.expand(linearize_sums(H.det()))
    double = 2 * sp.Sum(sp.Sum((x[i] - x[j]) ** 2, (j, 1, I)), (i, 1, I))
    identity = sums_equal(det, double)
    steps.append((r"\det \mathbf{H} = 4\left(I \sum_i x_i^2 - \left(\sum_i x_i\right)^2\right) = 2 \sum_i \sum_j (x_i - x_j)^2", identity))
    nonneg = bool(sp.Sum((x[i] - x[j]) ** 2, (j, 1, I), (i, 1, I)).is_nonnegative) and bool(((x[i] - x[j]) ** 2).is_nonnegative)
    steps.append((r"(x_i - x_j)^2 \geq 0 \Rightarrow \det \mathbf{H} \geq 0", nonneg))
    # zero exactly when all x_i are equal: each square vanishes iff x_i = x_j; check on concrete data too
    concrete_equal = bool(_det_at([0.7] * 5) == 0)
    concrete_spread = bool(_det_at([0.7, 0.7, 0.7, 0.7, 0.71]) > 0)
    steps.append((r"\det \mathbf{H} = 0 \iff x_i = x_j \ \forall i, j \text{ (every square vanishes); "
                  r"checked: equal } x \Rightarrow 0, \text{ distinct} \Rightarrow > 0",
                  concrete_equal and concrete_spread))
    statement = (r"L[\phi] = \sum_{i=1}^I (\phi_0 + \phi_1 x_i - y_i)^2 \text{ is convex: } \mathrm{tr}\,\mathbf{H} > 0,\ "
                 r"\det \mathbf{H} = 2 \sum_{i=1}^I \sum_{j=1}^I (x_i - x_j)^2 \geq 0 \text{, strictly convex unless all } x_i \text{ are equal}")
    return Certificate("linear least squares (problem 6.2)", statement, tuple(steps),
                       {"H": book_latex(H), "trace": book_latex(trace), "det": book_latex(H.det())})


def _positive_trace(trace) -> bool:
    I = symbol("I")
    # 2I + 2 sum x_i^2 with I a positive integer: the first term is positive, the second nonnegative
    rest = sp.expand(trace - 2 * I)
    return bool(I.is_positive) and bool(rest.is_nonnegative)


def _det_at(xs) -> sp.Rational:
    I = symbol("I")
    x = indexed_base("x")
    H = derive("linear").hessian.xreplace({I: len(xs)}).applyfunc(written_out)
    values = {x[k + 1]: sp.Rational(str(v)) for k, v in enumerate(xs)}
    return sp.nsimplify(H.det().xreplace(values))


def logistic_certificate() -> Certificate:
    """Problem 6.4 (v): the Hessian of the logistic-regression loss is positive semidefinite."""
    d = derive("logistic")
    i = symbol("i")
    x = indexed_base("x")
    s = Sig(symbol("phi_0") + symbol("phi_1") * x[i])
    v = sp.Matrix([[1, x[i]]])
    target = s * (1 - s) * (v.T * v)
    same = all(sp.simplify(sp.expand(a - b)) == 0 for a, b in zip(d.example_hessian, target))
    steps = [(r"\frac{\partial^2 l_i}{\partial \phi \partial \phi^T} = s_i (1 - s_i) [1, x_i]^T [1, x_i], \ s_i = \text{sig}[\phi_0 + \phi_1 x_i]", same)]
    u0, u1 = sp.symbols("u_0 u_1", real=True)
    u = sp.Matrix([u0, u1])
    quad = sp.expand((u.T * (v.T * v) * u)[0, 0] - (u0 + u1 * x[i]) ** 2) == 0
    steps.append((r"u^T [1, x_i]^T [1, x_i] u = (u_0 + u_1 x_i)^2 \geq 0", quad))
    z = sp.Symbol("z", real=True)
    weight = sp.simplify((Sig(z) * (1 - Sig(z))).rewrite(sp.exp))
    positive = bool(weight.is_positive) or bool(sp.simplify(weight - sp.exp(-z) / (1 + sp.exp(-z)) ** 2) == 0)
    steps.append((r"s (1 - s) = \frac{e^{-z}}{(1 + e^{-z})^2} > 0", positive))
    statement = (r"\mathbf{H} = \sum_{i=1}^I s_i (1 - s_i) [1, x_i]^T [1, x_i] \succeq 0: "
                 r"u^T \mathbf{H} u = \sum_i s_i (1 - s_i) (u_0 + u_1 x_i)^2 \geq 0 \text{ for every } u")
    return Certificate("logistic regression (problem 6.4 (v))", statement, tuple(steps), {"H": book_latex(d.hessian)})


def momentum_unrolled(t=None):
    """m_{t+1} = beta^{t+1} m_0 + (1 - beta) sum_{k=0}^t beta^k g_{t-k} (g_k = the gradient at step k)."""
    t = symbol("t") if t is None else t
    beta, k = symbol("beta"), symbol("k")
    m, g = indexed_base("m"), indexed_base("nabla_l")
    return beta ** (t + 1) * m[0] + (1 - beta) * sp.Sum(beta**k * g[t - k], (k, 0, t))


def momentum_certificate(steps_to_run: int = 12, seed: int = 0) -> Certificate:
    """Problem 6.10: eq. 6.11 unrolled, by induction for symbolic t and against a run of the recurrence."""
    t, beta, k = symbol("t"), symbol("beta"), symbol("k")
    m, g = indexed_base("m"), indexed_base("nabla_l")
    closed = momentum_unrolled()
    # base case t = 0: m_1 = beta m_0 + (1 - beta) g_0
    base = sp.expand(written_out(closed.xreplace({t: 0})) - (beta * m[0] + (1 - beta) * g[0])) == 0
    # step: if m_t is given by the formula (t -> t - 1), then beta m_t + (1 - beta) g_t is the formula at t
    m_t = momentum_unrolled(t - 1)
    stepped = beta * m_t + (1 - beta) * g[t]
    # split k = 0 off the sum at t and shift k -> k + 1 in the rest (SymPy's change_index)
    rest = sp.Sum(beta**k * g[t - k], (k, 1, t)).change_index(k, k - 1)
    split = beta ** (t + 1) * m[0] + (1 - beta) * g[t] + (1 - beta) * rest
    induction = sp.expand(linearize_momentum(stepped) - linearize_momentum(split)) == 0
    exact = unrolled_matches_recurrence(closed)
    # against an actual run
    rng = np.random.default_rng(seed)
    b, m0 = float(rng.uniform(0.1, 0.95)), float(rng.normal())
    grads = rng.normal(size=steps_to_run)
    run = [m0]
    for gk in grads:
        run.append(b * run[-1] + (1 - b) * gk)
    formula = [b ** (T + 1) * m0 + (1 - b) * sum(b**j * grads[T - j] for j in range(T + 1)) for T in range(steps_to_run)]
    run_ok = bool(np.allclose(run[1:], formula, rtol=1e-12, atol=1e-14))
    weights = [(1 - b) * b**j for j in range(steps_to_run)]
    weights_ok = bool(np.isclose(sum(weights) + b**steps_to_run, 1.0))
    steps = (
        (r"t = 0: \ \mathbf{m}_1 = \beta \mathbf{m}_0 + (1 - \beta) \nabla l_0", base),
        (r"\beta \mathbf{m}_t + (1 - \beta) \nabla l_t = \beta^{t+1} \mathbf{m}_0 + (1 - \beta) \sum_{k=0}^{t} \beta^k \nabla l_{t-k} "
         r"\text{ (induction step, symbolic } t)", induction),
        (r"\text{exact for } t = 0, \dots, 8 \text{ (recurrence iterated with symbolic } \beta, \mathbf{m}_0, \nabla l_k)", bool(exact)),
        (f"equal to {steps_to_run} steps of the recurrence run with beta = {b:.4f}, m_0 = {m0:.4f}", run_ok),
        (r"\text{weights } (1 - \beta) \beta^k \text{ plus } \beta^{t+1} \text{ (on } \mathbf{m}_0) \text{ sum to } 1", weights_ok),
    )
    statement = (r"\mathbf{m}_{t+1} = \beta^{t+1} \mathbf{m}_0 + (1 - \beta) \sum_{k=0}^{t} \beta^k \nabla l_{t-k}: "
                 r"the gradient k steps back has weight (1 - \beta)\beta^k; with \mathbf{m}_0 = 0 this is an exponential moving average")
    return Certificate("momentum unrolled (problem 6.10)", statement, steps, {"closed_form": book_latex(closed), "beta": b, "m0": m0})


def unrolled_matches_recurrence(expr, upto: int = 8) -> bool:
    """Is ``expr`` (in t, beta, m_0, nabla_l[k]) equal to m_{t+1} of eq. 6.11 for every t = 0..upto, exactly?"""
    t, beta = symbol("t"), symbol("beta")
    m, g = indexed_base("m"), indexed_base("nabla_l")
    m_sym = m[0]
    for T in range(upto + 1):
        m_sym = sp.expand(beta * m_sym + (1 - beta) * g[T])
        if sp.expand(written_out(expr.xreplace({t: T})) - m_sym) != 0:
            return False
    return True


def written_out(expr):
    """``expr.doit()`` for sums over concrete integer ranges: each sum written out term by term.

    What ``Sum.doit`` does for them, without its search for a closed form and its ``subs`` of every term
    (0.3 s -> 0.03 s for eq. 6.11 at t = 0..8). Anything else left to evaluate goes to ``doit``.
    """
    def terms(s: sp.Sum):
        body = s.function
        for k, lo, hi in s.limits:
            if not (lo.is_Integer and hi.is_Integer and hi >= lo - 1):
                return s.doit()  # symbolic or reversed limits: SymPy's own rules
            body = sp.Add(*[body.xreplace({k: sp.Integer(j)}) for j in range(int(lo), int(hi) + 1)])
        return body

    out = expr.replace(lambda e: isinstance(e, sp.Sum), terms)
    if out.has(sp.Sum, sp.Product, sp.Derivative, sp.Integral):
        out = out.doit()
    return out


def linearize_momentum(expr):
    """Pull beta and constants out of the momentum sums so equal sums compare equal."""
    expr = sp.expand(expr)
    expr = expr.replace(lambda e: isinstance(e, sp.Sum), lambda e: _pull_out_beta(e))
    return sp.powsimp(sp.expand(expr))


def _pull_out_beta(s: sp.Sum):
    k, lo, hi = s.limits[0]
    body = sp.expand(s.function)
    const, rest = body.as_independent(k, as_Add=False)
    rest = sp.powsimp(sp.expand_power_exp(rest))
    # beta**(k + 1) -> beta * beta**k
    factors = []
    for f in sp.Mul.make_args(rest):
        if isinstance(f, sp.Pow) and k in f.exp.free_symbols:
            extra = sp.expand(f.exp - k)
            if k not in extra.free_symbols:
                const *= f.base**extra
                f = f.base**k
        factors.append(f)
    return const * sp.Sum(sp.Mul(*factors).xreplace({k: _CANONICAL}), (_CANONICAL, lo, hi))
