"""LaTeX -> one line of Unicode math for the terminal: ∂L/∂φ₀ = 2 Σᵢ₌₁ᴵ (φ₀ + φ₁xᵢ − yᵢ).

``losslab solve`` and ``losslab check`` print answers and claims with this;
``--json`` keeps LaTeX. The text is only tokenised and re-spelt, never
evaluated: a macro this module does not know is printed as its name, so
nothing a sheet writes is lost or run. Sub- and superscripts become Unicode
script characters when every character has one (xᵢ, φ₁, β²) and ``_(…)`` /
``^(…)`` otherwise; fractions become ``a/b`` with brackets where needed;
matrices ``[a, b; c, d]``.
"""

from __future__ import annotations

import re

__all__ = ["latex_to_unicode", "math_text_to_unicode", "prose_to_unicode"]

_GREEK = {
    "alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ", "epsilon": "ε", "varepsilon": "ε", "zeta": "ζ",
    "eta": "η", "theta": "θ", "vartheta": "ϑ", "iota": "ι", "kappa": "κ", "lambda": "λ", "mu": "μ", "nu": "ν",
    "xi": "ξ", "pi": "π", "rho": "ρ", "sigma": "σ", "tau": "τ", "upsilon": "υ", "phi": "φ", "varphi": "φ",
    "chi": "χ", "psi": "ψ", "omega": "ω", "Gamma": "Γ", "Delta": "Δ", "Theta": "Θ", "Lambda": "Λ", "Xi": "Ξ",
    "Pi": "Π", "Sigma": "Σ", "Phi": "Φ", "Psi": "Ψ", "Omega": "Ω",
}
_SYMBOLS = {
    "partial": "∂", "nabla": "∇", "sum": "Σ", "prod": "∏", "int": "∫", "infty": "∞", "cdot": "·", "times": "×",
    "leq": "≤", "le": "≤", "geq": "≥", "ge": "≥", "neq": "≠", "ne": "≠", "approx": "≈", "equiv": "≡", "in": "∈",
    "to": "→", "rightarrow": "→", "leftarrow": "←", "Rightarrow": "⇒", "mapsto": "↦", "pm": "±", "mp": "∓",
    "ldots": "…", "dots": "…", "cdots": "⋯", "vdots": "⋮", "propto": "∝", "top": "ᵀ", "prime": "′",
    "lvert": "|", "rvert": "|", "vert": "|", "lVert": "‖", "rVert": "‖", "Vert": "‖", "mid": "|",
    "langle": "⟨", "rangle": "⟩", "lbrace": "{", "rbrace": "}", "{": "{", "}": "}", "|": "‖",
    "quad": "  ", "qquad": "    ", ",": " ", ";": " ", ":": " ", "!": "", " ": " ", "\\": "; ",
    "log": "log", "ln": "ln", "exp": "exp", "sin": "sin", "cos": "cos", "tan": "tan", "max": "max", "min": "min",
    "det": "det", "tr": "tr", "arg": "arg", "lim": "lim", "Pr": "Pr",
}
_BINARY = {"cdot", "times", "pm", "mp"}
_RELATIONS = {"leq", "le", "geq", "ge", "neq", "ne", "approx", "equiv", "in", "to", "rightarrow", "leftarrow",
              "Rightarrow", "mapsto", "propto"}
_DROPPED = {"left", "right", "big", "Big", "bigg", "Bigg", "bigl", "bigr", "Bigl", "Bigr", "biggl", "biggr",
            "displaystyle", "textstyle", "limits", "nolimits"}
_TEXT = {"text", "mathrm", "operatorname", "textrm", "textit", "mathit", "textbf", "mbox"}
_SUP = dict(zip("0123456789+-=()abcdefghijklmnoprstuvwxyzABDEGHIJKLMNOPRTUVWβγδθιφχ",
                "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁼⁽⁾ᵃᵇᶜᵈᵉᶠᵍʰⁱʲᵏˡᵐⁿᵒᵖʳˢᵗᵘᵛʷˣʸᶻᴬᴮᴰᴱᴳᴴᴵᴶᴷᴸᴹᴺᴼᴾᴿᵀᵁⱽᵂᵝᵞᵟᶿᶥᵠᵡ"))
_SUB = dict(zip("0123456789+-=()aehijklmnoprstuvxβγρφχ", "₀₁₂₃₄₅₆₇₈₉₊₋₌₍₎ₐₑₕᵢⱼₖₗₘₙₒₚᵣₛₜᵤᵥₓᵦᵧᵨᵩᵪ"))
_SUP["T"] = "ᵀ"
_SUP["−"] = "⁻"
_SUB["−"] = "₋"
_SUP["*"] = "*"
_SUP["′"] = "′"




def _styled(base: int, letters: str, text: str) -> str:
    out = []
    for ch in text:
        k = letters.find(ch)
        out.append(chr(base + k) if k >= 0 else ch)
    return "".join(out)


_LATIN = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
# double-struck capitals with their own older code points (ℂ ℍ ℕ ℙ ℚ ℝ ℤ)
_BB_HOLES = {"C": "ℂ", "H": "ℍ", "N": "ℕ", "P": "ℙ", "Q": "ℚ", "R": "ℝ", "Z": "ℤ"}


def _blackboard(text: str) -> str:
    return "".join(_BB_HOLES.get(ch) or (_styled(0x1D538, _LATIN, ch) if ch in _LATIN else ch) for ch in text)


def _bold(text: str) -> str:
    return _styled(0x1D400, _LATIN, text)


_TOKEN = re.compile(r"\\([A-Za-z]+)\s*|\\(.)|(\s+)|(.)", re.DOTALL)


def _tokens(text: str) -> list[tuple[str, str]]:
    out = []
    for m in _TOKEN.finditer(text):
        if m.group(1) is not None:
            out.append(("cmd", m.group(1)))
        elif m.group(2) is not None:
            out.append(("cmd", m.group(2)))
        elif m.group(3) is not None:
            out.append(("space", " "))
        else:
            out.append(("char", m.group(4)))
    return out


class _Reader:
    def __init__(self, tokens: list[tuple[str, str]]):
        self.tokens = tokens
        self.pos = 0

    def peek(self):
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self):
        tok = self.peek()
        self.pos += 1
        return tok

    def skip_space(self) -> None:
        while self.peek() == ("space", " "):
            self.pos += 1

    def group_tokens(self) -> list[tuple[str, str]]:
        """The tokens of the next argument: a {braced group} or one token."""
        self.skip_space()
        tok = self.take()
        if tok is None:
            return []
        if tok != ("char", "{"):
            return [tok]
        depth, out = 1, []
        while (tok := self.take()) is not None:
            if tok == ("char", "{"):
                depth += 1
            elif tok == ("char", "}"):
                depth -= 1
                if depth == 0:
                    break
            out.append(tok)
        return out

    def until_end(self, env: str) -> list[tuple[str, str]]:
        out, depth = [], 0
        while (tok := self.take()) is not None:
            if tok == ("cmd", "begin"):
                depth += 1
            if tok == ("cmd", "end"):
                if depth == 0:
                    self.group_tokens()
                    break
                depth -= 1
            out.append(tok)
        return out


def _convert(tokens: list[tuple[str, str]]) -> str:
    reader = _Reader(tokens)
    out: list[str] = []
    while (tok := reader.take()) is not None:
        kind, value = tok
        if kind == "space":
            if out and not out[-1].endswith(" "):
                out.append(" ")
        elif kind == "char":
            if value in "{}":
                continue
            if value in "^_":
                out.append(_script(value, _convert(reader.group_tokens())))
            elif value == "-":
                out.append("−")
            elif value == "~":
                out.append(" ")
            elif value == "&":
                out.append(", ")
            else:
                out.append(value)
        else:
            out.append(_command(value, reader))
    return "".join(out)


def _command(name: str, reader: _Reader) -> str:
    if name in _DROPPED:
        return ""
    if name in _GREEK:
        return _GREEK[name]
    if name in _SYMBOLS:
        return f" {_SYMBOLS[name]} " if name in _RELATIONS | _BINARY else _SYMBOLS[name]
    if name in ("frac", "tfrac", "dfrac"):
        num = _tidy(_convert(reader.group_tokens()))
        den = _tidy(_convert(reader.group_tokens()))
        return f"{_wrap(num)}/{_wrap(den)}"
    if name == "sqrt":
        return "√" + _wrap(_convert(reader.group_tokens()).strip(), always=True)
    if name in _TEXT:
        return "".join(v for _, v in reader.group_tokens())
    if name == "mathbb":
        return _blackboard(_convert(reader.group_tokens()))
    if name in ("mathbf", "boldsymbol", "bm", "mathbfit"):
        return _bold(_convert(reader.group_tokens()))
    if name in ("hat", "bar", "tilde", "vec", "dot"):
        mark = {"hat": "\u0302", "bar": "\u0304", "tilde": "\u0303", "vec": "\u20d7", "dot": "\u0307"}[name]
        return _convert(reader.group_tokens()) + mark
    if name == "begin":
        env = "".join(v for _, v in reader.group_tokens())
        body = reader.until_end(env)
        return _environment(env, body)
    return name  # an unknown macro: its name, so nothing is silently lost


def _environment(env: str, body: list[tuple[str, str]]) -> str:
    rows, row, cell = [], [], []
    for tok in body + [("cmd", "\\")]:
        if tok == ("char", "&"):
            row.append(_convert(cell).strip())
            cell = []
        elif tok == ("cmd", "\\"):
            row.append(_convert(cell).strip())
            cell = []
            if any(row):
                rows.append(row)
            row = []
        else:
            cell.append(tok)
    inner = "; ".join(", ".join(r) for r in rows)
    if env.startswith("p"):
        return f"({inner})"
    if env.startswith("v"):
        return f"|{inner}|"
    if env in ("cases", "aligned", "align", "align*", "gathered"):
        return "{ " + inner + " }" if env == "cases" else inner
    return f"[{inner}]"


def _script(kind: str, text: str) -> str:
    text = text.strip()
    table = _SUP if kind == "^" else _SUB
    if text and all(ch in table for ch in text):
        return "".join(table[ch] for ch in text)
    if len(text) == 1:
        return kind + text
    return f"{kind}({text})"


_SIMPLE = re.compile(r"^[\w′.ᵀ⁰¹²³⁴⁵⁶⁷⁸⁹₀₁₂₃₄₅₆₇₈₉ᵢⱼₖₜ∂∇]+$")


def _wrap(text: str, *, always: bool = False) -> str:
    if not always and _SIMPLE.match(text):
        return text
    if text.startswith("(") and text.endswith(")") and text.count("(") == 1:
        return text
    return f"({text})"


def _tidy(text: str) -> str:
    """Collapse spaces; none after an opening bracket, before a closing one, or inside ∂²L."""
    text = re.sub(r"\s+", " ", text).strip()
    text = re.sub(r"([(\[{]) ", r"\1", text)
    text = re.sub(r" ([,;)\]}])", r"\1", text)
    return re.sub(r"(∂[²³⁴]?) (?=\w)", r"\1", text)


def latex_to_unicode(latex: str) -> str:
    """One formula in Unicode on one line; whitespace collapsed."""
    if not isinstance(latex, str):
        raise TypeError(f"The 'latex' parameter of latex_to_unicode must be a string. Got {type(latex).__name__} instead.")
    return _tidy(_convert(_tokens(latex)))


_DOLLARS = re.compile(r"\$\$(.+?)\$\$|(?<![\\$])\$(?!\$)(.+?)(?<!\\)\$", re.DOTALL)


def math_text_to_unicode(text: str) -> str:
    """Prose with ``$...$`` / ``$$...$$`` math: the math in Unicode, the prose as written."""
    return _DOLLARS.sub(lambda m: latex_to_unicode(m.group(1) or m.group(2)), text)


def prose_to_unicode(text: str) -> str:
    """A checker's reason: ``$...$`` math, bracketed bare LaTeX ("step 2 (\\sum_i x_i = 0) is wrong") and any other
    bare macro ("the \\sum is missing") in Unicode."""
    from .mathml import quote_bare_latex

    # quote_bare_latex marks a lone macro as `code` for the HTML faces; a terminal has no code style: Unicode too
    return _QUOTED_MACRO.sub(lambda m: latex_to_unicode(m.group(1)), math_text_to_unicode(quote_bare_latex(text)))


_QUOTED_MACRO = re.compile(r"`(\\[A-Za-z][^`]*)`")
