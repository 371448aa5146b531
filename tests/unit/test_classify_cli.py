"""`python -m app classify` driven in-process through the real typer app."""
from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from app.cli import cli
from app.taxonomy import LABEL_IDS


@pytest.fixture
def registry(active_tiny_registry):
    return active_tiny_registry


def _run(*args):
    return CliRunner().invoke(cli, ["classify", *args])


def test_each_good_line_gets_label_probs_and_decision_and_bad_lines_are_reported(registry, tmp_path):
    src = tmp_path / "clauses.jsonl"
    src.write_text("\n".join([
        json.dumps({"id": "c1", "text": "liability shall not exceed the fees paid"}),
        "{not json",
        json.dumps({"id": "c2", "text": "   "}),
        json.dumps({"text": "no id here"}),
        json.dumps({"id": 7, "text": "the party shall indemnify and hold harmless"}),
        "",
    ]))
    out = tmp_path / "preds.jsonl"
    result = _run("--input", str(src), "--output", str(out), "--quiet")
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in rows] == ["c1", 7]
    for r in rows:
        assert list(r["probs"]) == list(LABEL_IDS)
        assert abs(sum(r["probs"].values()) - 1) < 1e-4
        assert r["label"] == max(r["probs"], key=r["probs"].get)
        assert r["decision"] in ("auto_accept", "review") and r["reason"]
        assert r["model"] == "v-tiny"
    assert ":2: skipped: not valid JSON" in result.output
    assert ":3: skipped: missing or empty 'text'" in result.output
    assert ":4: skipped: missing 'id'" in result.output
    assert "3 bad line(s) skipped" in result.output


def test_decision_follows_the_versions_policy(registry, tmp_path):
    # A policy whose floor nothing reaches sends every clause to review, with the floor as reason.
    (registry.get("v-tiny").path / "policy.yaml").write_text("floor: 0.99\nnear_miss_margin: 0.0\nthresholds: {}\n")
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps({"id": "a", "text": "governing law"}) + "\n")
    out = tmp_path / "out.jsonl"
    assert _run("-i", str(src), "-o", str(out), "-q").exit_code == 0
    row = json.loads(out.read_text())
    assert row["decision"] == "review" and row["reason"].startswith("The model is unsure")


def test_unknown_model_is_one_clean_line_and_no_output(registry, tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps({"id": "a", "text": "x"}) + "\n")
    out = tmp_path / "out.jsonl"
    result = _run("-i", str(src), "-o", str(out), "--model", "v-nope")
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == ["Error: model version 'v-nope' not found (known: v-tiny)"]
    assert not out.exists()


def test_help_shows_an_example():
    result = CliRunner().invoke(cli, ["classify", "--help"])
    assert result.exit_code == 0
    assert "python -m app classify --input clauses.jsonl --output preds.jsonl" in result.output
