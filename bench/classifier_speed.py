"""Clauses per second of the real base model, LoRA and DoRA sidecars, merged DoRA, and the Classifier.

    nice -n 5 python -m bench.classifier_speed [--n 96] [--rounds 3] [--rank 16]

All variants share the real SmolLM2-135M base and are timed in interleaved rounds in one
process (the CPU is shared, so only ratios measured side by side mean anything). The
adapters are freshly initialised with non-zero lora_B (init_lora_weights=False): their
speed does not depend on what they learned. "raw forward" is the merged model's forward
over pre-tokenised length-sorted batches; "classifier" is Classifier.logits on the same
model from raw text (tokenising, sorting, padding included). "dora_sidecar_cached" runs the
sidecar under peft's DoraCaching, as Classifier does.
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from app.config import ROOT

TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def real_clauses(n: int) -> list[str]:
    """`n` real CUAD clauses (liability and other categories alternating), deterministic."""
    from app.config import get_settings

    cuad = Path(get_settings().shared_dir) / "data" / "cuad"
    liability = [json.loads(x)["text"] for x in (cuad / "clauses_labeled.jsonl").open() if x.strip()]
    other = [json.loads(x)["text"] for x in (cuad / "clauses_other_categories.jsonl").open() if x.strip()]
    texts = [t for pair in zip(liability[::7], other[::37]) for t in pair]
    return texts[:n]


def adapter_shape(like: Path | None, rank: int) -> dict:
    """Rank, alpha, target modules and layers of the adapter in `like` (a version's adapter/), else all linears."""
    if like is not None and (like / "adapter_config.json").exists():
        saved = json.loads((like / "adapter_config.json").read_text())
        return {k: saved[k] for k in ("r", "lora_alpha", "target_modules", "layers_to_transform") if saved.get(k)}
    return {"r": rank, "lora_alpha": 2 * rank, "target_modules": TARGETS}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.classifier_speed", description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", default="embedded:SmolLM2-135M-Instruct", help="base model ref")
    parser.add_argument("--n", type=int, default=24, help="clauses per timed pass")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved timing rounds")
    parser.add_argument("--rank", type=int, default=16, help="LoRA/DoRA rank")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-length", type=int, default=128, help="token limit, as the default model's config")
    parser.add_argument("--like", type=Path, default=ROOT / "models" / "default" / "adapter",
                        help="adapter whose shape (rank, targets, layers) to copy; all linears at --rank without it")
    args = parser.parse_args(argv)

    import torch
    from peft import LoraConfig, get_peft_model
    from peft.helpers import DoraCaching

    from app.classifier import Classifier
    from app.modeling import load_base_model, load_tokenizer
    from app.registry import ModelVersion

    torch.set_num_threads(len(os.sched_getaffinity(0)))
    texts = real_clauses(args.n)
    tokenizer = load_tokenizer(args.base)
    base = load_base_model(args.base, tokenizer=tokenizer).eval()

    shape = adapter_shape(args.like, args.rank)

    def adapted(use_dora: bool):
        torch.manual_seed(0)
        config = LoraConfig(task_type="SEQ_CLS", use_dora=use_dora, init_lora_weights=False, **shape)
        return get_peft_model(copy.deepcopy(base), config).eval()

    models = {"base": base, "lora_sidecar": adapted(False), "dora_sidecar": adapted(True)}
    models["dora_merged"] = copy.deepcopy(models["dora_sidecar"]).merge_and_unload().eval()

    # Pre-tokenised, length-sorted batches: exactly what Classifier feeds the model, minus its own work.
    clf = Classifier(ModelVersion("bench", Path(tempfile.gettempdir())), models["dora_merged"], tokenizer,
                     device="cpu", batch_size=args.batch_size, max_length=args.max_length)
    enc = tokenizer(texts, truncation=True, max_length=clf.max_length)
    order = sorted(range(len(texts)), key=lambda i: -len(enc["input_ids"][i]))
    batches = [tokenizer.pad({k: [enc[k][i] for i in order[s:s + args.batch_size]] for k in ("input_ids", "attention_mask")},
                             return_tensors="pt") for s in range(0, len(order), args.batch_size)]

    def forward(model, cached: bool = False):
        with torch.inference_mode(), DoraCaching(enabled=cached):
            for b in batches:
                model(**b)

    runs = {name: (lambda m=m: forward(m)) for name, m in models.items()}
    runs["dora_sidecar_cached"] = lambda: forward(models["dora_sidecar"], cached=True)
    runs["classifier"] = lambda: clf.logits(texts)

    with torch.inference_mode():  # warm-up on one short batch: lazy inits stay out of the timings
        for model in models.values():
            model(**batches[-1])
    seconds: dict[str, list[float]] = {name: [] for name in runs}
    names = list(runs)
    for r in range(args.rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:  # rotate so no variant always runs first
            t0 = time.perf_counter()
            runs[name]()
            seconds[name].append(time.perf_counter() - t0)

    rate = {name: len(texts) / statistics.median(s) for name, s in seconds.items()}
    tokens = sum(len(x) for x in enc["input_ids"])
    print(f"{len(texts)} real CUAD clauses ({tokens / len(texts):.0f} tokens on average), batch {args.batch_size}, "
          f"{args.rounds} interleaved rounds, {torch.get_num_threads()} threads, max length {args.max_length}, "
          f"base {args.base}; adapters {shape}, freshly initialised (non-identity)")
    print("| variant | clauses/s (median) | vs base |\n|---|---|---|")
    for name in names:
        label = "raw forward (dora_merged)" if name == "dora_merged" else name
        print(f"| {label} | {rate[name]:.1f} | {rate[name] / rate['base']:.3f} |")
    print(f"\nmerged / base: {rate['dora_merged'] / rate['base']:.3f} (target >= 0.97)")
    print(f"classifier / raw forward of the same model: {rate['classifier'] / rate['dora_merged']:.3f} (target >= 0.9)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
