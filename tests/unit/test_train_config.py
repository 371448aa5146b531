"""Training configs: the shipped files load, unknown keys and bad values stop the run."""
from __future__ import annotations

import pytest

from app.config import ROOT
from training.config import DEFAULT_LR, ConfigError, TrainConfig, load_config


def _write(tmp_path, text: str):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    return path


def test_shipped_configs_load():
    default = load_config(ROOT / "configs" / "default.yaml")
    qdora = load_config(ROOT / "configs" / "qdora-7b.yaml")
    assert default.method == "dora" and default.quantization == "none"
    assert (qdora.method, qdora.quantization, qdora.compute_dtype) == ("dora", "nf4", "bfloat16")
    assert (qdora.r, qdora.alpha, qdora.lr) == (16, 32, 1.5e-4)
    assert qdora.gradient_checkpointing and qdora.target_modules == ["q_proj", "k_proj", "v_proj", "o_proj"]


@pytest.mark.parametrize("text, fragment", [
    ("lerning_rate: 0.001\n", "lerning_rate"),          # typo of a field
    ("r: sixteen\n", "r:"),                               # wrong type
    ("method: qdora\n", "method"),                        # QDoRA is dora + nf4, not a method
    ("dropout: 1.5\n", "dropout"),
    ("data:\n  none_ratoi: 2\n", "data.none_ratoi"),      # nested sections forbid unknown keys too
    ("quantization: nf4\ncompute_dtype: float16\n", "bfloat16"),
    ("- just a list\n", "mapping"),
])
def test_invalid_config_is_refused_naming_the_field(tmp_path, text, fragment):
    with pytest.raises(ConfigError, match=fragment.replace("(", r"\(")):
        load_config(_write(tmp_path, text))


def test_missing_config_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.yaml")


def test_dora_learning_rate_defaults_below_lora():
    assert TrainConfig(method="dora").lr == DEFAULT_LR["dora"] < TrainConfig(method="lora").lr
    assert TrainConfig(method="dora", learning_rate=1e-3).lr == 1e-3


def test_every_field_has_a_description():
    from data.build import DataConfig

    for model in (TrainConfig, DataConfig):
        missing = [name for name, f in model.model_fields.items() if not f.description]
        assert not missing, f"{model.__name__} fields without description: {missing}"
