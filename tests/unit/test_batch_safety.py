"""Batch scoring against hostile inputs: formula cells, links out of a folder, loops, hidden files,
control characters in names, two runs on one output file."""
from __future__ import annotations

import csv
import re
import io
import os

import pytest

from app.batch import (BatchError, ClauseWriter, OutputLock, load_completed, printable, read_rows, walk_contracts,
                       write_summary)
from app.batch.report import BatchReport
from app.safe_csv import FORMULA_START as FORMULA_LEADS, neutralise, restore
from tests.conftest import ROOT
from tests.unit.test_batch_output import _rows

EVIL = ["=HYPERLINK(\"http://evil\",\"x\")", "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)", "\tx", "\rx", "'=already"]


@pytest.mark.parametrize("value", [*EVIL, "plain", "", "1.5", "it's"])
def test_cells_are_neutralised_and_restored_exactly(value):
    safe = neutralise(value)
    assert not safe[:1] or safe[0] not in FORMULA_LEADS
    assert restore(safe) == value
    assert neutralise(0.25) == 0.25 and neutralise(None) is None


def test_the_batch_csv_has_no_formula_cells_and_resumes_unchanged(tmp_path):
    out = tmp_path / "scores.csv"
    rows = _rows("=evil.pdf", "sha-a", ["capped", "none"])
    rows[0]["text"], rows[1]["heading"], rows[1]["number"] = EVIL[0], EVIL[1], "-1"
    with ClauseWriter(out) as writer:
        writer.write_contract(rows)
    for record in csv.reader(io.StringIO(out.read_text(encoding="utf-8-sig"))):
        for cell in record:
            # a plain number ("-1") is data, not a formula: spreadsheets read it as the number
            assert not cell[:1] or cell[0] not in "=+-@\t\r" or re.fullmatch(r"-?\d+(\.\d+)?", cell), cell
    assert list(read_rows(out)) == rows
    assert load_completed(out, "v1") == {"sha-a": rows}


def test_the_summary_csv_has_no_formula_cells(tmp_path):
    path = tmp_path / "summary.csv"
    write_summary(path, [{"contract": "=cmd|'/C calc'!A0.pdf", "has_cap": "true", "has_uncapped": "false",
                          "p_cap": 0.9, "p_uncapped": 0.1, "n_clauses": 1, "n_review": 0}])
    [row] = csv.DictReader(path.open(encoding="utf-8-sig"))
    assert row["contract"] == "'=cmd|'/C calc'!A0.pdf" and row["p_cap"] == "0.9"


def _tree(tmp_path):
    root = tmp_path / "contracts"
    (root / "sub").mkdir(parents=True)
    (root / "a.txt").write_text("x")
    (root / "sub" / "b.txt").write_text("x")
    (root / ".hidden.txt").write_text("x")
    (root / ".git").mkdir()
    (root / ".git" / "c.txt").write_text("x")
    outside = tmp_path / "secret.txt"
    outside.write_text("secret")
    (root / "passwd.txt").symlink_to(outside)              # a file outside
    (root / "up").symlink_to(tmp_path, target_is_directory=True)  # a folder outside
    (root / "inside.txt").symlink_to(root / "sub" / "b.txt")  # inside: followed
    (root / "loop.txt").symlink_to(root / "loop.txt")       # a loop
    return root


def test_a_folder_walk_stays_inside_the_folder_and_says_what_it_passed_over(tmp_path):
    root = _tree(tmp_path)
    found = walk_contracts([root])
    assert [p.relative_to(root).as_posix() for p in found.files] == ["a.txt", "inside.txt", "sub/b.txt"]
    skipped = {p.name: why for p, why in found.skipped}
    assert set(skipped) == {".hidden.txt", ".git", "passwd.txt", "up"}
    assert "outside" in skipped["passwd.txt"] and "hidden" in skipped[".hidden.txt"]
    assert [(p.name, why) for p, why in found.broken] == [("loop.txt", "a symbolic link loop; not read")]


def test_a_loop_named_on_the_command_line_is_reported_and_the_others_go_on(tmp_path):
    root = _tree(tmp_path)
    found = walk_contracts([root / "loop.txt", root / "a.txt"])
    assert found.files == [root / "a.txt"] and [p.name for p, _ in found.broken] == ["loop.txt"]


def test_report_lines_escape_control_characters_and_terminal_codes(tmp_path, capsys):
    name = tmp_path / "x\x1b[2J\nfailed: forged.pdf\u202e.txt"
    report = BatchReport()
    report.fail(name, "cannot be read")
    report.ignore(name, "hidden")
    err = capsys.readouterr().err
    assert "\x1b" not in err and "\u202e" not in err and len(err.splitlines()) == 2
    assert "x\\x1b[2J\\nfailed: forged.pdf\\u202e.txt" in err
    assert printable("plain name.pdf") == "plain name.pdf"


def test_two_runs_on_one_output_file_refuse_the_second(tmp_path):
    out = tmp_path / "scores.jsonl"
    with OutputLock(out):
        with pytest.raises(BatchError, match="another `score` run is writing to this file"):
            with OutputLock(out):
                pass
    with OutputLock(out):  # released when the first run ends
        pass


def test_a_second_score_process_is_refused_while_the_first_holds_the_output(tmp_path):
    import subprocess
    import sys

    out = tmp_path / "scores.jsonl"
    with OutputLock(out):
        code = ("import sys; from pathlib import Path; from app.batch import OutputLock, BatchError\n"
                "try:\n    OutputLock(Path(sys.argv[1])).__enter__()\nexcept BatchError as e:\n"
                "    print(e); sys.exit(3)\n")
        done = subprocess.run([sys.executable, "-c", code, str(out)], capture_output=True, text=True,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 3 and "another `score` run" in done.stdout
