"""Model versions on disk: written by training, read by the app.

Layout of one version (``models/registry/<version>/`` or the shipped ``models/default/``):

    card.json          machine-readable model card (see CARD_FIELDS)
    README.md          the same for humans
    adapter/           PEFT adapter (adapter_config.json, adapter_model.safetensors), or
    merged/            full merged weights when card["merged"] is true
    calibration.json   {"temperature": T, "bias": [b per label] or null} fitted by training.calibrate
    policy.yaml        routing thresholds fitted by training.thresholds (optional)
    eval/              evaluation reports (optional)

``models/registry/ACTIVE`` holds the name of the active version; with no such
file the shipped default is active.
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from app.config import get_settings

DEFAULT_VERSION = "default"

# Fields every card carries; training fills them, the app and the dashboard read them.
CARD_FIELDS = (
    "version", "created", "parent", "base_model", "method", "quantization", "labels",
    "data_hash", "train_config", "params", "wall_time_s", "peak_memory_mb", "metrics", "merged",
)


class ModelVersionNotFound(LookupError):
    """The named model version is not in the registry."""


class InvalidModelVersionName(ModelVersionNotFound, ValueError):
    """The name cannot be a model version: it could point outside the registry (`../../x`)."""


# Letters, digits, dot, underscore, hyphen; not starting with a dot (no "..", no hidden folders).
_VERSION_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}")


def validate_version_name(name: str) -> str:
    """`name` if it is a safe model version name, else InvalidModelVersionName (one line, name escaped)."""
    if not isinstance(name, str) or not _VERSION_NAME.fullmatch(name):
        raise InvalidModelVersionName(
            f"invalid model version name {name!r}: use letters, digits, '.', '_' and '-' only, "
            "not starting with '.', at most 128 characters")
    return name


@dataclass(frozen=True)
class ModelVersion:
    name: str
    path: Path

    @property
    def card(self) -> dict:
        return json.loads((self.path / "card.json").read_text())

    @property
    def merged(self) -> bool:
        return bool(self.card.get("merged"))

    @property
    def temperature(self) -> float:
        f = self.path / "calibration.json"
        return float(json.loads(f.read_text())["temperature"]) if f.exists() else 1.0

    @property
    def bias(self) -> list[float] | None:
        """Per-label logit bias of calibration.json (real-contract priors), or None."""
        f = self.path / "calibration.json"
        return json.loads(f.read_text()).get("bias") if f.exists() else None

    @property
    def policy_path(self) -> Path | None:
        p = self.path / "policy.yaml"
        return p if p.exists() else None

    def write_card(self, card: dict) -> None:
        (self.path / "card.json").write_text(json.dumps(card, indent=2, sort_keys=True, default=str) + "\n")

    def update_card(self, **fields) -> dict:
        card = self.card
        card.update(fields)
        self.write_card(card)
        return card


class Registry:
    def __init__(self, root: Path | None = None, default_dir: Path | None = None):
        settings = get_settings()
        self.root = Path(root or settings.registry_dir)
        self.default_dir = Path(default_dir or settings.default_model_dir)

    def list(self) -> list[ModelVersion]:
        """All versions, the shipped default first, then registered ones oldest first."""
        versions = []
        if (self.default_dir / "card.json").exists():
            versions.append(ModelVersion(DEFAULT_VERSION, self.default_dir))
        if self.root.exists():
            for p in sorted(self.root.iterdir()):
                if _VERSION_NAME.fullmatch(p.name) and p.is_dir() and (p / "card.json").exists():
                    versions.append(ModelVersion(p.name, p))
        return versions

    def get(self, name: str | None = None) -> ModelVersion:
        """The named version, or the active one when name is None."""
        if name is None:
            return self.active()
        validate_version_name(name)
        if name == DEFAULT_VERSION:
            if (self.default_dir / "card.json").exists():
                return ModelVersion(DEFAULT_VERSION, self.default_dir)
        elif (self.root / name / "card.json").exists():
            return ModelVersion(name, self.root / name)
        known = ", ".join(v.name for v in self.list()) or "none"
        raise ModelVersionNotFound(f"model version {name!r} not found (known: {known})")

    def active_name(self) -> str:
        """The name in ACTIVE (validated: a tampered file cannot point outside the registry)."""
        f = self.root / "ACTIVE"
        return validate_version_name(f.read_text().strip()) if f.exists() else DEFAULT_VERSION

    def active(self) -> ModelVersion:
        return self.get(self.active_name())

    def activate(self, name: str) -> ModelVersion:
        """Make `name` the active version (also used to roll back)."""
        version = self.get(validate_version_name(name))
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.root / "ACTIVE.tmp"
        tmp.write_text(version.name + "\n")
        os.replace(tmp, self.root / "ACTIVE")  # atomic: readers never see a half-written name
        return version

    def new_version(self, tag: str = "") -> ModelVersion:
        """Create an empty folder for a new version named by UTC time (and a tag)."""
        stamp = datetime.now(timezone.utc).strftime("v%Y%m%d-%H%M%S")
        slug = re.sub(r"[^a-z0-9]+", "-", tag.lower()).strip("-")[:80].strip("-")
        base = f"{stamp}-{slug}" if slug else stamp
        name, n = base, 1
        while (self.root / name).exists():
            n += 1
            name = f"{base}-{n}"
        path = self.root / name
        path.mkdir(parents=True)
        return ModelVersion(name, path)
