"""app.scoring: the one path from probabilities to rows, and a contract's answers under its version's rule."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from app.registry import ModelVersion
from app.routing import Policy
from app.scoring import (ContractRule, ContractRuleError, contract_answers, contract_rule, question_probability,
                         score_clauses)
from app.taxonomy import LABEL_IDS
from tests.fakes import FakeScorer

POLICY = Policy(floor=0.5, near_miss_margin=0.15, thresholds={"uncapped": 0.95, "exclusion": 0.8, "capped": 0.85})


@dataclass
class Clause:
    index: int
    text: str
    number: str | None = None
    heading: str = ""
    page: int | None = 1


CLAUSES = [Clause(0, "Liability shall not exceed the fees.", "1"), Clause(1, "Liability for fraud is unlimited."),
           Clause(2, "Governed by New York law.")]


def test_each_clause_gets_its_probabilities_decision_and_row_in_order():
    scored = score_clauses(CLAUSES, FakeScorer(), POLICY)
    assert [s.clause for s in scored] == CLAUSES
    assert [s.label for s in scored] == ["capped", "uncapped", "none"]
    assert [s.decision.action for s in scored] == ["auto_accept", "review", "auto_accept"]
    assert {s.model_version for s in scored} == {"fake-v1"}
    row = scored[0].row()
    assert list(row) == ["index", "number", "heading", "page", "text", "label", "probabilities", "decision", "reason"]
    assert (row["index"], row["number"], row["label"], row["decision"]) == (0, "1", "capped", "auto_accept")
    assert list(row["probabilities"]) == list(LABEL_IDS) and row["probabilities"]["capped"] == 0.92
    assert scored[1].row()["number"] == "" and scored[1].row()["reason"] == "Could be uncapped (50%) or carve-out (42%)"


def test_progress_is_reported_per_chunk_and_chunks_do_not_change_the_result():
    seen = []
    chunked = score_clauses(CLAUSES, FakeScorer(), POLICY, batch_size=2, progress=lambda d, n: seen.append((d, n)))
    assert seen == [(2, 3), (3, 3)]
    assert chunked == score_clauses(CLAUSES, FakeScorer(), POLICY, batch_size=100)


def test_a_classifier_returning_the_wrong_shape_is_an_error():
    class Broken(FakeScorer):
        def predict_proba(self, texts, headings=None):
            return super().predict_proba(texts)[:, :3]

    with pytest.raises(RuntimeError, match=r"returned shape \(3, 3\), expected \(3, 7\)"):
        score_clauses(CLAUSES, Broken(), POLICY)


def _row(label: str, p: float = 0.94) -> dict:
    return {"label": label, "probabilities": {lab: (p if lab == label else (1 - p) / 6) for lab in LABEL_IDS}}


def test_default_rule_answers_yes_when_any_clause_label_maps_to_the_question():
    answers = contract_answers([_row("exclusion", 0.40), _row("none")])
    assert (answers.has_cap, answers.has_uncapped) == (True, False)
    # p_cap: the best clause's summed probability of the four cap labels.
    assert answers.p_cap == pytest.approx(0.40 + 3 * 0.10)
    assert answers.p_uncapped == pytest.approx(2 * 0.10)
    assert contract_answers([]) == contract_answers([], ContractRule())
    assert not contract_answers([]).has_cap and contract_answers([]).p_cap == 0.0


def test_max_prob_rule_answers_from_the_probability_not_the_label():
    rule = ContractRule.model_validate({"cap": {"method": "max_prob", "threshold": 0.8},
                                        "uncapped": {"method": "max_prob", "threshold": 0.15}})
    answers = contract_answers([_row("exclusion", 0.40), _row("none")], rule)
    assert (answers.has_cap, answers.has_uncapped) == (False, True)  # 0.70 < 0.8; 0.20 >= 0.15


def test_answers_read_scored_clauses_rows_and_stored_predictions_alike():
    scored = score_clauses(CLAUSES, FakeScorer(), POLICY)

    @dataclass
    class Stored:
        label: str
        probs: dict

    stored = [Stored(s.label, s.probabilities) for s in scored]
    rows = [s.row() for s in scored]
    assert contract_answers(scored) == contract_answers(rows) == contract_answers(stored)
    assert question_probability(scored[1].probabilities, "uncapped") == pytest.approx(0.92)


def test_a_versions_rule_comes_from_its_card_and_defaults_to_any_label(tmp_path):
    version = ModelVersion("v1", tmp_path)
    (tmp_path / "card.json").write_text(json.dumps({"version": "v1"}))
    assert contract_rule(version) == ContractRule() == contract_rule(None)
    (tmp_path / "card.json").write_text(json.dumps({"contract_rule": {
        "cap": {"method": "max_prob", "threshold": 0.6}, "source": "training.thresholds on validation"}}))
    rule = contract_rule(version)
    assert rule.cap.method == "max_prob" and rule.cap.threshold == 0.6 and rule.uncapped.method == "any_label"
    assert contract_rule(ModelVersion("gone", Path("/nonexistent"))) == ContractRule()


@pytest.mark.parametrize("bad, message", [
    ({"cap": {"method": "max_prob"}}, "max_prob needs a threshold"),
    ({"cap": {"method": "vote"}}, "cap.method"),
    ({"cap": {"method": "max_prob", "threshold": 1.5}}, "cap.threshold"),
    ({"capped": {}}, "capped: Extra inputs are not permitted"),
])
def test_an_invalid_rule_names_the_version_and_the_field(tmp_path, bad, message):
    (tmp_path / "card.json").write_text(json.dumps({"contract_rule": bad}))
    with pytest.raises(ContractRuleError, match=f"model version 'v1' has an invalid contract_rule: .*{message}"):
        contract_rule(ModelVersion("v1", tmp_path))


def test_the_contract_rule_that_training_writes_is_read_back():
    # the card entry training.thresholds.fit_contract_rule writes must be a rule scoring accepts
    import numpy as np

    from app.scoring import ContractRule
    from app.taxonomy import LABEL2ID
    from training.evaluate import cuad_contract_answers
    from training.thresholds import fit_contract_rule

    answers = cuad_contract_answers()
    names = sorted(answers)[:8]
    probs = np.zeros((len(names), 7))
    for i, name in enumerate(names):
        yes = answers[name]["cuad_cap"] == "Yes"
        probs[i, LABEL2ID["capped"]], probs[i, LABEL2ID["none"]] = (0.9, 0.1) if yes else (0.1, 0.9)
    written = fit_contract_rule(probs, [{"contract": n} for n in names])
    rule = ContractRule(**written)
    assert rule.cap.method == "max_prob" and 0.1 < rule.cap.threshold <= 0.9
