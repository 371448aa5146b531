"""Temperature fitting, ECE, clause and contract metrics, threshold picking: pure functions on arrays."""
from __future__ import annotations

import numpy as np
import pytest

from app.classifier import softmax
from app.routing import Policy
from app.taxonomy import LABEL2ID, LABEL_IDS
from training.calibrate import fit_temperature, nll
from training.evaluate import contract_metrics, expected_calibration_error, routing_metrics
from training.metrics import label_metrics
from training.thresholds import NEVER, UNCAPPED_MIN, fit_policy, pick_threshold


def _sample(n: int, true_t: float, seed: int = 0):
    """Labels drawn from softmax(logits / true_t): a model overconfident by a factor true_t."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 4, size=(n, 7))
    probs = softmax(logits, true_t)
    labels = np.array([rng.choice(7, p=p) for p in probs])
    return logits, labels


def test_fit_temperature_recovers_the_temperature_that_generated_the_labels():
    logits, labels = _sample(4000, true_t=2.5)
    t = fit_temperature(logits, labels)
    assert t == pytest.approx(2.5, rel=0.1)
    assert nll(logits, labels, t) < nll(logits, labels)


def test_temperature_scaling_lowers_ece_and_keeps_labels():
    logits, labels = _sample(4000, true_t=2.5, seed=1)
    t = fit_temperature(logits, labels)
    before, after = expected_calibration_error(softmax(logits), labels), expected_calibration_error(softmax(logits, t), labels)
    assert after < before / 3 and after < 0.03
    assert (softmax(logits, t).argmax(1) == logits.argmax(1)).all()


def test_ece_of_a_constant_overconfident_model():
    # Always 0.9 sure of label 0, right half the time: one bin, |0.9 - 0.5| = 0.4.
    probs = np.tile([0.9] + [0.1 / 6] * 6, (10, 1))
    labels = np.array([0] * 5 + [1] * 5)
    assert expected_calibration_error(probs, labels) == pytest.approx(0.4, abs=1e-6)


def _onehot(labels: list[str], p: float = 0.9) -> np.ndarray:
    out = np.full((len(labels), 7), (1 - p) / 6)
    for i, label in enumerate(labels):
        out[i, LABEL2ID[label]] = p
    return out


def test_label_metrics_count_false_positive_uncapped_among_non_uncapped_clauses():
    truth = np.array([LABEL2ID[x] for x in ["capped", "capped", "uncapped", "none", "carve_out"]])
    probs = _onehot(["capped", "uncapped", "uncapped", "none", "uncapped"])
    m = label_metrics(truth, probs=probs)
    assert m["accuracy"] == pytest.approx(3 / 5)
    assert m["fp_uncapped"] == 2 and m["fp_uncapped_rate"] == pytest.approx(2 / 4)
    assert m["per_label"]["uncapped"]["precision"] == pytest.approx(1 / 3)
    assert m["per_label"]["capped"]["recall"] == pytest.approx(1 / 2)
    assert m["macro_f1_labels"] == ["carve_out", "capped", "uncapped", "none"]
    assert sum(map(sum, m["confusion"])) == 5


def test_contract_metrics_map_clause_labels_to_cuad_answers():
    predicted = {"a": {"capped", "none"}, "b": {"carve_out"}, "c": {"none"}, "d": {"uncapped"}}
    truth = {"a": {"cuad_cap": "Yes", "cuad_uncapped": "No"}, "b": {"cuad_cap": "Yes", "cuad_uncapped": "Yes"},
             "c": {"cuad_cap": "Yes", "cuad_uncapped": "No"}, "d": {"cuad_cap": "No", "cuad_uncapped": "No"}}
    m = contract_metrics(predicted, truth)
    assert m["cuad_cap"]["precision"] == 1.0 and m["cuad_cap"]["recall"] == pytest.approx(2 / 3)
    assert m["cuad_uncapped"]["precision"] == pytest.approx(1 / 2) and m["cuad_uncapped"]["recall"] == 1.0


def test_routing_metrics_report_the_share_and_precision_of_auto_accepted():
    policy = Policy(floor=0.5, near_miss_margin=0.1, thresholds={"capped": 0.8})
    probs = np.vstack([_onehot(["capped"], 0.95), _onehot(["capped"], 0.95), _onehot(["capped"], 0.6)])
    truth = np.array([LABEL2ID["capped"], LABEL2ID["none"], LABEL2ID["capped"]])
    m = routing_metrics(probs, truth, policy)
    assert m["auto_accepted"] == 2 and m["auto_accept_rate"] == pytest.approx(2 / 3)
    assert m["auto_accept_precision"] == pytest.approx(1 / 2)


@pytest.mark.parametrize("conf, correct, expected", [
    ([0.99, 0.97, 0.95, 0.90, 0.80], [1, 1, 1, 1, 0], 0.90),   # the wrong one sits lowest
    ([0.99, 0.97, 0.95, 0.90, 0.80], [0, 1, 1, 1, 1], NEVER),  # wrong at the top: no prefix reaches 0.98
    ([0.99, 0.97], [1, 1], NEVER),                              # too few clauses to trust
    ([0.9, 0.9, 0.9, 0.8], [1, 1, 1, 1], 0.8),
    ([0.95, 0.9, 0.9, 0.9], [1, 1, 0, 1], NEVER),               # a tie cannot be split
])
def test_pick_threshold(conf, correct, expected):
    assert pick_threshold(np.array(conf), np.array(correct, bool), precision=0.98, min_support=3) == expected


def test_fit_policy_reaches_precision_on_validation_and_keeps_uncapped_high():
    rng = np.random.default_rng(0)
    labels, rows = [], []
    for _ in range(200):  # exclusion: confident and right, unsure and sometimes wrong
        p = rng.uniform(0.55, 0.99)
        rows.append(_onehot(["exclusion"], p)[0])
        labels.append(LABEL2ID["exclusion"] if p > 0.8 or rng.random() < 0.6 else LABEL2ID["none"])
    for _ in range(30):
        rows.append(_onehot(["uncapped"], 0.9)[0])
        labels.append(LABEL2ID["uncapped"])
    probs, labels = np.array(rows), np.array(labels)
    base = Policy(floor=0.5, near_miss_margin=0.15, thresholds={})
    policy, stats = fit_policy(probs, labels, base, precision=0.98, min_support=10, source="test")
    assert 0.55 < policy.thresholds["exclusion"] <= 0.81
    assert stats["exclusion"]["precision"] >= 0.98
    assert policy.thresholds["uncapped"] >= UNCAPPED_MIN
    assert policy.thresholds["indemnity"] == NEVER  # no validation evidence at all
    assert set(policy.thresholds) == set(LABEL_IDS)


def test_ece_noise_floor_shrinks_with_more_clauses():
    rng = np.random.default_rng(2)
    probs = softmax(rng.normal(0, 2, size=(2000, 7)))
    from training.evaluate import ece_noise_floor

    small, large = ece_noise_floor(probs[:100], draws=50), ece_noise_floor(probs, draws=50)
    assert 0 < large < small
