"""A small, safe parser from the book's LaTeX notation straight to SymPy objects.

Hand-written tokenizer + recursive-descent parser: no ``eval``, no ``sympify``,
no ``parse_expr`` on user text, bounded nesting depth and length. It reads the
notation of *Understanding Deep Learning*:

- square-bracket function arguments: ``\\sin[z]``, ``\\exp[z]``, ``\\text{sig}[z]``,
  ReLU ``a[z]``, a user function ``f[x_i, \\phi]`` (any letter followed by ``[``);
- ``\\exp(..)``, ``\\exp \\left( .. \\right)``, ``\\cos``, ``\\log``, ``\\sigma(..)``;
- the indicator ``\\mathbb{I}[z > 0]`` -> ``Heaviside(z, 0)`` (the derivative of
  the ReLU, 0 at z = 0);
- ``\\cdot``, ``\\times``, implicit multiplication, ``\\frac``, powers, ``\\sum_{i=1}^I``
  and ``\\sum_i`` (i = 1..I), which bind a product term (up to the next + or -);
- subscripts: ``\\phi_0``, ``\\theta_{10}`` -> Symbols ``phi_0``, ``theta_10``;
  ``x_i``, ``y_i``, ``m_{t+1}`` -> ``IndexedBase('x')[i]`` ...;
- decimals are exact rationals (``0.06`` -> 3/50, ``32.0`` -> 32);
- ``\\frac{\\partial L}{\\partial \\phi_1}``, ``\\frac{\\partial^2 L}{\\partial \\phi \\partial \\theta}``
  -> an unevaluated :class:`sympy.Derivative` of the symbol / function call;
- ``\\begin{bmatrix} .. & .. \\\\ .. \\end{bmatrix}`` -> ``ImmutableMatrix``;
- ``\\mathbf{H}``, ``\\boldsymbol{m}`` (bold is dropped), ``\\nabla l_t`` -> ``IndexedBase('nabla_l')[t]``.

Anything else raises :class:`ParseError` (a :class:`~losslab.errors.LosslabError`)
with a message naming what was not understood.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import sympy as sp
from sympy.core.function import AppliedUndef

from ..errors import LosslabError

__all__ = [
    "ParseError",
    "NotCheckable",
    "Token",
    "tokenize",
    "parse_expression",
    "parse_relation",
    "symbol",
    "index_symbol",
    "MAX_DEPTH",
    "MAX_TOKENS",
    "MAX_EXPONENT",
    "PARAM_FAMILIES",
]

MAX_DEPTH = 60  # nesting of brackets / fractions / sums
MAX_TOKENS = 4000  # per expression
MAX_EXPONENT = 32


class ParseError(LosslabError):
    """The LaTeX could not be read; the message says where and why."""


class NotCheckable(LosslabError):
    """The LaTeX is readable but cannot be checked (e.g. an elided series ``\\dots``)."""


GREEK = {
    "alpha", "beta", "gamma", "delta", "epsilon", "varepsilon", "zeta", "eta", "theta", "vartheta",
    "iota", "kappa", "lambda", "mu", "nu", "xi", "rho", "sigma", "tau", "upsilon", "phi", "varphi",
    "chi", "psi", "omega", "Gamma", "Delta", "Theta", "Lambda", "Xi", "Pi", "Sigma", "Phi", "Psi", "Omega",
}
GREEK_ALIAS = {"varphi": "phi", "vartheta": "theta", "varepsilon": "epsilon"}
# Greek families that name parameters: phi_0, theta_{10}, phi_j are plain symbols.
PARAM_FAMILIES = {"phi", "theta", "psi", "omega", "Phi", "Theta", "Psi", "Omega"}
# Letters that are integers wherever they appear (indices and the count I).
INTEGER_NAMES = {"i", "j", "k", "n", "t", "I", "N", "T", "K"}

ELEMENTARY = {"sin": sp.sin, "cos": sp.cos, "tan": sp.tan, "exp": sp.exp, "log": sp.log, "ln": sp.log,
              "tanh": sp.tanh, "sinh": sp.sinh, "cosh": sp.cosh}
# \text{..} / \operatorname{..} names that are functions: name -> canonical function name
TEXT_FUNCTIONS = {"sig": "sig", "sigmoid": "sig", "Tr": "Tr", "tr": "Tr", "trace": "Tr", "Trace": "Tr",
                  "Det": "Det", "det": "Det", "ReLU": "a", "relu": "a"}
SKIP_COMMANDS = {"quad", "qquad", ",", ";", ":", "!", " ", "displaystyle", "textstyle", "big", "Big",
                 "bigg", "Bigg", "bigl", "bigr", "Bigl", "Bigr", "nonumber", "notag"}
DOTS = {"dots", "ldots", "cdots", "dotsb", "dotsc", "vdots", "ddots"}
RELATIONS = {"=": "=", "<": "<", ">": ">", "leq": "<=", "le": "<=", "geq": ">=", "ge": ">=",
             "leftarrow": "<-", "gets": "<-", "approx": "~", "neq": "!="}

_SYMBOLS: dict[str, sp.Symbol] = {}


def symbol(name: str) -> sp.Symbol:
    """The one Symbol for ``name``: integers for index letters and I, reals otherwise."""
    if name not in _SYMBOLS:
        if name in INTEGER_NAMES:
            _SYMBOLS[name] = sp.Symbol(name, integer=True, positive=(name in {"I", "N", "T", "K"}) or None)
        else:
            _SYMBOLS[name] = sp.Symbol(name, real=True)
    return _SYMBOLS[name]


def index_symbol(name: str) -> sp.Symbol:
    return symbol(name)


_BASES: dict[str, sp.IndexedBase] = {}


def indexed_base(name: str) -> sp.IndexedBase:
    if name not in _BASES:
        _BASES[name] = sp.IndexedBase(name, real=True)
    return _BASES[name]


@dataclass(frozen=True)
class Token:
    kind: str  # num, letter, cmd, text, op, rowsep
    value: str
    pos: int

    def __repr__(self) -> str:
        return f"Token({self.kind}, {self.value!r})"


_TOKEN_RE = re.compile(
    r"(?P<ws>\s+)|(?P<num>\d+(?:\.\d+)?|\.\d+)|(?P<letter>[A-Za-z])|(?P<rowsep>\\\\)"
    r"|(?P<cmd>\\(?:[A-Za-z]+|[,;:! {}|]))|(?P<op>[{}()\[\]+\-*/=<>^_,&|'!.])"
)


def tokenize(text: str) -> list[Token]:
    """Split LaTeX into tokens; ``\\text{..}`` content is one token; ``\\left``/``\\right`` are dropped."""
    if not isinstance(text, str):
        raise ParseError(f"LaTeX must be a string. Got {type(text).__name__} instead.")
    tokens: list[Token] = []
    pos = 0
    n = len(text)
    while pos < n:
        m = _TOKEN_RE.match(text, pos)
        if m is None:
            ch = text[pos]
            raise ParseError(f"unexpected character {ch!r} at position {pos} in {_clip(text)!r}")
        kind = m.lastgroup
        value = m.group()
        start = pos
        pos = m.end()
        if kind == "ws":
            continue
        if kind == "cmd":
            name = value[1:]
            if name in SKIP_COMMANDS:
                continue
            if name in ("text", "textrm", "operatorname", "mathrm", "textit", "mbox"):
                m2 = re.compile(r"\s*\{([^{}]{0,40})\}").match(text, pos)
                if m2 is None:
                    raise ParseError(f"\\{name} must be followed by {{name}} at position {start}")
                pos = m2.end()
                tokens.append(Token("text", m2.group(1).strip(), start))
                continue
            if name in ("left", "right"):
                m2 = re.compile(r"\s*(\\\{|\\\}|\\\||\\langle|\\rangle|[()\[\].|])").match(text, pos)
                if m2 is None:
                    raise ParseError(f"\\{name} must be followed by a delimiter at position {start}")
                pos = m2.end()
                delim = m2.group(1)
                if delim == ".":
                    continue  # \left. / \right. : an invisible delimiter
                if delim in ("\\{", "\\}"):
                    delim = "(" if delim == "\\{" else ")"
                if delim in ("|", "\\|", "\\langle", "\\rangle"):
                    raise ParseError(f"\\{name}{delim} (absolute value / norm) is not supported")
                tokens.append(Token("op", delim, start))
                continue
            if name in ("{", "}"):
                tokens.append(Token("op", "(" if name == "{" else ")", start))
                continue
            tokens.append(Token("cmd", name, start))
            continue
        tokens.append(Token(kind, value, start))
        if len(tokens) > MAX_TOKENS:
            raise ParseError(f"expression too long: more than {MAX_TOKENS} tokens")
    return tokens


def _clip(text: str, width: int = 60) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


class _Parser:
    def __init__(self, tokens: list[Token], source: str, functions: frozenset[str]):
        self.toks = tokens
        self.i = 0
        self.src = source
        self.functions = functions
        self.depth = 0

    # -- helpers ---------------------------------------------------------------
    def peek(self, offset: int = 0) -> Token | None:
        j = self.i + offset
        return self.toks[j] if j < len(self.toks) else None

    def at(self, kind: str, value: str | None = None, offset: int = 0) -> bool:
        t = self.peek(offset)
        return t is not None and t.kind == kind and (value is None or t.value == value)

    def at_op(self, *values: str) -> bool:
        t = self.peek()
        return t is not None and t.kind == "op" and t.value in values

    def next(self) -> Token:
        t = self.peek()
        if t is None:
            raise ParseError(f"unexpected end of expression in {_clip(self.src)!r}")
        self.i += 1
        return t

    def expect(self, value: str) -> None:
        t = self.peek()
        if t is None or t.kind != "op" or t.value != value:
            got = "end of expression" if t is None else repr(t.value)
            raise ParseError(f"expected {value!r} but found {got} in {_clip(self.src)!r}")
        self.i += 1

    def enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ParseError(f"expression nested too deeply (more than {MAX_DEPTH} levels)")

    def leave(self) -> None:
        self.depth -= 1

    def error(self, message: str) -> ParseError:
        t = self.peek()
        where = f" at position {t.pos}" if t is not None else " at the end"
        return ParseError(f"{message}{where} in {_clip(self.src)!r}")

    # -- grammar -------------------------------------------------------------------
    def expr(self) -> sp.Expr:
        self.enter()
        try:
            sign = 1
            if self.at_op("+", "-"):
                sign = -1 if self.next().value == "-" else 1
            result = _mul(sign, self.term())
            while self.at_op("+", "-"):
                op = self.next().value
                rhs = self.term()
                result = _add(result, rhs if op == "+" else _mul(-1, rhs))
            return result
        finally:
            self.leave()

    def term(self) -> sp.Expr:
        result = self.factor()
        while True:
            t = self.peek()
            if t is None:
                break
            if t.kind == "cmd" and t.value in ("cdot", "times", "ast"):
                self.i += 1
                result = _mul(result, self.factor())
            elif t.kind == "op" and t.value == "*":
                self.i += 1
                result = _mul(result, self.factor())
            elif t.kind == "op" and t.value == "/":
                self.i += 1
                result = _mul(result, _pow(self.factor(), -1))
            elif self.starts_factor():
                result = _mul(result, self.factor())
            else:
                break
        return result

    def starts_factor(self) -> bool:
        t = self.peek()
        if t is None:
            return False
        if t.kind in ("num", "letter", "text"):
            return True
        if t.kind == "op":
            return t.value in ("(", "{")
        if t.kind == "cmd":
            return t.value not in ("cdot", "times", "ast", "end", "partial") and t.value not in RELATIONS and t.value != "in"
        return False

    def factor(self) -> sp.Expr:
        self.enter()
        try:
            # a unary minus inside a product: 2 \cdot -x
            if self.at_op("-"):
                self.i += 1
                return _mul(-1, self.factor())
            base = self.atom()
            while self.at_op("^", "'"):
                if self.at_op("'"):
                    raise self.error("primes (f') are not supported; write \\frac{\\partial ..}{\\partial ..}")
                self.i += 1
                exponent = self.script()
                base = _pow(base, exponent)
            return base
        finally:
            self.leave()

    def script(self) -> sp.Expr:
        """The argument of ^ or _ : a braced group or a single token (digit, letter, Greek letter, \\infty)."""
        return self._braced_or_single("expected a superscript or subscript", commands=True)

    def _braced_or_single(self, message: str, *, commands: bool) -> sp.Expr:
        """{..} or one token; ``commands`` also allows a Greek letter or \\infty as the single token."""
        if self.at_op("{"):
            self.i += 1
            value = self.expr()
            self.expect("}")
            return value
        t = self.next()
        if t.kind == "num":
            # x^23 in LaTeX means x^2 3 (and \frac12 means 1/2): only the first digit is the argument
            if len(t.value) > 1 and "." not in t.value:
                self.toks.insert(self.i, Token("num", t.value[1:], t.pos + 1))
                return sp.Integer(int(t.value[0]))
            return _number(t.value)
        if t.kind == "letter":
            return symbol(t.value)
        if commands and t.kind == "cmd" and t.value in GREEK:
            return symbol(GREEK_ALIAS.get(t.value, t.value))
        if commands and t.kind == "cmd" and t.value == "infty":
            return sp.oo
        self.i -= 1
        raise self.error(message)

    def _refuse_juxtaposed_indices(self) -> None:
        """x_{ij} or x_{1 2} in a subscript is two indices or a typo, not a product: never guess."""
        depth, k = 0, self.i
        while k < len(self.toks):
            t = self.toks[k]
            if t.kind == "op" and t.value in "{([":
                depth += 1
            elif t.kind == "op" and t.value in "})]":
                if depth == 0:
                    return
                depth -= 1
            elif depth == 0 and k + 1 < len(self.toks):
                nxt = self.toks[k + 1]
                if all(u.kind in ("num", "letter") for u in (t, nxt)):
                    raise self.error(
                        f"the subscript '{t.value} {nxt.value}' is ambiguous (two indices, or a product?): "
                        f"write a product as {t.value} \\cdot {nxt.value}"
                    )
            k += 1

    def subscript_raw(self) -> tuple[str, sp.Expr | None]:
        """After '_': ('10', None) for digits, or ('', expr) for an index expression."""
        if self.at_op("{"):
            # digits only -> a name suffix ({10} -> '10')
            if self.at("num", offset=1) and self.at("op", "}", offset=2) and "." not in self.peek(1).value:
                value = self.peek(1).value
                self.i += 3
                return value, None
            self.i += 1
            self._refuse_juxtaposed_indices()
            value = self.expr()
            self.expect("}")
            return "", value
        t = self.next()
        if t.kind == "num" and "." not in t.value:
            if len(t.value) > 1:
                self.toks.insert(self.i, Token("num", t.value[1:], t.pos + 1))
            return t.value[0], None
        if t.kind == "letter":
            return "", symbol(t.value)
        self.i -= 1
        raise self.error("expected a subscript")

    def identifier(self, name: str) -> sp.Expr:
        """A letter or Greek name with optional subscript; maybe applied to [..] arguments."""
        sub_digits, sub_expr = None, None
        if self.at_op("_"):
            self.i += 1
            sub_digits, sub_expr = self.subscript_raw()
        # function application: any letter followed by '[' (book notation), or a known function and '('
        if sub_digits is None and sub_expr is None:
            if self.at_op("["):
                return self.apply(name, "[", "]")
            if self.at_op("(") and name in self.functions:
                return self.apply(name, "(", ")")
        if sub_digits is None and sub_expr is None:
            if name == "e" and self.at_op("^"):
                return sp.E
            return symbol(name)
        if name in PARAM_FAMILIES:
            if sub_digits:
                return symbol(f"{name}_{sub_digits}")
            if isinstance(sub_expr, sp.Symbol):
                return symbol(f"{name}_{sub_expr.name}")
            return indexed_base(name)[sub_expr]
        index = sp.Integer(int(sub_digits)) if sub_digits else sub_expr
        if self.at_op("["):
            raise self.error(f"a subscripted function {name}_{{..}}[..] is not supported")
        return indexed_base(name)[index]

    def apply(self, name: str, open_: str, close: str) -> sp.Expr:
        self.expect(open_)
        args = [self.expr()]
        while self.at_op(","):
            self.i += 1
            args.append(self.expr())
        self.expect(close)
        if name in ELEMENTARY:
            if len(args) != 1:
                raise self.error(f"\\{name} takes one argument, got {len(args)}")
            return ELEMENTARY[name](args[0])
        return sp.Function(name, real=True)(*args)

    def group_argument(self) -> sp.Expr:
        """A required {..} argument (of \\frac, \\sqrt), or a single digit or letter (\\frac12)."""
        return self._braced_or_single("expected {..}", commands=False)

    def atom(self) -> sp.Expr:
        t = self.next()
        if t.kind == "num":
            return _number(t.value)
        if t.kind == "letter":
            return self.identifier(t.value)
        if t.kind == "text":
            return self.text_function(t.value)
        if t.kind == "op":
            if t.value in ("(", "[", "{"):
                close = {"(": ")", "[": "]", "{": "}"}[t.value]
                self.enter()
                try:
                    value = self.expr()
                finally:
                    self.leave()
                self.expect(close)
                return value
            self.i -= 1
            raise self.error(f"unexpected {t.value!r}")
        if t.kind == "rowsep":
            self.i -= 1
            raise self.error("unexpected line break \\\\")
        # commands
        name = t.value
        if name in GREEK:
            name = GREEK_ALIAS.get(name, name)
            if name == "sigma" and self.at_op("(", "["):
                return self.apply("sig", self.peek().value, ")" if self.peek().value == "(" else "]")
            return self.identifier(name)
        if name in ELEMENTARY:
            return self.elementary(name)
        if name in ("frac", "dfrac", "tfrac"):
            return self.fraction()
        if name == "sqrt":
            return sp.sqrt(self.group_argument())
        if name == "sum":
            return self.summation()
        if name in ("mathbf", "boldsymbol", "bm", "mathbfit", "vec"):
            return self.bold()
        if name == "mathbb":
            return self.blackboard()
        if name == "nabla":
            return self.nabla()
        if name == "begin":
            return self.environment()
        if name == "infty":
            return sp.oo
        if name == "pi":
            return sp.pi
        if name in DOTS:
            raise NotCheckable("the expression contains an elided series (\\dots): it cannot be checked as written")
        if name == "partial":
            self.i -= 1
            raise self.error("\\partial outside a \\frac{\\partial ..}{\\partial ..}")
        self.i -= 1
        raise self.error(f"unknown command \\{name}")

    def text_function(self, text: str) -> sp.Expr:
        if text not in TEXT_FUNCTIONS:
            self.i -= 1
            raise self.error(f"unknown \\text{{{text}}}")
        fname = TEXT_FUNCTIONS[text]
        if self.at_op("["):
            return self.apply(fname, "[", "]")
        if self.at_op("("):
            return self.apply(fname, "(", ")")
        raise self.error(f"\\text{{{text}}} must be followed by [..] or (..)")

    def elementary(self, name: str) -> sp.Expr:
        if self.at_op("["):
            return self.apply(name, "[", "]")
        if self.at_op("("):
            return self.apply(name, "(", ")")
        if self.at_op("^"):
            raise self.error(f"powers of functions (\\{name}^2 ..) are not supported; write (\\{name}[..])^2")
        # \sin x : a single factor
        return ELEMENTARY[name](self.factor())

    def fraction(self) -> sp.Expr:
        if self.at_op("{") and self.at("cmd", "partial", offset=1):
            return self.derivative()
        if self.at_op("{") and self._is_d(1):
            # \frac{d L}{d \phi_0} (or \mathrm{d}): an ordinary derivative, when the denominator is d<variable>
            start = self.i
            try:
                return self.derivative(marker="d")
            except ParseError:
                self.i = start
        self.enter()
        try:
            num = self.group_argument()
            den = self.group_argument()
        finally:
            self.leave()
        if den == 0:
            raise self.error("division by zero")
        return _mul(num, _pow(den, -1))

    def _is_d(self, offset: int) -> bool:
        t = self.peek(offset)
        return t is not None and ((t.kind == "letter" and t.value == "d") or (t.kind == "text" and t.value == "d"))

    def _at_marker(self, marker: str) -> bool:
        return self.at("cmd", "partial") if marker == "partial" else self._is_d(0)

    def derivative(self, marker: str = "partial") -> sp.Expr:
        """\\frac{\\partial^n TARGET}{\\partial v_1 \\partial v_2^2 ..} -> Derivative(TARGET, v_1, v_2, v_2)."""
        self.expect("{")
        self.next()  # \partial (or d)
        order = 1
        if self.at_op("^"):
            self.i += 1
            o = self.script()
            if not (isinstance(o, sp.Integer) and 1 <= int(o) <= 4):
                raise self.error("the order of a derivative must be 1..4")
            order = int(o)
        target = self.expr()
        self.expect("}")
        self.expect("{")
        variables: list[sp.Expr] = []
        while self._at_marker(marker):
            self.i += 1
            var = self.factor()
            if isinstance(var, sp.Pow) and isinstance(var.exp, sp.Integer) and 1 <= int(var.exp) <= 4:
                variables += [var.base] * int(var.exp)
            else:
                variables.append(var)
        self.expect("}")
        if not variables:
            raise self.error("a derivative needs \\partial <variable> in the denominator")
        for v in variables:
            if not isinstance(v, (sp.Symbol, sp.Indexed)):
                raise self.error(f"cannot differentiate with respect to {v}")
        if len(variables) != order:
            raise self.error(f"derivative order {order} does not match {len(variables)} variable(s)")
        return sp.Derivative(target, *variables, evaluate=False)

    def summation(self) -> sp.Expr:
        if not self.at_op("_"):
            raise self.error("\\sum needs a subscript: \\sum_i or \\sum_{i=1}^I")
        self.i += 1
        if self.at_op("{"):
            self.i += 1
            t = self.next()
            if t.kind != "letter":
                self.i -= 1
                raise self.error("the summation index must be a letter")
            index = symbol(t.value)
            if self.at_op("="):
                self.i += 1
                lower = self.expr()
            elif self.at("cmd", "in"):
                raise NotCheckable("a sum over a set (\\sum_{i \\in ..}) cannot be checked")
            else:
                lower = sp.Integer(1)
            self.expect("}")
        else:
            t = self.next()
            if t.kind != "letter":
                self.i -= 1
                raise self.error("the summation index must be a letter")
            index = symbol(t.value)
            lower = sp.Integer(1)
        upper = symbol("I")
        if self.at_op("^"):
            self.i += 1
            upper = self.script()
        elif lower != 1:
            raise self.error("a sum with a lower limit needs an upper limit ^{..}")
        self.enter()
        try:
            body = self.term()
        finally:
            self.leave()
        return sp.Sum(body, (index, lower, upper))

    def bold(self) -> sp.Expr:
        self.expect("{")
        t = self.next()
        if t.kind == "letter":
            name = t.value
        elif t.kind == "cmd" and t.value in GREEK:
            name = GREEK_ALIAS.get(t.value, t.value)
        else:
            self.i -= 1
            raise self.error("\\mathbf{..} must contain one letter")
        self.expect("}")
        return self.identifier(name)

    def blackboard(self) -> sp.Expr:
        self.expect("{")
        t = self.next()
        self.expect("}")
        if t.kind == "letter" and t.value in ("I", "1"):
            open_ = self.peek()
            if open_ is None or open_.kind != "op" or open_.value not in ("[", "("):
                raise self.error("\\mathbb{I} must be followed by [condition]")
            self.i += 1
            lhs = self.expr()
            rel = self.next()
            rel_name = rel.value if rel.kind == "op" else RELATIONS.get(rel.value, rel.value)
            rhs = self.expr()
            self.expect("]" if open_.value == "[" else ")")
            if rel_name == ">":
                return sp.Heaviside(lhs - rhs, 0)
            if rel_name == "<":
                return sp.Heaviside(rhs - lhs, 0)
            if rel_name == ">=":
                return sp.Heaviside(lhs - rhs, 1)
            if rel_name == "<=":
                return sp.Heaviside(rhs - lhs, 1)
            raise self.error(f"unsupported condition {rel.value!r} in \\mathbb{{I}}[..]")
        if t.kind == "letter" and t.value == "R":
            raise self.error("\\mathbb{R} is a set, not a value")
        raise self.error(f"unknown \\mathbb{{{t.value}}}")

    def nabla(self) -> sp.Expr:
        t = self.next()
        if t.kind != "letter":
            self.i -= 1
            raise self.error("\\nabla must be followed by a letter, e.g. \\nabla l_t")
        name = f"nabla_{t.value}"
        if not self.at_op("_"):
            return symbol(name)
        self.i += 1
        digits, expr = self.subscript_raw()
        index = sp.Integer(int(digits)) if digits else expr
        return indexed_base(name)[index]

    def environment(self) -> sp.Expr:
        self.expect("{")
        name = ""
        while not self.at_op("}"):
            t = self.next()
            name += t.value
        self.expect("}")
        if name not in ("bmatrix", "pmatrix", "matrix", "Bmatrix", "vmatrix"):
            raise self.error(f"environment {name!r} is not supported inside an expression")
        rows: list[list[sp.Expr]] = [[]]
        self.enter()
        try:
            while True:
                if self.at("cmd", "end"):
                    break
                rows[-1].append(self.expr())
                if self.at_op("&"):
                    self.i += 1
                elif self.at("rowsep"):
                    self.i += 1
                    if not self.at("cmd", "end"):
                        rows.append([])
                elif not self.at("cmd", "end"):
                    raise self.error("expected & or \\\\ or \\end in a matrix")
        finally:
            self.leave()
        self.next()
        self.expect("{")
        end = ""
        while not self.at_op("}"):
            end += self.next().value
        self.expect("}")
        if end != name:
            raise self.error(f"\\begin{{{name}}} closed by \\end{{{end}}}")
        widths = {len(r) for r in rows}
        if len(widths) != 1:
            raise self.error("matrix rows have different lengths")
        if len(rows) * len(rows[0]) > 400:
            raise self.error("matrix too large")
        for row in rows:
            for cell in row:
                if isinstance(cell, sp.MatrixBase):
                    raise self.error("nested matrices are not supported")
        matrix = sp.ImmutableMatrix(rows)
        if name == "vmatrix":
            return matrix.det()
        return matrix


def _number(text: str) -> sp.Rational:
    """'0.06' -> 3/50 exactly, built from the digits (no string evaluation)."""
    if len(text) > 40:
        raise ParseError(f"number with too many digits: {text[:20]}...")
    if "." in text:
        whole, frac = text.split(".")
        whole = whole or "0"
        return sp.Rational(int(whole) * 10 ** len(frac) + int(frac), 10 ** len(frac))
    return sp.Integer(int(text))


def _is_matrix(x) -> bool:
    return isinstance(x, sp.MatrixBase)


def _mul(a, b):
    if _is_matrix(a) or _is_matrix(b):
        return a * b
    return sp.Mul(a, b)


def _add(a, b):
    if _is_matrix(a) != _is_matrix(b):
        raise ParseError("cannot add a matrix and a scalar")
    return a + b if _is_matrix(a) else sp.Add(a, b)


def _pow(a, b):
    if _is_matrix(a) or _is_matrix(b):
        raise ParseError("powers of matrices are not supported")
    if a == 0 and (b.is_negative or b == 0):
        raise ParseError("0 to a non-positive power")
    if isinstance(b, sp.Number) and abs(b) > MAX_EXPONENT:
        raise ParseError(f"exponent too large (at most {MAX_EXPONENT})")
    result = sp.Pow(a, b)
    if isinstance(result, sp.Pow) and isinstance(result.exp, sp.Number) and abs(result.exp) > MAX_EXPONENT:
        raise ParseError(f"exponent too large (at most {MAX_EXPONENT})")
    if isinstance(result, sp.Integer) and abs(result) > 10**60:
        raise ParseError("number too large")
    return result


def parse_expression(text: str, *, functions=frozenset({"f"})) -> sp.Expr:
    """Parse one LaTeX expression (no relation) into SymPy.

    ``functions``: names that take ``(..)`` arguments (``f(x)``); any letter takes ``[..]``.
    """
    tokens = tokenize(text)
    if not tokens:
        raise ParseError("empty expression")
    parser = _Parser(tokens, text, frozenset(functions))
    try:
        value = parser.expr()
    except RecursionError:
        raise ParseError(f"expression nested too deeply (more than {MAX_DEPTH} levels)") from None
    if parser.peek() is not None:
        raise parser.error(f"unexpected {parser.peek().value!r}")
    return value


def split_relation(text: str) -> tuple[list[str], list[str]]:
    """Split at top-level relations (=, <, >, \\leq, \\geq, \\leftarrow): (sides, ops)."""
    tokens = tokenize(text)  # validates characters; positions index into text
    sides, ops = [], []
    depth = 0
    start = 0
    in_indicator = 0
    for k, t in enumerate(tokens):
        if t.kind == "op" and t.value in "([{":
            depth += 1
        elif t.kind == "op" and t.value in ")]}":
            depth -= 1
            if depth < 0:
                raise ParseError(f"unbalanced {t.value!r} at position {t.pos} in {_clip(text)!r}")
        is_rel = (t.kind == "op" and t.value in ("=", "<", ">")) or (t.kind == "cmd" and t.value in RELATIONS)
        if is_rel and depth == 0 and not in_indicator:
            sides.append(text[start:t.pos])
            ops.append(RELATIONS.get(t.value, t.value))
            start = t.pos + (len(t.value) if t.kind == "op" else len(t.value) + 1)
    if depth != 0:
        raise ParseError(f"unbalanced brackets in {_clip(text)!r}")
    sides.append(text[start:])
    return sides, ops


def parse_relation(text: str, *, functions=frozenset({"f"})) -> tuple[list[sp.Expr], list[str]]:
    """Parse ``A = B = C`` into ([A, B, C], ['=', '='])."""
    sides, ops = split_relation(text)
    return [parse_expression(s, functions=functions) for s in sides], ops


def is_applied(expr, name: str) -> bool:
    return isinstance(expr, AppliedUndef) and expr.func.__name__ == name
