"""Training config: YAML validated by pydantic. Unknown keys and wrong types stop the run.

A config file lists only what differs from these defaults (see configs/qdora-7b.yaml).
"""
from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from app.modeling import EMBEDDED_DEFAULT
from data.build import DataConfig

# LoRA's learning rate when the config gives none; DoRA's is 25% lower (its magnitude vector
# makes the effective update larger; the DoRA paper and peft's examples use 20-30% less).
DEFAULT_LR = {"lora": 4e-4, "dora": 3e-4}


class ConfigError(ValueError):
    """A training config cannot be read or is invalid; the message names the field to fix."""


class TrainConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    base_model: str = Field(default=EMBEDDED_DEFAULT,
                            description="`embedded:SmolLM2-135M-Instruct`, a Hugging Face model id or a local path.")
    method: Literal["lora", "dora"] = Field(default="dora",
                                            description="Adapter kind handed to peft: `dora` sets use_dora=True.")
    quantization: Literal["none", "nf4"] = Field(
        default="none", description="How the frozen base is loaded: `nf4` (bitsandbytes 4-bit) with `dora` is QDoRA.")
    compute_dtype: Literal["float32", "bfloat16", "float16"] = Field(
        default="float32", description="Dtype of the base weights (and of nf4 compute); bfloat16 on a modern GPU.")
    r: int = Field(default=16, gt=0, description="Adapter rank.")
    alpha: float = Field(default=32, gt=0, description="Adapter scaling numerator (scale = alpha / r).")
    dropout: float = Field(
        default=0.0, ge=0, lt=1,
        description="Dropout on the adapter input. peft's DoRA then recomputes the base matmul on the "
                    "dropped-out input (one more full matmul per layer); 0 keeps DoRA within ~5% of LoRA's step.")
    target_modules: list[str] = Field(default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj"],
                                      min_length=1,
                                      description="Linear layers to adapt; add gate_proj/up_proj/down_proj for the MLP.")
    adapt_top_layers: int | None = Field(
        default=None, gt=0,
        description="Adapt only the top N transformer layers (empty: all). Backpropagation then stops above the "
                    "frozen lower layers, which makes a CPU step about a third cheaper.")
    learning_rate: float | None = Field(default=None, gt=0,
                                        description=f"Peak learning rate; empty: {DEFAULT_LR} by method.")
    weight_decay: float = Field(default=0.0, ge=0, description="AdamW weight decay.")
    warmup_ratio: float = Field(default=0.06, ge=0, lt=1, description="Share of steps with a linear warm-up.")
    epochs: float = Field(default=2, gt=0, description="Passes over the training split (upper bound with early stopping).")
    max_steps: int = Field(default=-1, description="Stop after this many optimiser steps; -1: run all epochs.")
    batch_size: int = Field(default=16, gt=0, description="Training clauses per device per step.")
    eval_batch_size: int = Field(default=32, gt=0, description="Clauses per device per evaluation forward pass.")
    gradient_accumulation: int = Field(default=1, gt=0, description="Micro-batches summed per optimiser step.")
    gradient_checkpointing: bool = Field(default=False,
                                         description="Trade compute for activation memory; needed for 7B on one GPU.")
    max_length: int = Field(default=160, gt=8, description="Tokens kept per clause (longer ones are truncated).")
    tail_tokens: int = Field(
        default=0, ge=0,
        description="Of a clause longer than max_length, keep the last N tokens as well as the first "
                    "max_length - N: a carve-out is usually the end of a cap (app/encoding.py).")
    use_headings: bool = Field(default=False,
                               description="Put the clause's heading (section path) before its text.")
    cache_lower_layers: bool = Field(
        default=False,
        description="With adapt_top_layers: compute the frozen lower layers once per clause and train the top "
                    "layers from that cache (training/cached.py); an epoch then costs a fraction of a pass.")
    cache_workers: int = Field(default=2, ge=1, description="Single-threaded processes that build the cache.")
    cache_bf16_autocast: bool = Field(
        default=True, description="Run the top layers under bfloat16 autocast in the cached loop (fp32 weights).")
    checkpoint_every: int = Field(default=50, gt=0, description="Steps between checkpoints of the cached loop.")
    balance: Literal["none", "class_weights"] = Field(
        default="class_weights",
        description="`class_weights`: loss weighted by inverse label frequency (sqrt-damped) so rare buckets count.")
    early_stopping_patience: int = Field(default=2, ge=1,
                                         description="Evaluations without a better validation macro-F1 before stopping.")
    eval_steps: int | None = Field(default=None, gt=0,
                                   description="Evaluate (and checkpoint) every N steps; empty: once per epoch.")
    logging_steps: int = Field(default=10, gt=0, description="Steps between logged losses.")
    seed: int = Field(default=13, description="Seed of head initialisation, adapter init and batch order.")
    tag: str = Field(default="", description="Suffix of the registry version name, e.g. `default`.")
    data: DataConfig = Field(default_factory=DataConfig, description="Dataset sources, `none` ratio and split.")

    @model_validator(mode="after")
    def _check_combinations(self):
        if self.cache_lower_layers and not self.adapt_top_layers:
            raise ValueError("cache_lower_layers needs adapt_top_layers: only layers without an adapter can be cached")
        if self.tail_tokens >= self.max_length:
            raise ValueError("tail_tokens must be below max_length")
        if self.quantization == "nf4" and self.compute_dtype == "float16" and self.method == "dora":
            raise ValueError("QDoRA in float16 overflows the weight norm; use compute_dtype: bfloat16 or float32")
        return self

    @property
    def lr(self) -> float:
        return self.learning_rate if self.learning_rate is not None else DEFAULT_LR[self.method]

    def to_card(self) -> dict:
        """What is saved with a model version: data sources by their place in the shared folder."""
        d = self.model_dump(mode="json")
        d["data"] = self.data.to_card()
        d["learning_rate"] = self.lr
        return d


def load_config(path: Path | str, **overrides) -> TrainConfig:
    """Read a YAML config; `overrides` (field=value) win over the file."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"config file {path} not found")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"{path} is not valid YAML: {e}") from e
    if not isinstance(raw, dict):
        raise ConfigError(f"{path} must be a mapping of field: value")
    raw.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return TrainConfig(**raw)
    except ValidationError as e:
        problems = "; ".join(f"{'.'.join(map(str, err['loc'])) or 'config'}: {err['msg']}" for err in e.errors())
        raise ConfigError(f"{path}: {problems}") from e
