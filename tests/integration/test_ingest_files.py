"""Every file of the ingestion corpus (tests/fixtures/make_bad_files.py), good and bad, and the CLI."""
from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from app.cli import cli
from app.ingest import IngestError, ingest_bytes, ingest_path, read_document
from tests.fixtures.make_bad_files import HEADER, make_corpus

MB = 1024 * 1024


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return make_corpus(tmp_path_factory.mktemp("ingest-corpus"))


BAD = {
    "empty.pdf": "the file is empty",
    "truncated.pdf": "damaged or incomplete",
    "corrupt.pdf": "damaged or incomplete",
    "encrypted.pdf": "password-protected",
    "scanned.pdf": "scanned PDF: no text layer",
    "partly_scanned.pdf": "partly scanned PDF: 2 of 3 pages have no text layer",
    "bomb.docx": "zip bomb",
    "zip_not_docx.docx": "ZIP archive but not a Word document",
    "garbage.bin": "not a contract document",
    "png_named.pdf": "PNG image",
    "legacy.doc": "old Word .doc",
}


@pytest.mark.parametrize("name,message", sorted(BAD.items()))
def test_bad_file_raises_an_ingest_error_a_lawyer_can_act_on(corpus, name, message):
    with pytest.raises(IngestError) as err:
        ingest_path(corpus[name])
    text = str(err.value)
    assert text.startswith(f"{name}: ")
    assert message in text
    assert "\n" not in text and "Traceback" not in text


def test_file_over_the_size_limit_is_refused(corpus):
    data = corpus["oversize.txt"].read_bytes()
    with pytest.raises(IngestError, match=r"oversize.txt: the file is 1.0 MB, over the 1 MB limit"):
        read_document(data, "oversize.txt", max_bytes=MB)
    assert read_document(data, "oversize.txt", max_bytes=2 * MB).format == "txt"


def test_size_limit_default_comes_from_settings(corpus, monkeypatch):
    from app.config import get_settings

    monkeypatch.setenv("LEXDORA_MAX_UPLOAD_MB", "0.5")
    get_settings.cache_clear()
    try:
        with pytest.raises(IngestError, match=r"over the 0.5 MB limit; split it or raise LEXDORA_MAX_UPLOAD_MB"):
            ingest_path(corpus["oversize.txt"])
    finally:
        get_settings.cache_clear()


def test_docx_inflate_cap_comes_from_settings(corpus, monkeypatch):
    from app.config import get_settings

    monkeypatch.setenv("LEXDORA_MAX_DOCX_UNCOMPRESSED_MB", "0.01")
    get_settings.cache_clear()
    try:
        with pytest.raises(IngestError, match="zip bomb"):
            ingest_path(corpus["numbered.docx"])
    finally:
        get_settings.cache_clear()


def test_pdf_pages_headers_footers_and_hyphenation(corpus):
    document, clauses = ingest_path(corpus["good.pdf"])
    assert document.format == "pdf" and document.page_count == 3
    assert HEADER not in document.text and "Page 2 of 3" not in document.text
    assert "this limitation shall apply" in document.text
    by_number = {c.number: c for c in clauses}
    assert by_number["9.2"].pages == (2, 3)  # runs over the page break
    assert by_number["9.2"].heading == "9 LIMITATION OF LIABILITY > 9.2 Cap"
    assert by_number["9.1"].page == 2 and by_number["10"].page == 3
    assert document.text[document.page_starts[1]:].startswith("9. LIMITATION OF LIABILITY.")
    assert by_number["9.3"].text.endswith("(b) gross negligence or wilful misconduct.")


def test_wrong_extension_pdf_named_docx_is_read_as_pdf(corpus):
    document, clauses = ingest_path(corpus["pdf_named.docx"])
    assert document.format == "pdf" and any(c.number == "9.2" for c in clauses)


def test_docx_automatic_numbering_is_rendered_into_the_text(corpus):
    document, clauses = ingest_path(corpus["numbered.docx"])
    assert document.format == "docx"
    assert "12. LIMITATION OF LIABILITY" in document.text
    assert "12.2 Each party's total liability" in document.text
    assert "(a) breach of confidentiality; or" in document.text
    assert "13.1 Delta shall indemnify" in document.text
    assert "Hosting USD 5,000" in document.text  # table rows kept as text
    numbers = [c.number for c in clauses]
    assert numbers[-4:] == ["12.1", "12.2", "12.3", "13.1"]
    assert clauses[-2].heading == "12 LIMITATION OF LIABILITY > 12.3"
    assert clauses[-2].text.endswith("(b) a party's indemnity obligations.")


@pytest.mark.parametrize("name", ["utf8.txt", "utf16.txt", "cp1252.txt"])
def test_text_encodings(corpus, name):
    document, clauses = ingest_path(corpus[name])
    assert document.format == "txt"
    assert "\u2014 see \u00a7 2." in document.text  # em dash and section sign survive every encoding
    assert [c.number for c in clauses] == [None, "1", "2"]
    if name != "cp1252.txt":
        assert "\u20ac100,000" in document.text


def test_edgar_html_exhibit(corpus):
    document, clauses = ingest_path(corpus["edgar.htm"])
    assert document.format == "html"
    assert "EX-10.1" not in document.text and "tracking" not in document.text
    assert "8.1 Licensor\u2019s total liability shall not exceed" in document.text
    by_number = {c.number: c for c in clauses}
    assert by_number["8.1"].heading == "8 Limitation of Liability > 8.1"
    assert by_number["8.2"].text == "8.2 Neither party shall be liable for lost profits or consequential damages."
    assert by_number["9"].text == "9. Term. This Agreement continues for three years."


def test_sha256_identifies_the_bytes(corpus):
    import hashlib

    data = corpus["good.pdf"].read_bytes()
    document, _ = ingest_bytes(data, "good.pdf")
    assert document.sha256 == hashlib.sha256(data).hexdigest()


def test_missing_file_is_an_ingest_error(tmp_path):
    with pytest.raises(IngestError, match="file not found"):
        ingest_path(tmp_path / "nope.pdf")


# --- CLI -----------------------------------------------------------------------------------------

def test_cli_jsonl_has_one_object_per_clause_and_bad_files_do_not_stop_the_batch(corpus):
    files = [corpus["good.pdf"], corpus["encrypted.pdf"], corpus["numbered.docx"], corpus["garbage.bin"]]
    result = CliRunner().invoke(cli, ["ingest", *map(str, files), "--format", "jsonl"])
    assert result.exit_code == 1
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert {r["contract"] for r in rows} == {"good.pdf", "numbered.docx"}
    assert set(rows[0]) == {"contract", "index", "number", "heading", "text", "start", "end", "page"}
    cap = next(r for r in rows if r["number"] == "9.2")
    assert cap["page"] == 2 and cap["heading"] == "9 LIMITATION OF LIABILITY > 9.2 Cap"
    assert all(r["page"] is None for r in rows if r["contract"] == "numbered.docx")  # Word gives no pages
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert errors == [
        "error: encrypted.pdf: " + BAD_MESSAGES["encrypted.pdf"],
        "error: garbage.bin: " + BAD_MESSAGES["garbage.bin"],
    ]
    assert "Traceback" not in result.output


BAD_MESSAGES = {
    "encrypted.pdf": "this PDF is password-protected; remove the password (print to PDF or ask the sender "
                     "for an unprotected copy) and upload it again",
    "garbage.bin": "this file is not a contract document (it looks like binary data); upload a PDF, "
                   "Word (.docx), text or HTML file",
}


def test_cli_exit_code_zero_when_every_file_reads(corpus):
    result = CliRunner().invoke(cli, ["ingest", str(corpus["utf8.txt"])])
    assert result.exit_code == 0
    # a text file without form feeds has no pages: no made-up "p.1"
    assert "utf8.txt\t-\t2\t2. Liability." in result.stdout
    assert "utf8.txt: 3 clauses, no page breaks, TXT" in result.stderr


def test_cli_help_shows_an_example():
    result = CliRunner().invoke(cli, ["ingest", "--help"])
    assert result.exit_code == 0
    assert "Example: python -m app ingest" in result.stdout


def test_docx_numbering_inherited_from_a_list_style():
    import io

    import docx

    document = docx.Document()
    document.add_paragraph("Obligations of the Supplier")
    for text in ("The Supplier shall deliver on time.", "The Supplier shall keep records."):
        document.add_paragraph(text, style="List Number")  # numbering set on the style, not the paragraph
    buf = io.BytesIO()
    document.save(buf)
    _, clauses = ingest_bytes(buf.getvalue(), "styled.docx")
    assert [(c.number, c.text) for c in clauses][-2:] == [
        ("1", "1. The Supplier shall deliver on time."), ("2", "2. The Supplier shall keep records.")]


# --- pages ---------------------------------------------------------------------------------------

def test_text_pages_come_from_form_feeds_or_not_at_all(cuad_dir):
    path = cuad_dir / "contracts_txt" / "CENTRACKINTERNATIONALINC_10_29_1999-EX-10.3-WEB SITE HOSTING AGREEMENT.txt"
    document, clauses = ingest_path(path)
    assert document.page_starts == () and document.page_count == 0
    assert all(c.page is None and c.pages == () for c in clauses)

    # The same contract as EDGAR paginates it: a form feed before each "TERM AND TERMINATION" and
    # "INDEMNIFICATION" heading, and one closing the file (which opens no page).
    data = path.read_bytes().replace(b"TERM AND TERMINATION", b"\fTERM AND TERMINATION")
    data = data.replace(b"INDEMNIFICATION\r\n", b"\fINDEMNIFICATION\r\n").replace(
        b"INDEMNIFICATION\n", b"\fINDEMNIFICATION\n") + b"\f"
    assert data.count(b"\f") == 3
    paged, paged_clauses = ingest_bytes(data, "centrack-paged.txt")
    assert paged.text == document.text  # a form feed changes the pages, not the text
    assert paged.page_count == 3
    page = {c.heading: c.page for c in paged_clauses if c.number is None}
    assert (page["DEFINITIONS"], page["TERM AND TERMINATION"], page["LIMITATION OF LIABILITY"],
            page["INDEMNIFICATION"], page["MISCELLANEOUS"]) == (1, 2, 2, 3, 3)
    assert paged.text[paged.page_starts[1]:].startswith("TERM AND TERMINATION")


# --- not a contract ------------------------------------------------------------------------------

SHOPPING_LIST = "Shopping list\n\nMilk, 2 litres\nEggs (a dozen)\nBread\nCoffee – the good one\n".encode()


def test_a_shopping_list_is_read_with_a_warning_and_a_contract_without_one(cuad_dir, tmp_path):
    from app.ingest import contract_warnings

    document, clauses = ingest_bytes(SHOPPING_LIST, "list.txt")
    assert clauses  # accepted: it reads
    [warning] = contract_warnings(document, clauses)
    assert warning.startswith("list.txt: this does not look like a contract (12 words, no numbered clauses")
    numbered, numbered_clauses = ingest_bytes(b"1. Milk\n\n2. Eggs\n\n3. Bread\n", "numbered-list.txt")
    assert contract_warnings(numbered, numbered_clauses)  # numbers alone do not make a contract
    # The shortest CUAD contracts, unnumbered joint filing agreements, pass on their wording.
    for name in ("NELNETINC_04_08_2020-EX-1-JOINT FILING AGREEMENT",
                 "CENTRACKINTERNATIONALINC_10_29_1999-EX-10.3-WEB SITE HOSTING AGREEMENT"):
        assert contract_warnings(*ingest_path(cuad_dir / "contracts_txt" / f"{name}.txt")) == []

    path = tmp_path / "list.txt"
    path.write_bytes(SHOPPING_LIST)
    result = CliRunner().invoke(cli, ["ingest", str(path), str(cuad_dir / "contracts_txt" / f"{name}.txt")])
    assert result.exit_code == 0
    assert [line for line in result.stderr.splitlines() if line.startswith("warning:")] == [f"warning: {warning}"]
    assert "list.txt\t-\t-\tMilk, 2 litres\n" in result.stdout  # printed all the same
