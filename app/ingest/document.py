"""The ingestion room's data: what a contract becomes (Document) and what it is cut into (Clause)."""
from __future__ import annotations

import bisect
from dataclasses import dataclass


class IngestError(Exception):
    """A file lexdora cannot read; the message says what is wrong and what to do, fit to show as-is."""


@dataclass(frozen=True)
class Document:
    """A contract's plain text, with the character offset where each page starts.

    `page_starts` has one entry per page: a PDF's pages, a text file's form feeds. It is empty when the
    file says nothing of pages (DOCX, HTML, text without form feeds): no page is better than a made-up one.
    """

    name: str
    format: str  # 'pdf' | 'docx' | 'txt' | 'html'
    text: str
    page_starts: tuple[int, ...]
    sha256: str

    @property
    def page_count(self) -> int:
        return len(self.page_starts)

    def page_of(self, offset: int) -> int | None:
        """1-based page number of the character at `offset`; None when the document has no pages."""
        if not self.page_starts:
            return None
        return max(1, bisect.bisect_right(self.page_starts, offset))


@dataclass(frozen=True)
class Clause:
    """One clause of a Document.

    `text` is exactly `document.text[start:end]`; `heading` is the heading path joined with " > "
    (e.g. "12. LIMITATION OF LIABILITY > 12.3"); `number` is the clause's own number ("12.3", "(b)"),
    None for unnumbered paragraphs; `page` is where the clause starts, `pages` every page it touches
    (None and () when the document has no pages).
    """

    index: int
    number: str | None
    heading: str
    text: str
    start: int
    end: int
    page: int | None
    pages: tuple[int, ...]
