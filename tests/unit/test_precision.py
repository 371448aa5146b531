"""Serving precision: int8 and bf16 copies of a merged model stay close to fp32, and a version's card
decides what the classifier loads."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from app.classifier import Classifier, clear_cache, load_weights
from app.precision import convert, merged
from app.registry import Registry
from tests.tiny_versions import make_adapter_version
from tests.unit.test_classifier import TEXTS


@pytest.fixture
def registry(tmp_path, tiny_model_dir):
    reg = Registry(root=tmp_path / "registry", default_dir=tmp_path / "default")
    make_adapter_version(reg, tiny_model_dir, "v-tiny")
    yield reg
    clear_cache()


def _linear_kinds(model) -> dict[str, str]:
    """Name -> "fp32" or "int8" for every linear layer."""
    from torch.ao.nn.quantized.dynamic import Linear as DynamicInt8Linear

    return {name: "int8" if isinstance(m, DynamicInt8Linear) else "fp32" for name, m in model.named_modules()
            if isinstance(m, (torch.nn.Linear, DynamicInt8Linear))}


def test_int8_quantizes_every_linear_but_the_score_head_and_the_last_down_projections(registry):
    model = merged(load_weights(registry.get("v-tiny"), "cpu")[0])
    kinds = _linear_kinds(convert(model, "int8"))
    n = model.config.num_hidden_layers
    assert kinds.pop("score") == "fp32"
    for i in (n - 2, n - 1):
        assert kinds.pop(f"model.layers.{i}.mlp.down_proj") == "fp32"
    assert kinds["model.layers.0.mlp.up_proj"] == "int8"
    assert kinds and set(kinds.values()) == {"int8"}
    assert set(_linear_kinds(model).values()) == {"fp32"}   # the fp32 model is left as it was


@pytest.mark.parametrize("precision", ["int8", "bf16"])
def test_converted_logits_stay_close_to_fp32(registry, precision):
    version = registry.get("v-tiny")
    model, tokenizer = load_weights(version, "cpu")
    fp32 = Classifier.from_weights(version, merged(model), tokenizer).logits(TEXTS)
    low = Classifier.from_weights(version, convert(merged(model), precision), tokenizer).logits(TEXTS)
    # the tiny random model's logits are small (|z| < 0.2), so closeness is judged by their correlation
    assert np.corrcoef(low.ravel(), fp32.ravel())[0, 1] > 0.95
    assert not np.array_equal(low, fp32)   # it really ran in another precision


def test_the_card_serving_precision_is_applied_at_load_unless_asked_not_to(registry):
    version = registry.get("v-tiny")
    version.update_card(serving={"kept": True, "precision": "bf16"})
    served, _ = load_weights(version, "cpu")
    assert next(served.parameters()).dtype == torch.bfloat16
    plain, _ = load_weights(version, "cpu", serving_precision=False)
    assert next(plain.parameters()).dtype == torch.float32
    version.update_card(serving={"kept": False, "precision": "bf16"})
    assert next(load_weights(version, "cpu")[0].parameters()).dtype == torch.float32


def test_unknown_precision_is_refused(registry):
    with pytest.raises(ValueError, match="fp16"):
        convert(merged(load_weights(registry.get("v-tiny"), "cpu")[0]), "fp16")
