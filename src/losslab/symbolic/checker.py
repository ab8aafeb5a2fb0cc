"""``check_sheet``: a verdict on every claim of a hand-written solution sheet, step by step.

The sheet is read into problems (``losslab.symbolic.reading``); each problem
brings the book's definitions and the sheet's own (``losslab.symbolic.context``).
Every equation row that asserts something is a claim: a derivative
(``\\frac{\\partial J}{\\partial \\phi_0} = ..``), a chain ``A = B = C`` (each step
against the one before), a matrix, a trace or determinant, an inequality
(``> 0``, ``\\geq 0``), an unrolled recurrence (``m_{t+1} = ..``). A row whose
left side is a new name is a definition; the rest of its chain is judged.

Each side is given a value with ``losslab.symbolic.evaluate`` (sums expanded
with ``COUNT`` examples, definitions and derivatives resolved), and two sides
are compared at ``N_DRAWS`` random draws of data and parameters (relative
tolerance ``RTOL``), then confirmed exactly where that is cheap. Recurrences
are run symbolically for a few steps. Conventions are the book's: losses are
sums over i unless the sheet defines its own, ReLU'(0) = 0, momentum starts
from m_0 = 0; a verdict that depends on one names it.
"""

from __future__ import annotations

import re
import time
from collections.abc import Collection
from dataclasses import dataclass, field

import numpy as np
import sympy as sp
from sympy.core.function import AppliedUndef

from ..errors import LosslabError
from .context import Context, _name, definable, has_book_loss, rule_shaped, same_book_objects
from .evaluate import _free_atoms as _free, Relu, COUNT, Env, Evaluator, NotConformable, Unchecked, atom, draw, evaluate_many, is_parameter_name
from .latex import NotCheckable, ParseError, parse_expression, split_relation
from .nodes import IMPLICIT_INDEX, Grad, SetSum
from .printing import book_latex
from .properties import Property, eigen_search, find_properties, psd_certificate
from .reading import Math, read_document

__all__ = ["ClaimResult", "Step", "check_sheet", "RTOL", "N_DRAWS", "CONCRETE_I", "CLAIM_SECONDS"]

RTOL = 1e-9
N_DRAWS = 6
CONCRETE_I = COUNT
CLAIM_SECONDS = 20.0  # cooperative budget per claim (checked between steps and draws); the CLI adds a hard one
SHEET_SECONDS = 120.0
INEQUALITY_DRAWS = 200
SEED = 20240601
_DEBUG = bool(__import__("os").environ.get("LOSSLAB_CHECK_DEBUG"))
MAX_OPS_EXACT = 120
LONG_RUN = 200  # the t of "for a long run" in an approximation


@dataclass
class Step:
    """One step of a chain: ``before op after``."""

    number: int
    of: int
    op: str
    before: str
    after: str
    verdict: str
    reason: str
    correction: str = ""  # LaTeX of the step with its mistake undone (checked equal to what it should be)

    def to_dict(self) -> dict:
        return {"step": self.number, "of": self.of, "op": self.op, "before": self.before, "after": self.after,
                "verdict": self.verdict, "reason": self.reason, "correction": self.correction}


@dataclass
class ClaimResult:
    """The verdict on one claim: "correct", "incorrect" or "not checked", with the reason in words."""

    problem: str
    line: int
    latex: str
    verdict: str
    reason: str
    truth_latex: str = ""
    unreadable: bool = False  # the LaTeX itself could not be read (reported, never a verdict on the maths)
    cell: int | None = None
    convention: str = ""
    mistake: str = ""
    steps: list = field(default_factory=list)
    correction: str = ""  # the first wrong step with its mistake undone, LaTeX (checked equal to the truth)

    def __repr__(self) -> str:
        return f"ClaimResult(problem={self.problem!r}, line={self.line}, verdict={self.verdict!r}, latex={self.latex[:40]!r})"

    def to_dict(self) -> dict:
        return {"problem": self.problem, "line": self.line, "cell": self.cell, "latex": self.latex,
                "verdict": self.verdict, "reason": self.reason, "convention": self.convention,
                "mistake": self.mistake, "truth": self.truth_latex, "correction": self.correction,
                "steps": [s.to_dict() for s in self.steps]}


# ------------------------------------------------------------------------------ rows
_QUAD_SPLIT = re.compile(r"\s*(?:,|;|\.)?\s*\\q?quad\s*(?:\\text\{\s*(?:and|и|или|or|e|et|und|y)\s*\}\s*\\q?quad)?\s*")


def _unwrap_boxed(text: str) -> str:
    m = re.match(r"^\s*\\boxed\s*\{(.*)\}\s*$", text, re.S)
    return m.group(1) if m else text


def _pieces(latex: str) -> list[str]:
    """A row holding several equations (``A = .., \\quad B = ..``) split into them; remarks dropped."""
    text = _unwrap_boxed(latex.strip())
    text = re.sub(r"\\forall\b.*$", "", text).strip()
    text = re.sub(r"\\(?:label|tag)\{[^{}]*\}", "", text)
    parts, depth, start, k = [], 0, 0, 0
    while k < len(text):
        ch = text[k]
        if ch in "{([":
            depth += 1
        elif ch in "})]":
            depth -= 1
        elif depth == 0 and text.startswith("\\quad", k) or depth == 0 and text.startswith("\\qquad", k):
            m = _QUAD_SPLIT.match(text, k)
            parts.append(text[start:k])
            start = k = m.end() if m and m.end() > k else k + 5
            continue
        elif depth == 0 and ch == "," and re.match(r",\s*\\q?quad", text[k:]):
            parts.append(text[start:k])
            m = _QUAD_SPLIT.match(text, k)
            start = k = m.end()
            continue
        k += 1
    parts.append(text[start:])
    out = []
    for p in parts:
        p = p.strip().rstrip(".,;").strip()
        if not p:
            continue
        if p.startswith("(") and p.endswith(")") and "\\text" in p:
            continue  # a remark in parentheses
        if out and not _has_relation(p):
            if re.fullmatch(r"(?:\\text\{[^{}]*\}\s*)+", p) or p.startswith("\\text"):
                continue
            out[-1] = out[-1] + " " + p
            continue
        out.append(p)
    return out


def _has_relation(text: str) -> bool:
    try:
        return len(split_relation(text)[1]) > 0
    except (ParseError, LosslabError):
        return "=" in text


@dataclass
class _Row:
    item: Math
    text: str
    sides: list | None
    ops: list
    error: str = ""
    continued: bool = False
    side_lines: list = field(default_factory=list)  # the line each side of a chain is written on
    side_texts: list = field(default_factory=list)  # the LaTeX of each side


# phi_2, theta_3: with an update rule for phi, the parameters after that many steps
_AFTER_STEPS = re.compile(r"(phi|theta)_\d")
_D_NOTATION = re.compile(r"^\s*d\s*(\\?[A-Za-z]+)\s*$")


def _parse_row(text: str, ctx: Context, *, continuation: bool = False) -> tuple[list | None, list, str, list]:
    """The sides and relations of one row; a continuation ("&= B = C") has no left side of its own."""
    try:
        texts, ops = split_relation(text)
        if continuation:
            if not ops or texts[0].strip():
                return None, [], "not a continuation", []
            texts = texts[1:]
        functions, vectors = frozenset(ctx.functions), frozenset(ctx.vectors)
        sides = [parse_expression(t, functions=functions, vectors=vectors) for t in texts]
        for k, t in enumerate(texts):
            m = _D_NOTATION.match(t)
            if m and m.group(1).lstrip("\\") in ("w", "b", "W", "z", "theta", "phi"):
                # dw, db: the derivative of the cost with respect to w, b (the usual shorthand)
                cost = "J" if ("J" in ctx.functions or ctx.defs.get("J")) else "L"
                var = [a for a in sides[k].free_symbols if getattr(a, "name", "") == m.group(1).lstrip("\\")]
                if var:
                    sides[k] = sp.Derivative(sp.Symbol(cost), var[0], evaluate=False)
        return sides, ops, "", [t.strip() for t in texts]
    except NotCheckable as err:
        return None, [], f"NC:{err}", []
    except ParseError as err:
        return None, [], str(err), []


# ------------------------------------------------------------------------------ sheet
def check_sheet(text: str, *, filename: str | None = None, format: str = "auto",
                problems: Collection[str] | None = None) -> list[ClaimResult]:
    """Verdicts on every claim of a solution sheet (Markdown, LaTeX, notebook or plain text with $..$).

    ``problems`` (e.g. ``{"6.3"}``): judge only the claims of those problems' sections. Every section
    is still read, so a section's context (what an earlier problem defined, "the loss above") is the
    same as in a check of the whole sheet, and so are its verdicts.
    """
    doc = read_document(text, format=format, filename=filename)
    if problems is not None:
        if isinstance(problems, str) or not all(isinstance(p, str) for p in problems):
            raise LosslabError(f"The 'problems' parameter of check_sheet must be a collection of problem names such as {{'6.3'}}. Got {problems!r} instead.")
        problems = frozenset(problems)
    statements = {id(section): _property_claims(section) if has_book_loss(section.problem) else []
                  for section in doc.sections}
    if not any(isinstance(it, Math) for section in doc.sections for it in section.items) and not any(statements.values()):
        raise LosslabError("The sheet has no math in it ($..$, $$..$$, \\[..\\] or a LaTeX environment): nothing to check.")
    results: list[ClaimResult] = []
    deadline = time.monotonic() + SHEET_SECONDS
    previous_ctx = None
    sections = doc.sections
    if problems is not None:
        # a section's context comes from the sections before it only: reading stops after the last one judged
        judged = [k for k, section in enumerate(sections) if (section.problem or "") in problems]
        sections = sections[:judged[-1] + 1] if judged else []
    for section in sections:
        maths = [it for it in section.items if isinstance(it, Math)]
        if not maths and not statements[id(section)]:
            continue
        ctx = Context.for_problem(section.problem, [m.latex for m in maths])
        if previous_ctx is not None and section.problem and not ctx.book_note:
            ctx.inherit(previous_ctx)
        elif previous_ctx is not None and same_book_objects(previous_ctx.problem, section.problem):
            ctx.inherit(previous_ctx, override_book=True)  # "we keep the loss above" (6.1 -> 6.2)
        prose = " ".join(getattr(it, "text", "") for it in section.items if not isinstance(it, Math))
        rows = _rows(maths, ctx)
        claims = _collect(rows, ctx, prose)
        claims += _prose_claims(section, rows, ctx)
        claims += statements[id(section)]
        for claim in claims if problems is None or (section.problem or "") in problems else ():
            if time.monotonic() > deadline:
                results.append(_result(section, claim, "not checked", f"the sheet's time budget ({SHEET_SECONDS:.0f} s) ran out"))
                continue
            judged = _judge(section, claim, ctx)
            results.extend(r for r in (judged if isinstance(judged, list) else [judged]) if r.verdict != "definition")
        previous_ctx = ctx
    return results


def _rows(maths: list[Math], ctx: Context) -> list[_Row]:
    rows: list[_Row] = []
    for m in maths:
        for piece in _pieces(m.latex):
            if m.continues and rows and rows[-1].item.display_id == m.display_id and not rows[-1].error:
                # "&= ..." continues the chain of the row above
                # "&= ..." continues the chain of the row above; only the new piece is parsed, so a chain
                # of n rows costs n parses, not n^2 / 2
                head = rows[-1]
                s2, o2, _, t2 = _parse_row(piece, ctx, continuation=True)
                if s2 is None:
                    s2, o2, _, t2 = _parse_row(head.text + " " + piece, ctx)  # "&+ ..": the expression goes on
                    if s2 is not None:
                        lines = head.side_lines or [head.item.line] * len(head.sides)
                        head.side_lines = (lines + [m.line] * len(s2))[:len(s2)]
                        head.text, head.sides, head.ops, head.side_texts = head.text + " " + piece, s2, o2, t2
                        continue
                else:
                    lines = head.side_lines or [head.item.line] * len(head.sides)
                    head.side_lines = lines + [m.line] * len(s2)
                    head.text, head.sides, head.ops = head.text + " " + piece, head.sides + s2, head.ops + o2
                    head.side_texts = head.side_texts + t2
                    continue
            sides, ops, err, texts = _parse_row(piece, ctx)
            rows.append(_Row(m, piece, sides, ops, err, side_lines=[m.line] * len(sides or []), side_texts=texts))
    return rows


@dataclass
class _Claim:
    row: _Row
    start: int  # the first side that is judged (1 after a definition)
    kind: str = "claim"
    prop: Property | None = None  # a convexity / definiteness statement in words (kind "property")


def _collect(rows: list[_Row], ctx: Context, prose: str) -> list[_Claim]:
    """Definitions go into the context (book ones are replaced); the rest are claims."""
    claims: list[_Claim] = []
    sheet_defined: set[str] = set()
    for row in rows:
        item = row.item
        if row.sides is None:
            if item.display and _has_relation(row.text):
                claims.append(_Claim(row, 0, "unreadable"))
            continue
        if not row.ops or any(op in ("in",) for op in row.ops):
            continue
        lhs = row.sides[0]
        # s_0 = 0: the sheet's starting value of a recurrence
        if isinstance(lhs, sp.Indexed) and len(lhs.indices) == 1 and lhs.indices[0] == 0 and row.sides[1] == 0:
            ctx.assumptions.append((str(lhs.base.label), 0, item.line))
            continue
        if isinstance(lhs, sp.log) and isinstance(lhs.args[0], AppliedUndef) and row.ops[0] == "=" \
                and definable(lhs.args[0]) and _def_key(lhs.args[0], None, definable(lhs.args[0]), ctx) not in sheet_defined:
            # log P(y | X, w) = ..: P is exp of the right side
            body = _definition_body(lhs.args[0], row.sides[1:])
            ctx.add(lhs.args[0], sp.exp(body), line=item.line)
            sheet_defined.add(_def_key(lhs.args[0], None, definable(lhs.args[0]), ctx))
            if len(row.sides) > 2:
                claims.append(_Claim(row, 1))
            continue
        if not item.display and len(row.sides) == 2 and isinstance(row.sides[1], sp.Basic) and row.sides[1].is_number:
            continue  # "at $z = 0$": a condition in the prose, not a definition
        d = definable(lhs)
        if d is not None and d[0] == "H" and (not d[2] or all(isinstance(i, sp.Integer) for i in d[2])):
            d = None  # H is the Hessian of the problem's loss: H = .., H_{1,2} = .. are claims about it
        if d is not None and isinstance(lhs, sp.Indexed) and d[0] in ctx.rules and not rule_shaped(lhs, row.sides[1]):
            d = None  # m_3 = .., v_t = beta^2 v_{t-2} + ..: a claim about the recurrence's values
        if d is not None and isinstance(lhs, sp.Symbol) and _AFTER_STEPS.fullmatch(lhs.name) \
                and lhs.name.split("_")[0] in ctx.rules_at(item.line):
            d = None  # phi_2 = ..: the parameters after two steps of the sheet's update rule
        key = _def_key(lhs, row.sides[1], d, ctx)
        fresh = d is not None and key not in sheet_defined
        if fresh and row.ops[0] in ("=", ":=", "<-") and _defines(lhs, row.sides[1], ctx):
            ctx.add(lhs, _definition_body(lhs, row.sides[1:]), line=item.line)
            sheet_defined.add(key)
            if len(row.sides) > 2:
                claims.append(_Claim(row, 1))
            continue
        if d is not None and len(row.sides) == 2 and row.ops[0] in ("=", ":=") and not item.display:
            continue  # an inline restatement
        if d is not None and len(row.sides) == 2 and row.ops[0] in ("=", ":=", "<-"):
            # a second definition of a name: a redefinition if it disagrees (checked when judged)
            claims.append(_Claim(row, 0, "restatement"))
            continue
        if not item.display and not _is_claim_lhs(lhs):
            continue
        claims.append(_Claim(row, 0))
    return claims


def _definition_body(lhs, rest):
    """The first right side, unless it refers to the name being defined (then the first one that does not)."""
    name = definable(lhs)[0] if definable(lhs) else None
    for side in rest:
        if not isinstance(side, sp.Basic):
            return side
        used = {type(a).__name__ for a in side.atoms(AppliedUndef)} | {str(i.base.label) for i in side.atoms(sp.Indexed)}
        if name not in used or rule_shaped(lhs, side):
            return side
    return rest[0]


def _def_key(lhs, body, d, ctx: Context) -> str | None:
    """What a definition defines: f(..) and f_n are different things; z_1 and z_2 too; m_{t+1} is m's rule."""
    if d is None:
        return None
    name, formals, indices = d
    if isinstance(lhs, sp.Indexed) and (body is None or rule_shaped(lhs, body)) and len(lhs.indices) == 1 \
            and (not isinstance(lhs.indices[0], sp.Integer) or body is not None):
        if not isinstance(lhs.indices[0], sp.Symbol) or body is not None:
            return f"{name}[rule]"
    if indices:
        return name + "[" + ",".join(str(i) if isinstance(i, sp.Integer) else "_" for i in indices) + "]"
    return name


_POSITIVE = re.compile(r"\b(?:both|are|is|all)\s+(?:strictly\s+)?(positive|non-?negative)\b", re.IGNORECASE)


_SENTENCE = re.compile(r"(?<=[.!?;])\s+")


def _property_claims(section) -> list[_Claim]:
    """"The loss is convex", "H is positive semi-definite": statements in words about the problem's Hessian."""
    out = []
    for it in section.items:
        if isinstance(it, Math):
            continue
        text = getattr(it, "text", "")
        seen = set()
        offset = 0
        for sentence in _SENTENCE.split(text):
            at = text.find(sentence, offset)
            offset = max(offset, at)
            line = it.line + text.count("\n", 0, max(at, 0))
            for prop in find_properties(sentence):
                if (line, prop.strict, prop.negated) in seen:
                    continue
                seen.add((line, prop.strict, prop.negated))
                item = Math(latex=prop.latex, line=line, cell=it.cell, display=True, label=None, continues=False,
                            display_id=-line, context=sentence[:200])
                row = _Row(item, prop.latex, [], [], side_lines=[line])
                out.append(_Claim(row, 0, "property", prop))
    return out


def _prose_claims(section, rows: list[_Row], ctx: Context) -> list[_Claim]:
    """"The trace and the determinant are both positive" after trace/determinant claims: judged as
    Tr(H) > 0 and Det(H) > 0 (or >= 0) for the problem's Hessian (issue: prose that asserts, not only formulas)."""
    has = {type(a).__name__ for r in rows if r.sides for side in r.sides if isinstance(side, sp.Basic)
           for a in side.atoms(AppliedUndef)}
    if not {"Tr", "Det"} <= has:
        return []
    last_line = max((r.item.line for r in rows if r.sides and any(
        isinstance(x, sp.Basic) and "Det" in {type(a).__name__ for a in x.atoms(AppliedUndef)} for x in r.sides)), default=0)
    out = []
    for it in section.items:
        if isinstance(it, Math) or it.line <= last_line:
            continue
        m = _POSITIVE.search(getattr(it, "text", ""))
        if not m:
            continue
        op = ">" if m.group(1).lower() == "positive" else ">="
        H = sp.Function("H")(sp.Symbol("phi"))
        for fn in ("Tr", "Det"):
            rel = ">" if op == ">" else "\\geq"
            latex = f"\\text{{{fn}}}(\\mathbf{{H}}[\\phi]) {rel} 0"
            item = Math(latex=latex, line=it.line, cell=it.cell, display=True, label=None, continues=False,
                        display_id=-it.line, context=it.text[:200])
            row = _Row(item, latex, [sp.Function(fn)(H), sp.S.Zero], [op], side_lines=[it.line, it.line])
            out.append(_Claim(row, 0, "prose"))
        break
    return out


def _defines(lhs, rhs, ctx: Context) -> bool:
    if isinstance(rhs, sp.MatrixBase) and isinstance(lhs, AppliedUndef) and type(lhs).__name__ == "H":
        return False
    return True


def _is_claim_lhs(lhs) -> bool:
    if isinstance(lhs, sp.Derivative):
        return True
    return isinstance(lhs, AppliedUndef) and type(lhs).__name__ in ("Tr", "Det", "H") or str(lhs).endswith("'")


# ------------------------------------------------------------------------------ judging
def _result(section, claim: _Claim, verdict, reason, **kw) -> ClaimResult:
    row = claim.row
    return ClaimResult(problem=section.problem or "", line=row.item.line, latex=row.text, verdict=verdict,
                       reason=reason, cell=row.item.cell, **kw)


def _judge(section, claim: _Claim, ctx: Context) -> ClaimResult:
    row = claim.row
    if claim.kind == "unreadable":
        msg = row.error[3:] if row.error.startswith("NC:") else f"could not read the LaTeX: {row.error}"
        return _result(section, claim, "not checked", msg, unreadable=not row.error.startswith("NC:"))
    judge = _Judge(ctx, row, section)
    try:
        if claim.kind == "property":
            return _result(section, claim, *judge.definiteness(claim.prop))
        return judge.run(claim)
    except RecursionError:
        return [_result(section, claim, "not checked", "the expression is nested too deeply to evaluate")]


class _Judge:
    def __init__(self, ctx: Context, row: _Row, section):
        self.ctx = ctx
        self.row = row
        self.section = section
        self.line = row.item.line
        self.deadline = time.monotonic() + CLAIM_SECONDS
        self.conventions: list[str] = []
        self.correction = ""  # set by explain() for the step being judged
        self.rewriting = False  # the step being judged rewrites the step before (not the chain's left side)
        self.shown = True  # False: the reason a step is right is not shown (a claim for every phi_j shows phi_0's)

    # -- the claim ----------------------------------------------------------------------------
    def run(self, claim: _Claim) -> ClaimResult:
        sides, ops = self.row.sides, self.row.ops
        texts = self.row.side_texts or [t.strip() for t in split_relation(self.row.text)[0]]
        start = claim.start
        generic = self.generic_symbols(sides)
        steps: list[Step] = []
        n_steps = len(sides) - 1 - start
        first_wrong = None
        truths = []
        for k in range(start, len(sides) - 1):
            op = ops[k]
            before, after = sides[k], sides[k + 1]
            if time.monotonic() > self.deadline:
                steps.append(Step(k - start + 1, n_steps, op, texts[k], texts[k + 1], "not checked",
                                  f"the claim's time budget ({CLAIM_SECONDS:.0f} s) ran out"))
                continue
            self.correction, self.rewriting = "", k > start
            verdict, reason, t = self.step(before, after, op, generic, restatement=(claim.kind == "restatement"))
            truths.append(t)
            steps.append(Step(k - start + 1, n_steps, op, texts[k], texts[k + 1], verdict, reason,
                              correction=self.correction if verdict == "incorrect" else ""))
            if verdict == "incorrect" and first_wrong is None:
                first_wrong = len(steps) - 1
        # the first step's truth that prints (each printed only when the steps before it gave none)
        truth = next((text for text in map(self.printed, truths) if text), "")
        if claim.kind == "restatement" and steps and steps[0].verdict == "incorrect" and self.redefines(sides):
            # a second definition that disagrees with the first: the sheet redefines the name
            self.ctx.add(sides[0], sides[1], line=self.line)
            return [_result(self.section, claim, "definition",
                            "a new definition of a name defined before (it replaces the earlier one from here on)")]
        lines = self.row.side_lines or [self.line] * len(sides)
        step_lines = [lines[k + 1] for k in range(start, len(sides) - 1)]
        if len(set(step_lines)) <= 1:
            return [self.summarise(claim, steps, first_wrong, truth, texts, start)]
        return self.per_line(claim, steps, step_lines, first_wrong, truth, start)

    def per_line(self, claim, steps, step_lines, first_wrong, truth, start) -> list:
        """An align block over several lines: each line's steps get a verdict at that line."""
        out = []
        final = self.final_right(start) if first_wrong is not None else None
        for line in dict.fromkeys(step_lines):
            group = [s for s, l in zip(steps, step_lines) if l == line]
            wrong = [s for s in group if s.verdict == "incorrect"]
            if wrong and first_wrong is not None and steps.index(wrong[0]) > first_wrong \
                    and steps.index(group[-1]) == steps.index(wrong[0]) and not self.carried(wrong[0], start):
                s, w = wrong[0], steps[first_wrong]
                verdict = "correct"
                reason = (f"equal to the left-hand side again: step {s.number} does not follow from the wrong step "
                          f"{w.number} (line {step_lines[first_wrong]}) before it, but undoes its mistake")
            elif wrong:
                s = wrong[0]
                reason = f"step {s.number} of {s.of} ({s.before} {s.op} {s.after}) is wrong: {s.reason}"
                if steps.index(s) == first_wrong:
                    if first_wrong and all(x.verdict == "correct" for x in steps[:first_wrong]):
                        reason += "; the steps before it are right"
                    if final is not None:
                        reason += "; the final result is right anyway" if final else "; the final result is wrong too"
                verdict = "incorrect"
            elif first_wrong is not None and steps.index(group[-1]) > first_wrong and self.carried(group[-1], start):
                s = steps[first_wrong]
                verdict = "incorrect"
                reason = (f"this step follows from the one before, but carries the mistake of step {s.number} "
                          f"(line {step_lines[first_wrong]}): the expression is not equal to the left-hand side")
            elif all(s.verdict == "not checked" for s in group):
                verdict, reason = "not checked", f"step {group[0].number} of {group[0].of}: {group[0].reason}"
            else:
                verdict = "correct"
                reason = "; ".join(f"step {s.number} of {s.of} right: {s.reason}" for s in group)
            r = _result(self.section, claim, verdict, reason, truth_latex=truth if verdict == "incorrect" else "",
                        convention="; ".join(dict.fromkeys(self.conventions)), mistake=_mistake_name(reason), steps=group,
                        correction=wrong[0].correction if wrong and verdict == "incorrect" else "")
            r.line = line
            r.latex = " ".join(f"{s.before} {s.op} {s.after}" for s in group) if line != self.line else r.latex
            out.append(r)
        return out

    def redefines(self, sides) -> bool:
        """A name stated again with another value: a new definition, unless it is a boxed result, or a
        recurrence restated without bringing in another sequence (then it is a claim about the old one)."""
        if self.row.text.lstrip().startswith("\\boxed") or "\\boxed" in self.row.item.latex[:12]:
            return False
        lhs, body = sides[0], sides[1]
        if isinstance(lhs, sp.Indexed) and self.ctx.rules.get(str(lhs.base.label)):
            rules = self.ctx.rules_at(self.line)
            others = {str(i.base.label) for i in body.atoms(sp.Indexed)} - {str(lhs.base.label)}
            return bool(others & set(rules))
        return True

    def summarise(self, claim, steps, first_wrong, truth, texts, start) -> ClaimResult:
        convention = "; ".join(dict.fromkeys(self.conventions))
        if not steps:
            return _result(self.section, claim, "not checked", "nothing to compare")
        if first_wrong is not None:
            s = steps[first_wrong]
            if len(steps) == 1:
                reason = s.reason
            else:
                ok_before = all(x.verdict == "correct" for x in steps[:first_wrong])
                reason = (f"step {s.number} of {s.of} ({s.before} {s.op} {s.after}) is wrong: {s.reason}"
                          + ("; the steps before it are right" if first_wrong and ok_before else ""))
                final = self.final_right(start)
                if final is not None:
                    reason += "; the final result is right anyway" if final else "; the final result is wrong too"
            mistake = _mistake_name(s.reason)
            return _result(self.section, claim, "incorrect", reason, truth_latex=truth, convention=convention,
                           mistake=mistake, steps=steps if len(steps) > 1 else [], correction=s.correction)
        unchecked = [s for s in steps if s.verdict != "correct"]
        if unchecked and len(unchecked) == len(steps):
            s = unchecked[0]
            reason = s.reason if len(steps) == 1 else f"step {s.number} of {s.of}: {s.reason}"
            return _result(self.section, claim, "not checked", reason, convention=convention,
                           steps=steps if len(steps) > 1 else [])
        if unchecked:
            s = unchecked[0]
            reason = (f"every step that could be checked is right; step {s.number} of {s.of} "
                      f"({s.before} {s.op} {s.after}) could not be checked: {s.reason}")
            return _result(self.section, claim, "correct", reason, convention=convention, truth_latex=truth,
                           steps=steps)
        reason = steps[0].reason if len(steps) == 1 else f"all {len(steps)} steps are right; " + steps[-1].reason
        return _result(self.section, claim, "correct", reason, convention=convention, truth_latex=truth,
                       steps=steps if len(steps) > 1 else [])

    def carried(self, step: Step, start) -> bool:
        """Is the right side of this step (after an earlier wrong step) different from the chain's left side?"""
        sides = self.row.sides
        k = start + step.number
        self.rewriting = False
        try:
            v, _, _ = self.step(sides[start], sides[k], "=", [], restatement=False)
        except Exception:  # noqa: BLE001  a summary must not stop the verdict
            return False
        return v == "incorrect"

    def final_right(self, start) -> bool | None:
        sides = self.row.sides
        if len(sides) - start < 3 or any(op != "=" for op in self.row.ops[start:]):
            return None
        self.rewriting = False
        try:
            v, _, _ = self.step(sides[start], sides[-1], "=", [], restatement=False)
        except Exception:  # noqa: BLE001  a summary must not stop the verdict
            return None
        return v == "correct" if v != "not checked" else None

    # -- generic parameters (\partial L / \partial \phi_j, \partial L / \partial p) -------------
    def generic_symbols(self, sides) -> list[sp.Symbol]:
        out = []
        for s in sides:
            if not isinstance(s, sp.Basic):
                continue
            for d in s.atoms(sp.Derivative):
                for v in d.variables:
                    if isinstance(v, sp.Symbol) and (re.fullmatch(r"(phi|theta|psi|omega)_[a-z]", v.name)
                                                     or (len(v.name) == 1 and v.name in "pqu" and not self.ctx.defs.get(v.name))):
                        out.append(v)
        return list(dict.fromkeys(out))

    # -- one step ----------------------------------------------------------------------------
    def step(self, before, after, op, generic, *, restatement: bool):
        if op == "propto":
            return "not checked", "a proportionality (\\propto) is not judged", ""
        if op in ("=>", "!="):
            return "not checked", f"a relation '{op}' is not judged", ""
        if generic:
            return self.generic_step(before, after, op, generic)
        try:
            if op in (">", ">=", "<", "<="):
                return self.inequality(before, after, op)
            if op == "~":
                return self.approximately(before, after)
            return self.equality(before, after)
        except NotConformable as err:
            return "incorrect", f"not defined as written: {err} (a transpose missing or misplaced?)", ""
        except Unchecked as err:
            return "not checked", str(err), ""
        except NotCheckable as err:
            return "not checked", str(err), ""
        except (ZeroDivisionError, OverflowError, ValueError, TypeError, AttributeError, IndexError, KeyError,
                sp.SympifyError, sp.PolynomialError, NotImplementedError) as err:
            if _DEBUG:
                raise
            return "not checked", f"could not evaluate ({type(err).__name__})", ""

    def generic_step(self, before, after, op, generic):
        params = self.parameters(before)
        if not params:
            return "not checked", f"{generic[0]} stands for any parameter, but the problem defines none", ""
        verdicts = []
        for k, p in enumerate(params):
            mapping = {g: sp.Symbol(p, real=True) for g in generic}
            self.shown = k == 0  # of the steps that are right, only the first parameter's reason is shown (below)
            try:
                v = self.step(before.xreplace(mapping), after.xreplace(mapping), op, [], restatement=False)
            finally:
                self.shown = True
            verdicts.append((p, v))
        names = ", ".join(params)
        if all(v[0] == "correct" for _, v in verdicts):
            return "correct", f"correct for every parameter ({names}); {verdicts[0][1][1]}", verdicts[0][1][2]
        wrong = [(p, v) for p, v in verdicts if v[0] == "incorrect"]
        if wrong:
            p, v = wrong[0]
            return "incorrect", f"for {generic[0]} = {p}: {v[1]}", v[2]
        p, v = next((p, v) for p, v in verdicts if v[0] != "correct")
        return v[0], f"for {generic[0]} = {p}: {v[1]}", v[2]

    def parameters(self, expr) -> list[str]:
        ev = self.evaluator()
        targets = [d.expr for d in expr.atoms(sp.Derivative)] or [expr]
        names = set()
        for t in targets:
            try:
                v = ev.value(t, self.env_for([t]))
            except (Unchecked, NotConformable, NotCheckable):
                continue
            atoms = v.free_symbols if not isinstance(v, sp.MatrixBase) else set().union(*(x.free_symbols for x in v))
            names |= {s.name for s in atoms if is_parameter_name(s.name.split("__")[0]) and s.name not in ("w", "b")}
        return sorted(names, key=_param_key)

    # -- evaluation ----------------------------------------------------------------------
    def evaluator(self, sequences=None) -> Evaluator:
        return Evaluator(self.ctx.lookup_at(self.line), relu=True, counts=frozenset(self.ctx.counts), sequences=sequences,
                         vectors=frozenset(self.ctx.vectors), known_parameters=self.ctx.parameter_names())

    def env_for(self, exprs) -> Env:
        free = []
        for e in exprs:
            if not isinstance(e, sp.Basic):
                continue
            symbols = set(e.free_symbols)
            for d in e.atoms(sp.Derivative):
                for v in d.variables:
                    symbols |= v.free_symbols
            for s in sorted(symbols, key=lambda s: getattr(s, "name", str(s))):
                if isinstance(s, sp.Symbol) and s.is_integer and s != IMPLICIT_INDEX and s.name not in self.ctx.counts \
                        and s.name not in ("I", "N", "M") and s not in free:
                    free.append(s)
        values = [2, 3, 1, 4]
        return Env(indices={s: values[k % len(values)] for k, s in enumerate(free)})

    def sequences_needed(self, exprs) -> bool:
        rules = self.ctx.rules_at(self.line)
        for e in exprs:
            if not isinstance(e, sp.Basic):
                continue
            if e.has(Grad) or e.has(SetSum):
                return True
            if any(str(ind.base.label) in rules for ind in e.atoms(sp.Indexed)):
                return True
        return False

    def values(self, before, after, *, zero_start: bool = False, strip=None):
        """Pairs (truth value, claim value) over the evaluation settings (several steps t for recurrences)."""
        if self.sequences_needed([before, after]):
            out = []
            t = sp.Symbol("t", integer=True)
            for T in (2, 3, 5):
                seqs = self.run_sequences(T + 3, zero_start)
                ev = self.evaluator(sequences=seqs)
                env = self.env_for([before, after])
                env.indices[t] = T
                out.append((ev, ev.value(before, env), ev.value(after, env)))
            return out
        ev = self.evaluator()
        env = self.env_for([before, after])
        if strip is not None:
            env.strip = strip
        a = ev.value(before, env)
        env_b = self.env_for([before, after])
        b = ev.value(after, env_b)
        return [(ev, a, b)]

    def zeroed(self) -> list[str]:
        """The sequences that start from 0 under the convention: momentum-like ones and those the sheet sets to 0."""
        rules = self.ctx.rules_at(self.line)
        return [n for n in rules if n in ("m", "v") or self.ctx.initial_zero(n) is not None]

    def run_sequences(self, steps: int, zero_start: bool) -> dict:
        """Every recurrence of the problem, iterated symbolically from s_0 (an atom, or 0)."""
        rules = self.ctx.rules_at(self.line)
        zero = set(self.zeroed()) if zero_start else set()
        seqs: dict[str, dict[int, sp.Expr]] = {name: {0: (sp.S.Zero if name in zero else atom(f"{name}__0"))}
                                              for name in rules}
        seqs["__grad__"] = {k: atom(f"G__{k}") for k in range(steps + 2)}
        for k in range(steps):
            pending = list(rules.items())
            for _ in range(len(pending) + 1):
                left = []
                for name, rule in pending:
                    ev = self.evaluator(sequences=seqs)
                    try:
                        seqs[name][k + 1] = ev.value(rule.body, Env(indices={rule.step: k}))
                    except Unchecked:
                        left.append((name, rule))
                pending = left
                if not pending:
                    break
            if pending:
                raise Unchecked(f"the recurrence for {pending[0][0]} refers to values that are not defined")
        return seqs

    def equality(self, before, after):
        if isinstance(before, sp.Derivative) and _name(before.expr) in ("L", "J", "LL"):
            # how the loss is defined decides a factor 2, 1/I or 1/2: the verdict names the loss used
            self.conventions.append("loss: " + self.loss_convention(_name(before.expr)))
        pairs = self.values(before, after)
        pairs = self.vocabulary(pairs, before, after)
        pairs = self.family_gradient(pairs)
        mismatch = self.compare(pairs)
        if any(isinstance(x, sp.Basic) and x.has(Relu, sp.Heaviside) for _, a, b in pairs for x in (a, b)):
            self.conventions.append("ReLU'(0) = 0: its derivative is I[z > 0]")
        if mismatch is None:
            return "correct", self.how(pairs, before, after) if self.shown else "", self.truth_later(before)
        # conventions: a recurrence started from 0
        if self.sequences_needed([before, after]):
            pairs0 = self.values(before, after, zero_start=True)
            if self.compare(pairs0) is None:
                used = {str(i.base.label) for e in (before, after) if isinstance(e, sp.Basic) for i in e.atoms(sp.Indexed)}
                used |= {a.name.split("_")[0] for e in (before, after) if isinstance(e, sp.Basic)
                         for a in e.atoms(sp.Symbol) if _AFTER_STEPS.fullmatch(a.name)}
                rules = self.ctx.rules_at(self.line)
                for n in list(used):
                    if n in rules:
                        used |= {str(i.base.label) for i in rules[n].body.atoms(sp.Indexed)}
                names = [n for n in self.zeroed() if n in used] or self.zeroed()
                start = ", ".join(f"{n}_0 = 0" for n in names)
                stated = any(self.ctx.initial_zero(n) is not None for n in names)
                why = "as the sheet assumes" if stated else "the book's convention: its notebooks start momentum at 0"
                self.conventions.append(f"{start} ({why})")
                return ("correct", f"equal to the recurrence run for t = 2, 3, 5 when it starts from {start} ({why}); "
                        "with another starting value a term in it would be missing", "")
        return "incorrect", self.explain(before, after, pairs, mismatch), self.truth_later(before)

    def approximately(self, before, after):
        """``A \\approx B``: within half a unit of the last digit a number is written with, else within 1 %;
        a count or time (t, n, T, N) free in the claim is taken large (a long run: t = 200)."""
        env = self.env_for([before, after])
        long_run = [s for s in env.indices if s.name in ("t", "T", "n", "N", "k")]
        for s in long_run:
            env.indices[s] = LONG_RUN
        ev = self.evaluator()
        a, b = ev.value(before, env), ev.value(after, Env(indices=dict(env.indices)))
        if isinstance(a, sp.MatrixBase) or isinstance(b, sp.MatrixBase):
            raise Unchecked("an approximation between matrices")
        # the precision is the one of a side written as a plain number ("\\approx 2.718": 3 decimals)
        texts = self.row.side_texts or split_relation(self.row.text)[0]
        decimals = [len(m.group(1) or "") for t in texts for m in [re.fullmatch(r"\s*-?\d+(?:\.(\d+))?\s*", t)] if m]
        rng = np.random.default_rng(SEED)
        symbols = sorted(_free(a) | _free(b), key=lambda s: s.name)
        draws = [draw(symbols, rng) for _ in range(N_DRAWS)]
        values = {s: np.array([d[s] for d in draws]) for s in symbols}
        va = np.asarray(evaluate_many(a, values) * np.ones(len(draws)), dtype=float)
        vb = np.asarray(evaluate_many(b, values) * np.ones(len(draws)), dtype=float)
        if not np.all(np.isfinite(va) & np.isfinite(vb)):
            raise Unchecked("no finite value at a random draw")
        if decimals and not symbols:
            tol = 0.5 * 10.0 ** -min(decimals)
            gap = np.abs(va - vb)
            how = f"within half a unit of the last digit written ({tol:g})"
        else:
            tol = 0.01
            gap = np.abs(va - vb) / np.maximum(1e-300, np.maximum(np.abs(va), np.abs(vb)))
            how = "within 1 %"
        where = f" with {', '.join(s.name for s in long_run)} = {LONG_RUN} (a long run)" if long_run else ""
        k = int(np.argmax(gap))
        at = f"at {_where(draws[k])} " if symbols else ""
        if gap[k] <= tol:
            return "correct", f"approximately equal {how}{where}: {at}the sides are {_fmt(va[k])} and {_fmt(vb[k])}", ""
        return "incorrect", (f"not approximately equal ({how}){where}: {at}the left side is {_fmt(va[k])}, "
                             f"the right side {_fmt(vb[k])}"), ""

    def family_gradient(self, pairs):
        """A gradient "with respect to phi" written for the phi_k only (the output weights of the shallow
        network), while phi stands for every parameter: compared on the phi_k entries, and said so."""
        ev, a, b = pairs[0]
        order = getattr(ev, "gradient_order", None)
        if not (order and isinstance(a, sp.MatrixBase) and isinstance(b, sp.MatrixBase) and a.cols == b.cols == 1):
            return pairs
        rows = [k for k, name in enumerate(order) if name.startswith("phi_")]
        if b.rows == len(rows) < a.rows:
            ev.notes.append(f"the vector has the {len(rows)} phi_k entries only (phi read as phi_0..phi_{len(rows) - 1})")
            return [(ev, sp.Matrix([a[k, 0] for k in rows]), b)]
        return pairs

    def vocabulary(self, pairs, before, after):
        """Symbols the claim brings that the problem never defines are reported, not guessed; a claim
        in x_i about f[x, phi] (or the reverse) is a notation slip, said as such."""
        ev, a, b = pairs[0]
        known = set(self.ctx.defs) | set(self.ctx.rules) | {"x", "y", "G", "X"} | set(self.ctx.parameter_names())
        atoms_a, atoms_b = _free(a), _free(b)
        constants = {"alpha", "beta", "lambda", "eta", "gamma", "mu", "t"} if self.sequences_needed([before, after]) else set()
        extra = sorted({s.name.split("__")[0] for s in atoms_b - atoms_a} - known - constants)
        extra = [n for n in extra if not is_parameter_name(n)]
        if extra and not (self.ctx.rules and self.sequences_needed([before, after])):
            raise Unchecked("unknown symbol(s) " + ", ".join(extra) + ": not defined in this problem")
        bare = {s.name for s in atoms_a if s.name in ("x", "y")}
        indexed = {s for s in atoms_b if s.name.split("__")[0] in bare and "__" in s.name}
        if bare and indexed and not ({s.name for s in atoms_b} & bare):
            read = b.xreplace({s: atom(s.name.split("__")[0]) for s in indexed}) if not isinstance(b, sp.MatrixBase) else b
            same = self.compare([(ev, a, read)]) is None
            names = ", ".join(sorted(bare))
            raise Unchecked(f"the claim is written in {names}_i but the left-hand side in {names}; read without the index "
                            f"the claim would be {'correct' if same else 'still wrong'}")
        bare_b = {s.name for s in atoms_b if s.name in ("x", "y")}
        indexed_a = {s for s in atoms_a if s.name.split("__")[0] in bare_b and "__" in s.name}
        if bare_b and indexed_a and not ({s.name for s in atoms_a} & bare_b):
            # x for x_i in a per-example expression: read as indexed by the example the left side is about
            examples = {int(s.name.split("__")[1]) for s in indexed_a if s.name.split("__")[1].isdigit()}
            names = ", ".join(sorted(bare_b))
            if len(examples) != 1:
                raise Unchecked(f"the data symbol {names} has no index (the data are {names}_i, one per example), so "
                                "the claim is not well defined")
            env = self.env_for([before, after])
            env.example = examples.pop()
            b2 = ev.value(after, env)
            ev.used_index_reading.clear()
            ev.notes.append(f"{names} without its index in a per-example expression is read as {names}_i")
            return [(ev, a, b2)]
        return pairs

    def compare(self, pairs):
        """None when claim and truth agree at every draw, else (values, truth, claim, ratio-or-None)."""
        rng = np.random.default_rng(SEED)
        first = None
        ratios = []
        for ev, a, b in pairs:
            if isinstance(a, sp.MatrixBase) or isinstance(b, sp.MatrixBase):
                if not (isinstance(a, sp.MatrixBase) and isinstance(b, sp.MatrixBase)):
                    sa = a.shape if isinstance(a, sp.MatrixBase) else (1, 1)
                    sb = b.shape if isinstance(b, sp.MatrixBase) else (1, 1)
                    if sa == (1, 1) and sb == (1, 1):
                        a = a[0, 0] if isinstance(a, sp.MatrixBase) else a
                        b = b[0, 0] if isinstance(b, sp.MatrixBase) else b
                    else:
                        raise NotConformable(f"one side is {sa[0]}x{sa[1]}, the other {sb[0]}x{sb[1]}")
                elif a.shape == b.T.shape and 1 in a.shape:
                    b = b.T  # a gradient written as a row: the same vector
                elif a.shape != b.shape:
                    raise NotConformable(f"one side is {a.shape[0]}x{a.shape[1]}, the other {b.shape[0]}x{b.shape[1]}")
            symbols = sorted(_free(a) | _free(b), key=lambda s: s.name)
            if time.monotonic() > self.deadline:
                raise Unchecked(f"the claim's time budget ({CLAIM_SECONDS:.0f} s) ran out")
            draws = [draw(symbols, rng) for _ in range(N_DRAWS * 2)]
            values = {s: np.array([d[s] for d in draws]) for s in symbols}
            va = np.atleast_2d(evaluate_many(a, values) * np.ones(len(draws)))
            vb = np.atleast_2d(evaluate_many(b, values) * np.ones(len(draws)))
            ok = np.all(np.isfinite(va), axis=0) & np.all(np.isfinite(vb), axis=0)
            cols = np.flatnonzero(ok)[:N_DRAWS]
            if len(cols) == 0:
                raise Unchecked("no finite value at any random draw (division by zero or a logarithm of a negative number?)")
            for c in cols:
                xa, xb = va[:, c], vb[:, c]
                scale = max(1.0, float(np.max(np.abs(xa))), float(np.max(np.abs(xb))))
                if np.max(np.abs(xa - xb)) > RTOL * scale and first is None:
                    first = (draws[c], xa, xb)
                nz = np.abs(xa) > 1e-12
                if np.any(nz):
                    ratios.append(float(xb[nz][0] / xa[nz][0]))
        if first is None:
            return None
        constant = None
        if ratios and all(abs(r - ratios[0]) <= 1e-7 * max(1, abs(ratios[0])) for r in ratios) and abs(ratios[0] - 1) > 1e-7:
            constant = ratios[0]
        return (*first, constant)

    def how(self, pairs, before, after) -> str:
        if len(pairs) > 1:
            return "equal to the recurrence run for t = 2, 3, 5 (symbolic starting value and gradients), at random draws"
        ev, a, b = pairs[0]
        has_sum = any(isinstance(e, sp.Basic) and e.has(sp.Sum) for e in (before, after)) or any(
            isinstance(x, sp.Basic) and x.has(sp.Add) and len(_free(x)) > 6 for x in (a, b))
        text = f"equal at {N_DRAWS} random draws of data and parameters" + (f" (I = {COUNT} examples)" if has_sum else "")
        if isinstance(a, sp.MatrixBase):
            text = "every entry " + text
        order = getattr(ev, "hessian_order", None) or getattr(ev, "gradient_order", None)
        if order:
            text += f" (parameters in the order {', '.join(order)})"
        for note in dict.fromkeys(ev.notes):
            text += f"; {note}"
        try:
            ops_a = MAX_OPS_EXACT if isinstance(a, sp.MatrixBase) else sp.count_ops(a)  # b's count only if a leaves room
            if ops_a < MAX_OPS_EXACT and ops_a + sp.count_ops(b) < MAX_OPS_EXACT:
                if sp.expand(a - b) == 0:
                    text += "; symbolically identical" + (f" with I = {COUNT}" if has_sum else "")
        except (TypeError, ValueError, RecursionError):
            pass
        if ev.used_index_reading:
            names = ", ".join(sorted(ev.used_index_reading))
            text += f"; {names} written without an index inside a sum or beside the data matrix read as one per example ({names}_i)"
        return text

    def truth_later(self, before):
        """The true value of ``before`` (a derivative), to be printed by :meth:`printed` only if a verdict shows it:
        differentiating and printing cost ~10 ms a claim, and of a claim "for every phi_j" one of ten is shown."""
        return _Truth(before) if isinstance(before, sp.Derivative) else ""

    def printed(self, truth) -> str:
        """LaTeX of a truth from :meth:`truth_later` ("" when it cannot be derived or printed)."""
        return self.truth_text(truth.before) if isinstance(truth, _Truth) else truth

    def truth_text(self, before) -> str:
        if not isinstance(before, sp.Derivative):
            return ""
        try:
            return book_latex(_symbolic_truth(self, before))
        except Exception:  # noqa: BLE001  printing the truth must never stop a verdict
            return ""

    # -- explaining a wrong step ----------------------------------------------------------------
    def explain(self, before, after, pairs, mismatch) -> str:
        values, va, vb, constant = mismatch
        where = _where(values)
        shown_a = _fmt(va[0]) if len(va) == 1 else "[" + ", ".join(_fmt(v) for v in va[:4]) + "]"
        shown_b = _fmt(vb[0]) if len(vb) == 1 else "[" + ", ".join(_fmt(v) for v in vb[:4]) + "]"
        if self.rewriting:
            text = f"not equal to the step before: at {where} this step gives {shown_b}, the step before gives {shown_a}"
        else:
            text = f"differs from the true value: at {where} the claim gives {shown_b}, the truth is {shown_a}"
        if len(va) > 1:
            a_ = pairs[0][1]
            cols = a_.cols if isinstance(a_, sp.MatrixBase) else 1
            wrong = [f"entry ({k // cols + 1}, {k % cols + 1})" for k in range(len(va))
                     if abs(va[k] - vb[k]) > RTOL * max(1.0, abs(va[k]), abs(vb[k]))]
            text = ", ".join(wrong) + (" is" if len(wrong) == 1 else " are") + " wrong; " + text
        name, fix = self.diagnose(before, after, constant)
        self.correction = self.verified_correction(before, fix)
        if name:
            return f"{name}; {text}"
        return text

    def verified_correction(self, before, fix) -> str:
        """The claim with its mistake undone, shown only when it is checked equal to the truth."""
        if fix is None or not isinstance(fix, sp.Basic) or not self.same(before, fix):
            return ""
        try:
            return book_latex(fix)
        except Exception:  # noqa: BLE001  printing a correction must never stop a verdict
            return ""

    def diagnose(self, before, after, constant) -> tuple[str, object]:
        """The usual mistake this is, and the claim with that mistake undone (None when there is none to show)."""
        free_a = self.free_indices(before)
        free_b = self.free_indices(after)
        extra = [s for s in free_b if s not in free_a]
        if extra:
            i = extra[0]
            try:
                pairs = self.values(before, after, strip=i)
                if self.compare(pairs) is None:
                    count = sp.Symbol("I" if "I" in self.ctx.counts or not self.ctx.counts else sorted(self.ctx.counts)[0],
                                      integer=True, positive=True)
                    return (f"missing sum over {i.name}: this is the derivative of one term l_{i.name}, not of L "
                            f"(L sums over the examples)"), sp.Sum(after, (i, 1, count))
            except (Unchecked, NotConformable, NotCheckable):
                pass
            return f"the claim depends on the example index {i.name} outside any sum, but the left-hand side does not", None
        if constant is not None and abs(constant) > 1e-9:
            c = constant
            undo = sp.nsimplify(1 / c, rational=True, tolerance=1e-9) * after if isinstance(after, sp.Basic) else None
            if abs(c + 1) < 1e-7:
                return "sign error (wrong sign: the claim is minus the truth everywhere)", undo
            loss = _name(before.expr) if isinstance(before, sp.Derivative) else "L"
            for label, v in (("2", 2.0), ("0.5", 0.5)):
                if abs(c - v) < 1e-7:
                    return (f"a constant factor: the claim is {label} times the truth (factor 2 vs the "
                            "1/2-sum or 1/2-mean convention? the loss here is " + self.loss_convention(loss) + ")"), undo
            for label, v in (("0.06", 0.06), ("1/0.06", 1 / 0.06)):
                if abs(c - v) < 1e-7:
                    return (f"missing chain-rule factor 0.06 (the claim is {label} times the truth)" if v > 1 else
                            "an extra factor 0.06 (the claim is 0.06 times the truth)"), undo
            for label, v in ((f"1/I (I = {COUNT})", 1 / COUNT), (f"I (I = {COUNT})", float(COUNT)),
                             ("2/I", 2 / COUNT), ("I/2", COUNT / 2)):
                if abs(c - v) < 1e-7:
                    return f"mean vs sum: the claim is {label} times the truth (" + self.loss_convention(loss) + ")", None
            return f"the claim is {_fmt(c)} times the truth everywhere: a missing or extra constant factor", undo
        if isinstance(before, sp.Derivative):
            return self.chain_rule_hint(before, after)
        return "", None

    def loss_convention(self, first: str = "L") -> str:
        for name in dict.fromkeys((first, "L", "J", "LL")):
            defs = self.ctx.lookup_at(self.line)(name)
            if defs:
                d = defs[-1]
                if d.source == "book":
                    kind = "binary cross-entropy" if isinstance(d.body, sp.Basic) and d.body.has(sp.log) else \
                        "least squares (eq. 6.5)"
                    return f"the book's {kind}, a sum over i (not a mean)"
                return f"the sheet's {name} (" + (f"line {d.line})" if d.line > 0 else "defined in the problem's text)")
        return "the book's sum over i"

    def chain_rule_hint(self, before, after) -> tuple[str, object]:
        """The usual slips: the derivative of f instead of the loss; a chain-rule factor missing;
        the ReLU written where its derivative belongs; the derivative for another parameter."""
        target, variables = before.expr, before.variables
        if len(variables) != 1 or not isinstance(after, sp.Basic):
            return "", None
        (v,) = variables
        i = sp.Symbol("i", integer=True)
        # the derivative of the model instead of the loss (the residual factor missing)
        f_defs = self.ctx.lookup_at(self.line)("f")
        if f_defs and isinstance(target, sp.Symbol) and target.name in ("L", "J"):
            for scale in (2, 1):
                cand = scale * sp.Sum(sp.Derivative(sp.Function("f")(sp.IndexedBase("x")[i], sp.Symbol("phi")), v),
                                      (i, 1, sp.Symbol("I", integer=True, positive=True)))
                if self.same(cand, after):
                    residual = sp.Function("f")(sp.IndexedBase("x")[i], sp.Symbol("phi")) - sp.IndexedBase("y")[i]
                    return ("missing residual factor (f[x_i, phi] - y_i): this is the derivative of the model f, "
                            "not of the loss"), _times_per_term(after, residual, i, scale=2 // scale)
        # a chain-rule factor missing: truth = claim * factor
        for label, factor in self.factors(v):
            if self.same(before, sp.Mul(after, factor)):
                return f"missing chain-rule factor {label}", sp.Mul(after, factor)
            if self.same_per_term(before, after, factor):
                return f"missing chain-rule factor {label}", _times_per_term(after, factor, i)
        # the ReLU where its derivative (the indicator) belongs
        relu = {a for a in after.atoms(AppliedUndef) if type(a).__name__ == "a"}
        if relu:
            swapped = after.xreplace({a: sp.Heaviside(a.args[0], 0) for a in relu})
            if self.same(before, swapped):
                return "the ReLU a[z] is written where its derivative I[z > 0] belongs", swapped
        # another parameter's derivative (a wrong index)
        for p in self.parameters(before):
            if p == str(v):
                continue
            if self.same(sp.Derivative(target, sp.Symbol(p, real=True)), after):
                return f"wrong index: this is the derivative with respect to {p}, not {v}", None
        return "", None

    def factors(self, v):
        i = sp.Symbol("i", integer=True)
        x = sp.IndexedBase("x")[i]
        yield "0.06 x_i", sp.Rational(3, 50) * x
        yield "x_i", x
        z = sp.Symbol("phi_0", real=True) + sp.Symbol("phi_1", real=True) * x
        yield "sig(1 - sig)", sp.Function("sig")(z) * (1 - sp.Function("sig")(z))
        if str(v).startswith("theta_"):
            k = str(v).split("_")[1][0]
            pre = sp.Symbol(f"theta_{k}0", real=True) + sp.Symbol(f"theta_{k}1", real=True) * x
            yield f"I[theta_{k}0 + theta_{k}1 x_i > 0] (the ReLU's derivative)", sp.Heaviside(pre, 0)

    def same(self, a, b) -> bool:
        try:
            return self.compare(self.values(a, b)) is None
        except (Unchecked, NotConformable, NotCheckable, TypeError, ValueError, ZeroDivisionError):
            return False

    def same_per_term(self, truth, claim, factor) -> bool:
        """Per example: is the claim's summand times the factor the truth's summand?"""
        i = sp.Symbol("i", integer=True)
        if not (isinstance(claim, sp.Basic) and claim.has(sp.Sum)):
            return False
        def strip(e):
            return e.replace(lambda s: isinstance(s, sp.Sum), lambda s: s.function.xreplace({s.limits[0][0]: i}))
        try:
            pairs = self.values(truth, sp.Mul(strip(claim), factor), strip=i)
            return self.compare(pairs) is None
        except (Unchecked, NotConformable, NotCheckable, TypeError, ValueError, ZeroDivisionError):
            return False

    def free_indices(self, e) -> list:
        if not isinstance(e, sp.Basic):
            return []
        symbols = set(e.free_symbols)
        bound = {lim[0] for s in e.atoms(sp.Sum) for lim in s.limits}
        for d in e.atoms(sp.Derivative):
            for v in d.variables:  # dL / d yhat_i depends on i, though SymPy counts i as bound
                symbols |= v.free_symbols - bound
        return [s for s in sorted(symbols, key=lambda s: s.name)
                if isinstance(s, sp.Symbol) and s.is_integer and s.name not in self.ctx.counts
                and s.name not in ("I", "N", "M", "t") and s != IMPLICIT_INDEX]

    # -- convexity and definiteness in words ---------------------------------------------------
    def definiteness(self, prop: Property) -> tuple[str, str]:
        """(verdict, reason) for "H is positive (semi-)definite" / "L is (strictly) convex", or their negation,
        about the problem's loss: proved with a certificate, refuted by an eigenvalue, or tested at draws."""
        ev = self.evaluator()
        loss = sp.Symbol(self.loss_name())
        try:
            H = ev.hessian(loss, Env())
            k = sp.Symbol("k__", integer=True)
            per_example = [self.evaluator().hessian(loss, Env(indices={k: n}, strip=k)) for n in range(1, COUNT + 1)]
        except (Unchecked, NotCheckable, NotConformable, TypeError, ValueError, KeyError, AttributeError) as err:
            return "not checked", f"the problem's loss has no Hessian here to judge the statement on ({err})"
        order = ", ".join(getattr(ev, "hessian_order", []) or [])
        report = eigen_search(H, np.random.default_rng(SEED), draw, evaluate_many, draws=INEQUALITY_DRAWS)
        proof = "" if report.negative is not None else psd_certificate(per_example, H)
        what = "L is convex (H positive semi-definite)"
        if report.negative is not None:
            where, lam = report.negative
            fact = f"at {_where(where)} the Hessian ({order}) has the eigenvalue {_fmt(lam)} < 0, so L is not convex"
            return ("correct", fact) if prop.negated else ("incorrect", "false: " + fact)
        psd = proof or f"no negative eigenvalue of H at {INEQUALITY_DRAWS} random draws (not proved)"
        if not prop.strict:
            if prop.negated:
                return ("incorrect", f"false: {what}: {psd}") if proof else \
                    ("incorrect", f"no counterexample found: {psd}")
            return "correct", psd
        # strictly convex / positive definite
        if report.singular is not None:
            where, _ = report.singular
            fact = (f"with {_where(where)} (all x_i equal) the Hessian is singular (smallest eigenvalue 0), so it is "
                    f"positive semi-definite but not definite; at the random draws its smallest eigenvalue is "
                    f"at least {_fmt(report.smallest_generic)} > 0")
            if prop.negated:
                return ("incorrect", "only for special data: " + fact + ", so L is strictly convex for data "
                        "whose x_i are not all equal")
            return "incorrect", "false: " + fact + " (the truth: semi-definite, definite when the x_i are not all equal)"
        if report.smallest_generic > 0:
            fact = f"the smallest eigenvalue of H is at least {_fmt(report.smallest_generic)} > 0 at {INEQUALITY_DRAWS} draws"
            return ("incorrect", f"no counterexample found: {fact}") if prop.negated else \
                ("correct", f"{psd}; {fact} (definite there, not proved for every value)")
        return "not checked", "the smallest eigenvalue of H is 0 at the draws: definiteness is not decided"

    def loss_name(self) -> str:
        """The loss a statement in words is about: the sheet's J or LL when it defines one, else L (a name
        defined as the exponential of something, ln L(w) = .., is a likelihood, not a loss)."""
        lookup = self.ctx.lookup_at(self.line)
        for name in ("LL", "J", "L"):
            defs = lookup(name)
            if defs and not isinstance(defs[-1].body, sp.exp):
                return name
        return "L"

    # -- inequalities ---------------------------------------------------------------------------
    def inequality(self, before, after, op):
        if op in ("<", "<="):
            before, after, op = after, before, {"<": ">", "<=": ">="}[op]
        pairs = self.values(before, after)
        ev, a, b = pairs[0]
        if isinstance(a, sp.MatrixBase) or isinstance(b, sp.MatrixBase):
            raise Unchecked("an inequality between matrices")
        diff = sp.expand(a - b) if sp.count_ops(a - b) < MAX_OPS_EXACT else a - b
        strict = op == ">"
        proved = diff.is_positive if strict else diff.is_nonnegative
        symbols = sorted(_free(diff), key=lambda s: s.name)
        rng = np.random.default_rng(SEED)
        draws = list(self.adversarial(symbols, rng))
        arrays = {s: np.array([d[s] for d in draws]) for s in symbols}
        v = np.asarray(evaluate_many(diff, arrays) * np.ones(len(draws)), dtype=float)
        scale = 1e-9 * np.maximum(1.0, np.abs(v))
        bad = np.isfinite(v) & ((v <= scale) if strict else (v < -scale))
        worst = None
        if np.any(bad):
            # prefer the boundary case a reader recognises (all inputs equal), then zeros, then a random draw
            k = len(draws) - 2 if bad[-2] else (len(draws) - 1 if bad[-1] else int(np.flatnonzero(bad)[0]))
            worst = (draws[k], float(v[k]))
        rel = {">": ">", ">=": "\\geq"}[op]
        if worst is not None:
            values, v = worst
            names = {type(x).__name__ for x in before.atoms(AppliedUndef)} if isinstance(before, sp.Basic) else set()
            what = "the determinant" if "Det" in names else ("the trace" if "Tr" in names else "the left side minus the right side")
            return ("incorrect", f"false: with {_where(values)} {what} is {_fmt(v)}"
                    + (" (it can be 0, so '> 0' is too strong: the truth is '>= 0')" if strict and abs(v) < 1e-9 else ""), "")
        if proved:
            return "correct", f"proved: the difference is {'positive' if strict else 'non-negative'} for every value (SymPy)", ""
        cert = self.certificate(diff, strict)
        if cert:
            return "correct", cert, ""
        return "correct", f"holds at {INEQUALITY_DRAWS} random and boundary draws, not proved ({rel})", ""

    def certificate(self, diff, strict) -> str:
        """Problem 6.2's determinant: 4 (I sum x_i^2 - (sum x_i)^2) = 2 sum_i sum_j (x_i - x_j)^2 >= 0."""
        xs = [atom(f"x__{k}") for k in range(1, COUNT + 1)]
        if strict or not _free(diff) <= set(xs):
            return ""
        sos = 2 * sum((xs[a] - xs[b]) ** 2 for a in range(COUNT) for b in range(COUNT))
        rng = np.random.default_rng(SEED)
        point = {x: float(v) for x, v in zip(xs, rng.normal(size=COUNT))}
        c = sp.nsimplify(float(diff.xreplace(point)) / float(sos.xreplace(point)), rational=True, tolerance=1e-12)
        if not (c.is_number and c > 0) or sp.expand(diff - c * sos) != 0:
            return ""
        return ("proved: it is a positive multiple of sum_i sum_j (x_i - x_j)^2 >= 0 (the certificate of problem 6.2; "
                "it is 0 exactly when all x_i are equal)")

    def adversarial(self, symbols, rng):
        """Random draws, then the boundary cases people forget: all inputs equal, zeros."""
        for _ in range(INEQUALITY_DRAWS):
            yield draw(symbols, rng)
        base = draw(symbols, rng)
        same = dict(base)
        for s in symbols:
            if s.name.startswith("x__"):
                same[s] = 1.0
        yield same
        zeros = {s: 0.0 for s in symbols}
        yield zeros


def _times_per_term(expr, factor, i, *, scale=1):
    """``expr`` with every sum's summand multiplied by ``factor`` (written in the index ``i``)."""
    if not expr.has(sp.Sum):
        return scale * expr * factor
    return scale * expr.replace(lambda e: isinstance(e, sp.Sum),
                                lambda e: sp.Sum(e.function * factor.xreplace({i: e.limits[0][0]}), *e.limits))


def _param_key(name: str):
    family, _, number = name.partition("_")
    order = ["phi", "theta", "psi", "omega", "w", "b"]
    return (order.index(family) if family in order else 9, number)


def _fmt(v) -> str:
    return f"{float(v):.6g}"


def _where(values: dict, limit: int = 6) -> str:
    data, rest = {}, []
    for s, v in sorted(values.items(), key=lambda kv: kv[0].name):
        if "__" in s.name:
            base, idx = s.name.split("__", 1)
            data.setdefault(base, []).append((idx, v))
        else:
            rest.append(f"{s.name} = {_fmt(v)}")
    parts = []
    for base, items in data.items():
        if len(items) == 1:
            parts.append(f"{base}_{items[0][0]} = {_fmt(items[0][1])}")
        else:
            parts.append(f"{base} = (" + ", ".join(_fmt(v) for _, v in sorted(items)) + ")")
    parts += rest
    return ", ".join(parts[:limit]) + (", ..." if len(parts) > limit else "")


_MISTAKES = [
    ("missing sum over", "missing sum over i"),
    ("missing residual factor", "missing residual factor"),
    ("missing chain-rule factor", "missing chain-rule factor"),
    ("sign error", "sign error"),
    ("1/2-sum", "factor 2 vs 1/2 convention"),
    ("mean vs sum", "mean vs sum"),
    ("the ReLU a[z] is written", "ReLU derivative written as the ReLU"),
    ("wrong index", "wrong index"),
    ("not defined as written", "shapes do not fit"),
    ("false:", "inequality does not hold"),
]


def _mistake_name(reason: str) -> str:
    for needle, name in _MISTAKES:
        if needle in reason:
            return name
    return ""


@dataclass(frozen=True)
class _Truth:
    """A derivative whose true value is derived and printed when a verdict shows it (:meth:`_Judge.printed`)."""

    before: sp.Derivative


def _symbolic_truth(judge: _Judge, d: sp.Derivative):
    """The true derivative with sums kept symbolic, for printing (best effort)."""
    lookup = judge.ctx.lookup_at(judge.line)

    def resolve(e, depth=0):
        if depth > 20:
            raise Unchecked("too deep")
        if isinstance(e, sp.Symbol):
            defs = [x for x in lookup(e.name) if not x.indices and not x.formals]
            return resolve(defs[-1].body, depth + 1) if defs else e
        if isinstance(e, AppliedUndef):
            name = type(e).__name__
            defs = [x for x in lookup(name) if not x.indices]
            if name == "sig":
                return 1 / (1 + sp.exp(-resolve(e.args[0], depth + 1)))
            if name == "a":
                return Relu(resolve(e.args[0], depth + 1))
            if defs:
                x = defs[-1]
                args = [a for a in e.args if not (isinstance(a, sp.Symbol) and a.name in ("phi", "theta"))]
                body = x.body.xreplace(dict(zip(x.formals, args)))
                return resolve(body, depth + 1)
            return e
        if isinstance(e, sp.Derivative):
            return sp.diff(resolve(e.expr, depth + 1), *e.variables)
        if e.args:
            return e.func(*[resolve(a, depth + 1) for a in e.args])
        return e

    out = resolve(d)
    out = out.replace(lambda e: isinstance(e, sp.Heaviside), lambda e: sp.Heaviside(e.args[0]))
    return out
