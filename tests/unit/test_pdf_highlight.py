"""Finding a clause of the stored text on a PDF page's text layer, whatever layout repair did to it."""
from __future__ import annotations

from app.pdf_highlight import match_on_page

CLAUSE = ("9.1 Limitation of Liability. In no event shall either party's aggregate liability exceed the fees "
          "paid in the twelve (12) months preceding the claim, except for non-exclusive licence breaches.")


def _covered(page: str, ranges) -> str:
    return "".join(page[a:b] for a, b in ranges)


def test_a_clause_is_found_across_line_breaks_and_repaired_hyphenation():
    page = ("8.4 Notices. All notices in writing.\r\n"
            "9.1 Limitation of Liability. In no event shall either party's ag-\ufffegregate liability\r\n"
            "exceed the fees paid in the twelve (12) months preceding the claim, except for non-\r\n"
            "exclusive licence breaches.\r\n9.2 Survival. This section survives.")
    ranges = match_on_page(page, CLAUSE)
    assert len(ranges) == 1
    found = _covered(page, ranges)
    assert found.startswith("9.1 Limitation") and found.endswith("licence breaches")
    assert "Notices" not in found and "Survival" not in found


def test_a_running_header_between_two_parts_is_left_out_of_both():
    header = "CONFIDENTIAL TREATMENT REQUESTED BY ACME CORP PAGE SEVENTEEN OF FORTY\r\n"
    page = CLAUSE[:90] + "\r\n" + header + CLAUSE[90:]
    ranges = match_on_page(page, CLAUSE)
    assert len(ranges) == 2 and "CONFIDENTIAL" not in _covered(page, ranges)


def test_only_the_tail_of_a_clause_that_began_on_the_previous_page_is_marked():
    page = "paid in the twelve (12) months preceding the claim, except for non-exclusive licence breaches.\r\n" \
           "10. TERM. This Agreement lasts five years."
    assert match_on_page(page, CLAUSE, starts_here=True) == []   # most of it is not here
    found = _covered(page, match_on_page(page, CLAUSE, starts_here=False))
    assert found.startswith("paid in the twelve") and "TERM" not in found


def test_a_clause_that_is_not_on_the_page_is_not_found():
    page = "11. GOVERNING LAW. This Agreement is governed by the laws of New York, without regard to conflicts."
    assert match_on_page(page, CLAUSE) == []
    assert match_on_page(page, "ARTICLE 9") == []
    assert _covered(page, match_on_page(page, "GOVERNING LAW")) == "GOVERNING LAW"
