"""A first stage that spares the DoRA model the segments its lexical companion is sure are `none`.

A contract is ~97% `none`, and the 135M model costs hundreds of times what TF-IDF + logistic regression
costs per segment. The lexical companion (app/lexical.py) reads every segment first; a segment whose
stage-1 probability of `none` is above the version's threshold keeps the stage-1 probabilities and is not
passed to the model. The threshold is fitted by training/first_stage.py on validation liability segments
with a conformal bound, so that a liability segment is skipped with probability at most alpha, and it
is kept by a version only if validation recall and contract answers hold (the card's ``first_stage``).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from app.taxonomy import LABEL2ID

NONE = LABEL2ID["none"]


@dataclass(frozen=True)
class FirstStage:
    threshold: float        # a segment whose stage-1 p(none) is above this skips the model
    temperature: float      # stage-1 calibration of the raw lexical logits, fitted on validation segments
    bias: tuple[float, ...]

    @classmethod
    def from_card(cls, card: dict) -> "FirstStage | None":
        """The version's first stage, or None when it has none or it was not kept."""
        fs = card.get("first_stage") or {}
        if not fs.get("kept"):
            return None
        return cls(float(fs["threshold"]), float(fs["temperature"]), tuple(float(b) for b in fs["bias"]))

    def probs(self, lexical_logits: np.ndarray) -> np.ndarray:
        """Calibrated stage-1 probabilities of raw (unweighted) lexical logits: softmax(logits / T + bias)."""
        from scipy.special import softmax

        z = np.asarray(lexical_logits, dtype=np.float64) / self.temperature + np.asarray(self.bias)
        return softmax(z, axis=1)

    def skips(self, stage1_probs: np.ndarray) -> np.ndarray:
        """Boolean mask of the rows that need no second look."""
        return stage1_probs[:, NONE] > self.threshold

    def screen(self, full_probs: np.ndarray, lexical_logits: np.ndarray) -> np.ndarray:
        """What serving returns, from probabilities computed for every row: skipped rows take the stage-1
        probabilities. Evaluation uses this on saved logits; the classifier skips the work instead."""
        stage1 = self.probs(lexical_logits)
        skip = self.skips(stage1)
        out = full_probs.copy()
        out[skip] = stage1[skip]
        return out
