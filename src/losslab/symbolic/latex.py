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
- ``\\mathbf{H}``, ``\\boldsymbol{m}`` (bold is dropped; the caller says which names are
  vectors, and products of vectors keep their order as :class:`~.nodes.MatProd`);
- decorated names ``\\hat{y}`` -> ``yhat``, ``\\tilde{L}``, ``\\bar{x}``, ``\\mathcal{L}`` -> ``L``, ``\\ell`` -> ``l``;
- ``\\nabla_{\\phi} L`` (a gradient: a derivative) and ``\\nabla \\ell(\\Theta^{(t)})`` (an opaque
  gradient value, :class:`~.nodes.Grad`), ``\\partial_j``, primes ``a'(z)``, operators
  ``\\frac{d}{dz} F``; superscript indices ``y^{(i)}``; comma subscripts ``z_{1,n}``;
  transposes ``x^T``, ``\\odot``; ``cases`` (a Piecewise); ``\\max``, ``\\det``, ``\\mathrm{tr}``.

Anything else raises :class:`ParseError` (a :class:`~losslab.errors.LosslabError`)
with a message naming what was not understood.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import sympy as sp

from ..errors import LosslabError
from .nodes import IMPLICIT_INDEX, Grad, Hadamard, IApply, MatProd, SetSum, Transpose, prime_name

__all__ = [
    "ParseError",
    "NotCheckable",
    "Token",
    "tokenize",
    "parse_expression",
    "parse_relation",
    "symbol",
    "indexed_base",
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
                  "Det": "Det", "det": "Det", "ReLU": "a", "relu": "a", "Var": "Var", "var": "Var",
                  "sgn": "sgn", "sign": "sgn", "softplus": "softplus"}
# \text{..} that says nothing (a condition's "if", a word between formulas)
TEXT_FILLERS = {"if", "if ", "for", "when", "where", "and", "otherwise", "else", "with", "since"}
SKIP_COMMANDS = {"quad", "qquad", ",", ";", ":", "!", " ", "displaystyle", "textstyle", "scriptstyle", "big", "Big",
                 "bigg", "Bigg", "bigl", "bigr", "Bigl", "Bigr", "biggl", "biggr", "Biggl", "Biggr", "nonumber",
                 "notag", "limits", "nolimits", "mathopen", "mathclose", "middle"}
DECORATIONS = {"hat": "hat", "widehat": "hat", "tilde": "tilde", "widetilde": "tilde", "bar": "bar",
               "overline": "bar", "dot": "dot", "ddot": "ddot", "check": "check", "breve": "breve"}
DOTS = {"dots", "ldots", "cdots", "dotsb", "dotsc", "vdots", "ddots"}
RELATIONS = {"=": "=", "<": "<", ">": ">", "leq": "<=", "le": "<=", "geq": ">=", "ge": ">=", "leqslant": "<=",
             "geqslant": ">=", "leftarrow": "<-", "gets": "<-", "approx": "~", "neq": "!=", "ne": "!=",
             "coloneqq": ":=", "equiv": "=", "triangleq": ":=", "Rightarrow": "=>", "implies": "=>",
             "Longrightarrow": "=>", "iff": "=>", "in": "in", "propto": "propto"}
# function names applied with (..) even when the caller does not list them
DEFAULT_FUNCTIONS = frozenset({"f", "a", "L", "J", "l", "P", "H", "sig", "LL", "E"})

_SYMBOLS: dict[str, sp.Symbol] = {}


def symbol(name: str) -> sp.Symbol:
    """The one Symbol for ``name``: integers for index letters and I, reals otherwise."""
    if name not in _SYMBOLS:
        if name in INTEGER_NAMES:
            _SYMBOLS[name] = sp.Symbol(name, integer=True, positive=(name in {"I", "N", "T", "K"}) or None)
        else:
            _SYMBOLS[name] = sp.Symbol(name, real=True)
    return _SYMBOLS[name]


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
    r"|(?P<cmd>\\(?:[A-Za-z]+|[,;:! {}|]))|(?P<op>:=|[{}()\[\]+\-*/=<>^_,&|'!.;:])"
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
            raise ParseError(f"unexpected character {ch!r} at position {pos} in '{_clip(text)}'")
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
            if name in ("text", "textrm", "operatorname", "mathrm", "textit", "mbox", "textbf", "mathit", "textsf",
                        "mathsf", "operatorname*"):
                m2 = re.compile(r"\s*\{([^{}]{0,80})\}").match(text, pos)
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
            if name in ("{", "}", "lbrace", "rbrace"):
                tokens.append(Token("op", "(" if name in ("{", "lbrace") else ")", start))
                continue
            if name == "ell":
                tokens.append(Token("letter", "l", start))
                continue
            if name in ("mid", "vert"):
                tokens.append(Token("op", "|", start))
                continue
            if name in ("lbrack", "rbrack"):
                tokens.append(Token("op", "[" if name == "lbrack" else "]", start))
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
    def __init__(self, tokens: list[Token], source: str, functions: frozenset[str], vectors: frozenset[str]):
        self.toks = tokens
        self.i = 0
        self.src = source
        self.functions = functions | DEFAULT_FUNCTIONS
        self.vectors = vectors
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
            raise ParseError(f"unexpected end of expression in '{_clip(self.src)}'")
        self.i += 1
        return t

    def expect(self, value: str) -> None:
        t = self.peek()
        if t is None or t.kind != "op" or t.value != value:
            got = "end of expression" if t is None else repr(t.value)
            raise ParseError(f"expected {value!r} but found {got} in '{_clip(self.src)}'")
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
        return ParseError(f"{message}{where} in '{_clip(self.src)}'")

    def matching(self, k: int) -> int:
        """Index of the token closing the bracket opened at token k (or -1)."""
        pairs = {"(": ")", "[": "]", "{": "}"}
        stack = []
        for j in range(k, len(self.toks)):
            t = self.toks[j]
            if t.kind == "op" and t.value in pairs:
                stack.append(pairs[t.value])
            elif t.kind == "op" and t.value in (")", "]", "}"):
                if not stack or stack.pop() != t.value:
                    return -1
                if not stack:
                    return j
        return -1

    def top_level_separator(self, k: int, end: int) -> bool:
        """Is there a ',' ';' or '|' at depth 0 between tokens k and end?"""
        depth = 0
        for j in range(k, end):
            t = self.toks[j]
            if t.kind == "op" and t.value in "([{":
                depth += 1
            elif t.kind == "op" and t.value in ")]}":
                depth -= 1
            elif depth == 0 and t.kind == "op" and t.value in (",", ";", "|"):
                return True
        return False

    # -- products that keep their order when vectors are involved --------------
    def vectorish(self, e) -> bool:
        if isinstance(e, sp.MatrixBase):
            return True
        if not isinstance(e, sp.Basic):
            return False
        if e.has(Transpose, MatProd, Hadamard):
            return True
        if not self.vectors:
            return False
        for s in e.free_symbols:
            name = str(s.base.label) if isinstance(s, sp.Indexed) else getattr(s, "name", "")
            if name in self.vectors:
                return True
        return any(str(ind.base.label) in self.vectors for ind in e.atoms(sp.Indexed))

    def mul(self, a, b):
        if self.vectorish(a) and self.vectorish(b) and not (_is_matrix(a) and _is_matrix(b)):
            left = list(a.args) if isinstance(a, MatProd) else [a]
            right = list(b.args) if isinstance(b, MatProd) else [b]
            return MatProd(*left, *right)
        return _mul(a, b)

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
            if t.kind == "cmd" and t.value in ("cdot", "times", "ast", "cdotp"):
                self.i += 1
                result = self.mul(result, self.factor())
            elif t.kind == "cmd" and t.value == "odot":
                self.i += 1
                result = Hadamard(result, self.term())  # a \odot b c = a \odot (b c)
            elif t.kind == "op" and t.value == "*":
                self.i += 1
                result = self.mul(result, self.factor())
            elif t.kind == "op" and t.value == "/":
                self.i += 1
                result = _mul(result, _pow(self.factor(), -1))
            elif self.starts_factor():
                result = self.mul(result, self.factor())
            else:
                break
        return result

    def starts_factor(self) -> bool:
        t = self.peek()
        if t is None:
            return False
        if t.kind in ("num", "letter"):
            return True
        if t.kind == "text":
            return t.value.strip() not in TEXT_FILLERS
        if t.kind == "op":
            return t.value in ("(", "{", "[")
        if t.kind == "cmd":
            return (t.value not in ("cdot", "times", "ast", "cdotp", "odot", "end", "forall", "top")
                    and t.value not in RELATIONS)
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
                    raise self.error("a prime (') must follow a function name, as in a'(z)")
                self.i += 1
                if self.transpose_mark():
                    base = Transpose(base)
                    continue
                exponent = self.script()
                base = _pow(base, exponent)
            return base
        finally:
            self.leave()

    def transpose_mark(self) -> bool:
        """After '^': T, \\top, {T}, {\\top}, {\\intercal} (consumed) -> a transpose."""
        def is_mark(t):
            return t is not None and ((t.kind == "letter" and t.value == "T")
                                      or (t.kind == "cmd" and t.value in ("top", "intercal", "mathsf")))
        if is_mark(self.peek()):
            if self.peek().kind == "cmd" and self.peek().value == "mathsf":
                return False
            self.i += 1
            return True
        if self.at_op("{") and is_mark(self.peek(1)) and self.at("op", "}", offset=2):
            self.i += 3
            return True
        return False

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

    def subscript_raw(self) -> tuple[str, list]:
        """After '_': ('10', []) for digits (a name suffix), or ('', [index, ..]) for index expressions.

        ``_{i,n}`` and ``_{ij}`` / ``_{i1}`` are two indices; ``_{10}`` is the digits 10."""
        if self.at_op("{"):
            if self.at("num", offset=1) and self.at("op", "}", offset=2) and "." not in self.peek(1).value:
                value = self.peek(1).value
                self.i += 3
                return value, []
            self.i += 1
            close = self.matching(self.i - 1)
            # juxtaposed single letters/digits: x_{ij}, x_{i1}, z_{1n}
            simple = [t for t in self.toks[self.i:close]] if close > 0 else []
            if len(simple) >= 2 and all(t.kind == "num" for t in simple):
                raise self.error(f"the subscript '{' '.join(t.value for t in simple)}' is ambiguous (two indices, or "
                                 "one number?): write x_{1,2} for two indices")
            if simple and len(simple) >= 2 and all(t.kind in ("letter", "num") for t in simple) \
                    and not all(t.kind == "num" for t in simple) and all(len(t.value) == 1 or t.kind == "letter" for t in simple):
                self.i = close + 1
                return "", [symbol(t.value) if t.kind == "letter" else sp.Integer(int(t.value)) for t in simple]
            indices = [self.expr()]
            while self.at_op(","):
                self.i += 1
                indices.append(self.expr())
            self.expect("}")
            return "", indices
        t = self.next()
        if t.kind == "num" and "." not in t.value:
            if len(t.value) > 1:
                self.toks.insert(self.i, Token("num", t.value[1:], t.pos + 1))
            return t.value[0], []
        if t.kind == "letter":
            return "", [symbol(t.value)]
        if t.kind == "cmd" and t.value in GREEK:
            return "", [symbol(GREEK_ALIAS.get(t.value, t.value))]
        if t.kind == "cmd" and t.value in ("mathbf", "boldsymbol", "bm"):
            self.i -= 1
            self.i += 1
            return "", [self.bold()]
        self.i -= 1
        raise self.error("expected a subscript")

    def superscript_index(self) -> list | None:
        """``^{(i)}`` / ``^{(t+1)}`` after a name: an index, not a power."""
        if self.at_op("^") and self.at("op", "{", offset=1) and self.at("op", "(", offset=2):
            close = self.matching(self.i + 1)
            inner_close = self.matching(self.i + 2)
            if close > 0 and inner_close == close - 1:
                self.i += 3
                value = self.expr()
                self.expect(")")
                self.expect("}")
                return [value]
        return None

    def identifier(self, name: str) -> sp.Expr:
        """A letter or Greek name with optional subscript / superscript index; maybe applied to arguments."""
        sub_digits, indices = None, []
        if self.at_op("_"):
            self.i += 1
            sub_digits, indices = self.subscript_raw()
        sup = self.superscript_index()
        if sup is not None:
            indices = indices + sup
            if sub_digits:
                indices, sub_digits = [sp.Integer(int(sub_digits))] + indices, None
        if self.at_op("_") and sub_digits is None and not indices:
            pass
        elif self.at_op("_") and sup is not None:
            self.i += 1
            more_digits, more = self.subscript_raw()
            indices = indices + ([sp.Integer(int(more_digits))] if more_digits else more)
        # primes: a'(z), f''(x), \sigma'(z)
        order = 0
        while self.at_op("'"):
            self.i += 1
            order += 1
        if order:
            fname = "sig" if name == "sigma" else name
            if not self.at_op("(", "["):
                raise self.error(f"{name}{chr(39) * order} must be followed by its argument, e.g. {name}'(z)")
            close = ")" if self.peek().value == "(" else "]"
            return self.apply(prime_name(fname, order), self.peek().value, close)
        if not sub_digits and not indices:
            if self.at_op("["):
                applied = self.apply(name, "[", "]")
                self.skip_point_arguments()
                return applied
            if self.at_op("(") and (name in self.functions or self.call_like()):
                return self.apply(name, "(", ")")
            if name == "e" and self.at_op("^"):
                return sp.E
            return symbol(name)
        if name in PARAM_FAMILIES and len(indices) > 1 and all(isinstance(v, sp.Integer) and 0 <= v < 10 for v in indices):
            sub_digits, indices = "".join(str(int(v)) for v in indices), []  # \theta_{1,0} is theta_10
        generic = (sup is None and len(indices) == 1 and isinstance(indices[0], sp.Symbol) and indices[0].name != "t")
        if name in PARAM_FAMILIES and (sub_digits or generic):
            base = symbol(f"{name}_{sub_digits}") if sub_digits else symbol(f"{name}_{indices[0].name}")
            if self.at_op("(") and self.call_like():
                self.skip_point_arguments()
            return base
        index = [sp.Integer(int(sub_digits))] if sub_digits else indices
        if name in PARAM_FAMILIES:
            return indexed_base(name)[tuple(index)]
        base = indexed_base(name)[tuple(index)]
        if self.at_op("(") and (self.call_like() or self.data_argument()):
            close = self.matching(self.i)
            if self.top_level_separator(self.i + 1, close) and self.only_parameters(self.i + 1, close):
                self.i = close + 1  # e_i(\phi_0, \phi_1): the parameters it depends on, not a call
                return base
            args = self.arguments("(", ")")
            return IApply(base, sp.Tuple(*args))
        if self.at_op("["):
            args = self.arguments("[", "]")
            return IApply(base, sp.Tuple(*args))
        return base

    def call_like(self) -> bool:
        """``(`` opening an argument list: a top-level ',' ';' or '|' inside."""
        if not self.at_op("("):
            return False
        close = self.matching(self.i)
        return close > 0 and self.top_level_separator(self.i + 1, close)

    def data_argument(self) -> bool:
        """``(x_n)`` / ``(x)``: one letter (with an index) in parentheses -- an argument, not a factor."""
        close = self.matching(self.i)
        inner = self.toks[self.i + 1:close] if close > 0 else []
        return bool(inner) and inner[0].kind == "letter" and inner[0].value in ("x", "z") and all(
            t.kind in ("letter", "num") or (t.kind == "op" and t.value in "_{}(),") for t in inner)

    def only_parameters(self, k: int, end: int) -> bool:
        for t in self.toks[k:end]:
            if t.kind == "cmd" and t.value in PARAM_FAMILIES | {"mathbf", "boldsymbol"}:
                continue
            if t.kind in ("num",) or (t.kind == "op" and t.value in "_{},;"):
                continue
            if t.kind == "letter" and t.value in ("w", "b", "W"):
                continue
            return False
        return True

    def skip_point_arguments(self) -> None:
        """``H[J](\\phi_0, \\phi_1)``: the point written after an applied name; the parameters themselves."""
        if self.call_like():
            close = self.matching(self.i)
            if self.only_parameters(self.i + 1, close):
                self.i = close + 1

    def arguments(self, open_: str, close: str) -> list:
        self.expect(open_)
        args = [self.event()]
        while self.at_op(",", ";", "|"):
            self.i += 1
            args.append(self.event())
        self.expect(close)
        return args

    def event(self) -> sp.Expr:
        """An argument, or an event ``y = 1`` in ``Pr(y = 1 | x)``: kept as one opaque symbol."""
        value = self.expr()
        if self.at_op("="):
            self.i += 1
            other = self.expr()
            return sp.Symbol(f"{value}={other}")
        return value

    def apply(self, name: str, open_: str, close: str) -> sp.Expr:
        args = self.arguments(open_, close)
        if name in ELEMENTARY:
            if len(args) != 1:
                raise self.error(f"\\{name} takes one argument, got {len(args)}")
            return self.elementary_of(name, args[0])
        return sp.Function(name, real=True)(*args)

    def elementary_of(self, name: str, arg) -> sp.Expr:
        """\\exp[..], \\sin x ..: of a scalar only. SymPy reads \\exp of a matrix as the matrix exponential
        (symbolic, unbounded work; an error for a non-square one), which no sheet of this chapter means."""
        if isinstance(arg, sp.MatrixBase):
            raise self.error(f"\\{name} of a matrix is not supported (write it entry by entry)")
        return ELEMENTARY[name](arg)

    def group_argument(self) -> sp.Expr:
        """A required {..} argument (of \\frac, \\sqrt), or a single digit or letter (\\frac12)."""
        return self._braced_or_single("expected {..}", commands=False)

    def atom(self) -> sp.Expr:
        t = self.next()
        if t.kind == "num":
            return _number(t.value)
        if t.kind == "letter":
            if t.value == "P" and self.peek() is not None and self.peek().kind == "letter" and self.peek().value == "r" \
                    and self.i + 1 < len(self.toks) and self.toks[self.i + 1].kind == "op" and self.toks[self.i + 1].value == "(":
                self.i += 1  # Pr(y = 1 | x): the probability, written as P
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
            if t.value == "|":
                value = self.expr()
                self.expect("|")
                return value.det() if isinstance(value, sp.MatrixBase) else sp.Abs(value)
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
        if name == "Pr" and self.at_op("("):
            return self.identifier("P")
        if name in ("frac", "dfrac", "tfrac"):
            return self.fraction()
        if name == "sqrt":
            return sp.sqrt(self.group_argument())
        if name == "sum":
            return self.summation()
        if name in ("mathbf", "boldsymbol", "bm", "mathbfit", "vec", "pmb", "mathcal", "mathscr", "mathit"):
            return self.bold()
        if name in DECORATIONS:
            return self.decorated(DECORATIONS[name])
        if name == "mathbb":
            return self.blackboard()
        if name == "nabla":
            return self.nabla()
        if name == "partial":
            return self.partial_operator()
        if name == "begin":
            return self.environment()
        if name in ("boxed", "underbrace", "overbrace", "underset", "overset"):
            return self.transparent(name)
        if name in ("max", "min"):
            return self.extremum(name)
        if name in ("det", "tr", "Tr"):
            return self.matrix_function("Det" if name == "det" else "Tr")
        if name == "infty":
            return sp.oo
        if name == "pi":
            return sp.pi
        if name in DOTS:
            raise NotCheckable("the expression contains an elided series (\\dots): it cannot be checked as written")
        self.i -= 1
        raise self.error(f"unknown command \\{name}")

    def transparent(self, name: str) -> sp.Expr:
        """\\boxed{X}, \\underbrace{X}_{note}: X (the note is not part of the value)."""
        if name in ("underset", "overset"):
            self.group_argument_raw()
        self.expect("{")
        value = self.expr()
        self.expect("}")
        if name in ("underbrace", "overbrace") and self.at_op("_", "^"):
            self.i += 1
            self.group_argument_raw()
        return value

    def group_argument_raw(self) -> None:
        """Skip one {..} group (or one token) without reading it."""
        if self.at_op("{"):
            close = self.matching(self.i)
            if close < 0:
                raise self.error("unbalanced {")
            self.i = close + 1
        else:
            self.next()

    def extremum(self, name: str) -> sp.Expr:
        open_ = self.peek()
        if open_ is None or open_.kind != "op" or open_.value not in ("(", "[", "{"):
            raise self.error(f"\\{name} must be followed by (a, b)")
        close = {"(": ")", "[": "]", "{": ")" if open_.value == "{" else "}"}[open_.value]
        if open_.value == "{":
            close = "}"
        args = self.arguments(open_.value, close)
        return (sp.Max if name == "max" else sp.Min)(*args)

    def matrix_function(self, fname: str) -> sp.Expr:
        if self.at_op("(", "["):
            return self.apply(fname, self.peek().value, ")" if self.peek().value == "(" else "]")
        return sp.Function(fname, real=True)(self.factor())

    def text_function(self, text: str) -> sp.Expr:
        word = text.strip()
        if word in TEXT_FUNCTIONS:
            fname = TEXT_FUNCTIONS[word]
            if self.at_op("["):
                return self.apply(fname, "[", "]")
            if self.at_op("("):
                return self.apply(fname, "(", ")")
            if fname in ("Tr", "Det"):
                return sp.Function(fname, real=True)(self.factor())
            raise self.error(f"\\text{{{text}}} must be followed by [..] or (..)")
        if word == "d":
            return symbol("d")
        if re.fullmatch(r"[A-Za-z]{2,20}", word):
            # \text{error}, \operatorname{Var}: a named quantity or function the sheet defines
            if self.at_op("(", "["):
                return self.apply(word, self.peek().value, ")" if self.peek().value == "(" else "]")
            return symbol(word)
        self.i -= 1
        raise self.error(f"unknown \\text{{{text}}}")

    def elementary(self, name: str) -> sp.Expr:
        if self.at_op("["):
            return self.apply(name, "[", "]")
        if self.at_op("("):
            return self.apply(name, "(", ")")
        if self.at_op("^"):
            raise self.error(f"powers of functions (\\{name}^2 ..) are not supported; write (\\{name}[..])^2")
        # \sin x, \log \sigma(z): a single factor
        return self.elementary_of(name, self.factor())

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
        if self.vectorish(num) and not self.vectorish(den):
            return self.mul(num, _pow(den, -1))
        return _mul(num, _pow(den, -1))

    def _is_d(self, offset: int) -> bool:
        t = self.peek(offset)
        return t is not None and ((t.kind == "letter" and t.value == "d") or (t.kind == "text" and t.value == "d"))

    def _at_marker(self, marker: str) -> bool:
        return self.at("cmd", "partial") if marker == "partial" else self._is_d(0)

    def derivative(self, marker: str = "partial") -> sp.Expr:
        """\\frac{\\partial^n TARGET}{\\partial v_1 \\partial v_2^2 ..} -> Derivative(TARGET, v_1, v_2, v_2).

        ``\\frac{d}{dz} F`` / ``\\frac{\\partial}{\\partial w_k} [..]`` (an operator): TARGET is the factor after it."""
        self.expect("{")
        self.next()  # \partial (or d)
        order = 1
        if self.at_op("^"):
            self.i += 1
            o = self.script()
            if not (isinstance(o, sp.Integer) and 1 <= int(o) <= 4):
                raise self.error("the order of a derivative must be 1..4")
            order = int(o)
        operator = self.at_op("}")
        target = None if operator else self.expr()
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
        if operator:
            if not self.starts_factor():
                raise self.error("an operator \\frac{d}{dz} must be followed by what it differentiates")
            target = self.factor()
        return sp.Derivative(target, *variables, evaluate=False)

    def partial_operator(self) -> sp.Expr:
        """``\\partial_j L`` (j: a parameter index) or ``\\partial_{\\phi_0} L``."""
        if not self.at_op("_"):
            self.i -= 1
            raise self.error("\\partial outside a \\frac{\\partial ..}{\\partial ..}")
        self.i += 1
        var = self.script()
        if isinstance(var, sp.Symbol) and var.is_integer:
            var = symbol(f"phi_{var.name}")
        elif isinstance(var, sp.Integer):
            var = symbol(f"phi_{int(var)}")  # \partial_1 L: the derivative in phi_1
        if not isinstance(var, (sp.Symbol, sp.Indexed)):
            raise self.error(f"cannot differentiate with respect to {var}")
        return sp.Derivative(self.factor(), var, evaluate=False)

    def summation(self) -> sp.Expr:
        upper = symbol("I")
        if not self.at_op("_"):
            # \sum x_i^2: the index is the example index of the body (bound later)
            index, lower = IMPLICIT_INDEX, sp.Integer(1)
            if self.at_op("^"):
                raise self.error("\\sum with an upper limit needs a lower one: \\sum_{i=1}^I")
            return self.sum_body(index, lower, upper)
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
                self.i += 1
                where = self.expr()
                self.expect("}")
                body = self.term()
                return SetSum(body, index, where)
            elif self.at_op(">", "<") or self.at("cmd", "geq") or self.at("cmd", "ge"):
                raise NotCheckable("a sum with an open range (\\sum_{j \\geq 0}) cannot be checked as written")
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
        if self.at_op("^"):
            self.i += 1
            upper = self.script()
        elif lower != 1:
            raise self.error("a sum with a lower limit needs an upper limit ^{..}")
        return self.sum_body(index, lower, upper)

    def sum_body(self, index, lower, upper) -> sp.Expr:
        """The book's convention: a sum runs over the following terms that use its index."""
        self.enter()
        try:
            body = self.term()
            while self.at_op("+", "-") and index is not IMPLICIT_INDEX:
                start = self.i
                sign = -1 if self.next().value == "-" else 1
                try:
                    nxt = self.term()
                except ParseError:
                    self.i = start
                    break
                if index in getattr(nxt, "free_symbols", set()):
                    body = _add(body, _mul(sign, nxt))
                else:
                    self.i = start
                    break
        finally:
            self.leave()
        if index is IMPLICIT_INDEX and isinstance(body, sp.Basic):
            # \sum x_i^2: the sum runs over the index its body uses
            free = sorted((s for s in body.free_symbols if isinstance(s, sp.Symbol) and s.is_integer
                           and s.name not in ("I", "N", "M", "T", "K", "t")), key=lambda s: s.name)
            if len(free) == 1:
                index = free[0]
        if _is_matrix(body):
            return sp.ImmutableMatrix(body.rows, body.cols, [sp.Sum(x, (index, lower, upper)) for x in body])
        return sp.Sum(body, (index, lower, upper))

    def bold(self) -> sp.Expr:
        self.expect("{") if self.at_op("{") else None
        braced = self.toks[self.i - 1].kind == "op" and self.toks[self.i - 1].value == "{"
        t = self.next()
        letters = []
        if t.kind == "letter":
            letters.append(t.value)
            while braced and self.at("letter"):
                letters.append(self.next().value)
        elif t.kind == "cmd" and t.value in GREEK:
            letters.append(GREEK_ALIAS.get(t.value, t.value))
        elif t.kind == "num" and t.value == "1":
            return self.indicator()
        elif t.kind == "cmd" and t.value in DECORATIONS:
            value = self.decorated(DECORATIONS[t.value])
            if braced:
                self.expect("}")
            return value
        else:
            self.i -= 1
            raise self.error("\\mathbf{..} must contain a letter")
        if braced:
            self.expect("}")
        return self.identifier("".join(letters))

    def decorated(self, kind: str) -> sp.Expr:
        """\\hat{y} -> yhat, \\tilde{\\mathcal L} -> Ltilde, \\bar x -> xbar."""
        braced = self.at_op("{")
        if braced:
            self.i += 1
        t = self.next()
        if t.kind == "letter":
            name = t.value
        elif t.kind == "cmd" and t.value in GREEK:
            name = GREEK_ALIAS.get(t.value, t.value)
        elif t.kind == "cmd" and t.value in ("mathcal", "mathbf", "boldsymbol", "mathscr", "bm"):
            name = ""
            if self.at_op("{"):
                self.i += 1
                while self.at("letter"):
                    name += self.next().value
                self.expect("}")
            elif self.at("letter"):
                name = self.next().value
            if not name:
                raise self.error("expected a letter")
        else:
            self.i -= 1
            raise self.error("a decoration (\\hat, \\tilde, \\bar) must be on a letter")
        if braced:
            self.expect("}")
        return self.identifier(name + kind)

    def blackboard(self) -> sp.Expr:
        self.expect("{")
        t = self.next()
        self.expect("}")
        if (t.kind == "letter" and t.value in ("I", "1")) or (t.kind == "num" and t.value == "1"):
            return self.indicator()
        if t.kind == "letter" and t.value == "R":
            raise self.error("\\mathbb{R} is a set, not a value")
        if t.kind == "letter" and t.value == "E":
            raise NotCheckable("an expectation \\mathbb{E}[..] cannot be checked")
        raise self.error(f"unknown \\mathbb{{{t.value}}}")

    def indicator(self) -> sp.Expr:
        if self.at_op("_") and self.at("op", "{", offset=1):
            self.i += 1
            open_, close = "{", "}"
        else:
            open_ = self.peek().value if self.at_op("[", "(", "{") else None
            close = {"[": "]", "(": ")", "{": "}"}.get(open_)
        if open_ is None:
            raise self.error("the indicator \\mathbb{I} must be followed by [condition]")
        self.expect(open_)
        lhs = self.expr()
        rel = self.next()
        rel_name = rel.value if rel.kind == "op" else RELATIONS.get(rel.value, rel.value)
        rhs = self.expr()
        self.expect(close)
        if rel_name == ">":
            return sp.Heaviside(lhs - rhs, 0)
        if rel_name == "<":
            return sp.Heaviside(rhs - lhs, 0)
        if rel_name == ">=":
            return sp.Heaviside(lhs - rhs, 1)
        if rel_name == "<=":
            return sp.Heaviside(rhs - lhs, 1)
        raise self.error(f"unsupported condition {rel.value!r} in the indicator")

    def nabla(self) -> sp.Expr:
        """``\\nabla_{\\phi} L``, ``\\nabla^2_{w} J`` -> derivatives; ``\\nabla \\ell(\\Theta^{(t)})``,
        ``\\nabla l_t`` -> an opaque gradient value :class:`Grad`."""
        variable, order = None, 1
        for _ in range(2):
            if self.at_op("_"):
                self.i += 1
                variable = self.script_variable()
            elif self.at_op("^"):
                self.i += 1
                o = self.script()
                if not (isinstance(o, sp.Integer) and 1 <= int(o) <= 2):
                    raise self.error("\\nabla^n: n must be 1 or 2")
                order = int(o)
        if not self.starts_factor():
            raise self.error("\\nabla must be followed by what it differentiates, e.g. \\nabla_{\\phi} L")
        target = self.factor()
        if variable is None:
            if order != 1:
                raise self.error("\\nabla^2 needs the variable: \\nabla^2_{\\phi} L")
            return Grad(target)
        return sp.Derivative(target, *([variable] * order), evaluate=False)

    def script_variable(self):
        if self.at_op("{"):
            self.i += 1
            value = self.expr()
            self.expect("}")
        elif self.at("cmd") and self.peek().value in ("mathbf", "boldsymbol", "bm", "vec"):
            self.i += 1
            value = self.bold()
        else:
            value = self.script()
        if not isinstance(value, (sp.Symbol, sp.Indexed)):
            raise self.error(f"cannot differentiate with respect to {value}")
        return value

    def environment(self) -> sp.Expr:
        self.expect("{")
        name = ""
        while not self.at_op("}"):
            t = self.next()
            name += t.value
        self.expect("}")
        if name == "array":
            self.group_argument_raw()  # the column spec {cc}
        if name == "cases":
            return self.cases()
        if name not in ("bmatrix", "pmatrix", "matrix", "Bmatrix", "vmatrix", "array", "smallmatrix"):
            raise self.error(f"environment {name!r} is not supported inside an expression")
        rows = self.rows()
        self.end(name)
        widths = {len(r) for r in rows}
        if len(widths) != 1:
            raise self.error("matrix rows have different lengths")
        if not rows[0]:
            raise self.error("empty matrix")
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

    def rows(self) -> list[list]:
        rows: list[list] = [[]]
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
        return rows

    def end(self, name: str) -> None:
        self.next()
        self.expect("{")
        end = ""
        while not self.at_op("}"):
            end += self.next().value
        self.expect("}")
        if end != name:
            raise self.error(f"\\begin{{{name}}} closed by \\end{{{end}}}")

    def cases(self) -> sp.Expr:
        """``\\begin{cases} e_1 & cond_1 \\\\ e_2 & \\text{otherwise} \\end{cases}`` -> Piecewise."""
        pieces = []
        self.enter()
        try:
            while not self.at("cmd", "end"):
                value = self.expr()
                if self.at_op(","):
                    self.i += 1
                cond = sp.true
                if self.at_op("&"):
                    self.i += 1
                    cond = self.condition()
                pieces.append((value, cond))
                if self.at("rowsep"):
                    self.i += 1
                elif not self.at("cmd", "end"):
                    raise self.error("expected \\\\ or \\end in cases")
        finally:
            self.leave()
        self.end("cases")
        if not pieces:
            raise self.error("empty cases")
        return sp.Piecewise(*pieces)

    def condition(self):
        while self.at("text") and self.peek().value.strip() in TEXT_FILLERS - {"otherwise", "else"}:
            self.i += 1
        if self.at("text") and self.peek().value.strip() in ("otherwise", "else"):
            self.i += 1
            return sp.true
        if self.at("rowsep") or self.at("cmd", "end"):
            return sp.true
        lhs = self.expr()
        rel = self.next()
        op = rel.value if rel.kind == "op" else RELATIONS.get(rel.value, "")
        rhs = self.expr()
        while self.at_op(",") or self.at("text"):
            self.i += 1
        table = {">": sp.Gt, "<": sp.Lt, ">=": sp.Ge, "<=": sp.Le}
        if op not in table:
            raise self.error(f"unsupported condition {rel.value!r} in cases")
        return table[op](lhs, rhs)


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


def parse_expression(text: str, *, functions=frozenset({"f"}), vectors=frozenset()) -> sp.Expr:
    """Parse one LaTeX expression (no relation) into SymPy.

    ``functions``: names that take ``(..)`` arguments (``f(x)``); any letter takes ``[..]``.
    ``vectors``: names of vectors and matrices (products involving them keep their order).
    """
    tokens = tokenize(text)
    if not tokens:
        raise ParseError("empty expression")
    parser = _Parser(tokens, text, frozenset(functions), frozenset(vectors))
    try:
        value = parser.expr()
    except RecursionError:
        raise ParseError(f"expression nested too deeply (more than {MAX_DEPTH} levels)") from None
    if parser.peek() is not None:
        raise parser.error(f"unexpected {parser.peek().value!r}")
    return value


def split_relation(text: str) -> tuple[list[str], list[str]]:
    """Split at top-level relations (=, <, >, \\leq, \\geq, \\leftarrow, :=, \\approx, \\Rightarrow): (sides, ops)."""
    tokens = tokenize(text)  # validates characters; positions index into text
    sides, ops = [], []
    depth = 0
    start = 0
    env = 0
    for k, t in enumerate(tokens):
        if t.kind == "op" and t.value in "([{":
            depth += 1
        elif t.kind == "op" and t.value in ")]}":
            depth -= 1
            if depth < 0:
                raise ParseError(f"unbalanced {t.value!r} at position {t.pos} in '{_clip(text)}'")
        elif t.kind == "cmd" and t.value == "begin":
            env += 1
        elif t.kind == "cmd" and t.value == "end":
            env -= 1
        is_rel = (t.kind == "op" and t.value in ("=", "<", ">", ":=")) or (t.kind == "cmd" and t.value in RELATIONS)
        if is_rel and depth == 0 and env == 0:
            sides.append(text[start:t.pos])
            ops.append(RELATIONS.get(t.value, t.value) if t.kind == "cmd" else t.value)
            start = t.pos + (len(t.value) if t.kind == "op" else len(t.value) + 1)
    if depth != 0:
        raise ParseError(f"unbalanced brackets in '{_clip(text)}'")
    sides.append(text[start:])
    return sides, ops


def parse_relation(text: str, *, functions=frozenset({"f"}), vectors=frozenset()) -> tuple[list[sp.Expr], list[str]]:
    """Parse ``A = B = C`` into ([A, B, C], ['=', '='])."""
    sides, ops = split_relation(text)
    return [parse_expression(s, functions=functions, vectors=vectors) for s in sides], ops
