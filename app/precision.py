"""Serving precision on the CPU: a merged fp32 model served as-is, in bfloat16, or with dynamic int8.

A version's card may ask for one (``serving: {"precision": ...}``, written by training.serving only
after the converted model agreed with fp32 on validation segments); app.classifier applies it at load,
merging an adapter into its base first, so the shipped adapter files stay what was trained.
"""
from __future__ import annotations

PRECISIONS = ("fp32", "bf16", "int8")


def int8_keep_fp32(model) -> tuple[str, ...]:
    """Linear layers int8 leaves in fp32: the score head (576 features to 7 logits: quantizing it saves
    nothing and its error goes straight into the logits) and the last two layers' down projections,
    which carry the largest activation outliers of Llama-style models (LLM.int8(), SmoothQuant). On the
    default model, keeping them raised validation agreement with fp32 from 0.982 to 0.988 and
    macro-F1 from -2.3 to -0.2 points (bench/serving_precision.py)."""
    n = model.config.num_hidden_layers
    return ("score", *(f"layers.{i}.mlp.down_proj" for i in range(max(0, n - 2), n)))


def convert(model, precision: str, keep_fp32: tuple[str, ...] | None = None):
    """The merged `model` (not a PEFT sidecar) in `precision`; int8 and bf16 return converted copies."""
    import copy

    import torch

    if precision == "fp32":
        return model
    if precision == "bf16":
        return copy.deepcopy(model).to(torch.bfloat16)
    if precision == "int8":
        # torch.ao's dynamic quantization (per-channel int8 weights, activations quantized per batch) is
        # deprecated in favour of torchao, which is not a dependency here; it is the CPU int8 path of the
        # installed torch that needs no calibration pass.
        from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

        keep_fp32 = int8_keep_fp32(model) if keep_fp32 is None else keep_fp32
        spec = {name: per_channel_dynamic_qconfig for name, m in model.named_modules()
                if isinstance(m, torch.nn.Linear) and not name.endswith(keep_fp32)}
        return quantize_dynamic(copy.deepcopy(model), qconfig_spec=spec, dtype=torch.qint8)
    raise ValueError(f"unknown serving precision {precision!r}; expected one of {', '.join(PRECISIONS)}")


def merged(model):
    """A PEFT model merged into its base (a plain transformers model); other models unchanged."""
    from peft import PeftModel

    return model.merge_and_unload() if isinstance(model, PeftModel) else model
