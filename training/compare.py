"""LoRA vs DoRA at matched rank, plus the classical baseline, on the same data and split.

    python -m training.compare --config configs/default.yaml [--steps 40] [--out reports]

Rows:
- LoRA and DoRA: the config with only `method` changed (each method's learning rate rule
  unless the config sets one), the same data, split, seed, rank, batches and a fixed
  number of steps, no early stopping; scored on the real test clauses.
- TF-IDF + logistic regression (scikit-learn, class_weight="balanced") fitted on the same
  training split: the baseline a user would try first.

Wall time and peak memory come from each training run alone; the mean step time comes from
a separate phase where LoRA, DoRA and DoRA with lora_dropout > 0 take turns on the same
batches in this one process, so load drift on a shared CPU cancels out of their ratios
(the third one prices peft's extra base matmul under dropout). Writes Markdown and JSON.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from app.config import ROOT
from app.modeling import load_tokenizer
from app.registry import Registry
from app.taxonomy import LABEL2ID, LABEL_IDS
from data.build import build_dataset
from training.config import TrainConfig, load_config
from training.measure import PeakMemory, interleaved_step_times
from training.metrics import label_metrics
from training.train import build_model, train, training_batches


_NAMES = {"lora": "LoRA", "dora": "DoRA"}


def tfidf_baseline(config: TrainConfig) -> dict:
    """Fit TF-IDF (word 1-2 grams) + balanced logistic regression on train; score test."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    ds, info = build_dataset(config.data)
    started = time.perf_counter()
    with PeakMemory() as memory:
        pipe = make_pipeline(TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1),
                             LogisticRegression(class_weight="balanced", max_iter=3000, C=10.0))
        pipe.fit(ds["train"]["text"], [LABEL2ID[x] for x in ds["train"]["label"]])
        pred = pipe.predict(ds["test"]["text"])
    wall = time.perf_counter() - started
    clf = pipe[-1]
    return {"name": "TF-IDF + logistic regression", "method": "tfidf_logreg", "data_hash": info.data_hash,
            "metrics": label_metrics([LABEL2ID[x] for x in ds["test"]["label"]], pred),
            "params": {"trainable": int(clf.coef_.size + clf.intercept_.size)},
            "wall_time_s": round(wall, 2), "peak_memory_mb": round(memory.peak_mb, 1), "mean_step_s": None,
            "steps": None, "learning_rate": None}


def adapter_row(config: TrainConfig, work: Path, *, validate: bool = False, cache_dir: Path | None = None) -> dict:
    result = train(config, run_dir=work / f"run-{config.method}", registry=Registry(root=work / "registry"),
                   validate=validate, cache_dir=cache_dir)
    card = result.card
    return {"name": _NAMES[config.method], "method": config.method, "data_hash": card["data_hash"],
            "metrics": card["metrics"]["test"], "params": card["params"], "wall_time_s": card["wall_time_s"],
            "peak_memory_mb": card["peak_memory_mb"], "trainer_mean_step_s": card["mean_step_s"],
            "steps": card["steps"], "learning_rate": config.lr}


def shipped_default_row(data_hash: str, default_dir: Path | None = None) -> dict | None:
    """The shipped model's test figures from its card, when it was trained on this same data and split."""
    path = Path(default_dir or Registry().default_dir) / "card.json"
    if not path.exists():
        return None
    card = json.loads(path.read_text())
    if card.get("data_hash") != data_hash or not card.get("metrics", {}).get("test"):
        return None
    return {"name": f"{_NAMES[card['method']]}, shipped default (full run)", "method": f"default-{card['method']}",
            "data_hash": data_hash, "metrics": card["metrics"]["test"], "params": card["params"],
            "wall_time_s": card["wall_time_s"], "peak_memory_mb": card["peak_memory_mb"],
            "mean_step_s": card.get("mean_step_s"), "steps": card["steps"],
            "learning_rate": card["train_config"]["learning_rate"]}


def markdown(report: dict) -> str:
    rows, cfg = report["rows"], report["config"]
    top = f" of the top {cfg['adapt_top_layers']} layers" if cfg["adapt_top_layers"] else ""
    head = ["model", "steps", "lr", "accuracy", "macro-F1", *[f"F1 `{x}`" for x in LABEL_IDS],
            "wrong share of `uncapped` predictions", "trainable params", "wall time s", "peak memory MB", "mean step s"]
    lines = [f"# LoRA vs DoRA vs TF-IDF ({report['config_path']})", "",
             f"Real CUAD test clauses: {rows[0]['metrics']['n']} from contracts unseen in training "
             f"(data hash `{report['data_hash'][:16]}`). LoRA and DoRA: rank {cfg['r']}, alpha {cfg['alpha']}, "
             f"{', '.join(cfg['target_modules'])}{top}, "
             f"batch {cfg['batch_size']}, max length {cfg['max_length']}, seed {cfg['seed']}, the same batches, "
             + (f"**{report['steps']} steps each** (a short fixed budget, not the full default training; the "
                "shipped default's row, when present, is its own full run, read from its card)."
                if report["steps"] else "each trained fully, with the config's epochs and early stopping on "
                "validation macro-F1.") + " Test records: CUAD clauses and the held-out contracts' segments "
             "(unweighted here; `python -m training.evaluate_segments` weighs them and gives contract figures).", "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        m = r["metrics"]
        f1 = [("-" if m["per_label_f1"][x] is None else f"{m['per_label_f1'][x]:.2f}") for x in LABEL_IDS]
        fp = m["uncapped_wrong_share"]
        step = r.get("mean_step_s")
        lines.append("| " + " | ".join([
            r["name"], str(r["steps"] or "-"), f"{r['learning_rate']:g}" if r["learning_rate"] else "-",
            f"{m['accuracy']:.3f}", f"{m['macro_f1']:.3f}", *f1,
            "-" if fp is None else f"{fp:.2f} ({m['n_predicted_uncapped']} predicted)",
            f"{r['params']['trainable']:,}", f"{r['wall_time_s']:.0f}", f"{r['peak_memory_mb']:.0f}",
            "-" if step is None else f"{step:.2f}"]) + " |")
    t = report["step_time"]
    lines += ["", f"Mean step time: {t['rounds']} interleaved rounds (LoRA, DoRA, LoRA, ...) on the same "
                  f"batches in one process after one warm-up round; DoRA / LoRA = **{t['dora_over_lora']:.3f}** "
                  f"(dropout {cfg['dropout']:g}); DoRA with dropout {t['dropout']:g} / DoRA with dropout 0 = "
                  f"**{t['dora_dropout_over_dora']:.3f}** (mean step: "
                  + ", ".join(f"{k} {v:.2f} s" for k, v in t["mean_s"].items()) + "); the shipped default's "
                  "mean step is from its own run, with length-grouped batches. "
                  "Wall time includes loading, training and scoring the test clauses; peak memory is "
                  f"{report['peak_memory_kind']}. Per-label F1 is '-' for labels absent from the test "
                  "gold labels; macro-F1 averages the labels present. Support: "
                  + ", ".join(f"`{x}` {rows[0]['metrics']['support'][x]}" for x in LABEL_IDS) + ".",
              "", f"Command: `{report['command']}`"]
    return "\n".join(lines) + "\n"


def _step_times(base: TrainConfig, configs: dict, args) -> tuple[dict, dict]:
    """LoRA, DoRA and DoRA with dropout taking turns on the same batches (see the module docstring)."""
    tokenizer = load_tokenizer(base.base_model)
    timed = {**configs, f"dora_dropout{args.dropout:g}": configs["dora"].model_copy(update={"dropout": args.dropout})}
    models = {name: build_model(c, tokenizer) for name, c in timed.items()}
    times = interleaved_step_times(models, training_batches(base, tokenizer, args.timing_rounds + 1), log=print)
    return times, {name: statistics.mean(t) for name, t in times.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.compare", description=__doc__.split("\n\n")[0],
                                     epilog="example: python -m training.compare --config configs/default.yaml")
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--steps", type=int, default=None,
                        help="a fixed budget of optimiser steps for each of LoRA and DoRA, without validation "
                             "(default: the config's full training, early stopping included)")
    parser.add_argument("--cache-dir", type=Path,
                        help="lower-layer activation cache to share (default: runs/<tag>/cache, the one "
                             "python -m training.train --config <same config> built)")
    parser.add_argument("--timing-rounds", type=int, default=3, help="interleaved step-time rounds (after warm-up)")
    parser.add_argument("--dropout", type=float, default=0.1, help="dropout of the extra DoRA timing variant")
    parser.add_argument("--timing-only", action="store_true",
                        help="only the interleaved step-time phase (prints the ratios, writes no report)")
    parser.add_argument("--timing-batch-size", type=int, help="batch size of the timing phase (default: the config's)")
    parser.add_argument("--out", type=Path, default=ROOT / "reports", help="folder for the Markdown and JSON")
    args = parser.parse_args(argv)

    base = load_config(args.config)
    fixed = {"max_steps": args.steps if args.steps else -1, "eval_steps": None, "dropout": base.dropout}
    cache_dir = args.cache_dir or (ROOT / "runs" / (base.tag or "train") / "cache")
    configs = {m: base.model_copy(update={**fixed, "method": m, "tag": f"compare-{m}"}) for m in ("lora", "dora")}
    if args.timing_only:
        timed_base = base.model_copy(update={"batch_size": args.timing_batch_size or base.batch_size})
        times, mean = _step_times(timed_base, configs, args)
        print(json.dumps({"batch_size": timed_base.batch_size, "mean_s": mean,
                          "dora_over_lora": mean["dora"] / mean["lora"]}, indent=2))
        return 0
    rows = []
    with tempfile.TemporaryDirectory(prefix="lexdora-compare-") as tmp:
        for method in ("lora", "dora"):
            rows.append(adapter_row(configs[method], Path(tmp), validate=args.steps is None,
                                    cache_dir=cache_dir if base.cache_lower_layers else None))
    rows.append(tfidf_baseline(base))
    if (shipped := shipped_default_row(rows[0]["data_hash"])) is not None:
        rows.append(shipped)

    times, mean = _step_times(base, configs, args)
    with_dropout = f"dora_dropout{args.dropout:g}"
    for r in rows:
        if r["method"] in mean:
            r["mean_step_s"] = mean[r["method"]]

    stem = args.config.stem
    report = {"config_path": str(args.config), "config": base.to_card(), "steps": args.steps,
              "data_hash": rows[0]["data_hash"], "rows": rows, "peak_memory_kind": PeakMemory().kind,
              "step_time": {"rounds": args.timing_rounds, "times_s": times, "mean_s": mean,
                            "dora_over_lora": mean["dora"] / mean["lora"],
                            "dropout": args.dropout, "dora_dropout_over_dora": mean[with_dropout] / mean["dora"]},
              "command": f"python -m training.compare --config {args.config}"
                         f"{f' --steps {args.steps}' if args.steps else ''} "
                         f"--timing-rounds {args.timing_rounds} --dropout {args.dropout:g}"}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"compare-{stem}.json").write_text(json.dumps(report, indent=2) + "\n")
    (args.out / f"compare-{stem}.md").write_text(markdown(report))
    print(markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
