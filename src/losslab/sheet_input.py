"""A solution sheet's bytes -> its text, or a sentence saying why not (the CLI's file and the explorer's upload).

Both faces accept the same sheets: Markdown, LaTeX, Jupyter notebooks and
plain text, UTF-8, at most ``MAX_SHEET_BYTES``; binary files are refused
before anything is parsed.
"""

from __future__ import annotations

from pathlib import PurePath

from .errors import LosslabError

__all__ = ["MAX_SHEET_BYTES", "SHEET_SUFFIXES", "SheetNotText", "SheetTooLarge", "check_sheet_name", "sheet_text"]

SHEET_SUFFIXES = (".md", ".markdown", ".tex", ".ipynb", ".txt")
MAX_SHEET_BYTES = 1_000_000


class SheetTooLarge(LosslabError):
    """The sheet is over ``MAX_SHEET_BYTES`` (HTTP 413)."""


class SheetNotText(LosslabError):
    """The sheet is of a kind that is not read: wrong suffix, binary, not UTF-8 (HTTP 415)."""


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
        raise SheetTooLarge(
            f"The '{what}' file is too large: at most {MAX_SHEET_BYTES // 1000} kB. "
            f"Got {len(data) / 1e6:.1f} MB or more instead."
        )
    if b"\x00" in data:
        raise SheetNotText(f"The '{what}' file must be text (Markdown/LaTeX/notebook). Got a binary file {name!r} instead.")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise SheetNotText(f"The '{what}' file must be UTF-8 text. Got undecodable bytes in {name!r} instead.") from None
    if not text.strip():
        raise LosslabError(f"The '{what}' file {name!r} is empty: nothing to check.")
    return text
