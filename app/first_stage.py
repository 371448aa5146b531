"""A first stage that spares the DoRA model the segments a cheap detector is sure are `none`.

A contract is ~97% `none`, and the 135M model costs hundreds of times what TF-IDF + logistic regression
costs per segment. A binary detector (liability clause or not; TF-IDF + logistic regression trained on
every segment of the training contracts, the tens of thousands nobody had to read included) reads every
segment first; a segment whose calibrated p(none) is above the version's threshold is not passed to the
model. The threshold is fitted by training/first_stage.py with a conformal bound on liability segments,
so that a liability segment is skipped with probability at most alpha, and the stage is kept by a version
only if validation recall and contract answers hold (the card's ``first_stage``).

A skipped segment still gets seven probabilities: the detector's p(none), and the rest shared among
the liability labels as the version's lexical companion, calibrated alone, shares it
(P(label) = P(liability) * P(label | liability)).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from app.lexical import fitted_vectorizer
from app.taxonomy import LABEL2ID

NONE = LABEL2ID["none"]
FOLDER = "first_stage"  # in a model version: the detector's arrays (the card keeps threshold and calibration)


@dataclass
class LiabilityDetector:
    """TF-IDF word 1-2 grams + logistic regression: is this segment a liability clause at all?
    p(none) is Platt-scaled on validation segments (`scale`, `shift`). Stored as arrays and JSON, not a pickle."""
    vocabulary: dict[str, int]
    idf: np.ndarray
    coef: np.ndarray        # (features,): the liability side
    intercept: float
    scale: float = 1.0
    shift: float = 0.0
    ngram_range: tuple[int, int] = (1, 2)

    @classmethod
    def fit(cls, texts: list[str], is_liability: list[bool], *, c: float = 1.0, min_df: int = 2) -> "LiabilityDetector":
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression

        vec = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=min_df)
        x = vec.fit_transform(texts)
        # Balanced: liability segments are ~3% of what it reads. C=1 skipped more `none` at zero liability
        # misses than C=10 on validation (0.70 vs 0.40 of segments, measured when this was built).
        lr = LogisticRegression(class_weight="balanced", max_iter=3000, C=c).fit(x, np.asarray(is_liability, int))
        return cls({k: int(v) for k, v in vec.vocabulary_.items()}, vec.idf_, lr.coef_[0], float(lr.intercept_[0]))

    def scores(self, texts: list[str]) -> np.ndarray:
        """Raw liability scores (decision values), before Platt scaling."""
        if not texts:
            return np.zeros(0)
        return np.asarray(self._vectorizer.transform(texts) @ self.coef).ravel() + self.intercept

    def calibrated(self, texts: list[str], weights: np.ndarray, is_liability: np.ndarray) -> "LiabilityDetector":
        """The same detector with p(none) Platt-scaled on these (validation) segments, each with its weight."""
        from sklearn.linear_model import LogisticRegression

        # Platt scaling is a one-feature logistic regression; a large C leaves it unregularised.
        lr = LogisticRegression(C=1e6, max_iter=1000).fit(self.scores(texts)[:, None], np.asarray(is_liability, int),
                                                          sample_weight=weights)
        return LiabilityDetector(self.vocabulary, self.idf, self.coef, self.intercept, float(lr.coef_[0, 0]),
                                 float(lr.intercept_[0]), self.ngram_range)

    def p_none(self, texts: list[str]) -> np.ndarray:
        return self.p_none_of_scores(self.scores(texts))

    def p_none_of_scores(self, scores: np.ndarray) -> np.ndarray:
        """Platt-scaled p(none) of raw scores (`scores`), e.g. ones from detectors fitted out of fold."""
        from scipy.special import expit

        return expit(-(self.scale * np.asarray(scores) + self.shift))

    @cached_property
    def _vectorizer(self):
        return fitted_vectorizer(self.vocabulary, self.idf, self.ngram_range)

    def save(self, folder: Path) -> None:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "vocabulary.json").write_text(json.dumps(self.vocabulary, ensure_ascii=False))
        np.savez_compressed(folder / "weights.npz", idf=self.idf, coef=self.coef,
                            scalars=np.asarray([self.intercept, self.scale, self.shift]),
                            ngram_range=np.asarray(self.ngram_range))

    @classmethod
    def load(cls, folder: Path) -> "LiabilityDetector":
        folder = Path(folder)
        w = np.load(folder / "weights.npz")
        intercept, scale, shift = (float(x) for x in w["scalars"])
        return cls(json.loads((folder / "vocabulary.json").read_text()), w["idf"], w["coef"], intercept, scale, shift,
                   tuple(int(x) for x in w["ngram_range"]))


@dataclass(frozen=True)
class FirstStage:
    threshold: float        # a segment whose calibrated p(none) is above this skips the model
    temperature: float      # the lexical companion calibrated alone on validation segments: how a skipped
    bias: tuple[float, ...]  # segment's liability share is spread over the liability labels
    detector: LiabilityDetector

    @classmethod
    def load(cls, version) -> "FirstStage | None":
        """The version's first stage, or None when it has none or it was not kept."""
        fs = version.card.get("first_stage") or {}
        folder = version.path / FOLDER
        if not fs.get("kept") or not folder.is_dir():
            return None
        return cls(float(fs["threshold"]), float(fs["temperature"]), tuple(float(b) for b in fs["bias"]),
                   LiabilityDetector.load(folder))

    def skips(self, p_none: np.ndarray) -> np.ndarray:
        """Boolean mask of the rows that need no second look."""
        return np.asarray(p_none) > self.threshold

    def probs(self, p_none: np.ndarray, lexical_logits: np.ndarray) -> np.ndarray:
        """Stage-1 probabilities: the detector's p(none), and 1 - p(none) spread over the liability labels
        as the companion's calibrated probabilities spread it."""
        from scipy.special import softmax

        z = np.asarray(lexical_logits, dtype=np.float64) / self.temperature + np.asarray(self.bias)
        z[:, NONE] = -np.inf
        out = softmax(z, axis=1) * (1 - np.asarray(p_none))[:, None]
        out[:, NONE] = p_none
        return out

    def screen(self, full_probs: np.ndarray, p_none: np.ndarray, lexical_logits: np.ndarray) -> np.ndarray:
        """What serving returns, from probabilities computed for every row: skipped rows take the stage-1
        probabilities. Evaluation uses this on saved logits; the classifier skips the work instead."""
        skip = self.skips(p_none)
        out = full_probs.copy()
        out[skip] = self.probs(p_none[skip], lexical_logits[skip])
        return out
