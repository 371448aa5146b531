"""Classifier on the tiny Llama with a non-identity DoRA adapter."""
from __future__ import annotations

import json

import numpy as np
import pytest

from app.classifier import Classifier, ClassifierError, clear_cache, softmax
from app.registry import ModelVersionNotFound, Registry
from app.taxonomy import LABEL_IDS
from tests.tiny_versions import make_adapter_version

TEXTS = [
    "the party shall indemnify , defend and hold harmless the other party",
    "in no event shall liability exceed the fees paid in the twelve months",
    "governing law",
    "except for breach of confidentiality , gross negligence or wilful misconduct , liability is limited",
    "no party shall be liable for indirect , consequential or punitive damages or lost profits",
]


@pytest.fixture
def registry(tmp_path, tiny_model_dir):
    reg = Registry(root=tmp_path / "registry", default_dir=tmp_path / "default")
    make_adapter_version(reg, tiny_model_dir, "v-tiny", temperature=1.7)
    yield reg
    clear_cache()


def test_logits_have_one_row_per_text_in_label_order(registry):
    clf = Classifier.load("v-tiny", registry=registry, device="cpu")
    logits = clf.logits(TEXTS)
    assert logits.shape == (len(TEXTS), len(LABEL_IDS)) and logits.dtype == np.float32
    assert clf.logits([]).shape == (0, len(LABEL_IDS))


def test_logits_do_not_depend_on_order_or_batching(registry):
    clf = Classifier.load("v-tiny", registry=registry, device="cpu")
    together = clf.logits(TEXTS)
    np.testing.assert_array_equal(clf.logits(TEXTS[::-1])[::-1], together)
    clf.batch_size = 1  # no padding at all: right padding must not change a clause's logits
    np.testing.assert_allclose(clf.logits(TEXTS), together, atol=1e-5)


def test_adapter_changes_the_base_logits(registry, tiny_model_dir):
    from transformers import AutoModelForSequenceClassification

    clf = Classifier.load("v-tiny", registry=registry, device="cpu")
    base = AutoModelForSequenceClassification.from_pretrained(tiny_model_dir).eval()
    enc = clf.tokenizer(TEXTS[:1], return_tensors="pt")
    base_logits = base(**enc).logits.detach().numpy()
    assert np.abs(clf.logits(TEXTS[:1]) - base_logits).max() > 1e-3


def test_probabilities_use_the_calibrated_temperature(registry):
    clf = Classifier.load("v-tiny", registry=registry, device="cpu")
    assert clf.temperature == pytest.approx(1.7)
    probs = clf.predict_proba(TEXTS)
    np.testing.assert_allclose(probs, softmax(clf.logits(TEXTS), 1.7), rtol=1e-6)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-9)
    # A temperature above one flattens: the top probability is lower than uncalibrated.
    assert (probs.max(axis=1) < softmax(clf.logits(TEXTS)).max(axis=1)).all()


def test_predict_gives_the_top_label_and_all_seven_probabilities(registry):
    clf = Classifier.load("v-tiny", registry=registry, device="cpu")
    preds = clf.predict(TEXTS)
    probs = clf.predict_proba(TEXTS)
    for pred, row in zip(preds, probs):
        assert list(pred.probs) == list(LABEL_IDS)
        assert pred.label == LABEL_IDS[int(row.argmax())]
        assert pred.confidence == pytest.approx(row.max())


def test_loaded_weights_are_cached_until_the_adapter_is_rewritten(registry, tiny_model_dir):
    first = Classifier.load("v-tiny", registry=registry, device="cpu")
    assert Classifier.load("v-tiny", registry=registry, device="cpu").model is first.model
    make_adapter_version(registry, tiny_model_dir, "v-tiny", seed=1)
    reloaded = Classifier.load("v-tiny", registry=registry, device="cpu")
    assert reloaded.model is not first.model
    assert np.abs(reloaded.logits(TEXTS) - first.logits(TEXTS)).max() > 1e-4


def test_unknown_version_names_the_known_ones(registry):
    with pytest.raises(ModelVersionNotFound, match="v-tiny"):
        Classifier.load("v-missing", registry=registry)


def test_version_without_adapter_is_a_clear_error(registry, tmp_path):
    (tmp_path / "registry" / "v-empty").mkdir()
    (tmp_path / "registry" / "v-empty" / "card.json").write_text(json.dumps({"base_model": "x", "merged": False}))
    with pytest.raises(ClassifierError, match="no adapter"):
        Classifier.load("v-empty", registry=registry, device="cpu")


def test_cuda_requested_without_a_gpu_is_a_clear_error(registry):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(ClassifierError, match="no CUDA"):
        Classifier.load("v-tiny", registry=registry, device="cuda")
