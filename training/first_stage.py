"""Fit the first stage of a version (app/first_stage.py) and keep it only if it costs no answers.

    python -m training.first_stage [--model VERSION] [--alpha 0.005]

On validation segments: the lexical companion's logits are calibrated alone (temperature and bias,
in the segments' real proportions), then the threshold on its p(none) is the conformal bound of
liability segments (label != none) it did not learn from: the ceil((n+1)(1-alpha))-th smallest of
their p(none). Under exchangeability a new liability segment's p(none) is above it with probability
at most alpha, i.e. expected recall of liability segments >= 1 - alpha. Validation alone holds ~180
liability segments and the bound needs 199 at alpha 0.005, so the training contracts' liability
segments join them, each scored by a lexical model fitted without its contract (5 folds by contract,
as cross-conformal prediction does); those models saw 4/5 of the data, which errs on the safe side.
The stage is kept when, on
validation, recall of liability segments is >= 1 - alpha and neither contract answer's F1 drops by
more than MAX_CONTRACT_F1_DROP; the same figures on test are recorded beside them. Run after
training.ensemble, calibrate and thresholds (it screens what the version ships).
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
from training.evaluate import EvaluationError, label_ids, segment_rows, version_dataset, version_logits, weights_of

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


def out_of_fold_logits(train_rows: list[dict], use_headings: bool, folds: int = 5) -> tuple[list[dict], np.ndarray]:
    """(liability segments of the training split, their lexical logits from models fitted without their contract)."""
    from app.encoding import model_text
    from app.lexical import LexicalModel
    from data.build import SEGMENT

    contracts = sorted({r["contract"] for r in train_rows if r["source"] == SEGMENT})
    fold_of = {c: i % folds for i, c in enumerate(np.random.default_rng(0).permutation(contracts))}
    scored, logits = [], []
    for k in range(folds):
        held = [r for r in train_rows if r["source"] == SEGMENT and fold_of[r["contract"]] == k and r["label"] != "none"]
        # Rows of other sources (CUAD spans, synthetic clauses) train every fold unless from a held contract.
        model = LexicalModel.fit_records((r for r in train_rows if fold_of.get(r["contract"]) != k), use_headings)
        logits.append(model.logits([model_text(r["text"], r["heading"] if use_headings else None) for r in held]))
        scored += held
    return scored, np.concatenate(logits)


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
                    alpha: float = DEFAULT_ALPHA) -> dict:
    from app.classifier import Classifier, clear_cache
    from app.first_stage import FirstStage
    from app.lexical import LexicalModel
    from training.calibrate import fit

    clf = Classifier.load(version, registry=registry)
    mv = clf.version
    if not (mv.path / "lexical").is_dir():
        raise EvaluationError(f"model version {mv.name!r} has no lexical companion; run training.ensemble first")
    lexical = LexicalModel.load(mv.path / "lexical")
    clf.first_stage = None  # the full model on every segment is the reference
    ds, _ = version_dataset(mv)
    splits = {s: segment_rows(ds, s) for s in ("validation", "test")}
    if not splits["validation"]:
        raise EvaluationError(f"model version {mv.name!r} has no validation segments to fit a first stage on")
    # With lexical weight 0 the classifier loaded no companion; lexical_logits stays zero at weight 0 either way.
    clf.lexical = lexical
    raw = {s: clf.raw_lexical_logits([r["text"] for r in rows], [r.get("heading") or "" for r in rows])
           for s, rows in splits.items()}
    val = splits["validation"]
    t, b = fit(raw["validation"], label_ids(val), weights_of(val), bias=True)
    probe = FirstStage(1.0, t, tuple(float(x) for x in b))
    liability = label_ids(val) != NONE
    oof_rows, oof_logits = out_of_fold_logits(list(ds["train"]), clf.use_headings)
    scores = np.concatenate([probe.probs(raw["validation"])[liability, NONE], probe.probs(oof_logits)[:, NONE]])
    threshold = conformal_threshold(scores, alpha)
    stage = FirstStage(threshold, t, probe.bias)

    rule = mv.card.get("contract_rule")
    figures = {}
    for split, rows in splits.items():
        if not rows:
            continue
        full = clf.calibrate(version_logits(clf, rows))
        skipped = stage.skips(stage.probs(raw[split]))
        figures[split] = stage_figures(full, stage.screen(full, raw[split]), skipped, rows, rule)
    v = figures["validation"]
    kept = (threshold < 1.0 and (v["liability_recall"] or 0) >= 1 - alpha
            and all(v[f"contract_f1_{q}_before"] - v[f"contract_f1_{q}_after"] <= MAX_CONTRACT_F1_DROP
                    for q in QUESTIONS))
    record = {"kept": kept, "threshold": threshold, "temperature": t, "bias": list(probe.bias), "alpha": alpha,
              "method": "conformal bound on validation liability segments' stage-1 p(none)",
              "fitted_on": (f"{v['segments']} validation segments ({v['liability_segments']} liability) and "
                            f"{len(oof_rows)} training liability segments scored out of fold"),
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
    print(f"model {r['version']}: skip a segment when the lexical p(none) > {r['threshold']:.6f} "
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
