"""The review queue's order, measured: contract-level F1 after k reviews, for three orders.

    python -m training.active_learning [--model VERSION] [--k-max N] [--points 25] [--seeds 5]

On the validation split of a model version (its segments as the product cuts them, else its real
clauses), the clauses its routing policy sends to review are "reviewed" k at a time in (a) the
queue's order (app.queue_order: uncertainty weighted by what the clause decides in its contract),
(b) the former order (near misses first, then the least confident) and (c) random order; a reviewed
clause takes its gold label (probability 1). After each k, every validation contract is answered
with the version's contract rule (app.scoring.contract_answers) and scored against CUAD's answers.
Writes reports/active-learning.png and reports/active-learning.md.
"""
from __future__ import annotations

import argparse
import random
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from app.config import ROOT
from app.queue_order import Candidate, deciding_clauses, prioritise
from app.routing import Policy
from app.scoring import ContractRule, contract_answers
from app.taxonomy import LABEL_IDS

REPORTS = ROOT / "reports"
QUESTIONS = (("has_cap", "cuad_cap"), ("has_uncapped", "cuad_uncapped"))
REFRESH = 10     # the queue order is recomputed after this many reviews (the app recomputes at every claim)


@dataclass
class Curve:
    name: str
    ks: list[int]
    f1: list[float]                  # mean of the two questions' F1
    by_question: dict[str, list[float]]


def _probs_dicts(probs: np.ndarray) -> list[dict[str, float]]:
    return [{label: float(p) for label, p in zip(LABEL_IDS, row, strict=True)} for row in probs]


def contract_f1(rows: Sequence[dict], probs: list[dict[str, float]], truth: dict[str, dict],
                rule: ContractRule) -> dict[str, float]:
    """F1 of has_cap and has_uncapped over the contracts of `rows` that CUAD answers, and their mean."""
    from sklearn.metrics import f1_score

    by_contract: dict[str, list[dict]] = {}
    for row, p in zip(rows, probs, strict=True):
        by_contract.setdefault(row["contract"], []).append({"label": max(p, key=p.get), "probabilities": p})
    names = sorted(c for c in by_contract if c in truth)
    answers = {c: contract_answers(by_contract[c], rule) for c in names}
    out = {}
    for ours, theirs in QUESTIONS:
        out[ours] = float(f1_score([truth[c][theirs] == "Yes" for c in names],
                                   [getattr(answers[c], ours) for c in names], zero_division=0))
    out["mean"] = (out["has_cap"] + out["has_uncapped"]) / 2
    return out


def current_order(queue: list[int], probs: list[dict[str, float]], policy: Policy) -> list[int]:
    """The former queue: near misses first, then the least confident, then by position."""
    def key(i: int):
        decision = policy.decide(probs[i])
        return (decision.rule != "near_miss", decision.confidence, i)
    return sorted(queue, key=key)


def replay(rows: Sequence[dict], probs: np.ndarray, truth: dict[str, dict], rule: ContractRule, policy: Policy,
           *, ks: Sequence[int], order: str, seed: int = 0) -> list[dict[str, float]]:
    """Contract F1 after each k in `ks` reviews of the queue taken in `order` (value | current | random)."""
    current = _probs_dicts(probs)
    queue = [i for i, p in enumerate(current) if policy.decide(p).action == "review"]
    gold = [{label: float(label == r["label"]) for label in LABEL_IDS} for r in rows]
    contract_ids = {c: n for n, c in enumerate(sorted({r["contract"] for r in rows}))}
    if order == "current":
        sequence = current_order(queue, current, policy)
    elif order == "random":
        sequence = list(queue)
        random.Random(seed).shuffle(sequence)
    elif order != "value":
        raise ValueError(f"unknown order {order!r}; use value, current or random")
    results, done, left = [], 0, set(queue)
    next_up: list[int] = []
    for k in sorted(ks):
        while done < min(k, len(queue)):
            if order == "value":
                if not next_up or done % REFRESH == 0:
                    members = [i for i in range(len(rows))]
                    decides = deciding_clauses((i, contract_ids[rows[i]["contract"]], current[i]) for i in members)
                    next_up = [p.clause_id for p in prioritise(
                        (Candidate(i, contract_ids[rows[i]["contract"]], rows[i]["text"], current[i]) for i in left),
                        decides)]
                i = next_up.pop(0)
            else:
                i = sequence[done]
            current[i] = gold[i]
            left.discard(i)
            done += 1
        results.append(contract_f1(rows, current, truth, rule))
    return results


def curves(rows: Sequence[dict], probs: np.ndarray, truth: dict[str, dict], rule: ContractRule, policy: Policy, *,
           k_max: int | None = None, points: int = 25, seeds: int = 5) -> list[Curve]:
    n_queue = sum(policy.decide(p).action == "review" for p in _probs_dicts(probs))
    k_max = n_queue if k_max is None else min(k_max, n_queue)
    ks = sorted({int(round(x)) for x in np.linspace(0, k_max, max(2, points))})
    out = []
    for name, order in (("expected value (new queue)", "value"), ("near misses, then least confident (former)",
                                                                   "current")):
        res = replay(rows, probs, truth, rule, policy, ks=ks, order=order)
        out.append(Curve(name, ks, [r["mean"] for r in res], {q: [r[q] for r in res] for q, _ in QUESTIONS}))
    runs = [replay(rows, probs, truth, rule, policy, ks=ks, order="random", seed=s) for s in range(seeds)]
    out.append(Curve(f"random (mean of {seeds})", ks,
                     [float(np.mean([r[j]["mean"] for r in runs])) for j in range(len(ks))],
                     {q: [float(np.mean([r[j][q] for r in runs])) for j in range(len(ks))] for q, _ in QUESTIONS}))
    return out


def plot(path: Path, results: list[Curve], title: str) -> Path:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2))
    for curve in results:
        ax.plot(curve.ks, curve.f1, marker="o", markersize=3, label=curve.name)
    ax.set_xlabel("clauses reviewed (k)")
    ax.set_ylabel("contract-level F1 (mean of cap, uncapped)")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def report(path: Path, results: list[Curve], *, version: str, source: str, n_rows: int, n_queue: int,
           n_contracts: int) -> Path:
    ks = results[0].ks
    picks = sorted({ks[0], ks[len(ks) // 4], ks[len(ks) // 2], ks[(3 * len(ks)) // 4], ks[-1]})
    lines = ["# Active-learning curve: which review order helps the contract answers most", "",
             f"Model version `{version}`, validation split: {n_rows} {source}, {n_contracts} contracts with CUAD "
             f"answers, {n_queue} routed to review. A reviewed clause takes its gold label; after k reviews every "
             "contract is answered with the version's contract rule and scored against CUAD "
             "(F1 of has_cap and has_uncapped, and their mean).", "",
             "![active-learning curve](active-learning.png)", "",
             "| order | " + " | ".join(f"k={k}" for k in picks) + " |",
             "|---|" + "---|" * len(picks)]
    for curve in results:
        at = dict(zip(curve.ks, curve.f1, strict=True))
        lines.append(f"| {curve.name} | " + " | ".join(f"{at[k]:.3f}" for k in picks) + " |")
    lines += ["", "Per question (F1 at the same k):", "",
              "| order | question | " + " | ".join(f"k={k}" for k in picks) + " |", "|---|---|" + "---|" * len(picks)]
    for curve in results:
        for q, values in curve.by_question.items():
            at = dict(zip(curve.ks, values, strict=True))
            lines.append(f"| {curve.name} | {q} | " + " | ".join(f"{at[k]:.3f}" for k in picks) + " |")
    lines += ["", "Written by `python -m training.active_learning`."]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


def run(rows: list[dict], probs: np.ndarray, truth: dict[str, dict], rule: ContractRule, policy: Policy, *,
        version: str, source: str, out_dir: Path = REPORTS, k_max: int | None = None, points: int = 25,
        seeds: int = 5) -> list[Curve]:
    results = curves(rows, probs, truth, rule, policy, k_max=k_max, points=points, seeds=seeds)
    n_queue = sum(policy.decide(p).action == "review" for p in _probs_dicts(probs))
    n_contracts = len({r["contract"] for r in rows} & set(truth))
    plot(out_dir / "active-learning.png", results, f"{version}: contract F1 after k reviews (validation)")
    report(out_dir / "active-learning.md", results, version=version, source=source, n_rows=len(rows),
           n_queue=n_queue, n_contracts=n_contracts)
    return results


def load_inputs(version: str | None):
    """(rows, calibrated probabilities, CUAD answers, contract rule, policy, version name, what the rows are)."""
    from app.classifier import Classifier
    from app.routing import load_policy
    from app.scoring import contract_rule
    from training.evaluate import cuad_contract_answers, real_rows, segment_rows, version_dataset, version_logits

    clf = Classifier.load(version)
    mv = clf.version
    ds, _ = version_dataset(mv)
    rows, source = segment_rows(ds, "validation"), "segments"
    if not rows:
        rows, source = real_rows(ds, "validation"), "real clauses"
    probs = clf.calibrate(version_logits(clf, rows))
    return rows, probs, cuad_contract_answers(), contract_rule(mv), load_policy(mv), mv.name, source


def main(argv: list[str] | None = None, *, loader: Callable = load_inputs) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.active_learning", description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=None, help="model version (default: the active one)")
    parser.add_argument("--k-max", type=int, default=None, help="most reviews to replay (default: the whole queue)")
    parser.add_argument("--points", type=int, default=25, help="values of k on the curve")
    parser.add_argument("--seeds", type=int, default=5, help="random orders averaged")
    parser.add_argument("--out", type=Path, default=REPORTS, help="folder for active-learning.png and .md")
    args = parser.parse_args(argv)
    rows, probs, truth, rule, policy, name, source = loader(args.model)
    results = run(rows, probs, truth, rule, policy, version=name, source=source, out_dir=args.out, k_max=args.k_max,
                  points=args.points, seeds=args.seeds)
    for curve in results:
        print(f"{curve.name}: F1 {curve.f1[0]:.3f} -> {curve.f1[-1]:.3f} over k = {curve.ks[0]}..{curve.ks[-1]}")
    print(f"wrote {args.out / 'active-learning.png'} and {args.out / 'active-learning.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
