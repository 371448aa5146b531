"""`python -m app score` on real sample contracts (PDF and TXT) with a tiny registered model."""
from __future__ import annotations

import csv
import json
import shutil

import numpy as np
import pytest
from typer.testing import CliRunner

from app.batch import read_rows
from app.classifier import Classifier
from app.cli import cli
from app.config import ROOT, get_settings
from app.ingest import ingest_path
from app.taxonomy import LABEL_IDS, has_cap, has_uncapped

SAMPLES = ("corio-license-and-hosting.pdf", "paxmedica-master-service-agreement.txt", "xybernaut-sponsorship.pdf")


@pytest.fixture
def registry(active_tiny_registry):
    return active_tiny_registry


@pytest.fixture
def contracts(tmp_path):
    """The sample contracts in nested folders, plus two bad files and a file the walk ignores."""
    root = tmp_path / "in"
    (root / "deep").mkdir(parents=True)
    shutil.copy(ROOT / "samples" / SAMPLES[0], root / SAMPLES[0])
    shutil.copy(ROOT / "samples" / SAMPLES[1], root / "deep" / SAMPLES[1])
    shutil.copy(ROOT / "samples" / SAMPLES[2], root / "deep" / SAMPLES[2])
    (root / "deep" / "broken.pdf").write_bytes(b"%PDF-1.7\n" + bytes(range(256)) * 4)
    (root / "empty.txt").write_bytes(b"")
    (root / "notes.md").write_text("not a contract")
    return root


def _score(*args):
    return CliRunner().invoke(cli, ["score", *map(str, args), "--quiet"])


def test_scores_every_clause_of_every_contract_and_reports_bad_files(registry, contracts, tmp_path):
    out, summary = tmp_path / "scores.jsonl", tmp_path / "summary.csv"
    result = _score(contracts, "--output", out, "--summary", summary)
    assert result.exit_code == 1, result.output  # two bad files
    assert "broken.pdf" in result.output and "empty.txt" in result.output
    assert "3 contracts scored" in result.output and "2 failed" in result.output

    rows = list(read_rows(out))
    classifier = Classifier.load("v-tiny")
    for name in SAMPLES:
        _, clauses = ingest_path(ROOT / "samples" / name)
        mine = [r for r in rows if r["contract"] == name]
        assert [r["index"] for r in mine] == [c.index for c in clauses]
        assert [r["text"] for r in mine] == [c.text for c in clauses]
        assert [r["page"] for r in mine] == [c.page for c in clauses]
        # Same probabilities as the classifier gives on those clauses: no row is paired with another's output.
        expected = classifier.predict_proba([c.text for c in clauses])
        got = np.array([[r["probabilities"][label] for label in LABEL_IDS] for r in mine])
        np.testing.assert_allclose(got, expected, atol=1e-5)
        assert all(r["label"] == LABEL_IDS[int(p.argmax())] for r, p in zip(mine, expected))
        assert all(r["model_version"] == "v-tiny" and r["decision"] in ("auto_accept", "review") and r["reason"]
                   for r in mine)

    with summary.open(encoding="utf-8-sig") as f:
        table = {row["contract"]: row for row in csv.DictReader(f)}
    assert set(table) == set(SAMPLES)
    for name, row in table.items():
        labels = {r["label"] for r in rows if r["contract"] == name}
        assert row["has_cap"] == str(has_cap(labels)).lower()
        assert row["has_uncapped"] == str(has_uncapped(labels)).lower()
        assert int(row["n_review"]) == sum(r["decision"] == "review" for r in rows if r["contract"] == name)
        assert sum(int(row[label]) for label in LABEL_IDS) == int(row["n_clauses"])


def test_a_second_run_skips_what_is_done_and_a_cut_short_contract_is_scored_again(registry, contracts, tmp_path):
    out = tmp_path / "scores.csv"
    good = [contracts / SAMPLES[0], contracts / "deep" / SAMPLES[1], contracts / "deep" / SAMPLES[2]]
    assert _score(*good, "--output", out).exit_code == 0
    first = out.read_text()
    again = _score(*good, "--output", out)
    assert again.exit_code == 0 and "0 contracts scored" in again.output and "3 already done" in again.output
    assert out.read_text() == first

    # Simulate a kill in the middle of the last contract: drop its last rows and half a line.
    lines = first.splitlines(keepends=True)
    out.write_text("".join(lines[:-5]) + lines[-5][:20])
    resumed = _score(*good, "--output", out)
    assert resumed.exit_code == 0
    assert "1 contracts scored" in resumed.output and "2 already done" in resumed.output
    assert sorted(out.read_text().splitlines()) == sorted(first.splitlines())


def test_an_unknown_model_version_is_one_clean_error(registry, contracts, tmp_path):
    result = _score(contracts, "--output", tmp_path / "x.jsonl", "--model", "v-nope")
    assert result.exit_code == 2
    assert result.output.strip().startswith("error: model version 'v-nope' not found")
    assert "Traceback" not in result.output


def test_output_holds_json_lines_with_the_clause_fields(registry, contracts, tmp_path):
    out = tmp_path / "scores.jsonl"
    _score(contracts / "deep" / SAMPLES[1], "--output", out)
    row = json.loads(out.read_text().splitlines()[0])
    assert {"contract", "number", "heading", "page", "text", "label", "probabilities", "decision",
            "reason"} <= set(row)


def test_db_stores_each_contract_for_review_with_the_batch_probabilities(registry, contracts, tmp_path,
                                                                          monkeypatch):
    from app import services

    monkeypatch.setenv("LEXDORA_DATABASE_URL", f"sqlite:///{tmp_path / 'lexdora.db'}")
    monkeypatch.setenv("LEXDORA_UPLOAD_DIR", str(tmp_path / "uploads"))
    get_settings.cache_clear()
    lawyer = services.register_user("lena", "a-long-password", "lawyer")
    services.register_user("rita", "a-long-password", "reviewer")
    out = tmp_path / "scores.jsonl"

    refused = _score(contracts / "deep", "--output", out, "--db", "--uploader", "rita")
    assert refused.exit_code == 2 and "cannot upload" in refused.output

    result = _score(contracts / "deep", "--output", out, "--db", "--uploader", "lena")
    assert result.exit_code == 1 and "broken.pdf" in result.output  # the bad file is not stored either
    stored = {c.filename: c for c in services.list_contracts(lawyer.id)}
    assert set(stored) == {SAMPLES[1], SAMPLES[2]}
    rows = list(read_rows(out))
    for name, summary in stored.items():
        detail = services.get_contract(lawyer.id, summary.id)
        mine = [r for r in rows if r["contract"] == name]
        assert [c.text for c in detail.clauses] == [r["text"] for r in mine]
        assert [c.model_version for c in detail.clauses] == ["v-tiny"] * len(mine)
        for clause, row in zip(detail.clauses, mine):
            assert clause.probs == pytest.approx(row["probabilities"], abs=1e-5)
            assert (clause.decision, clause.model_label) == (row["decision"], row["label"])
        assert summary.n_needs_review == sum(r["decision"] == "review" for r in mine)


def test_a_copy_of_a_contract_is_scored_once_and_keeps_its_summary_row(registry, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(ROOT / "samples" / SAMPLES[1], folder / "msa.txt")
    shutil.copy(ROOT / "samples" / SAMPLES[1], folder / "msa(1).txt")  # the download saved twice
    out, summary = tmp_path / "scores.jsonl", tmp_path / "summary.csv"
    result = _score(folder, "--output", out, "--summary", summary)
    assert result.exit_code == 0, result.output
    assert "copy: " in result.output and "same bytes as msa(1).txt" in result.output
    assert "1 contracts scored" in result.output and "1 copies of another file" in result.output
    assert {r["contract"] for r in read_rows(out)} == {"msa(1).txt"}  # rows written once
    with summary.open(encoding="utf-8-sig") as f:
        table = {row.pop("contract"): row for row in csv.DictReader(f)}
    assert set(table) == {"msa.txt", "msa(1).txt"} and table["msa.txt"] == table["msa(1).txt"]

    again = _score(folder, "--output", out, "--summary", summary)  # resuming: still one copy, not a new score
    assert "0 contracts scored" in again.output and "1 already done, 1 copies of another file" in again.output
