"""Reviewers' corrections -> a candidate model version -> the promotion gate.

    python -m training.retrain [--dry-run] [--config FILE] [--max-steps N] [--parent VERSION]

1. Collects the latest review of every reviewed clause from the database (and reports the clauses
   whose reviewers last said different labels).
2. Merges them into the parent's dataset: a correction overrides the record of the same clause,
   the parent's contract split stays fixed, and corrections on test contracts are held back for
   evaluation instead of training (training.corrections).
3. Trains a candidate with the parent's config (or --config), calibrates it and fits its routing
   thresholds, then scores parent and candidate side by side on the fixed test clauses and the
   held-back corrections.
4. Promotes the candidate (makes it active) only if the gate, comparing both clause by clause on the
   same test clauses, finds it no worse (`gate`: McNemar, paired bootstrap of macro-F1, counts for
   `uncapped` false positives and rare labels, the held-back corrections); on too few test clauses it
   does not decide. Otherwise the candidate stays registered but inactive.
   Either way the card records parent, data hash, corrections used and the decision with its reason.
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from tqdm import tqdm

from app.config import ROOT
from app.registry import ModelVersion, ModelVersionNotFound, Registry
from app.taxonomy import ID2LABEL, LABEL2ID
from data.build import DataConfig, DataError, build_dataset, load_fixed_split
from training.config import ConfigError, TrainConfig, load_config
from training.corrections import Correction, CorrectionSplit, split_corrections

MAX_MACRO_F1_DROP = 0.005  # 0.5 point of macro-F1 on the fixed test clauses
RUN_STAGES = ("train", "ensemble", "calibrate", "fit thresholds", "first stage", "evaluate", "decide")


class RetrainError(RuntimeError):
    """Retraining cannot start or finish; the message says what to fix."""


@dataclass
class RetrainPlan:
    parent: ModelVersion
    config: TrainConfig
    corrections: list[Correction]
    split: CorrectionSplit
    dataset: tuple  # (DatasetDict, DatasetInfo) the candidate trains on


@dataclass
class GateDecision:
    promoted: bool
    reason: str


# ---------------------------------------------------------------------------- plan


def collect_corrections(uow=None) -> list[Correction]:
    """The settled label of every reviewed clause, through the review services."""
    from app import services

    return [Correction(r["clause_id"], r["filename"], r["text"], r["label"], r["model_label"], r["reviewers"],
                       r.get("adjudicated", False))
            for r in services.reviewed_clauses(uow=uow)]


def parent_config(parent: ModelVersion, config_path: Path | None = None, **overrides) -> TrainConfig:
    """The config the parent was trained with (or `config_path`), with `overrides` applied."""
    overrides = {k: v for k, v in overrides.items() if v is not None}
    if config_path is not None:
        return load_config(config_path, **overrides)
    saved = dict(parent.card.get("train_config") or {})
    if not saved:
        raise RetrainError(f"model version {parent.name!r} records no train_config; pass --config FILE")
    # Data sources are saved by their place in the shared folder (DataConfig.to_card), and a source
    # switched off (null) stays off: the rebuilt dataset is the one the parent and evaluation use.
    try:
        return TrainConfig(**(saved | overrides))
    except ValueError as e:
        raise RetrainError(f"the train_config of {parent.name!r} is no longer valid ({e}); pass --config FILE") from e


def fixed_split_of(parent: ModelVersion, data_config: DataConfig) -> dict[str, str]:
    """The parent's contract -> split map; rebuilt with the parent's seed when it saved none."""
    path = parent.path / "split.json"
    if path.exists():
        return load_fixed_split(path)
    return build_dataset(data_config)[1].split_by_contract


def make_plan(corrections: list[Correction], parent: ModelVersion, config: TrainConfig) -> RetrainPlan:
    fixed = fixed_split_of(parent, config.data)
    split = split_corrections(corrections, fixed, config.data)
    dataset = build_dataset(config.data, corrections=split.train, fixed_split=fixed)
    return RetrainPlan(parent, config, corrections, split, dataset)


def describe(plan: RetrainPlan) -> str:
    """What the candidate would be trained on: for --dry-run and the log of a real run."""
    _, info = plan.dataset
    s = plan.split
    lines = [f"parent {plan.parent.name}; base {plan.config.base_model}, {plan.config.method} r={plan.config.r}, "
             f"max_steps {plan.config.max_steps}, epochs {plan.config.epochs}",
             f"{len(plan.corrections)} reviewed clauses: {len(s.train)} go to training "
             f"({s.overrides} override a dataset label, {len(s.train) - s.overrides} new), "
             f"{len(s.held_back)} held back (clauses of test contracts: evaluated on, never trained on)"]
    for c in s.disputed:
        said = ", ".join(f"{who}: {label}" for who, label in sorted(c.reviewers.items()))
        lines.append(f"  reviewers disagree on clause {c.clause_id} of {c.contract} ({said}); "
                     f"using the latest review: {c.label}")
    for split, by_source in info.counts.items():
        total = sum(sum(c.values()) for c in by_source.values())
        parts = "; ".join(f"{src} {dict(c)}" for src, c in sorted(by_source.items()))
        lines.append(f"{split}: {total} clauses ({parts})")
    lines += [f"data hash {info.data_hash}", *info.notes]
    return "\n".join(lines)


# ---------------------------------------------------------------------------- gate


def labels_of(rows: list[dict]) -> np.ndarray:
    return np.array([LABEL2ID[r["label"]] for r in rows], dtype=int)


def predict(version: str, rows: list[dict], registry: Registry) -> np.ndarray:
    """Label ids `version` predicts for `rows` (text, label); empty for no rows."""
    from app.classifier import Classifier
    from training.evaluate_segments import shipped_probs

    if not rows:
        return np.zeros(0, dtype=int)
    clf = Classifier.load(version, registry=registry)
    # What the version serves: a per-label calibration bias and a first stage can both move the argmax.
    # The logits underneath are the ones calibrate and evaluate already computed on the same test clauses.
    return shipped_probs(clf, rows).argmax(axis=1)


def metrics_of(y_true: np.ndarray, y_pred: np.ndarray) -> dict:
    from training.metrics import label_metrics

    return label_metrics(y_true, y_pred) if len(y_true) else {}


def score(version: str, rows: list[dict], registry: Registry) -> dict:
    """Metrics of `version` on `rows` (text, label), as training reports them."""
    return metrics_of(labels_of(rows), predict(version, rows, registry))


@dataclass
class Paired:
    """Gold labels and both versions' predicted label ids on the same clauses, in the same order."""

    y_true: np.ndarray
    parent: np.ndarray
    candidate: np.ndarray

    def __post_init__(self):
        self.y_true, self.parent, self.candidate = (np.asarray(a, dtype=int).reshape(-1)
                                                   for a in (self.y_true, self.parent, self.candidate))
        if not len(self.y_true) == len(self.parent) == len(self.candidate):
            raise ValueError("paired predictions must cover the same clauses")


# The gate compares the two versions clause by clause on the same test clauses (a paired design):
MIN_GATE_CLAUSES = 100      # fewer test clauses than this: no decision (one clause would swing macro-F1)
GATE_ALPHA = 0.05           # one-sided McNemar (exact binomial): candidate significantly more wrong -> refused
BOOTSTRAP_RESAMPLES = 2000  # paired bootstrap of the macro-F1 difference, fixed seed
BOOTSTRAP_SEED = 0
BOOTSTRAP_CONFIDENCE = 0.95  # refused when, with this confidence, macro-F1 drops by more than max_drop
RARE_SUPPORT = 20           # a label with fewer gold clauses is judged by counts, not rates
RARE_NET_LOSS = 1           # ... and may lose at most this many correct clauses net


def _macro_f1_samples(y: np.ndarray, pred: np.ndarray, idx: np.ndarray, labels: list[int]) -> np.ndarray:
    """Macro-F1 over `labels` for each resample (rows of `idx`), computed from counts."""
    ys, ps = y[idx], pred[idx]
    f1s = []
    for label in labels:
        tp = ((ys == label) & (ps == label)).sum(axis=1)
        fp = ((ys != label) & (ps == label)).sum(axis=1)
        fn = ((ys == label) & (ps != label)).sum(axis=1)
        denominator = 2 * tp + fp + fn
        f1s.append(np.where(denominator > 0, 2 * tp / np.maximum(denominator, 1), 0.0))
    return np.mean(f1s, axis=0)


def mcnemar_worse_p(parent_right: np.ndarray, candidate_right: np.ndarray) -> tuple[int, int, float]:
    """(b, c, p): clauses only the parent gets right, only the candidate gets right, and the one-sided exact
    McNemar p-value of "the candidate is wrong more often" (1.0 when the two never disagree)."""
    from scipy.stats import binomtest

    b = int((parent_right & ~candidate_right).sum())
    c = int((~parent_right & candidate_right).sum())
    p = binomtest(b, b + c, 0.5, alternative="greater").pvalue if b + c else 1.0
    return b, c, float(p)


def gate(parent: dict, candidate: dict, max_drop: float = MAX_MACRO_F1_DROP, *, paired: Paired | None = None,
         held_back: Paired | None = None, min_clauses: int | None = None) -> GateDecision:
    """Promote the candidate only if, on the same test clauses as its parent (`paired`), it is
    1. not significantly more often wrong (one-sided exact McNemar, GATE_ALPHA), with at most
       max_drop * n more wrong clauses net;
    2. not worse in macro-F1 by more than `max_drop` with BOOTSTRAP_CONFIDENCE (paired bootstrap);
    3. not making more false-positive `uncapped` predictions (a count, not a rate);
    4. on each rare label (under RARE_SUPPORT gold clauses), losing at most RARE_NET_LOSS correct clauses net;
    5. on the held-back corrections, if any, not wrong more often than the parent.
    No decision (not promoted) on an empty or too small test set, or without paired predictions.
    parent / candidate: their test metrics, for the figures in the reason. min_clauses: default MIN_GATE_CLAUSES.
    """
    min_clauses = MIN_GATE_CLAUSES if min_clauses is None else min_clauses
    if paired is None or not len(paired.y_true) or not parent or not candidate:
        return GateDecision(False, "not promoted: cannot decide: the test set is empty, or the two versions' "
                                   "predictions on the same test clauses are missing")
    y, n = paired.y_true, len(paired.y_true)
    if n < min_clauses:
        return GateDecision(False, f"not promoted: cannot decide on {n} test clauses (at least {min_clauses} "
                                   "needed: on fewer, one clause moves macro-F1 by points)")
    parent_right, candidate_right = paired.parent == y, paired.candidate == y
    b, c, p = mcnemar_worse_p(parent_right, candidate_right)
    errors = f"{int((~candidate_right).sum())} errors vs parent {int((~parent_right).sum())} on {n} clauses"
    figures = (f"{errors}; macro-F1 {candidate.get('macro_f1', float('nan')):.4f} vs parent "
               f"{parent.get('macro_f1', float('nan')):.4f}")
    if p < GATE_ALPHA:
        return GateDecision(False, f"not promoted: significantly more errors (McNemar one-sided p={p:.2g}: "
                                   f"{b} clauses only the parent gets right, {c} only the candidate); {figures}")
    allowed = max(1, int(max_drop * n))  # one clause either way is noise
    if b - c > allowed:
        return GateDecision(False, f"not promoted: {b - c} more wrong clauses net (at most {allowed} allowed); "
                                   f"{figures}")

    labels = sorted(set(y.tolist()))
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    idx = rng.integers(0, n, size=(BOOTSTRAP_RESAMPLES, n))
    diff = (_macro_f1_samples(y, paired.candidate, idx, labels) - _macro_f1_samples(y, paired.parent, idx, labels))
    if np.mean(diff < -max_drop) >= BOOTSTRAP_CONFIDENCE:
        return GateDecision(False, f"not promoted: macro-F1 drops by more than {100 * max_drop:.1f} point in "
                                   f"{100 * np.mean(diff < -max_drop):.0f}% of {BOOTSTRAP_RESAMPLES} paired "
                                   f"resamples (median change {100 * np.median(diff):+.2f} points); {figures}")

    uncapped = LABEL2ID["uncapped"]
    fp_parent = int(((paired.parent == uncapped) & (y != uncapped)).sum())
    fp_candidate = int(((paired.candidate == uncapped) & (y != uncapped)).sum())
    figures += f"; false-positive uncapped {fp_candidate} vs parent {fp_parent}"
    if fp_candidate > fp_parent:
        return GateDecision(False, f"not promoted: more false-positive uncapped predictions; {figures}")

    for label in labels:
        on_label = y == label
        support = int(on_label.sum())
        if support >= RARE_SUPPORT:
            continue
        lost = int((on_label & parent_right & ~candidate_right).sum())
        gained = int((on_label & ~parent_right & candidate_right).sum())
        if lost - gained > RARE_NET_LOSS:
            return GateDecision(False, f"not promoted: {lost - gained} fewer correct {ID2LABEL[label]} clauses "
                                       f"net (of {support}; at most {RARE_NET_LOSS}); {figures}")

    if held_back is not None and len(held_back.y_true):
        wrong_parent = int((held_back.parent != held_back.y_true).sum())
        wrong_candidate = int((held_back.candidate != held_back.y_true).sum())
        figures += f"; held-back corrections wrong {wrong_candidate} vs parent {wrong_parent}"
        if wrong_candidate > wrong_parent:
            return GateDecision(False, f"not promoted: more errors on the held-back corrections; {figures}")
    return GateDecision(True, f"promoted: McNemar p={p:.2g} ({b} vs {c}); {figures}")


# ---------------------------------------------------------------------------- run


def retrain(plan: RetrainPlan, *, registry: Registry | None = None, run_dir: Path | None = None,
            log=print) -> tuple[ModelVersion, GateDecision]:
    """Train, calibrate, evaluate and gate the candidate of `plan`; returns it and the decision."""
    from training.calibrate import calibrate
    from training.ensemble import add_lexical
    from training.evaluate import EvaluationError, evaluate, real_rows
    from training.first_stage import fit_first_stage
    from training.thresholds import fit_thresholds
    from training.train import train

    registry = registry or Registry()
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    run_dir = Path(run_dir or ROOT / "runs" / f"retrain-{stamp}")
    stages = tqdm(total=len(RUN_STAGES), desc="retrain", unit="stage", position=0, leave=True)
    stages.set_postfix_str(RUN_STAGES[0])

    def next_stage() -> None:
        stages.update(1)
        if stages.n < len(RUN_STAGES):
            stages.set_postfix_str(RUN_STAGES[stages.n])

    config = plan.config.model_copy(update={"tag": "retrain"})
    result = train(config, run_dir=run_dir, registry=registry, parent=plan.parent.name, log=log,
                   dataset=plan.dataset)
    candidate = result.version
    if candidate is None:  # a non-main process of a distributed launch: rank 0 decides
        stages.close()
        return None, GateDecision(False, "not the main process")
    next_stage()
    # The parent ships with what these stages add (a lexical companion, a first stage); a candidate
    # without them would be judged against a different kind of model. Each needs validation segments.
    try:
        add_lexical(candidate.name, registry=registry)
    except EvaluationError as e:
        log(f"no lexical companion: {e}")
    next_stage()
    calibration = calibrate(candidate.name, registry=registry)
    next_stage()
    fit_thresholds(candidate.name, registry=registry)
    next_stage()
    try:
        fit_first_stage(candidate.name, registry=registry)
    except EvaluationError as e:
        log(f"no first stage: {e}")
    next_stage()
    evaluate(candidate.name, registry=registry, progress=False)  # the full report in eval/, for the dashboard
    ds, info = plan.dataset
    test = real_rows(ds, "test")
    held = plan.split.held_back
    y_test, y_held = labels_of(test), labels_of(held)
    preds = {name: (predict(name, test, registry), predict(name, held, registry))
             for name in (plan.parent.name, candidate.name)}
    metrics = {name: {"test": metrics_of(y_test, test_pred), "held_back_corrections": metrics_of(y_held, held_pred)}
               for name, (test_pred, held_pred) in preds.items()}
    next_stage()
    (parent_test, parent_held), (candidate_test, candidate_held) = preds[plan.parent.name], preds[candidate.name]
    decision = gate(metrics[plan.parent.name]["test"], metrics[candidate.name]["test"],
                    paired=Paired(y_test, parent_test, candidate_test),
                    held_back=Paired(y_held, parent_held, candidate_held))
    if decision.promoted:
        registry.activate(candidate.name)
    next_stage()
    stages.close()
    candidate.update_card(
        parent=plan.parent.name,
        data_hash=info.data_hash,
        n_corrections=len(plan.split.train),
        retrain={
            "n_reviewed_clauses": len(plan.corrections),
            "n_corrections_used": len(plan.split.train),
            "n_overrides": plan.split.overrides,
            "n_held_back": len(held),
            "disputed_clause_ids": [c.clause_id for c in plan.split.disputed],
            "temperature": calibration.get("temperature"),
            "side_by_side": metrics,
        },
        promotion={"promoted": decision.promoted, "reason": decision.reason,
                   "rule": f"paired on the same test clauses (at least {MIN_GATE_CLAUSES}): not significantly more "
                           f"errors (one-sided McNemar, alpha {GATE_ALPHA}), at most {100 * MAX_MACRO_F1_DROP:.1f}% "
                           "more wrong clauses net, macro-F1 not lower by more than "
                           f"{100 * MAX_MACRO_F1_DROP:.1f} point with {BOOTSTRAP_CONFIDENCE:.0%} confidence (paired "
                           "bootstrap), no more false-positive uncapped predictions, rare labels judged by counts, "
                           "held-back corrections no worse",
                   "decided": datetime.now(timezone.utc).isoformat(timespec="seconds")},
    )
    # The records behind n_corrections, for audit: what reviewers changed and where each went.
    with (candidate.path / "corrections.jsonl").open("w", encoding="utf-8") as f:
        for split_name, records in (("train", plan.split.train), ("held_back", held)):
            for r in records:
                f.write(json.dumps(r | {"used_for": split_name}, ensure_ascii=False) + "\n")
    return candidate, decision


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.retrain", description=__doc__.split("\n\n")[0],
                                     epilog="example: python -m training.retrain --dry-run")
    parser.add_argument("--dry-run", action="store_true", help="show what the candidate would be trained on, "
                                                                 "then stop")
    parser.add_argument("--parent", help="version to retrain from (default: the active one)")
    parser.add_argument("--config", type=Path, help="training config instead of the parent's")
    parser.add_argument("--max-steps", type=int, help="override max_steps (quick trials, tests)")
    parser.add_argument("--run-dir", type=Path, help="checkpoints and logs (default: runs/retrain-<time>)")
    parser.add_argument("--database-url", help="database to read reviews from (default: LEXDORA_DATABASE_URL)")
    args = parser.parse_args(argv)

    from app.services import ServiceError, UnitOfWork
    from app.modeling import BaseModelError
    from training.train import TrainingError

    try:
        registry = Registry()
        parent = registry.get(args.parent)
        config = parent_config(parent, args.config, max_steps=args.max_steps)
        uow = None
        if args.database_url:
            from app.db.session import session_factory

            uow = UnitOfWork(session_factory(args.database_url))
        corrections = collect_corrections(uow)
        plan = make_plan(corrections, parent, config)
        print(describe(plan), flush=True)
        if args.dry_run:
            return 0
        if not corrections:
            print("no reviewed clauses yet: the candidate would be trained on the parent's data alone", flush=True)
        candidate, decision = retrain(plan, registry=registry, run_dir=args.run_dir)
    except (ModelVersionNotFound, ConfigError, DataError, RetrainError, ServiceError, BaseModelError,
            TrainingError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if candidate is not None:
        state = "now active" if decision.promoted else f"registered but inactive; active stays {registry.active_name()}"
        print(f"{candidate.name}: {decision.reason}\n{candidate.name} is {state}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
