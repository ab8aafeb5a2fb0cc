"""``check_sheet``: verdicts on the derivative claims of a hand-written solution sheet.

For each problem, definitions give the objects (``L = ..``, ``f[x, \\phi] = ..``,
``\\text{sig}[z] = ..``, the momentum update ``m_{t+1} \\leftarrow ..``); claims
are equations whose left side is a derivative ``\\frac{\\partial L}{\\partial \\phi_1}``,
``\\frac{\\partial f[x_i, \\phi]}{\\partial \\theta_{10}}``, a second derivative, the
Hessian ``\\mathbf{H}[\\phi]``, its trace / determinant, or ``\\mathbf{m}_{t+1}``.

A claim is decided numerically first (the sums over i = 1..I expanded with
I = 5, random data and parameters, several draws, relative tolerance
``RTOL``), then symbolically when the difference simplifies to 0 within a
budget. Unknown symbols are reported, never guessed. The ReLU derivative
convention is I[z > 0] (0 at z = 0), i.e. Heaviside(z, 0).
"""

from __future__ import annotations

import re
import signal
import threading
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass

import numpy as np
import sympy as sp
from sympy.core.function import AppliedUndef

from ..errors import LosslabError
from .latex import NotCheckable, ParseError, indexed_base, parse_relation, symbol
from .certificates import sums_equal, unrolled_matches_recurrence
from .printing import Sig, as_exp, book_latex
from .sheet import Problem, split_sheet

__all__ = ["ClaimResult", "check_sheet", "RTOL", "N_DRAWS", "CONCRETE_I", "CLAIM_SECONDS"]

RTOL = 1e-9
N_DRAWS = 8
CONCRETE_I = 5
CLAIM_SECONDS = 10.0
SHEET_SECONDS = 120.0
SYMBOLIC_SECONDS = 1.0
SEED = 20240601

I = symbol("I")
X = indexed_base("x")
Y = indexed_base("y")
M = indexed_base("m")
G = indexed_base("nabla_l")
BETA = symbol("beta")
T = symbol("t")
PHI = symbol("phi")
DATA_BASES = {"x", "y"}
PARAM_NAMES = {"phi", "theta", "psi", "omega", "alpha", "beta", "gamma"}


@dataclass
class ClaimResult:
    """The verdict on one claim: "correct", "incorrect" or "not checked", with the reason in words."""

    problem: str
    line: int
    latex: str
    verdict: str
    reason: str
    truth_latex: str = ""
    unreadable: bool = False  # the LaTeX itself could not be read (bad input, not a verdict on maths)

    def __repr__(self) -> str:
        return f"ClaimResult(problem={self.problem!r}, line={self.line}, verdict={self.verdict!r}, latex={self.latex[:40]!r})"

    def to_dict(self) -> dict:
        d = asdict(self)
        d["truth"] = d.pop("truth_latex")
        del d["unreadable"]
        return d


class _Unchecked(Exception):
    """The claim cannot be checked; the message says why."""


class _Budget(Exception):
    pass


@contextmanager
def _time_budget(seconds: float):
    """Bound the work on one claim (SIGALRM, main thread only; elsewhere unbounded)."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        yield
        return

    def handler(signum, frame):
        raise _Budget()

    old = signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


# --------------------------------------------------------------------------- context
class _Context:
    """The objects a problem defines (and those it imports by equation number)."""

    def __init__(self, problem: Problem, labels: dict[str, dict]):
        self.problem = problem
        self.L: sp.Expr | None = None
        self.L_note = ""
        self.functions: dict[str, tuple[tuple, sp.Expr]] = {}
        self.momentum = False
        self.rename: dict[sp.Symbol, sp.Symbol] = {}
        prose = problem.prose
        self.relu = bool(re.search(r"ReLU|rectified linear", prose + " ".join(e.latex for e in problem.equations), re.I))
        self.least_squares = bool(re.search(r"least[- ]squares", prose, re.I))
        # imports by equation number: "Equation 6.5", "equation 6.8", "(6.5)"
        for num in re.findall(r"(?:[Ee]quation|[Ee]q\.)\s*\(?(\d+\.\d+)\)?", prose):
            if num in labels:
                self.import_label(num, labels[num])
        # stated renamings: "where $\phi = \phi_0$ and $\theta = \phi_1$"
        if re.search(r"\bwhere\b", prose):
            pattern = r"\$\s*\\([A-Za-z]+)\s*=\s*\\([A-Za-z]+)_\{?(\d+)\}?\s*\$"
            for old, family, number in re.findall(pattern, prose):
                new = symbol(f"{family}_{number}")
                if old in PARAM_NAMES and _is_param(new):
                    self.rename[symbol(old)] = new

    def import_label(self, num: str, entry: dict) -> None:
        if entry.get("L") is not None and self.L is None:
            self.L = entry["L"]
            self.L_note = f"L taken from equation {num}"
        for name, fdef in entry.get("functions", {}).items():
            self.functions.setdefault(name, fdef)

    def loss(self) -> sp.Expr:
        if self.L is None and "f" in self.functions and self.least_squares:
            i = symbol("i")
            self.L = sp.Sum((sp.Function("f", real=True)(X[i], PHI) - Y[i]) ** 2, (i, 1, I))
            self.L_note = "L taken as the least squares loss sum_i (f[x_i, phi] - y_i)^2 named in the problem"
        if self.L is None:
            raise _Unchecked("no definition of L found in this problem (write L = ... or refer to its equation number)")
        return self.resolve(self.L)

    def params(self) -> list[sp.Symbol]:
        L = self.loss()
        found = [s for s in L.free_symbols if isinstance(s, sp.Symbol) and _is_param(s)]
        return sorted(found, key=_param_key)

    # -- resolving definitions -------------------------------------------------
    def resolve(self, expr, depth: int = 0):
        if depth > 30:
            raise _Unchecked("definitions refer to each other too deeply")
        if isinstance(expr, sp.MatrixBase):
            return expr.applyfunc(lambda e: self.resolve(e, depth + 1))
        if isinstance(expr, sp.Symbol):
            if expr.name == "L":
                return self.loss()
            return self.rename.get(expr, expr)
        if isinstance(expr, sp.Derivative):
            target = self.resolve(expr.expr, depth + 1)
            if isinstance(target, sp.MatrixBase):
                raise _Unchecked("derivative of a matrix is not supported")
            variables = [self.resolve(v, depth + 1) for v, n in expr.variable_count for _ in range(int(n))]
            for v in variables:
                if not isinstance(v, sp.Symbol):
                    raise _Unchecked(f"cannot differentiate with respect to {v}")
                if v not in target.free_symbols:
                    params = sorted((s for s in target.free_symbols if isinstance(s, sp.Symbol) and _is_param(s)), key=_param_key)
                    listed = ", ".join(p.name for p in params) or "no parameters"
                    raise _Unchecked(
                        f"{v.name} is not a variable of {_name_of(expr.expr)} (it depends on {listed}); "
                        "if it is another name for one of them, say so, e.g. 'where $\\phi = \\phi_0$'"
                    )
            return sp.diff(target, *variables)
        if isinstance(expr, AppliedUndef):
            name = expr.func.__name__
            args = [self.resolve(a, depth + 1) for a in expr.args]
            if name in self.functions:
                params, body = self.functions[name]
                if len(params) != len(args):
                    raise _Unchecked(f"{name} is defined with {len(params)} argument(s) but used with {len(args)}")
                mapping = {}
                for p, a in zip(params, args):
                    if p == PHI or (isinstance(p, sp.Symbol) and p.name in ("theta", "omega", "psi")):
                        continue  # the parameter vector: the same parameters everywhere
                    mapping[p] = a
                return self.resolve(body.xreplace(mapping), depth + 1)
            if name == "sig" and len(args) == 1:
                return Sig(args[0])
            if name == "a" and len(args) == 1:
                if not self.relu:
                    raise _Unchecked("a[..] is used but not defined (say it is the ReLU, or define a[z] = ...)")
                return sp.Max(0, args[0])
            if name == "H":
                L = self.loss()
                params = self.params()
                return sp.ImmutableMatrix(sp.hessian(L, params))
            if name in ("Tr", "Det"):
                if len(args) != 1 or not isinstance(args[0], sp.MatrixBase):
                    raise _Unchecked(f"\\text{{{name}}} needs a matrix argument")
                return args[0].trace() if name == "Tr" else args[0].det()
            raise _Unchecked(f"no definition of the function {name} found in this problem")
        if expr.args:
            new_args = [self.resolve(a, depth + 1) for a in expr.args]
            if any(isinstance(a, sp.MatrixBase) for a in new_args):
                raise _Unchecked("arithmetic on matrices is not supported")
            return expr.func(*new_args)
        return expr


def _name_of(expr) -> str:
    if isinstance(expr, AppliedUndef):
        return f"{expr.func.__name__}[..]"
    return str(expr)


def _is_param(s: sp.Symbol) -> bool:
    return bool(re.fullmatch(r"(phi|theta|psi|omega)_\d+", s.name))


def _param_key(s: sp.Symbol):
    family, number = s.name.split("_")
    return (["phi", "theta", "psi", "omega"].index(family), int(number))


def _is_generic_param(s) -> bool:
    return isinstance(s, sp.Symbol) and bool(re.fullmatch(r"(phi|theta|psi|omega)_[a-z]", s.name))


# --------------------------------------------------------------------------- numerics
def _normalise(expr):
    """Heaviside(z, H0) -> Heaviside(z): the conventions differ only at z = 0; sig -> exponentials."""
    expr = expr.replace(lambda e: isinstance(e, sp.Heaviside), lambda e: sp.Heaviside(e.args[0]))
    # the ReLU's second derivative: a Dirac delta at the kink, 0 everywhere else (as autodiff says)
    return expr.replace(lambda e: isinstance(e, sp.DiracDelta), lambda e: sp.S.Zero)


def _concrete(expr, n: int):
    """Sums over 1..I with I = n expanded; Indexed with a number or free index -> plain symbols."""
    expr = _expand_sums(expr.xreplace({I: sp.Integer(n)}))
    return _flatten_indexed(expr)


MAX_TERMS = 2000
MAX_EXPANDED_OPS = 200_000


def _expand_sums(expr):
    """Sum(f, (k, a, b)) with integer limits -> f(a) + ... + f(b), innermost first (no closed forms)."""
    if not expr.args or isinstance(expr, (sp.Indexed, sp.Symbol)):
        return expr
    if isinstance(expr, sp.Sum):
        body = _expand_sums(expr.function)
        for k, a, b in reversed(expr.limits):
            a, b = _expand_sums(a), _expand_sums(b)
            if not (a.is_Integer and b.is_Integer):
                raise _Unchecked(f"a sum with limits {a}..{b} that are not numbers after setting I = {CONCRETE_I}")
            count = int(b) - int(a) + 1
            if count > MAX_TERMS or count * sp.count_ops(body) > MAX_EXPANDED_OPS:
                raise _Unchecked("a sum too large to expand (too many terms)")
            body = sp.Add(*[body.xreplace({k: sp.Integer(v)}) for v in range(int(a), int(b) + 1)])
        return body
    return expr.func(*[_expand_sums(a) for a in expr.args])


def _flatten_indexed(expr):
    mapping = {}
    for ind in expr.atoms(sp.Indexed):
        idx = "_".join(str(k).replace(" ", "") for k in ind.indices)
        mapping[ind] = sp.Symbol(f"{ind.base.label}__{idx}", real=True)
    return expr.xreplace(mapping)


def _draw(symbols, rng) -> dict:
    values = {}
    for s in symbols:
        name = s.name
        if name.startswith("x__"):
            values[s] = rng.uniform(-2.0, 2.0)
        elif name.startswith("y__"):
            values[s] = rng.uniform(-1.0, 1.0)
        elif name == "beta":
            values[s] = rng.uniform(0.2, 0.9)
        else:
            values[s] = rng.normal(0.0, 1.0)
    return values


def _numeric(symbols, expr):
    """Fast float64 evaluation (lambdify with common-subexpression elimination)."""
    f = sp.lambdify(symbols, expr, modules="numpy", cse=True)

    def call(*args):
        with np.errstate(all="ignore"):
            v = f(*args)
        try:
            v = float(v)
        except (TypeError, ValueError):
            raise _Unchecked(f"could not evaluate the expression to a number ({expr})") from None
        return v

    return call


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= RTOL * max(1.0, abs(a), abs(b))


def _fmt(v: float) -> str:
    return f"{v:.6g}"


def _where_text(values: dict, limit: int = 8) -> str:
    parts = []
    data = {}
    for s, v in sorted(values.items(), key=lambda kv: kv[0].name):
        if "__" in s.name:
            base, idx = s.name.split("__", 1)
            data.setdefault(base, []).append((idx, v))
        else:
            parts.append(f"{s.name} = {_fmt(v)}")
    for base, items in data.items():
        if len(items) == 1:
            parts.insert(0, f"{base}_{items[0][0]} = {_fmt(items[0][1])}")
        else:
            shown = ", ".join(_fmt(v) for _, v in sorted(items)[:CONCRETE_I])
            parts.insert(0, f"{base}_1..{base}_{len(items)} = ({shown})")
    return ", ".join(parts[:limit]) + (", ..." if len(parts) > limit else "")


def _compare(claim, truth):
    """None if equal at every draw, else (values, claim value, truth value)."""
    rng = np.random.default_rng(SEED)
    c, t = _concrete_pair(claim, truth)
    symbols = sorted((c.free_symbols | t.free_symbols), key=lambda s: s.name)
    fc = _numeric(symbols, as_exp(c))
    ft = _numeric(symbols, as_exp(t))
    first = None
    ratios = []
    for _ in range(N_DRAWS):
        values = _draw(symbols, rng)
        args = [values[s] for s in symbols]
        cv, tv = fc(*args), ft(*args)
        ratios.append(cv / tv if tv != 0 else float("nan"))
        if first is None and not _close(cv, tv):
            first = (values, cv, tv)
    if first is None:
        return None
    constant = None
    if all(np.isfinite(ratios)) and all(_close(r, ratios[0]) for r in ratios) and not _close(ratios[0], 1.0):
        constant = ratios[0]
    return (*first, constant)


MAX_EXPANDED_TERMS = 5000


def _expanded_terms(expr, cap: int = 10**7) -> int:
    """An upper estimate of the number of terms ``expand`` would produce (bounds the symbolic work
    also where no SIGALRM budget exists, e.g. in a web server's worker thread)."""
    from math import comb

    if isinstance(expr, sp.Add):
        return min(cap, sum(_expanded_terms(a, cap) for a in expr.args))
    if isinstance(expr, sp.Mul):
        n = 1
        for a in expr.args:
            n = min(cap, n * _expanded_terms(a, cap))
        return n
    if isinstance(expr, sp.Pow) and expr.exp.is_Integer and int(expr.exp) > 1:
        k = _expanded_terms(expr.base, cap)
        return min(cap, comb(k + int(expr.exp) - 1, int(expr.exp)))
    if isinstance(expr, (sp.Sum, sp.Derivative)):
        return _expanded_terms(expr.args[0], cap) * CONCRETE_I
    if isinstance(expr, sp.MatrixBase):
        return min(cap, sum(_expanded_terms(e, cap) for e in expr))
    return 1


_CONCRETE_CACHE: dict = {}


def _concrete_pair(claim, truth):
    """(claim, truth) with I = CONCRETE_I, sums expanded, Heaviside conventions unified (cached)."""
    key = (claim, truth)
    if key not in _CONCRETE_CACHE:
        if len(_CONCRETE_CACHE) > 256:
            _CONCRETE_CACHE.clear()
        _CONCRETE_CACHE[key] = (_normalise(_concrete(claim, CONCRETE_I)), _normalise(_concrete(truth, CONCRETE_I)))
    return _CONCRETE_CACHE[key]


def _symbolic_equal(claim, truth) -> str | None:
    """Exact check: "for every I" (sums kept symbolic, bound indices renamed canonically,
    sums of sums split), else "with I = 5" (sums expanded), else None (inconclusive in the budget)."""
    if _expanded_terms(claim) + _expanded_terms(truth) > MAX_EXPANDED_TERMS:
        return None  # expanding would blow up: the numeric verdict stands alone
    try:
        with _time_budget(SYMBOLIC_SECONDS):
            c, t = _normalise(claim), _normalise(truth)
            if sp.count_ops(c) + sp.count_ops(t) < 300:
                if sums_equal(c, t):
                    return "for every I"
    except _Budget:
        pass
    try:
        with _time_budget(SYMBOLIC_SECONDS):
            c, t = _concrete_pair(claim, truth)
            d = c - t
            if sp.count_ops(d) > 300:
                return None
            d = sp.expand(d)
            if d == 0:
                return f"with I = {CONCRETE_I}"
            if sp.count_ops(d) > 150:
                return None
            d = sp.simplify(d)
            return f"with I = {CONCRETE_I}" if d == 0 else None
    except _Budget:
        return None


# --------------------------------------------------------------------------- vocabulary
def _free_indices(expr) -> set[sp.Symbol]:
    out = set()
    for s in expr.free_symbols:
        if isinstance(s, sp.Symbol) and s.is_integer and s.name != "I" and s.name not in ("N", "T", "K"):
            out.add(s)
    return out


def _bare_symbols(expr) -> set[sp.Symbol]:
    """Plain symbols (not Indexed, not index letters)."""
    indexed_syms = set()
    for ind in expr.atoms(sp.Indexed):
        indexed_syms |= {ind.base.label}
    return {s for s in expr.free_symbols if isinstance(s, sp.Symbol) and s not in indexed_syms and not isinstance(s, sp.Indexed)}


def _check_vocabulary(claim, allowed: set, bases: set[str], claim_text: str):
    """Raise _Unchecked naming symbols the problem does not define."""
    unknown = []
    unindexed = []
    for s in _bare_symbols(claim):
        if s.is_integer and s.name not in ("I",):
            continue
        if s in allowed:
            continue
        if s.name in bases:
            unindexed.append(s.name)
        else:
            unknown.append(s.name)
    for ind in claim.atoms(sp.Indexed):
        if str(ind.base.label) not in bases:
            unknown.append(str(ind.base.label))
    return sorted(set(unknown)), sorted(set(unindexed))


def _index_the(expr, name: str):
    """Inside every sum, replace the bare data symbol ``name`` by name_<sum index>."""
    if isinstance(expr, sp.Sum):
        body = expr.function
        index = expr.limits[0][0]
        body = _index_the(body, name).xreplace({symbol(name): indexed_base(name)[index]})
        return sp.Sum(body, *expr.limits)
    if expr.args and not isinstance(expr, (sp.Indexed, sp.Symbol)):
        return expr.func(*[_index_the(a, name) for a in expr.args])
    return expr


# --------------------------------------------------------------------------- the checker
def _is_logistic(args, body) -> bool:
    if len(args) != 1 or not isinstance(args[0], sp.Symbol):
        return False
    z = args[0]
    try:
        return sp.simplify(body - 1 / (1 + sp.exp(-z))) == 0
    except (TypeError, ValueError, RecursionError):
        return False


def _lhs_kind(lhs) -> str:
    if isinstance(lhs, sp.Derivative):
        return "derivative"
    if isinstance(lhs, AppliedUndef) and lhs.func.__name__ == "H" or lhs == symbol("H"):
        return "hessian"
    if isinstance(lhs, AppliedUndef) and lhs.func.__name__ in ("Tr", "Det"):
        return lhs.func.__name__.lower()
    if isinstance(lhs, sp.Indexed) and lhs.base.label.name == "m":
        return "momentum"
    if lhs == symbol("L"):
        return "def-L"
    if isinstance(lhs, AppliedUndef) and all(isinstance(a, sp.Symbol) for a in lhs.args):
        return "def-function"
    return "other"


_CLAIM_HINT = re.compile(r"\\partial|\\mathbf\{H\}|\\text\{(Tr|Det|tr|det)\}|\\nabla|\\mathbf\{m\}")


def check_sheet(text: str) -> list[ClaimResult]:
    """Verdicts on every claim of the sheet, in order. Bad input raises LosslabError."""
    problems = split_sheet(text)
    started = time.monotonic()
    results: list[ClaimResult] = []
    labels: dict[str, dict] = {}
    for problem in problems:
        ctx = _Context(problem, labels)
        for eq in problem.equations:
            if re.search(r"\\leftarrow|\\gets", eq.latex) and re.match(r"\s*(\\mathbf\{m\}|\\boldsymbol\{m\}|m)_", eq.latex):
                ctx.momentum = True  # the update rule itself (eq. 6.11): a definition, not a claim
                continue
            functions = frozenset({"f", "g", "h", "sig", *ctx.functions})
            try:
                sides, ops = parse_relation(eq.latex, functions=functions)
            except NotCheckable as err:
                if _CLAIM_HINT.search(eq.latex):
                    results.append(ClaimResult(problem.number, eq.line, eq.latex, "not checked", str(err)))
                continue
            except ParseError as err:
                if _CLAIM_HINT.search(eq.latex):
                    results.append(
                        ClaimResult(problem.number, eq.line, eq.latex, "not checked", f"could not read the LaTeX: {err}", unreadable=True)
                    )
                continue
            if len(sides) < 2:
                continue
            lhs = sides[0]
            kind = _lhs_kind(lhs)
            if ops[0] == "<-":
                if kind == "momentum":
                    ctx.momentum = True
                continue
            if any(op != "=" for op in ops):
                continue
            if kind == "def-L":
                ctx.L = sides[-1]
                ctx.L_note = ""
                if eq.label:
                    labels.setdefault(eq.label, {})["L"] = sides[-1]
                continue
            if kind == "def-function":
                name = lhs.func.__name__
                if name == "sig" and _is_logistic(lhs.args, sides[-1]):
                    continue  # the book's sigmoid: kept as sig[z] so derivatives read sig (1 - sig)
                ctx.functions[name] = (tuple(lhs.args), sides[-1])
                if eq.label:
                    labels.setdefault(eq.label, {}).setdefault("functions", {})[name] = (tuple(lhs.args), sides[-1])
                continue
            if kind == "momentum" and not (ctx.momentum or symbol("beta") in sides[1].free_symbols):
                continue
            if kind == "other":
                continue
            if time.monotonic() - started > SHEET_SECONDS:
                results.append(ClaimResult(problem.number, eq.line, eq.latex, "not checked",
                                           f"the time budget for the whole sheet ({SHEET_SECONDS:g} s) was used up"))
                continue
            results.append(_check_claim(problem, eq, kind, sides, ctx))
    return results


def _check_claim(problem: Problem, eq, kind: str, sides, ctx: _Context) -> ClaimResult:
    def result(verdict, reason, truth=""):
        return ClaimResult(problem.number, eq.line, eq.latex, verdict, reason, truth)

    try:
        with _time_budget(CLAIM_SECONDS):
            if kind == "momentum":
                return _check_momentum(sides, result)
            return _check_calculus(kind, sides, ctx, result)
    except _Budget:
        return result("not checked", f"gave up after {CLAIM_SECONDS:g} s of work on this claim")
    except _Unchecked as err:
        return result("not checked", str(err))
    except LosslabError as err:
        return result("not checked", str(err))
    except Exception as err:  # noqa: BLE001  one odd claim must not stop the report on the others
        return result("not checked", f"could not evaluate the claim ({type(err).__name__}: {str(err)[:120]})")


def _check_calculus(kind: str, sides, ctx: _Context, result) -> ClaimResult:
    lhs = sides[0]
    rhs_list = sides[1:]
    generic = []
    if kind == "derivative":
        generic = [v for v, _ in lhs.variable_count if _is_generic_param(v)]
    truth_template = lhs
    if kind == "derivative" and lhs.variables == (PHI,) and PHI not in ctx.rename:
        # dL/d(phi) for the whole parameter vector: the gradient, as a column (or row) of derivatives
        target = ctx.resolve(lhs.expr)
        params = sorted((q for q in target.free_symbols if isinstance(q, sp.Symbol) and _is_param(q)), key=_param_key)
        grad = sp.ImmutableMatrix([sp.diff(target, q) for q in params])
        fixed = []
        for r in rhs_list:
            if isinstance(r, sp.MatrixBase) and r.shape == (1, len(params)):
                r = r.T
            fixed.append(r)
        verdict, reason, truth = _compare_all(grad, fixed, ctx)
        names = ", ".join(q.name for q in params)
        return result(verdict, f"{reason} (the gradient with respect to {names})", truth)
    if generic:
        params = ctx.params() if (ctx.L is not None or ("f" in ctx.functions and ctx.least_squares)) else []
        if not params:
            raise _Unchecked(f"{generic[0]} is a generic parameter but no parameters are defined")
        verdicts = []
        for p in params:
            mapping = {g: p for g in generic}
            try:
                verdicts.append(_check_one(truth_template.xreplace(mapping), [r.xreplace(mapping) for r in rhs_list], ctx, kind))
            except _Unchecked as err:
                verdicts.append(("not checked", str(err), ""))
        names = ", ".join(q.name for q in params)
        every = f"every parameter ({names})"
        if all(v[0] == "correct" for v in verdicts):
            return result("correct", f"correct for {every}; {verdicts[0][1]}", verdicts[0][2])
        if all(v[0] == "not checked" for v in verdicts) and len({v[1] for v in verdicts}) == 1:
            return result("not checked", f"{verdicts[0][1]} (the same for {every})", "")
        wrong = [(p, v) for p, v in zip(params, verdicts) if v[0] == "incorrect"]
        p, (verdict, reason, truth) = wrong[0] if wrong else next((p, v) for p, v in zip(params, verdicts) if v[0] != "correct")
        return result(verdict, f"for {generic[0].name} = {p.name}: {reason}", truth)
    verdict, reason, truth = _check_one(lhs, rhs_list, ctx, kind)
    uses_L = lhs.has(symbol("L")) or kind in ("hessian", "tr", "det")
    if ctx.L_note and uses_L and verdict != "not checked":
        reason = f"{reason} ({ctx.L_note})"
    return result(verdict, reason, truth)


def _tidy(expr):
    """For printing: constants pulled out of sums, 2 sum_i (a - b) rather than sum_i (2a - 2b)."""
    if isinstance(expr, sp.MatrixBase):
        return expr.applyfunc(_tidy)

    def pull(e):
        body = e.function
        if not body.has(sp.sin, sp.cos, sp.exp, sp.log, sp.Max, sp.Heaviside, Sig):
            body = sp.factor_terms(body)
        const, rest = body.as_independent(*[lim[0] for lim in e.limits], as_Add=False)
        if rest == 1 and len(e.limits) == 1:
            return const * (e.limits[0][2] - e.limits[0][1] + 1)
        return const * sp.Sum(rest, *e.limits)

    try:
        return expr.replace(lambda e: isinstance(e, sp.Sum), pull)
    except Exception:  # noqa: BLE001  printing must never stop a verdict
        return expr


def _check_one(lhs, rhs_list, ctx: _Context, kind: str):
    return _compare_all(ctx.resolve(lhs), rhs_list, ctx)


def _compare_all(truth, rhs_list, ctx: _Context):
    truth_tex = book_latex(_tidy(truth))
    L = ctx.loss() if ctx.L is not None or ("f" in ctx.functions and ctx.least_squares) else None
    allowed = {I}
    if L is not None:
        allowed |= _bare_symbols(L)
    if isinstance(truth, sp.MatrixBase):
        for entry in truth:
            allowed |= _bare_symbols(entry)
    else:
        allowed |= _bare_symbols(truth)
    bases = set(DATA_BASES)
    for k, rhs in enumerate(rhs_list):
        claim = ctx.resolve(rhs)
        if isinstance(truth, sp.MatrixBase) or isinstance(claim, sp.MatrixBase):
            v = _compare_matrix(claim, truth, ctx, allowed, bases)
        else:
            v = _compare_scalar(claim, truth, ctx, allowed, bases, rhs)
        if v[0] != "correct":
            prefix = f"the right-hand side number {k + 1}: " if len(rhs_list) > 1 else ""
            return v[0], prefix + v[1], truth_tex
    return "correct", v[1], truth_tex


def _compare_matrix(claim, truth, ctx, allowed, bases):
    if not (isinstance(claim, sp.MatrixBase) and isinstance(truth, sp.MatrixBase)):
        raise _Unchecked("one side is a matrix and the other is not")
    if claim.shape != truth.shape:
        raise _Unchecked(f"the claim is a {claim.shape[0]}x{claim.shape[1]} matrix but the truth is {truth.shape[0]}x{truth.shape[1]} (one row per parameter)")
    wrong = []
    for r in range(truth.rows):
        for c in range(truth.cols):
            v = _compare_scalar(claim[r, c], truth[r, c], ctx, allowed, bases, claim[r, c])
            if v[0] == "not checked":
                return "not checked", f"entry ({r + 1}, {c + 1}): {v[1]}"
            if v[0] == "incorrect":
                wrong.append(f"entry ({r + 1}, {c + 1}): {v[1]}")
    if wrong:
        return "incorrect", "; ".join(wrong)
    names = ", ".join(p.name for p in ctx.params())
    return "correct", f"every entry equals the truth (parameters in the order {names}); checked at {N_DRAWS} random draws with I = {CONCRETE_I}"


def _compare_scalar(claim, truth, ctx, allowed, bases, raw):
    unknown, unindexed = _check_vocabulary(claim, allowed, bases, "")
    if unknown:
        raise _Unchecked("unknown symbol(s) " + ", ".join(unknown) + ": not defined in this problem")
    if unindexed:
        name = unindexed[0]
        hint = ""
        try:
            fixed = _index_the(claim, name)
            if not _bare_symbols(fixed) & {symbol(name)} and _compare(fixed, truth) is None:
                hint = f"; read as {name}_i the claim would be correct"
            elif not _bare_symbols(fixed) & {symbol(name)}:
                hint = f"; read as {name}_i the claim would still differ from the truth"
        except (_Unchecked, TypeError, ValueError):
            pass
        raise _Unchecked(f"the data symbol {name} has no index (the data are {name}_i, one per example), so the claim is not well defined{hint}")
    claim_idx = _free_indices(claim)
    truth_idx = _free_indices(truth)
    extra = claim_idx - truth_idx
    if extra:
        idx = sorted(extra, key=lambda s: s.name)[0]
        return _missing_sum(claim, truth, ctx, idx)
    mismatch = _compare(claim, truth)
    if mismatch is not None:
        values, cv, tv, constant = mismatch
        return "incorrect", _differs_text(values, cv, tv, constant)
    exact = _symbolic_equal(claim, truth)
    has_sums = claim.has(sp.Sum) or truth.has(sp.Sum)
    data = f"I = {CONCRETE_I}, " if has_sums else ""
    how = f"equal at {N_DRAWS} random draws of data and parameters ({data}relative tolerance {RTOL:g})"
    if exact:
        how += "; symbolically identical" + (f" {exact}" if has_sums else "")
    if truth.has(sp.DiracDelta):
        how += "; away from the ReLU kinks (there the second derivative is a Dirac delta, taken as 0 as autodiff does)"
    return "correct", how


def _differs_text(values, cv, tv, constant) -> str:
    where = f"at {_where_text(values)}" if values else f"with I = {CONCRETE_I}"
    text = f"differs from the true value; {where} the claim gives {_fmt(cv)}, the truth is {_fmt(tv)}"
    if constant is not None:
        if _close(constant, -1.0):
            text += " (wrong sign: the claim is minus the truth everywhere)"
        else:
            text += f" (the claim is {_fmt(constant)} times the truth everywhere: a missing or extra constant factor{_factor_hint(constant)})"
    return text


def _factor_hint(ratio: float) -> str:
    for name, value in (("2", 2.0), ("0.06", 0.06), ("I", float(CONCRETE_I))):
        if _close(ratio, value):
            return f" {name}"
        if _close(ratio, 1.0 / value):
            return f" {name}"
    return ""


def _missing_sum(claim, truth, ctx, idx):
    """The claim keeps the free index idx: is it the derivative of one term l_idx?"""
    if not truth.has(sp.Sum):
        plain = sorted(s.name for s in _bare_symbols(truth) if not _is_param(s))
        if plain:
            # f[x, phi] on the left, x_i on the right: a notation slip, not a wrong derivative
            unindexed = claim.xreplace({ind: symbol(str(ind.base.label)) for ind in claim.atoms(sp.Indexed)
                                        if ind.indices == (idx,) and str(ind.base.label) in plain})
            hint = ""
            if not _free_indices(unindexed) - _free_indices(truth):
                hint = "; read without the index the claim would be " + ("correct" if _compare(unindexed, truth) is None else "still wrong")
            return "not checked", (f"the claim is written in x_{idx} but the left-hand side in {', '.join(plain)}{hint}")
        return "incorrect", f"the claim depends on the example index {idx} (x_{idx}, y_{idx}) but the left-hand side does not"
    # the derivative of one term: strip the outer sums over the example index
    term_truth = _strip_sums(truth, idx)
    if _compare(claim, term_truth) is None:
        return "incorrect", f"missing sum over {idx}: this is the derivative of one term l_{idx}, not of L"
    return "incorrect", f"the claim contains the index {idx} outside any sum (x_{idx}, y_{idx}), so it cannot equal the derivative of L, which sums over all examples"


def _strip_sums(expr, idx):
    """sum_k g(k) -> g(idx) for every sum over 1..I (linear in the sums): the per-term derivative."""
    if isinstance(expr, sp.Sum) and len(expr.limits) == 1 and expr.limits[0][1] == 1 and expr.limits[0][2] == I:
        k = expr.limits[0][0]
        return expr.function.xreplace({k: idx})
    if isinstance(expr, sp.Add):
        return sp.Add(*[_strip_sums(a, idx) for a in expr.args])
    if isinstance(expr, sp.Mul):
        sums = [a for a in expr.args if a.has(sp.Sum)]
        if len(sums) == 1:
            rest = [a for a in expr.args if a is not sums[0]]
            return sp.Mul(*rest, _strip_sums(sums[0], idx))
    return expr


# --------------------------------------------------------------------------- momentum
def momentum_truth_latex() -> str:
    return r"\mathbf{m}_{t+1} = \beta^{t+1} \mathbf{m}_0 + (1 - \beta) \sum_{k=0}^{t} \beta^{k} \nabla l_{t-k}"


def _run_recurrence(beta: float, m0: float, grads: list[float]) -> list[float]:
    """Eq. 6.11 run for real: m_{k+1} = beta m_k + (1 - beta) g_k."""
    m = [m0]
    for g in grads:
        m.append(beta * m[-1] + (1 - beta) * g)
    return m


def _momentum_value(expr, tval: int, beta: float, m: list[float], g: list[float]) -> float:
    e = expr.xreplace({T: sp.Integer(tval)}).doit()
    mapping = {BETA: sp.Float(beta, 30)}
    for ind in e.atoms(sp.Indexed):
        k = ind.indices[0]
        if not k.is_Integer:
            raise _Unchecked(f"index {k} of {ind.base.label} is not a step number")
        k = int(k)
        label = str(ind.base.label)
        if label == "m" and 0 <= k < len(m):
            mapping[ind] = sp.Float(m[k], 30)
        elif label == "nabla_l" and 0 <= k < len(g):
            mapping[ind] = sp.Float(g[k], 30)
        else:
            raise _Unchecked(f"{label}_{k} is outside the run (steps 0..{tval})")
    left = e.xreplace(mapping).free_symbols
    if left:
        raise _Unchecked("unknown symbol(s) " + ", ".join(sorted(str(s) for s in left)) + " in the momentum claim")
    return float(e.xreplace(mapping).evalf(20))


def _check_momentum(sides, result) -> ClaimResult:
    lhs, rhs_list = sides[0], sides[1:]
    if lhs.indices[0] != T + 1:
        raise _Unchecked("only claims about m_{t+1} are checked")
    truth = momentum_truth_latex()
    rng = np.random.default_rng(SEED)
    for k, rhs in enumerate(rhs_list):
        free = {s.name for s in rhs.free_symbols if isinstance(s, sp.Symbol)} - {"t", "beta", "i", "j", "k", "n", "m", "nabla_l"}
        if free:
            raise _Unchecked("unknown symbol(s) " + ", ".join(sorted(free)) + " in the momentum claim")
        missing_m0 = True
        for tval in (2, 3, 5, 7):
            beta = rng.uniform(0.2, 0.9)
            m0 = rng.normal()
            grads = list(rng.normal(size=tval + 1))
            m = _run_recurrence(beta, m0, grads)
            claim_v = _momentum_value(rhs, tval, beta, m, grads)
            true_v = m[tval + 1]
            if not _close(claim_v, true_v):
                if not _close(claim_v + beta ** (tval + 1) * m0, true_v):
                    missing_m0 = False
                bad = (tval, beta, m0, claim_v, true_v)
                break
        else:
            continue
        tval, beta, m0, claim_v, true_v = bad
        if missing_m0 and _momentum_missing_m0_everywhere(rhs, rng):
            note = ""
            if any(lim[0].name == "i" for sm in rhs.atoms(sp.Sum) for lim in sm.limits):
                note = "; note also that the sum index i already names the examples of the batch in eq. 6.11 (k is clearer)"
            return result(
                "incorrect",
                "missing the initial-momentum term beta^{t+1} m_0: the weights (1 - beta) beta^k of the gradients are right, "
                f"but the sum equals m_{{t+1}} only when m_0 = 0 (running the recurrence from m_0 = {_fmt(m0)} with beta = {_fmt(beta)} "
                f"gives m_{tval + 1} = {_fmt(true_v)}, the claim gives {_fmt(claim_v)}){note}",
                truth,
            )
        return result(
            "incorrect",
            f"differs from running the recurrence m_(k+1) = beta m_k + (1 - beta) grad l_k: at t = {tval}, beta = {_fmt(beta)}, "
            f"m_0 = {_fmt(m0)} the claim gives {_fmt(claim_v)}, the recurrence gives {_fmt(true_v)}",
            truth,
        )
    how = "equal to m_{t+1} from running the recurrence (eq. 6.11) for t = 2, 3, 5, 7 with random beta, m_0 and gradients"
    closed = all(ind.base.label.name != "m" or ind.indices[0] == 0 for r in rhs_list for ind in r.atoms(sp.Indexed))
    if closed:
        try:
            with _time_budget(SYMBOLIC_SECONDS * 2):
                if all(unrolled_matches_recurrence(r, upto=6) for r in rhs_list):
                    how += "; exact for t = 0..6 with symbolic beta, m_0 and gradients"
        except _Budget:
            pass
    return result("correct", how, truth)


def _momentum_missing_m0_everywhere(rhs, rng) -> bool:
    for tval in (2, 4, 6):
        beta = rng.uniform(0.2, 0.9)
        m0 = rng.normal()
        grads = list(rng.normal(size=tval + 1))
        m = _run_recurrence(beta, m0, grads)
        if not _close(_momentum_value(rhs, tval, beta, m, grads) + beta ** (tval + 1) * m0, m[tval + 1]):
            return False
    return True
