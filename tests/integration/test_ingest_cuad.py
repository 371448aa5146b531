"""Real CUAD contracts: a PDF and its TXT twin give clauses that hold the lawyers' liability spans."""
from __future__ import annotations

from pathlib import Path

import pytest

from app.ingest import ingest_path
from bench.ingest_coverage import THRESHOLD, load_spans, span_shares

ROOT = Path(__file__).resolve().parents[2]
CORIO = "CORIOINC_07_20_2000-EX-10.5-LICENSE AND HOSTING AGREEMENT"


@pytest.mark.parametrize("route", ["pdf", "txt"])
def test_liability_spans_fall_inside_single_clauses(cuad_dir, route):
    spans = load_spans(cuad_dir)[CORIO]
    assert spans, "the Corio contract has CUAD liability spans"
    document, clauses = ingest_path(cuad_dir / f"contracts_{route}" / f"{CORIO}.{route}")
    shares = span_shares(document, clauses, spans)
    assert all(share is not None and share >= THRESHOLD for share in shares), shares


def test_sample_pdf_clause_pages_match_where_pdfium_prints_them():
    import pypdfium2 as pdfium

    path = ROOT / "samples" / "corio-license-and-hosting.pdf"
    document, clauses = ingest_path(path)
    assert document.format == "pdf" and document.page_count == 13
    pdf = pdfium.PdfDocument(str(path))
    pages = [pdf[i].get_textpage().get_text_range() for i in range(len(pdf))]
    checked = 0
    for clause in clauses:
        probe = " ".join(clause.text.split()[:6])
        found = [i + 1 for i, t in enumerate(pages) if probe in " ".join(t.split())]
        if len(found) == 1:  # the opening words sit on one line of one page
            assert clause.page == found[0], (clause.number, probe)
            checked += 1
    assert checked > len(clauses) // 2
    numbers = [c.number for c in clauses]
    assert "10.1" in numbers or "10" in numbers


def test_every_sample_contract_ingests():
    for path in sorted((ROOT / "samples").glob("*.*")):
        if path.suffix in {".pdf", ".txt"}:
            document, clauses = ingest_path(path)
            assert len(clauses) > 20, path.name
            for c in clauses:
                assert document.text[c.start:c.end] == c.text


CENTRACK = "CENTRACKINTERNATIONALINC_10_29_1999-EX-10.3-WEB SITE HOSTING AGREEMENT"


def test_centrack_capital_headings_start_clauses_and_the_cap_is_its_own_clause(cuad_dir):
    document, clauses = ingest_path(cuad_dir / "contracts_txt" / f"{CENTRACK}.txt")
    cap = [c for c in clauses if "one (1) month's fees" in c.text]
    assert len(cap) == 1
    assert cap[0].heading == "LIMITATION OF LIABILITY" and cap[0].number is None
    assert cap[0].text.startswith("LIMITATION OF LIABILITY\n\ni-on will not be liable")
    assert cap[0].text.endswith("the remaining portion of any prepaid fees.")
    # "DEFINITIONS" heads its three definitions and nothing after them
    assert [c.text.split('"')[1] for c in clauses if c.heading == "DEFINITIONS"] == \
        ["Web site", "Hosted Site", "Hosting Computer"]
    # the numbered list of services ends at the next heading instead of running to the end
    fourteen = [c for c in clauses if c.number == "14"]
    assert [c.text for c in fourteen] == ["14. a monthly report of user activity on the Hosted Site."]
    assert {c.heading for c in clauses if c.number is None} >= {
        "SERVICES PROVIDED TO THE CUSTOMER", "RESPONSIBILITIES OF THE CUSTOMER", "CONDITIONS OF SERVICE",
        "TERM AND TERMINATION", "INDEMNIFICATION", "THIRD-PARTY SOFTWARE", "MISCELLANEOUS"}
    spans = load_spans(cuad_dir)[CENTRACK]
    assert spans and all(s >= THRESHOLD for s in span_shares(document, clauses, spans))
