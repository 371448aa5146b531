"""Bytes -> Document, one reader per format; the format comes from the bytes, never the file name.

Every way a file can be unreadable ends in IngestError with a message a lawyer can act on.
PDF text comes from pypdfium2 (Apache-2.0/BSD): on the 40 CUAD PDFs it extracts about 8x faster
than pypdf (bench/ingest_speed.py prints both); PyMuPDF is AGPL and so out.
"""
from __future__ import annotations

import hashlib
import io
import re
import threading
import unicodedata
import zipfile
import zlib

from app.ingest.document import Document, IngestError
from app.ingest.layout import (NUMBERED_LINE, PAGE_NUMBER, SENTENCE_END, is_heading, join_lines,
                                looks_hard_wrapped, reflow, strip_running_lines)

MB = 1024 * 1024
PARAGRAPH_BREAK = "\n\n"

_MAGIC_REFUSALS = [
    (b"\x89PNG", "this is a PNG image, not a contract document"),
    (b"\xff\xd8\xff", "this is a JPEG image, not a contract document"),
    (b"GIF8", "this is a GIF image, not a contract document"),
    (b"II*\x00", "this is a TIFF image, not a contract document"),
    (b"MM\x00*", "this is a TIFF image, not a contract document"),
    (b"\xd0\xcf\x11\xe0", "this is an old Word .doc (or other Office 97) file; open it in Word and save it as .docx or PDF"),
    (b"{\\rtf", "this is an RTF file; open it in Word and save it as .docx or PDF"),
    (b"Rar!", "this is a RAR archive; extract the contract and upload it on its own"),
    (b"\x1f\x8b", "this is a gzip archive; extract the contract and upload it on its own"),
    (b"7z\xbc\xaf", "this is a 7-Zip archive; extract the contract and upload it on its own"),
]
_IMAGE_HINT = "; scan it to a searchable PDF (with OCR) or upload the original PDF, Word or text file"
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")
_HTML_START = re.compile(rb"<(?:!doctype\s+html|html|body|head|div|p|table|font|document|type>)", re.IGNORECASE)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def detect_format(data: bytes) -> str:
    """'pdf', 'docx', 'html' or 'txt' from the file's bytes; IngestError for anything else."""
    head = data[:2048]
    if b"%PDF-" in data[:1024]:
        return "pdf"
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return "docx"
    for magic, why in _MAGIC_REFUSALS:
        if head.startswith(magic):
            raise IngestError(why + (_IMAGE_HINT if "image" in why else ""))
    probe = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if probe.startswith(b"<") and _HTML_START.search(head):
        return "html"
    if head[:2] in (b"\xff\xfe", b"\xfe\xff"):
        text = head.decode("utf-16", errors="ignore").lstrip().lower()
        return "html" if text.startswith(("<!doctype html", "<html")) else "txt"
    codec = utf16_without_bom(head)
    if codec:
        text = head[: len(head) // 2 * 2].decode(codec, errors="ignore").lstrip("\ufeff \t\r\n").lower()
        return "html" if text.startswith(("<!doctype html", "<html")) else "txt"
    return "txt"


def utf16_without_bom(data: bytes) -> str | None:
    """'utf-16-le' or 'utf-16-be' when `data` looks like UTF-16 text saved without a byte-order mark.

    Text in a Latin script has a zero high byte in most of its UTF-16 code units: zeros at odd offsets
    (little-endian) or even ones (big-endian), and almost none at the others. UTF-8 text has no zeros.
    """
    sample = data[:8192]
    if len(sample) < 8:
        return None
    even, odd = sample[0::2], sample[1::2]
    zero_even, zero_odd = even.count(0) / len(even), odd.count(0) / len(odd)
    if zero_odd >= 0.4 and zero_even <= 0.02:
        return "utf-16-le"
    if zero_even >= 0.4 and zero_odd <= 0.02:
        return "utf-16-be"
    return None


def max_upload_bytes() -> int:
    """The LEXDORA_MAX_UPLOAD_MB setting in bytes."""
    from app.config import get_settings
    return int(get_settings().max_upload_mb * MB)


def too_big(name: str, size: int, max_bytes: int) -> IngestError:
    return IngestError(f"{name}: the file is {size / MB:.1f} MB, over the {max_bytes / MB:g} MB limit; "
                       "split it or raise LEXDORA_MAX_UPLOAD_MB")


def read_document(data: bytes, name: str, *, max_bytes: int | None = None) -> Document:
    """Read a contract from its bytes. `max_bytes` defaults to the LEXDORA_MAX_UPLOAD_MB setting."""
    if max_bytes is None:
        max_bytes = max_upload_bytes()
    if not data:
        raise IngestError(f"{name}: the file is empty (0 bytes); upload the contract again")
    if len(data) > max_bytes:
        raise too_big(name, len(data), max_bytes)
    try:
        fmt = detect_format(data)
        reader = {"pdf": read_pdf, "docx": read_docx, "html": read_html, "txt": read_txt}[fmt]
        text, page_starts = reader(data)
    except IngestError as e:
        raise IngestError(f"{name}: {e}") from None
    if not text.strip():
        raise IngestError(f"{name}: no text found in this {fmt.upper()} file; check it is the right file")
    return Document(name=name, format=fmt, text=text, page_starts=page_starts, sha256=_sha256(data))


# --- PDF ---------------------------------------------------------------------------------------

# PDFium is not thread-safe (pypdfium2 docs); Streamlit serves each browser session from its own thread.
_PDFIUM_LOCK = threading.Lock()


def pdf_page_lines(data: bytes) -> list[list[str]]:
    """Raw text lines of each page, straight from PDFium."""
    with _PDFIUM_LOCK:
        return _pdf_page_lines(data)


def _pdf_page_lines(data: bytes) -> list[list[str]]:
    import pypdfium2 as pdfium
    import pypdfium2.raw as pdfium_c

    try:
        pdf = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as e:
        code = getattr(e, "err_code", None)
        if code == pdfium_c.FPDF_ERR_PASSWORD:
            raise IngestError("this PDF is password-protected; remove the password (print to PDF or "
                              "ask the sender for an unprotected copy) and upload it again") from None
        if code == pdfium_c.FPDF_ERR_SECURITY:
            raise IngestError("this PDF uses an encryption scheme that cannot be opened; "
                              "save an unprotected copy and upload it again") from None
        raise IngestError("this PDF is damaged or incomplete and cannot be opened; "
                          "download or export it again and re-upload") from None
    try:
        if len(pdf) == 0:
            raise IngestError("this PDF has no pages; export it again and re-upload")
        pages = []
        for page in pdf:
            try:
                textpage = page.get_textpage()
                raw = textpage.get_text_range()
                textpage.close()
            except pdfium.PdfiumError:
                raise IngestError(f"page {len(pages) + 1} of this PDF is damaged and cannot be read; "
                                  "export the PDF again and re-upload") from None
            finally:
                page.close()
            # PDFium marks a hyphen at a line end with U+FFFE and drops the line break; put it back so
            # a footer glued to the page's last word is seen as its own line.
            raw = raw.replace("\ufffe", "\ufffe\n")
            pages.append(raw.replace("\r\n", "\n").replace("\r", "\n").split("\n"))
        return pages
    finally:
        pdf.close()


def read_pdf(data: bytes) -> tuple[str, tuple[int, ...]]:
    pages = pdf_page_lines(data)
    if not any(line.strip() for lines in pages for line in lines):
        raise IngestError("scanned PDF: no text layer — this PDF holds only images of pages; run it "
                          "through OCR (e.g. Adobe Acrobat 'Recognize Text' or ocrmypdf) and upload the "
                          "searchable PDF")
    blank = [n for n, lines in enumerate(pages, start=1) if not any(line.strip() for line in lines)]
    # A blank page or two (separator, scanned signature page) is normal; mostly-images means lost text.
    if len(blank) >= 2 and len(blank) > len(pages) / 2:
        raise IngestError(f"partly scanned PDF: {len(blank)} of {len(pages)} pages have no text layer; run it "
                          "through OCR (e.g. Adobe Acrobat 'Recognize Text' or ocrmypdf) and upload the "
                          "searchable PDF")
    pages = strip_running_lines(pages)
    widths = sorted(len(x.strip()) for lines in pages for x in lines if x.strip())
    full_width = widths[int(len(widths) * 0.9)] if widths else 0
    paragraphs = []
    for lines in pages:
        # EDGAR-converted PDFs carry the filing's own page numbers mid-page ("9 10"): drop lone numbers.
        lines = [x for x in lines if not PAGE_NUMBER.match(x.strip()) or not x.strip()]
        paragraphs.append([_clean(p) for p in reflow(lines, full_width)])
    return _paged_text(paragraphs)


def _paged_text(pages: list[list[str]]) -> tuple[str, tuple[int, ...]]:
    """Clean paragraphs page by page -> the text and the offset where each page starts."""
    parts: list[str] = []
    page_starts: list[int] = []
    length = 0
    for paragraphs in pages:
        # A paragraph cut by the page break continues on the next page: join it, not a new one.
        if parts and paragraphs and _continues(parts[-1], paragraphs[0]):
            joined, sep = join_lines(parts[-1], paragraphs[0])
            length += len(joined) - len(parts[-1])
            parts[-1] = joined
            page_starts.append(length + len(sep))
            parts[-1] += sep + paragraphs[0]
            length += len(sep) + len(paragraphs[0])
            paragraphs = paragraphs[1:]
        else:
            page_starts.append(length + (len(PARAGRAPH_BREAK) if parts else 0))
        for p in paragraphs:
            if parts:
                length += len(PARAGRAPH_BREAK)
            parts.append(p)
            length += len(p)
    text = PARAGRAPH_BREAK.join(parts)
    assert len(text) == length
    return text, tuple(min(s, len(text)) for s in page_starts)


def _continues(previous: str, first: str) -> bool:
    """Does the first paragraph of a page carry on the last one of the page before?"""
    return not (SENTENCE_END.search(previous) or NUMBERED_LINE.match(first) or is_heading(first)
                or is_heading(previous))


def _clean(paragraph: str) -> str:
    return re.sub(r"[ \t\u00a0]+", " ", _CONTROL.sub("", paragraph)).strip()


def _paragraphs(paragraphs) -> list[str]:
    """Clean paragraphs; empty ones and lone page numbers ("7", "- 7 -", "Page 7") left out."""
    return [p for p in (_clean(x) for x in paragraphs) if p and not PAGE_NUMBER.match(p)]


def _join_paragraphs(paragraphs) -> str:
    """Clean paragraphs joined by blank lines."""
    return PARAGRAPH_BREAK.join(_paragraphs(paragraphs))


# --- DOCX --------------------------------------------------------------------------------------

# A DOCX has tens of parts; a central directory of millions of entries costs ~0.5 KB of memory each.
MAX_DOCX_PARTS = 10_000
_CHUNK = 256 * 1024
_DAMAGED_DOCX = "this Word file is damaged or incomplete and cannot be opened; save it again from Word and re-upload"


def _zip_bomb(mb: float, cap: int) -> IngestError:
    return IngestError(f"this Word file would expand to {mb:,.0f} MB, over the {cap / MB:,.0f} MB safety limit "
                       "(it may be a zip bomb); open it in Word, save a clean copy and re-upload")


def docx_parts(data: bytes, cap: int) -> dict[str, bytes]:
    """Every part of a DOCX inflated, streamed with a hard cap of `cap` bytes on what is inflated.

    Declared sizes are checked first (cheap refusal of an honest bomb) but not trusted: each part is
    inflated chunk by chunk and the bytes actually produced are counted, so a file whose headers
    understate its sizes is refused after at most `cap` bytes, never holding more than one chunk of
    excess. (zipfile's own read() of a whole part inflates up to 1 GB in one call before cutting it to
    the declared size.) A part whose CRC does not match is damage, reported as such.
    """
    try:
        # The entry count from the end record, before ZipFile() parses (and holds) the whole directory.
        end_record = zipfile._EndRecData(io.BytesIO(data))
        if end_record and end_record[zipfile._ECD_ENTRIES_TOTAL] > MAX_DOCX_PARTS:
            raise IngestError(f"this Word file has {end_record[zipfile._ECD_ENTRIES_TOTAL]:,} parts, "
                              f"over the {MAX_DOCX_PARTS:,} a document can have; open it in Word, save a "
                              "clean copy and re-upload")
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            infos = zf.infolist()
            if len(infos) > MAX_DOCX_PARTS:  # a ZIP64 end record can disagree with the one read above
                raise IngestError(f"this Word file has {len(infos):,} parts, over the {MAX_DOCX_PARTS:,} a "
                                  "document can have; open it in Word, save a clean copy and re-upload")
            if "word/document.xml" not in {info.filename for info in infos}:
                raise IngestError("this is a ZIP archive but not a Word document; upload the contract "
                                  "itself (.docx, PDF, text or HTML)")
            declared = sum(info.file_size for info in infos)
            if declared > cap:
                raise _zip_bomb(declared / MB, cap)
            parts: dict[str, bytes] = {}
            inflated = 0
            for info in infos:
                if info.is_dir():
                    continue
                chunks = []
                with zf.open(info) as member:
                    while chunk := member.read(_CHUNK):
                        inflated += len(chunk)
                        if inflated > cap:
                            raise _zip_bomb(inflated / MB, cap)
                        chunks.append(chunk)
                parts[info.filename] = b"".join(chunks)
            return parts
    except (zipfile.BadZipFile, zlib.error, EOFError, ValueError, OSError):
        raise IngestError(_DAMAGED_DOCX) from None
    except NotImplementedError:  # a compression method zipfile does not know: not from Word
        raise IngestError(_DAMAGED_DOCX) from None
    except RuntimeError:  # "File ... is encrypted": Word encrypts .docx as an OLE file, not a zip
        raise IngestError("this Word file is encrypted; save an unprotected copy and re-upload") from None


def _stored_zip(parts: dict[str, bytes]) -> bytes:
    """The parts in an uncompressed zip: python-docx reads it back with no inflation at all."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as zf:
        for name, blob in parts.items():
            zf.writestr(name, blob)
    return buf.getvalue()


def read_docx(data: bytes) -> tuple[str, tuple[int, ...]]:
    from app.config import get_settings
    from app.ingest.docx_numbering import docx_paragraphs

    cap = int(get_settings().max_docx_uncompressed_mb * MB)
    stored = _stored_zip(docx_parts(data, cap))
    try:
        paragraphs = docx_paragraphs(stored)
    except IngestError:
        raise
    except Exception:  # python-docx/lxml raise many types on malformed parts; all mean the same to a user
        raise IngestError("this Word file is damaged and cannot be read; open it in Word, save it "
                          "again and re-upload") from None
    return _join_paragraphs(paragraphs), ()


# --- TXT ---------------------------------------------------------------------------------------

def decode_text(data: bytes) -> str:
    """UTF-8/16/32 by BOM, else UTF-16 by its zero bytes, else UTF-8, else Windows-1252; IngestError for binary data."""
    for bom, codec in ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe\x00\x00", "utf-32"),
                       (b"\x00\x00\xfe\xff", "utf-32"), (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16")):
        if data.startswith(bom):
            try:
                text = data.decode(codec)
            except UnicodeDecodeError:
                raise IngestError(f"this text file says it is {codec.upper()} but is not; save it again "
                                  "as UTF-8 and re-upload") from None
            break
    else:
        codec = utf16_without_bom(data)
        try:
            text = data.decode(codec or "utf-8")
        except UnicodeDecodeError:
            if codec:
                raise IngestError("this text file looks like UTF-16 but is not valid UTF-16; save it again "
                                  "as UTF-8 and re-upload") from None
            # Windows-1252 leaves 5 bytes undefined; a real 1252 file never uses them.
            text = data.decode("cp1252", errors="replace")
    sample = text[:20000]
    bad = len(_CONTROL.findall(sample)) + sample.count("\ufffd")
    if bad > max(3, 0.01 * len(sample)):
        raise IngestError("this file is not a contract document (it looks like binary data); "
                          "upload a PDF, Word (.docx), text or HTML file")
    return text


def read_txt(data: bytes) -> tuple[str, tuple[int, ...]]:
    """Plain text; its pages are where form feeds break it (EDGAR filings have them), else it has none."""
    text = decode_text(data).replace("\r\n", "\n").replace("\r", "\n")
    pages = [page.split("\n") for page in text.split("\f")]
    while len(pages) > 1 and not any(line.strip() for line in pages[-1]):
        pages.pop()  # a form feed that ends the file opens no page
    lines = [line for page in pages for line in page]
    wrapped = looks_hard_wrapped(lines)
    if len(pages) == 1:
        return _join_paragraphs(reflow(lines) if wrapped else lines), ()
    widths = sorted(len(x.strip()) for x in lines if x.strip())
    full_width = widths[int(len(widths) * 0.9)] if widths else 0
    return _paged_text([_paragraphs(reflow(page, full_width) if wrapped else page) for page in pages])


# --- HTML --------------------------------------------------------------------------------------

_SGML_HEADER = re.compile(rb"<(?:TYPE|SEQUENCE|FILENAME|DESCRIPTION)>[^<\r\n]*", re.IGNORECASE)
_BREAK = "\ue000"  # a private-use character: marks block boundaries while whitespace is collapsed
_BLOCK_TAGS = ["p", "div", "br", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6", "table", "title",
               "blockquote", "pre", "center", "hr", "dt", "dd", "ul", "ol", "section", "article"]


# Text inside these is not the document's: scripts, styles, the head; ruby annotations (as BeautifulSoup's get_text).
_SKIPPED_TAGS = frozenset({"script", "style", "head", "noscript", "template", "rt", "rp"})
_PRE_TAGS = frozenset({"pre", "plaintext", "xmp"})
_BLOCK_TAG_SET = frozenset(_BLOCK_TAGS)


def read_html(data: bytes) -> tuple[str, tuple[int, ...]]:
    # EDGAR's SGML wrapper lines (<TYPE>EX-10.1, <FILENAME>...) are never closed: drop them before parsing.
    codec = None if data[:2] in (b"\xff\xfe", b"\xfe\xff") else utf16_without_bom(data)
    if codec:  # re-encoded with a byte-order mark, which outranks a <meta charset> in the detection
        try:
            data = b"\xef\xbb\xbf" + data.decode(codec).encode("utf-8")
        except UnicodeDecodeError:
            raise IngestError("this HTML file looks like UTF-16 but is not valid UTF-16; save it again "
                              "as UTF-8 and re-upload") from None
    data = _SGML_HEADER.sub(b"", data)
    text = re.sub(r"\s+", " ", unicodedata.normalize("NFKC", html_text(data)))
    lines = text.split(_BREAK)
    paragraphs = reflow(lines) if looks_hard_wrapped(lines) else lines
    return _join_paragraphs(paragraphs), ()


def html_text(data: bytes) -> str:
    """The HTML's text, with _BREAK around block elements, in one pass over the parser's events.

    Linear in the input: BeautifulSoup built a tree (~30 µs per element in Python) and the markers were
    inserted into it, which rescans the parent's children on each insertion (quadratic: 20,000
    paragraphs took 74 s). Here libxml2's events go straight into a list of strings, in event mode,
    which, unlike lxml's own tree, keeps text nested deeper than 256 elements. Encodings are tried
    in BeautifulSoup's order (byte-order mark, <meta charset>, UTF-8, Windows-1252), the parser set up
    as BeautifulSoup's "lxml" builder sets it up, so the text is the one BeautifulSoup's get_text gave.
    """
    from bs4.dammit import EncodingDetector
    from lxml import etree

    detector = EncodingDetector(data, is_html=True)
    for encoding in detector.encodings:
        parser = etree.HTMLParser(target=_HtmlTextTarget(), recover=True, encoding=encoding)
        try:
            parser.feed(detector.markup)
            return parser.close()
        except (UnicodeDecodeError, LookupError, etree.ParserError):
            continue
        except etree.XMLSyntaxError:  # no element at all (empty, only comments)
            return ""
    raise IngestError("this HTML file cannot be decoded; save it again as UTF-8 and re-upload")


class _HtmlTextTarget:
    """lxml parser target: collects text, skipping scripts, styles and the head; keeps line breaks
    inside <pre>; a block element starts and ends with _BREAK; a table cell ends with a space (EDGAR
    puts a clause number in one cell and its text in the next: they stay on one line).
    Comments, processing instructions and the doctype are not text (as in BeautifulSoup's get_text)."""

    def __init__(self):
        self.out: list[str] = []
        self.skipping = 0  # depth inside a skipped element
        self.in_pre = 0

    def start(self, tag, attrib):
        if self.skipping or tag in _SKIPPED_TAGS:
            self.skipping += 1
        elif tag in _BLOCK_TAG_SET:
            self.out.append(_BREAK)
        if tag in _PRE_TAGS:
            self.in_pre += 1

    def end(self, tag):
        if tag in _PRE_TAGS:
            self.in_pre -= 1
        if self.skipping:
            self.skipping -= 1
        elif tag in _BLOCK_TAG_SET:
            self.out.append(_BREAK)
        elif tag in ("td", "th"):
            self.out.append(" ")

    def data(self, text):
        if not self.skipping:
            self.out.append(text.replace("\n", _BREAK) if self.in_pre else text)

    def comment(self, text):
        pass

    def close(self) -> str:
        return "".join(self.out)
