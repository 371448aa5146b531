"""DoRA at LoRA's price: the same numbers as peft's DoRA without the out x in temporary.

peft's DoRA layer forms ``W + s*B@A`` (out x in) on every forward to take its row norms, and
scales the output in several element-wise passes over the activations:
``result + (g - 1) * base + g * s * lora(x)`` with ``g = m / ||W + s*B@A||`` (row-wise).

This module computes the same thing more cheaply:

- row norms from three small pieces, ``||W_i + s(BA)_i||^2 = ||W_i||^2 + 2s <B_i, (W A^T)_i> + s^2 B_i G B_i^T``
  with ``G = A A^T`` (r x r). ``||W_i||^2`` is constant (the base is frozen) and computed once per
  base weight; ``W A^T`` (out x r) is one pass over W as a GEMM with r columns, taken through the
  base layer's own forward so it works for plain and bitsandbytes 4-bit weights alike;
- the output in one fused expression, ``g * (base + s * A(x) B^T)``: the LoRA product is added to
  the base output inside the GEMM epilogue (``addmm``), then scaled once by ``g``. Only that one
  out-wide tensor is kept for the backward (peft's keeps two);
- the norm is detached, as in peft and section 4.3 of the DoRA paper, so the gradients are the same.

It plugs into peft as a LoRA *variant* on existing layers: ``enable_fast_dora(model)`` swaps
peft's ``DoraLinearVariant`` for ``FastDoraLinearVariant`` on every DoRA linear layer of an
already built ``PeftModel`` (``get_peft_model`` or ``PeftModel.from_pretrained``). Nothing about
the adapter's parameters changes: the magnitude stays ``lora_magnitude_vector.<adapter>.weight``,
so adapters saved by stock peft load into it and adapters trained with it load into stock peft.
Merging (``merge_and_unload``) is peft's own code, inherited unchanged.

Cases outside the fast path fall back to peft's code on the same parameters: lora_dropout > 0
while training (peft then needs a second base matmul on the dropped-out input) and lora_bias.
"""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from peft.tuners.lora.dora import DoraLinearLayer
from peft.tuners.lora.variants import DoraLinearVariant
from peft.utils.integrations import dequantize_module_weight
from peft.utils.other import transpose
from torch import nn

__all__ = ["FastDoraLinearLayer", "FastDoraLinearVariant", "enable_fast_dora", "disable_fast_dora",
           "fast_dora_layers"]

# Columns of the identity fed through a 4-bit layer at a time when its weight can only be read by
# running it (bitsandbytes' CPU-packed layout); bounds the transient to _EYE_CHUNK x out.
_EYE_CHUNK = 1024


def _tensor_key(t: torch.Tensor) -> tuple:
    """Changes whenever `t` is replaced or modified in place (optimizer steps bump `_version`)."""
    return (id(t), t.data_ptr(), t._version, t.device, t.dtype, tuple(t.shape))


def _is_cpu_packed_4bit(base_layer: nn.Module) -> bool:
    quant_state = getattr(getattr(base_layer, "weight", None), "quant_state", None)
    return bool(getattr(quant_state, "packing_format_for_cpu", False))


def _base_matmul(base_layer: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``x @ W^T`` of the base layer, bias excluded, in the base layer's compute dtype (no grad)."""
    weight = getattr(base_layer, "weight", None)
    if type(base_layer) is nn.Linear:  # plain weight: skip the bias instead of subtracting it
        return F.linear(x.to(weight.dtype), weight)
    y = base_layer(x)
    bias = getattr(base_layer, "bias", None)
    if bias is not None:
        y = y - bias.to(y.dtype)
    return y


class FastDoraLinearLayer(DoraLinearLayer):
    """peft's DoRA magnitude holder (same `weight` parameter and state-dict key) with a cheap norm.

    Inherits peft's `get_weight_norm` (used by merge/unmerge) and `forward` (used as the fallback),
    and adds `weight_norm_fast` and `fused_forward`.
    """

    # ------------------------------------------------------------------ norms
    def _base_row_sq(self, base_layer: nn.Module) -> torch.Tensor:
        """``||W_i||^2`` in float32, computed once per base weight (re-done if the weight is replaced)."""
        weight = base_layer.weight
        key = _tensor_key(weight)
        cached = getattr(self, "_fast_row_sq", None)
        if cached is not None and cached[0] == key:
            return cached[1]
        with torch.no_grad():
            if _is_cpu_packed_4bit(base_layer):
                # bitsandbytes repacked the 4-bit weight for its CPU kernel: the bytes can no longer be
                # dequantised directly, but the layer still computes x W^T. Read W^T through the identity.
                n_in = base_layer.in_features
                dtype = getattr(base_layer, "compute_dtype", None) or torch.float32
                row_sq = None
                for start in range(0, n_in, _EYE_CHUNK):
                    stop = min(start + _EYE_CHUNK, n_in)
                    eye = torch.zeros(stop - start, n_in, dtype=dtype, device=self.weight.device)
                    eye[torch.arange(stop - start), torch.arange(start, stop)] = 1
                    part = _base_matmul(base_layer, eye).float().pow(2).sum(0)
                    row_sq = part if row_sq is None else row_sq + part
            else:
                w = transpose(dequantize_module_weight(base_layer), self.fan_in_fan_out)
                row_sq = torch.linalg.vector_norm(w, dim=1, dtype=torch.float32).pow(2)
        self._fast_row_sq = (key, row_sq)
        return row_sq

    def weight_norm_fast(self, *, base_layer: nn.Module, lora_A: nn.Module, lora_B: nn.Module,
                         scaling: float) -> torch.Tensor:
        """``||W + s*B@A||`` row-wise, float32, detached; never forms an out x in matrix.

        Eval mode (frozen weights) caches it, keyed on the identity and version of every input.
        """
        a_w, b_w = lora_A.weight, lora_B.weight
        cache_key = None
        if not self.training:
            cache_key = (_tensor_key(a_w), _tensor_key(b_w), _tensor_key(base_layer.weight), float(scaling))
            cached = getattr(self, "_fast_norm", None)
            if cached is not None and cached[0] == cache_key:
                return cached[1]
        row_sq = self._base_row_sq(base_layer)
        with torch.no_grad():
            a = a_w.detach()
            b = b_w.detach().float()
            wa_t = _base_matmul(base_layer, a).float().t()          # (out, r): rows of W times A^T
            a32 = a.float()
            gram = a32 @ a32.t()                                    # (r, r)
            cross = (b * wa_t).sum(dim=1)                           # <W_i, (BA)_i>
            quad = ((b @ gram) * b).sum(dim=1)                      # ||(BA)_i||^2
            norm = (row_sq + (2.0 * scaling) * cross + (scaling * scaling) * quad).clamp_min_(0).sqrt_()
        if cache_key is not None:
            self._fast_norm = (cache_key, norm)
        return norm

    def train(self, mode: bool = True):
        if mode:
            self._fast_norm = None
        return super().train(mode)

    # ------------------------------------------------------------------ forward
    def fused_forward(self, x: torch.Tensor, result: torch.Tensor, *, lora_A: nn.Module, lora_B: nn.Module,
                      scaling: float, base_layer: nn.Module) -> torch.Tensor:
        """The DoRA layer's whole output: ``g * (result - bias + s * A(x) B^T) + bias``, ``g = m / ||W + sBA||``."""
        norm = self.weight_norm_fast(base_layer=base_layer, lora_A=lora_A, lora_B=lora_B, scaling=scaling)
        magnitude = self.weight
        g = magnitude / norm.to(magnitude.dtype)                   # the gradient reaches m only
        a = lora_A(x)
        dtype = torch.promote_types(result.dtype, a.dtype)
        bias = getattr(base_layer, "bias", None)
        base = result if bias is None else result - bias
        out_features = result.shape[-1]
        z = torch.addmm(base.reshape(-1, out_features).to(dtype), a.reshape(-1, a.shape[-1]).to(dtype),
                        lora_B.weight.t().to(dtype), alpha=scaling)
        y = (z * g.to(dtype)).view(*result.shape[:-1], out_features)
        if bias is not None:
            y = y + bias.to(dtype)
        return y

    def __repr__(self) -> str:
        return "lora.fast_dora." + nn.Module.__repr__(self)


class FastDoraLinearVariant(DoraLinearVariant):
    """peft's DoRA variant for linear layers with the fused forward; init and merge are peft's."""

    @staticmethod
    def init(module, adapter_name: str, **kwargs: Any) -> None:
        DoraLinearVariant.init(module, adapter_name, **kwargs)
        module.lora_magnitude_vector[adapter_name].__class__ = FastDoraLinearLayer

    @staticmethod
    def forward(module, active_adapter: str, x: torch.Tensor, result: torch.Tensor, **kwargs) -> torch.Tensor:
        layer = module.lora_magnitude_vector[active_adapter]
        lora_A = module.lora_A[active_adapter]
        lora_B = module.lora_B[active_adapter]
        dropout = module.lora_dropout[active_adapter]
        needs_stock = (not isinstance(layer, FastDoraLinearLayer) or lora_B.bias is not None
                       or (module.training and not isinstance(dropout, nn.Identity)))
        if needs_stock:
            return DoraLinearVariant.forward(module, active_adapter=active_adapter, x=x, result=result, **kwargs)
        return layer.fused_forward(x, result, lora_A=lora_A, lora_B=lora_B, scaling=module.scaling[active_adapter],
                                   base_layer=module.get_base_layer())


def _dora_linear_modules(model: nn.Module):
    for module in model.modules():
        variants = getattr(module, "lora_variant", None)
        if isinstance(variants, dict):
            for name, variant in variants.items():
                yield module, name, variant


def enable_fast_dora(model: nn.Module) -> int:
    """Switch every DoRA linear layer of a peft model to the fast variant, in place; returns how many.

    Call after `get_peft_model` / `PeftModel.from_pretrained` / `load_adapter` (adapters added later
    keep peft's variant until this is called again). Parameters are left as they are (same objects,
    same names), so an optimizer built before the call keeps working. Idempotent.
    """
    n = 0
    for module, name, variant in _dora_linear_modules(model):
        if type(variant) is DoraLinearVariant:
            module.lora_variant[name] = FastDoraLinearVariant()
            layer = module.lora_magnitude_vector[name]
            if type(layer) is DoraLinearLayer:
                layer.__class__ = FastDoraLinearLayer
            n += 1
        elif isinstance(variant, FastDoraLinearVariant):
            n += 1
    return n


def disable_fast_dora(model: nn.Module) -> int:
    """Undo `enable_fast_dora`: peft's own DoRA variant again on every layer; returns how many."""
    n = 0
    for module, name, variant in _dora_linear_modules(model):
        if isinstance(variant, FastDoraLinearVariant):
            module.lora_variant[name] = DoraLinearVariant()
            layer = module.lora_magnitude_vector[name]
            if isinstance(layer, FastDoraLinearLayer):
                for attr in ("_fast_norm", "_fast_row_sq"):
                    layer.__dict__.pop(attr, None)
                layer.__class__ = DoraLinearLayer
            n += 1
    return n


def fast_dora_layers(model: nn.Module) -> int:
    """How many adapter layers of `model` run the fast DoRA variant."""
    return sum(isinstance(v, FastDoraLinearVariant) for _, _, v in _dora_linear_modules(model))
