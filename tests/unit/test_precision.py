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


def _absmax(version, model, tokenizer):
    from app.precision import activation_absmax

    clf = Classifier.from_weights(version, model, tokenizer)
    return activation_absmax(model, lambda: clf.logits(TEXTS))


def test_activation_maxima_cover_every_smoothed_input(registry):
    version = registry.get("v-tiny")
    model, tokenizer = load_weights(version, "cpu")
    model = merged(model)
    absmax = _absmax(version, model, tokenizer)
    cfg = model.config
    for i in range(cfg.num_hidden_layers):
        assert absmax[f"model.layers.{i}.self_attn.q_proj"].shape == (cfg.hidden_size,)
        assert absmax[f"model.layers.{i}.mlp.gate_proj"].shape == (cfg.hidden_size,)
        assert absmax[f"model.layers.{i}.mlp.down_proj"].shape == (cfg.intermediate_size,)
    assert all((v >= 0).all() and v.max() > 0 for v in absmax.values())
    assert not model._forward_pre_hooks and not any(m._forward_pre_hooks for m in model.modules())  # hooks removed


def test_smoothing_leaves_the_fp32_function_unchanged_but_moves_the_weights(registry):
    from app.precision import smoothed

    version = registry.get("v-tiny")
    model, tokenizer = load_weights(version, "cpu")
    model = merged(model)
    smooth = smoothed(model, _absmax(version, model, tokenizer))
    before = Classifier.from_weights(version, model, tokenizer).logits(TEXTS)
    after = Classifier.from_weights(version, smooth, tokenizer).logits(TEXTS)
    np.testing.assert_allclose(after, before, rtol=1e-4, atol=1e-5)
    q0 = "model.layers.0.self_attn.q_proj.weight"
    assert not torch.equal(dict(smooth.named_parameters())[q0], dict(model.named_parameters())[q0])


def test_int8_smooth_quantizes_all_but_the_score_head_and_needs_its_maxima(registry):
    version = registry.get("v-tiny")
    model, tokenizer = load_weights(version, "cpu")
    model = merged(model)
    with pytest.raises(ValueError, match="absmax"):
        convert(model, "int8-smooth")
    low = convert(model, "int8-smooth", absmax=_absmax(version, model, tokenizer))
    kinds = _linear_kinds(low)
    assert kinds.pop("score") == "fp32" and set(kinds.values()) == {"int8"}
    fp32 = Classifier.from_weights(version, model, tokenizer).logits(TEXTS)
    z = Classifier.from_weights(version, low, tokenizer).logits(TEXTS)
    assert np.corrcoef(z.ravel(), fp32.ravel())[0, 1] > 0.95


def test_int8_smooth_is_served_from_the_versions_saved_maxima(registry):
    from app.precision import SMOOTH_FILE, save_absmax

    version = registry.get("v-tiny")
    model, tokenizer = load_weights(version, "cpu")
    save_absmax(_absmax(version, merged(model), tokenizer), version.path / SMOOTH_FILE)
    version.update_card(serving={"kept": True, "precision": "int8-smooth", "alpha": 0.5})
    served, _ = load_weights(version, "cpu")
    assert _linear_kinds(served)["model.layers.0.self_attn.q_proj"] == "int8"
