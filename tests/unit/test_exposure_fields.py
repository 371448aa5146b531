"""Exposure fields read from real CUAD clauses: each field's value and the words it came from.

Clauses are taken by id from ../shared/data/cuad (clauses_labeled.jsonl: L…, segments_dev.jsonl: SEG-…). The
development contracts hold no basket or deductible on liability, so that field is tested on the hand-written
cap-and-collar clauses of ../shared/data/synthetic and, for what must not count, on real insurance clauses.
"""
from __future__ import annotations

import json
from functools import cache

import pytest

from app.exposure_fields import FIELD_KINDS, extract_fields
from tests.conftest import CUAD

SOURCES = (CUAD / "clauses_labeled.jsonl", CUAD / "segments_dev.jsonl",
           CUAD.parent / "synthetic" / "clauses_synthetic.jsonl")


@cache
def _texts() -> dict[str, str]:
    if not CUAD.exists():
        pytest.fail(f"CUAD data not found at {CUAD}; set LEXDORA_SHARED_DIR")
    texts = {}
    for path in SOURCES:
        with path.open(encoding="utf-8") as f:
            for line in f:
                row = json.loads(line)
                texts[row["id"]] = row["text"]
    return texts


def fields_of(clause_id: str, kind: str) -> list[tuple[str, str]]:
    """(value, evidence words) of one kind of field in a real clause."""
    text = _texts()[clause_id]
    return [(f.value, text[f.start:f.end]) for f in extract_fields(text) if f.kind == kind]


CASES = {
    "cap_amount": [
        ("L0441", [("$150,000", "$150,000")]),                        # "... Fifty Thousand Dollars ($150,000)"
        ("L0685", [("U.S.$10,000,000", "U.S.$10,000,000")]),
        ("L1063", [("[***]", "[***]")]),                               # redacted in the filing
        ("L0010", []),                                                 # a cap measured in fees names no sum
    ],
    "cap_basis": [
        ("L0001", [("the fees that MA has paid", "the fees that MA has paid")]),
        ("L0010", [("amount equal to the aggregate amounts paid or payable",
                    "AMOUNT EQUAL TO THE AGGREGATE AMOUNTS PAID OR PAYABLE")]),
        ("L0485", [("payments made", "payments made")]),
        ("L0822", []),                                                 # an exclusion sets no ceiling
    ],
    "cap_period": [
        ("L0010", [("12 months", "IN THE TWELVE (12) MONTHS PRECEDING")]),
        ("L0485", [("3 months", "during the three (3) months prior to")]),
        ("L0126", [("12 months", "during the twelve-month period preceding")]),
        ("L0441", []),
    ],
    "cap_scope": [
        ("L0010", [("aggregate", "AGGREGATE")]),
        ("L0035", [("per claim", "PER OCCURRENCE")]),
        ("L0129", [("per claim", "PER CLAIM")]),
        ("L0685", []),
    ],
    "basket": [
        ("SA004", [("£50,000", "unless the aggregate amount of all Warranty Claims exceeds £50,000")]),
        ("SA001", [("$5,000", "value of which is less than $5,000")]),
        ("SEG-1e6d383a-0029", []),                                     # "no deductible amount" of an insurance policy
        ("SEG-d108d8a9-0165", []),                                     # insurance limits per occurrence
    ],
    "carve_out": [
        ("L0011", [("indemnification", "indemnification"), ("gross negligence", "gross negligence"),
                   ("wilful misconduct", "wilful misconduct")]),
        ("L0126", [("confidentiality", "confidentiality"), ("indemnification", "indemnification"),
                   ("IP infringement", "infringement")]),
        ("L0682", [("obligations under Section 8", "SECTION 8"), ("payment obligations", "MONIES DUE")]),
        ("L0822", []),
    ],
    "uncapped": [
        ("L0158", [("death or personal injury", "personal injury"), ("wilful misconduct", "wilful misconduct"),
                   ("fraud", "fraud"),
                   ("obligations under Sections 2(c), 5(b), 5(c), 6(b), 11, 13 or 16",
                    "Sections 2(c), 5(b), 5(c), 6(b), 11, 13 or 16"),
                   ("payment obligations", "payment obligations"), ("gross negligence", "gross negligence")]),
        ("L0011", []),                                                 # carved out of a cap, not declared unlimited
    ],
    "excluded_damages": [
        ("L0822", [("special", "SPECIAL"), ("incidental", "INCIDENTAL"), ("consequential", "CONSEQUENTIAL"),
                   ("exemplary", "EXEMPLARY")]),
        ("L0002", [("incidental", "incidental"), ("special", "special"), ("consequential", "consequential"),
                   ("loss of data", "loss of data"), ("loss of business", "loss of data or other business")]),
        ("L0001", []),
    ],
    "time_bar": [
        ("L0868", [("3 years", "brought within three (3) years")]),
        ("L0047", [("1 year", "BROUGHT BY DISTRIBUTOR MORE THAN ONE (1) YEAR")]),
        ("L0061", [("6 months", "notified to the other Party within six (6) months")]),
        ("L0187", [("150 days", "made in writing within 150 days")]),
        ("L0010", []),                                                 # "twelve months preceding" measures a cap
    ],
}


def test_every_field_kind_has_cases():
    assert set(CASES) == set(FIELD_KINDS)


@pytest.mark.parametrize("kind, clause_id, expected",
                         [(kind, cid, exp) for kind, cases in CASES.items() for cid, exp in cases],
                         ids=[f"{kind}-{cid}" for kind, cases in CASES.items() for cid, _ in cases])
def test_field_and_its_evidence_on_a_real_clause(kind, clause_id, expected):
    assert fields_of(clause_id, kind) == expected


def test_evidence_spans_point_into_the_clause_and_fields_come_in_kind_order():
    for clause_id in ("L0010", "L0126", "L0158", "L0002"):
        text = _texts()[clause_id]
        fields = extract_fields(text)
        assert fields
        assert all(0 <= f.start < f.end <= len(text) for f in fields)
        order = [FIELD_KINDS.index(f.kind) for f in fields]
        assert order == sorted(order)


def test_a_basket_amount_is_not_read_as_the_cap():
    assert fields_of("SA009", "cap_amount") == [("€7,500,000", "€7,500,000")]
    assert fields_of("SA009", "basket") == [
        ("€150,000", "unless and until the aggregate amount of all Claims exceeds €150,000")]


@pytest.mark.parametrize("name, n, split", [("exposure_gold.jsonl", 50, "train"),
                                            ("exposure_gold_heldout.jsonl", 18, "validation")])
def test_gold_files_quote_their_clauses_from_the_stated_split(name, n, split):
    from tests.conftest import ROOT

    contracts = json.loads((ROOT / "models" / "default" / "split.json").read_text())
    with (ROOT / "tests" / "fixtures" / name).open(encoding="utf-8") as f:
        rows = [json.loads(line) for line in f]
    assert len(rows) == n and len({r["id"] for r in rows}) == n
    for row in rows:
        assert _texts()[row["id"]] == row["text"]
        assert contracts[row["contract"].removesuffix(".txt")] == split
        assert all(f["kind"] in FIELD_KINDS and f["evidence"] in row["text"] for f in row["fields"])


def test_the_bench_scores_the_gold_itself_as_perfect_and_nothing_as_zero_recall():
    from bench.exposure_fields import score

    clause = {"text": "Liability shall not exceed $5,000.", "fields": [
        {"kind": "cap_amount", "value": "$5,000", "evidence": "$5,000"}]}
    assert score([clause])["all"]["recall"] == 1.0
    empty = {"text": "The term is five years.",
             "fields": [{"kind": "time_bar", "value": "5 years", "evidence": "five years"}]}
    assert score([empty])["time_bar"]["recall"] == 0.0 and score([empty])["time_bar"]["accuracy"] == 0.0
