"""Symbolic layer: a safe LaTeX parser for the book's notation, SymPy derivations and
certificates, and the solution-sheet checker behind ``losslab check``."""

from .checker import ClaimResult, check_sheet
from .latex import NotCheckable, ParseError, parse_expression, parse_relation

__all__ = ["ClaimResult", "check_sheet", "ParseError", "NotCheckable", "parse_expression", "parse_relation"]
