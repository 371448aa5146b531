"""Cells of the CSV files lexdora writes, safe to open in a spreadsheet (no formula injection).

A text cell starting with =, +, -, @, a tab or a carriage return is read as a formula by Excel,
LibreOffice and Google Sheets (`=HYPERLINK(...)` in a clause becomes a live link). Such a cell is
written with a leading apostrophe, which spreadsheets show as text; a cell that already starts with
an apostrophe gets one more, so `restore` gives back exactly what was written (the batch output is
also its own resume log). Numbers are left alone: only strings are changed.

(app/safe_csv.py, written separately, serves the other CSV paths; this one is for the batch output, its
summary and the labels export, which must read back what they wrote.)
"""
from __future__ import annotations

from collections.abc import Mapping

FORMULA_LEADS = ("=", "+", "-", "@", "\t", "\r")
_QUOTE = "'"


def neutralise(value):
    """`value` with an apostrophe in front if it is text a spreadsheet would run or would misread."""
    if isinstance(value, str) and value[:1] in (*FORMULA_LEADS, _QUOTE) and value:
        return _QUOTE + value
    return value


def restore(value):
    """The inverse of `neutralise` for a cell read back from the file."""
    if isinstance(value, str) and value.startswith(_QUOTE) and value[1:2] in (*FORMULA_LEADS, _QUOTE) and \
            len(value) > 1:
        return value[1:]
    return value


def neutralise_row(row: Mapping) -> dict:
    return {k: neutralise(v) for k, v in row.items()}


def restore_row(row: Mapping) -> dict:
    return {k: restore(v) for k, v in row.items()}
