"""Test doubles for the services' collaborators that are not under test there.

FakeScorer stands in for app.classifier.Classifier: its probabilities follow keywords in the
clause text, so a test can say which clauses are near misses, uncertain or confident.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from app.registry import ModelVersion
from app.taxonomy import LABEL_IDS

# keyword -> (label, probability) pairs; the rest of the mass is spread over the other labels.
KEYWORDS: dict[str, dict[str, float]] = {
    "unlimited": {"uncapped": 0.50, "carve_out": 0.42},        # near miss, margin 0.08
    "basket": {"cap_and_collar": 0.48, "capped": 0.44},        # near miss, margin 0.04
    "indemnify": {"indemnity": 0.45, "none": 0.25},            # below the floor
    "consequential": {"exclusion": 0.62, "none": 0.20},        # below exclusion's threshold
    "exceed": {"capped": 0.92, "none": 0.04},                  # confident
}
DEFAULT = {"none": 0.90}


def distribution(text: str) -> np.ndarray:
    given = next((v for k, v in KEYWORDS.items() if k in text.lower()), DEFAULT)
    rest = [label for label in LABEL_IDS if label not in given]
    left = 1.0 - sum(given.values())
    return np.array([given.get(label, left / len(rest)) for label in LABEL_IDS])


class FakeScorer:
    # A version outside any registry: it has no policy.yaml, so routing falls back to configs/policy.yaml.
    version = ModelVersion("fake-v1", Path("/nonexistent/fake-v1"))

    def __init__(self):
        self.calls = 0

    def predict_proba(self, texts: list[str], headings: list[str] | None = None) -> np.ndarray:
        self.calls += 1
        return np.stack([distribution(t) for t in texts])


CONTRACT = """1. Limitation. Aggregate liability shall not exceed $1,000,000.

2. Fraud. Liability for fraud shall be unlimited.

3. Basket. No claim until losses exceed a basket of $50,000, capped at $2,000,000.

4. Indemnity. Supplier shall indemnify Customer against third-party claims.

5. Exclusion. Neither party is liable for consequential damages.

6. Governing law. This agreement is governed by the laws of New York.
"""


class UncertainScorer(FakeScorer):
    """Below the floor on every clause: the whole contract goes to the review queue."""

    def predict_proba(self, texts: list[str], headings: list[str] | None = None) -> np.ndarray:
        self.calls += 1
        row = np.array([0.40 if label == "none" else 0.10 for label in LABEL_IDS])
        return np.tile(row, (len(texts), 1))
