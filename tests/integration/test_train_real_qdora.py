"""QDoRA (DoRA on a 4-bit NF4 base) on the real embedded SmolLM2-135M for a few steps."""
from __future__ import annotations

import pytest

from app.modeling import EMBEDDED_DEFAULT
from app.registry import Registry
from data.build import DataConfig
from training.config import TrainConfig
from training.train import train


@pytest.mark.integration
def test_qdora_on_the_real_base_trains_and_registers(tmp_path, cuad_dir):
    config = TrainConfig(base_model=EMBEDDED_DEFAULT, method="dora", quantization="nf4", max_steps=2,
                         batch_size=2, eval_batch_size=16, max_length=32, adapt_top_layers=2, tag="qdora-it",
                         data=DataConfig(none_ratio=0.0, val_fraction=0.02, test_fraction=0.02, synthetic_path=None))
    registry = Registry(root=tmp_path / "registry", default_dir=tmp_path / "default")
    result = train(config, run_dir=tmp_path / "run", registry=registry, log=print)
    card = registry.get(result.version.name).card
    assert card["quantization"] == "nf4" and card["method"] == "dora" and card["steps"] == 2
    assert card["identity_check_max_abs_diff"] <= 2e-2
    assert card["base_model"] == EMBEDDED_DEFAULT
    assert 0 < card["params"]["trainable"] < card["params"]["total"]
