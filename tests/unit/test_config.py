"""Settings: a typo in a setting stops the run instead of being ignored."""
from __future__ import annotations

import pytest
from pydantic import ValidationError

from app.config import Settings


def test_an_unknown_keyword_is_an_error():
    with pytest.raises(ValidationError, match="devise"):
        Settings(devise="cpu")


def test_an_unknown_lexdora_variable_is_an_error_naming_it(monkeypatch):
    monkeypatch.setenv("LEXDORA_DEVISE", "cpu")
    with pytest.raises(ValidationError, match="unknown setting.*LEXDORA_DEVISE.*known: .*LEXDORA_DEVICE"):
        Settings()


def test_dotenv_typos_fail_but_other_programs_variables_are_left_alone(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("LEXDORA_DEVICE=cpu\nPGPASSWORD=x\n")
    assert Settings().device == "cpu"
    (tmp_path / ".env").write_text("LEXDORA_DEVICE=cpu\nLEXDORA_BATCHSIZE=4\n")
    with pytest.raises(ValidationError, match="lexdora_batchsize"):
        Settings()


def test_the_scripts_own_variables_are_not_settings(monkeypatch):
    monkeypatch.setenv("LEXDORA_TEST_POSTGRES_URL", "postgresql+psycopg://x")
    monkeypatch.setenv("LEXDORA_PORT", "8502")
    Settings()


def test_every_lexdora_variable_the_repository_uses_is_a_setting_or_listed_as_none():
    import re

    from app.config import NOT_SETTINGS, ROOT

    used = set()
    for folder in ("app", "training", "data", "scripts", "tests", "bench"):
        for path in (ROOT / folder).rglob("*"):
            if path.suffix in (".py", ".sh") and path.name != "test_config.py":
                used |= set(re.findall(r"LEXDORA_[A-Z0-9_]+", path.read_text(errors="replace")))
    settings = {"LEXDORA_" + name.upper() for name in Settings.model_fields}
    assert used - settings - NOT_SETTINGS == set()
