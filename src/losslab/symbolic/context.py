"""What a problem's symbols mean: the book's definitions for the problem, overridden by the sheet's own.

A student answering Problem 6.N uses the chapter's objects without restating
them: each problem brings its model ``f``, its loss ``L`` (a **sum** over the
examples, eq. 6.5) and the per-example ``l_i``, ``sig``, the ReLU ``a``, and for
6.10 the momentum recurrence with ``m_0 = 0`` (the book's notebooks start it
there). The sheet's definitions -- ``J = ..``, ``e_i = ..``, ``\\hat y = \\sigma(z)``,
``z_1 = \\theta_{10} + \\theta_{11} x``, ``a(z) = \\max(0, z)``, an update rule
``v^{(t+1)} = \\lambda v^{(t)} - \\alpha \\nabla \\ell(\\Theta^{(t)})`` -- override the
book's, in order of the sheet (a definition may also be used before the line
that states it, as people write "where ..." after a formula).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import sympy as sp
from sympy.core.function import AppliedUndef

from .evaluate import Definition, is_parameter_name
from .latex import parse_relation
from .nodes import Grad, SetSum

__all__ = ["BOOK", "Rule", "Context", "definable", "rule_shaped", "vector_names", "function_names", "count_names"]

_LINEAR = r"f[x, \phi] = \phi_0 + \phi_1 x"
_GABOR = r"f[x, \phi] = \sin[\phi_0 + 0.06 \phi_1 x] \exp\left[-\frac{(\phi_0 + 0.06 \phi_1 x)^2}{32}\right]"
_SHALLOW = (r"f[x, \phi] = \phi_0 + \phi_1 a[\theta_{10} + \theta_{11} x] + \phi_2 a[\theta_{20} + \theta_{21} x]"
            r" + \phi_3 a[\theta_{30} + \theta_{31} x]")
_LEAST_SQUARES = [r"L[\phi] = \sum_{i=1}^{I} (f[x_i, \phi] - y_i)^2", r"l_i = (f[x_i, \phi] - y_i)^2"]
_BCE = [r"L[\phi] = \sum_{i=1}^{I} -(1 - y_i) \log[1 - \text{sig}[f[x_i, \phi]]] - y_i \log[\text{sig}[f[x_i, \phi]]]",
        r"l_i = -(1 - y_i) \log[1 - \text{sig}[f[x_i, \phi]]] - y_i \log[\text{sig}[f[x_i, \phi]]]"]
_MOMENTUM = [r"m_{t+1} = \beta m_t + (1 - \beta) \nabla l_t", r"\phi_{t+1} = \phi_t - \alpha m_{t+1}"]

# The chapter's objects, problem by problem (eq. 6.4-6.11, problems 6.1-6.11)
BOOK: dict[str, dict] = {
    "6.1": {"defs": [_LINEAR, *_LEAST_SQUARES], "what": "the linear model (eq. 6.4) with the least-squares loss (eq. 6.5, a sum over i)"},
    "6.2": {"defs": [_LINEAR, *_LEAST_SQUARES], "what": "the linear model (eq. 6.4) with the least-squares loss (eq. 6.5, a sum over i)"},
    "6.3": {"defs": [_GABOR, *_LEAST_SQUARES], "what": "the Gabor model (eq. 6.8) with the least-squares loss (a sum over i)"},
    "6.4": {"defs": [_LINEAR, *_BCE], "what": "logistic regression sig[phi_0 + phi_1 x] with the binary cross-entropy (a sum over i)"},
    "6.5": {"defs": [_SHALLOW, *_LEAST_SQUARES], "what": "the shallow network of eq. 3.1 (ReLU a) with the least-squares loss (a sum over i)"},
    "6.10": {"defs": _MOMENTUM, "what": "momentum (eq. 6.11) started from m_0 = 0 as the book's notebooks do"},
}


@dataclass
class Rule:
    """A recurrence ``s_{t+1} = F(s_t, ..)`` (or its instance at a number, generalised)."""

    name: str
    step: sp.Symbol  # the time symbol of the pattern
    body: sp.Expr  # in terms of step
    line: int

    def __repr__(self) -> str:
        return f"Rule({self.name}_{{{self.step}+1}} = {self.body}, line={self.line})"


def _name(e) -> str:
    if isinstance(e, sp.Indexed):
        return str(e.base.label)
    if isinstance(e, AppliedUndef):
        return type(e).__name__
    return getattr(e, "name", "")


BUILTIN = {"sig", "Tr", "Det", "H", "exp", "log", "a'", "sig'", "Var'"}


def definable(lhs) -> tuple | None:
    """(name, formals, indices) when ``lhs`` can be the left side of a definition, else None."""
    if isinstance(lhs, sp.Symbol):
        if lhs.is_integer:
            return None
        return lhs.name, (), ()
    if isinstance(lhs, sp.Indexed):
        idx = tuple(lhs.indices)
        if all(isinstance(i, (sp.Symbol, sp.Integer)) for i in idx):
            return _name(lhs), (), idx
        if len(idx) == 1 and isinstance(idx[0], sp.Add) and len(idx[0].free_symbols) == 1:
            return _name(lhs), (), idx  # s_{t+1}: a recurrence
        return None
    if isinstance(lhs, AppliedUndef):
        name = _name(lhs)
        if name in BUILTIN or name.endswith("'"):
            return None
        formals = tuple(a for a in lhs.args if isinstance(a, (sp.Symbol, sp.Indexed))
                        and not is_parameter_name(_name(a)) and _name(a) not in ("phi", "theta"))
        if len(formals) != len([a for a in lhs.args if not (isinstance(a, sp.Symbol) and
                                                              (is_parameter_name(a.name) or a.name in ("phi", "theta")))]):
            return None
        return name, formals, ()
    return None


_VECTOR_RE = re.compile(r"\\(?:mathbf|boldsymbol|bm|vec)\s*\{?\s*\\?([A-Za-z]+)\s*\}?")
_TRANSPOSED_RE = re.compile(r"(?:\\mathbf\{([A-Za-z])\}|\b([A-Za-z]))(?:_\{?[^{}^]{1,6}\}?)?\s*\^\s*\{?\s*(?:T\b|\\top)")
_CALL_DEF_RE = re.compile(r"(?:^|[,;]\s*(?:\\q?quad)?\s*)\\?(?:mathcal\{)?([A-Za-z]+)\}?\s*\(([^()=]{1,40})\)\s*(?::=|=)")


def vector_names(latex_rows: list[str]) -> set[str]:
    """Names written bold or transposed anywhere in the problem, and a design matrix X."""
    names = set()
    for row in latex_rows:
        for m in _VECTOR_RE.finditer(row):
            if m.group(1) not in ("1", "H", "m"):
                names.add(m.group(1))
        for m in _TRANSPOSED_RE.finditer(row):
            names.add(m.group(1) or m.group(2))
        if re.search(r"\bX\b|X\^|X\s*\\?w", row):
            names.add("X")
    return names - {"T", "I"}


_COUNT_RE = re.compile(r"_\{?\s*[a-z]\s*=\s*[01]\s*\}?\s*\^\s*\{?\s*([A-Za-z])\s*\}?")


_MEAN_RE = re.compile(r"\\frac\s*\{\s*1\s*\}\s*\{\s*2?\s*([mnNM])\s*\}|\\frac\s*1\s*\{?2?([mnNM])\}?")


def count_names(latex_rows: list[str]) -> set[str]:
    """Upper limits of sums and index ranges over the examples (I, N, m, n ...), and the m of 1/m: the number
    of examples."""
    out = {"N"}
    for row in latex_rows:
        for m in _COUNT_RE.finditer(row):
            out.add(m.group(1))
        for m in _MEAN_RE.finditer(row):
            out.add(m.group(1) or m.group(2))
    return out - {"t", "k", "T", "j", "i"}


def function_names(latex_rows: list[str]) -> set[str]:
    """Names defined as functions somewhere in the problem: ``g(z) = ..``."""
    out = set()
    for row in latex_rows:
        for m in _CALL_DEF_RE.finditer(row):
            out.add(m.group(1))
    return out - {"x", "y", "w", "b"}


@dataclass
class Context:
    """Definitions and recurrences of one problem (book first, then the sheet's, in order)."""

    problem: str | None
    defs: dict[str, list[Definition]] = field(default_factory=dict)
    rules: dict[str, list[Rule]] = field(default_factory=dict)
    assumptions: list[tuple[str, int, int]] = field(default_factory=list)  # (sequence, step, line): s_step = 0
    book_note: str = ""
    vectors: set[str] = field(default_factory=set)
    functions: set[str] = field(default_factory=set)
    counts: set[str] = field(default_factory=set)

    @classmethod
    def for_problem(cls, problem: str | None, rows: list[str]) -> "Context":
        ctx = cls(problem)
        ctx.vectors = vector_names(rows)
        ctx.functions = function_names(rows)
        ctx.counts = count_names(rows)
        book = BOOK.get(_problem_key(problem))
        if book:
            ctx.book_note = book["what"]
            for text in book["defs"]:
                sides, ops = parse_relation(text, functions=frozenset({"f", "a", "L", "l"}))
                ctx.add(sides[0], sides[1], line=0, source="book")
        return ctx

    def parameter_names(self) -> frozenset:
        """Every numbered parameter the problem's definitions mention (phi_0, theta_10, w, b ...)."""
        names = set()
        for defs in self.defs.values():
            for d in defs:
                if isinstance(d.body, sp.Basic):
                    names |= {s.name for s in d.body.free_symbols if isinstance(s, sp.Symbol) and is_parameter_name(s.name)
                              and "_" in s.name and s.name.split("_")[1].isdigit()}
        return frozenset(names)

    def inherit(self, other: "Context", *, override_book: bool = False) -> None:
        """The previous problem's definitions go on: where this problem has no book objects of its own, or
        (``override_book``) where it has the same ones, so that the sheet's own loss stays its loss."""
        for name, defs in other.defs.items():
            mine = [d for d in defs if d.source == "sheet"] if override_book else list(defs)
            if not mine:
                continue
            if override_book:
                self.defs[name] = [d for d in self.defs.get(name, []) if d.source != "book"] + \
                    [Definition(d.name, d.body, d.formals, d.indices, -1, "sheet") for d in mine]
            else:
                self.defs.setdefault(name, list(mine))
        for name, rules in other.rules.items():
            self.rules.setdefault(name, list(rules))

    # -- storing ---------------------------------------------------------------------
    def add(self, lhs, body, *, line: int, source: str = "sheet") -> bool:
        """Record ``lhs := body``; a recurrence when lhs is s_{t+1} / s^{(t+1)}. False if lhs cannot be defined."""
        rule = self.as_rule(lhs, body, line)
        if rule is not None:
            self.rules.setdefault(rule.name, []).append(rule)
            return True
        d = definable(lhs)
        if d is None:
            return False
        name, formals, indices = d
        if source == "sheet":
            self.drop_book(name, indexed=bool(indices))
        self.defs.setdefault(name, []).append(Definition(name, body, formals, indices, line, source))
        return True

    def drop_book(self, name: str, indexed: bool | None = None) -> None:
        """The sheet's own definition replaces the book's of the same kind (f_i = .. leaves the book's f[x, phi])."""
        if name in self.defs:
            self.defs[name] = [d for d in self.defs[name]
                               if d.source != "book" or (indexed is not None and bool(d.indices) != indexed)]
        if name in self.rules:
            self.rules[name] = [r for r in self.rules[name] if r.line > 0]

    def as_rule(self, lhs, body, line) -> Rule | None:
        if not isinstance(lhs, sp.Indexed) or len(lhs.indices) != 1:
            return None
        idx = lhs.indices[0]
        name = _name(lhs)
        same = [ind for ind in body.atoms(sp.Indexed) if _name(ind) == name]
        if isinstance(idx, sp.Add) and len(idx.free_symbols) == 1:
            (t,) = idx.free_symbols
            if sp.simplify(idx - t) == 1 and all(ind.indices[0] == t for ind in same):
                if same or body.has(Grad) or body.has(SetSum) or self.mentions_sequence(body):
                    if line > 0:
                        self.drop_book(name)
                    return Rule(name, t, body, line)
        if isinstance(idx, sp.Symbol) and same and all(ind.indices[0] == idx - 1 for ind in same):
            # v_t = beta v_{t-1} + g_t: the same recurrence, one step later (v_{t+1} = beta v_t + g_{t+1})
            if line > 0:
                self.drop_book(name)
            return Rule(name, idx, body.xreplace({idx: idx + 1}), line)
        if isinstance(idx, sp.Integer) and int(idx) >= 1 and same and all(ind.indices[0] == idx - 1 for ind in same):
            t = sp.Symbol("t", integer=True)
            general = _generalise(body, int(idx) - 1, t)
            if line > 0:
                self.drop_book(name)
            return Rule(name, t, general, line)
        return None

    def mentions_sequence(self, body) -> bool:
        return any(_name(ind) in self.rules for ind in body.atoms(sp.Indexed))

    # -- looking up -----------------------------------------------------------------------
    def lookup_at(self, line: int):
        """name -> definitions in force at ``line``: for each kind of definition (plain, indexed by a pattern,
        indexed by a number) the ones at or before the line, else the first one after it."""
        def lookup(name: str):
            defs = self.defs.get(name)
            if not defs:
                return []
            groups: dict[tuple, list[Definition]] = {}
            for d in defs:
                sig = tuple(str(i) if isinstance(i, sp.Integer) else "_" for i in d.indices)
                groups.setdefault(sig, []).append(d)
            out = []
            # an indexed use of a name defined plainly before is that definition for one example
            known_before = any(d.line <= line and not d.indices and not d.formals for d in defs)
            for group in groups.values():
                before = [d for d in group if d.line <= line]
                if before:
                    out += before
                elif not (known_before and group[0].indices):  # "where ..." after the formula: a forward reference
                    first_after = min(d.line for d in group)
                    out += [d for d in group if d.line == first_after]
            return sorted(out, key=lambda d: d.line if d.line <= line else -1)  # in force last
        return lookup

    def rules_at(self, line: int) -> dict[str, Rule]:
        out = {}
        for name, rules in self.rules.items():
            before = [r for r in rules if r.line <= line]
            chosen = before[-1] if before else (rules[0] if rules else None)
            if chosen is not None:
                out[name] = chosen
        return out

    def initial_zero(self, name: str) -> int | None:
        for seq, step, line in self.assumptions:
            if seq == name:
                return line
        return None


def _generalise(body, k: int, t):
    """s^{(1)} = s^{(0)} - .. -> s^{(t+1)} = s^{(t)} - ..: the step number k in indices becomes t."""
    def fix(e):
        if isinstance(e, sp.Indexed):
            return e.base[tuple(t if i == k else fix(i) for i in e.indices)]
        if isinstance(e, sp.Integer):
            return e
        if e.args:
            return e.func(*[fix(a) for a in e.args])
        return e
    return fix(body)


def rule_shaped(lhs, body) -> bool:
    """s_{t+1} with s_t in the body, or s^{(2)} with s^{(1)} in the body: a recurrence."""
    if not isinstance(lhs, sp.Indexed) or len(lhs.indices) != 1:
        return False
    idx = lhs.indices[0]
    name = _name(lhs)
    same = [ind for ind in body.atoms(sp.Indexed) if _name(ind) == name] if isinstance(body, sp.Basic) else []
    if isinstance(idx, sp.Add) and len(idx.free_symbols) == 1:
        return True
    if isinstance(idx, sp.Symbol) and same and all(ind.indices[0] == idx - 1 for ind in same):
        return True
    return isinstance(idx, sp.Integer) and int(idx) >= 1 and bool(same) and all(
        ind.indices[0] == idx - 1 for ind in same)


def same_book_objects(a: str | None, b: str | None) -> bool:
    ka, kb = _problem_key(a), _problem_key(b)
    return bool(ka and kb and ka in BOOK and kb in BOOK and BOOK[ka]["defs"] == BOOK[kb]["defs"])


def has_book_loss(problem: str | None) -> bool:
    """Is this one of the book's problems about a loss L (6.1-6.5), whose Hessian a statement can be about?"""
    key = _problem_key(problem)
    return bool(key in BOOK and any(re.match(r"\s*L\s*\[", d) for d in BOOK[key]["defs"]))


def _problem_key(problem: str | None) -> str | None:
    if not problem:
        return None
    m = re.match(r"(\d+\.\d+)", problem)
    return m.group(1) if m else None

