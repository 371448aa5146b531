"""The training scripts' entry points: a user error is one line on stderr and exit status 2."""
from __future__ import annotations

import pytest

from app.config import get_settings
from training import calibrate, evaluate, merge, thresholds


@pytest.fixture(autouse=True)
def empty_registry(tmp_path, monkeypatch):
    monkeypatch.setenv("LEXDORA_REGISTRY_DIR", str(tmp_path / "registry"))
    monkeypatch.setenv("LEXDORA_DEFAULT_MODEL_DIR", str(tmp_path / "default"))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.mark.parametrize("module", [calibrate, thresholds, evaluate, merge])
def test_unknown_model_is_one_clean_line(module, capsys):
    assert module.main(["--model", "v-nope"]) == 2
    err = capsys.readouterr().err
    assert err.strip().splitlines() == ["error: model version 'v-nope' not found (known: none)"]


@pytest.mark.parametrize("module", [calibrate, thresholds, evaluate, merge])
def test_help_describes_the_command(module, capsys):
    with pytest.raises(SystemExit) as exit_:
        module.main(["--help"])
    assert exit_.value.code == 0
    assert f"python -m training.{module.__name__.split('.')[-1]}" in capsys.readouterr().out
