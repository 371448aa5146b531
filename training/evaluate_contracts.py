"""Whole-contract quality of a batch scoring run, against CUAD's contract-level answers.

    python -m app score ../shared/data/cuad/contracts_txt --output scores.jsonl
    python -m training.evaluate_contracts scores.jsonl [--json F] [--markdown F]

A contract answers CUAD's "Cap On Liability" / "Uncapped Liability" by the scoring model's own
contract rule (its card's `contract_rule`, app.scoring.contract_answers), exactly as `app score
--summary` answers it; a version without one answers Yes when any clause got a label of
app.taxonomy.CUAD_MAPPING. Contracts are grouped
by what the scoring model saw of them (its split.json): `test` and `unseen` (no clause of the
contract in any split) were never trained on and are the quality figures; `validation` steered
early stopping, calibration and thresholds; `train` was fitted and is shown only for contrast.

Reads the scores file rather than re-running the model: scoring the development set takes an hour
on two CPU cores, and this way the figures describe exactly the run that was shipped.
"""
from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

from app.registry import ModelVersionNotFound, Registry
from data.build import DataConfig, DataError, load_segments, shared_path
from training.evaluate import EvaluationError, answer_metrics, contract_metrics, cuad_contract_answers, fmt

# Report order: the groups never trained on first.
GROUPS = ("test", "unseen", "validation", "train")
# contract_metrics' keys for CUAD's two contract-level questions.
QUESTIONS = {"cuad_cap": "Cap On Liability", "cuad_uncapped": "Uncapped Liability"}
GROUP_NOTES = {
    "test": "held-out test split: never trained on or tuned on",
    "unseen": "no labelled clause, so in no split: never trained on",
    "validation": "steered early stopping, calibration and thresholds",
    "train": "trained on: optimistic, for contrast only",
}


def contract_rows(scores: Path) -> tuple[str, dict[str, list], dict[str, dict], list[str]]:
    """(model version, contract -> its clauses' {label, probabilities}, contract -> clause and review
    counts, contracts cut short) of a scores file. A contract whose rows stop before its n_clauses (a run
    killed while writing it) is left out: its missing clauses could change its answers."""
    from app.batch import read_rows
    from app.scoring import question_probability

    clauses: dict[str, list] = defaultdict(list)
    # Per question, the contract's most likely clause: the probability behind a Yes, for ranking metrics.
    counts: dict[str, dict] = defaultdict(lambda: {"clauses": 0, "review": 0, "expected": 0,
                                                   **{q: 0.0 for q in QUESTIONS}})
    versions = set()
    for row in read_rows(scores):
        name = Path(row["contract"]).stem
        versions.add(row["model_version"])
        clauses[name].append({"label": row["label"], "probabilities": row["probabilities"]})
        counts[name]["clauses"] += 1
        counts[name]["expected"] = int(row["n_clauses"])
        counts[name]["review"] += row["decision"] != "auto_accept"
        for q in QUESTIONS:
            counts[name][q] = max(counts[name][q], question_probability(row["probabilities"], q.removeprefix("cuad_")))
    if not clauses:
        raise EvaluationError(f"{scores} holds no scored clauses (or does not exist)")
    if len(versions) > 1:
        raise EvaluationError(f"{scores} mixes model versions {sorted(versions)}; score with one --model")
    partial = sorted(c for c, n in counts.items() if n["clauses"] != n["expected"])
    for name in partial:
        del clauses[name], counts[name]
    return versions.pop(), dict(clauses), dict(counts), partial


def segment_labels(segments: Path) -> dict[str, set[str]]:
    """Contract -> the labels of its segments in a labelled segment file (read and checked as training
    reads it). Answered by app.taxonomy's any-label rule, they are what a classifier that agreed with
    every label of the guideline would answer: where that differs from CUAD's lawyers, no clause
    model can do better by the mapping."""
    labels: dict[str, set[str]] = defaultdict(set)
    for row in load_segments(DataConfig(segments_path=segments)):
        labels[row["contract"]].add(row["label"])
    return dict(labels)


def evaluate_scores(scores: Path, *, registry: Registry | None = None, truth_file: Path | None = None,
                    segments: Path | None = None) -> dict:
    from app.scoring import contract_answers, contract_rule

    version, clauses, counts, partial = contract_rows(scores)
    mv = (registry or Registry()).get(version)
    split_file = mv.path / "split.json"
    if not split_file.exists():
        raise EvaluationError(f"model version {version!r} has no split.json: cannot tell held-out contracts")
    split = json.loads(split_file.read_text())
    truth = json.loads(truth_file.read_text()) if truth_file else cuad_contract_answers()
    unknown = sorted(set(clauses) - set(truth))
    rule = contract_rule(mv)
    answered = {}
    for c, rows in clauses.items():
        a = contract_answers(rows, rule)
        answered[c] = {"cuad_cap": a.has_cap, "cuad_uncapped": a.has_uncapped}

    labelled = segment_labels(segments) if segments is not None and segments.exists() else {}

    def metrics(names: list[str]) -> dict:
        from sklearn.metrics import average_precision_score, roc_auc_score

        m = answer_metrics({c: answered[c] for c in names}, truth)
        ceiling = [c for c in names if c in labelled]
        m["guideline_labels"] = contract_metrics({c: labelled[c] for c in ceiling}, truth) if ceiling else None
        for q in QUESTIONS:
            # How well the most likely clause ranks contracts, whatever the Yes rule: where a stricter
            # contract-level threshold could go. Undefined when the group has one answer only.
            y = [truth[c][q] == "Yes" for c in names]
            s = [counts[c][q] for c in names]
            both = 0 < sum(y) < len(y)
            m[q]["average_precision"] = float(average_precision_score(y, s)) if both else None
            m[q]["roc_auc"] = float(roc_auc_score(y, s)) if both else None
        m["clauses"] = sum(counts[c]["clauses"] for c in names)
        m["review_share"] = sum(counts[c]["review"] for c in names) / m["clauses"]
        return m

    group_of = {c: split.get(c, "unseen") for c in clauses if c in truth}
    groups = {g: metrics(sorted(c for c, cg in group_of.items() if cg == g))
              for g in GROUPS if g in group_of.values()}
    out = {"scores": str(scores), "model": version, "n_contracts": len(clauses),
           "n_clauses": sum(c["clauses"] for c in counts.values()), "groups": groups,
           "rule": rule.model_dump(), "not_in_cuad": unknown, "incomplete": partial}
    never_trained = sorted(c for c, g in group_of.items() if g in ("test", "unseen"))
    if never_trained:
        out["never_trained"] = metrics(never_trained)
        validation = sorted(c for c, g in group_of.items() if g == "validation")
        out["threshold_rule"] = {q: threshold_rule(q, validation, never_trained, counts, truth) for q in QUESTIONS}
    return out


def rule_text(rule: dict) -> str:
    """How the model's contract rule answers each question, in one sentence for the report."""
    from app.scoring import QUESTIONS as TITLES

    parts = []
    for key, title in TITLES.items():
        q = rule[key]
        parts.append(f"{title}: Yes when any clause gets a label of app.taxonomy.CUAD_MAPPING"
                     if q["method"] == "any_label" else
                     f"{title}: Yes when a clause's summed probability of the mapped labels reaches "
                     f"{q['threshold']:.3f} ({q['fitted_on'] or 'fitted by training.thresholds'})")
    return "; ".join(parts)


def threshold_rule(q: str, tune: list[str], report: list[str], counts: dict, truth: dict) -> dict | None:
    """A stricter contract rule, Yes when the most likely clause reaches a threshold: the threshold
    with the best F1 on the `tune` contracts, then precision/recall/F1 on the `report` ones."""
    from sklearn.metrics import precision_recall_curve, precision_recall_fscore_support

    y = [truth[c][q] == "Yes" for c in tune]
    if not 0 < sum(y) < len(y):
        return None
    precision, recall, thresholds = precision_recall_curve(y, [counts[c][q] for c in tune])
    f1 = 2 * precision * recall / np.maximum(precision + recall, 1e-12)
    best = int(np.argmax(f1[:-1]))  # the last point has no threshold
    tau = float(thresholds[best])
    y_true = [truth[c][q] == "Yes" for c in report]
    p, r, f, _ = precision_recall_fscore_support(y_true, [counts[c][q] >= tau for c in report],
                                                 average="binary", zero_division=0)
    return {"threshold": tau, "tune_f1": float(f1[best]), "precision": float(p), "recall": float(r), "f1": float(f)}


def markdown(m: dict) -> str:
    lines = [f"# Whole contracts: model `{m['model']}` on {m['n_contracts']} contracts ({m['n_clauses']} clauses)", "",
             f"Scores: `{m['scores']}`. The model's contract rule, as `app score --summary` applies it: "
             f"{rule_text(m['rule'])}.", "",
             "| contracts | n | clauses | to review | Cap P | Cap R | Cap F1 | Cap yes | Uncapped P | Uncapped R | "
             "Uncapped F1 | Uncapped yes |", "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    rows = [(g, m["groups"][g]) for g in GROUPS if g in m["groups"]]
    if "never_trained" in m and {"test", "unseen"} <= set(m["groups"]):   # else it repeats the one group
        rows.insert(sum(g in ("test", "unseen") for g, _ in rows), ("**never trained on (test + unseen)**",
                                                                     m["never_trained"]))
    for name, g in rows:
        cap, unc = g["cuad_cap"], g["cuad_uncapped"]
        lines.append(f"| {name} | {g['n_contracts']} | {g['clauses']} | {fmt(g['review_share'])} | "
                     f"{fmt(cap['precision'])} | {fmt(cap['recall'])} | {fmt(cap['f1'])} | "
                     f"{cap['predicted_positive']}/{cap['positives']} | {fmt(unc['precision'])} | {fmt(unc['recall'])} | "
                     f"{fmt(unc['f1'])} | {unc['predicted_positive']}/{unc['positives']} |")
    lines += ["", "`yes` columns: contracts predicted Yes / contracts CUAD answers Yes. Groups: "
              + "; ".join(f"{g}: {GROUP_NOTES[g]}" for g, _ in rows if g in GROUP_NOTES) + ".", "",
              "Ranking contracts by their most likely clause (sum of the probabilities of the question's labels):",
              "", "| contracts | Cap average precision | Cap ROC AUC | Uncapped average precision | Uncapped ROC AUC |",
              "|---|---|---|---|---|"]
    for name, g in rows:
        cap, unc = g["cuad_cap"], g["cuad_uncapped"]
        lines.append(f"| {name} | {fmt(cap['average_precision'])} | {fmt(cap['roc_auc'])} | "
                     f"{fmt(unc['average_precision'])} | {fmt(unc['roc_auc'])} |")
    rules = {q: r for q, r in (m.get("threshold_rule") or {}).items() if r}
    if rules:
        lines += ["", "For comparison, not what `app score --summary` uses: Yes when the most likely clause "
                  "reaches a threshold picked for F1 on the validation contracts of this scores file (every "
                  "segment of each), scored on the contracts never trained on:", "", "| question | threshold | validation F1 | precision | recall | F1 |",
                  "|---|---|---|---|---|---|"]
        for q, r in rules.items():
            lines.append(f"| {QUESTIONS[q]} | {fmt(r['threshold'])} | {fmt(r['tune_f1'])} | {fmt(r['precision'])} | "
                         f"{fmt(r['recall'])} | {fmt(r['f1'])} |")
    ceiling = [(name, g["guideline_labels"]) for name, g in rows if g.get("guideline_labels")]
    if ceiling:
        lines += ["", "The ceiling of the label mapping: contracts answered from the segment file's own labels "
                  "(Yes when any segment has a label of app.taxonomy.CUAD_MAPPING), i.e. by a classifier that agreed "
                  "with every label of the guideline:", "",
                  "| contracts | n | Cap P | Cap R | Cap F1 | Uncapped P | Uncapped R | Uncapped F1 |",
                  "|---|---|---|---|---|---|---|---|"]
        for name, g in ceiling:
            cap, unc = g["cuad_cap"], g["cuad_uncapped"]
            lines.append(f"| {name} | {g['n_contracts']} | {fmt(cap['precision'])} | {fmt(cap['recall'])} | "
                         f"{fmt(cap['f1'])} | {fmt(unc['precision'])} | {fmt(unc['recall'])} | {fmt(unc['f1'])} |")
    if m["not_in_cuad"]:
        lines += ["", f"Not in contracts.json, so not evaluated ({len(m['not_in_cuad'])}): "
                  + ", ".join(m["not_in_cuad"])]
    if m["incomplete"]:
        lines += ["", f"Cut short in the scores file, so not evaluated ({len(m['incomplete'])}): "
                  + ", ".join(m["incomplete"])]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.evaluate_contracts",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("scores", type=Path, help="output of python -m app score (JSONL or CSV)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--markdown", type=Path, help="also write the report here")
    parser.add_argument("--segments", type=Path, default=shared_path(Path("data/cuad/segments_dev.jsonl")),
                        help="labelled segments of the scored contracts, for the ceiling of the label mapping "
                             "(default: the development set's; left out when absent)")
    args = parser.parse_args(argv)
    try:
        m = evaluate_scores(args.scores, segments=args.segments)
    except (OSError, ModelVersionNotFound, EvaluationError, DataError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    report = markdown(m)
    print(report, end="")
    if args.json:
        args.json.write_text(json.dumps(m, indent=2) + "\n")
    if args.markdown:
        args.markdown.write_text(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
