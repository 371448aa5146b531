"""DoRA vs LoRA training-step time at equal rank and batch, and DoRA's cost of lora_dropout > 0.

    python -m bench.dora_step [--config configs/default.yaml] [--steps 6] [--dropout 0.1]

Builds LoRA, DoRA and DoRA-with-dropout adapters on the same base and runs their steps
interleaved (LoRA, DoRA, DoRA+dropout, LoRA, ...) on the same real batches in one process,
so drift in a shared CPU's load hits all three alike. The first round is warm-up and not
counted. Prints mean step times and the ratios.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch

from app.config import ROOT
from app.modeling import load_tokenizer
from data.build import build_dataset
from training.config import load_config
from training.train import build_model, tokenize


def _batches(config, tokenizer, n: int):
    from transformers import DataCollatorWithPadding

    ds, _ = build_dataset(config.data)
    tok = tokenize(ds, tokenizer, config.max_length)["train"].shuffle(seed=config.seed)
    collate = DataCollatorWithPadding(tokenizer, pad_to_multiple_of=8)
    keep = ("input_ids", "attention_mask", "labels")
    return [collate([{k: tok[i * config.batch_size + j][k] for k in keep} for j in range(config.batch_size)])
            for i in range(n)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.dora_step", description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", type=Path, default=ROOT / "configs" / "default.yaml")
    parser.add_argument("--steps", type=int, default=6, help="measured steps per variant (plus one warm-up)")
    parser.add_argument("--dropout", type=float, default=0.1, help="dropout of the third variant")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)

    base = load_config(args.config)
    tokenizer = load_tokenizer(base.base_model)
    variants = {
        "lora": base.model_copy(update={"method": "lora", "dropout": 0.0}),
        "dora": base.model_copy(update={"method": "dora", "dropout": 0.0}),
        f"dora_dropout{args.dropout:g}": base.model_copy(update={"method": "dora", "dropout": args.dropout}),
    }
    models, optimisers = {}, {}
    for name, cfg in variants.items():
        models[name] = build_model(cfg, tokenizer)
        models[name].train()
        optimisers[name] = torch.optim.AdamW([p for p in models[name].parameters() if p.requires_grad], lr=1e-4)
    batches = _batches(base, tokenizer, args.steps + 1)
    times = {name: [] for name in variants}
    for i, batch in enumerate(batches):
        for name, model in models.items():
            t0 = time.perf_counter()
            out = model(**batch)
            out.loss.backward()
            optimisers[name].step()
            optimisers[name].zero_grad(set_to_none=True)
            dt = time.perf_counter() - t0
            if i > 0:  # round 0 is warm-up (allocator, kernels)
                times[name].append(dt)
            print(f"round {i} {name}: {dt:.2f}s ({batch['input_ids'].shape[0]}x{batch['input_ids'].shape[1]} tokens)",
                  flush=True)
    mean = {name: statistics.mean(t) for name, t in times.items()}
    result = {
        "config": str(args.config), "batch_size": base.batch_size, "max_length": base.max_length, "r": base.r,
        "target_modules": base.target_modules, "measured_steps": args.steps, "mean_step_s": mean,
        "dora_over_lora": mean["dora"] / mean["lora"],
        "dora_dropout_over_dora": mean[f"dora_dropout{args.dropout:g}"] / mean["dora"],
        "threads": torch.get_num_threads(),
    }
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
