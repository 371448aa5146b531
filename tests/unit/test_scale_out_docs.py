"""The scale-out configs load in accelerate, and the commands of this room have help with an example."""
from __future__ import annotations

import pytest
from typer.testing import CliRunner

from app.cli import cli
from app.config import ROOT


@pytest.mark.parametrize("name, kind", [("fsdp.yaml", "FSDP"), ("deepspeed_zero3.yaml", "DEEPSPEED")])
def test_accelerate_configs_load_as_the_documented_kind(name, kind):
    from accelerate.commands.config.config_args import load_config_from_file

    config = load_config_from_file(str(ROOT / "configs" / "accelerate" / name))
    assert config.distributed_type.name == kind
    assert config.mixed_precision == "bf16"  # the GPU recipes compute in bfloat16
    assert f"configs/accelerate/{name}" in (ROOT / "README.md").read_text()


def test_score_help_gives_an_example():
    result = CliRunner().invoke(cli, ["score", "--help"])
    assert result.exit_code == 0 and "Example: python -m app score" in result.output


def test_retrain_help_gives_an_example(capsys):
    from training.retrain import main

    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert "example: python -m training.retrain --dry-run" in out and "--dry-run" in out
