"""The seven labels of ../shared/taxonomy/liability_buckets.md.

Every other module takes label ids, their order and their CUAD mapping from here.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Label:
    id: str
    display: str
    colour: str  # hex, used by the UI and the reports
    description: str


# Order is the guideline's order of precedence: when a clause fits several
# buckets, the first that applies wins. It is also the classifier's class index order.
LABELS: tuple[Label, ...] = (
    Label("carve_out", "Cap with carve-out", "#d62728",
          "limits liability and expressly excepts named claims from that limit"),
    Label("cap_and_collar", "Cap and collar", "#9467bd",
          "monetary ceiling and a floor/threshold (basket, deductible, de minimis)"),
    Label("capped", "Capped", "#1f77b4",
          "monetary ceiling on liability or indemnity"),
    Label("uncapped", "Uncapped", "#ff7f0e",
          "liability or an indemnity expressly unlimited or not subject to any limit"),
    Label("exclusion", "Exclusion", "#2ca02c",
          "excludes damage types, sole remedy or time bar, without a ceiling or carve-outs"),
    Label("indemnity", "Indemnity", "#8c564b",
          "obligation to indemnify, defend or hold harmless, no limiting language of its own"),
    Label("none", "No liability term", "#7f7f7f",
          "says nothing about the extent of a party's liability"),
)

LABEL_IDS: tuple[str, ...] = tuple(label.id for label in LABELS)
BUCKETS: tuple[str, ...] = tuple(i for i in LABEL_IDS if i != "none")
LABEL2ID: dict[str, int] = {label: i for i, label in enumerate(LABEL_IDS)}
ID2LABEL: dict[int, str] = dict(enumerate(LABEL_IDS))
BY_ID: dict[str, Label] = {label.id: label for label in LABELS}

# The two yes/no questions lawyers answered in CUAD, and the labels that answer "Yes".
CUAD_MAPPING: dict[str, frozenset[str]] = {
    "Uncapped Liability": frozenset({"uncapped", "carve_out"}),
    "Cap On Liability": frozenset({"capped", "cap_and_collar", "carve_out", "exclusion"}),
}

# Near misses that matter most (guideline, "Notes"): each pair is confusable both ways.
CONFUSABLE_PAIRS: tuple[tuple[str, str], ...] = (
    ("carve_out", "uncapped"),
    ("cap_and_collar", "capped"),
)


def confusable_partner(label: str) -> str | None:
    """The label a reviewer most often has to tell `label` apart from, if any."""
    for a, b in CONFUSABLE_PAIRS:
        if label == a:
            return b
        if label == b:
            return a
    return None


def has_cap(labels: set[str] | frozenset[str]) -> bool:
    """CUAD 'Cap On Liability' answer for a contract with these clause labels."""
    return bool(set(labels) & CUAD_MAPPING["Cap On Liability"])


def has_uncapped(labels: set[str] | frozenset[str]) -> bool:
    """CUAD 'Uncapped Liability' answer for a contract with these clause labels."""
    return bool(set(labels) & CUAD_MAPPING["Uncapped Liability"])


def validate(label: str) -> str:
    """Return `label` if it is one of the seven, else raise ValueError naming them."""
    if label not in LABEL2ID:
        raise ValueError(f"unknown label {label!r}; expected one of {', '.join(LABEL_IDS)}")
    return label
