"""A solution sheet's bytes -> its text, or a sentence saying why not (the CLI's file and the explorer's upload).

Both faces accept the same sheets: Markdown, LaTeX, Jupyter notebooks and
plain text, UTF-8, at most ``MAX_SHEET_BYTES``; binary files are refused
before anything is parsed.
"""

from __future__ import annotations

from pathlib import PurePath

from .errors import LosslabError

__all__ = [
    "MAX_SHEET_BYTES",
    "PASTED_FORMATS",
    "SHEET_SUFFIXES",
    "SheetNotText",
    "SheetTooLarge",
    "check_sheet_name",
    "pasted_name",
    "sheet_text",
    "too_large",
]

SHEET_SUFFIXES = (".md", ".markdown", ".tex", ".ipynb", ".txt")
MAX_SHEET_BYTES = 1_000_000


class SheetTooLarge(LosslabError):
    """The sheet is over ``MAX_SHEET_BYTES`` (HTTP 413)."""


class SheetNotText(LosslabError):
    """The sheet is of a kind that is not read: wrong suffix, binary, not UTF-8 (HTTP 415)."""


def too_large(size: int, *, what: str = "sheet") -> str:
    """The sentence for a sheet of ``size`` bytes or more, over ``MAX_SHEET_BYTES``."""
    return f"The '{what}' file is too large: at most {MAX_SHEET_BYTES // 1000} kB. Got {size / 1e6:.1f} MB or more instead."


PASTED_FORMATS = {"auto": None, "markdown": "pasted.md", "latex": "pasted.tex", "notebook": "pasted.ipynb", "text": "pasted.txt"}
"""What pasted text is read as: a name whose suffix tells the checker, or None to let it sniff the text
(a notebook's JSON, a LaTeX document, else Markdown)."""


def pasted_name(fmt: str | None) -> str | None:
    """The file name pasted text stands for in format ``fmt`` (see ``PASTED_FORMATS``)."""
    if fmt is None:
        return None
    if fmt not in PASTED_FORMATS:
        raise LosslabError(f"The 'format' parameter must be one of {', '.join(map(repr, PASTED_FORMATS))}. Got {fmt!r} instead.")
    return PASTED_FORMATS[fmt]


def check_sheet_name(name: str, *, what: str = "sheet") -> str:
    """The file name, if its suffix is one of ``SHEET_SUFFIXES``."""
    suffix = PurePath(name).suffix.lower()
    if suffix not in SHEET_SUFFIXES:
        raise SheetNotText(
            f"The '{what}' file must be Markdown, LaTeX, a Jupyter notebook or plain text "
            f"({', '.join(SHEET_SUFFIXES)}). Got {name!r} instead."
        )
    return name


def sheet_text(data: bytes, name: str, *, what: str = "sheet") -> str:
    """The sheet's text: ``data`` checked for size, binary content and UTF-8; ``name`` is only quoted."""
    if len(data) > MAX_SHEET_BYTES:
        raise SheetTooLarge(too_large(len(data), what=what))
    if b"\x00" in data:
        raise SheetNotText(f"The '{what}' file must be text (Markdown/LaTeX/notebook). Got a binary file {name!r} instead.")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise SheetNotText(f"The '{what}' file must be UTF-8 text. Got undecodable bytes in {name!r} instead.") from None
    if not text.strip():
        raise LosslabError(f"The '{what}' file {name!r} is empty: nothing to check.")
    return text
