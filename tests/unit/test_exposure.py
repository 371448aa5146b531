"""Exposure lines: a table of named clauses and the line a lawyer reads at the top of the contract."""
from __future__ import annotations

import pytest

from app.exposure import ClauseFacts, clause_reference, exposure_line, exposure_lines, heading_title

CASES = {
    "carve-out names the excepted claims": (
        ClauseFacts("carve_out", "12.3", "12 LIABILITY > 12.3",
                    "The foregoing limitation shall not apply to claims for IP infringement. Nothing else.", 0),
        "uncapped for IP infringement (carved out of the cap), 12.3"),
    "except-for list stops where the main clause resumes": (
        ClauseFacts("carve_out", "9", None, "Except for breach of confidentiality or gross negligence, neither "
                    "party shall be liable for consequential damages.", 0),
        "uncapped for breach of confidentiality or gross negligence (carved out of the cap), 9"),
    "carve-out without named claims falls back to the heading": (
        ClauseFacts("carve_out", "9", "9 LIMITATION OF LIABILITY", "Subject to the exceptions in Schedule 2.", 0),
        "cap with carve-outs (Limitation of liability), 9"),
    "nothing-limits wording names the subject": (
        ClauseFacts("uncapped", "14.1", None, "Nothing in this Agreement limits either party's liability for "
                    "fraud or death caused by negligence.", 3),
        "uncapped for fraud or death caused by negligence, 14.1"),
    "unlimited wording names the subject": (
        ClauseFacts("uncapped", None, None, "Liability for infringement of intellectual property shall be "
                    "unlimited.", 4),
        "uncapped for infringement of intellectual property, “Liability for infringement of intellectual property…”"),
    "capped at an amount": (
        ClauseFacts("capped", "12.1", "12 Liability > 12.1", "Aggregate liability shall not exceed $1,000,000.", 0),
        "capped at $1,000,000 (Liability), 12.1"),
    "capped at what the wording names": (
        ClauseFacts("capped", "8", None, "Liability is limited to direct damages. In no event shall it exceed the "
                    "fees paid in the preceding twelve months.", 0),
        "capped at the fees paid in the preceding twelve months, 8"),
    "capped at fees paid when no phrase names the measure": (
        ClauseFacts("capped", "8", None, "Recovery is the fees paid by Customer, at most.", 0),
        "capped at fees paid, 8"),
    "redacted amount still counts": (
        ClauseFacts("cap_and_collar", "10", None, "No claim below [* * *]; in no event more than [***].", 0),
        "capped at [* * *] above a threshold, 10"),
    "exclusion lists the damage types": (
        ClauseFacts("exclusion", "11", None, "In no event liable for indirect or consequential damages or lost "
                    "profits.", 0),
        "excludes consequential, indirect damages and lost profits, 11"),
    "sole remedy": (
        ClauseFacts("exclusion", "7.2", "7 WARRANTY > 7.2", "Repair or replacement is the sole and exclusive "
                    "remedy.", 0),
        "sole remedy (Warranty), 7.2"),
    "shouted enumerated subject reads quietly": (
        ClauseFacts("uncapped", "17", None, "NEITHER PARTY EXCLUDES OR LIMITS ANY LIABILITY FOR: (I) DEATH OR "
                    "PERSONAL INJURY; (II) FRAUD.", 0),
        "uncapped for death or personal injury, 17"),
    "indemnity names its heading": (
        ClauseFacts("indemnity", "(a)", "11 Indemnification > (a)", "Supplier shall indemnify Customer.", 0),
        "indemnity (Indemnification), 11(a)"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_exposure_line(name):
    facts, line = CASES[name]
    assert exposure_line(facts) == line


def test_none_has_no_line():
    assert exposure_line(ClauseFacts("none", "1", None, "Governing law: New York.", 0)) is None


def test_lines_come_worst_first_then_in_contract_order():
    clauses = [ClauseFacts("exclusion", "3", None, "No consequential damages.", 2),
               ClauseFacts("capped", "2", None, "Not to exceed $5.", 1),
               ClauseFacts("none", "1", None, "Term.", 0),
               ClauseFacts("uncapped", "5", None, "Liability shall be unlimited.", 4),
               ClauseFacts("capped", "4", None, "Not to exceed $9.", 3)]
    assert [f.number for f, _ in exposure_lines(clauses)] == ["5", "2", "4", "3"]


@pytest.mark.parametrize("heading, title", [
    ("2 GRANT OF RIGHTS > 2.1 Hosting Software License", "Hosting Software License"),
    ("11 Indemnification > (h)", "Indemnification"),
    ("Section 12. LIMITATION OF LIABILITY > 12.3", "Limitation of liability"),
    ("5.6", None), ("", None), (None, None),
])
def test_heading_title_is_the_most_specific_named_part(heading, title):
    assert heading_title(heading) == title


@pytest.mark.parametrize("number, heading, text, reference", [
    ("12.3", "12 LIABILITY > 12.3", "", "12.3"),
    ("(a)", "11 Indemnification > (a)", "", "11(a)"),
    ("(h)", "ARTICLE 7 LIMITATIONS > Section 7.1 Aggregate Liability > (h)", "", "7.1(h)"),
    ("(b)", "(b)", "", "(b)"),
    (None, "9 LIMITATION OF LIABILITY", "In no event ...", "Limitation of liability"),
    (None, None, "Liability for infringement shall be unlimited.", "“Liability for infringement shall be unlimited.”"),
])
def test_references_use_the_contracts_own_numbers_and_headings(number, heading, text, reference):
    assert clause_reference(number, heading, text) == reference
