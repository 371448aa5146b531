"""Fit a LoRA / DoRA adapter (full-precision or 4-bit NF4 base) and register a model version.

    python -m training.train --config configs/default.yaml [--resume] [--promote-default]
    accelerate launch --num_processes 2 --cpu -m training.train --config configs/default.yaml

One path, top to bottom: config -> dataset -> tokenizer and base -> adapter (checked to
leave the base's logits unchanged) -> Trainer (checkpoint per epoch, early stopping on
validation macro-F1) -> registry version with card.json and README.md.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch

from app.config import ROOT
from app.modeling import BaseModelError, load_base_model, load_tokenizer
from app.registry import ModelVersion, Registry
from app.taxonomy import LABEL2ID, LABEL_IDS
from data.build import DataError, build_dataset, source_hashes
from training.config import ConfigError, TrainConfig, load_config
from training.measure import PeakMemory, StepTimer
from training.metrics import label_metrics


class TrainingError(RuntimeError):
    """Training cannot start or continue; the message says why and what to change."""


class IdentityCheckFailed(TrainingError):
    """The freshly initialised adapter changes the base model's outputs."""


# --------------------------------------------------------------------------- model

def build_model(config: TrainConfig, tokenizer):
    """Base classifier with a fresh LoRA/DoRA adapter; the head is trained in full (modules_to_save)."""
    from peft import LoraConfig, TaskType, get_peft_model, prepare_model_for_kbit_training
    from transformers import set_seed

    set_seed(config.seed)  # the head is initialised at random: the same seed gives the same head
    model = load_base_model(config.base_model, quantization=config.quantization, dtype=config.compute_dtype,
                            tokenizer=tokenizer)
    if config.quantization == "nf4":
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=config.gradient_checkpointing)
    elif config.gradient_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        model.enable_input_require_grads()
    n_layers = model.config.num_hidden_layers
    if config.adapt_top_layers and config.adapt_top_layers > n_layers:
        raise TrainingError(f"adapt_top_layers is {config.adapt_top_layers} but {config.base_model} has "
                            f"{n_layers} layers; lower it or leave it empty")
    peft_config = LoraConfig(
        task_type=TaskType.SEQ_CLS, r=config.r, lora_alpha=config.alpha, lora_dropout=config.dropout,
        target_modules=list(config.target_modules), use_dora=config.method == "dora", modules_to_save=["score"],
        layers_to_transform=(list(range(n_layers - config.adapt_top_layers, n_layers))
                             if config.adapt_top_layers else None),
    )
    model = get_peft_model(model, peft_config)
    if config.method == "dora":
        # Same numbers as peft's DoRA (tests/unit/test_fast_dora.py), without its out x in temporary.
        from app.fast_dora import enable_fast_dora

        enable_fast_dora(model)
    return model


def count_params(model) -> dict:
    trainable, total = model.get_nb_trainable_parameters()
    return {"trainable": int(trainable), "total": int(total)}


def verify_identity_init(model, batch: dict, *, atol: float | None = None) -> float:
    """Check that the untrained adapter leaves the logits of the base (same head) unchanged.

    DoRA's magnitude must start at the row norms of W and LoRA's B at zero; otherwise step 1
    starts from a different model than the one whose head was initialised. Returns the max
    absolute logit difference; raises IdentityCheckFailed when it exceeds `atol`.
    """
    was_training = model.training
    model.eval()
    dtype = next(p for p in model.parameters() if p.is_floating_point()).dtype
    atol = atol if atol is not None else (1e-4 if dtype == torch.float32 else 2e-2)
    device = next(model.parameters()).device
    batch = {k: v.to(device) for k, v in batch.items() if k in ("input_ids", "attention_mask")}
    with torch.no_grad():
        adapted = model(**batch).logits.float()
        with model.disable_adapter():
            base = model(**batch).logits.float()
    model.train(was_training)
    diff = float((adapted - base).abs().max())
    scale = max(1.0, float(base.abs().max()))
    if not diff <= atol * scale:  # `not <=` also catches NaN
        raise IdentityCheckFailed(
            f"adapter initialisation changes the base model's logits (max |diff| {diff:.3g} > {atol * scale:.3g}); "
            "DoRA magnitude must equal the weight row norms and lora_B must start at zero")
    return diff


# --------------------------------------------------------------------------- data

def tokenize(ds, tokenizer, max_length: int, *, tail: int = 0, use_headings: bool = False):
    """Token ids (unpadded: the collator pads per batch) and integer `labels`, encoded as served
    (app/encoding.py: heading first when `use_headings`, head and tail kept)."""
    from app.encoding import encode as encode_clauses

    def encode(batch):
        ids = encode_clauses(tokenizer, batch["text"], batch["heading"] if use_headings else None,
                             max_length=max_length, tail=tail)
        enc = {"input_ids": ids, "attention_mask": [[1] * len(x) for x in ids]}
        enc["labels"] = [LABEL2ID[label] for label in batch["label"]]
        enc["length"] = [len(x) for x in ids]
        return enc

    return ds.map(encode, batched=True, remove_columns=[c for c in ds["train"].column_names if c != "label"],
                  desc="tokenising")


def training_batches(config: TrainConfig, tokenizer, n: int) -> list[dict]:
    """The first `n` padded training batches in seeded random order (for timing measurements)."""
    from transformers import DataCollatorWithPadding

    ds, _ = build_dataset(config.data)
    tok = tokenize(ds, tokenizer, config.max_length, tail=config.tail_tokens,
                   use_headings=config.use_headings)["train"].shuffle(seed=config.seed)
    collate = DataCollatorWithPadding(tokenizer, pad_to_multiple_of=8)
    keep = ("input_ids", "attention_mask", "labels")
    size = config.batch_size
    return [collate([{k: tok[i * size + j][k] for k in keep} for j in range(size)]) for i in range(n)]


def class_weights(labels: list[int]) -> torch.Tensor:
    """Inverse-frequency weights, square-root damped so a class of 8 examples does not dominate; mean 1."""
    counts = np.bincount(labels, minlength=len(LABEL_IDS)).astype(float)
    w = np.where(counts > 0, 1.0 / np.sqrt(np.maximum(counts, 1)), 0.0)
    w = w / w[counts > 0].mean()
    return torch.tensor(w, dtype=torch.float32)


# --------------------------------------------------------------------------- metrics

def _compute_metrics(eval_pred) -> dict:
    logits, labels = eval_pred.predictions, eval_pred.label_ids
    logits = logits[0] if isinstance(logits, tuple) else logits
    m = label_metrics(labels, logits.argmax(-1))
    return {"accuracy": m["accuracy"], "macro_f1": m["macro_f1"]}


# --------------------------------------------------------------------------- run

@dataclass
class RunResult:
    version: ModelVersion | None  # None on non-main processes
    card: dict


def _weighted_loss(weights: torch.Tensor | None):
    def loss_fn(outputs, labels, num_items_in_batch=None):
        logits = outputs["logits"] if isinstance(outputs, dict) else outputs[0]
        w = weights.to(logits.device, logits.dtype) if weights is not None else None
        loss = torch.nn.functional.cross_entropy(logits.float(), labels, weight=w, reduction="sum")
        # Summed then divided by the items of the whole accumulated batch, as the Trainer expects.
        denom = num_items_in_batch if num_items_in_batch is not None else labels.numel()
        return loss / denom
    return loss_fn


def training_arguments(config: TrainConfig, run_dir: Path, has_validation: bool):
    from transformers import TrainingArguments

    on_gpu = torch.cuda.is_available()
    strategy = "steps" if config.eval_steps else "epoch"
    return TrainingArguments(
        output_dir=str(run_dir / "checkpoints"),
        per_device_train_batch_size=config.batch_size,
        per_device_eval_batch_size=config.eval_batch_size,
        gradient_accumulation_steps=config.gradient_accumulation,
        learning_rate=config.lr,
        weight_decay=config.weight_decay,
        warmup_steps=config.warmup_ratio,  # a float below 1 is a share of the total steps
        lr_scheduler_type="linear",
        num_train_epochs=config.epochs,
        max_steps=config.max_steps,
        eval_strategy=strategy if has_validation else "no",
        save_strategy=strategy,
        eval_steps=config.eval_steps,
        save_steps=config.eval_steps,
        save_total_limit=2,
        load_best_model_at_end=has_validation,
        metric_for_best_model="macro_f1",
        greater_is_better=True,
        logging_steps=config.logging_steps,
        # Clauses vary from 10 to 500+ tokens; batching similar lengths cuts padding by about half.
        train_sampling_strategy="group_by_length",
        seed=config.seed,
        data_seed=config.seed,
        bf16=on_gpu and config.compute_dtype == "bfloat16",
        fp16=on_gpu and config.compute_dtype == "float16",
        use_cpu=not on_gpu,
        gradient_checkpointing=False,  # already set up in build_model (peft needs input grads first)
        report_to="none",
        dataloader_num_workers=0,
        remove_unused_columns=False,
        label_names=["labels"],
    )


def train(config: TrainConfig, *, run_dir: Path | None = None, resume: bool = False,
          registry: Registry | None = None, parent: str | None = None, log=print,
          dataset: tuple | None = None, validate: bool = True, cache_dir: Path | None = None) -> RunResult:
    """Train one adapter as configured and register it as a new model version.

    dataset: a prebuilt (DatasetDict, DatasetInfo) from data.build (training.retrain passes one with
    reviewers' corrections and the parent's fixed split); default: built from config.data.
    validate=False skips validation (no early stopping, no best-checkpoint reload) and scores
    test only: compare.py's fixed-step runs, where a validation pass would only cost time.
    cache_dir: where the cached path keeps lower-layer activations (default run_dir/cache); runs that
    share the data, base and split point share one cache (compare.py's LoRA and DoRA rows).
    """
    from transformers import DataCollatorWithPadding, EarlyStoppingCallback, Trainer

    started = time.perf_counter()
    run_dir = Path(run_dir or ROOT / "runs" / (config.tag or "train"))
    saved_config = run_dir / "config.json"
    if resume:
        if not saved_config.exists():
            raise TrainingError(f"nothing to resume in {run_dir}: no earlier run there")
        if json.loads(saved_config.read_text()) != config.to_card():
            raise TrainingError(f"--resume with a config different from the one that started {run_dir}; "
                                "use the same config or another --run-dir")
    elif (run_dir / "checkpoints").exists() and any((run_dir / "checkpoints").glob("checkpoint-*")):
        raise TrainingError(f"{run_dir} holds checkpoints of an earlier run; pass --resume to continue it "
                            "or --run-dir for a fresh one")
    run_dir.mkdir(parents=True, exist_ok=True)
    saved_config.write_text(json.dumps(config.to_card(), indent=2, sort_keys=True) + "\n")

    ds, info = dataset if dataset is not None else build_dataset(config.data)
    tokenizer = load_tokenizer(config.base_model)
    tok = tokenize(ds, tokenizer, config.max_length, tail=config.tail_tokens, use_headings=config.use_headings)
    train_labels = tok["train"]["labels"]
    weights = class_weights(train_labels) if config.balance == "class_weights" else None

    extra: dict = {}
    if config.cache_lower_layers:
        with PeakMemory() as memory:
            model, params, identity_diff, metrics, extra = _fit_from_cache(
                config, ds, info, tok, tokenizer, weights, run_dir, resume, log, validate,
                Path(cache_dir) if cache_dir else run_dir / "cache")
        last, timer, steps, epochs_done, best = None, None, extra.pop("steps"), extra.pop("epochs_done"), None
        is_main = True
    else:
        with PeakMemory() as memory:
            model = build_model(config, tokenizer)
            params = count_params(model)
            collator = DataCollatorWithPadding(tokenizer, pad_to_multiple_of=8)
            probe = collator([{k: tok["validation" if len(tok["validation"]) else "train"][i][k]
                               for k in ("input_ids", "attention_mask")}
                              for i in range(min(8, len(tok["validation"]) or len(tok["train"])))])
            identity_diff = verify_identity_init(model, probe)

            has_val = validate and len(tok["validation"]) > 0
            args = training_arguments(config, run_dir, has_val)
            timer = StepTimer()
            callbacks = [timer] + ([EarlyStoppingCallback(early_stopping_patience=config.early_stopping_patience)]
                                   if has_val else [])
            trainer = Trainer(model=model, args=args, train_dataset=tok["train"].remove_columns("label"),
                              eval_dataset=tok["validation"].remove_columns("label") if has_val else None,
                              data_collator=collator, compute_metrics=_compute_metrics,
                              compute_loss_func=_weighted_loss(weights), callbacks=callbacks)
            if trainer.is_world_process_zero():
                log(f"base {config.base_model} | {config.method} r={config.r} alpha={config.alpha} "
                    f"dropout={config.dropout} on {','.join(config.target_modules)}"
                    f"{f' of the top {config.adapt_top_layers} layers' if config.adapt_top_layers else ''} | quantization {config.quantization}"
                    f" | lr {config.lr:g} | trainable {params['trainable']:,} of {params['total']:,}")
                log(f"data {info.data_hash[:12]} | train {len(tok['train'])} validation {len(tok['validation'])} "
                    f"test {len(tok['test'])} | clauses per optimiser step "
                    f"{config.batch_size * config.gradient_accumulation * args.world_size} | identity check: "
                    f"max |logit diff| {identity_diff:.2e} | {'resuming' if resume else 'fresh run'} in {run_dir}")
            last = _last_checkpoint(run_dir) if resume else None
            trainer.train(resume_from_checkpoint=str(last) if last else None)
            metrics = {"validation": _evaluate(trainer, tok["validation"]) if has_val else {},
                       "test": _evaluate(trainer, tok["test"])}
        steps, epochs_done, is_main = trainer.state.global_step, round(trainer.state.epoch or 0, 3), trainer.is_world_process_zero()
        best = Path(trainer.state.best_model_checkpoint).name if trainer.state.best_model_checkpoint else None
    wall = time.perf_counter() - started

    card = {
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "parent": parent,
        "base_model": config.base_model,
        "tokenizer": config.base_model,
        "method": config.method,
        "quantization": config.quantization,
        "labels": list(LABEL_IDS),
        "max_length": config.max_length,
        "pad_token_id": tokenizer.pad_token_id,
        "data_hash": info.data_hash,
        "data_sources": source_hashes(config.data),
        "data_counts": info.counts,
        "train_config": config.to_card(),
        "params": params,
        "wall_time_s": round(wall, 1),
        "peak_memory_mb": round(memory.peak_mb, 1),
        "peak_memory_kind": memory.kind,
        "mean_step_s": (round(timer.mean_s, 4) if timer and timer.mean_s else extra.get("mean_step_s")),
        "steps": steps,
        "steps_this_run": len(timer.times) if timer else extra.get("steps_this_run"),
        "resumed_from": last.name if last else None,
        "epochs_done": epochs_done,
        # the name only: the run folder belongs to the machine that trained, not to the model
        "best_checkpoint": best,
        "identity_check_max_abs_diff": identity_diff,
        "metrics": metrics,
        "merged": False,
        **{k: v for k, v in extra.items() if k != "logits"},
    }
    if not is_main:
        return RunResult(None, card)
    version = (registry or Registry()).new_version(config.tag)
    card["version"] = version.name
    model.save_pretrained(version.path / "adapter")
    (version.path / "split.json").write_text(json.dumps(info.split_by_contract, indent=1, sort_keys=True) + "\n")
    if "logits" in extra:
        save_split_logits(version.path / "logits.npz", extra["logits"])
    version.write_card(card)
    (version.path / "README.md").write_text(model_readme(card))
    log(f"registered {version.name} at {version.path}: validation macro-F1 {metrics['validation'].get('macro_f1')}, "
        f"test macro-F1 {metrics['test'].get('macro_f1')}, {wall:.0f}s")
    return RunResult(version, card)


def _fit_from_cache(config: TrainConfig, ds, info, tok, tokenizer, weights, run_dir: Path, resume: bool, log,
                    validate: bool, cache_dir: Path):
    """The cached-activation path (training/cached.py): same adapter, same card, a fraction of the time."""
    from transformers import DataCollatorWithPadding

    from data.build import SEGMENT, SPLITS, UNREAD
    from training import cached

    model = build_model(config, tokenizer)
    params = count_params(model)
    split_at = model.config.num_hidden_layers - config.adapt_top_layers
    first = "validation" if len(tok["validation"]) else "train"
    probe_rows = [{k: tok[first][i][k] for k in ("input_ids", "attention_mask")}
                  for i in range(min(8, len(tok[first])))]
    identity_diff = verify_identity_init(model, DataCollatorWithPadding(tokenizer)(probe_rows))
    log(f"base {config.base_model} | {config.method} r={config.r} alpha={config.alpha} on "
        f"{','.join(config.target_modules)} of the top {config.adapt_top_layers} layers (layers below {split_at} "
        f"cached) | lr {config.lr:g} | trainable {params['trainable']:,} of {params['total']:,} | identity check "
        f"{identity_diff:.2e} | data {info.data_hash[:12]} | {'resuming' if resume else 'fresh run'} in {run_dir}")
    cache_started = time.perf_counter()
    states = {split: cached.build_cache(config.base_model, tok[split]["input_ids"], split_at,
                                        cache_dir / f"{split}.pt", workers=config.cache_workers, log=log)
              if len(tok[split]) else [] for split in SPLITS}
    cache_s = time.perf_counter() - cache_started
    train = ds["train"]
    unread = [src == SEGMENT and kind == UNREAD for src, kind in zip(train["source"], train["kind"])]
    epochs = cached.Epochs(fixed=[i for i, u in enumerate(unread) if not u], pool=[i for i, u in enumerate(unread) if u],
                           per_epoch=config.data.auto_none_per_epoch, seed=config.seed)
    has_val = validate and len(tok["validation"]) > 0
    result = cached.fit(
        model, split_at=split_at, train_states=states["train"], train_labels=tok["train"]["labels"], epochs=epochs,
        val_states=states["validation"] if has_val else states["train"][:0],
        val_labels=tok["validation"]["labels"] if has_val else [], config=config, weights=weights,
        run_dir=run_dir, resume=resume, log=log,
        score=lambda logits, labels: label_metrics(labels, logits.argmax(-1))["macro_f1"] if len(labels) else 0.0)
    logits, metrics = {}, {}
    for split in ("validation", "test"):
        if len(tok[split]):
            logits[split] = {"ids": list(ds[split]["id"]), "logits": cached.predict_logits(model, states[split], split_at)}
            metrics[split] = label_metrics(tok[split]["labels"], logits[split]["logits"].argmax(-1))
    check = _check_cache_against_full_model(model, tok[first], states[first], split_at, tokenizer)
    log(f"cached path vs full model on {check['n']} clauses: max |logit diff| {check['max_abs_diff']:.3g}, "
        f"same label {check['argmax_agreement']:.3f}")
    extra = {"steps": result.steps, "epochs_done": float(len(result.history)), "logits": logits,
             "mean_step_s": round(float(np.mean(result.step_times)), 4) if result.step_times else None,
             "steps_this_run": result.steps_this_run,
             "cached_training": {"split_at_layer": split_at, "cache_build_s": round(cache_s, 1),
                                 "train_tokens_per_s": round(result.tokens_per_s or 0, 1),
                                 "best_epoch": result.best_epoch, "history": result.history,
                                 "auto_none_per_epoch": epochs.per_epoch, "auto_none_pool": len(epochs.pool),
                                 "check_against_full_model": check}}
    return model, params, identity_diff, metrics, extra


def _check_cache_against_full_model(model, split, states, split_at: int, tokenizer, n: int = 16) -> dict:
    """Logits of the cached path against a plain forward of the same adapted model (fp32) on `n` clauses."""
    from transformers import DataCollatorWithPadding

    from training import cached

    rows = list(range(min(n, len(split))))
    batch = DataCollatorWithPadding(tokenizer)([{k: split[i][k] for k in ("input_ids", "attention_mask")}
                                                for i in rows])
    with torch.inference_mode():
        full = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits.float().numpy()
    fast = cached.predict_logits(model, [states[i] for i in rows], split_at)
    return {"n": len(rows), "max_abs_diff": float(np.abs(full - fast).max()),
            "argmax_agreement": float((full.argmax(-1) == fast.argmax(-1)).mean())}


def save_split_logits(path: Path, logits: dict) -> None:
    """Raw logits of the validation and test records, computed by the weights being saved: calibration,
    thresholds and evaluation read them instead of running the model over thousands of segments again."""
    arrays = {}
    for split, d in logits.items():
        arrays[f"{split}_ids"] = np.asarray(d["ids"])
        arrays[f"{split}_logits"] = d["logits"]
    np.savez_compressed(path, **arrays)


def _last_checkpoint(run_dir: Path) -> Path | None:
    from transformers.trainer_utils import get_last_checkpoint

    ckpt = run_dir / "checkpoints"
    return Path(get_last_checkpoint(str(ckpt))) if ckpt.exists() and get_last_checkpoint(str(ckpt)) else None


def _evaluate(trainer, split) -> dict:
    if len(split) == 0:
        return {}
    out = trainer.predict(split.remove_columns("label"))
    return label_metrics(out.label_ids, out.predictions.argmax(-1))


_METHOD_NAMES = {"lora": "LoRA", "dora": "DoRA"}


def model_readme(card: dict) -> str:
    """The model card for humans."""
    cfg = card["train_config"]
    lines = [
        f"# lexdora model {card['version']}", "",
        f"{_METHOD_NAMES[card['method']]}{' on a 4-bit NF4 base (QDoRA)' if card['quantization'] == 'nf4' else ''} adapter "
        f"for `{card['base_model']}`, sorting clauses into {', '.join(f'`{lab}`' for lab in card['labels'])}.", "",
        f"- Data hash: `{card['data_hash']}` (see `data/build.py`; synthetic clauses in training only)",
        *[f"- Source `{name}`: SHA-256 `{digest}`" for name, digest in (card.get("data_sources") or {}).items()],
        f"- Rank {cfg['r']}, alpha {cfg['alpha']}, dropout {cfg['dropout']}, modules {', '.join(cfg['target_modules'])}"
        f"{f' of the top {top} layers' if (top := cfg.get('adapt_top_layers')) else ''}; head trained in full",
        f"- Learning rate {cfg['learning_rate']}, batch {cfg['batch_size']} x {cfg['gradient_accumulation']}, "
        f"max length {cfg['max_length']} tokens, {card['steps']} steps ({card['epochs_done']} epochs), seed {cfg['seed']}",
        f"- Trainable parameters {card['params']['trainable']:,} of {card['params']['total']:,}",
        f"- Wall time {card['wall_time_s']:.0f} s, mean step {card['mean_step_s']} s, "
        f"peak memory {card['peak_memory_mb']:.0f} MB ({card['peak_memory_kind']})", "",
        "## Quality (real CUAD clauses; contracts unseen in training)", "",
        "| split | n | accuracy | macro-F1 | wrong share of `uncapped` predictions |", "|---|---|---|---|---|",
    ]
    for split in ("validation", "test"):
        m = card["metrics"].get(split) or {}
        if m:
            fp = m["uncapped_wrong_share"]
            lines.append(f"| {split} | {m['n']} | {m['accuracy']:.3f} | {m['macro_f1']:.3f} | "
                         f"{'-' if fp is None else f'{fp:.2f}'} |")
    test = card["metrics"].get("test") or {}
    if test:
        lines += ["", "Per-label F1 on test (support): " + ", ".join(
            f"`{lab}` {'-' if f is None else f'{f:.2f}'} ({test['support'][lab]})"
            for lab, f in test["per_label_f1"].items())]
    lines += ["", "Macro-F1 averages the labels present in the split's gold labels."]
    return "\n".join(lines) + "\n"


def promote_to_default(version: ModelVersion, default_dir: Path | None = None) -> Path:
    """Copy a registered version to the shipped default folder (models/default), replacing it."""
    dest = Path(default_dir or Registry().default_dir)
    tmp = dest.with_name(dest.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(version.path, tmp)
    old = dest.with_name(dest.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if dest.exists():
        dest.rename(old)
    tmp.rename(dest)
    shutil.rmtree(old, ignore_errors=True)
    return dest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.train", description=__doc__.split("\n\n")[0],
                                     epilog="example: python -m training.train --config configs/default.yaml")
    parser.add_argument("--config", type=Path, required=True, help="YAML training config (configs/*.yaml)")
    parser.add_argument("--run-dir", type=Path, help="checkpoints and logs (default: runs/<tag>)")
    parser.add_argument("--resume", action="store_true", help="continue the run in --run-dir after a kill")
    parser.add_argument("--max-steps", type=int, help="override max_steps (quick trials)")
    parser.add_argument("--tag", help="override the version tag")
    parser.add_argument("--parent", help="version this one was trained from (recorded in the card)")
    parser.add_argument("--dry-run", action="store_true",
                        help="build on the meta device, print trainable parameters and a peak-memory estimate; "
                             "no weights, no training")
    parser.add_argument("--promote-default", action="store_true",
                        help="also copy the new version to models/default (the shipped model)")
    args = parser.parse_args(argv)
    try:
        config = load_config(args.config, max_steps=args.max_steps, tag=args.tag)
        if args.dry_run:
            from training.dry_run import dry_run

            print(dry_run(config).as_text())
            return 0
        result = train(config, run_dir=args.run_dir, resume=args.resume, parent=args.parent)
    except (ConfigError, DataError, BaseModelError, TrainingError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.promote_default and result.version is not None:
        print(f"copied to {promote_to_default(result.version)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
