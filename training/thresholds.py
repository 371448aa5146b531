"""Fit per-label auto-accept thresholds, and the contract rule, on validation data.

    python -m training.thresholds --model VERSION --precision 0.98

For each label, among validation clauses whose top label it is and that the near-miss and
floor rules would not already send to review, the threshold is the lowest top probability
at which the clauses at or above it are right at least `precision` of the time, with at
least `min_support` of them. A label with too little evidence gets threshold 1.0 (in
practice: always reviewed). A version trained on segments is fitted on the validation segments,
each weighing what it stands for (unread `auto_none` segments are sampled), so the thresholds
hold for contracts as they are. Writes policy.yaml into the version folder.

The contract rule answers CUAD's two questions for a whole contract: Yes when its most likely
clause (app.scoring.question_probability) reaches a threshold fitted for F1 on the validation
contracts against CUAD's lawyers. A contract holds about a hundred clauses, so a per-clause
argmax rule turns one false clause into a false Yes; the threshold is written to the card
(`contract_rule`), where app/scoring.py reads it.
"""
from __future__ import annotations

import argparse
import sys

import numpy as np

from app.registry import ModelVersionNotFound, Registry
from app.taxonomy import LABEL_IDS
from training.evaluate import (EvaluationError, label_ids, real_rows, segment_rows, version_dataset, version_logits,
                               weights_of)

NEVER = 1.0
# The guideline's costly error is an `uncapped` clause accepted wrongly: its threshold never
# drops below this, whatever validation says (the default policy's value).
UNCAPPED_MIN = 0.95


def pick_threshold(confidence: np.ndarray, correct: np.ndarray, precision: float, min_support: int,
                   weights: np.ndarray | None = None) -> float:
    """Lowest t with (weighted) precision(confidence >= t) >= `precision` over >= min_support clauses, else NEVER."""
    order = np.argsort(-confidence, kind="stable")
    w = (np.ones(len(confidence)) if weights is None else np.asarray(weights, dtype=float))[order]
    conf, ok = confidence[order], correct[order].astype(float)
    cum_precision = np.cumsum(ok * w) / np.cumsum(w) if len(w) else ok
    best = NEVER
    for k in range(len(conf)):
        # Ties: a threshold admits every clause with that confidence, so only the last of a tie counts.
        if k + 1 < len(conf) and conf[k + 1] == conf[k]:
            continue
        if k + 1 >= min_support and cum_precision[k] >= precision:
            best = float(conf[k])
    return best


def fit_policy(probs: np.ndarray, labels: np.ndarray, base, *, precision: float, min_support: int,
               source: str, weights: np.ndarray | None = None):
    """A Policy with `base`'s floor and margin and thresholds fitted on these validation probabilities."""
    from app.routing import Policy

    gate = Policy(floor=base.floor, near_miss_margin=base.near_miss_margin, thresholds={})
    from app.scoring import decisions

    eligible = np.array([d.action == "auto_accept" for d in decisions(probs, gate)])
    top, conf = probs.argmax(axis=1), probs.max(axis=1)
    thresholds, stats = {}, {}
    for i, label in enumerate(LABEL_IDS):
        m = eligible & (top == i)
        t = pick_threshold(conf[m], top[m] == labels[m], precision, min_support,
                           None if weights is None else weights[m])
        if label == "uncapped":
            t = max(t, UNCAPPED_MIN)
        t = max(t, base.floor)
        accepted = m & (conf >= t)
        thresholds[label] = round(t, 6)
        stats[label] = {"threshold": t, "candidates": int(m.sum()), "accepted": int(accepted.sum()),
                        "precision": float((top[accepted] == labels[accepted]).mean()) if accepted.any() else None}
    return Policy(floor=base.floor, near_miss_margin=base.near_miss_margin, thresholds=thresholds,
                  source=source), stats


def fit_thresholds(version: str | None = None, *, registry: Registry | None = None, precision: float = 0.98,
                   min_support: int = 10) -> tuple:
    """Fit and write policy.yaml for a version; returns (policy, per-label stats, version name)."""
    from app.classifier import Classifier
    from app.routing import load_policy

    clf = Classifier.load(version, registry=registry)
    mv = clf.version
    ds, _ = version_dataset(mv)
    rows = segment_rows(ds, "validation") or real_rows(ds, "validation")
    probs = clf.calibrate(version_logits(clf, rows))
    base = load_policy(mv)
    kind = "segments" if rows[0]["source"] != "cuad" else "clauses"
    source = (f"training.thresholds: model {mv.name}, {len(rows)} validation {kind}, target precision "
              f"{precision}, min support {min_support}, temperature {clf.temperature:.3f}"
              f"{', per-label bias' if clf.bias is not None else ''}")
    policy, stats = fit_policy(probs, label_ids(rows), base, precision=precision, min_support=min_support,
                               source=source, weights=weights_of(rows))
    policy.to_yaml(mv.path / "policy.yaml")
    if kind == "segments":
        rule = fit_contract_rule(probs, rows)
        if rule:
            mv.update_card(contract_rule=rule)
    return policy, stats, mv.name


def contract_probabilities(probs: np.ndarray, rows: list[dict]) -> dict[str, dict[str, float]]:
    """contract -> {question ("cap", "uncapped"): probability of Yes, as app.scoring computes it at serving
    time: the highest, over the contract's segments, of the summed probability of the mapped labels}."""
    from app.scoring import QUESTIONS, question_probability
    from app.taxonomy import LABEL_IDS

    out: dict[str, dict[str, float]] = {}
    for row, p in zip(rows, probs):
        named = dict(zip(LABEL_IDS, map(float, p)))
        best = out.setdefault(row["contract"], {q: 0.0 for q in QUESTIONS})
        for q in QUESTIONS:
            best[q] = max(best[q], question_probability(named, q))
    return out


def best_f1_threshold(scores: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    """(threshold, F1): the threshold halfway between neighbouring scores that maximises F1 (ties: the
    widest margin), so a contract scored a hair above a validation one is not answered by chance."""
    from sklearn.metrics import f1_score

    values = np.unique(scores)
    cuts = np.concatenate([[values[0] / 2], (values[1:] + values[:-1]) / 2, [(values[-1] + 1) / 2]])
    best = max(((f1_score(truth, scores >= t, zero_division=0), -abs(t - 0.5), t) for t in cuts))
    return float(best[2]), float(best[0])


def fit_contract_rule(probs: np.ndarray, rows: list[dict]) -> dict | None:
    """Per CUAD question, the threshold on the contract probability that maximises F1 on validation
    contracts with a CUAD answer; None when no validation contract has one."""
    from app.scoring import QUESTIONS
    from training.evaluate import cuad_contract_answers

    answers = cuad_contract_answers()
    per_contract = {c: p for c, p in contract_probabilities(probs, rows).items() if c in answers}
    if not per_contract:
        return None
    names = sorted(per_contract)
    rule = {}
    for key in QUESTIONS:
        scores = np.array([per_contract[c][key] for c in names])
        truth = np.array([answers[c][f"cuad_{key}"] == "Yes" for c in names])
        threshold, f1 = best_f1_threshold(scores, truth)
        rule[key] = {"method": "max_prob", "threshold": round(threshold, 6),
                     "fitted_on": f"{len(names)} validation contracts ({int(truth.sum())} Yes)",
                     "validation_f1": round(f1, 4)}
    return rule


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.thresholds", description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="model version (default: the active one)")
    parser.add_argument("--precision", type=float, default=0.98, help="target precision of auto-accepted clauses")
    parser.add_argument("--min-support", type=int, default=10,
                        help="fewest validation clauses a threshold must rest on")
    args = parser.parse_args(argv)
    if not 0 < args.precision <= 1:
        parser.error("--precision must lie in (0, 1]")
    from app.classifier import ClassifierError
    from app.routing import PolicyError

    try:
        policy, stats, name = fit_thresholds(args.model, precision=args.precision, min_support=args.min_support)
    except (ModelVersionNotFound, ClassifierError, EvaluationError, PolicyError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"model {name}: policy written ({policy.source})")
    print("| label | threshold | validation candidates | accepted | precision |\n|---|---|---|---|---|")
    for label, s in stats.items():
        p = "n/a" if s["precision"] is None else f"{s['precision']:.3f}"
        print(f"| {label} | {s['threshold']:.3f} | {s['candidates']} | {s['accepted']} | {p} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
