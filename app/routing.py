"""Routing: a clause's probabilities -> Decision (auto_accept | review) with a reason.

The policy is data (YAML, see configs/policy.yaml); `training.thresholds` fits its
per-label thresholds on validation data and writes it beside a model version.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from app.config import ROOT, ConfigFileError, Settings, get_settings, load_yaml_model
from app.taxonomy import LABEL2ID, LABEL_IDS, confusable_partner

if TYPE_CHECKING:
    from app.registry import ModelVersion

DEFAULT_POLICY_FILE = ROOT / "configs" / "policy.yaml"

Action = Literal["auto_accept", "review"]
# Which rule decided; the review queue shows near misses first, then the rest by uncertainty.
Rule = Literal["near_miss", "below_floor", "below_threshold", "confident"]

# Labels whose confusion with their partner the guideline calls out ("Near misses matter most").
NEAR_MISS_LABELS = frozenset({"uncapped", "carve_out", "cap_and_collar", "capped"})


class PolicyError(ValueError):
    """A routing policy file is missing or invalid; the message names the file and the fix."""


@dataclass(frozen=True)
class Decision:
    label: str          # the top label
    action: Action
    reason: str         # fit to show a reviewer as-is
    confidence: float   # probability of the top label
    rule: Rule = "confident"
    detail: str = ""    # the same decision in numbers (probabilities, margin, threshold), for a tooltip or a log


# How a reason names a label: words a reviewer reads, not ids.
SPOKEN = {"carve_out": "carve-out", "cap_and_collar": "cap and collar", "capped": "capped", "uncapped": "uncapped",
          "exclusion": "exclusion", "indemnity": "indemnity", "none": "no liability term"}


def spoken(label: str) -> str:
    return SPOKEN.get(label, label)


class Policy(BaseModel):
    """Per-label auto-accept thresholds and near-miss rules."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    floor: float = Field(ge=0.0, le=1.0, description=(
        "Below this top probability every clause goes to review, whatever its label."))
    near_miss_margin: float = Field(ge=0.0, le=1.0, description=(
        "Review when the runner-up is the top label's confusable partner and trails by at most this."))
    thresholds: dict[str, float] = Field(default_factory=dict, description=(
        "Per-label auto-accept threshold on the top probability (1.0: never auto-accept); a label not "
        "listed uses `floor`. "
        "`uncapped` gets its own high one: missing an uncapped clause is the costly error."))
    source: str = Field(default="", description=(
        "How these numbers were chosen (hand-set, or training.thresholds with its model and precision)."))

    @field_validator("thresholds")
    @classmethod
    def _known_labels(cls, thresholds: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(thresholds) - set(LABEL_IDS))
        if unknown:
            raise ValueError(f"unknown label(s) {', '.join(unknown)}; expected some of {', '.join(LABEL_IDS)}")
        bad = {k: v for k, v in thresholds.items() if not 0.0 <= v <= 1.0}
        if bad:
            raise ValueError(f"thresholds must lie in [0, 1]; got {bad}")
        return thresholds

    @model_validator(mode="after")
    def _thresholds_not_below_floor(self) -> Policy:
        low = {k: v for k, v in self.thresholds.items() if v < self.floor}
        if low:
            raise ValueError(f"thresholds {low} lie below floor {self.floor}; raise them to at least the floor "
                             "or lower the floor")
        return self

    def threshold(self, label: str) -> float:
        return self.thresholds.get(label, self.floor)

    def decide(self, probs: Mapping[str, float]) -> Decision:
        """Route one clause from its label probabilities (keys: label ids)."""
        if not probs:
            raise ValueError("no probabilities to route")
        unknown = sorted(set(probs) - set(LABEL_IDS))
        if unknown:
            raise ValueError(f"unknown label(s) {', '.join(unknown)} in probabilities")
        # Ties go to the label first in the guideline's order of precedence.
        ranked = sorted(probs.items(), key=lambda kv: (-kv[1], LABEL2ID[kv[0]]))
        top, p_top = ranked[0]
        p_top = float(p_top)
        runner, p_runner = ranked[1] if len(ranked) > 1 else (None, 0.0)

        def review(reason: str, rule: Rule, detail: str) -> Decision:
            return Decision(top, "review", reason, p_top, rule, detail)

        name = spoken(top)
        if top in NEAR_MISS_LABELS and runner is not None and runner == confusable_partner(top):
            margin = p_top - float(p_runner)
            if margin <= self.near_miss_margin:
                return review(f"Could be {name} ({p_top:.0%}) or {spoken(runner)} ({float(p_runner):.0%})",
                              "near_miss", f"{top} vs {runner}, margin {margin:.2f}")
        if p_top < self.floor:
            return review(f"The model is unsure: {p_top:.0%} {name}", "below_floor",
                          f"uncertain: top probability {p_top:.2f}")
        threshold = self.threshold(top)
        if threshold >= 1.0:  # training.thresholds writes 1.0 for "not enough evidence to trust this label"
            return review(f"Probably {name} ({p_top:.0%}), a label a person always checks", "below_threshold",
                          f"{top} at {p_top:.2f}: never auto-accepted (threshold 1.00)")
        if p_top < threshold:
            return review(f"Probably {name} ({p_top:.0%}), not sure enough to accept without a person "
                          f"(needs {threshold:.0%})", "below_threshold",
                          f"{top} at {p_top:.2f}, below its threshold {threshold:.2f}")
        return Decision(top, "auto_accept", f"Confident: {name} ({p_top:.0%})", p_top, "confident",
                        f"confident: {top} at {p_top:.2f} (threshold {threshold:.2f})")

    @classmethod
    def from_yaml(cls, path: Path | str) -> Policy:
        try:
            return load_yaml_model(path, cls, what="policy file")
        except ConfigFileError as e:
            raise PolicyError(str(e)) from None

    def to_yaml(self, path: Path | str) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        data = self.model_dump()
        data["thresholds"] = {k: data["thresholds"][k] for k in LABEL_IDS if k in data["thresholds"]}
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        return path


def load_policy(version: ModelVersion | None = None, *, settings: Settings | None = None) -> Policy:
    """The policy in force: settings.policy_file, else the model version's policy.yaml, else configs/policy.yaml.

    With no version given, the registry's active version is used when there is one.
    settings: default, the process's (app.config.get_settings).
    """
    settings = settings or get_settings()
    if settings.policy_file is not None:
        return Policy.from_yaml(settings.policy_file)
    if version is None:
        from app.registry import ModelVersionNotFound, Registry
        try:
            version = Registry().active()
        except ModelVersionNotFound:
            version = None
    if version is not None and version.policy_path is not None:
        return Policy.from_yaml(version.policy_path)
    return Policy.from_yaml(DEFAULT_POLICY_FILE)
