"""Merge a version's adapter into its base weights, verify the merge, and register it.

    python -m training.merge --model VERSION [--quantize int8|nf4]

The merged model must give the same logits as the adapter served as a sidecar on a golden
set of real clauses (max |difference| <= 1e-3 in fp32, identical argmax), first in memory
and again after reloading what was written; otherwise nothing is registered. With
--quantize the merged model is also quantized and its test accuracy compared (reported in
the card, not served).
"""
from __future__ import annotations

import argparse
import copy
import shutil
import sys
from dataclasses import asdict, dataclass
from datetime import datetime, timezone

import numpy as np

from app.classifier import Classifier, ClassifierError, load_weights
from app.registry import ModelVersion, ModelVersionNotFound, Registry
from training.evaluate import EvaluationError, label_ids, real_rows, version_dataset

TOLERANCE = 1e-3
GOLDEN_SIZE = 64
# Files of the parent that hold for the merged model too: the logits are the same, so the
# temperature, the thresholds and the data split carry over.
_CARRIED = ("calibration.json", "policy.yaml", "split.json")


class MergeError(RuntimeError):
    """A version cannot be merged; the message says why."""


class MergeVerificationError(MergeError):
    """The merged weights do not reproduce the adapter's logits; nothing was registered."""


@dataclass(frozen=True)
class MergeCheck:
    n: int
    max_abs_diff: float
    argmax_mismatches: int
    tolerance: float

    @property
    def passed(self) -> bool:
        return self.max_abs_diff <= self.tolerance and self.argmax_mismatches == 0

    def describe(self) -> str:
        return (f"max |logit difference| {self.max_abs_diff:.2e} (tolerance {self.tolerance:.0e}), "
                f"{self.argmax_mismatches} of {self.n} golden clauses change label")


def compare_logits(reference: np.ndarray, merged: np.ndarray, tolerance: float = TOLERANCE) -> MergeCheck:
    diff = np.abs(reference.astype(np.float64) - merged.astype(np.float64))
    return MergeCheck(n=len(reference), max_abs_diff=float(diff.max()) if diff.size else 0.0,
                      argmax_mismatches=int((reference.argmax(1) != merged.argmax(1)).sum()), tolerance=tolerance)


def golden_texts(mv: ModelVersion, n: int = GOLDEN_SIZE) -> list[str]:
    """The first `n` real test clauses (by id) of the version's split: never trained on, real wording."""
    ds, _ = version_dataset(mv)
    return [r["text"] for r in real_rows(ds, "test")[:n]]


def _merge_into_base(mv: ModelVersion):
    """A fresh fp32 base + adapter, merged and unloaded: (plain transformers model, tokenizer)."""
    from peft import PeftModel

    model, tokenizer = load_weights(mv, "cpu")
    if not isinstance(model, PeftModel):
        raise MergeError(f"model version {mv.name!r} has no adapter to merge")
    return model.merge_and_unload(), tokenizer


def merge_version(name: str, *, registry: Registry | None = None, golden: list[str] | None = None,
                  tolerance: float = TOLERANCE) -> tuple[ModelVersion, MergeCheck]:
    """Merge, verify, register `<name>-merged`; raises MergeVerificationError (registering nothing) on a mismatch."""
    registry = registry or Registry()
    source = registry.get(name)
    if source.merged:
        raise MergeError(f"model version {name!r} is already merged")
    if (source.card.get("quantization") or "none") != "none":
        raise MergeError(f"model version {name!r} was trained on a {source.card['quantization']} base; merging "
                         "into full-precision weights would not reproduce it. Serve it as an adapter instead.")
    golden = golden if golden is not None else golden_texts(source)
    sidecar, tokenizer = load_weights(source, "cpu")
    reference = Classifier.from_weights(source, sidecar, tokenizer).logits(golden)
    del sidecar

    merged, tokenizer = _merge_into_base(source)
    check = compare_logits(reference, Classifier.from_weights(source, merged, tokenizer).logits(golden), tolerance)
    if not check.passed:
        raise MergeVerificationError(f"merge of {name!r} refused: {check.describe()}")

    target = registry.new_version(tag=f"{name}-merged")
    try:
        merged.save_pretrained(target.path / "merged", safe_serialization=True)
        tokenizer.save_pretrained(target.path / "merged")
        for f in _CARRIED:
            if (source.path / f).exists():
                shutil.copy2(source.path / f, target.path / f)
        card = source.card
        card.update(version=target.name, created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                    parent=source.name, merged=True, merge_check={**asdict(check), "passed": True})
        target.write_card(card)
        # What is served is what is on disk: check the reloaded checkpoint too.
        on_disk = compare_logits(reference, Classifier.from_weights(target, *load_weights(target, "cpu")).logits(golden),
                                 tolerance)
        if not on_disk.passed:
            raise MergeVerificationError(f"merge of {name!r} refused after saving: {on_disk.describe()}")
    except BaseException:
        shutil.rmtree(target.path, ignore_errors=True)
        raise
    return target, check


def quantize_report(mv: ModelVersion, kind: str) -> dict:
    """Test accuracy of a merged version before and after quantizing it (int8 dynamic, or nf4 via bitsandbytes)."""
    import torch

    ds, _ = version_dataset(mv)
    rows = real_rows(ds, "test")
    texts, labels = [r["text"] for r in rows], label_ids(rows)
    model, tokenizer = load_weights(mv, "cpu")
    before = Classifier.from_weights(mv, model, tokenizer).logits(texts)
    if kind == "int8":
        # Dynamic int8 of the Linear layers: the CPU path, weights int8, activations quantized per batch.
        quantized = torch.ao.quantization.quantize_dynamic(copy.deepcopy(model), {torch.nn.Linear}, dtype=torch.qint8)
        device = "cpu"
    elif kind == "nf4":
        from transformers import AutoModelForSequenceClassification

        from app.modeling import bnb_config

        device = "cuda" if torch.cuda.is_available() else "cpu"
        quantized = AutoModelForSequenceClassification.from_pretrained(
            mv.path / "merged", quantization_config=bnb_config("nf4", torch.float32), device_map={"": device})
    else:
        raise MergeError(f"unknown quantization {kind!r}; expected int8 or nf4")
    after = Classifier.from_weights(mv, quantized.eval(), tokenizer, device=device).logits(texts)
    acc_before = float((before.argmax(1) == labels).mean())
    acc_after = float((after.argmax(1) == labels).mean())
    return {"kind": kind, "n_test": len(rows), "accuracy_before": acc_before, "accuracy_after": acc_after,
            "accuracy_change": acc_after - acc_before, "label_changes": int((before.argmax(1) != after.argmax(1)).sum()),
            "max_abs_logit_diff": float(np.abs(before - after).max())}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.merge", description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, help="model version whose adapter to merge")
    parser.add_argument("--tolerance", type=float, default=TOLERANCE, help="largest allowed |logit difference|")
    parser.add_argument("--quantize", choices=("int8", "nf4"), help="also report test accuracy after quantizing")
    args = parser.parse_args(argv)
    try:
        target, check = merge_version(args.model, tolerance=args.tolerance)
        print(f"merged {args.model} -> {target.name}: {check.describe()}")
        if args.quantize:
            report = quantize_report(target, args.quantize)
            target.update_card(quantized_eval=report)
            print(f"{args.quantize} after merge: test accuracy {report['accuracy_before']:.4f} -> "
                  f"{report['accuracy_after']:.4f} ({report['accuracy_change']:+.4f}), {report['label_changes']} "
                  f"of {report['n_test']} labels change, max |logit diff| {report['max_abs_logit_diff']:.3f}")
    except (ModelVersionNotFound, ClassifierError, EvaluationError, MergeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
