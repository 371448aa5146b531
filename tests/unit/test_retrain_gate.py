"""The promotion gate: both versions compared clause by clause on the same test clauses.

The figures of issue 12: on 178 test clauses with 1 `uncapped` and no `cap_and_collar`, a candidate with
71 errors (accuracy 0.601) was promoted over a parent with 40 (0.775) by the old macro-F1 rule.
"""
from __future__ import annotations

import numpy as np
import pytest

from app.taxonomy import LABEL2ID
from training.retrain import MIN_GATE_CLAUSES, Paired, gate, metrics_of

U, CAP, NONE, EXC, IND, CARVE = (LABEL2ID[k] for k in ("uncapped", "capped", "none", "exclusion", "indemnity",
                                                        "carve_out"))


def _test_set(n: int = 178, seed: int = 1) -> np.ndarray:
    """Gold labels like the shipped test set: mostly common labels, one `uncapped`."""
    rng = np.random.default_rng(seed)
    y = rng.choice([CAP, NONE, EXC, IND, CARVE], size=n, p=[0.3, 0.3, 0.15, 0.15, 0.1])
    y[7] = U
    return y


def _with_errors(y: np.ndarray, wrong: np.ndarray) -> np.ndarray:
    pred = y.copy()
    pred[wrong] = np.where(y[wrong] == NONE, CAP, NONE)  # a wrong label, never `uncapped`
    return pred


def _decide(y, parent_pred, candidate_pred, **kw):
    return gate(metrics_of(y, parent_pred), metrics_of(y, candidate_pred),
                paired=Paired(y, parent_pred, candidate_pred), **kw)


def test_71_errors_against_the_parents_40_is_refused():
    y = _test_set()
    rng = np.random.default_rng(2)
    parent_wrong = rng.choice(np.flatnonzero(y != U), size=40, replace=False)
    # The candidate gets the lone `uncapped` clause right where the parent missed it, which moved the
    # old macro-F1 rule, and is wrong on 71 clauses in all.
    parent_wrong[0] = 7
    parent = _with_errors(y, parent_wrong)
    parent[7] = CAP
    others = np.setdiff1d(np.arange(len(y)), [7])
    candidate = _with_errors(y, rng.choice(others, size=71, replace=False))
    assert (parent != y).sum() == 40 and (candidate != y).sum() == 71
    decision = _decide(y, parent, candidate)
    assert not decision.promoted
    assert "significantly more errors" in decision.reason and "71 errors vs parent 40 on 178" in decision.reason


def test_the_same_predictions_are_promoted_and_one_clause_either_way_is_noise():
    y = _test_set()
    parent = _with_errors(y, np.arange(10, 50))
    assert _decide(y, parent, parent.copy()).promoted
    candidate = parent.copy()
    candidate[60] = NONE if y[60] != NONE else CAP  # one more wrong clause
    decision = _decide(y, parent, candidate)
    assert decision.promoted, decision.reason


def test_a_better_candidate_is_promoted():
    y = _test_set()
    decision = _decide(y, _with_errors(y, np.arange(10, 50)), _with_errors(y, np.arange(10, 30)))
    assert decision.promoted and decision.reason.startswith("promoted: McNemar")


def test_false_positive_uncapped_are_counted_not_rated():
    # The old rule compared 9 wrong of 20 `uncapped` predictions (0.45) with 1 of 2 (0.5) and passed.
    y = _test_set(400)
    parent = y.copy()
    cand = y.copy()
    common = np.flatnonzero(y != U)
    parent[common[:1]] = U             # 1 false positive
    cand[common[:9]] = U               # 9 false positives
    parent = _with_errors(parent, common[100:110])  # the candidate is right elsewhere: fewer errors overall
    decision = _decide(y, parent, cand)
    assert not decision.promoted and "more false-positive uncapped" in decision.reason


def test_a_rare_label_is_judged_by_counts():
    y = _test_set(300)
    rare = np.flatnonzero(y == CARVE)[:3]
    y[np.flatnonzero(y == CARVE)[3:]] = CAP  # carve_out becomes rare: 3 clauses
    parent = y.copy()
    candidate = y.copy()
    candidate[rare[:2]] = NONE                 # two of three lost
    parent = _with_errors(parent, np.flatnonzero(y == CAP)[:3])  # though better overall
    decision = _decide(y, parent, candidate)
    assert not decision.promoted and "fewer correct carve_out clauses" in decision.reason


@pytest.mark.parametrize("n", [0, 1, MIN_GATE_CLAUSES - 1])
def test_no_decision_on_an_empty_or_too_small_test_set(n):
    y = _test_set(max(n, 10))[:n]
    decision = gate(metrics_of(y, y), metrics_of(y, y), paired=Paired(y, y, y))
    assert not decision.promoted and "cannot decide" in decision.reason


def test_no_decision_without_paired_predictions_and_no_key_error_on_empty_metrics():
    decision = gate({}, {})
    assert not decision.promoted and "cannot decide" in decision.reason
    assert not gate({"macro_f1": 0.7}, {"macro_f1": 0.9}).promoted


def test_the_held_back_corrections_are_a_second_check():
    y = _test_set()
    held = np.array([CAP, U, NONE, EXC])
    decision = _decide(y, y, y.copy(), held_back=Paired(held, held, np.array([CAP, CAP, NONE, EXC])))
    assert not decision.promoted and "held-back corrections" in decision.reason


def test_the_gate_is_deterministic():
    y = _test_set()
    parent, candidate = _with_errors(y, np.arange(0, 30)), _with_errors(y, np.arange(20, 55))
    assert _decide(y, parent, candidate) == _decide(y, parent, candidate)
