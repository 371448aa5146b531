"""Temperature scaling (Guo et al., 2017) fitted on the validation clauses of a model version.

    python -m training.calibrate --model VERSION

One scalar T minimises the negative log-likelihood of softmax(logits / T) on validation;
it changes the confidence, never the predicted label. Writes calibration.json into the
version folder (read by app.classifier) and eval/reliability_validation.png.
"""
from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime, timezone

import numpy as np

from app.registry import ModelVersionNotFound, Registry
from training.evaluate import (EvaluationError, expected_calibration_error, label_ids, real_rows,
                               reliability_diagram, version_dataset, version_logits)


def fit_temperature(logits: np.ndarray, labels: np.ndarray, max_iter: int = 200) -> float:
    """The T > 0 that minimises the NLL of softmax(logits / T) (L-BFGS on log T, so T stays positive)."""
    import torch

    z = torch.as_tensor(logits, dtype=torch.float64)
    y = torch.as_tensor(labels, dtype=torch.long)
    log_t = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([log_t], lr=0.5, max_iter=max_iter, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(z / log_t.exp(), y)
        loss.backward()
        return loss

    opt.step(closure)
    return float(log_t.detach().exp())


def nll(logits: np.ndarray, labels: np.ndarray, temperature: float = 1.0) -> float:
    import torch

    return float(torch.nn.functional.cross_entropy(torch.as_tensor(logits, dtype=torch.float64) / temperature,
                                                   torch.as_tensor(labels, dtype=torch.long)))


def calibrate(version: str | None = None, *, registry: Registry | None = None) -> dict:
    """Fit T on the version's validation clauses, report ECE before/after on validation and test, save it."""
    from app.classifier import Classifier, softmax

    clf = Classifier.load(version, registry=registry)
    mv = clf.version
    ds, _ = version_dataset(mv)
    result: dict = {"created": datetime.now(timezone.utc).isoformat(timespec="seconds"), "fitted_on": "validation"}
    per_split = {}
    for split in ("validation", "test"):
        rows = real_rows(ds, split)
        per_split[split] = (version_logits(clf, [r["text"] for r in rows]), label_ids(rows))
    val_logits, val_labels = per_split["validation"]
    t = fit_temperature(val_logits, val_labels)
    result["temperature"] = t
    for split, (logits, labels) in per_split.items():
        result[split] = {"n": int(len(labels)),
                         "nll_before": nll(logits, labels), "nll_after": nll(logits, labels, t),
                         "ece_before": expected_calibration_error(softmax(logits), labels),
                         "ece_after": expected_calibration_error(softmax(logits, t), labels)}
    (mv.path / "calibration.json").write_text(json.dumps(result, indent=2) + "\n")
    reliability_diagram(mv.path / "eval" / "reliability_validation.png", val_labels,
                        {"uncalibrated": softmax(val_logits), f"T = {t:.2f}": softmax(val_logits, t)})
    result["version"] = mv.name
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.calibrate", description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="model version (default: the active one)")
    args = parser.parse_args(argv)
    from app.classifier import ClassifierError

    try:
        r = calibrate(args.model)
    except (ModelVersionNotFound, ClassifierError, EvaluationError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"model {r['version']}: temperature {r['temperature']:.4f} (fitted on validation)")
    print("| split | n | NLL before | NLL after | ECE before | ECE after |\n|---|---|---|---|---|---|")
    for split in ("validation", "test"):
        s = r[split]
        print(f"| {split} | {s['n']} | {s['nll_before']:.4f} | {s['nll_after']:.4f} | {s['ece_before']:.4f} | "
              f"{s['ece_after']:.4f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
