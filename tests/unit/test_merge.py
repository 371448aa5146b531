"""Merge verification on the tiny Llama with a non-identity DoRA adapter."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from app.classifier import Classifier, clear_cache
from app.registry import Registry
from tests.tiny_versions import make_adapter_version
from training import merge
from training.merge import MergeError, MergeVerificationError, compare_logits, merge_version

GOLDEN = [
    "the party shall indemnify , defend and hold harmless the other party from all claims",
    "in no event shall the aggregate liability exceed the fees paid in the twelve months",
    "no party shall be liable for indirect , consequential or punitive damages",
    "except for breach of confidentiality , liability shall be limited to the amount paid",
    "this agreement is governed by the law of the state",
    "liability for gross negligence or wilful misconduct is unlimited",
]


@pytest.fixture
def registry(tmp_path, tiny_model_dir):
    reg = Registry(root=tmp_path / "registry", default_dir=tmp_path / "default")
    make_adapter_version(reg, tiny_model_dir, "v-dora", use_dora=True, temperature=1.4)
    (reg.root / "v-dora" / "policy.yaml").write_text("floor: 0.5\nnear_miss_margin: 0.1\nthresholds: {}\n")
    yield reg
    clear_cache()


def test_a_dora_merge_reproduces_the_sidecar_and_is_registered(registry):
    target, check = merge_version("v-dora", registry=registry, golden=GOLDEN)
    assert check.passed and check.n == len(GOLDEN) and check.max_abs_diff <= 1e-3
    card = target.card
    assert card["merged"] is True and card["parent"] == "v-dora" and card["merge_check"]["passed"]
    assert (target.path / "merged" / "config.json").exists()
    assert (target.path / "policy.yaml").exists() and target.temperature == pytest.approx(1.4)
    sidecar = Classifier.load("v-dora", registry=registry, device="cpu")
    served = Classifier.load(target.name, registry=registry, device="cpu")
    assert not hasattr(served.model, "peft_config")  # plain transformers weights, no adapter layers
    np.testing.assert_allclose(served.logits(GOLDEN), sidecar.logits(GOLDEN), atol=1e-4)


def test_a_corrupted_merge_is_caught_and_nothing_is_registered(registry, monkeypatch):
    real_merge = merge._merge_into_base

    def corrupted(mv):
        model, tokenizer = real_merge(mv)
        with torch.no_grad():  # one perturbed weight row, as a faulty merge would leave
            model.model.layers[0].self_attn.q_proj.weight[0] += 0.5
        return model, tokenizer

    monkeypatch.setattr(merge, "_merge_into_base", corrupted)
    before = {p.name for p in registry.root.iterdir()}
    with pytest.raises(MergeVerificationError, match="refused"):
        merge_version("v-dora", registry=registry, golden=GOLDEN)
    assert {p.name for p in registry.root.iterdir()} == before


def test_a_checkpoint_that_reloads_differently_is_removed(registry, monkeypatch):
    real_load = merge.load_weights

    def load_corrupted(mv, device):
        model, tokenizer = real_load(mv, device)
        if mv.merged:  # the reload of the written checkpoint
            with torch.no_grad():
                model.score.weight.mul_(1.5)
        return model, tokenizer

    monkeypatch.setattr(merge, "load_weights", load_corrupted)
    before = {p.name for p in registry.root.iterdir()}
    with pytest.raises(MergeVerificationError, match="after saving"):
        merge_version("v-dora", registry=registry, golden=GOLDEN)
    assert {p.name for p in registry.root.iterdir()} == before


@pytest.mark.parametrize("reference, merged, passed", [
    ([[1.0, 0.0]], [[1.0005, 0.0]], True),                # within tolerance
    ([[1.0, 0.0]], [[1.002, 0.0]], False),                # beyond tolerance
    ([[0.5, 0.5004]], [[0.5004, 0.5]], False),            # within tolerance, but the label flips
])
def test_compare_logits_needs_both_small_difference_and_same_argmax(reference, merged, passed):
    assert compare_logits(np.array(reference), np.array(merged)).passed is passed


def test_merging_a_merged_version_is_refused(registry):
    target, _ = merge_version("v-dora", registry=registry, golden=GOLDEN)
    with pytest.raises(MergeError, match="already merged"):
        merge_version(target.name, registry=registry, golden=GOLDEN)


def test_a_4bit_trained_adapter_is_not_merged(registry):
    registry.get("v-dora").update_card(quantization="nf4")
    with pytest.raises(MergeError, match="nf4"):
        merge_version("v-dora", registry=registry, golden=GOLDEN)
