"""`python -m app demo`, the quick start's loader: accounts and samples through the services, safe to rerun."""
from __future__ import annotations

import pytest
from typer.testing import CliRunner

from app import services
from app.cli import cli
from app.config import get_settings
from app.demo import DEMO_ACCOUNTS, passwords_in
from tests.browser.conftest import _tiny_default_version
from tests.conftest import ROOT

SAMPLE = ROOT / "samples" / "paxmedica-master-service-agreement.txt"


@pytest.fixture
def env(tmp_path, monkeypatch, tiny_model_dir):
    for key, value in {"DATABASE_URL": f"sqlite:///{tmp_path / 'lexdora.db'}", "UPLOAD_DIR": tmp_path / "uploads",
                       "REGISTRY_DIR": tmp_path / "registry",
                       "DEFAULT_MODEL_DIR": _tiny_default_version(tmp_path / "default", tiny_model_dir)}.items():
        monkeypatch.setenv(f"LEXDORA_{key}", str(value))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_demo_creates_the_accounts_and_loads_the_sample_once(env):
    runner = CliRunner()
    first = runner.invoke(cli, ["demo", str(SAMPLE)])
    assert first.exit_code == 0, first.output
    assert f"{SAMPLE.name}: " in first.output and " for review" in first.output
    passwords = passwords_in(first.output)
    assert set(passwords) == {name for name, _ in DEMO_ACCOUNTS}
    for name, role in DEMO_ACCOUNTS:
        assert services.authenticate(name, passwords[name]).role == role
    assert len(set(passwords.values())) == 4

    again = runner.invoke(cli, ["demo", str(SAMPLE)])
    assert again.exit_code == 0, again.output
    assert f"{SAMPLE.name}: already loaded" in again.output
    assert passwords_in(again.output) == {} and "already exist" in again.output  # shown once only
    lawyer = services.authenticate("lawyer", passwords["lawyer"])
    assert [c.filename for c in services.list_contracts(lawyer.id)] == [SAMPLE.name]


def test_demo_help_shows_an_example():
    result = CliRunner().invoke(cli, ["demo", "--help"])
    assert result.exit_code == 0
    assert "Example: python -m app demo" in result.output
