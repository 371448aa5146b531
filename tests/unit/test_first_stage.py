"""The first stage: a conformal threshold on the lexical p(none), and a classifier that skips the model for
the segments under it while giving the same numbers as screening full probabilities."""
from __future__ import annotations

import numpy as np
import pytest

from app.classifier import Classifier, clear_cache
from app.first_stage import NONE, FirstStage
from app.lexical import LexicalModel
from app.registry import Registry
from app.taxonomy import LABEL2ID
from tests.tiny_versions import make_adapter_version
from training.first_stage import conformal_threshold

LIABILITY = ["in no event shall liability exceed the fees paid in the twelve months",
             "the supplier shall indemnify and hold harmless the customer against third party claims",
             "neither party shall be liable for indirect or consequential damages",
             "except for breach of confidentiality , liability is limited to the fees paid"]
OTHER = ["this agreement is governed by the laws of delaware", "notices shall be sent by registered mail",
         "the term of this agreement is three years", "the parties may sign in counterparts",
         "schedule a lists the products", "payment is due within thirty days of invoice"]


def test_conformal_threshold_is_the_bounding_order_statistic():
    scores = np.linspace(0.0, 0.99, 1000)           # 1000 liability segments' p(none)
    t = conformal_threshold(scores, alpha=0.01)     # k = ceil(1001 * 0.99) = 991 -> the 991st smallest
    assert t == pytest.approx(scores[990])
    assert (scores > t).sum() == 9                   # at most alpha of the calibration scores lie above
    assert conformal_threshold(scores[:50], alpha=0.01) == 1.0   # too few to bound: skip nothing


def test_conformal_threshold_bounds_misses_on_fresh_draws():
    rng = np.random.default_rng(0)
    misses = []
    for _ in range(200):
        t = conformal_threshold(rng.beta(2, 1, 400), alpha=0.05)
        misses.append((rng.beta(2, 1, 400) > t).mean())
    assert np.mean(misses) <= 0.05 + 0.005           # the guarantee is on average over draws


@pytest.fixture
def screened(tmp_path, tiny_model_dir):
    reg = Registry(root=tmp_path / "registry", default_dir=tmp_path / "default")
    version = make_adapter_version(reg, tiny_model_dir, "v-tiny", temperature=1.3)
    texts = LIABILITY + OTHER
    labels = [LABEL2ID["capped"], LABEL2ID["indemnity"], LABEL2ID["exclusion"], LABEL2ID["carve_out"]] + [NONE] * 6
    LexicalModel.fit(texts * 3, labels * 3, min_df=1).save(version.path / "lexical")
    # The threshold sits between the liability clauses' p(none) and the others', so some rows skip.
    stage = FirstStage(0.0, 1.0, (0.0,) * 7)
    p_none = stage.probs(LexicalModel.load(version.path / "lexical").logits(texts))[:, NONE]
    threshold = float(p_none[: len(LIABILITY)].max())
    assert threshold < p_none[len(LIABILITY):].max()
    version.update_card(ensemble={"lexical_weight": 0.5},
                        first_stage={"kept": True, "threshold": threshold, "temperature": 1.0, "bias": [0.0] * 7})
    yield reg, texts
    clear_cache()


def test_classifier_skips_the_model_for_sure_none_and_matches_screening(screened, monkeypatch):
    reg, texts = screened
    clf = Classifier.load("v-tiny", registry=reg, device="cpu")
    assert clf.first_stage is not None
    seen = []
    model_logits = clf.model_logits
    monkeypatch.setattr(clf, "model_logits", lambda t, h=None: seen.extend(t) or model_logits(t, h))
    got = clf.predict_proba(texts)
    skipped = clf.first_stage.skips(clf.first_stage.probs(clf.raw_lexical_logits(texts)))
    assert 0 < skipped.sum() < len(texts) and not skipped[: len(LIABILITY)].any()
    assert seen == [t for t, s in zip(texts, skipped) if not s]       # the model read only the rest
    full = clf.calibrate(model_logits(texts) + clf.lexical_logits(texts))
    np.testing.assert_allclose(got, clf.first_stage.screen(full, clf.raw_lexical_logits(texts)), rtol=1e-6)
    np.testing.assert_allclose(got[~skipped], full[~skipped], rtol=1e-6)   # the rest: exactly the ensemble
    assert (got[skipped].argmax(axis=1) == NONE).all()


def test_a_stage_not_kept_is_not_used(screened):
    reg, texts = screened
    reg.get("v-tiny").update_card(first_stage={"kept": False, "threshold": 0.0, "temperature": 1.0,
                                               "bias": [0.0] * 7})
    clf = Classifier.load("v-tiny", registry=reg, device="cpu")
    assert clf.first_stage is None
    np.testing.assert_allclose(clf.predict_proba(texts), clf.calibrate(clf.logits(texts)), rtol=1e-6)
