"""Clause-level figures: one set of formulas for training, evaluation, the retrain gate and the reports.

Macro-F1 is over the labels present in the gold set (a label no gold row carries has no F1 to
average); with `weights` every figure is weighted (segments of unread `auto_none` sampled at 1/share
weigh 1/share); the confusion matrix and the counts are plain counts. Two different figures about
`uncapped` keep two names: `uncapped_wrong_share` is the share of `uncapped` predictions whose gold
label differs (1 - precision), `fp_uncapped_rate` the share of non-`uncapped` rows called `uncapped`.
"""
from __future__ import annotations

import numpy as np

from app.taxonomy import LABEL2ID, LABEL_IDS

NEAR_MISS = ("carve_out", "uncapped", "cap_and_collar", "capped")
ECE_BINS = 15


def label_metrics(labels, pred=None, *, probs: np.ndarray | None = None, weights: np.ndarray | None = None) -> dict:
    """Every clause-level figure of predictions `pred` (or the argmax of `probs`) against gold `labels`;
    ECE only when `probs` are given."""
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support

    labels = np.asarray(labels, dtype=np.int64)
    pred = np.asarray(probs.argmax(axis=1) if pred is None else pred, dtype=np.int64)
    w = np.ones(len(labels)) if weights is None else np.asarray(weights, dtype=np.float64)
    all_ids = list(range(len(LABEL_IDS)))
    present = sorted(set(labels.tolist()))
    p, r, f, _ = precision_recall_fscore_support(labels, pred, labels=all_ids, sample_weight=w, zero_division=0)
    uncapped = LABEL2ID["uncapped"]
    said_uncapped, not_uncapped = pred == uncapped, labels != uncapped
    near = np.isin(labels, [LABEL2ID[x] for x in NEAR_MISS])
    support = {LABEL_IDS[i]: int((labels == i).sum()) for i in all_ids}
    return {
        "n": int(len(labels)), "weighted_n": float(w.sum()),
        "accuracy": float(accuracy_score(labels, pred, sample_weight=w)) if len(labels) else 0.0,
        "macro_f1": float(f1_score(labels, pred, labels=present, average="macro", sample_weight=w, zero_division=0))
        if len(labels) else 0.0,
        "macro_f1_labels": [LABEL_IDS[i] for i in present],
        "per_label": {LABEL_IDS[i]: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]),
                                     "support": support[LABEL_IDS[i]], "predicted": int((pred == i).sum())}
                      for i in all_ids},
        # None for a label no gold row carries: its F1 is undefined, not zero
        "per_label_f1": {LABEL_IDS[i]: (float(f[i]) if i in present else None) for i in all_ids},
        "support": support,
        "confusion": confusion_matrix(labels, pred, labels=all_ids).tolist(),
        "ece": weighted_ece(probs, labels, w) if probs is not None else None,
        "n_predicted_uncapped": int(said_uncapped.sum()),
        "uncapped_wrong_share": float((labels[said_uncapped] != uncapped).mean()) if said_uncapped.any() else None,
        "fp_uncapped": int((said_uncapped & not_uncapped).sum()),
        "fp_uncapped_rate": float(said_uncapped[not_uncapped].mean()) if not_uncapped.any() else 0.0,
        "near_miss_n": int(near.sum()),
        "near_miss_accuracy": float((pred[near] == labels[near]).mean()) if near.any() else None,
    }


def expected_calibration_error(probs: np.ndarray, labels: np.ndarray) -> float:
    """Top-label ECE with 15 equal-width bins (torchmetrics, L1 norm)."""
    import torch
    from torchmetrics.classification import MulticlassCalibrationError

    metric = MulticlassCalibrationError(num_classes=len(LABEL_IDS), n_bins=ECE_BINS, norm="l1")
    return float(metric(torch.as_tensor(probs, dtype=torch.float32), torch.as_tensor(labels)))


def weighted_ece(probs: np.ndarray, labels: np.ndarray, weights: np.ndarray | None = None) -> float:
    """Top-label ECE, 15 equal-width bins, L1, each clause counted with its weight. torchmetrics takes no
    sample weights; segments sampled at a known rate need them to describe whole contracts. With unit
    weights this equals expected_calibration_error (tested)."""
    w = np.ones(len(labels)) if weights is None else np.asarray(weights, dtype=np.float64)
    conf = probs.max(axis=1)
    correct = (probs.argmax(axis=1) == labels).astype(np.float64)
    # torchmetrics' binning: bucketize on the inner edges with right=True, bins 0..n-1
    edges = np.linspace(0, 1, ECE_BINS + 1)
    bins = np.clip(np.searchsorted(edges[1:-1], conf, side="left"), 0, ECE_BINS - 1)
    total = 0.0
    for b in range(ECE_BINS):
        m = bins == b
        if m.any():
            wb = w[m].sum()
            total += abs((w[m] * correct[m]).sum() / wb - (w[m] * conf[m]).sum() / wb) * wb
    return float(total / w.sum())
