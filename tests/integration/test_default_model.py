"""The shipped default model through the classify CLI: real 135M weights, calibrated probabilities."""
from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from app.classifier import clear_cache
from app.cli import cli
from app.registry import Registry
from app.taxonomy import LABEL_IDS

pytestmark = pytest.mark.integration


def _independent_probabilities(version_dir, texts: list[str]) -> np.ndarray:
    """Probabilities computed without app.classifier: the version's files read with transformers and peft,
    logits divided by calibration.json's temperature, then a softmax."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from app.modeling import resolve_base_model   # only where the converted base weights live

    card = json.loads((version_dir / "card.json").read_text())
    temperature = json.loads((version_dir / "calibration.json").read_text())["temperature"]
    max_length = (card.get("train_config") or {}).get("max_length") or 512
    base_dir = resolve_base_model(card["base_model"])
    tokenizer = AutoTokenizer.from_pretrained(base_dir)
    base = AutoModelForSequenceClassification.from_pretrained(base_dir, num_labels=len(LABEL_IDS),
                                                              dtype=torch.float32)
    model = PeftModel.from_pretrained(base, version_dir / "adapter").eval()
    out = []
    with torch.no_grad():
        for text in texts:
            enc = tokenizer(text, return_tensors="pt", truncation=True, max_length=max_length)
            logits = model(**enc).logits[0].double() / temperature
            out.append(torch.softmax(logits, dim=-1).numpy())
    return np.stack(out)


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
    expected = _independent_probabilities(default.path, [c["text"] for c in clauses])
    got = np.array([[r["probs"][label] for label in LABEL_IDS] for r in rows])
    # The CLI batches and pads; the reference runs one unpadded clause at a time in plain transformers + peft.
    np.testing.assert_allclose(got, expected, atol=1e-4)
    assert all(r["decision"] in ("auto_accept", "review") for r in rows)
    clear_cache()
