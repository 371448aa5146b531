"""Calibration fitted on validation segments in their real proportions.

    python -m training.calibrate --model VERSION

Temperature scaling (Guo et al., 2017) divides the logits by one T; it changes the confidence,
never the label. A model trained on a few thousand sampled negatives and on synthetic `uncapped`
and `cap_and_collar` clauses also has the wrong priors for real contracts (97% `none`), which no
temperature can fix: a per-label bias added after the division moves them (vector scaling with a
shared scale). Both are fitted by weighted NLL on the validation segments, each unread `auto_none`
segment weighing what it stands for, and the bias is kept only where it lowers NLL and ECE out of
fold (5 folds by contract). Writes calibration.json (read by app.classifier) and
eval/reliability_validation.png. A version trained without segments is calibrated on its clauses.
"""
from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime, timezone

import numpy as np

from app.registry import ModelVersionNotFound, Registry
from training.evaluate import (EvaluationError, label_ids, real_rows, reliability_diagram, segment_rows,
                               version_dataset, version_logits, weighted_ece, weights_of)

# Keeps the bias from growing without bound on a label that never occurs in validation
# (`cap_and_collar`: 0 real validation segments): such a label's bias then stays near 0.
BIAS_L2 = 1e-3


def fit(logits: np.ndarray, labels: np.ndarray, weights: np.ndarray | None = None, *, bias: bool = False,
        max_iter: int = 200) -> tuple[float, np.ndarray | None]:
    """(T, bias) minimising the weighted NLL of softmax(logits / T + bias); L-BFGS on log T (T > 0)."""
    import torch

    z = torch.as_tensor(logits, dtype=torch.float64)
    y = torch.as_tensor(labels, dtype=torch.long)
    w = torch.as_tensor(weights if weights is not None else np.ones(len(labels)), dtype=torch.float64)
    log_t = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    b = torch.zeros(z.shape[1], dtype=torch.float64, requires_grad=bias)
    opt = torch.optim.LBFGS([log_t, b] if bias else [log_t], lr=0.5, max_iter=max_iter,
                            line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        nll = (torch.nn.functional.cross_entropy(z / log_t.exp() + b, y, reduction="none") * w).sum() / w.sum()
        loss = nll + (BIAS_L2 * (b ** 2).sum() if bias else 0)
        loss.backward()
        return loss

    opt.step(closure)
    return float(log_t.detach().exp()), (b.detach().numpy() if bias else None)


def fit_temperature(logits: np.ndarray, labels: np.ndarray, max_iter: int = 200) -> float:
    """The T > 0 that minimises the NLL of softmax(logits / T)."""
    return fit(logits, labels, max_iter=max_iter)[0]


def nll(logits: np.ndarray, labels: np.ndarray, temperature: float = 1.0, bias: np.ndarray | None = None,
        weights: np.ndarray | None = None) -> float:
    from app.classifier import softmax

    p = softmax(logits, temperature, bias)[np.arange(len(labels)), labels]
    w = weights if weights is not None else np.ones(len(labels))
    return float(-(w * np.log(np.clip(p, 1e-12, None))).sum() / w.sum())


def out_of_fold(logits, labels, weights, groups, *, bias: bool, folds: int = 5) -> tuple[float, float]:
    """(NLL, ECE) of calibrations fitted on the other folds (grouped by contract), pooled over folds."""
    from sklearn.model_selection import GroupKFold

    from app.classifier import softmax

    probs = np.zeros_like(logits, dtype=np.float64)
    for fit_idx, held in GroupKFold(n_splits=min(folds, len(set(groups)))).split(logits, labels, groups):
        t, b = fit(logits[fit_idx], labels[fit_idx], weights[fit_idx], bias=bias)
        probs[held] = softmax(logits[held], t, b)
    p = probs[np.arange(len(labels)), labels]
    return float(-(weights * np.log(np.clip(p, 1e-12, None))).sum() / weights.sum()), weighted_ece(probs, labels, weights)


def calibrate(version: str | None = None, *, registry: Registry | None = None) -> dict:
    """Fit T (and the bias where it helps) on validation, report NLL and ECE on validation and test, save."""
    from app.classifier import Classifier, softmax

    clf = Classifier.load(version, registry=registry)
    mv = clf.version
    ds, _ = version_dataset(mv)
    on_segments = bool(segment_rows(ds, "validation"))
    rows_of = segment_rows if on_segments else real_rows
    data = {}
    for split in ("validation", "test"):
        rows = rows_of(ds, split)
        if not rows:
            raise EvaluationError(f"the {split} split holds no real clauses to calibrate on")
        data[split] = (version_logits(clf, rows), label_ids(rows), weights_of(rows), [r["contract"] for r in rows])
    logits, labels, weights, groups = data["validation"]
    choice = {name: out_of_fold(logits, labels, weights, groups, bias=b)
              for name, b in (("temperature", False), ("temperature+bias", True))}
    use_bias = all(a < b for a, b in zip(choice["temperature+bias"], choice["temperature"]))
    t, bias = fit(logits, labels, weights, bias=use_bias)
    result: dict = {"created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                    "fitted_on": "validation segments, weighted to real proportions" if on_segments
                    else "validation clauses",
                    "temperature": t, "bias": bias.round(6).tolist() if bias is not None else None,
                    "out_of_fold": {k: {"nll": v[0], "ece": v[1]} for k, v in choice.items()},
                    "method": "temperature+bias" if use_bias else "temperature"}
    for split, (z, y, w, _) in data.items():
        result[split] = {"n": int(len(y)), "weighted_n": float(w.sum()),
                         "nll_before": nll(z, y, weights=w), "nll_after": nll(z, y, t, bias, weights=w),
                         "ece_before": weighted_ece(softmax(z), y, w), "ece_after": weighted_ece(softmax(z, t, bias), y, w)}
    (mv.path / "calibration.json").write_text(json.dumps(result, indent=2) + "\n")
    reliability_diagram(mv.path / "eval" / "reliability_validation.png", labels,
                        {"uncalibrated": softmax(logits), f"{result['method']}": softmax(logits, t, bias)},
                        weights=weights)
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
    print(f"model {r['version']}: {r['method']}, temperature {r['temperature']:.4f} (fitted on {r['fitted_on']})")
    if r["bias"] is not None:
        from app.taxonomy import LABEL_IDS

        print("bias: " + ", ".join(f"{lab} {b:+.3f}" for lab, b in zip(LABEL_IDS, r["bias"])))
    print("out of fold on validation: " + "; ".join(f"{k}: NLL {v['nll']:.4f}, ECE {v['ece']:.4f}"
                                                  for k, v in r["out_of_fold"].items()))
    print("| split | n | NLL before | NLL after | ECE before | ECE after |\n|---|---|---|---|---|---|")
    for split in ("validation", "test"):
        s = r[split]
        print(f"| {split} | {s['n']} | {s['nll_before']:.4f} | {s['nll_after']:.4f} | {s['ece_before']:.4f} | "
              f"{s['ece_after']:.4f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
