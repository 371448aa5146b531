"""Which reviewed clauses reach training, which override a label, and which are held back."""
from __future__ import annotations

import json

import pytest

from data.build import DataConfig, build_dataset
from training.corrections import Correction, split_corrections

BASE = [
    {"id": "L1", "contract": "TrainCo", "text": "Liability shall not exceed the fees paid.", "label": "capped"},
    {"id": "L2", "contract": "TrainCo", "text": "The Supplier shall indemnify the Customer.", "label": "indemnity"},
    {"id": "L3", "contract": "TestCo", "text": "In no event shall either party be liable for lost profits.",
     "label": "exclusion"},
    {"id": "L4", "contract": "ValCo", "text": "This agreement is governed by the laws of Delaware.", "label": "none"},
]
SPLIT = {"TrainCo": "train", "TestCo": "test", "ValCo": "validation"}


@pytest.fixture
def data_config(tmp_path) -> DataConfig:
    labeled, other = tmp_path / "labeled.jsonl", tmp_path / "other.jsonl"
    labeled.write_text("".join(json.dumps(r | {"source": "cuad"}) + "\n" for r in BASE))
    other.write_text("")
    return DataConfig(labeled_path=labeled, other_path=other, synthetic_path=None)


def _c(clause_id: int, contract: str, text: str, label: str, **reviewers: str) -> Correction:
    return Correction(clause_id, contract, text, label, "none", reviewers or {"rita": label})


def test_a_correction_of_a_known_clause_overrides_its_label(data_config):
    fix = _c(1, "TrainCo.pdf", "Liability shall not exceed\n the fees paid.", "carve_out")
    result = split_corrections([fix], SPLIT, data_config)
    assert result.train == [{"id": "L1", "contract": "TrainCo", "text": fix.text, "label": "carve_out",
                             "source": "review"}]
    assert result.overrides == 1 and result.held_back == []
    ds, _ = build_dataset(data_config, corrections=result.train, fixed_split=SPLIT)
    assert dict(zip(ds["train"]["id"], ds["train"]["label"]))["L1"] == "carve_out"


def test_a_clause_of_a_new_contract_is_added_to_training(data_config):
    new = _c(7, "Fresh Deal.docx", "The Customer's liability is unlimited.", "uncapped")
    result = split_corrections([new], SPLIT, data_config)
    assert result.train[0]["id"] == "review-7" and result.train[0]["contract"] == "Fresh Deal"
    ds, _ = build_dataset(data_config, corrections=result.train, fixed_split=SPLIT)
    assert "review-7" in ds["train"]["id"]


@pytest.mark.parametrize("contract, text", [
    ("TestCo.pdf", "A clause of the test contract the dataset never saw."),   # by contract name
    ("renamed.pdf", "In no event shall either party be liable for lost profits."),  # by a test clause's text
])
def test_corrections_on_test_contracts_are_held_back_and_the_test_split_stays_fixed(data_config, contract, text):
    before, _ = build_dataset(data_config, fixed_split=SPLIT)
    result = split_corrections([_c(3, contract, text, "carve_out")], SPLIT, data_config)
    assert result.train == [] and len(result.held_back) == 1
    after, _ = build_dataset(data_config, corrections=result.train, fixed_split=SPLIT)
    assert after["test"].to_list() == before["test"].to_list()


def test_disputed_clauses_are_those_where_reviewers_last_said_different_labels(data_config):
    agreed = _c(1, "x.pdf", "a", "capped", rita="capped", sam="capped")
    disputed = _c(2, "x.pdf", "b", "uncapped", rita="carve_out", sam="uncapped")
    assert split_corrections([agreed, disputed], SPLIT, data_config).disputed == [disputed]
