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
4. Promotes the candidate (makes it active) only if test macro-F1 drops by at most 0.5 point and
   the false-positive `uncapped` rate does not rise; otherwise it stays registered but inactive.
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
from app.taxonomy import LABEL2ID
from data.build import DataConfig, DataError, build_dataset, load_fixed_split
from training.config import ConfigError, TrainConfig, load_config
from training.corrections import Correction, CorrectionSplit, split_corrections

MAX_MACRO_F1_DROP = 0.005  # 0.5 point of macro-F1 on the fixed test clauses
RUN_STAGES = ("train", "calibrate", "fit thresholds", "evaluate", "decide")


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


def score(version: str, rows: list[dict], registry: Registry) -> dict:
    """Metrics of `version` on `rows` (text, label), as training reports them."""
    from app.classifier import Classifier
    from training.evaluate import version_logits
    from training.train import classification_metrics

    if not rows:
        return {}
    clf = Classifier.load(version, registry=registry)
    # Calibration divides the logits by one temperature: the argmax, and so these metrics, do not change.
    # version_logits reuses what calibrate and evaluate already computed on the same test clauses.
    logits = version_logits(clf, rows)
    return classification_metrics(np.array([LABEL2ID[r["label"]] for r in rows]), logits.argmax(axis=1))


def gate(parent: dict, candidate: dict, max_drop: float = MAX_MACRO_F1_DROP) -> GateDecision:
    """Promote only if test macro-F1 drops by at most `max_drop` and the false-positive uncapped rate does not rise."""
    # No `uncapped` prediction at all is no false positive.
    fp_parent = parent["uncapped_false_positive_rate"] or 0.0
    fp_candidate = candidate["uncapped_false_positive_rate"] or 0.0
    drop = parent["macro_f1"] - candidate["macro_f1"]
    figures = (f"macro-F1 {candidate['macro_f1']:.4f} vs parent {parent['macro_f1']:.4f}, "
               f"false-positive uncapped rate {fp_candidate:.4f} vs {fp_parent:.4f}")
    if drop > max_drop + 1e-12:
        return GateDecision(False, f"not promoted: macro-F1 drops by {100 * drop:.2f} points "
                                   f"(at most {100 * max_drop:.1f} allowed); {figures}")
    if fp_candidate > fp_parent + 1e-12:
        return GateDecision(False, f"not promoted: false-positive uncapped rate rises; {figures}")
    return GateDecision(True, f"promoted: {figures}")


# ---------------------------------------------------------------------------- run


def retrain(plan: RetrainPlan, *, registry: Registry | None = None, run_dir: Path | None = None,
            log=print) -> tuple[ModelVersion, GateDecision]:
    """Train, calibrate, evaluate and gate the candidate of `plan`; returns it and the decision."""
    from training.calibrate import calibrate
    from training.evaluate import evaluate, real_rows
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
    calibration = calibrate(candidate.name, registry=registry)
    next_stage()
    fit_thresholds(candidate.name, registry=registry)
    next_stage()
    evaluate(candidate.name, registry=registry, progress=False)  # the full report in eval/, for the dashboard
    ds, info = plan.dataset
    test = real_rows(ds, "test")
    held = plan.split.held_back
    metrics = {name: {"test": score(name, test, registry), "held_back_corrections": score(name, held, registry)}
               for name in (plan.parent.name, candidate.name)}
    next_stage()
    decision = gate(metrics[plan.parent.name]["test"], metrics[candidate.name]["test"])
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
                   "rule": f"test macro-F1 drop <= {100 * MAX_MACRO_F1_DROP:.1f} point and false-positive "
                           "uncapped rate not higher than the parent's",
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
