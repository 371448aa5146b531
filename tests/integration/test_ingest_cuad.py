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
