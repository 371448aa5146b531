"""`python -m app users ...` through its real entry point, on a SQLite file."""
from __future__ import annotations

import pytest
from argon2 import PasswordHasher
from typer.testing import CliRunner

from app import services
from app.cli import cli
from app.config import get_settings


@pytest.fixture(autouse=True)
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("LEXDORA_DATABASE_URL", f"sqlite:///{tmp_path / 'lexdora.db'}")
    monkeypatch.setattr(services.users, "hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


runner = CliRunner()


def test_users_add_with_password_then_log_in():
    result = runner.invoke(cli, ["users", "add", "rita", "--role", "reviewer", "--password", "rita-pass"])
    assert result.exit_code == 0, result.output
    assert "created reviewer rita" in result.output
    assert services.authenticate("rita", "rita-pass").role == "reviewer"


def test_users_add_prompts_for_the_password_twice():
    result = runner.invoke(cli, ["users", "add", "lee"], input="lee-pass-1\nlee-pass-1\n")
    assert result.exit_code == 0, result.output
    assert services.authenticate("lee", "lee-pass-1").role == "lawyer"


@pytest.mark.parametrize("args, message", [
    (["users", "add", "x", "--role", "boss", "--password", "long-enough"], "Unknown role 'boss'"),
    (["users", "add", "x", "--password", "short"], "at least 8 characters"),
])
def test_bad_values_give_one_clean_line_and_exit_1(args, message):
    result = runner.invoke(cli, args)
    assert result.exit_code == 1
    assert result.output.strip().startswith("Error: ") and message in result.output
    assert "Traceback" not in result.output


def test_duplicate_user_is_refused():
    runner.invoke(cli, ["users", "add", "rita", "--password", "rita-pass"])
    result = runner.invoke(cli, ["users", "add", "rita", "--password", "rita-pass"])
    assert result.exit_code == 1 and "already exists" in result.output


def test_users_list_shows_roles():
    runner.invoke(cli, ["users", "add", "rita", "--role", "reviewer", "--password", "rita-pass"])
    result = runner.invoke(cli, ["users", "list"])
    assert result.exit_code == 0 and "rita\treviewer" in result.output


def test_help_has_an_example():
    result = runner.invoke(cli, ["users", "add", "--help"])
    assert result.exit_code == 0 and "python -m app users add rita --role reviewer" in result.output


def test_disable_enable_reset_password_and_set_role():
    runner.invoke(cli, ["users", "add", "rita", "--role", "reviewer", "--password", "rita-pass"])
    runner.invoke(cli, ["users", "add", "ann", "--role", "admin", "--password", "ann-pass-1"])
    result = runner.invoke(cli, ["users", "disable", "rita"])
    assert result.exit_code == 0 and "disabled rita" in result.output
    with pytest.raises(services.AuthError):
        services.authenticate("rita", "rita-pass")
    assert "rita\treviewer\tdisabled" in runner.invoke(cli, ["users", "list"]).output
    assert runner.invoke(cli, ["users", "enable", "rita"]).exit_code == 0
    assert services.authenticate("rita", "rita-pass").active

    result = runner.invoke(cli, ["users", "reset-password", "rita", "--generate"])
    assert result.exit_code == 0, result.output
    new = result.output.strip().rsplit(" ", 1)[1]
    assert len(new) >= 16 and services.authenticate("rita", new).name == "rita"
    result = runner.invoke(cli, ["users", "reset-password", "rita"], input="typed-pass-1\ntyped-pass-1\n")
    assert result.exit_code == 0 and "typed-pass-1" not in result.output.split("\n")[-2]
    assert services.authenticate("rita", "typed-pass-1").name == "rita"

    result = runner.invoke(cli, ["users", "set-role", "rita", "admin"])
    assert result.exit_code == 0 and "rita is now admin" in result.output
    assert services.authenticate("rita", "typed-pass-1").role == "admin"


@pytest.mark.parametrize("args, message", [
    (["users", "disable", "ghost"], "No user named 'ghost'"),
    (["users", "set-role", "ann", "lawyer"], "ann is the only active admin"),
    (["users", "disable", "ann"], "ann is the only active admin"),
    (["users", "set-role", "ann", "boss"], "Unknown role 'boss'"),
])
def test_account_changes_refused_with_one_line(args, message):
    runner.invoke(cli, ["users", "add", "ann", "--role", "admin", "--password", "ann-pass-1"])
    result = runner.invoke(cli, args)
    assert result.exit_code == 1 and message in result.output and "Traceback" not in result.output
