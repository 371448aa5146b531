"""Run-time settings, from the environment (prefix LEXDORA_) or a .env file."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LEXDORA_", env_file=".env", extra="ignore")

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


@lru_cache
def get_settings() -> Settings:
    return Settings()
