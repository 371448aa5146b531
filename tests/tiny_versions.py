"""Registry versions built on the tiny Llama of conftest: a non-identity adapter, or its merge."""
from __future__ import annotations

import json
from pathlib import Path

from app.registry import ModelVersion, Registry
from app.taxonomy import LABEL_IDS

TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def make_adapter_version(registry: Registry, base_dir: Path, name: str = "v-tiny", *, use_dora: bool = True,
                         seed: int = 0, temperature: float | None = None) -> ModelVersion:
    """Register `name`: a freshly initialised (non-identity) LoRA/DoRA adapter on the tiny base."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForSequenceClassification

    base = AutoModelForSequenceClassification.from_pretrained(base_dir)
    torch.manual_seed(seed)
    # init_lora_weights=False makes lora_B non-zero, so the adapter changes the logits and a
    # merge check on it can fail; with the default init it would compare the base to itself.
    config = LoraConfig(task_type="SEQ_CLS", r=4, lora_alpha=8, target_modules=TARGETS, use_dora=use_dora,
                        init_lora_weights=False, modules_to_save=["score"])
    model = get_peft_model(base, config)
    path = Path(registry.root) / name
    model.save_pretrained(path / "adapter")
    version = ModelVersion(name, path)
    version.write_card({"version": name, "base_model": str(base_dir), "method": "dora" if use_dora else "lora",
                        "quantization": "none", "labels": list(LABEL_IDS), "merged": False, "parent": None,
                        "train_config": {"max_length": 64}})
    if temperature is not None:
        (path / "calibration.json").write_text(json.dumps({"temperature": temperature}))
    return version
