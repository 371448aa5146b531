"""Serving precision on the CPU: a merged fp32 model served as-is, in bfloat16, or with dynamic int8
(plain, or after SmoothQuant scaling fitted on validation clauses: "int8-smooth").

A version's card may ask for one (``serving: {"precision": ...}``, written by training.serving only
after the converted model agreed with fp32 on validation segments); app.classifier applies it at load,
merging an adapter into its base first, so the shipped adapter files stay what was trained.
"""
from __future__ import annotations

import numpy as np

PRECISIONS = ("fp32", "bf16", "int8", "int8-smooth")
SMOOTH_FILE = "smoothquant.npz"   # in a model version: per-channel activation maxima int8-smooth needs
SMOOTH_ALPHA = 0.5                # SmoothQuant's default migration strength; measured on the default model
# Linear layers whose input SmoothQuant measures; a scale is folded into what produces that input.
_SMOOTHED_INPUTS = ("self_attn.q_proj", "mlp.gate_proj", "mlp.down_proj")


def int8_keep_fp32(model) -> tuple[str, ...]:
    """Linear layers int8 leaves in fp32: the score head (576 features to 7 logits: quantizing it saves
    nothing and its error goes straight into the logits) and the last two layers' down projections,
    which carry the largest activation outliers of Llama-style models (LLM.int8(), SmoothQuant). On the
    default model, keeping them raised validation agreement with fp32 from 0.982 to 0.988 and
    macro-F1 from -2.3 to -0.2 points (bench/serving_precision.py)."""
    n = model.config.num_hidden_layers
    return ("score", *(f"layers.{i}.mlp.down_proj" for i in range(max(0, n - 2), n)))


def convert(model, precision: str, keep_fp32: tuple[str, ...] | None = None, absmax: dict | None = None,
            alpha: float = SMOOTH_ALPHA):
    """The merged `model` (not a PEFT sidecar) in `precision`; int8 and bf16 return converted copies.
    "int8-smooth" needs `absmax`, the activation maxima of `activation_absmax` (a version's SMOOTH_FILE)."""
    import copy

    import torch

    if precision == "fp32":
        return model
    if precision == "bf16":
        return copy.deepcopy(model).to(torch.bfloat16)
    if precision == "int8-smooth":
        if absmax is None:
            raise ValueError("int8-smooth needs the activation maxima it was fitted with (absmax)")
        # Smoothed, the last layers' down projections quantize as well as the rest (default model: validation
        # agreement 0.9968 with or without them in fp32), so only the score head stays fp32.
        return convert(smoothed(model, absmax, alpha), "int8", ("score",) if keep_fp32 is None else keep_fp32)
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


def activation_absmax(model, feed) -> dict[str, np.ndarray]:
    """Per-channel max |input| of the linear layers SmoothQuant smooths, over whatever `feed()` runs
    through `model` (validation clauses: calibration on the target domain)."""
    import torch

    absmax: dict[str, torch.Tensor] = {}

    def record(name):
        def hook(_module, args):
            x = args[0].detach().reshape(-1, args[0].shape[-1]).abs().amax(0).float()
            absmax[name] = torch.maximum(absmax[name], x) if name in absmax else x
        return hook

    hooks = [m.register_forward_pre_hook(record(name)) for name, m in model.named_modules()
             if name.endswith(_SMOOTHED_INPUTS)]
    try:
        with torch.no_grad():
            feed()
    finally:
        for h in hooks:
            h.remove()
    return {name: v.numpy() for name, v in absmax.items()}


def smoothed(model, absmax: dict, alpha: float = SMOOTH_ALPHA):
    """A copy of a merged Llama-style `model` with SmoothQuant's scaling (Xiao et al., 2023): each input
    channel j of a linear layer is divided by s_j = max|x_j|^alpha / max|W_:,j|^(1 - alpha) and its weight
    column multiplied by s_j, so the activations' outlier channels shrink before int8 rounds them. The
    division is folded into what produces the input: the RMSNorm weight before q/k/v and before
    gate/up, the rows of up_proj before down_proj (its input is act(gate) * up). In fp32 the copy
    computes the same function; o_proj is left alone (its input comes from grouped-query attention,
    where one value head feeds several query heads' channels)."""
    import copy

    import torch

    def scale(name: str, weights: list[torch.Tensor]) -> torch.Tensor:
        w = torch.cat(weights).abs().amax(0)
        a = torch.as_tensor(absmax[name], dtype=w.dtype)
        return (a.pow(alpha) / w.pow(1 - alpha)).clamp(min=1e-5)

    out = copy.deepcopy(model)
    with torch.no_grad():
        for i, layer in enumerate(out.model.layers):
            prefix = f"model.layers.{i}."
            attn, mlp = layer.self_attn, layer.mlp
            s = scale(prefix + "self_attn.q_proj", [attn.q_proj.weight, attn.k_proj.weight, attn.v_proj.weight])
            layer.input_layernorm.weight.div_(s)
            for linear in (attn.q_proj, attn.k_proj, attn.v_proj):
                linear.weight.mul_(s)
            s = scale(prefix + "mlp.gate_proj", [mlp.gate_proj.weight, mlp.up_proj.weight])
            layer.post_attention_layernorm.weight.div_(s)
            for linear in (mlp.gate_proj, mlp.up_proj):
                linear.weight.mul_(s)
            s = scale(prefix + "mlp.down_proj", [mlp.down_proj.weight])
            mlp.up_proj.weight.div_(s[:, None])
            mlp.down_proj.weight.mul_(s)
    return out


def save_absmax(absmax: dict, path) -> None:
    np.savez_compressed(path, **absmax)


def load_absmax(path) -> dict:
    with np.load(path) as f:
        return {k: f[k] for k in f.files}
