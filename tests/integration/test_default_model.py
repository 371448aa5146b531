"""The shipped default model through the classify CLI: real 135M weights, calibrated probabilities."""
from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from app.classifier import Classifier, clear_cache, softmax
from app.cli import cli
from app.registry import Registry
from app.taxonomy import LABEL_IDS

pytestmark = pytest.mark.integration


def test_default_model_gives_calibrated_probabilities_through_the_cli(tmp_path, cuad_dir):
    default = Registry().get("default")
    assert (default.path / "calibration.json").exists(), "run python -m training.calibrate --model default"
    assert default.temperature != 1.0
    with (cuad_dir / "clauses_labeled.jsonl").open() as f:
        clauses = [json.loads(line) for line, _ in zip(f, range(3))]
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    src.write_text("".join(json.dumps({"id": c["id"], "text": c["text"]}) + "\n" for c in clauses))
    result = CliRunner().invoke(cli, ["classify", "-i", str(src), "-o", str(out), "-m", "default", "--device", "cpu", "-q"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in rows] == [c["id"] for c in clauses]
    clf = Classifier.load("default", device="cpu")
    expected = softmax(clf.logits([c["text"] for c in clauses]), default.temperature)
    got = np.array([[r["probs"][label] for label in LABEL_IDS] for r in rows])
    np.testing.assert_allclose(got, expected, atol=1e-5)
    assert all(r["decision"] in ("auto_accept", "review") for r in rows)
    clear_cache()
