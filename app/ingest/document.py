"""The ingestion room's data: what a contract becomes (Document) and what it is cut into (Clause)."""
from __future__ import annotations

import bisect
from dataclasses import dataclass


class IngestError(Exception):
    """A file lexdora cannot read; the message says what is wrong and what to do, fit to show as-is."""


@dataclass(frozen=True)
class Document:
    """A contract's plain text, with the character offset where each page starts.

    `page_starts` has one entry per page for PDFs and a single 0 for formats without pages.
    """

    name: str
    format: str  # 'pdf' | 'docx' | 'txt' | 'html'
    text: str
    page_starts: tuple[int, ...]
    sha256: str

    @property
    def page_count(self) -> int:
        return len(self.page_starts)

    def page_of(self, offset: int) -> int:
        """1-based page number of the character at `offset`."""
        return max(1, bisect.bisect_right(self.page_starts, offset))


@dataclass(frozen=True)
class Clause:
    """One clause of a Document.

    `text` is exactly `document.text[start:end]`; `heading` is the heading path joined with " > "
    (e.g. "12. LIMITATION OF LIABILITY > 12.3"); `number` is the clause's own number ("12.3", "(b)"),
    None for unnumbered paragraphs; `page` is where the clause starts, `pages` every page it touches.
    """

    index: int
    number: str | None
    heading: str
    text: str
    start: int
    end: int
    page: int
    pages: tuple[int, ...]
