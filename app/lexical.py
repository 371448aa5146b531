"""A lexical companion to the DoRA model: TF-IDF word n-grams + logistic regression.

Liability clauses are formulaic ("shall not exceed", "in no event", "except for"), and a linear model
over their words is a strong, cheap judge of them; the 135M model reads context the n-grams miss.
A version may carry one (``lexical/``): its logits are added to the model's with a weight fitted on
validation (training/ensemble.py), before calibration. It is stored as arrays and JSON, not as a
pickle, so loading a model version never runs code from its folder.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from app.taxonomy import LABEL_IDS

MISSING_CLASS_LOGIT = -30.0  # a label absent from the training data: never predicted


def fitted_vectorizer(vocabulary: dict[str, int], idf: np.ndarray, ngram_range: tuple[int, int]):
    """A TF-IDF vectorizer rebuilt from saved arrays, as sklearn fitted it (sublinear tf, l2 norm)."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    vec = TfidfVectorizer(ngram_range=tuple(ngram_range), sublinear_tf=True, vocabulary=vocabulary)
    vec.idf_ = idf
    return vec


@dataclass
class LexicalModel:
    vocabulary: dict[str, int]
    idf: np.ndarray          # (features,)
    coef: np.ndarray         # (labels, features), rows in LABEL_IDS order
    intercept: np.ndarray    # (labels,)
    ngram_range: tuple[int, int] = (1, 2)

    @classmethod
    def fit(cls, texts: list[str], labels: list[int], *, c: float = 10.0, min_df: int = 2) -> "LexicalModel":
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression

        vec = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=min_df)
        x = vec.fit_transform(texts)
        lr = LogisticRegression(class_weight="balanced", max_iter=3000, C=c).fit(x, labels)
        coef = np.zeros((len(LABEL_IDS), x.shape[1]))
        intercept = np.full(len(LABEL_IDS), MISSING_CLASS_LOGIT)
        coef[lr.classes_] = lr.coef_
        intercept[lr.classes_] = lr.intercept_
        return cls({k: int(v) for k, v in vec.vocabulary_.items()}, vec.idf_, coef, intercept)

    @classmethod
    def fit_records(cls, rows, use_headings: bool) -> "LexicalModel":
        """Fitted on dataset records ({"text", "heading", "label"}), each read as the model reads it."""
        from app.encoding import model_text
        from app.taxonomy import LABEL2ID

        rows = list(rows)
        return cls.fit([model_text(r["text"], r["heading"] if use_headings else None) for r in rows],
                       [LABEL2ID[r["label"]] for r in rows])

    @cached_property
    def _vectorizer(self):
        # Built once per model: the classifier calls logits() for every chunk it scores, and a fresh
        # vectorizer would check the whole vocabulary each time.
        return fitted_vectorizer(self.vocabulary, self.idf, self.ngram_range)

    def logits(self, texts: list[str]) -> np.ndarray:
        """(n, labels) decision values in LABEL_IDS order."""
        if not texts:
            return np.zeros((0, len(LABEL_IDS)))
        x = self._vectorizer.transform(texts)
        return np.asarray(x @ self.coef.T) + self.intercept

    def save(self, folder: Path) -> None:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "vocabulary.json").write_text(json.dumps(self.vocabulary, ensure_ascii=False))
        np.savez_compressed(folder / "weights.npz", idf=self.idf, coef=self.coef, intercept=self.intercept,
                            ngram_range=np.asarray(self.ngram_range))

    @classmethod
    def load(cls, folder: Path) -> "LexicalModel":
        folder = Path(folder)
        w = np.load(folder / "weights.npz")
        return cls(json.loads((folder / "vocabulary.json").read_text()), w["idf"], w["coef"], w["intercept"],
                   tuple(int(x) for x in w["ngram_range"]))
