"""Reading a solution sheet in any container into one uniform document.

A sheet arrives as Markdown, plain text with ``$..$``, a LaTeX document or a
Jupyter notebook. Each container is read by a real parser (markdown-it-py with
mdit-py-plugins' math rules, pylatexenc's LatexWalker, nbformat) and turned into
the same :class:`Document`: sections under problem headings, holding prose
paragraphs and math rows in document order, every item with its line (and
notebook cell). The math itself is left as LaTeX text: this layer only splits
displays into equation rows (``align`` rows, ``\\\\`` breaks), drops alignment
``&`` and equation labels, and records which rows continue a chain. Judging the
math is the checker's business.
"""

from __future__ import annotations

import json
import re
import warnings
from dataclasses import dataclass, field
from pathlib import PurePath

from ..errors import LosslabError

__all__ = ["FORMATS", "MAX_BYTES", "MAX_ROWS", "Document", "Math", "Prose", "Section", "read_document"]

MAX_BYTES = 1_000_000
# pylatexenc walks LaTeX one character at a time (about 25 us each): a tighter bound keeps a .tex read within seconds
MAX_LATEX_BYTES = 200_000
MAX_ROWS = 2000
CONTEXT_CHARS = 300
FORMATS = ("markdown", "latex", "notebook", "text")


@dataclass(frozen=True)
class Math:
    """One equation row (or one inline formula) with where it stands and what precedes it."""

    latex: str
    line: int
    cell: int | None
    display: bool
    label: str | None
    continues: bool
    display_id: int
    context: str

    def __repr__(self) -> str:
        where = f"cell {self.cell}, line {self.line}" if self.cell is not None else f"line {self.line}"
        kind = "display" if self.display else "inline"
        return f"Math({where}, {kind}#{self.display_id}{', continues' if self.continues else ''}: {self.latex[:50]!r})"


@dataclass(frozen=True)
class Prose:
    """A paragraph of prose; inline math kept as ``$..$``."""

    text: str
    line: int
    cell: int | None

    def __repr__(self) -> str:
        where = f"cell {self.cell}, line {self.line}" if self.cell is not None else f"line {self.line}"
        return f"Prose({where}: {self.text[:50]!r})"


@dataclass
class Section:
    """The items under one problem heading (problem None before the first one)."""

    problem: str | None
    part: str | None
    title: str
    line: int
    cell: int | None
    items: list = field(default_factory=list)

    def __repr__(self) -> str:
        name = self.problem or "(no problem)"
        if self.part:
            name += f" ({self.part})"
        n_math = sum(isinstance(i, Math) for i in self.items)
        return f"Section({name}, line {self.line}, {n_math} math, {len(self.items) - n_math} prose)"

    @property
    def math(self) -> list[Math]:
        return [i for i in self.items if isinstance(i, Math)]


@dataclass
class Document:
    """A sheet read from any container: its format and its sections in order."""

    format: str
    sections: list[Section]

    def __repr__(self) -> str:
        n_math = sum(len(s.math) for s in self.sections)
        return f"Document({self.format}, {len(self.sections)} sections, {n_math} math items)"

    def math(self) -> list[tuple[Section, Math]]:
        """Every math item with its section, in document order."""
        return [(s, m) for s in self.sections for m in s.items if isinstance(m, Math)]


# ---------------------------------------------------------------- problem headings

_KEYWORD = (
    r"(?:problem|exercise|question|task|exercice|aufgabe|übung|esercizio|problema|ejercicio|"
    r"задача|упражнение|задание|вопрос)"
)
_PART = r"(?:\s*\(\s*([a-z]|[ivx]{1,5})\s*\)|\s*([a-z]|[ivx]{1,5})\)|([a-z])(?![A-Za-z]))?"
_NAMED = re.compile(rf"^\s*(?:{_KEYWORD}\.?\s*(?:no\.?\s*|#\s*)?|q\.?\s*)(\d+(?:\.\d+)*){_PART}(?![\d.]\d)", re.IGNORECASE)
_BARE = re.compile(rf"^\s*(\d+\.\d+){_PART}(?![\d.]\d)", re.IGNORECASE)
_TRAIL_OK = re.compile(r"^[\s:.)\-–—]*$")


def problem_of_heading(title: str, *, whole_line: bool = False) -> tuple[str, str | None] | None:
    """(problem, part) named by a heading's text, or None when it names no problem.

    ``whole_line`` (bold lines) accepts a bare number only when nothing but
    punctuation follows it, so that a bold "6.3 is easy" stays prose.
    """
    text = title.strip().strip("*_").strip()
    m = _NAMED.match(text)
    if m is None:
        m = _BARE.match(text)
        if m is None:
            return None
        rest = text[m.end():]
        if whole_line and not _TRAIL_OK.match(rest):
            return None
        if not whole_line and rest and not (rest[0].isspace() or rest[0] in ":.)–—-"):
            return None
    part = next((g for g in m.groups()[1:] if g), None)
    return m.group(1), part.lower() if part else None


# ---------------------------------------------------------------- math rows

_ALIGN_ENVS = frozenset(
    name + star
    for name in ("align", "aligned", "alignat", "alignedat", "equation", "gather", "gathered", "split",
                 "eqnarray", "multline", "flalign", "displaymath", "math", "dmath")
    for star in ("", "*")
)
_MATH_TOKEN = re.compile(
    r"\\\\\*?(?:\s*\[[^\]\n]{0,30}\])?"  # row break, with its optional spacing
    r"|\\begin\s*\{([^{}]{0,40})\}"
    r"|\\end\s*\{([^{}]{0,40})\}"
    r"|\\[A-Za-z]+|\\.|[{}&\n]",
    re.DOTALL,
)
_ENV_OPTION = re.compile(r"\s*(?:\[[a-z]{1,3}\]|\{\d{1,2}\})")
_RELATION_START = re.compile(
    r"^(?:\\(?:quad|qquad|[,;:! ])|~|\s)*"
    r"(?::=|=:|=|<|>|\\(?:leq?|geq?|leqslant|geqslant|lt|gt|approx|leftarrow|gets|longleftarrow|neq?|equiv|"
    r"coloneqq|eqqcolon|triangleq|doteq|simeq|propto)(?![A-Za-z]))"
)
_RELATION_TOKEN = re.compile(
    r":=|=|<|>|\\(?:leq?|geq?|leqslant|geqslant|lt|gt|approx|leftarrow|gets|longleftarrow|neq?|equiv|"
    r"coloneqq|eqqcolon|triangleq|doteq|simeq|propto)(?![A-Za-z])"
    r"|\\[A-Za-z]+|\\.|[{}()\[\]]"
)
_TAG = re.compile(r"\\tag\*?\s*\{([^{}]{0,40})\}")
_DROP = re.compile(r"\\label\s*\{[^{}]{0,200}\}|\\nonumber(?![A-Za-z])|\\notag(?![A-Za-z])")
_TRAILING_LABEL = re.compile(r"(?:\\q?quad|\\hfill|\s)\s*\(\s*(\d+(?:\.\d+)+)\s*\)\s*$")
_TRAILING_JUNK = re.compile(r"(?:\s|[.,;]|\\[,;:! ]|\\q?quad(?![A-Za-z])|~)+$")


def _has_relation(row: str) -> bool:
    """A relation outside braces, brackets and parentheses (so not ``\\sum_{i=1}`` nor ``\\mathbb{1}[z > 0]``)."""
    depth = 0
    for m in _RELATION_TOKEN.finditer(row):
        tok = m.group(0)
        if tok in "{([":
            depth += 1
        elif tok in "})]":
            depth = max(depth - 1, 0)
        elif depth == 0 and (tok[0] != "\\" or _RELATION_START.match(tok)):
            return True
    return False


def _clean_row(row: str) -> tuple[str, str | None]:
    """The row without labels, \\tag, \\label, trailing punctuation; and its label."""
    label = None
    m = _TAG.search(row)
    if m:
        label = m.group(1).strip() or None
        row = row[: m.start()] + " " + row[m.end():]
    row = _DROP.sub(" ", row)
    row = _TRAILING_JUNK.sub("", row)
    m = _TRAILING_LABEL.search(row)
    if m and m.start() > 0:
        label = label or m.group(1)
        row = row[: m.start()]
    row = _TRAILING_JUNK.sub("", row)
    row = re.sub(r"\\(right|left)\s*$", r"\\\1.", row)  # the '.' of \right. is a delimiter, not punctuation
    return row.strip(), label


def _split_rows(body: str) -> list[tuple[str, int]]:
    """Rows of a display at top-level ``\\\\`` (not inside matrices, cases, braces), top-level ``&`` dropped,
    align-like ``\\begin``/``\\end`` removed. Each row with its newline offset from the start of ``body``."""
    rows: list[tuple[str, int]] = []
    pieces: list[str] = []
    envs: list[str] = []  # open non-align environments (matrices, cases, arrays)
    braces = 0
    newlines = 0
    row_start = 0  # newline offset where the current row started
    pos = 0
    for m in _MATH_TOKEN.finditer(body):
        tok = m.group(0)
        if tok == "\n":
            newlines += 1
            continue
        inside = bool(envs) or braces > 0
        if tok.startswith("\\\\") and len(tok) >= 2 and (len(tok) == 2 or tok[2] in "*[ \t\n"):
            newlines += tok.count("\n")
            if not inside:
                pieces.append(body[pos : m.start()])
                rows.append(("".join(pieces), row_start))
                pieces, pos, row_start = [], m.end(), newlines
            continue
        begin, end = m.group(1), m.group(2)
        if begin is not None:
            name = begin.strip()
            if name in _ALIGN_ENVS and not inside:
                pieces.append(body[pos : m.start()] + " ")
                opt = _ENV_OPTION.match(body, m.end())
                pos = opt.end() if opt else m.end()
            else:
                envs.append(name)
            continue
        if end is not None:
            name = end.strip()
            if envs and envs[-1] == name:
                envs.pop()
            elif name in _ALIGN_ENVS and not envs:
                pieces.append(body[pos : m.start()] + " ")
                pos = m.end()
            elif envs:
                envs.pop()
            continue
        if tok == "{":
            braces += 1
        elif tok == "}":
            braces = max(braces - 1, 0)
        elif tok == "&" and not inside:
            pieces.append(body[pos : m.start()] + " ")
            pos = m.end()
    pieces.append(body[pos:])
    rows.append(("".join(pieces), row_start))
    return rows


def _first_line_offset(text: str) -> int:
    """Newlines before the first non-blank character of ``text``."""
    stripped = text.lstrip()
    return text[: len(text) - len(stripped)].count("\n")


# ---------------------------------------------------------------- building the document


class _Builder:
    """Collects sections and items while a reader walks its container."""

    def __init__(self, fmt: str) -> None:
        self.format = fmt
        self.sections = [Section(None, None, "", 1, None)]
        self.rows = 0
        self.displays = 0
        self.cell: int | None = None
        self.last_prose: str | None = None  # prose directly before the next display, if adjacent

    # where the container's reader has got to
    def start_cell(self, cell: int) -> None:
        self.cell = cell
        self.last_prose = None

    def _count(self, n: int = 1) -> None:
        self.rows += n
        if self.rows > MAX_ROWS:
            raise LosslabError(
                f"The sheet has too many math rows: at most {MAX_ROWS} equations and inline formulas in all. "
                f"Got more than {MAX_ROWS} instead."
            )

    def heading(self, title: str, line: int, *, whole_line: bool = False) -> bool:
        """Start a new section if ``title`` names a problem; else keep it as prose. True if it did."""
        title = " ".join(title.split())
        named = problem_of_heading(title, whole_line=whole_line)
        if named is None:
            if title:
                self.prose(title, line)
            return False
        problem, part = named
        self.sections.append(Section(problem, part, title, line, self.cell))
        self.last_prose = None
        return True

    def prose(self, text: str, line: int) -> None:
        text = text.strip()
        if text:
            self.sections[-1].items.append(Prose(text, line, self.cell))
            self.last_prose = text

    def interrupt(self) -> None:
        """Something that is neither prose nor math (a code block) stands between."""
        self.last_prose = None

    def inline(self, latex: str, line: int, context: str) -> None:
        self._count()
        row, label = _clean_row(latex)
        if not row:
            return
        self.displays += 1
        self.sections[-1].items.append(
            Math(row, line, self.cell, False, label, False, self.displays, context[-CONTEXT_CHARS:].strip())
        )

    def display(self, body: str, line: int, *, label: str | None = None, context: str | None = None) -> None:
        """The rows of one display whose ``body`` (between its delimiters) starts on ``line``."""
        if context is None:
            context = self.last_prose or ""
        context = context[-CONTEXT_CHARS:].strip()
        self.displays += 1
        out: list[list] = []  # [latex, line, label, continues]
        for raw, offset in _split_rows(body):
            if not raw.strip():
                continue
            self._count()
            row, row_label = _clean_row(raw)
            if not row:
                continue
            row_line = line + offset + _first_line_offset(raw)
            begins = bool(_RELATION_START.match(row))
            if out and not begins and not _has_relation(row):
                out[-1][0] += " " + row
                out[-1][2] = out[-1][2] or row_label
                continue
            out.append([row, row_line, row_label, begins and bool(out)])
        if label and out and not out[-1][2]:
            out[-1][2] = label
        for row, row_line, row_label, continues in out:
            self.sections[-1].items.append(
                Math(row, row_line, self.cell, True, row_label, continues, self.displays, context)
            )
        self.last_prose = None

    def document(self) -> Document:
        sections = [s for k, s in enumerate(self.sections) if k > 0 or s.items]
        return Document(self.format, sections)


class _Paragraph:
    """Prose of one paragraph being assembled, with its pending inline formulas."""

    def __init__(self, builder: _Builder, line: int) -> None:
        self.b = builder
        self.parts: list[str] = []
        self.line = line
        self.started: int | None = None
        self.inlines: list[tuple[str, int, str]] = []

    def text(self, s: str, line: int) -> None:
        if self.started is None and s.strip():
            self.started = line
        self.parts.append(s)

    def math(self, latex: str, line: int) -> None:
        if self.started is None:
            self.started = line
        self.inlines.append((latex, line, "".join(self.parts)))
        self.parts.append(f"${latex}$")

    def so_far(self) -> str:
        return "".join(self.parts).strip()

    def flush(self) -> None:
        text = "".join(self.parts)
        if text.strip():
            self.b.prose(text, self.started or self.line)
        for latex, line, context in self.inlines:
            self.b.inline(latex, line, context)
        if text.strip():
            self.b.last_prose = text.strip()
        self.parts, self.inlines, self.started = [], [], None


# ---------------------------------------------------------------- Markdown and plain text


def _bracket_block(state, begLine: int, endLine: int, silent: bool) -> bool:
    """Block rule for ``\\[ .. \\]`` displays (dollarmath reads only ``$$``)."""
    start = state.bMarks[begLine] + state.tShift[begLine]
    if state.sCount[begLine] - state.blkIndent >= 4 or not state.src.startswith("\\[", start):
        return False
    line = begLine
    close = state.src.find("\\]", start + 2, state.eMarks[line])
    while close < 0:
        line += 1
        if line >= endLine:
            raise LosslabError(f"Display math opened with \\[ at line {begLine + 1} is never closed (no \\]).")
        close = state.src.find("\\]", state.bMarks[line], state.eMarks[line])
    if not silent:
        token = state.push("math_block_bracket", "math", 0)
        token.block = True
        token.content = state.src[start + 2 : close]
        token.map = [begLine, line + 1]
        token.markup = "\\["
    state.line = line + 1
    return True


def _paren_inline(state, silent: bool) -> bool:
    """Inline rules for ``\\( .. \\)`` and for a ``\\[ .. \\]`` display inside a paragraph."""
    src, pos = state.src, state.pos
    if src.startswith("\\(", pos):
        close, kind = src.find("\\)", pos + 2), "math_inline"
    elif src.startswith("\\[", pos):
        close, kind = src.find("\\]", pos + 2), "math_inline_double"
    else:
        return False
    if close < 0:
        return False
    if not silent:
        token = state.push(kind, "math", 0)
        token.content = src[pos + 2 : close]
        token.markup = src[pos : pos + 2]
    state.pos = close + 2
    return True


_PARSERS: dict[str, object] = {}


def _markdown_parser(plain: bool):
    key = "text" if plain else "markdown"
    if key not in _PARSERS:
        from markdown_it import MarkdownIt
        from mdit_py_plugins.amsmath import amsmath_plugin
        from mdit_py_plugins.dollarmath import dollarmath_plugin

        md = MarkdownIt("commonmark").enable("table")
        md.use(dollarmath_plugin, allow_space=True, allow_digits=True, double_inline=True)
        md.use(amsmath_plugin)
        md.block.ruler.before("fence", "math_block_bracket", _bracket_block)
        md.inline.ruler.before("escape", "math_inline_paren", _paren_inline)
        if plain:
            # plain text: indentation and angle brackets are prose, not code or HTML
            md.disable(["code", "html_block", "html_inline"])
        _PARSERS[key] = md
    return _PARSERS[key]


_UNCLOSED_ENV = re.compile(r"\s*\\begin\{([a-z]+\*?)\}")
_DISPLAY_TOKENS = {"math_block", "math_block_label", "math_block_eqno", "math_block_bracket"}


def _read_markdown(text: str, b: _Builder, *, plain: bool) -> None:
    tokens = _markdown_parser(plain).parse(text)
    k = 0
    while k < len(tokens):
        tok = tokens[k]
        if tok.type == "heading_open":
            inline = tokens[k + 1]
            line = tok.map[0] + 1 if tok.map else 1
            title = "".join(
                c.content if c.type in ("text", "code_inline") else f"${c.content}$" if c.type.startswith("math_inline") else ""
                for c in inline.children or []
            )
            b.heading(title, line)
            # math in a heading (a definition set as a title) still counts
            for c in inline.children or []:
                if c.type.startswith("math_inline"):
                    b.inline(c.content, line, "")
            k += 3
            continue
        if tok.type == "inline":
            _read_inline(tok, b)
        elif tok.type in _DISPLAY_TOKENS or tok.type == "amsmath":
            start = tok.map[0] + 1 if tok.map else 1
            label = tok.info if tok.type in ("math_block_label", "math_block_eqno") else None
            b.display(tok.content, start, label=label or None)
        elif tok.type in ("fence", "code_block", "html_block", "hr"):
            b.interrupt()
        k += 1


def _read_inline(tok, b: _Builder) -> None:
    """A paragraph (or list item, table cell, quote): prose, inline math, bold problem lines."""
    line = (tok.map[0] + 1) if tok.map else 1
    para = _Paragraph(b, line)
    children = tok.children or []
    at_line_start = True
    k = 0
    while k < len(children):
        c = children[k]
        if at_line_start:
            heading = _bold_line(children, k) or _plain_line(children, k)
            if heading is not None:
                title, next_k, whole_line = heading
                if problem_of_heading(title, whole_line=whole_line) is not None:
                    para.flush()
                    b.heading(title, line, whole_line=whole_line)
                    k = next_k
                    at_line_start = False
                    continue
        if c.type == "text":
            if c.content.startswith("$$") and at_line_start:
                raise LosslabError(f"Display math opened with $$ at line {line} is never closed (no closing $$).")
            opened = _UNCLOSED_ENV.match(c.content) if at_line_start else None
            if opened and opened.group(1) in _ALIGN_ENVS:
                raise LosslabError(
                    f"Display math opened with \\begin{{{opened.group(1)}}} at line {line} is never closed "
                    f"(no \\end{{{opened.group(1)}}})."
                )
            if c.content.strip():
                at_line_start = False
            para.text(c.content, line)
        elif c.type in ("softbreak", "hardbreak"):
            para.text("\n", line)
            line += 1
            at_line_start = True
        elif c.type == "math_inline":
            para.math(c.content, line)
            line += c.content.count("\n")
            at_line_start = False
        elif c.type == "math_inline_double":
            context = para.so_far()
            para.flush()
            b.display(c.content, line, context=context)
            line += c.content.count("\n")
            at_line_start = False
        elif c.type == "code_inline":
            para.text(f"`{c.content}`", line)
            line += c.content.count("\n")
            at_line_start = False
        elif c.type == "image":
            para.text(c.content, line)
        k += 1
    para.flush()


def _plain_line(children, k: int) -> tuple[str, int, bool] | None:
    """A line of plain text alone (``Q6.4``, ``Problem 6.3.``): a heading candidate when it names a problem."""
    j = k
    parts = []
    while j < len(children) and children[j].type not in ("softbreak", "hardbreak"):
        if children[j].type != "text":
            return None
        parts.append(children[j].content)
        j += 1
    title = "".join(parts)
    if len(title) > 40:
        return None
    return title, j, True


def _bold_line(children, k: int) -> tuple[str, int, bool] | None:
    """If a bold run starts at children[k] (at a line start): its text, the index after it, and
    whether nothing but punctuation follows it on its line."""
    j = k
    while j < len(children) and children[j].type == "text" and not children[j].content.strip():
        j += 1
    if j >= len(children) or children[j].type != "strong_open":
        return None
    parts = []
    j += 1
    while j < len(children) and children[j].type != "strong_close":
        c = children[j]
        if c.type in ("softbreak", "hardbreak"):
            return None
        parts.append(f"${c.content}$" if c.type.startswith("math_inline") else c.content)
        j += 1
    if j >= len(children):
        return None
    j += 1
    rest = []
    while j < len(children) and children[j].type not in ("softbreak", "hardbreak"):
        rest.append(children[j].content if children[j].type == "text" else "x")
        j += 1
    whole = bool(_TRAIL_OK.match("".join(rest)))
    return "".join(parts), (j if whole else j - len(rest)), whole


# ---------------------------------------------------------------- LaTeX

_LATEX: dict[str, object] = {}
_SECTIONING = {"part", "chapter", "section", "subsection", "subsubsection", "paragraph", "subparagraph"}
_SKIP_ENVS = {"verbatim", "verbatim*", "lstlisting", "minted", "comment", "Verbatim", "filecontents", "tikzpicture"}
_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n")


def _latex_context():
    if "db" not in _LATEX:
        from pylatexenc import latexwalker, macrospec

        class _RawBody(macrospec.MacroStandardArgsParser):
            """Takes a math environment's body as raw text up to its \\end, as amsmath itself does:
            rows are split here, and a 10,000-row align costs one string search, not a parse."""

            def __init__(self, name: str) -> None:
                super().__init__(argspec="")
                self.name = name

            def parse_args(self, w, pos, parsing_state=None):
                end = w.s.find(r"\end{" + self.name + "}", pos)
                if end < 0:
                    raise latexwalker.LatexWalkerParseError(
                        s=w.s, pos=pos, msg=f"\\begin{{{self.name}}} is never closed (no \\end{{{self.name}}})"
                    )
                node = w.make_node(latexwalker.LatexCharsNode, parsing_state=parsing_state,
                                   chars=w.s[pos:end], pos=pos, len=end - pos)
                return macrospec.ParsedVerbatimArgs(verbatim_chars_node=node), pos, end - pos

        # no "specials" (quotes, dashes, ~): they mean nothing here and are tested at every character
        db = latexwalker.get_default_latex_context_db().filter_context(keep_which=["macros", "environments"])
        skip = [macrospec.EnvironmentSpec(n, args_parser=_RawBody(n)) for n in _SKIP_ENVS]
        maths = [macrospec.EnvironmentSpec(n, args_parser=_RawBody(n), is_math_mode=True) for n in _ALIGN_ENVS]
        db.add_context_category("losslab-raw", environments=maths + skip, prepend=True)
        _LATEX["db"] = db
    return _LATEX["db"]


def _read_latex(text: str, b: _Builder) -> None:
    from pylatexenc import latexwalker
    from pylatexenc.latex2text import LatexNodes2Text

    walker = latexwalker.LatexWalker(text, latex_context=_latex_context(), tolerant_parsing=False)
    try:
        nodes, _, _ = walker.get_latex_nodes()
    except latexwalker.LatexWalkerParseError as err:
        opened = [c for c in (getattr(err, "open_contexts", None) or []) if c]
        where = f" (opened at line {opened[-1][2]})" if opened and len(opened[-1]) > 2 and opened[-1][2] else ""
        raise LosslabError(
            f"The LaTeX sheet cannot be read: {err.msg} at line {err.lineno}{where}."
        ) from None
    except RecursionError:
        raise LosslabError("The LaTeX sheet cannot be read: it is nested too deeply.") from None
    to_text = LatexNodes2Text(math_mode="with-delimiters", strict_latex_spaces=True)

    def line_of(pos: int) -> int:
        return walker.pos_to_lineno_colno(pos)[0]

    para = _Paragraph(b, 1)

    def walk(nodelist) -> None:
        nonlocal para
        for node in nodelist or []:
            if node is None:
                continue
            if node.isNodeType(latexwalker.LatexCharsNode):
                chunks = _PARAGRAPH_BREAK.split(node.chars)
                offset = node.pos
                for n, chunk in enumerate(chunks):
                    if n > 0:
                        para.flush()
                        offset = text.find(chunk, offset) if chunk else offset
                    lead = len(chunk) - len(chunk.lstrip())
                    para.text(chunk, line_of(offset + lead))
                    offset += len(chunk)
            elif node.isNodeType(latexwalker.LatexCommentNode):
                continue
            elif node.isNodeType(latexwalker.LatexMathNode):
                open_d, close_d = node.delimiters
                body = text[node.pos + len(open_d) : node.pos + node.len - len(close_d)]
                if node.displaytype == "inline":
                    para.math(body, line_of(node.pos))
                else:
                    context = para.so_far()
                    para.flush()
                    b.display(body, line_of(node.pos + len(open_d)), context=context)
            elif node.isNodeType(latexwalker.LatexEnvironmentNode):
                name = node.environmentname
                if name in _ALIGN_ENVS:
                    context = para.so_far()
                    para.flush()
                    b.display(text[node.pos : node.pos + node.len], line_of(node.pos), context=context)
                elif name in _SKIP_ENVS:
                    para.flush()
                    b.interrupt()
                else:
                    if name not in ("document",):
                        para.flush()
                    walk(node.nodelist)
                    para.flush()
            elif node.isNodeType(latexwalker.LatexGroupNode):
                walk(node.nodelist)
            elif node.isNodeType(latexwalker.LatexMacroNode):
                name = node.macroname
                args = node.nodeargd.argnlist if node.nodeargd is not None else []
                if name in _SECTIONING or (name == "textbf" and not para.so_far()):
                    title_node = next((a for a in reversed(args) if a is not None), None)
                    title = to_text.nodelist_to_text([title_node]).strip() if title_node is not None else ""
                    para.flush()
                    if name == "textbf":
                        if problem_of_heading(title, whole_line=False) is not None:
                            b.heading(title, line_of(node.pos))
                        else:
                            para.text(title, line_of(node.pos))
                    else:
                        b.heading(title, line_of(node.pos))
                elif name in ("item", "par"):
                    para.flush()
                    if name == "item" and args:
                        walk([a for a in args if a is not None])
                elif name in ("documentclass", "usepackage", "label", "maketitle", "newcommand", "renewcommand",
                              "title", "author", "date", "input", "include", "bibliography"):
                    continue
                else:
                    para.text(to_text.nodelist_to_text([node]), line_of(node.pos))
            else:
                para.text(node.latex_verbatim(), line_of(node.pos))

    try:
        walk(nodes)
    except RecursionError:
        raise LosslabError("The LaTeX sheet cannot be read: it is nested too deeply.") from None
    para.flush()


# ---------------------------------------------------------------- notebooks


def _read_notebook(text: str, b: _Builder, name: str) -> None:
    import nbformat

    try:
        data = json.loads(text)
    except ValueError as err:
        raise LosslabError(f"The {name} must be a Jupyter notebook (.ipynb JSON). Got invalid JSON instead: {err}.") from None
    if not isinstance(data, dict) or not isinstance(data.get("cells"), list):
        raise LosslabError(
            f"The {name} must be a Jupyter notebook: a JSON object with a list of 'cells'. "
            f"Got {type(data).__name__} JSON without them instead."
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            nb = nbformat.reads(text, as_version=4)
        cells = list(nb.get("cells", []))
    except (ValueError, TypeError, KeyError, AttributeError, IndexError, AssertionError, nbformat.ValidationError) as err:
        # nbformat reports bad JSON, schema and version problems with all of these
        reason = str(err).splitlines()[0][:200] if str(err) else type(err).__name__
        raise LosslabError(
            f"The {name} must be a Jupyter notebook (.ipynb JSON with 'cells'). Got something nbformat cannot read instead: {reason}."
        ) from None
    for index, cell in enumerate(cells, start=1):
        if not isinstance(cell, dict) or cell.get("cell_type") != "markdown":
            continue
        source = cell.get("source", "")
        if isinstance(source, list):
            source = "".join(str(s) for s in source)
        if not isinstance(source, str) or not source.strip():
            continue
        b.start_cell(index)
        try:
            _read_markdown(source, b, plain=False)
        except LosslabError as err:
            raise LosslabError(f"In cell {index} of the notebook: {err}") from None
    b.cell = None


# ---------------------------------------------------------------- entry point


def _sniff(text: str) -> str:
    head = text.lstrip()[:1]
    if head == "{":
        try:
            data = json.loads(text)
        except ValueError:
            data = None
        if isinstance(data, dict) and "cells" in data:
            return "notebook"
    if "\\documentclass" in text or "\\begin{document}" in text or "\\section{" in text or "\\section*{" in text:
        return "latex"
    return "markdown"


_SUFFIXES = {".md": "markdown", ".markdown": "markdown", ".tex": "latex", ".ipynb": "notebook", ".txt": "text"}


def read_document(text: str, *, format: str = "auto", filename: str | None = None) -> Document:
    """Read a solution sheet (Markdown, LaTeX, notebook or plain text) into sections of prose and math rows.

    ``format`` is "auto" (from the filename's suffix, else sniffed from the text) or one of
    "markdown", "latex", "notebook", "text". Bad input raises LosslabError with a sentence.
    """
    name = f"sheet {filename!r}" if filename else "sheet"
    if not isinstance(text, str):
        raise LosslabError(f"The {name} must be text. Got {type(text).__name__} instead.")
    if format != "auto" and format not in FORMATS:
        raise LosslabError(
            f"The 'format' parameter of read_document must be 'auto' or one of {', '.join(map(repr, FORMATS))}. "
            f"Got {format!r} instead."
        )
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_BYTES:
        raise LosslabError(f"The {name} is too large: at most {MAX_BYTES // 1000} kB. Got {size / 1e6:.1f} MB instead.")
    if "\x00" in text:
        raise LosslabError(f"The {name} must be text. Got NUL bytes instead (a binary file?).")
    if not text.strip():
        raise LosslabError(f"The {name} is empty: nothing to read.")
    fmt = format
    if fmt == "auto":
        suffix = PurePath(filename).suffix.lower() if filename else ""
        fmt = _SUFFIXES.get(suffix) or _sniff(text)
    if fmt == "latex" and size > MAX_LATEX_BYTES:
        raise LosslabError(
            f"The LaTeX {name} is too large: at most {MAX_LATEX_BYTES // 1000} kB for LaTeX (1 MB for Markdown). "
            f"Got {size // 1000} kB instead."
        )
    b = _Builder(fmt)
    try:
        if fmt == "notebook":
            _read_notebook(text, b, name)
        elif fmt == "latex":
            _read_latex(text, b)
        else:
            _read_markdown(text, b, plain=fmt == "text")
    except RecursionError:
        raise LosslabError(f"The {name} cannot be read: it is nested too deeply.") from None
    return b.document()
