"""Clause segmentation on in-memory documents: numbering, heading paths, offsets, pages, long units."""
from __future__ import annotations

import pytest

from app.ingest import Document, segment
from app.ingest.segment import MAX_WORDS, TARGET_WORDS


def doc(text: str, page_starts: tuple[int, ...] = (0,), fmt: str = "txt") -> Document:
    return Document(name="t.txt", format=fmt, text=text, page_starts=page_starts, sha256="0" * 64)


def by_number(clauses):
    return {c.number: c for c in clauses}


def test_every_clause_text_is_exactly_its_slice_of_the_document():
    d = doc("1. Fees.\n\n1.1 Customer pays.\n\n1.2 Late fees accrue.\n\n2. Term. This lasts a year.")
    clauses = segment(d)
    assert clauses
    for i, c in enumerate(clauses):
        assert c.index == i
        assert d.text[c.start:c.end] == c.text
        assert c.text == c.text.strip()


def test_smallest_numbered_unit_with_heading_path():
    text = ("ARTICLE IV\n\nINDEMNIFICATION\n\n4.1 Scope. Supplier shall indemnify Customer.\n\n"
            "4.2 Limitation of Liability. Liability is limited as set out below.\n\n"
            "(a) No party is liable for lost profits.\n\n(b) the cap is the fees paid.")
    clauses = by_number(segment(doc(text)))
    assert "ARTICLE IV" not in clauses  # a heading, not a clause
    assert clauses["4.1"].heading == "ARTICLE IV INDEMNIFICATION > 4.1 Scope"
    assert clauses["4.2"].text == "4.2 Limitation of Liability. Liability is limited as set out below."
    assert clauses["(b)"].heading.endswith("4.2 Limitation of Liability > (b)")
    assert clauses["(b)"].text == "(b) the cap is the fees paid."


def test_inline_numbering_in_one_long_line_is_split():
    text = ("AGREEMENT The Parties agree as follows: 1. Services. 1.1 Provision. (a) Provider provides the "
            "Services. (b) Recipient may assign. 1.2 Standard. Provider acts in good faith. 2. Fees. 2.1 "
            "Payment. Recipient pays monthly.")
    clauses = segment(doc(text))
    numbers = [c.number for c in clauses]
    assert numbers == [None, "(a)", "(b)", "1.2", "2.1"]
    assert clauses[1].heading == "1 Services > 1.1 Provision > (a)"
    assert clauses[2].text == "(b) Recipient may assign."


def test_cross_references_do_not_start_clauses():
    text = ("1. Fees. Fees are set out in Section 4.2 of Schedule 1. (see also clause 9. below)\n\n"
            "2. Liability. Liability is capped as set forth in 7.3 hereof.")
    clauses = segment(doc(text))
    assert [c.number for c in clauses] == ["1", "2"]


def test_heading_only_units_are_headings_not_clauses():
    clauses = segment(doc("12. LIMITATION OF LIABILITY.\n\n12.1 No indirect damages shall be recovered."))
    assert [c.number for c in clauses] == ["12.1"]
    assert clauses[0].heading == "12 LIMITATION OF LIABILITY > 12.1"


def test_list_introduced_by_a_colon_stays_with_its_sentence():
    text = ("9.3 The limitations in Section 9.2 shall not apply to:\n\n(a) breach of confidentiality;\n\n"
            "(b) gross negligence or wilful misconduct.\n\n9.4 Survival. This Section survives.")
    clauses = segment(doc(text))
    assert [c.number for c in clauses] == ["9.3", "9.4"]
    assert clauses[0].text.endswith("wilful misconduct.")


def test_letter_i_after_h_is_a_letter_and_roman_lists_restart():
    items = "".join(f"({ch}) Item {ch} applies.\n\n" for ch in "abcdefghij")
    clauses = segment(doc("5. Covenants. The Supplier shall comply.\n\n" + items))
    assert [c.number for c in clauses][-3:] == ["(h)", "(i)", "(j)"]
    assert clauses[-2].heading.endswith("> (i)")
    roman = segment(doc("5. Rights. Buyer may act.\n\n(i) First right.\n\n(ii) Second right.\n\n(iii) Third."))
    assert [c.number for c in roman][-3:] == ["(i)", "(ii)", "(iii)"]


def test_unnumbered_contract_falls_back_to_paragraphs():
    text = "The Supplier shall deliver.\n\nThe Buyer shall pay.\n\nNeither party is liable for lost profits."
    clauses = segment(doc(text))
    assert [c.text for c in clauses] == text.split("\n\n")
    assert all(c.number is None and c.heading == "" for c in clauses)


def test_exhibit_closes_the_numbered_body():
    text = "1. Term. One year.\n\n2. Fees. Monthly.\n\nEXHIBIT A\n\nPrice list for hosting services."
    clauses = segment(doc(text))
    assert clauses[-1].number is None and clauses[-1].text == "Price list for hosting services."


def test_long_unit_is_cut_at_sentence_boundaries_within_the_budget():
    sentence = "The Supplier shall keep records of every shipment made under this Agreement for audit."
    body = " ".join(f"{sentence[:-1]} number {i}." for i in range(60))  # ~900 words
    clauses = segment(doc("7. Records. " + body))
    assert len(clauses) >= 3
    assert all(c.number == "7" for c in clauses)
    for c in clauses:
        assert len(c.text.split()) <= TARGET_WORDS
        assert c.text.endswith(".")  # whole sentences only
    assert sum(len(c.text.split()) for c in clauses) == len(("7. Records. " + body).split())


def _paragraph_of(n_words: int) -> str:
    """One numbered paragraph of exactly `n_words` words, in ten-word sentences."""
    sentence = "The Supplier shall keep full records of every shipment made."
    body = " ".join([sentence] * ((n_words - 2) // 10))
    pad = n_words - 2 - len(body.split())
    text = "3. Scope. " + body + (" " + " ".join(["more"] * (pad - 1) + ["end."]) if pad else "")
    assert len(text.split()) == n_words
    return text


@pytest.mark.parametrize("n_words, cut", [(MAX_WORDS - 1, False), (MAX_WORDS, False), (MAX_WORDS + 1, True)])
def test_unit_just_over_max_words_is_cut_but_one_under_is_not(n_words, cut):
    text = _paragraph_of(n_words)
    clauses = segment(doc(text))
    if cut:
        assert len(clauses) >= 2 and all(len(c.text.split()) <= TARGET_WORDS for c in clauses)
        assert all(c.text.endswith(".") for c in clauses)  # cut at sentence ends
        assert " ".join(c.text for c in clauses) == text   # nothing lost or repeated
    else:
        assert [c.text for c in clauses] == [text]


def test_pages_come_from_page_starts():
    text = "1. First. On page one.\n\n2. Second. Starts on page one and\nruns onto page two.\n\n3. Third. Page three."
    p2 = text.index("runs onto")
    p3 = text.index("3. Third")
    clauses = by_number(segment(doc(text, page_starts=(0, p2, p3), fmt="pdf")))
    assert (clauses["1"].page, clauses["1"].pages) == (1, (1,))
    assert (clauses["2"].page, clauses["2"].pages) == (1, (1, 2))
    assert (clauses["3"].page, clauses["3"].pages) == (3, (3,))


@pytest.mark.parametrize("offset,page", [(0, 1), (9, 1), (10, 2), (19, 2), (20, 3), (10_000, 3)])
def test_page_of(offset, page):
    assert doc("x" * 30, page_starts=(0, 10, 20), fmt="pdf").page_of(offset) == page


def test_empty_document_has_no_clauses():
    assert segment(doc("")) == []


def test_sentence_number_at_a_sentence_end_stays_with_its_sentence():
    body = " ".join(f"Supplier shall keep the records described in Section {i}. Buyer may inspect them at any "
                    f"reasonable time during the term of this Agreement upon notice." for i in range(1, 30))
    clauses = segment(doc("7. Records. " + body))
    assert len(clauses) > 1
    for c in clauses[1:]:
        assert c.text.startswith("Supplier shall keep") or c.text.startswith("Buyer may inspect")


def test_text_without_sentences_is_still_cut_to_the_budget():
    flattened_table = " ".join(f"cell{i}" for i in range(2000))
    clauses = segment(doc(flattened_table))
    assert len(clauses) >= 2000 // TARGET_WORDS
    assert max(len(c.text.split()) for c in clauses) <= TARGET_WORDS
    assert " ".join(c.text for c in clauses) == flattened_table


def test_sub_number_after_a_heading_without_full_stop_starts_a_clause():
    text = ("9. TERM & TERMINATION 9.1 The Agreement commences on the Effective Date. 9.2 Either party may "
            "terminate as provided under 9.1 The notice must be written.")
    clauses = segment(doc(text))
    assert [c.number for c in clauses] == ["9.1", "9.2"]
    assert clauses[0].heading == "9 TERM & TERMINATION > 9.1"
    assert clauses[1].text.endswith("under 9.1 The notice must be written.")


def test_numbers_torn_from_their_text_are_not_clauses():
    text = "3.1\n\n3.2\n\n(a) (b) (c)\n\n3.3 Duties. The Reseller shall market the Products."
    assert [c.text for c in segment(doc(text))] == ["3.3 Duties. The Reseller shall market the Products."]


def test_unnumbered_capital_heading_closes_the_list_before_it_and_heads_its_paragraphs():
    text = ("SERVICES\n\nProvider will provide:\n\n1. hosting of the site;\n\n2. a monthly report.\n\n"
            "LIMITATION OF LIABILITY\n\nProvider's liability shall be limited to one month's fees.\n\n"
            "Neither party is liable for lost profits.\n\nINDEMNIFICATION\n\nCustomer shall indemnify Provider.")
    clauses = segment(doc(text))
    two = next(c for c in clauses if c.number == "2")
    assert two.text == "2. a monthly report."  # the heading after the list is not swallowed by item 2
    cap, profits, indemnity = clauses[-3:]
    assert cap.text == "LIMITATION OF LIABILITY\n\nProvider's liability shall be limited to one month's fees."
    assert (cap.number, cap.heading) == (None, "LIMITATION OF LIABILITY")
    assert (profits.number, profits.heading) == (None, "LIMITATION OF LIABILITY")
    assert (indemnity.heading, indemnity.text) == \
        ("INDEMNIFICATION", "INDEMNIFICATION\n\nCustomer shall indemnify Provider.")


@pytest.mark.parametrize("line", [
    "IN NO EVENT SHALL EITHER PARTY BE LIABLE.",  # shouted sentence: has a verb
    "CONFIDENTIAL TREATMENT REQUESTED",           # front matter
    "HERC RENTALS INC.",                          # a party's name
    "IF TO LICENSOR:",                            # a label in a notice block
    "-2- 3 8. LIABILITY",                         # a number glued to a page number
    "[GRAPHIC OMITTED]",
    "AND",
])
def test_lines_in_capitals_that_are_not_section_headings(line):
    text = f"4. Notices. Notices go to the addresses below.\n\n{line}\n\nThe rest of clause four."
    clauses = segment(doc(text))
    assert [c.number for c in clauses] == ["4"] and clauses[0].text == text


def test_heading_repeated_on_every_page_is_a_running_header_not_a_section():
    text = ("ACME CONFIDENTIAL MATERIALS\n\n1. Term. One year.\n\n2. Fees. Monthly.\n\n"
            "ACME CONFIDENTIAL MATERIALS\n\n3. Liability. Capped at the fees.")
    assert all(c.heading in ("1 Term", "2 Fees", "3 Liability") or c.number is None and c.heading == ""
               for c in segment(doc(text)))


def test_capital_heading_inside_a_sentence_is_not_a_section():
    text = "7. Liability. In no event shall the\n\nSUPPLIER\n\nbe liable for more than the fees."
    assert [c.number for c in segment(doc(text))] == ["7"]


def test_article_title_on_its_own_line_is_not_also_a_section():
    clauses = segment(doc("ARTICLE IV\n\nINDEMNIFICATION\n\n4.1 Supplier shall indemnify Customer."))
    assert [(c.number, c.heading) for c in clauses] == [("4.1", "ARTICLE IV INDEMNIFICATION > 4.1")]


def test_contract_title_is_not_a_section():
    clauses = segment(doc("WEB SITE HOSTING AGREEMENT\n\nThis Agreement is made today.\n\n1. Term. One year."))
    assert clauses[0].heading == "" and clauses[1].heading == ""
