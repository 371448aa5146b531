"""Paragraph repair of layout lines and running header/footer removal."""
from __future__ import annotations

from app.ingest.layout import looks_hard_wrapped, reflow, strip_running_lines
from app.ingest.readers import detect_format


def test_layout_line_breaks_are_joined_and_author_breaks_kept():
    lines = [
        "9.2 Cap. Each party's aggregate liability under this Agreement shall not",
        "exceed the fees paid in the twelve months before the claim, and this limi-",
        "tation applies to all claims, in contract or tort.",
        "Short closing sentence.",
        "9.3 Carve-outs. The cap does not apply to a non-",
        "exclusive licence granted to the Buyer by the Supplier under Section",
        "12.3 hereof.",
    ]
    paragraphs = reflow(lines)
    assert paragraphs == [
        "9.2 Cap. Each party's aggregate liability under this Agreement shall not exceed the fees paid in the "
        "twelve months before the claim, and this limitation applies to all claims, in contract or tort.",
        "Short closing sentence.",
        "9.3 Carve-outs. The cap does not apply to a non-exclusive licence granted to the Buyer by the Supplier under Section 12.3 hereof.",
    ]


def test_pdfium_soft_hyphen_marker_joins_like_a_hyphen():
    assert reflow(["the claim, and this limi\ufffe", "tation shall apply"]) == [
        "the claim, and this limitation shall apply"]
    assert reflow(["of the VRRM\ufffe", "MFP Shares"]) == ["of the VRRM-MFP Shares"]


def test_headings_stand_alone():
    assert reflow(["BACKGROUND", "Acme makes widgets and sells them to the public through its", "shops."]) == [
        "BACKGROUND", "Acme makes widgets and sells them to the public through its shops."]


def test_running_headers_footers_and_page_numbers_are_removed():
    bodies = ["Supply terms apply.", "Fees are due monthly.", "Liability is capped.", "New York law governs."]
    pages = [["ACME CONFIDENTIAL", body, f"Page {n} of 4"] for n, body in enumerate(bodies, start=1)]
    pages[2].insert(2, "- 3 -")
    assert strip_running_lines(pages) == [[body] for body in bodies]


def test_a_line_seen_on_one_page_only_is_kept():
    pages = [["Title of the Agreement", "Body."], ["Other text", "Body two."], ["More", "Body three."]]
    assert strip_running_lines(pages) == pages


def test_hard_wrapped_text_is_recognised():
    wrapped = [("word " * 14).strip()] * 30
    one_line_paragraphs = [("word " * 60).strip()] * 30
    assert looks_hard_wrapped(wrapped)
    assert not looks_hard_wrapped(one_line_paragraphs)


def test_format_comes_from_the_bytes():
    assert detect_format(b"%PDF-1.7\n...") == "pdf"
    assert detect_format(b"PK\x03\x04rest") == "docx"
    assert detect_format(b"<DOCUMENT>\n<TYPE>EX-10.1\n<HTML><BODY><P>x</P>") == "html"
    assert detect_format(b"\xef\xbb\xbf<!DOCTYPE html><html>") == "html"
    assert detect_format("<html><body>x".encode("utf-16")) == "html"
    assert detect_format(b"1. Term. This Agreement ...") == "txt"
