"""Give a parsed side of a claim its value: an explicit SymPy expression at a concrete data size.

``Evaluator.value(expr)`` walks the parser's SymPy tree and returns an
expression over *atoms* only (parameters, data points x__2, y__3, step values
G__4 ...): definitions are substituted, sums are expanded with the number of
data points set to ``COUNT``, derivatives are taken (a derivative with respect
to a defined intermediate, ``\\partial L / \\partial \\hat y``, keeps that
intermediate as an atom while differentiating, then substitutes it), and
vectors over the examples (``X^T (\\hat y - y)``) become explicit matrices.
Checking a claim is then comparing two such expressions at random draws.

Conventions: parameter vectors of unknown dimension (``\\mathbf w``, ``w^T x``)
are taken one-dimensional (so ``w^T x = w x``; component indices ``w_k``,
``x_{ij}`` drop); the design matrix ``X`` has the examples as rows. The ReLU's
derivative is ``I[z > 0]`` (0 at the kink).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import sympy as sp
import sympy.combinatorics  # noqa: F401  (Permutation, for determinants)
from sympy.core.function import AppliedUndef

from .latex import PARAM_FAMILIES
from .nodes import IMPLICIT_INDEX, Grad, Hadamard, IApply, MatProd, SetSum, Transpose

__all__ = ["Evaluator", "Unchecked", "NotConformable", "COUNT", "atom", "sig", "evaluate_many", "draw"]

COUNT = 4  # data points when sums are expanded
MAX_TERMS = 4000  # terms of one expanded sum
MAX_DEPTH = 40


class Unchecked(Exception):
    """The side cannot be given a value; the message says why (the claim is 'not checked')."""


class NotConformable(Exception):
    """A product of matrices whose shapes do not fit: the claim is wrong as written."""


def sig(z):
    return 1 / (1 + sp.exp(-z))


_ATOMS: dict[str, sp.Symbol] = {}


def atom(name: str) -> sp.Symbol:
    if name not in _ATOMS:
        _ATOMS[name] = sp.Symbol(name, real=True)
    return _ATOMS[name]


def _name(e) -> str:
    if isinstance(e, sp.Indexed):
        return str(e.base.label)
    if isinstance(e, AppliedUndef):
        return type(e).__name__
    return getattr(e, "name", str(e))


def derivative(expr, x, memo: dict | None = None):
    """d expr / d x for the explicit expressions the evaluator builds (a plain recursive chain rule:
    several times faster than ``sympy.diff``, which re-simplifies at every node)."""
    memo = {} if memo is None else memo
    deps: dict = memo.setdefault("__deps__", {})

    def depends(e) -> bool:
        hit = deps.get(e)
        if hit is None:
            hit = e == x or any(depends(a) for a in e.args)
            deps[e] = hit
        return hit

    def d(e):
        hit = memo.get(e)
        if hit is not None:
            return hit
        if not depends(e):
            out = sp.S.Zero
        elif e == x:
            out = sp.S.One
        elif isinstance(e, sp.Add):
            out = sp.Add(*[d(a) for a in e.args])
        elif isinstance(e, sp.Mul):
            terms = []
            args = e.args
            for k, a in enumerate(args):
                if depends(a):
                    terms.append(sp.Mul(*args[:k], d(a), *args[k + 1:]))
            out = sp.Add(*terms)
        elif isinstance(e, sp.Pow):
            b, n = e.args
            if not depends(n):
                out = n * b ** (n - 1) * d(b)
            else:
                out = e * (d(n) * sp.log(b) + n * d(b) / b)
        elif isinstance(e, sp.exp):
            out = e * d(e.args[0])
        elif isinstance(e, sp.log):
            out = d(e.args[0]) / e.args[0]
        elif isinstance(e, sp.sin):
            out = sp.cos(e.args[0]) * d(e.args[0])
        elif isinstance(e, sp.cos):
            out = -sp.sin(e.args[0]) * d(e.args[0])
        elif isinstance(e, sp.tanh):
            out = (1 - e**2) * d(e.args[0])
        elif isinstance(e, Relu):
            out = sp.Heaviside(e.args[0], 0) * d(e.args[0])
        elif isinstance(e, sp.Heaviside):
            memo["__kink__"] = True
            out = sp.S.Zero  # away from the kink (its derivative there is a Dirac delta, taken as 0 as autodiff does)
        elif isinstance(e, sp.Piecewise):
            out = sp.Piecewise(*[(d(v), c) for v, c in e.args])
        else:
            out = sp.diff(e, x)
        memo[e] = out
        return out

    return d(expr)


def _free_atoms(v):
    if isinstance(v, sp.MatrixBase):
        out = set()
        for x in v:
            out |= x.free_symbols
        return out
    return v.free_symbols if isinstance(v, sp.Basic) else set()


def determinant(m) -> sp.Expr:
    """Leibniz's formula, without SymPy's zero tests (which can take minutes on large entries)."""
    from itertools import permutations

    n = m.rows
    if n > 5:
        raise Unchecked("a determinant larger than 5x5")
    total = sp.S.Zero
    for perm in permutations(range(n)):
        sign = sp.combinatorics.Permutation(list(perm)).signature()
        term = sp.Integer(sign)
        for r, c in enumerate(perm):
            term = term * m[r, c]
        total = total + term
    return total


def parameter_atoms(expr) -> list:
    """The parameters an explicit expression depends on, in the book's order."""
    found = [a for a in expr.free_symbols if isinstance(a, sp.Symbol) and is_parameter_name(a.name)]

    def key(a):
        family, _, number = a.name.partition("_")
        order = ["phi", "theta", "psi", "omega", "w", "b", "W"]
        return (order.index(family) if family in order else 9, number)
    return sorted(found, key=key)


def is_parameter_name(name: str) -> bool:
    base = name.split("_")[0]
    return base in PARAM_FAMILIES or name in ("w", "b", "W", "Theta")


DATA_NAMES = ("x", "y")


@dataclass
class Definition:
    """``name = body`` (``formals``: argument symbols bound at a call; ``indices``: index pattern)."""

    name: str
    body: sp.Expr
    formals: tuple = ()
    indices: tuple = ()  # (i, n) for z_{i,n} = ..; concrete integers for z_1 = ..
    line: int = 0
    source: str = "sheet"  # "sheet" or "book"

    def __repr__(self) -> str:
        idx = f"[{', '.join(map(str, self.indices))}]" if self.indices else ""
        args = f"({', '.join(map(str, self.formals))})" if self.formals else ""
        return f"Definition({self.name}{idx}{args} = {self.body}, line={self.line})"


@dataclass
class Env:
    indices: dict = field(default_factory=dict)  # index symbol -> int
    bindings: dict = field(default_factory=dict)  # formal symbol -> value
    keep: frozenset = frozenset()  # atoms kept while differentiating (by key)
    example: int | None = None  # per-example evaluation: bare data symbols mean example k
    strip: tuple | None = None  # (index symbol): sums over the examples collapse to that example
    depth: int = 0

    def child(self, **changes) -> "Env":
        new = Env(dict(self.indices), dict(self.bindings), self.keep, self.example, self.strip, self.depth + 1)
        for k, v in changes.items():
            setattr(new, k, v)
        if new.depth > MAX_DEPTH:
            raise Unchecked("definitions refer to each other too deeply")
        return new


class Relu(sp.Function):
    """max(0, z), with the book's derivative I[z > 0] (0 at the kink)."""

    nargs = 1

    def fdiff(self, argindex=1):
        return sp.Heaviside(self.args[0], 0)

    def _latex(self, printer):
        return r"a\left[%s\right]" % printer._print(self.args[0])


class _PerExample(sp.Function):
    """Marks a body whose bare data symbols mean the example of the enclosing sum's index."""

    nargs = 2


def relu_safe(expr):
    """d/dz Max(0, z) is Heaviside(z); the convention ReLU'(0) = 0 makes it Heaviside(z, 0)."""
    return expr.replace(lambda x: isinstance(x, sp.Heaviside), lambda x: sp.Heaviside(x.args[0], 0))



class Evaluator:
    """Values of expressions under one problem's definitions (see the module docstring)."""

    def __init__(self, lookup, *, relu: bool = True, counts: frozenset = frozenset(), sequences=None,
                 vectors: frozenset = frozenset(), known_parameters: frozenset = frozenset()):
        self.lookup = lookup  # name -> list[Definition] (the definitions in force at the claim)
        self.relu = relu
        self.counts = set(counts) | {"I", "N", "M"}
        self.sequences = sequences  # name -> {step: value} for recurrences (or None)
        self._vectors = set(vectors) - {"X"}  # names whose component indices drop (one-dimensional vectors)
        self._example_vectors = self._vectors - {"w", "b", "W"}  # x_i: indexed by the example first
        self.known_parameters = frozenset(known_parameters)
        self.used_index_reading: set[str] = set()
        self.notes: list[str] = []

    # ---------------------------------------------------------------- helpers
    def definitions(self, name: str) -> list[Definition]:
        return self.lookup(name) or []

    def key_atom(self, e, env: Env):
        """The atom a Symbol / Indexed stands for once its indices are numbers."""
        if isinstance(e, sp.Indexed):
            idx = [self.index_value(i, env) for i in e.indices]
            name = _name(e)
            if name in self._vectors:
                idx = idx[:1] if self.has_example_index(name) else []
            if not idx:
                return atom(name)
            return atom(f"{name}__{'_'.join(str(v) for v in idx)}")
        return atom(_name(e))

    def has_example_index(self, name: str) -> bool:
        return name in self._example_vectors

    def index_value(self, i, env: Env):
        v = self.value(i, env)
        if isinstance(v, sp.MatrixBase):
            raise Unchecked("an index that is a matrix")
        v = sp.nsimplify(v) if isinstance(v, sp.Float) else v
        if not v.is_Integer:
            free = ", ".join(sorted(str(s) for s in v.free_symbols)) or str(v)
            raise Unchecked(f"the index {free} has no value here")
        return int(v)

    # ---------------------------------------------------------------- the walk
    def value(self, e, env: Env | None = None):
        env = env or Env()
        if isinstance(e, _PerExample):
            body, k = e.args
            return self.value(body, env.child(example=env.indices[k]))
        if isinstance(e, sp.MatrixBase):
            return sp.Matrix(e.rows, e.cols, [self.value(x, env) for x in e])
        if isinstance(e, (sp.Integer, sp.Rational, sp.Float)) or e in (sp.pi, sp.E, sp.oo, -sp.oo):
            return e
        if isinstance(e, sp.NumberSymbol) or e.is_Number:
            return e
        if isinstance(e, sp.Symbol):
            return self.symbol_value(e, env)
        if isinstance(e, sp.Indexed):
            return self.indexed_value(e, env)
        if isinstance(e, sp.Sum):
            return self.sum_value(e, env)
        if isinstance(e, sp.Derivative):
            return self.derivative_value(e, env)
        if isinstance(e, Transpose):
            v = self.value(e.args[0], env)
            return v.T if isinstance(v, sp.MatrixBase) else v
        if isinstance(e, (MatProd, sp.Mul)):
            return self.product_value(list(e.args), env, ordered=isinstance(e, MatProd))
        if isinstance(e, Hadamard):
            a, b = (self.vector_value(x, env) for x in e.args)
            if isinstance(a, sp.MatrixBase) and isinstance(b, sp.MatrixBase):
                if a.shape != b.shape:
                    raise NotConformable(f"an elementwise product of a {a.shape[0]}x{a.shape[1]} and a {b.shape[0]}x{b.shape[1]} array")
                return a.multiply_elementwise(b)
            return a * b
        if isinstance(e, sp.Add):
            parts = [self.value(a, env) for a in e.args]
            mats = [p for p in parts if isinstance(p, sp.MatrixBase)]
            if mats and len(mats) != len(parts):
                parts = [self.promote(a, p, env, mats[0].shape) for a, p in zip(e.args, parts)]
            total = parts[0]
            for p in parts[1:]:
                if isinstance(total, sp.MatrixBase) and isinstance(p, sp.MatrixBase) and total.shape != p.shape:
                    raise NotConformable(f"a sum of a {total.shape[0]}x{total.shape[1]} and a {p.shape[0]}x{p.shape[1]} array")
                total = total + p
            return total
        if isinstance(e, sp.Pow):
            base = self.value(e.base, env)
            exp_ = self.value(e.exp, env)
            if isinstance(base, sp.MatrixBase) or isinstance(exp_, sp.MatrixBase):
                if isinstance(base, sp.MatrixBase) and base.shape == (1, 1):
                    base = base[0, 0]
                else:
                    raise Unchecked("a power of a matrix")
            return base**exp_
        if isinstance(e, Grad):
            return self.grad_value(e, env)
        if isinstance(e, SetSum):
            return self.set_sum_value(e, env)
        if isinstance(e, IApply):
            return self.iapply_value(e, env)
        if isinstance(e, AppliedUndef):
            return self.call_value(e, env)
        if isinstance(e, sp.Piecewise):
            pieces = [(self.value(v, env), self.condition(c, env)) for v, c in e.args]
            return sp.Piecewise(*pieces)
        if isinstance(e, sp.Heaviside):
            arg = self.value(e.args[0], env)
            h0 = e.args[1] if len(e.args) > 1 else sp.S.Zero
            return self.elementwise(lambda z: sp.Heaviside(z, h0), arg)
        if isinstance(e, sp.Max) and len(e.args) == 2 and sp.S.Zero in e.args:
            other = e.args[0] if e.args[1] == 0 else e.args[1]
            return self.elementwise(Relu, self.value(other, env))
        if isinstance(e, (sp.Max, sp.Min)):
            return e.func(*[self.value(a, env) for a in e.args], evaluate=False)
        if isinstance(e, sp.Abs):
            v = self.value(e.args[0], env)
            if isinstance(v, sp.MatrixBase) and v.rows == v.cols and v.rows > 1:
                return determinant(v)  # |H|: the determinant
            return self.elementwise(sp.Abs, v)
        if isinstance(e, sp.Function):  # exp, log, sin, cos, Abs ...
            args = [self.value(a, env) for a in e.args]
            if len(args) == 1:
                return self.elementwise(e.func, args[0])
            return e.func(*args)
        if isinstance(e, sp.Tuple):
            raise Unchecked("a list of values where one value was expected")
        raise Unchecked(f"cannot give a value to {type(e).__name__}")

    def condition(self, c, env):
        if c in (sp.true, sp.false):
            return c
        if isinstance(c, sp.core.relational.Relational):
            return c.func(self.value(c.lhs, env), self.value(c.rhs, env))
        raise Unchecked("an unsupported condition")

    @staticmethod
    def elementwise(f, arg):
        if isinstance(arg, sp.MatrixBase):
            return arg.applyfunc(f)
        return f(arg)

    # -- symbols -----------------------------------------------------------------
    def symbol_value(self, s: sp.Symbol, env: Env):
        if s in env.indices:
            return sp.Integer(env.indices[s])
        family, _, sub = s.name.partition("_")
        if family in PARAM_FAMILIES and sub.isalpha() and sp.Symbol(sub, integer=True) in env.indices:
            return atom(f"{family}_{env.indices[sp.Symbol(sub, integer=True)]}")  # phi_k inside a sum over k
        if family in ("phi", "theta") and sub.isdigit() and self.sequences is not None and family in self.sequences:
            values = self.sequences[family]
            if int(sub) in values:
                return values[int(sub)]  # phi_1 in a recurrence: the parameters after step 1
        if s in env.bindings:
            return env.bindings[s]
        if s.name in env.keep:
            return atom(s.name)
        if s.name in self.counts:
            return sp.Integer(COUNT)
        if env.example is not None and s.name in DATA_NAMES:
            self.used_index_reading.add(s.name)
            return atom(f"{s.name}__{env.example}")
        defs = [d for d in self.definitions(s.name) if not d.indices]
        if defs:
            d = defs[-1]
            return self.value(d.body, env.child(bindings={**env.bindings}))
        if env.example is not None:
            indexed = [d for d in self.definitions(s.name) if d.indices and len(d.indices) == 1]
            if indexed:
                return self.indexed_value(sp.IndexedBase(s.name)[env.example], env)
        if s.name == "X" and not self.definitions("X"):
            return self.design_matrix(env)
        if s.name in ("xbar", "ybar") and not self.definitions(s.name):
            base = s.name[0]
            self.notes.append(f"{s.name[0]}bar read as the mean of the {base}_i")
            return sum((atom(f"{base}__{k}") for k in range(1, COUNT + 1)), sp.S.Zero) / COUNT
        if s.name == "H" and not self.definitions("H"):
            return self.hessian(sp.Symbol("L"), env)
        if s.name in ("sigma", "sig"):
            raise Unchecked("sigma is used without its argument")
        if s.is_integer:
            raise Unchecked(f"the index {s.name} has no value here")
        return atom(s.name)

    def design_matrix(self, env):
        return sp.Matrix(COUNT, 1, [atom(f"x__{k}") for k in range(1, COUNT + 1)])

    def indexed_value(self, e: sp.Indexed, env: Env):
        name = _name(e)
        if name in PARAM_FAMILIES and not (self.sequences is not None and name in self.sequences) \
                and not self.definitions(name):
            idx = [self.index_value(i, env) for i in e.indices]
            return atom(f"{name}_{''.join(str(v) for v in idx)}")  # theta_{k0} inside a sum over k
        if name == "H" and not self.definitions("H") and len(e.indices) in (1, 2):
            idx = [self.index_value(i, env) for i in e.indices]
            if len(idx) == 1 and idx[0] >= 11:
                idx = [idx[0] // 10, idx[0] % 10]
            if len(idx) == 2:
                h = self.hessian(sp.Symbol("L"), env)
                if not (1 <= idx[0] <= h.rows and 1 <= idx[1] <= h.cols):
                    raise Unchecked(f"H_{{{idx[0]},{idx[1]}}} is outside the {h.rows}x{h.cols} Hessian")
                return h[idx[0] - 1, idx[1] - 1]
        if self.sequences is not None and name in self.sequences:
            k = self.index_value(e.indices[0], env)
            values = self.sequences[name]
            if k not in values:
                raise Unchecked(f"{name}_{k} is outside the steps that were run")
            return values[k]
        key = self.key_atom(e, env)
        if key.name in env.keep:
            return key
        idx = [self.index_value(i, env) for i in e.indices]
        for d in reversed(self.definitions(name)):
            if not d.indices or len(d.indices) != len(idx):
                continue
            binding = {}
            ok = True
            for pattern, value in zip(d.indices, idx):
                if isinstance(pattern, sp.Integer):
                    ok = ok and int(pattern) == value
                elif isinstance(pattern, sp.Symbol):
                    binding[pattern] = value
                else:
                    ok = False
            if ok:
                return self.value(d.body, env.child(indices={**env.indices, **binding}))
        plain = [d for d in self.definitions(name) if not d.indices and not d.formals]
        if plain and len(idx) == 1:
            return self.value(plain[-1].body, env.child(example=idx[0]))
        return key

    # -- sums ------------------------------------------------------------------------
    def sum_value(self, e: sp.Sum, env: Env):
        body = e.function
        limits = list(e.limits)
        k, lo, hi = limits[-1]
        if len(limits) > 1:
            inner = sp.Sum(body, *limits[:-1])
        else:
            inner = body
        if k == IMPLICIT_INDEX:
            inner, k = self.bind_implicit(inner, env)
        lo_v, hi_v = self.value(lo, env), self.value(hi, env)
        if hi_v == sp.oo:
            return self.infinite_sum(inner, k, lo_v, env)
        if not (getattr(lo_v, "is_Integer", False) and getattr(hi_v, "is_Integer", False)):
            raise Unchecked(f"a sum from {lo} to {hi} whose limits have no value here")
        count = int(hi_v) - int(lo_v) + 1
        if count > MAX_TERMS:
            raise Unchecked("a sum too large to expand")
        if env.strip is not None and self.is_example_sum(hi_v, hi):
            target = env.strip
            return self.value(inner, env.child(indices={**env.indices, k: env.indices[target]}))
        example = self.is_example_sum(hi_v, hi) and env.example is None
        terms = [self.value(inner, env.child(indices={**env.indices, k: v}, example=v if example else env.example))
                 for v in range(int(lo_v), int(hi_v) + 1)]
        if not terms:
            return sp.S.Zero
        total = terms[0]
        for t in terms[1:]:
            total = total + t
        return total

    def is_example_sum(self, hi_v, hi) -> bool:
        return int(hi_v) == COUNT and (isinstance(hi, sp.Symbol) and hi.name in self.counts)

    def bind_implicit(self, body, env):
        """``\\sum x_i^2``: over the example index the body uses; ``\\sum (f - y)^2``: over the examples,
        reading the bare data symbols as indexed (the reason says so)."""
        free = sorted((s for s in body.free_symbols if isinstance(s, sp.Symbol) and s.is_integer
                       and s not in env.indices and s.name not in self.counts), key=lambda s: s.name)
        if free:
            k = free[0]
            return body, k
        k = sp.Symbol("_j", integer=True)
        names = {s.name for s in body.free_symbols if isinstance(s, sp.Symbol)}
        hit = [n for n in names if n in DATA_NAMES or n in ("f", "yhat", "r", "e", "p")
               or self.per_example(sp.Symbol(n), env)]
        if not hit and not any(type(a).__name__ == "f" for a in body.atoms(AppliedUndef)):
            raise Unchecked("a sum without an index over something that does not depend on the examples")
        for n in hit:
            self.used_index_reading.add(n)
        return _PerExample(body, k), k

    def infinite_sum(self, body, k, lo, env):
        """A geometric series sum_{k >= lo} c r^k (|r| < 1): c r^lo / (1 - r); anything else is not summed."""
        kk = sp.Symbol("_kk", integer=True, nonnegative=True)
        term = self.value(body, env.child(bindings={**env.bindings, k: kk}))
        ratio = sp.powsimp(sp.expand_power_base(term.xreplace({kk: kk + 1}) / term, force=True), force=True)
        ratio = sp.simplify(ratio) if sp.count_ops(ratio) < 40 else ratio
        if kk in ratio.free_symbols:
            raise Unchecked("an infinite sum that is not a geometric series cannot be checked")
        self.notes.append(f"the geometric series converges for |{ratio}| < 1")
        return term.xreplace({kk: lo}) / (1 - ratio)

    # -- products, vectors ------------------------------------------------------
    def product_value(self, args, env, *, ordered: bool):
        values = [self.value(a, env) for a in args]
        mats = [v for v in values if isinstance(v, sp.MatrixBase)]
        if not mats:
            out = sp.S.One
            for v in values:
                out = out * v
            return out
        if not ordered and len(mats) > 1:
            raise Unchecked("a product of several matrices whose order is not known")
        # per-example scalars next to a matrix over the examples become vectors over the examples
        values = [self.promote(a, v, env, None, mats) for a, v in zip(args, values)]
        if not ordered:
            scalars = [v for v in values if not isinstance(v, sp.MatrixBase)]
            arrays = [v for v in values if isinstance(v, sp.MatrixBase)]
            if len(arrays) == 2:
                m, v = arrays if arrays[0] is mats[0] else arrays[::-1]
                if m.shape[1] == v.shape[0]:
                    arrays = [m, v]
                elif v.shape[1] == m.shape[0]:
                    arrays = [v, m]
                else:
                    raise NotConformable(f"a {m.shape[0]}x{m.shape[1]} matrix times a {v.shape[0]}x{v.shape[1]} one is not defined")
            values = scalars + arrays
        out = None
        for v in values:
            if out is None:
                out = v
                continue
            if isinstance(out, sp.MatrixBase) and isinstance(v, sp.MatrixBase):
                if out.shape[1] != v.shape[0]:
                    if out.shape == (1, 1) or v.shape == (1, 1):
                        out = out * v[0, 0] if v.shape == (1, 1) else out[0, 0] * v
                        continue
                    raise NotConformable(
                        f"a {out.shape[0]}x{out.shape[1]} matrix times a {v.shape[0]}x{v.shape[1]} one is not defined")
                out = out * v
            else:
                out = out * v
        if isinstance(out, sp.MatrixBase) and out.shape == (1, 1):
            return out[0, 0]
        return out

    def promote(self, expr, value, env, shape, mats=None):
        """A scalar that depends on the examples, beside a matrix with one row per example: the column
        of its values for each example."""
        if isinstance(value, sp.MatrixBase) or not self.per_example(expr, env):
            return value
        mats = mats or []
        rows_ok = shape is not None and shape[0] == COUNT
        cols_ok = any(m.shape[1] == COUNT or m.shape[0] == COUNT for m in mats)
        if not (rows_ok or cols_ok):
            return value
        return sp.Matrix(COUNT, 1, [self.value(expr, env.child(example=k)) for k in range(1, COUNT + 1)])

    def vector_value(self, expr, env):
        v = self.value(expr, env)
        if isinstance(v, sp.MatrixBase) or not self.per_example(expr, env):
            return v
        return sp.Matrix(COUNT, 1, [self.value(expr, env.child(example=k)) for k in range(1, COUNT + 1)])

    def per_example(self, expr, env) -> bool:
        if env.example is not None:
            return False
        names = {s.name for s in expr.free_symbols if isinstance(s, sp.Symbol)}
        if names & set(DATA_NAMES):
            return True
        for n in names:
            for d in self.definitions(n):
                if not d.indices and d.body.free_symbols and self.per_example(d.body, env):
                    return True
        return False

    # -- derivatives --------------------------------------------------------------
    def derivative_value(self, e: sp.Derivative, env: Env):
        variables = [self.renamed(v) for v, n in e.variable_count for _ in range(int(n))]
        vector = [v for v in variables if isinstance(v, sp.Symbol) and v.name in ("phi", "theta") and not self.definitions(v.name)]
        self.require_defined(e.expr)
        if vector:
            if len(variables) > 1:
                known = ", ".join(sorted(self.known_parameters)) or "no parameters"
                raise Unchecked(f"{vector[0].name} is not a variable of {_name(e.expr)} (it depends on {known}); if it is "
                                "another name for one of them, say so, e.g. 'where $\\phi = \\phi_0$'")
            target = self.value(e.expr, env)
            params = parameter_atoms(target)
            if not params:
                raise Unchecked(f"{_name(e.expr)} depends on no parameters")
            self.gradient_order = [p.name for p in params]
            return sp.Matrix(len(params), 1, [derivative(target, p) for p in params])
        keys = []
        for v in variables:
            if isinstance(v, sp.Symbol) and v in env.indices:
                raise Unchecked(f"cannot differentiate with respect to the index {v.name}")
            keys.append(self.key_atom(v, env))
        keep = env.keep | {k.name for k in keys}
        target = self.value(e.expr, env.child(keep=keep))
        target = self.through_intermediates(e.expr, target, variables, keys, env)
        for v, k in zip(variables, keys):
            if is_parameter_name(k.name) and self.known_parameters and k.name not in self.known_parameters \
                    and k not in _free_atoms(target):
                known = ", ".join(sorted(self.known_parameters))
                raise Unchecked(f"{k.name} is not a variable of {_name(e.expr)} (it depends on {known}); if it is "
                                "another name for one of them, say so, e.g. 'where $\\phi = \\phi_0$'")
        result = target
        memo: dict = {}
        for k in keys:
            memo = {}
            if isinstance(result, sp.MatrixBase):
                result = result.applyfunc(lambda e, k=k: derivative(e, k))
            else:
                result = derivative(result, k, memo)
            if memo.get("__kink__"):
                self.notes.append("away from the ReLU kinks (there the second derivative is a Dirac delta, taken as 0 as autodiff does)")
        # the kept intermediates take their values again
        values = {}
        for v, k in zip(variables, keys):
            if k.name in env.keep:
                continue
            val = self.value(v, env)
            if val != k:
                values[k] = val
        if values:
            result = result.xreplace(values) if not isinstance(result, sp.MatrixBase) else result.applyfunc(
                lambda x: x.xreplace(values))
        return result

    def through_intermediates(self, expr, target, variables, keys, env):
        """dL/d yhat_i where the sheet defines yhat_i = f[x_i, phi] but L is written in f[x_i, phi]: the kept
        name never appears in L, so L's value is searched for the intermediate's value, which is then kept."""
        if isinstance(target, sp.MatrixBase):
            return target
        missing = [(v, k) for v, k in zip(variables, keys)
                   if k not in _free_atoms(target) and k.name not in env.keep and self.definitions(_name(v))]
        if not missing:
            return target
        full = None
        for v, k in missing:
            val = self.value(v, env)
            if val == k or isinstance(val, sp.MatrixBase) or not _free_atoms(val):
                continue
            if full is None:
                full = self.value(expr, env)
                if isinstance(full, sp.MatrixBase):
                    return target
            replaced = full.subs(val, k)
            if k in _free_atoms(replaced):
                full = replaced
        if full is not None and any(k in _free_atoms(full) for _, k in missing):
            self.notes.append("the intermediate's value was found inside the loss and differentiated as one quantity")
            return full
        return target

    def require_defined(self, target):
        """A derivative of a name the problem never defines cannot be checked."""
        name = _name(target)
        if isinstance(target, sp.Symbol) and not self.definitions(name) and not is_parameter_name(name) \
                and name not in DATA_NAMES and name not in ("H",):
            raise Unchecked(f"no definition of {name} found in this problem (write {name} = ... or refer to its equation number)")

    def renamed(self, v):
        """``where $\\phi = \\phi_0$``: a derivative in phi is one in phi_0."""
        if isinstance(v, sp.Symbol):
            defs = [d for d in self.definitions(v.name) if not d.indices and not d.formals]
            if defs and isinstance(defs[-1].body, sp.Symbol) and is_parameter_name(defs[-1].body.name):
                return defs[-1].body
        return v

    # -- calls -----------------------------------------------------------------------
    def call_value(self, e, env: Env):
        name = _name(e)
        args = list(e.args)
        if name.endswith("'"):
            return self.prime_value(name, args, env)
        if name == "sig":
            return self.elementwise(sig, self.value(args[0], env))
        if name == "softplus":
            return self.elementwise(lambda z: sp.log(1 + sp.exp(z)), self.value(args[0], env))
        if name in ("Tr", "Det"):
            m = self.value(args[0], env)
            if not isinstance(m, sp.MatrixBase):
                if name == "Tr":
                    return m
                raise Unchecked(f"the determinant of something that is not a matrix ({args[0]})")
            if m.rows != m.cols:
                raise NotConformable(f"the {'trace' if name == 'Tr' else 'determinant'} of a {m.rows}x{m.cols} matrix")
            return m.trace() if name == "Tr" else determinant(m)
        if name == "H" and not self.definitions("H"):
            target = args[0] if args else sp.Symbol("L")
            return self.hessian(target, env)
        defs = [d for d in self.definitions(name) if not d.indices]
        if defs:
            d = defs[-1]
            return self.apply_definition(d, args, env)
        if name == "a" and self.relu and len(args) == 1:
            return self.elementwise(Relu, self.value(args[0], env))
        if name == "a":
            raise Unchecked("a[..] is used but not defined (say it is the ReLU, or define a[z] = ...)")
        raise Unchecked(f"no definition of the function {name} found in this problem")

    def apply_definition(self, d: Definition, args, env: Env):
        binding = {}
        formals = list(d.formals)
        bindable = [a for a in args if not self.is_parameter(a)]
        if formals:
            if len(bindable) < len(formals):
                bindable = list(args)[: len(formals)]
            for f, a in zip(formals, bindable):
                binding[f] = self.value(a, env)
        child = env.child(bindings={**env.bindings, **{k: v for k, v in binding.items() if isinstance(k, sp.Symbol)}})
        body = d.body
        indexed_formals = {k: v for k, v in binding.items() if not isinstance(k, sp.Symbol)}
        if indexed_formals:
            keys = {self.key_atom(k, child).name: v for k, v in indexed_formals.items()}
            return self.value(body, child.child(keep=child.keep | set(keys))).xreplace(
                {atom(n): v for n, v in keys.items()}) if not isinstance(body, sp.MatrixBase) else self.value(body, child)
        return self.value(body, child)

    def is_parameter(self, a) -> bool:
        name = _name(a)
        return isinstance(a, sp.Symbol) and (is_parameter_name(name) or name in ("phi", "theta"))

    def prime_value(self, name, args, env):
        base = name.rstrip("'")
        order = len(name) - len(base)
        if len(args) != 1:
            raise Unchecked(f"{name}(..) with {len(args)} arguments")
        u = sp.Symbol("_u", real=True)
        if base == "sig":
            body = sig(u)
        elif base == "a" and not [d for d in self.definitions("a") if not d.indices]:
            if not self.relu:
                raise Unchecked("a'(..) is used but a is not defined")
            body = Relu(u)
        else:
            defs = [d for d in self.definitions(base) if not d.indices]
            if not defs or len(defs[-1].formals) != 1:
                raise Unchecked(f"{base}' is used but {base} is not defined as a function of one variable")
            d = defs[-1]
            body = self.value(d.body, env.child(bindings={**env.bindings, d.formals[0]: u}))
        deriv = body
        for _ in range(order):
            deriv = derivative(deriv, u)
        arg = self.value(args[0], env)
        return self.elementwise(lambda z: relu_safe(deriv).xreplace({u: z}), arg)

    def iapply_value(self, e: IApply, env: Env):
        base, args = e.args
        name = _name(base)
        idx = [self.index_value(i, env) for i in base.indices]
        for d in reversed(self.definitions(name)):
            if len(d.indices) != len(idx):
                continue
            if all((isinstance(p, sp.Integer) and int(p) == v) or isinstance(p, sp.Symbol) for p, v in zip(d.indices, idx)):
                binding = {p: v for p, v in zip(d.indices, idx) if isinstance(p, sp.Symbol)}
                child = env.child(indices={**env.indices, **binding})
                values = [self.value(a, env) for a in args]
                formals = list(d.formals) or [s for s in sp.ordered(d.body.free_symbols) if isinstance(s, sp.Symbol)
                                              and s.name in DATA_NAMES + ("z",)][:1]
                if len(formals) != len(values):
                    raise Unchecked(f"{name}_{idx} is applied to {len(values)} argument(s) but depends on {len(formals)}")
                return self.value(d.body, child.child(bindings={**child.bindings, **dict(zip(formals, values))}))
        raise Unchecked(f"no definition of {name}_{{{', '.join(map(str, idx))}}}(..) found in this problem")

    def hessian(self, target, env):
        """H[phi] (of L), H[J]: second derivatives in the parameters, ordered phi_0, phi_1, .., theta_10, .."""
        if isinstance(target, sp.Symbol) and target.name in ("phi", "theta", "w"):
            target = sp.Symbol("L")
        f = self.value(target, env)
        if isinstance(f, sp.MatrixBase):
            raise Unchecked("the Hessian of something that is not a number")
        params = parameter_atoms(f)
        if not params:
            raise Unchecked("the Hessian needs the problem's parameters, and the loss depends on none")
        self.hessian_order = [p.name for p in params]
        first = [derivative(f, p) for p in params]
        return sp.Matrix(len(params), len(params), lambda r, c: derivative(first[r], params[c]))

    # -- gradients as values (recurrences) -------------------------------------------
    def grad_value(self, e: Grad, env: Env):
        if self.sequences is None or "__grad__" not in self.sequences:
            raise Unchecked("a gradient written without its variable (\\nabla ..) only has a value in a recurrence")
        step = self.step_of(e.args[0], env)
        values = self.sequences["__grad__"]
        if step not in values:
            raise Unchecked(f"the gradient at step {step} is outside the steps that were run")
        return values[step]

    def set_sum_value(self, e: SetSum, env: Env):
        if self.sequences is not None and "__grad__" in self.sequences:
            return self.grad_value(Grad(e.args[0]), env)
        raise Unchecked("a sum over a set (\\sum_{i \\in B}) cannot be checked outside a recurrence")

    def step_of(self, e, env) -> int:
        """The step a gradient is taken at: \\nabla l_t, \\nabla \\ell(\\Theta^{(t)}), \\partial l_i[\\phi_t]."""
        found = []
        for ind in sorted(e.atoms(sp.Indexed), key=str):
            for i in ind.indices:
                try:
                    found.append(self.index_value(i, env))
                except Unchecked:
                    continue
        if not found:
            for s in e.free_symbols:
                if isinstance(s, sp.Symbol) and s.name.endswith("_t") and sp.Symbol("t", integer=True) in env.indices:
                    found.append(env.indices[sp.Symbol("t", integer=True)])
                family, _, sub = getattr(s, "name", "").partition("_")
                if sub.isdigit() and self.sequences is not None and family in self.sequences:
                    found.append(int(sub))  # \nabla L[\phi_1]: the gradient at the parameters after step 1
        if not found:
            raise Unchecked(f"cannot tell at which step the gradient {e} is taken")
        return found[-1]


# ------------------------------------------------------------------ numbers
def draw(symbols, rng) -> dict:
    """Random values: parameters ~ N(0, 0.8^2), inputs in (-1.5, 1.5), targets and other quantities in (0.05, 0.95)."""
    values = {}
    for s in symbols:
        name = s.name.split("__")[0]
        if is_parameter_name(name) or name in ("phi", "theta"):
            values[s] = rng.normal(0.0, 0.8)
        elif name in ("x", "X", "z") or name.startswith("x"):
            values[s] = rng.uniform(-1.5, 1.5)
        elif name in ("beta", "lambda", "mu", "gamma", "rho"):
            values[s] = rng.uniform(0.2, 0.9)
        elif name in ("alpha", "eta"):
            values[s] = rng.uniform(0.05, 0.5)
        elif name.startswith("G") or name.startswith("m") or name.startswith("v"):
            values[s] = rng.normal(0.0, 1.0)
        else:
            values[s] = rng.uniform(0.05, 0.95)
    return values


_UNARY = {sp.exp: np.exp, sp.log: np.log, sp.sin: np.sin, sp.cos: np.cos, sp.tan: np.tan, sp.tanh: np.tanh,
          sp.sinh: np.sinh, sp.cosh: np.cosh, sp.Abs: np.abs, sp.sign: np.sign}


def evaluate_many(expr, values: dict):
    """Evaluate an explicit SymPy expression (or matrix) on arrays of draws, walking its tree once."""
    if isinstance(expr, sp.MatrixBase):
        return np.stack([np.broadcast_to(evaluate_many(x, values), _shape(values)) for x in expr])
    memo: dict = {}
    with np.errstate(all="ignore"):
        return _walk(expr, values, memo)


def _shape(values):
    for v in values.values():
        return np.shape(v)
    return (1,)


def _walk(e, values, memo):
    hit = memo.get(e)
    if hit is not None:
        return hit
    if e in values:
        out = values[e]
    elif e.is_Number:
        out = float(e) if e.is_real is not False else complex(e)
    elif e is sp.pi or e is sp.E:
        out = float(e)
    elif isinstance(e, sp.Add):
        out = 0.0
        for a in e.args:
            out = out + _walk(a, values, memo)
    elif isinstance(e, sp.Mul):
        out = 1.0
        for a in e.args:
            out = out * _walk(a, values, memo)
    elif isinstance(e, sp.Pow):
        base = _walk(e.base, values, memo)
        if e.exp == sp.S.Half:
            out = np.sqrt(base)
        elif e.exp.is_Integer:
            out = np.power(np.asarray(base, dtype=float), int(e.exp)) if int(e.exp) >= 0 else 1.0 / np.power(
                np.asarray(base, dtype=float), -int(e.exp))
        else:
            out = np.power(np.asarray(base, dtype=float), _walk(e.exp, values, memo))
    elif type(e) in _UNARY:
        out = _UNARY[type(e)](_walk(e.args[0], values, memo))
    elif isinstance(e, Relu):
        out = np.maximum(0.0, _walk(e.args[0], values, memo))
    elif isinstance(e, sp.Heaviside):
        z = np.asarray(_walk(e.args[0], values, memo), dtype=float)
        h0 = float(e.args[1]) if len(e.args) > 1 and e.args[1].is_Number else 0.5
        out = np.where(z > 0, 1.0, np.where(z < 0, 0.0, h0))
    elif isinstance(e, sp.DiracDelta):
        out = np.zeros(_shape(values))
    elif isinstance(e, (sp.Max, sp.Min)):
        parts = [np.asarray(_walk(a, values, memo), dtype=float) for a in e.args]
        fn = np.maximum if isinstance(e, sp.Max) else np.minimum
        out = parts[0]
        for p in parts[1:]:
            out = fn(out, p)
    elif isinstance(e, sp.Piecewise):
        out = np.full(_shape(values), np.nan)
        done = np.zeros(_shape(values), dtype=bool)
        for value, cond in e.args:
            mask = np.broadcast_to(_condition(cond, values, memo), _shape(values)) & ~done
            out = np.where(mask, np.broadcast_to(_walk(value, values, memo), _shape(values)), out)
            done = done | mask
    else:
        raise Unchecked(f"cannot evaluate {type(e).__name__} numerically")
    memo[e] = out
    return out


def _condition(c, values, memo):
    if c is sp.true:
        return np.ones(_shape(values), dtype=bool)
    if c is sp.false:
        return np.zeros(_shape(values), dtype=bool)
    lhs = np.asarray(_walk(c.lhs, values, memo), dtype=float)
    rhs = np.asarray(_walk(c.rhs, values, memo), dtype=float)
    ops = {sp.StrictGreaterThan: np.greater, sp.StrictLessThan: np.less, sp.GreaterThan: np.greater_equal,
           sp.LessThan: np.less_equal, sp.Equality: np.equal}
    for kind, fn in ops.items():
        if isinstance(c, kind):
            return fn(lhs, rhs)
    if isinstance(c, sp.And):
        out = np.ones(_shape(values), dtype=bool)
        for a in c.args:
            out = out & _condition(a, values, memo)
        return out
    raise Unchecked("an unsupported condition")




