"""compare.py end to end on the tiny Llama: three rows, the same split, Markdown and JSON."""
from __future__ import annotations

import json

import yaml

from app.taxonomy import LABEL_IDS
from tests.integration.test_train_tiny import small_sources  # noqa: F401  (fixture)
from training.compare import main


def test_compare_writes_lora_dora_and_tfidf_rows_on_one_split(tmp_path, tiny_model_dir, small_sources):  # noqa: F811
    config = {"base_model": str(tiny_model_dir), "batch_size": 4, "max_length": 32, "r": 4, "alpha": 8,
              "data": json.loads(small_sources.model_dump_json())}
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(config))
    assert main(["--config", str(path), "--steps", "2", "--timing-rounds", "1", "--out", str(tmp_path / "out")]) == 0
    report = json.loads((tmp_path / "out" / "compare-tiny.json").read_text())
    rows = {r["method"]: r for r in report["rows"]}
    assert set(rows) == {"lora", "dora", "tfidf_logreg"}
    assert len({r["data_hash"] for r in rows.values()}) == 1          # same data and split for every row
    assert rows["lora"]["steps"] == rows["dora"]["steps"] == 2
    assert rows["dora"]["params"]["trainable"] > rows["lora"]["params"]["trainable"]  # + magnitude vectors
    for r in rows.values():
        assert set(r["metrics"]["per_label_f1"]) == set(LABEL_IDS)
    assert report["step_time"]["dora_over_lora"] > 0
    md = (tmp_path / "out" / "compare-tiny.md").read_text()
    assert "TF-IDF + logistic regression" in md and "2 steps each" in md
