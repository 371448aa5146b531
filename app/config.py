"""Run-time settings, from the environment (prefix LEXDORA_) or a .env file."""
from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

M = TypeVar("M", bound=BaseModel)

ROOT = Path(__file__).resolve().parent.parent

_PREFIX = "LEXDORA_"
# LEXDORA_* variables of the scripts and tests, not settings of the app: scripts/start.sh,
# scripts/pg_test_server.sh, tests/integration/test_postgres.py, tests/browser/conftest.py.
NOT_SETTINGS = frozenset({"LEXDORA_PORT", "LEXDORA_PG_DIR", "LEXDORA_PG_PORT", "LEXDORA_TEST_POSTGRES_URL",
                          "LEXDORA_E2E_MODEL"})


class Settings(BaseSettings):
    """Run-time settings; an unknown LEXDORA_* variable (a typo) or keyword is an error, not ignored."""

    model_config = SettingsConfigDict(env_prefix=_PREFIX, env_file=".env", extra="forbid")

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, env_settings, dotenv_settings,
                                   file_secret_settings):
        # A .env file may hold other programs' variables too; only LEXDORA_* ones are ours to check.
        def ours_from_dotenv() -> dict:
            return {k: v for k, v in dotenv_settings().items()
                    if k in cls.model_fields or k.upper().startswith(_PREFIX)}

        return init_settings, env_settings, ours_from_dotenv, file_secret_settings

    @model_validator(mode="before")
    @classmethod
    def _no_unknown_environment_variable(cls, data):
        known = {_PREFIX + name.upper() for name in cls.model_fields}
        unknown = sorted(k for k in os.environ
                         if k.upper().startswith(_PREFIX) and k.upper() not in known | NOT_SETTINGS)
        if unknown:
            raise ValueError(f"unknown setting(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        return data

    database_url: str = Field(
        default=f"sqlite:///{ROOT / 'var' / 'lexdora.db'}",
        description="SQLAlchemy URL; SQLite by default, postgresql+psycopg://... for many reviewers.",
    )
    registry_dir: Path = Field(default=ROOT / "models" / "registry",
                               description="Where trained model versions are registered.")
    default_model_dir: Path = Field(default=ROOT / "models" / "default",
                                    description="The shipped default model version, used until another is activated.")
    base_models_dir: Path = Field(default=ROOT / "models" / "base",
                                  description="Cache of base model weights converted to safetensors.")
    upload_dir: Path = Field(default=ROOT / "var" / "uploads",
                             description="Uploaded contracts, stored by content hash; never served.")
    max_upload_mb: float = Field(default=50.0, description="Files larger than this are refused at ingestion.")
    max_docx_uncompressed_mb: float = Field(default=200.0,
                                            description="Refuse DOCX files that inflate beyond this (zip bombs).")
    policy_file: Path | None = Field(default=None,
                                     description="Routing policy YAML; default: the active model's policy.yaml, else configs/policy.yaml.")
    shared_dir: Path = Field(default=ROOT.parent / "shared",
                             description="The shared folder with CUAD data and the taxonomy.")
    device: str = Field(default="auto", description="auto, cpu or cuda.")
    batch_size: int = Field(default=16, description="Clauses per forward pass when classifying.")
    queue_url: str = Field(
        default=f"sqlite:///{ROOT / 'var' / 'queue.db'}",
        description=("Task queue of the scoring worker (app.worker): a SQLite file by default; redis://host:6379/0 "
                     "(pip install redis) or postgresql://... (psycopg) when workers run on several machines."))
    session_hours: float = Field(default=12.0, gt=0,
                                 description="How long a log-in lasts in a browser, refreshes included.")


@lru_cache
def get_settings() -> Settings:
    return Settings()


# ---------------------------------------------------------------------------- YAML files of pydantic models


class ConfigFileError(ValueError):
    """A YAML file that is missing, not YAML, not a mapping, or not valid for its model; the message names the file."""


def load_yaml_model(path: Path | str, model: type[M], *, what: str = "config file", section: str | None = None,
                    overrides: dict | None = None) -> M:
    """The one YAML loader: read `path` (its `section` only, when given) into `model`, overrides winning.

    Errors are ConfigFileError with one line naming the file and each field at fault.
    """
    import yaml
    from pydantic import ValidationError

    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ConfigFileError(f"{what} {path} not found") from None
    except yaml.YAMLError as e:
        raise ConfigFileError(f"{what} {path} is not valid YAML: {e}") from None
    data = {} if data is None else data
    if section is not None and isinstance(data, dict):
        data = data.get(section) or {}
    if not isinstance(data, dict):
        raise ConfigFileError(f"{what} {path} must be a mapping of field: value")
    data.update({k: v for k, v in (overrides or {}).items() if v is not None})
    try:
        return model.model_validate(data)
    except ValidationError as e:
        problems = "; ".join(f"{'.'.join(map(str, err['loc'])) or 'file'}: {err['msg']}" for err in e.errors())
        raise ConfigFileError(f"{what} {path} is invalid: {problems}") from None
