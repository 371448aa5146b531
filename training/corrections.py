"""Reviewers' settled labels -> correction records for data.build, with test contracts held back.

The latest review of each clause is its label, unless an admin adjudicated it: then the adjudicated
label wins, and the clause is no longer disputed whatever its reviewers said. A correction that
belongs to a test contract of the parent's fixed split (by contract name, or because its text is a test clause's text) never reaches
training: it is kept apart to evaluate on, so the test split stays the one every version saw.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from data.build import DataConfig, load_records


@dataclass(frozen=True)
class Correction:
    """One reviewed clause: its settled label and what each reviewer said last."""
    clause_id: int
    contract: str            # the uploaded file name
    text: str
    label: str               # the adjudicated label, else the latest review's
    model_label: str         # what the model had said
    reviewers: dict[str, str]  # reviewer -> their latest label
    adjudicated: bool = False  # an admin settled it: `label` is theirs

    @property
    def disputed(self) -> bool:
        return not self.adjudicated and len(set(self.reviewers.values())) > 1


@dataclass
class CorrectionSplit:
    train: list[dict]            # records handed to data.build (override by id, else added)
    held_back: list[dict]        # on test contracts: evaluated on, never trained on
    overrides: int               # how many of `train` replace an existing record's label
    disputed: list[Correction]


def _norm(text: str) -> str:
    # data.build normalises whitespace and compares lowercased texts; match clauses the same way.
    return " ".join(text.split()).lower()


def contract_name(filename: str) -> str:
    """CUAD names contracts by file stem, so an uploaded "X.pdf" is contract "X" of the dataset."""
    return Path(filename).stem


def split_corrections(corrections: list[Correction], fixed_split: dict[str, str],
                      data_config: DataConfig) -> CorrectionSplit:
    """Correction records for training, and those held back because they belong to a test contract."""
    records = load_records(data_config)
    base_by_text = {_norm(r["text"]): r for r in records}
    # A test clause's text under another contract name (a renamed upload) is still a test clause;
    # in training it would also make data.build drop that clause from the fixed test split.
    test_texts = {_norm(r["text"]) for r in records if fixed_split.get(r["contract"]) == "test"}
    train, held_back, overrides = [], [], 0
    for c in corrections:
        key = _norm(c.text)
        base = base_by_text.get(key)
        uploaded = contract_name(c.contract)
        contract = base["contract"] if base else uploaded
        record = {"id": base["id"] if base else f"review-{c.clause_id}", "contract": contract, "text": c.text,
                  "label": c.label, "source": "review"}
        if key in test_texts or "test" in (fixed_split.get(contract), fixed_split.get(uploaded)):
            held_back.append(record)
        else:
            train.append(record)
            overrides += base is not None
    return CorrectionSplit(train, held_back, overrides, [c for c in corrections if c.disputed])
