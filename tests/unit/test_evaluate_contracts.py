"""Whole-contract evaluation of a scores file: answers per contract, grouped by what the model saw."""
from __future__ import annotations

import json

import pytest

from app.batch import ClauseWriter
from app.registry import ModelVersion, Registry
from app.taxonomy import LABEL_IDS
from training.evaluate import EvaluationError
from training.evaluate_contracts import evaluate_scores, main, markdown, threshold_rule

TRUTH = {
    "held": {"cuad_cap": "Yes", "cuad_uncapped": "Yes"},
    "held2": {"cuad_cap": "No", "cuad_uncapped": "No"},
    "never": {"cuad_cap": "No", "cuad_uncapped": "No"},
    "fitted": {"cuad_cap": "Yes", "cuad_uncapped": "No"},
}


def _rows(contract: str, labels: list[str], model: str = "v1", n: int | None = None) -> list[dict]:
    return [{"contract": contract, "sha256": f"sha-{contract}", "model_version": model,
             "n_clauses": n or len(labels), "index": i, "number": "", "heading": "", "page": None,
             "text": f"clause {i}", "label": label,
             "probabilities": {lab: float(lab == label) for lab in LABEL_IDS}, "decision":
             "auto_accept" if label == "none" else "review", "reason": ""} for i, label in enumerate(labels)]


@pytest.fixture
def setup(tmp_path):
    registry = Registry(root=tmp_path / "registry", default_dir=tmp_path / "nodefault")
    version = ModelVersion("v1", tmp_path / "registry" / "v1")
    version.path.mkdir(parents=True)
    version.write_card({"version": "v1"})
    (version.path / "split.json").write_text(json.dumps({"held": "test", "held2": "test", "fitted": "train"}))
    truth = tmp_path / "contracts.json"
    truth.write_text(json.dumps(TRUTH))
    return registry, truth, tmp_path


@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
def test_groups_by_split_and_scores_each_cuad_question(setup, suffix):
    registry, truth, tmp = setup
    scores = tmp / f"scores{suffix}"
    with ClauseWriter(scores) as w:
        w.write_contract(_rows("held.txt", ["carve_out", "none"]))   # cap yes, uncapped yes: both right
        w.write_contract(_rows("held2.txt", ["capped", "none"]))     # cap yes: a false positive
        w.write_contract(_rows("never.txt", ["none", "none", "none"]))
        w.write_contract(_rows("fitted.txt", ["none"]))             # cap missed
        w.write_contract(_rows("stranger.txt", ["none"]))           # not a CUAD contract
        w.write_contract(_rows("torn.txt", ["capped"], n=3))        # a kill cut it short
    m = evaluate_scores(scores, registry=registry, truth_file=truth)

    assert set(m["groups"]) == {"test", "unseen", "train"}
    test = m["groups"]["test"]
    assert test["n_contracts"] == 2 and test["clauses"] == 4 and test["review_share"] == 0.5
    assert test["cuad_cap"]["precision"] == 0.5 and test["cuad_cap"]["recall"] == 1.0
    assert test["cuad_uncapped"]["f1"] == 1.0
    assert test["cuad_cap"]["roc_auc"] == 0.5  # both contracts have a sure capping clause: no ranking
    assert test["cuad_uncapped"]["roc_auc"] == 1.0
    assert m["groups"]["unseen"]["n_contracts"] == 1
    assert m["groups"]["unseen"]["cuad_cap"]["roc_auc"] is None  # one answer only: undefined
    assert m["groups"]["train"]["cuad_cap"]["recall"] == 0.0
    assert m["never_trained"]["n_contracts"] == 3
    assert m["not_in_cuad"] == ["stranger"] and m["incomplete"] == ["torn"]
    report = markdown(m)
    assert "never trained on" in report and "stranger" in report and "torn" in report


def test_one_model_per_scores_file(setup):
    registry, truth, tmp = setup
    scores = tmp / "scores.jsonl"
    with ClauseWriter(scores) as w:
        w.write_contract(_rows("held.txt", ["none"]))
        w.write_contract(_rows("held2.txt", ["none"], model="v2"))
    with pytest.raises(EvaluationError, match="mixes model versions"):
        evaluate_scores(scores, registry=registry, truth_file=truth)


def test_missing_scores_file_is_a_clear_error(tmp_path, capsys):
    assert main([str(tmp_path / "nothing.jsonl")]) == 2
    assert "holds no scored clauses" in capsys.readouterr().err


def test_threshold_rule_is_tuned_on_one_group_and_scored_on_another():
    truth = {c: {"cuad_cap": yes} for c, yes in
             [("v1", "Yes"), ("v2", "No"), ("v3", "Yes"), ("r1", "Yes"), ("r2", "No")]}
    counts = {"v1": {"cuad_cap": 0.9}, "v2": {"cuad_cap": 0.6}, "v3": {"cuad_cap": 0.8},
              "r1": {"cuad_cap": 0.85}, "r2": {"cuad_cap": 0.7}}
    rule = threshold_rule("cuad_cap", ["v1", "v2", "v3"], ["r1", "r2"], counts, truth)
    assert rule["threshold"] == 0.8 and rule["tune_f1"] == 1.0  # separates v1, v3 from v2
    assert rule["precision"] == 1.0 and rule["recall"] == 1.0   # r2 at 0.7 stays No
    assert threshold_rule("cuad_cap", ["v1", "v3"], ["r1"], counts, truth) is None  # one answer: nothing to tune


def test_contracts_are_answered_by_the_versions_own_rule_as_app_score_does(setup):
    registry, truth, tmp = setup
    version = registry.get("v1")
    version.update_card(contract_rule={"cap": {"method": "max_prob", "threshold": 0.9},
                                       "uncapped": {"method": "max_prob", "threshold": 0.5}})
    held = _rows("held.txt", ["capped", "carve_out"])
    held[0]["probabilities"] = {**{lab: 0.0 for lab in LABEL_IDS}, "capped": 0.6, "none": 0.4}
    held[1]["probabilities"] = {**{lab: 0.0 for lab in LABEL_IDS}, "carve_out": 0.55, "none": 0.45}
    scores = tmp / "scores.jsonl"
    with ClauseWriter(scores) as w:
        w.write_contract(held)
        w.write_contract(_rows("held2.txt", ["none"]))
    m = evaluate_scores(scores, registry=registry, truth_file=truth)

    test = m["groups"]["test"]
    # Any-label would say Yes to both; the rule says cap No (best clause 0.6 < 0.9), uncapped Yes (0.55 >= 0.5).
    assert test["cuad_cap"]["predicted_positive"] == 0 and test["cuad_cap"]["recall"] == 0.0
    assert test["cuad_uncapped"]["predicted_positive"] == 1 and test["cuad_uncapped"]["f1"] == 1.0
    assert "reaches 0.900" in markdown(m)


def test_the_segment_files_own_labels_give_the_ceiling_of_the_label_mapping(setup):
    registry, truth, tmp = setup
    scores = tmp / "scores.jsonl"
    with ClauseWriter(scores) as w:
        w.write_contract(_rows("held.txt", ["none"]))
        w.write_contract(_rows("held2.txt", ["none"]))
    segments = tmp / "segments.jsonl"
    # held: a carve-out, and CUAD says Yes to both. held2: an exclusion the lawyers did not count as a cap.
    segments.write_text("\n".join(json.dumps({"id": f"s{i}", "contract": c, "text": f"segment {i}", "label": lab})
                                  for i, (c, lab) in enumerate([("held", "carve_out"), ("held", "none"),
                                                                ("held2", "exclusion")])) + "\n")
    m = evaluate_scores(scores, registry=registry, truth_file=truth, segments=segments)

    ceiling = m["groups"]["test"]["guideline_labels"]
    assert ceiling["n_contracts"] == 2
    assert ceiling["cuad_cap"]["precision"] == 0.5 and ceiling["cuad_cap"]["recall"] == 1.0
    assert ceiling["cuad_uncapped"]["f1"] == 1.0
    assert m["groups"]["test"]["cuad_cap"]["recall"] == 0.0   # the model's own answers are apart
    assert "ceiling of the label mapping" in markdown(m)
    assert evaluate_scores(scores, registry=registry, truth_file=truth)["groups"]["test"]["guideline_labels"] is None
