"""Contracts as the product sees them: segment, clause and contract figures of a version, beside a
TF-IDF + logistic-regression baseline trained on the same split.

    python -m training.evaluate_segments [--model VERSION] [--no-baseline]

Segment figures are over every read segment of the held-out contracts plus a weighted sample of
the unread `auto_none` ones (each weighing 1/share), so they describe whole contracts in their
real proportions (~97% `none`). Clause figures are over CUAD's own liability spans and other-topic
spans of the same contracts (what `python -m app classify` is given). Contract figures answer
CUAD's two questions with the version's contract rule (card["contract_rule"], fitted by
training.thresholds on validation contracts) against CUAD's lawyers; the unread segments left out
by the sample have no liability wording, so they seldom decide a contract's answer.
Writes eval/segments.md and eval/segments.json into the version folder.
"""
from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime, timezone

import numpy as np

from app.registry import ModelVersionNotFound, Registry
from app.scoring import QUESTIONS
from training.evaluate import (EvaluationError, cuad_contract_answers, fmt, label_ids, real_rows, segment_rows,
                               version_dataset, version_logits, weights_of)
from training.metrics import label_metrics

def routing_figures(probs: np.ndarray, labels: np.ndarray, weights: np.ndarray, policy) -> dict:
    from app.scoring import decisions as decide

    decisions = decide(probs, policy)
    accepted = np.array([d.action == "auto_accept" for d in decisions])
    correct = probs.argmax(axis=1) == labels
    return {"review_share": float(weights[~accepted].sum() / weights.sum()),
            "auto_accept_precision": (float((weights * correct)[accepted].sum() / weights[accepted].sum())
                                      if accepted.any() else None)}


def contract_figures(probs: np.ndarray, rows: list[dict], rule: dict | None) -> dict:
    """P/R/F1 per CUAD question for the contracts of `rows` that CUAD answered."""
    from sklearn.metrics import precision_recall_fscore_support

    from training.thresholds import contract_probabilities

    answers = cuad_contract_answers()
    per = {c: p for c, p in contract_probabilities(probs, rows).items() if c in answers}
    names = sorted(per)
    out = {"n_contracts": len(names)}
    for key in QUESTIONS:
        threshold = (rule or {}).get(key, {}).get("threshold", 0.5)
        truth = [answers[c][f"cuad_{key}"] == "Yes" for c in names]
        said = [per[c][key] >= threshold for c in names]
        p, r, f, _ = precision_recall_fscore_support(truth, said, average="binary", zero_division=0)
        out[key] = {"precision": float(p), "recall": float(r), "f1": float(f), "threshold": threshold,
                    "yes": int(sum(truth)), "said_yes": int(sum(said))}
    return out


def baseline_probs(ds, use_headings: bool, splits=("validation", "test")) -> dict[str, np.ndarray]:
    """TF-IDF (word 1-2 grams) + balanced logistic regression on the same training records (the lexical
    companion of app/lexical.py, fitted alone); probabilities calibrated like the model's (temperature
    and bias on validation segments)."""
    from app.encoding import model_text
    from app.lexical import LexicalModel

    lexical = LexicalModel.fit_records(ds["train"], use_headings)
    logits = {f"{split}/{kind}": lexical.logits([model_text(r["text"], r["heading"] if use_headings else None)
                                                 for r in rows])
              for split in dict.fromkeys(("validation", *splits))
              for kind, rows in (("segments", segment_rows(ds, split)), ("clauses", real_rows(ds, split)))}
    return recalibrated(logits, segment_rows(ds, "validation"))


def recalibrated(logits: dict[str, np.ndarray], val_rows: list[dict]) -> dict[str, np.ndarray]:
    """Probabilities of raw logits under a temperature and bias fitted on the validation segments."""
    from app.classifier import softmax
    from training.calibrate import fit

    t, b = fit(logits["validation/segments"], label_ids(val_rows), weights_of(val_rows), bias=True)
    return {k: softmax(z, t, b) for k, z in logits.items()}


def shipped_probs(clf, rows: list[dict]) -> np.ndarray:
    """What the version serves for `rows`: calibrated probabilities, screened by its first stage if it has one."""
    return clf.screened(clf.calibrate(version_logits(clf, rows)), [r["text"] for r in rows],
                        [r.get("heading") or "" for r in rows])


def evaluate_segments(version: str | None = None, *, registry: Registry | None = None, baseline: bool = True) -> dict:
    from app.classifier import Classifier
    from app.routing import load_policy
    from training.thresholds import fit_contract_rule, fit_policy

    clf = Classifier.load(version, registry=registry)
    mv = clf.version
    ds, _ = version_dataset(mv)
    if not segment_rows(ds, "test"):
        raise EvaluationError(f"model version {mv.name!r} was trained without the segment file")
    policy, rule = load_policy(mv), mv.card.get("contract_rule")
    result = {"version": mv.name, "created": datetime.now(timezone.utc).isoformat(timespec="seconds"), "systems": {}}
    systems = {"model": {f"{s}/{k}": shipped_probs(clf, rows)
                         for s in ("validation", "test")
                         for k, rows in (("segments", segment_rows(ds, s)), ("clauses", real_rows(ds, s)))}}
    if clf.lexical_weight:  # an ensemble ships: the DoRA model alone is reported beside it
        lexical, clf.lexical = clf.lexical, None
        systems["model_alone"] = recalibrated({f"{s}/{k}": version_logits(clf, rows)
                                              for s in ("validation", "test")
                                              for k, rows in (("segments", segment_rows(ds, s)),
                                                              ("clauses", real_rows(ds, s)))},
                                             segment_rows(ds, "validation"))
        clf.lexical = lexical
    if baseline:
        systems["tfidf"] = baseline_probs(ds, bool((mv.card.get("train_config") or {}).get("use_headings")))
    for name, probs in systems.items():
        if name == "model":
            sys_policy, sys_rule = policy, rule
        else:  # the baseline gets its own thresholds and rule, fitted on validation the same way
            val = segment_rows(ds, "validation")
            sys_policy, _ = fit_policy(probs["validation/segments"], label_ids(val), policy, precision=0.98,
                                       min_support=10, source="baseline", weights=weights_of(val))
            sys_rule = fit_contract_rule(probs["validation/segments"], val)
        seg, cl = segment_rows(ds, "test"), real_rows(ds, "test")
        result["systems"][name] = {
            "segments": label_metrics(label_ids(seg), probs=probs["test/segments"], weights=weights_of(seg)),
            "routing": routing_figures(probs["test/segments"], label_ids(seg), weights_of(seg), sys_policy),
            "clauses": label_metrics(label_ids(cl), probs=probs["test/clauses"]),
            "contracts": contract_figures(probs["test/segments"], seg, sys_rule),
            "contract_rule": sys_rule,
        }
    out = mv.path / "eval"
    out.mkdir(exist_ok=True)
    (out / "segments.json").write_text(json.dumps(result, indent=2) + "\n")
    (out / "segments.md").write_text(markdown(result))
    return result


def markdown(r: dict) -> str:
    names = {"model": f"`{r['version']}` as shipped", "model_alone": "DoRA model alone",
             "tfidf": "TF-IDF + LR (same split)"}
    sys_ = r["systems"]
    cols = list(sys_)
    m0 = sys_["model"]
    lines = [f"# Contracts as the product sees them: `{r['version']}`", "",
             f"{r['created']}. Test split: {m0['segments']['n']} segments (weighted {m0['segments']['weighted_n']:.0f}: "
             f"unread `auto_none` sampled), {m0['clauses']['n']} CUAD clauses, {m0['contracts']['n_contracts']} "
             "contracts with CUAD answers; none of them trained on.", "",
             "| figure | " + " | ".join(names[c] for c in cols) + " |", "|---|" + "---|" * len(cols)]

    def row(title, get):
        lines.append(f"| {title} | " + " | ".join(fmt(get(sys_[c])) for c in cols) + " |")

    row("segment macro-F1 (labels present)", lambda s: s["segments"]["macro_f1"])
    for lab in ("carve_out", "capped", "uncapped", "exclusion", "indemnity"):
        row(f"segment F1 `{lab}`", lambda s, lab=lab: s["segments"]["per_label"][lab]["f1"])
    row("segment ECE", lambda s: s["segments"]["ece"])
    row("share of segments sent to review", lambda s: s["routing"]["review_share"])
    row("auto-accept precision", lambda s: s["routing"]["auto_accept_precision"])
    row("wrong share of `uncapped` segment predictions", lambda s: s["segments"]["uncapped_wrong_share"])
    row("clause macro-F1 (CUAD spans)", lambda s: s["clauses"]["macro_f1"])
    row("clause near-miss accuracy", lambda s: s["clauses"]["near_miss_accuracy"])
    row("clause ECE", lambda s: s["clauses"]["ece"])
    row("contract F1 Cap On Liability", lambda s: s["contracts"]["cap"]["f1"])
    row("contract F1 Uncapped Liability", lambda s: s["contracts"]["uncapped"]["f1"])
    lines += ["", "Contract answers (said Yes / CUAD Yes): " + "; ".join(
        f"{names[c]}: cap {sys_[c]['contracts']['cap']['said_yes']}/{sys_[c]['contracts']['cap']['yes']} "
        f"(threshold {sys_[c]['contracts']['cap']['threshold']:.3f}), uncapped "
        f"{sys_[c]['contracts']['uncapped']['said_yes']}/{sys_[c]['contracts']['uncapped']['yes']} "
        f"(threshold {sys_[c]['contracts']['uncapped']['threshold']:.3f})" for c in cols), "",
        "## Per label, segments (model)", "", "| label | precision | recall | F1 | support | predicted |",
        "|---|---|---|---|---|---|"]
    for lab, s in m0["segments"]["per_label"].items():
        lines.append(f"| {lab} | {fmt(s['precision'])} | {fmt(s['recall'])} | {fmt(s['f1'])} | {s['support']} | "
                     f"{s['predicted']} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.evaluate_segments", description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="model version (default: the active one)")
    parser.add_argument("--no-baseline", action="store_true", help="skip the TF-IDF + LR baseline")
    args = parser.parse_args(argv)
    from app.classifier import ClassifierError

    try:
        r = evaluate_segments(args.model, baseline=not args.no_baseline)
    except (ModelVersionNotFound, ClassifierError, EvaluationError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(markdown(r))
    return 0


if __name__ == "__main__":
    sys.exit(main())
