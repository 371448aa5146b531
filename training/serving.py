"""Choose how a version is served on the CPU (app/precision.py), only where it keeps the labels.

    python -m training.serving [--model VERSION] [--precision int8 int8-smooth bf16] [--speed-n 48] [--rounds 2]

For each candidate precision the version's adapter is merged into an fp32 base and converted; the
converted model scores every validation and test segment as shipped (lexical companion, calibration,
and the first stage, which answers alone where the model is not asked: agreement is also reported over
the segments the model reads). It is accepted when, on validation, its argmax agrees
with fp32 on >= MIN_AGREEMENT of the segments the model reads and its weighted macro-F1 is within MAX_F1_DROP of fp32's,
as training.merge accepts a merge. Speed is Classifier.model_logits on the same real segments, fp32
and each candidate in interleaved rounds in one process. The fastest accepted precision goes into
the card (``serving``), a batch-invariant one first (see `pick`); the classifier applies it at load.

int8-smooth is int8 after SmoothQuant scaling (app/precision.py), its activation maxima measured on
up to CALIBRATION_N validation segments the model reads (every other one): calibration on clauses of
the target domain. They are saved with the version (SMOOTH_FILE) when that precision is chosen.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import datetime, timezone

import numpy as np

from app.registry import ModelVersionNotFound, Registry
from training.evaluate import EvaluationError, label_ids, segment_rows, version_dataset, weights_of

MIN_AGREEMENT = 0.99   # issue 15, like merge verification
MAX_F1_DROP = 0.01
CALIBRATION_N = 256
BATCH_INVARIANT = ("bf16",)


def pick(figures: dict[str, dict]) -> str | None:
    """The precision to serve: the fastest accepted one that beats fp32, a batch-invariant one first.
    Dynamic int8 quantizes activations with one scale per batch, so a clause's probabilities move with
    the clauses batched beside it (by up to 0.1 on the default model); bf16 does not do that, so int8 is
    served only where no batch-invariant precision is accepted and faster than fp32."""
    faster = [p for p, f in figures.items() if f["accepted"] and f["speedup"] > 1.0]
    steady = [p for p in faster if p in BATCH_INVARIANT]
    return max(steady or faster, key=lambda p: figures[p]["speedup"], default=None)


def choose_serving(version: str | None = None, *, registry: Registry | None = None,
                   precisions=("int8", "int8-smooth", "bf16"), speed_n: int = 48, rounds: int = 2, log=print) -> dict:
    from app.classifier import Classifier, clear_cache, load_weights
    from app.precision import SMOOTH_ALPHA, SMOOTH_FILE, activation_absmax, convert, merged, save_absmax
    from training.evaluate_segments import shipped_probs
    from training.metrics import label_metrics

    registry = registry or Registry()
    mv = registry.get(version)
    model, tokenizer = load_weights(mv, "cpu", serving_precision=False)  # fp32, whatever was chosen before
    model = merged(model).eval()
    ds, _ = version_dataset(mv)
    splits = {s: segment_rows(ds, s) for s in ("validation", "test")}
    if not splits["validation"]:
        raise EvaluationError(f"model version {mv.name!r} has no validation segments to check a precision on")
    fp32 = Classifier.from_weights(mv, model, tokenizer)
    reference = {s: shipped_probs(fp32, rows) for s, rows in splits.items()}
    read = {s: fp32.model_reads([r["text"] for r in rows], [r.get("heading") or "" for r in rows])
            for s, rows in splits.items()}

    absmax, calibration = None, []
    if "int8-smooth" in precisions:
        rows = splits["validation"]
        calibration = [rows[i] for i in np.flatnonzero(read["validation"])[::2][:CALIBRATION_N]]
        absmax = activation_absmax(model, lambda: fp32.model_logits([r["text"] for r in calibration],
                                                                    [r.get("heading") or "" for r in calibration]))
    candidates = {p: Classifier.from_weights(mv, convert(model, p, absmax=absmax).eval(), tokenizer)
                  for p in precisions}
    figures: dict[str, dict] = {}
    for p, clf in candidates.items():
        figures[p] = {}
        for s, rows in splits.items():
            t0 = time.perf_counter()
            probs = clf.predict_proba([r["text"] for r in rows], [r.get("heading") or "" for r in rows])
            log(f"{p}: {len(rows)} {s} segments in {time.perf_counter() - t0:.0f} s")
            y, w = label_ids(rows), weights_of(rows)
            same = probs.argmax(1) == reference[s].argmax(1)
            figures[p][s] = {"agreement": float(same.mean()), "agreement_model_read": float(same[read[s]].mean()),
                             "model_read": int(read[s].sum()),
                             "macro_f1_fp32": label_metrics(y, probs=reference[s], weights=w)["macro_f1"],
                             "macro_f1": label_metrics(y, probs=probs, weights=w)["macro_f1"]}

    texts = [r["text"] for r in splits["validation"]]
    texts = texts[:: max(1, len(texts) // speed_n)][:speed_n]
    timed = {"fp32": fp32, **candidates}
    for clf in timed.values():
        clf.model_logits(texts[:4])  # warm-up: first-call allocations are not scoring
    seconds: dict[str, list[float]] = {p: [] for p in timed}
    names = list(timed)
    for r in range(rounds):
        for p in names[r % len(names):] + names[:r % len(names)]:  # rotate: no precision always runs first
            t0 = time.perf_counter()
            timed[p].model_logits(texts)
            seconds[p].append(time.perf_counter() - t0)
    rate = {p: len(texts) / statistics.median(s) for p, s in seconds.items()}
    for p in candidates:
        v = figures[p]["validation"]
        figures[p].update(speedup=rate[p] / rate["fp32"], clauses_per_s=rate[p],
                          accepted=(v["agreement_model_read"] >= MIN_AGREEMENT
                                    and v["macro_f1_fp32"] - v["macro_f1"] <= MAX_F1_DROP))
    best = pick(figures)
    record = {"kept": best is not None, "precision": best or "fp32",
              "fp32_clauses_per_s": rate["fp32"], "candidates": figures, "speed_sample": len(texts), "rounds": rounds,
              "rule": (f"argmax agreement >= {MIN_AGREEMENT} on the validation segments the model reads, "
                       f"macro-F1 within {MAX_F1_DROP} of fp32"),
              "created": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    if best == "int8-smooth":
        save_absmax(absmax, mv.path / SMOOTH_FILE)
        record.update(alpha=SMOOTH_ALPHA, smoothquant_calibration=f"{len(calibration)} validation segments")
    else:
        (mv.path / SMOOTH_FILE).unlink(missing_ok=True)  # an earlier choice's maxima would only mislead
    mv.update_card(serving=record)
    clear_cache()
    return {"version": mv.name, **record}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.serving", description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="model version (default: the active one)")
    parser.add_argument("--precision", nargs="+", default=["int8", "int8-smooth", "bf16"],
                        choices=["int8", "int8-smooth", "bf16"])
    parser.add_argument("--speed-n", type=int, default=48, help="validation segments per timed pass")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved timing rounds")
    args = parser.parse_args(argv)
    from app.classifier import ClassifierError

    try:
        r = choose_serving(args.model, precisions=args.precision, speed_n=args.speed_n, rounds=args.rounds)
    except (ModelVersionNotFound, ClassifierError, EvaluationError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"\nmodel {r['version']}: fp32 {r['fp32_clauses_per_s']:.1f} clauses/s ({r['speed_sample']} validation "
          f"segments, {r['rounds']} interleaved rounds)")
    print("| precision | clauses/s vs fp32 | agreement (val) | of segments the model reads | macro-F1 val fp32 -> "
          "| macro-F1 test fp32 -> | accepted |\n|---|---|---|---|---|---|---|")
    for p, f in r["candidates"].items():
        v, t = f["validation"], f["test"]
        print(f"| {p} | {f['speedup']:.2f} | {v['agreement']:.4f} | {v['agreement_model_read']:.4f} "
              f"({v['model_read']}) | {v['macro_f1_fp32']:.3f} -> {v['macro_f1']:.3f} | "
              f"{t['macro_f1_fp32']:.3f} -> {t['macro_f1']:.3f} | {'yes' if f['accepted'] else 'no'} |")
    print(f"served in {r['precision']}" if r["kept"] else "served in fp32: no faster precision kept the labels")
    return 0


if __name__ == "__main__":
    sys.exit(main())
