"""Fit the first stage of a version (app/first_stage.py) and keep it only if it costs no answers.

    python -m training.first_stage [--model VERSION] [--alpha 0.005]

The detector (liability clause or not) is fitted on the version's training records plus every unread
`auto_none` segment of its training contracts (~22,000 the model never trains on), and its p(none) is
Platt-scaled on validation segments in their real proportions. The threshold on p(none) is the
conformal bound of liability segments (label != none) it did not learn from: the
ceil((n+1)(1-alpha))-th smallest of their p(none). Under exchangeability a new liability segment's
p(none) is above it with probability at most alpha, i.e. expected recall of liability segments
>= 1 - alpha. Validation alone holds ~180 liability segments and the bound needs 199 at alpha 0.005, so
the training contracts' liability segments join them, each scored by a detector fitted without its
contract (5 folds by contract, as cross-conformal prediction does); those detectors saw 4/5 of the data,
which errs on the safe side. The stage is kept when, on validation, recall of liability segments is
>= 1 - alpha and neither contract answer's F1 drops by more than MAX_CONTRACT_F1_DROP; the same
figures on test are recorded beside them. Run after training.ensemble, calibrate and thresholds (it
screens what the version ships).
"""
from __future__ import annotations

import argparse
import math
import sys
from datetime import datetime, timezone

import numpy as np

from app.registry import ModelVersionNotFound, Registry
from app.scoring import QUESTIONS
from app.taxonomy import LABEL2ID
from training.evaluate import (EvaluationError, label_ids, segment_rows, version_data_config, version_dataset,
                               version_logits, weights_of)

DEFAULT_ALPHA = 0.005          # issue 15: recall of liability segments >= 0.995
MAX_CONTRACT_F1_DROP = 0.01    # issue 15: contract-level F1 drops by at most 1 point
NONE = LABEL2ID["none"]


def conformal_threshold(liability_p_none: np.ndarray, alpha: float) -> float:
    """The smallest t such that skipping p(none) > t misses a new liability segment with probability <= alpha;
    1.0 (skip nothing) when there are too few liability segments to bound it."""
    n = len(liability_p_none)
    k = math.ceil((n + 1) * (1 - alpha))
    if k > n:
        return 1.0
    return float(np.sort(liability_p_none)[k - 1])


def detector_rows(ds, config, split_by_contract: dict[str, str]) -> list[dict]:
    """What the detector learns from: the training records and every unread segment of the training contracts."""
    from data.build import unread_training_segments

    rows = list(ds["train"])
    seen = {r["id"] for r in rows}
    return rows + [r for r in unread_training_segments(config, split_by_contract) if r["id"] not in seen]


def fit_detector(rows: list[dict], use_headings: bool):
    from app.encoding import model_text
    from app.first_stage import LiabilityDetector

    return LiabilityDetector.fit([model_text(r["text"], r["heading"] if use_headings else None) for r in rows],
                                 [r["label"] != "none" for r in rows])


def out_of_fold_scores(rows: list[dict], use_headings: bool, folds: int = 5) -> tuple[list[dict], np.ndarray]:
    """(liability segments of the training split, their raw detector scores from detectors fitted without
    their contract)."""
    from app.encoding import model_text
    from data.build import SEGMENT

    contracts = sorted({r["contract"] for r in rows if r["source"] == SEGMENT})
    fold_of = {c: i % folds for i, c in enumerate(np.random.default_rng(0).permutation(contracts))}
    scored, scores = [], []
    for k in range(folds):
        held = [r for r in rows if r["source"] == SEGMENT and fold_of[r["contract"]] == k and r["label"] != "none"]
        # Rows of other sources (CUAD spans, synthetic clauses) train every fold unless from a held contract.
        detector = fit_detector([r for r in rows if fold_of.get(r["contract"]) != k], use_headings)
        scores.append(detector.scores([model_text(r["text"], r["heading"] if use_headings else None) for r in held]))
        scored += held
    return scored, np.concatenate(scores)


def stage_figures(full: np.ndarray, screened: np.ndarray, skipped: np.ndarray, rows: list[dict], rule) -> dict:
    from training.evaluate_segments import contract_figures
    from training.metrics import label_metrics

    labels, w = label_ids(rows), weights_of(rows)
    liability = labels != NONE
    before, after = contract_figures(full, rows, rule), contract_figures(screened, rows, rule)
    return {
        "segments": int(len(rows)), "liability_segments": int(liability.sum()),
        "skip_share": float(w[skipped].sum() / w.sum()),
        "liability_recall": float(1 - skipped[liability].mean()) if liability.any() else None,
        "liability_skipped": int(skipped[liability].sum()),
        "macro_f1_before": label_metrics(labels, probs=full, weights=w)["macro_f1"],
        "macro_f1_after": label_metrics(labels, probs=screened, weights=w)["macro_f1"],
        **{f"contract_f1_{q}_before": before[q]["f1"] for q in QUESTIONS},
        **{f"contract_f1_{q}_after": after[q]["f1"] for q in QUESTIONS},
    }


def fit_first_stage(version: str | None = None, *, registry: Registry | None = None,
                    alpha: float = DEFAULT_ALPHA, log=print) -> dict:
    import shutil

    from app.classifier import Classifier, clear_cache
    from app.encoding import model_text
    from app.first_stage import FOLDER, FirstStage
    from app.lexical import LexicalModel
    from training.calibrate import fit

    clf = Classifier.load(version, registry=registry)
    mv = clf.version
    if not (mv.path / "lexical").is_dir():
        raise EvaluationError(f"model version {mv.name!r} has no lexical companion; run training.ensemble first")
    clf.first_stage = None  # the full model on every segment is the reference
    ds, info = version_dataset(mv)
    splits = {s: segment_rows(ds, s) for s in ("validation", "test")}
    val = splits["validation"]
    if not val:
        raise EvaluationError(f"model version {mv.name!r} has no validation segments to fit a first stage on")
    texts = {s: [model_text(r["text"], r["heading"] if clf.use_headings else None) for r in rows]
             for s, rows in splits.items()}
    liability = label_ids(val) != NONE

    training = detector_rows(ds, version_data_config(mv), info.split_by_contract)
    log(f"first stage: detector fitted on {len(training)} training records and segments "
        f"({sum(r['label'] != 'none' for r in training)} liability)")
    detector = fit_detector(training, clf.use_headings).calibrated(texts["validation"], weights_of(val), liability)
    oof_rows, oof_scores = out_of_fold_scores(training, clf.use_headings)
    p_none = {s: detector.p_none(t) for s, t in texts.items()}
    threshold = conformal_threshold(np.concatenate([p_none["validation"][liability],
                                                    detector.p_none_of_scores(oof_scores)]), alpha)
    # How a skipped segment's liability share is spread: the companion calibrated alone on validation.
    lexical = LexicalModel.load(mv.path / "lexical")
    raw = {s: lexical.logits(t) for s, t in texts.items()}
    t, b = fit(raw["validation"], label_ids(val), weights_of(val), bias=True)
    stage = FirstStage(threshold, t, tuple(float(x) for x in b), detector)

    rule = mv.card.get("contract_rule")
    figures = {}
    for split, rows in splits.items():
        if not rows:
            continue
        full = clf.calibrate(version_logits(clf, rows))
        figures[split] = stage_figures(full, stage.screen(full, p_none[split], raw[split]),
                                       stage.skips(p_none[split]), rows, rule)
    v = figures["validation"]
    kept = (threshold < 1.0 and (v["liability_recall"] or 0) >= 1 - alpha
            and all(v[f"contract_f1_{q}_before"] - v[f"contract_f1_{q}_after"] <= MAX_CONTRACT_F1_DROP
                    for q in QUESTIONS))
    shutil.rmtree(mv.path / FOLDER, ignore_errors=True)
    if kept:
        detector.save(mv.path / FOLDER)
    record = {"kept": kept, "threshold": threshold, "temperature": t, "bias": list(stage.bias), "alpha": alpha,
              "method": "binary TF-IDF detector (liability or not); conformal bound on liability segments' "
                        "calibrated p(none)",
              "fitted_on": (f"{v['segments']} validation segments ({v['liability_segments']} liability) and "
                            f"{len(oof_rows)} training liability segments scored out of fold; detector trained on "
                            f"{len(training)} training records and segments"),
              "created": datetime.now(timezone.utc).isoformat(timespec="seconds"), **figures}
    mv.update_card(first_stage=record)
    clear_cache()
    return {"version": mv.name, **record}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.first_stage", description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="model version (default: the active one)")
    parser.add_argument("--alpha", type=float, default=DEFAULT_ALPHA,
                        help="largest expected share of liability segments skipped")
    args = parser.parse_args(argv)
    from app.classifier import ClassifierError

    try:
        r = fit_first_stage(args.model, alpha=args.alpha)
    except (ModelVersionNotFound, ClassifierError, EvaluationError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"model {r['version']}: skip a segment when the detector's p(none) > {r['threshold']:.6f} "
          f"(alpha {r['alpha']}; {r['fitted_on']})")
    print("| split | segments skipped (weighted) | liability recall | liability skipped | macro-F1 before -> after "
          "| contract F1 cap before -> after | uncapped before -> after |\n|---|---|---|---|---|---|---|")
    for split in ("validation", "test"):
        if (f := r.get(split)) is None:
            continue
        print(f"| {split} | {f['skip_share']:.3f} | {f['liability_recall']:.4f} | {f['liability_skipped']} of "
              f"{f['liability_segments']} | {f['macro_f1_before']:.3f} -> {f['macro_f1_after']:.3f} | "
              f"{f['contract_f1_cap_before']:.3f} -> {f['contract_f1_cap_after']:.3f} | "
              f"{f['contract_f1_uncapped_before']:.3f} -> {f['contract_f1_uncapped_after']:.3f} |")
    print("kept: the classifier now skips those segments" if r["kept"] else
          "not kept: recall or contract answers would suffer; the model reads every segment")
    return 0


if __name__ == "__main__":
    sys.exit(main())
