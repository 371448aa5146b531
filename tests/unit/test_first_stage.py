"""The first stage: a conformal threshold on a binary detector's p(none), and a classifier that skips the
model for the segments above it while giving the same numbers as screening full probabilities."""
from __future__ import annotations

import shutil

import numpy as np
import pytest

from app.classifier import Classifier, clear_cache
from app.first_stage import FOLDER, NONE, LiabilityDetector
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
    detector = LiabilityDetector.fit(texts * 3, [y != NONE for y in labels] * 3, min_df=1)
    detector.save(version.path / FOLDER)
    # The threshold sits between the liability clauses' p(none) and the others', so some rows skip.
    p_none = detector.p_none(texts)
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
    read = clf.model_reads(texts)
    assert 0 < read.sum() < len(texts) and read[: len(LIABILITY)].all()
    assert seen == [t for t, r in zip(texts, read) if r]       # the model read only these
    full = clf.calibrate(model_logits(texts) + clf.lexical_logits(texts))
    np.testing.assert_allclose(got, clf.screened(full, texts), rtol=1e-6)
    np.testing.assert_allclose(got[read], full[read], rtol=1e-6)   # what it read: exactly the ensemble
    skipped = got[~read]
    assert (skipped.argmax(axis=1) == NONE).all()
    np.testing.assert_allclose(skipped.sum(axis=1), 1.0)
    # p(none) is the detector's; the rest is spread as the companion (calibrated alone) spreads it
    p_none, raw = clf.first_look([t for t, r in zip(texts, read) if not r])
    np.testing.assert_allclose(skipped[:, NONE], p_none)
    companion = np.exp(raw) * (np.arange(7) != NONE)
    np.testing.assert_allclose(skipped, np.where(np.arange(7) == NONE, p_none[:, None],
                                                 (1 - p_none[:, None]) * companion / companion.sum(1, keepdims=True)),
                               rtol=1e-6)


def test_a_stage_not_kept_or_without_its_detector_is_not_used(screened):
    reg, texts = screened
    reg.get("v-tiny").update_card(first_stage={"kept": False, "threshold": 0.0, "temperature": 1.0,
                                               "bias": [0.0] * 7})
    clf = Classifier.load("v-tiny", registry=reg, device="cpu")
    assert clf.first_stage is None
    np.testing.assert_allclose(clf.predict_proba(texts), clf.calibrate(clf.logits(texts)), rtol=1e-6)
    version = reg.get("v-tiny")
    version.update_card(first_stage={"kept": True, "threshold": 0.0, "temperature": 1.0, "bias": [0.0] * 7})
    shutil.rmtree(version.path / FOLDER)
    clear_cache()
    assert Classifier.load("v-tiny", registry=reg, device="cpu").first_stage is None


def test_detector_round_trips_without_pickle_and_platt_scaling_keeps_the_order(tmp_path):
    texts = LIABILITY + OTHER
    y = [True] * len(LIABILITY) + [False] * len(OTHER)
    detector = LiabilityDetector.fit(texts * 3, y * 3, min_df=1)
    scaled = detector.calibrated(texts, np.ones(len(texts)), np.asarray(y))
    assert scaled.scale > 0                                  # more liability score, less p(none)
    order = np.argsort(detector.p_none(texts))
    np.testing.assert_array_equal(np.argsort(scaled.p_none(texts)), order)
    scaled.save(tmp_path / "d")
    assert {f.name for f in (tmp_path / "d").iterdir()} == {"vocabulary.json", "weights.npz"}
    np.testing.assert_allclose(LiabilityDetector.load(tmp_path / "d").p_none(texts), scaled.p_none(texts))
    # training.first_stage scales out-of-fold scores with the same Platt parameters
    np.testing.assert_allclose(scaled.p_none_of_scores(scaled.scores(texts)), scaled.p_none(texts))
    np.testing.assert_allclose(scaled.p_none(texts), 1 / (1 + np.exp(scaled.scale * scaled.scores(texts) + scaled.shift)))
