"""Serving the merged default in fp32, bf16 and dynamic int8: clauses/s side by side, and what each costs in labels.

    python -m bench.serving_precision [--model VERSION] [--n-none 150] [--speed-n 48] [--rounds 3]

The version's adapter is merged into an fp32 copy of its base (as training.merge does), then served
as-is, in bfloat16, and with torch's dynamic int8 (per-channel int8 weights, int8 activations
quantized per batch) on every Linear but the score head, or also keeping the last two layers' down
projections in fp32 (app/precision.py; this bench is where that choice was measured), and int8 after
SmoothQuant scaling with only the score head in fp32. Quality: on the version's validation
segments (every liability segment plus a seeded sample of `none`), argmax agreement with fp32 and the
macro-F1 of the shipped probabilities (lexical companion and calibration included). Speed: the same
real clauses through Classifier.model_logits, in interleaved rounds in one process.
"""
from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time

import numpy as np

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.serving_precision", description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="model version (default: the active one)")
    parser.add_argument("--n-none", type=int, default=150, help="validation `none` segments sampled")
    parser.add_argument("--speed-n", type=int, default=48, help="clauses per timed pass")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)

    import torch
    from peft import PeftModel

    from app.classifier import Classifier, load_weights
    from app.precision import activation_absmax, convert
    from app.registry import Registry
    from training.evaluate import label_ids, segment_rows, version_dataset
    from training.metrics import label_metrics

    torch.set_num_threads(len(os.sched_getaffinity(0)))
    mv = Registry().get(args.model)
    model, tokenizer = load_weights(mv, "cpu", serving_precision=False)  # fp32, whatever the card serves
    if isinstance(model, PeftModel):
        model = model.merge_and_unload()
    model.eval()
    ds, _ = version_dataset(mv)
    val = segment_rows(ds, "validation")
    liability = [r for r in val if r["label"] != "none"]
    none = random.Random(0).sample([r for r in val if r["label"] == "none"], min(args.n_none, len(val) - len(liability)))
    rows = sorted(liability + none, key=lambda r: r["id"])
    texts, heads, labels = [r["text"] for r in rows], [r.get("heading") or "" for r in rows], label_ids(rows)

    variants = {"fp32": model, "bf16": convert(model, "bf16"),
                "int8 (score head fp32)": convert(model, "int8", keep_fp32=("score",)),
                "int8 (score head, last 2 down_proj fp32)": convert(model, "int8")}  # app.precision's int8
    # SmoothQuant's activation maxima from every other of these segments (training.serving uses the
    # validation segments the model reads).
    absmax = activation_absmax(model, lambda: Classifier.from_weights(mv, model, tokenizer).model_logits(
        texts[::2], heads[::2]))
    variants["int8-smooth (score head fp32)"] = convert(model, "int8-smooth", absmax=absmax)
    clfs = {name: Classifier.from_weights(mv, m.eval(), tokenizer) for name, m in variants.items()}
    for c in clfs.values():
        c.first_stage = None  # every segment through the model: this measures the model

    probs, t_quality = {}, {}
    for name, clf in clfs.items():
        t0 = time.perf_counter()
        probs[name] = clf.predict_proba(texts, heads)
        t_quality[name] = time.perf_counter() - t0
        print(f"{name}: {len(texts)} validation segments in {t_quality[name]:.0f} s", flush=True)

    speed_texts = texts[:: max(1, len(texts) // args.speed_n)][: args.speed_n]
    for clf in clfs.values():
        clf.model_logits(speed_texts[:4])  # warm-up
    seconds: dict[str, list[float]] = {name: [] for name in clfs}
    names = list(clfs)
    for r in range(args.rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:  # rotate: no variant always first
            t0 = time.perf_counter()
            clfs[name].model_logits(speed_texts)
            seconds[name].append(time.perf_counter() - t0)

    ref = probs["fp32"].argmax(1)
    w = np.ones(len(rows))
    print(f"\nmodel {mv.name}: {len(rows)} validation segments ({len(liability)} liability, {len(none)} none sampled); "
          f"speed on {len(speed_texts)} of them, {args.rounds} interleaved rounds, {torch.get_num_threads()} threads")
    print("| serving | clauses/s (median) | vs fp32 | argmax agreement with fp32 | macro-F1 | vs fp32 |\n"
          "|---|---|---|---|---|---|")
    f1 = {name: label_metrics(labels, probs=p, weights=w)["macro_f1"] for name, p in probs.items()}
    rate = {name: len(speed_texts) / statistics.median(s) for name, s in seconds.items()}
    for name in names:
        print(f"| {name} | {rate[name]:.1f} | {rate[name] / rate['fp32']:.2f} | "
              f"{(probs[name].argmax(1) == ref).mean():.4f} | {f1[name]:.4f} | {f1[name] - f1['fp32']:+.4f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
