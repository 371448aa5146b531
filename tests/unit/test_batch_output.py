"""Batch scoring's output file: writing, resuming after a kill, the per-contract summary."""
from __future__ import annotations

import csv
import json

import pytest

from app.batch import (BatchError, ClauseWriter, find_contracts, load_completed, read_rows, summarise,
                       write_summary)
from app.taxonomy import LABEL_IDS


def _rows(contract: str, sha: str, labels: list[str], decisions: list[str] | None = None,
          model: str = "v1") -> list[dict]:
    decisions = decisions or ["auto_accept"] * len(labels)
    return [{"contract": contract, "sha256": sha, "model_version": model, "n_clauses": len(labels), "index": i,
             "number": f"{i + 1}.", "heading": "LIABILITY", "page": 1, "text": f"clause {i}, with \"quotes\"\nand lines",
             "label": label, "probabilities": {lab: (0.94 if lab == label else 0.01) for lab in LABEL_IDS},
             "decision": decision, "reason": "why"} for i, (label, decision) in enumerate(zip(labels, decisions))]


@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
def test_rows_written_per_contract_read_back_unchanged(tmp_path, suffix):
    out = tmp_path / f"scores{suffix}"
    a, b = _rows("a.pdf", "sha-a", ["capped", "none"]), _rows("b.txt", "sha-b", ["uncapped"])
    with ClauseWriter(out) as writer:
        writer.write_contract(a)
    with ClauseWriter(out) as writer:  # a second run appends without a second CSV header
        writer.write_contract(b)
    assert list(read_rows(out)) == a + b


@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
def test_resume_drops_a_contract_cut_short_and_keeps_complete_ones(tmp_path, suffix):
    out = tmp_path / f"scores{suffix}"
    a, b = _rows("a.pdf", "sha-a", ["capped", "none"]), _rows("b.txt", "sha-b", ["uncapped", "none", "none"])
    with ClauseWriter(out) as writer:
        writer.write_contract(a)
        writer.write_contract(b[:2])  # killed after two of three rows
    with out.open("a") as f:
        f.write('{"contract": "b.txt", "sha2')  # and in the middle of a line
    completed = load_completed(out, "v1")
    assert set(completed) == {"sha-a"}
    assert list(read_rows(out)) == a  # the file itself no longer holds the partial contract
    with ClauseWriter(out) as writer:
        writer.write_contract(b)
    assert set(load_completed(out, "v1")) == {"sha-a", "sha-b"}


def test_resume_refuses_an_output_scored_by_another_model_version(tmp_path):
    out = tmp_path / "scores.jsonl"
    with ClauseWriter(out) as writer:
        writer.write_contract(_rows("a.pdf", "sha-a", ["capped"], model="v1"))
    with pytest.raises(BatchError, match="model version 'v1', not 'v2'"):
        load_completed(out, "v2")


def test_output_must_be_jsonl_or_csv(tmp_path):
    with pytest.raises(BatchError, match=r"\.jsonl or \.csv"):
        ClauseWriter(tmp_path / "scores.xlsx")


def test_find_contracts_walks_folders_recursively_and_keeps_named_files(tmp_path):
    (tmp_path / "deep" / "er").mkdir(parents=True)
    for name in ("a.pdf", "deep/b.DOCX", "deep/er/c.html", "deep/notes.md", "deep/.hidden.txt"):
        (tmp_path / name).write_text("x")
    named = tmp_path / "odd.bin"
    named.write_text("x")
    found = find_contracts([tmp_path, named, tmp_path / "a.pdf"])
    assert [p.relative_to(tmp_path).as_posix() for p in found] == ["a.pdf", "deep/b.DOCX", "deep/er/c.html", "odd.bin"]
    with pytest.raises(BatchError, match="no such file"):
        find_contracts([tmp_path / "missing"])


def test_summary_answers_cuad_questions_by_the_taxonomy_mapping(tmp_path):
    contracts = [
        _rows("carve.pdf", "1", ["carve_out", "none"], ["review", "auto_accept"]),  # cap and uncapped
        _rows("excl.pdf", "2", ["exclusion", "indemnity", "indemnity"]),            # cap only
        _rows("unc.pdf", "3", ["uncapped"], ["review"]),                            # uncapped only
        _rows("plain.pdf", "4", ["none", "indemnity"]),                             # neither
    ]
    summary = summarise(contracts)
    assert [(s["contract"], s["has_cap"], s["has_uncapped"]) for s in summary] == [
        ("carve.pdf", "true", "true"), ("excl.pdf", "true", "false"),
        ("unc.pdf", "false", "true"), ("plain.pdf", "false", "false")]
    assert summary[1]["indemnity"] == 2 and summary[1]["exclusion"] == 1 and summary[1]["capped"] == 0
    assert [s["n_review"] for s in summary] == [1, 0, 1, 0]
    out = tmp_path / "summary.csv"
    write_summary(out, summary)
    assert out.read_bytes().startswith(b"\xef\xbb\xbfcontract,")  # UTF-8 with a byte-order mark: Excel reads it so
    with out.open(encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["contract", "has_cap", "has_uncapped", "p_cap", "p_uncapped", "carve_out",
                             "cap_and_collar", "capped", "uncapped", "exclusion", "indemnity", "none", "n_clauses",
                             "n_review"]
    assert rows[0]["carve_out"] == "1"
    # The probability behind each answer: the best clause's summed probability of the mapped labels
    # (carve_out 0.94 + capped, cap_and_collar, exclusion 0.01 each; carve_out 0.94 + uncapped 0.01).
    assert (float(rows[0]["p_cap"]), float(rows[0]["p_uncapped"])) == pytest.approx((0.97, 0.95))
    assert (float(rows[3]["p_cap"]), float(rows[3]["p_uncapped"])) == pytest.approx((0.04, 0.02))


def test_summary_follows_the_model_versions_contract_rule():
    from app.scoring import ContractRule

    contracts = [_rows("carve.pdf", "1", ["carve_out", "none"]), _rows("plain.pdf", "4", ["none", "indemnity"])]
    strict = ContractRule.model_validate({"cap": {"method": "max_prob", "threshold": 0.98},
                                          "uncapped": {"method": "max_prob", "threshold": 0.5}})
    summary = summarise(contracts, rule=strict)
    assert [(s["has_cap"], s["has_uncapped"]) for s in summary] == [("false", "true"), ("false", "false")]


def test_summary_gives_a_copy_of_a_contract_its_original_figures_under_its_own_name():
    summary = summarise([_rows("a.pdf", "1", ["capped", "none"], ["review", "auto_accept"])],
                        copies={"a (copy).pdf": "a.pdf"})
    assert [s["contract"] for s in summary] == ["a.pdf", "a (copy).pdf"]
    assert {k: v for k, v in summary[1].items() if k != "contract"} == \
        {k: v for k, v in summary[0].items() if k != "contract"}


def test_jsonl_rows_carry_every_clause_field(tmp_path):
    out = tmp_path / "scores.jsonl"
    with ClauseWriter(out) as writer:
        writer.write_contract(_rows("a.pdf", "sha-a", ["capped"]))
    row = json.loads(out.read_text())
    for field in ("contract", "number", "heading", "page", "text", "label", "probabilities", "decision", "reason"):
        assert field in row


def test_csv_output_has_one_byte_order_mark_and_keeps_curly_quotes_through_appends_and_resumes(tmp_path):
    out = tmp_path / "scores.csv"
    a, b = _rows("a.pdf", "sha-a", ["capped"]), _rows("b.txt", "sha-b", ["none", "none"])
    a[0]["text"] = "Supplier’s “aggregate liability” shall not exceed €100,000 — see § 9.2"
    with ClauseWriter(out) as writer:
        writer.write_contract(a)
    with ClauseWriter(out) as writer:  # a second run appends: no second mark mid-file
        writer.write_contract(b[:1])   # and is killed one row short
    load_completed(out, "v1")          # the resume rewrites the file
    data = out.read_bytes()
    assert data.startswith(b"\xef\xbb\xbfcontract,") and data.count(b"\xef\xbb\xbf") == 1
    assert "“aggregate liability”" in data.decode("utf-8-sig")
    assert list(read_rows(out)) == a


@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
def test_a_clause_without_a_page_reads_back_without_one(tmp_path, suffix):
    out = tmp_path / f"scores{suffix}"
    rows = _rows("a.txt", "sha-a", ["capped", "none"])
    for r in rows:
        r["page"] = None  # a text file without form feeds has no pages
    with ClauseWriter(out) as writer:
        writer.write_contract(rows)
    assert [r["page"] for r in read_rows(out)] == [None, None]
    text = out.read_text(encoding="utf-8-sig")
    raw = [json.loads(line)["page"] for line in text.splitlines()] if suffix == ".jsonl" else \
        [r["page"] for r in csv.DictReader(text.splitlines())]
    assert raw == ([None, None] if suffix == ".jsonl" else ["", ""])  # null, an empty cell: never a made-up 1


def test_a_scored_text_that_is_not_a_contract_is_reported_with_a_warning(tmp_path, capsys):
    from pathlib import Path

    from app.batch import BatchReport, IngestedContract, finish_contract
    from app.ingest import ingest_bytes

    report, completed = BatchReport(), {}
    with ClauseWriter(tmp_path / "scores.jsonl") as writer:
        for name, data in (("list.txt", b"Milk\nEggs\nBread\n"),
                           ("msa.txt", b"1. Liability. The parties agree that liability shall be capped.")):
            document, clauses = ingest_bytes(data, name)
            contract = IngestedContract(Path(name), name, document=document, clauses=clauses)
            rows = _rows(name, name, ["none"] * len(clauses))
            finish_contract(contract, lambda c, rows=rows: [_Scored(r) for r in rows], writer=writer,
                            completed=completed, report=report)
    assert report.scored == 2  # scored all the same
    assert [(str(w.path), w.message[:34]) for w in report.warnings] == \
        [("list.txt", "this does not look like a contract")]
    # one line on stderr, as `python -m app score` prints it
    assert [line[:53] for line in capsys.readouterr().err.splitlines() if line.startswith("warning:")] == \
        ["warning: list.txt: this does not look like a contract"]


class _Scored:
    """A scored clause as finish_contract reads it: its output row and model version."""

    def __init__(self, row: dict):
        self._row, self.model_version = row, row["model_version"]

    def row(self) -> dict:
        return {k: v for k, v in self._row.items() if k not in ("contract", "sha256", "model_version", "n_clauses")}
