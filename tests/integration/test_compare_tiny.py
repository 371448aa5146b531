"""compare.py end to end on the tiny Llama: three rows, the same split, Markdown and JSON."""
from __future__ import annotations

import json

import pytest
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
    # Step times: one per timing round and method, and the ratio is of their means (not just "positive").
    t = report["step_time"]
    assert t["rounds"] == 1
    for method in ("lora", "dora"):
        assert len(t["times_s"][method]) == 1 and all(s > 0 for s in t["times_s"][method])
        assert t["mean_s"][method] == pytest.approx(sum(t["times_s"][method]) / len(t["times_s"][method]))
        assert rows[method]["mean_step_s"] == t["mean_s"][method]
    assert t["dora_over_lora"] == pytest.approx(t["mean_s"]["dora"] / t["mean_s"]["lora"])
    for r in rows.values():
        assert all(0.0 <= f <= 1.0 for f in r["metrics"]["per_label_f1"].values() if f is not None)
    md = (tmp_path / "out" / "compare-tiny.md").read_text()
    assert "TF-IDF + logistic regression" in md and "2 steps each" in md
