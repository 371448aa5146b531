"""A training recipe checked on paper: architecture on the meta device, adapter, parameters, peak memory.

    python -m training.dry_run --config configs/qdora-7b.yaml [--gpu-gb 24] [--json]

No weights are read and nothing is fetched: the base's architecture comes from a config.json kept
in the repo under configs/arch/ (named after the last part of `base_model`; --arch overrides),
the model is built on the meta device (accelerate's init_empty_weights), and peft wraps it with
the configured LoRA/DoRA adapter exactly as training.train.build_model does (same targets, rank,
alpha, top layers, `score` trained in full). The trainable count is peft's own.

The peak-memory figure is an estimate for one GPU, itemised so each assumption can be checked:
- frozen weights: NF4 with double quantisation (4 bits + 8-bit absmax per 64 + fp32 absmax per
  256 blocks) for every linear layer except `score`; the rest (embeddings, norms, biases, head) in
  fp32, since peft's prepare_model_for_kbit_training upcasts them;
- adapter parameters, their gradients and AdamW's two moments in fp32 (16 bytes a parameter);
- activations: with gradient checkpointing, one fp32 residual-stream tensor per layer plus one
  layer's recomputed activations and their gradients (bf16 matmul outputs, fp32 norms); without
  it, every layer's activations; SDPA attention (no seq x seq matrix kept);
- DoRA: the out-wide tensors DoRA keeps per adapted layer for the magnitude's gradient (two with
  peft's layer, one with app.fast_dora) and peft's out x in weight-norm temporaries;
- the dequantised weight of the largest layer (bitsandbytes' transient) and the CUDA context plus
  allocator slack (0.5 GiB + 10%).
Measure it on the GPU (torch.cuda.max_memory_allocated) before trusting the last GiB.
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

from app.config import ROOT
from app.modeling import EMBEDDED_PREFIX
from app.taxonomy import ID2LABEL, LABEL2ID
from training.config import ConfigError, TrainConfig, load_config

ARCH_DIR = ROOT / "configs" / "arch"
ALL_LINEAR = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
GIB = 2**30
# NF4 with double quantisation: 4 bits, an 8-bit absmax per 64 weights, an fp32 absmax per 256 blocks.
NF4_BYTES_PER_PARAM = (4 + 8 / 64 + 32 / (64 * 256)) / 8
_DTYPE_BYTES = {"float32": 4, "bfloat16": 2, "float16": 2}


class DryRunError(RuntimeError):
    """The dry run cannot build the architecture; the message says which file to add."""


def arch_path_for(base_model: str) -> Path:
    """configs/arch/<name>.json for `base_model` (`embedded:NAME`, `org/NAME`), or a local model's config.json."""
    local = Path(base_model) / "config.json"
    if not base_model.startswith(EMBEDDED_PREFIX) and local.exists():
        return local
    name = base_model[len(EMBEDDED_PREFIX):] if base_model.startswith(EMBEDDED_PREFIX) else base_model
    path = ARCH_DIR / f"{name.rstrip('/').split('/')[-1]}.json"
    if not path.exists():
        raise DryRunError(f"no architecture file for {base_model!r}: copy its public config.json to {path} "
                          f"(known: {', '.join(sorted(p.stem for p in ARCH_DIR.glob('*.json')))}) or pass --arch")
    return path


def build_meta_model(config: TrainConfig, arch: Path):
    """The base classifier on the meta device, wrapped with the configured adapter (as build_model does)."""
    from accelerate import init_empty_weights
    from peft import LoraConfig, TaskType, get_peft_model
    from transformers import AutoConfig, AutoModelForSequenceClassification

    model_config = AutoConfig.from_pretrained(arch, num_labels=len(ID2LABEL), id2label=dict(ID2LABEL),
                                              label2id=dict(LABEL2ID))
    if model_config.pad_token_id is None:
        model_config.pad_token_id = model_config.eos_token_id if isinstance(model_config.eos_token_id, int) else 0
    with init_empty_weights():
        model = AutoModelForSequenceClassification.from_config(model_config)
    n_layers = model.config.num_hidden_layers
    if config.adapt_top_layers and config.adapt_top_layers > n_layers:
        raise DryRunError(f"adapt_top_layers is {config.adapt_top_layers} but the architecture has {n_layers} layers")
    peft_config = LoraConfig(
        task_type=TaskType.SEQ_CLS, r=config.r, lora_alpha=config.alpha, lora_dropout=config.dropout,
        target_modules=list(config.target_modules), use_dora=config.method == "dora", modules_to_save=["score"],
        layers_to_transform=(list(range(n_layers - config.adapt_top_layers, n_layers))
                             if config.adapt_top_layers else None),
    )
    return get_peft_model(model, peft_config)


def _layer_linears(model) -> list[tuple[int, str, int, int]]:
    """(layer index, projection name, in, out) of every linear layer inside the decoder layers (base weights)."""
    import re

    from torch import nn

    out = []
    for name, module in model.named_modules():
        m = re.search(r"\.layers\.(\d+)\.(?:[a-z_]+\.)?([a-z_]+_proj)(?:\.base_layer)?$", name)
        if m and isinstance(module, nn.Linear):
            out.append((int(m.group(1)), m.group(2), module.in_features, module.out_features))
    return out


def adapter_params(linears, targets, r: int, dora: bool, layers: set[int] | None) -> int:
    """LoRA A and B (r*(in+out)) plus DoRA's magnitude (out) over the targeted projections."""
    return sum(r * (i + o) + (o if dora else 0) for layer, name, i, o in linears
               if name in targets and (layers is None or layer in layers))


@dataclass
class DryRunReport:
    base_model: str
    arch_file: str
    method: str
    quantization: str
    total_params: int
    trainable_params: int
    trainable_by_kind: dict
    alternatives: dict
    memory_gib: dict = field(default_factory=dict)
    peak_gib: float = 0.0
    gpu_gib: float = 24.0
    fits: bool = False

    def as_text(self) -> str:
        lines = [f"Dry run: {self.base_model} ({self.arch_file}), {self.method}"
                 f"{' on an NF4 base (QDoRA)' if self.quantization == 'nf4' and self.method == 'dora' else ''}",
                 f"  parameters: {self.total_params / 1e9:.2f} B in the base classifier; trainable "
                 f"{self.trainable_params:,} ({self.trainable_params / 1e6:.2f} M): "
                 + ", ".join(f"{k} {v:,}" for k, v in self.trainable_by_kind.items()),
                 "  the same rank on other targets (A+B, + magnitude for DoRA; head excluded):"]
        lines += [f"    {k}: {v / 1e6:.2f} M" for k, v in self.alternatives.items()]
        lines.append(f"  estimated peak GPU memory (GiB), against {self.gpu_gib:g} GiB:")
        lines += [f"    {k:<52} {v:7.2f}" for k, v in self.memory_gib.items()]
        lines.append(f"    {'total':<52} {self.peak_gib:7.2f}  -> "
                     f"{'fits' if self.fits else 'does NOT fit'} ({self.gpu_gib - self.peak_gib:+.2f} GiB headroom)")
        return "\n".join(lines)


def estimate_memory(model, config: TrainConfig, *, trainable: int, fast_dora: bool = True) -> dict[str, float]:
    """Itemised peak-memory estimate in GiB (see the module docstring for every assumption)."""
    cfg = model.config
    linears = _layer_linears(model)
    h, inter, n_layers = cfg.hidden_size, cfg.intermediate_size, cfg.num_hidden_layers
    kv = cfg.num_key_value_heads * getattr(cfg, "head_dim", None) if getattr(cfg, "head_dim", None) else \
        h // cfg.num_attention_heads * cfg.num_key_value_heads
    tokens = config.batch_size * config.max_length
    nf4 = config.quantization == "nf4"
    compute = _DTYPE_BYTES[config.compute_dtype]

    linear_params = sum(i * o for _, _, i, o in linears)
    base_params = sum(p.numel() for n, p in model.named_parameters() if not p.requires_grad
                      and "modules_to_save" not in n)
    other_params = base_params - linear_params
    items: dict[str, float] = {}
    if nf4:
        items["frozen linear weights, NF4 + double-quant absmax"] = linear_params * NF4_BYTES_PER_PARAM
        items["frozen embeddings, norms, biases, head (fp32 after kbit prep)"] = other_params * 4
    else:
        items[f"frozen weights ({config.compute_dtype})"] = base_params * compute
    items["trainable params + grads + AdamW moments (fp32, 16 B each)"] = trainable * 16

    resid = 4 if nf4 else compute                     # the residual stream stays fp32 after kbit prep
    act = 2 if compute == 2 else 4                     # matmul outputs in the compute dtype
    layers_adapted = config.adapt_top_layers or n_layers
    # one decoder layer's saved activations per token: 2 RMSNorms (input, fp32 copy, output), q/k/v after
    # RoPE, attention output and log-sum-exp, o_proj input; gate, up, SiLU(gate), product (down_proj input)
    per_token_layer = 2 * (3 * h * resid) + act * (2 * h + 2 * kv + 2 * h) + act * 4 * inter
    targeted = [(layer, name, i, o) for layer, name, i, o in linears if name in config.target_modules]
    per_layer_out = sum(o for layer, name, i, o in targeted if layer == targeted[0][0]) if targeted else 0
    dora_saved = (1 if fast_dora else 2) * act * per_layer_out if config.method == "dora" else 0
    lora_saved = sum(4 * (config.r + i) for layer, name, i, o in targeted if layer == targeted[0][0]) \
        if targeted else 0  # lora_A input cast to fp32 and its r-wide output, per adapted projection
    layer_tokens = per_token_layer + dora_saved + lora_saved
    if config.gradient_checkpointing:
        items["checkpointed layer inputs (fp32 residual stream)"] = n_layers * tokens * h * resid
        items["one layer recomputed: activations + their gradients"] = 2 * tokens * layer_tokens
    else:
        items["activations of the layers below backprop's reach (none kept)"] = 0.0
        items["activations of every adapted layer"] = layers_adapted * tokens * layer_tokens + tokens * h * resid
    largest = max((i * o for _, _, i, o in linears), default=0)
    items["dequantised weight of the largest layer (transient)"] = largest * compute if nf4 else 0.0
    if config.method == "dora" and not fast_dora:
        largest_target = max((i * o for _, _, i, o in targeted), default=0)
        items["peft DoRA weight-norm temporaries (W, BA, W+sBA)"] = 3 * largest_target * compute
    subtotal = sum(items.values())
    items["CUDA context + allocator slack (0.5 GiB + 10%)"] = 0.5 * GIB + 0.1 * subtotal
    return {k: v / GIB for k, v in items.items()}


def dry_run(config: TrainConfig, *, arch: Path | str | None = None, gpu_gb: float = 24.0,
            fast_dora: bool = True) -> DryRunReport:
    """Build, count and estimate without weights; `training.train --dry-run` prints `.as_text()` of this."""
    arch = Path(arch) if arch else arch_path_for(config.base_model)
    model = build_meta_model(config, arch)
    trainable, total = model.get_nb_trainable_parameters()
    by_kind = {"lora_A": 0, "lora_B": 0, "lora_magnitude_vector": 0, "score (head, in full)": 0}
    for name, p in model.named_parameters():
        if p.requires_grad:
            kind = next((k for k in by_kind if k.split(" ")[0] in name), "other")
            by_kind[kind] = by_kind.get(kind, 0) + p.numel()
    by_kind = {k: v for k, v in by_kind.items() if v}
    linears = _layer_linears(model)
    n_layers = model.config.num_hidden_layers
    top = set(range(n_layers - config.adapt_top_layers, n_layers)) if config.adapt_top_layers else None
    alternatives = {
        f"{'/'.join(t.replace('_proj', '') for t in config.target_modules)} (configured), {m}":
            adapter_params(linears, set(config.target_modules), config.r, m == "DoRA", top)
        for m in ("LoRA", "DoRA")}
    alternatives.update({f"all seven projections, every layer, {m}":
                         adapter_params(linears, set(ALL_LINEAR), config.r, m == "DoRA", None)
                         for m in ("LoRA", "DoRA")})
    memory = estimate_memory(model, config, trainable=trainable, fast_dora=fast_dora)
    peak = sum(memory.values())
    return DryRunReport(base_model=config.base_model, arch_file=str(arch.relative_to(ROOT) if arch.is_relative_to(ROOT)
                                                                        else arch),
                        method=config.method, quantization=config.quantization, total_params=int(total),
                        trainable_params=int(trainable), trainable_by_kind=by_kind, alternatives=alternatives,
                        memory_gib={k: round(v, 3) for k, v in memory.items()}, peak_gib=round(peak, 2),
                        gpu_gib=gpu_gb, fits=peak <= gpu_gb)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.dry_run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", required=True, type=Path)
    parser.add_argument("--arch", type=Path, default=None, help="config.json of the base (default: configs/arch/)")
    parser.add_argument("--gpu-gb", type=float, default=24.0, help="GPU memory to check against (GiB)")
    parser.add_argument("--stock-dora", action="store_true", help="estimate with peft's DoRA layer, not app.fast_dora")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    try:
        report = dry_run(load_config(args.config), arch=args.arch, gpu_gb=args.gpu_gb, fast_dora=not args.stock_dora)
    except (ConfigError, DryRunError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(json.dumps(asdict(report), indent=2) if args.json else report.as_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
