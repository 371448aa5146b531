"""A PDF page rendered as an image, with clauses drawn over it in their bucket colours.

The stored text of a PDF is derived from PDFium's text layer with running headers, footers and lone page
numbers removed and hyphenation repaired (app.ingest.readers.read_pdf), so its character offsets do not
point into the page. The clause is found on the page instead: both texts are reduced to their letters and
digits (what layout repair never changes) and matched with difflib; the page characters of the matched
blocks give PDFium's text rectangles, which are drawn. Only the page shown is opened and rendered.
"""
from __future__ import annotations

import difflib
import io
from collections.abc import Sequence
from dataclasses import dataclass

# PDFium is not thread-safe and Streamlit serves sessions on threads: one lock with ingestion.
from app.ingest.readers import _PDFIUM_LOCK as PDFIUM_LOCK

RENDER_SCALE = 1.5          # 108 dpi: letters readable, a page about 900 px wide
MIN_BLOCK = 12              # shorter common runs of letters ("thisagreement") are chance, not the clause
MIN_COVERAGE = 0.5          # share of the clause's letters that must be found for a clause that starts here


@dataclass(frozen=True)
class PageClause:
    """A clause that touches the page: its id, its text and the colour to draw it in."""
    clause_id: int
    text: str
    colour: str              # "#rrggbb"
    starts_here: bool = True  # False when it began on an earlier page (only its tail is on this one)


@dataclass(frozen=True)
class RenderedPage:
    png: bytes
    width: int
    height: int
    page_count: int
    boxes: dict[int, list[tuple[float, float, float, float]]]   # clause id -> (x0, y0, x1, y1) in image pixels


def _letters(text: str) -> tuple[str, list[int]]:
    """The lower-cased letters and digits of `text`, with the index in `text` of each one."""
    kept = [(i, ch.lower()) for i, ch in enumerate(text) if ch.isalnum()]
    return "".join(ch for _, ch in kept), [i for i, _ in kept]


def match_on_page(page_text: str, clause_text: str, *, starts_here: bool = True) -> list[tuple[int, int]]:
    """Character ranges of `page_text` (end exclusive) holding `clause_text`, or [] when it is not there."""
    page, page_index = _letters(page_text)
    clause, _ = _letters(clause_text)
    if not page or not clause:
        return []
    if len(clause) < MIN_BLOCK:  # a heading or a number: only an exact run of its letters will do
        at = page.find(clause)
        return [] if at < 0 else [(page_index[at], page_index[at + len(clause) - 1] + 1)]
    matcher = difflib.SequenceMatcher(None, page, clause, autojunk=False)
    blocks = [b for b in matcher.get_matching_blocks() if b.size >= MIN_BLOCK]
    if not blocks:
        return []
    found = sum(b.size for b in blocks)
    if found < min(len(clause), 2 * MIN_BLOCK):
        return []
    # A clause that starts on this page begins here and fills most of the page from there (the rest may run
    # onto the next page); one that began on an earlier page shows only its tail.
    if starts_here and (blocks[0].b > 2 * MIN_BLOCK
                        or found < MIN_COVERAGE * min(len(clause), len(page) - blocks[0].a)):
        return []
    ranges: list[tuple[int, int]] = []
    for b in blocks:
        start, end = page_index[b.a], page_index[b.a + b.size - 1] + 1
        if ranges and start - ranges[-1][1] <= 40:  # spaces and punctuation between runs belong to the clause
            ranges[-1] = (ranges[-1][0], end)
        else:
            ranges.append((start, end))
    return ranges


def page_count(data: bytes) -> int:
    import pypdfium2 as pdfium

    with PDFIUM_LOCK:
        pdf = pdfium.PdfDocument(data)
        try:
            return len(pdf)
        finally:
            pdf.close()


def render_page(data: bytes, page_number: int, clauses: Sequence[PageClause], *, selected: int | None = None,
                scale: float = RENDER_SCALE) -> RenderedPage:
    """Page `page_number` (1-based) of the PDF as a PNG, each clause found on it filled in its colour;
    the selected clause also gets an outline."""
    import pypdfium2 as pdfium
    from PIL import Image, ImageDraw

    with PDFIUM_LOCK:
        pdf = pdfium.PdfDocument(data)
        try:
            n_pages = len(pdf)
            page = pdf[min(max(page_number, 1), n_pages) - 1]
            try:
                height_pt = page.get_height()
                textpage = page.get_textpage()
                try:
                    n_chars = textpage.count_chars()
                    text = textpage.get_text_range(0, n_chars) if n_chars else ""
                    boxes = {}
                    for clause in clauses:
                        rects = []
                        for start, end in match_on_page(text, clause.text, starts_here=clause.starts_here):
                            rects += _rects(textpage, start, end, n_chars)
                        if rects:
                            boxes[clause.clause_id] = [(x0 * scale, (height_pt - y1) * scale, x1 * scale,
                                                        (height_pt - y0) * scale) for x0, y0, x1, y1 in rects]
                finally:
                    textpage.close()
                image = page.render(scale=scale).to_pil().convert("RGBA")
            finally:
                page.close()
        finally:
            pdf.close()

    overlay = Image.new("RGBA", image.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    colours = {c.clause_id: c.colour for c in clauses}
    for clause_id, rects in boxes.items():
        r, g, b = (int(colours[clause_id][i:i + 2], 16) for i in (1, 3, 5))
        for x0, y0, x1, y1 in rects:
            draw.rectangle((x0 - 1, y0 - 1, x1 + 1, y1 + 1), fill=(r, g, b, 90))
        if clause_id == selected:
            draw.rectangle(_outline(rects), outline=(r, g, b, 255), width=3)
    out = io.BytesIO()
    Image.alpha_composite(image, overlay).convert("RGB").save(out, format="PNG", optimize=False)
    return RenderedPage(out.getvalue(), image.width, image.height, n_pages, boxes)


def _rects(textpage, start: int, end: int, n_chars: int) -> list[tuple[float, float, float, float]]:
    """PDFium's rectangles (left, bottom, right, top in points) of characters start..end, one per line run."""
    # get_text_range gives one character per index for text in the Basic Multilingual Plane; stay in range.
    start, end = min(start, n_chars), min(end, n_chars)
    if end <= start:
        return []
    count = textpage.count_rects(start, end - start)
    return [textpage.get_rect(i) for i in range(count)]


def _outline(rects) -> tuple[float, float, float, float]:
    return (min(r[0] for r in rects) - 4, min(r[1] for r in rects) - 4,
            max(r[2] for r in rects) + 4, max(r[3] for r in rects) + 4)
