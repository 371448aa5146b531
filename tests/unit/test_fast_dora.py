"""app.fast_dora gives stock peft DoRA's numbers: outputs, gradients, merge, saved adapters.

All on the tiny Llama of conftest (fp32, and its NF4 copy through bitsandbytes on the CPU).
Magnitudes and B are perturbed away from their initial values so the norm's cross and
quadratic terms, and the magnitude's scaling, are all exercised.
"""
from __future__ import annotations

import copy

import pytest
import torch

from app.fast_dora import (FastDoraLinearLayer, FastDoraLinearVariant, disable_fast_dora, enable_fast_dora,
                           fast_dora_layers)

TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
RTOL = 1e-5


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    """Largest difference relative to the largest magnitude of the reference."""
    return float((a - b).abs().max() / b.abs().max().clamp_min(1e-30))


def _base(tiny_model_dir, quantization: str):
    from app.modeling import load_base_model

    return load_base_model(str(tiny_model_dir), quantization=quantization,
                           device_map=None if quantization == "none" else {"": "cpu"})


def _stock_dora(tiny_model_dir, quantization: str = "none", seed: int = 0, **lora_kwargs):
    """A stock peft DoRA model whose B, and magnitude, are away from their initial values."""
    from peft import LoraConfig, get_peft_model

    base = _base(tiny_model_dir, quantization)
    torch.manual_seed(seed)
    config = LoraConfig(task_type="SEQ_CLS", r=4, lora_alpha=8, target_modules=TARGETS, use_dora=True,
                        init_lora_weights=False, **lora_kwargs)
    model = get_peft_model(base, config)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_magnitude_vector" in name:
                p.mul_(1 + 0.2 * torch.randn_like(p))
    return model


def _batch(seed: int = 1, n: int = 3, length: int = 11):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(4, 60, (n, length), generator=g)  # ids of real words of the tiny vocabulary
    mask = torch.ones_like(ids)
    ids[0, -3:], mask[0, -3:] = 0, 0  # some right padding, as in real batches
    return {"input_ids": ids, "attention_mask": mask, "labels": torch.arange(n) % 7}


def _step(model, batch):
    model.train()
    model.zero_grad(set_to_none=True)
    out = model(**batch)
    out.loss.backward()
    grads = {n: p.grad.detach().clone() for n, p in model.named_parameters() if p.grad is not None}
    return out.logits.detach(), grads


@pytest.fixture(scope="module", params=["none", "nf4"])
def pair(request, tiny_model_dir):
    """(stock, fast): the same adapter, peft's variant and ours."""
    stock = _stock_dora(tiny_model_dir, request.param)
    fast = copy.deepcopy(stock)
    assert enable_fast_dora(fast) == 2 * len(TARGETS)
    return request.param, stock, fast


def test_layers_switched_and_keys_unchanged(pair):
    _, stock, fast = pair
    assert fast_dora_layers(fast) == 2 * len(TARGETS) and fast_dora_layers(stock) == 0
    assert any(isinstance(m, FastDoraLinearLayer) for m in fast.modules())
    assert list(fast.state_dict()) == list(stock.state_dict())
    assert enable_fast_dora(fast) == 2 * len(TARGETS)  # idempotent


def test_forward_and_gradients_match_stock(pair):
    quantization, stock, fast = pair
    batch = _batch()
    logits_s, grads_s = _step(stock, batch)
    logits_f, grads_f = _step(fast, batch)
    assert _rel(logits_f, logits_s) <= RTOL
    kinds = {"lora_A": 0, "lora_B": 0, "lora_magnitude_vector": 0}
    assert grads_f.keys() == grads_s.keys()
    for name, g in grads_s.items():
        kind = next((k for k in kinds if k in name), None)
        if kind is None:
            continue
        kinds[kind] += 1
        assert _rel(grads_f[name], g) <= RTOL, (quantization, name, _rel(grads_f[name], g))
    assert all(n == 2 * len(TARGETS) for n in kinds.values()), kinds


def test_eval_forward_matches_stock_and_follows_weight_updates(pair):
    _, stock, fast = pair
    batch = {k: v for k, v in _batch(seed=2).items() if k != "labels"}
    for model in (stock, fast):
        model.eval()
    with torch.no_grad():
        assert _rel(fast(**batch).logits, stock(**batch).logits) <= RTOL
        assert _rel(fast(**batch).logits, stock(**batch).logits) <= RTOL  # second call: cached norm
        # an in-place update of B (as an optimizer makes) must invalidate the cached norm
        for model in (stock, fast):
            for name, p in model.named_parameters():
                if "lora_B" in name:
                    p.add_(0.05)
        assert _rel(fast(**batch).logits, stock(**batch).logits) <= RTOL


def test_optimizer_steps_track_stock(tiny_model_dir):
    stock = _stock_dora(tiny_model_dir, seed=3)
    fast = copy.deepcopy(stock)
    enable_fast_dora(fast)
    opts = [torch.optim.AdamW([p for p in m.parameters() if p.requires_grad], lr=1e-3) for m in (stock, fast)]
    for i in range(3):
        for model, opt in zip((stock, fast), opts):
            _step(model, _batch(seed=10 + i))
            opt.step()
    params_s = dict(stock.named_parameters())
    for name, p in fast.named_parameters():
        if p.requires_grad:
            assert _rel(p.detach(), params_s[name].detach()) <= 1e-4, name


@pytest.mark.parametrize("quantization", ["none", "nf4"])
def test_merge_matches_stock_merge(tiny_model_dir, quantization):
    if quantization == "nf4":
        pytest.importorskip("bitsandbytes")
    stock = _stock_dora(tiny_model_dir, quantization, seed=4)
    fast = copy.deepcopy(stock)
    enable_fast_dora(fast)
    batch = {k: v for k, v in _batch(seed=5).items() if k != "labels"}
    fast.eval()
    with torch.no_grad():
        unmerged = fast(**batch).logits
    merged_s = stock.merge_and_unload()
    merged_f = fast.merge_and_unload()
    ws, wf = merged_s.state_dict(), merged_f.state_dict()
    assert ws.keys() == wf.keys()
    for k in ws:
        if ws[k].is_floating_point():
            assert torch.equal(ws[k], wf[k]), k
        else:
            assert torch.equal(ws[k], wf[k]), k
    if quantization == "none":  # a 4-bit merge re-quantises, so only the fp32 merge reproduces the logits
        with torch.no_grad():
            assert _rel(merged_f.eval()(**batch).logits, unmerged) <= 1e-4


def test_stock_adapter_loads_into_fast_and_back(tiny_model_dir, tmp_path):
    from peft import PeftModel

    stock = _stock_dora(tiny_model_dir, seed=6, modules_to_save=["score"])
    stock.save_pretrained(tmp_path / "stock")
    loaded = PeftModel.from_pretrained(_base(tiny_model_dir, "none"), tmp_path / "stock")
    assert enable_fast_dora(loaded) == 2 * len(TARGETS)
    batch = {k: v for k, v in _batch(seed=7).items() if k != "labels"}
    stock.eval(), loaded.eval()
    with torch.no_grad():
        expected = stock(**batch).logits
        assert _rel(loaded(**batch).logits, expected) <= RTOL
    # saved from the fast model, the adapter is a stock adapter again
    loaded.save_pretrained(tmp_path / "fast")
    again = PeftModel.from_pretrained(_base(tiny_model_dir, "none"), tmp_path / "fast").eval()
    assert fast_dora_layers(again) == 0
    with torch.no_grad():
        assert _rel(again(**batch).logits, expected) <= RTOL


def test_disable_restores_stock_variant(tiny_model_dir):
    from peft.tuners.lora.dora import DoraLinearLayer
    from peft.tuners.lora.variants import DoraLinearVariant

    model = _stock_dora(tiny_model_dir, seed=8)
    enable_fast_dora(model)
    assert disable_fast_dora(model) == 2 * len(TARGETS)
    for m in model.modules():
        for v in getattr(m, "lora_variant", {}).values():
            assert type(v) is DoraLinearVariant and not isinstance(v, FastDoraLinearVariant)
        for layer in getattr(m, "lora_magnitude_vector", {}).values():
            assert type(layer) is DoraLinearLayer


def test_dropout_in_training_falls_back_to_stock(tiny_model_dir):
    stock = _stock_dora(tiny_model_dir, seed=9, lora_dropout=0.1)
    fast = copy.deepcopy(stock)
    enable_fast_dora(fast)
    batch = _batch(seed=11)
    torch.manual_seed(0)
    logits_s, grads_s = _step(stock, batch)
    torch.manual_seed(0)
    logits_f, grads_f = _step(fast, batch)
    assert _rel(logits_f, logits_s) <= RTOL
    for name, g in grads_s.items():
        assert _rel(grads_f[name], g) <= RTOL, name


def test_row_norms_read_through_the_layer_when_weights_are_packed(tiny_model_dir, monkeypatch):
    """bitsandbytes' CPU-packed 4-bit layout cannot be dequantised directly; W is then read by running the layer."""
    import app.fast_dora as fd

    model = _stock_dora(tiny_model_dir, seed=12)
    enable_fast_dora(model)
    module = model.base_model.model.model.layers[0].mlp.down_proj
    layer, base = module.lora_magnitude_vector["default"], module.get_base_layer()
    direct = layer._base_row_sq(base).clone()
    layer._fast_row_sq = None
    monkeypatch.setattr(fd, "_is_cpu_packed_4bit", lambda _: True)
    monkeypatch.setattr(fd, "_EYE_CHUNK", 24)  # several chunks of the 64-wide input
    assert _rel(layer._base_row_sq(base), direct) <= RTOL
