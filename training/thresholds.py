"""Fit per-label auto-accept thresholds on validation so accepted clauses reach a target precision.

    python -m training.thresholds --model VERSION --precision 0.98

For each label, among validation clauses whose top label it is and that the near-miss and
floor rules would not already send to review, the threshold is the lowest top probability
at which the clauses at or above it are right at least `precision` of the time, with at
least `min_support` of them. A label with too little evidence gets threshold 1.0 (in
practice: always reviewed). Writes policy.yaml into the version folder.
"""
from __future__ import annotations

import argparse
import sys

import numpy as np

from app.registry import ModelVersionNotFound, Registry
from app.taxonomy import LABEL_IDS
from training.evaluate import EvaluationError, label_ids, real_rows, version_dataset, version_logits

NEVER = 1.0
# The guideline's costly error is an `uncapped` clause accepted wrongly: its threshold never
# drops below this, whatever validation says (the default policy's value).
UNCAPPED_MIN = 0.95


def pick_threshold(confidence: np.ndarray, correct: np.ndarray, precision: float, min_support: int) -> float:
    """Lowest t with precision(confidence >= t) >= `precision` over >= min_support clauses, else NEVER."""
    order = np.argsort(-confidence, kind="stable")
    conf, ok = confidence[order], correct[order].astype(float)
    cum_precision = np.cumsum(ok) / np.arange(1, len(ok) + 1)
    best = NEVER
    for k in range(len(conf)):
        # Ties: a threshold admits every clause with that confidence, so only the last of a tie counts.
        if k + 1 < len(conf) and conf[k + 1] == conf[k]:
            continue
        if k + 1 >= min_support and cum_precision[k] >= precision:
            best = float(conf[k])
    return best


def fit_policy(probs: np.ndarray, labels: np.ndarray, base, *, precision: float, min_support: int,
               source: str):
    """A Policy with `base`'s floor and margin and thresholds fitted on these validation probabilities."""
    from app.routing import Policy

    gate = Policy(floor=base.floor, near_miss_margin=base.near_miss_margin, thresholds={})
    eligible = np.array([gate.decide(dict(zip(LABEL_IDS, map(float, p)))).action == "auto_accept" for p in probs])
    top, conf = probs.argmax(axis=1), probs.max(axis=1)
    thresholds, stats = {}, {}
    for i, label in enumerate(LABEL_IDS):
        m = eligible & (top == i)
        t = pick_threshold(conf[m], top[m] == labels[m], precision, min_support)
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
    from app.classifier import Classifier, softmax
    from app.routing import load_policy

    clf = Classifier.load(version, registry=registry)
    mv = clf.version
    ds, _ = version_dataset(mv)
    rows = real_rows(ds, "validation")
    probs = softmax(version_logits(clf, [r["text"] for r in rows]), clf.temperature)
    base = load_policy(mv)
    source = (f"training.thresholds: model {mv.name}, {len(rows)} validation clauses, target precision "
              f"{precision}, min support {min_support}, temperature {clf.temperature:.3f}")
    policy, stats = fit_policy(probs, label_ids(rows), base, precision=precision, min_support=min_support,
                               source=source)
    policy.to_yaml(mv.path / "policy.yaml")
    return policy, stats, mv.name


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
