"""Turn layout lines (PDF pages, hard-wrapped text) back into paragraphs.

PDF text layers and old EDGAR text exhibits break lines where the page ran out, not where the
author ended a thought; downstream segmentation needs paragraphs. No maintained library does this
for plain line lists (pdfminer-based tools redo layout analysis from glyph positions instead of
using PDFium's fast text), so the rules are ours and kept small.
"""
from __future__ import annotations

import re
from collections import Counter

# A line that opens a numbered unit: "12.", "12.3", "(a)", "iv)", "Section 9.2", "ARTICLE IV", "A.".
NUMBERED_LINE = re.compile(
    r"""^(?:
        (?:ARTICLE|Article|SECTION|Section|§)\s*[\dIVXLC]+
      | \(\s*(?:[a-zA-Z]{1,2}|[ivxlcIVXLC]{1,6}|\d{1,3})\s*\)
      | (?:[a-zA-Z]|[ivxlcIVXLC]{1,6}|\d{1,3})\)
      | \d{1,3}(?:\.\d{1,3})+\.?(?=\s|$)
      | \d{1,3}\.(?=\s|$)
      | [A-Z]\.(?=\s)
      | [IVXLC]{1,6}\.(?=\s)
    )""",
    re.VERBOSE,
)
PAGE_NUMBER = re.compile(
    r"^[\s\-–—]*(?:page\s*)?(?:\d{1,4}|[ivxlc]{1,4})(?:\s*(?:of|/)\s*\d{1,4})?[\s\-–—]*$"
    r"|^(?:\d{1,4}\s+){1,2}\d{1,4}$",  # "2 3": a page's footer number glued to the next one's header
    re.IGNORECASE,
)
_DIGITS = re.compile(r"\d+")
_SPACES = re.compile(r"\s+")
SENTENCE_END = re.compile(r"[.:;!?][\"'”’)\]]*$")
# Prefixes whose hyphen is part of the word ("non-exclusive"), not a line-end hyphenation.
_KEEP_HYPHEN = {"non", "co", "sub", "pre", "re", "anti", "multi", "self", "third", "cross", "well",
                "post", "inter", "intra", "over", "under", "semi", "quasi", "pro", "ex"}
_SOFT_HYPHENS = ("\x02", "\xad", "\ufffe")
EDGE_LINES = 3  # how many lines at a page's top and bottom may be running headers or footers


def _edge_key(line: str) -> str:
    return _SPACES.sub(" ", _DIGITS.sub("#", line)).strip().lower()


def strip_running_lines(pages: list[list[str]]) -> list[list[str]]:
    """Drop page numbers and lines repeating at the top or bottom of many pages (headers, footers)."""
    if not pages:
        return pages
    seen: Counter[str] = Counter()
    for lines in pages:
        edge = {_edge_key(x) for x in lines[:EDGE_LINES] + lines[-EDGE_LINES:] if x.strip()}
        seen.update(edge)
    # A line counts as running text when it recurs on at least 3 pages or on half of them.
    min_pages = max(2, min(3, (len(pages) + 1) // 2))
    running = {k for k, n in seen.items() if n >= min_pages and k}
    out = []
    for lines in pages:
        keep = list(lines)
        for positions in (range(min(EDGE_LINES, len(keep))),
                          range(len(keep) - 1, max(-1, len(keep) - 1 - EDGE_LINES), -1)):
            for i in positions:
                line = keep[i]
                if line is None or not line.strip():
                    continue
                if _edge_key(line) in running or PAGE_NUMBER.match(line):
                    keep[i] = None
        out.append([x for x in keep if x is not None])
    return out


def is_heading(line: str) -> bool:
    """A short line in capitals: "LIMITATION OF LIABILITY", "BACKGROUND"."""
    # str.isupper() is True when every cased character is upper case and there is at least one.
    return len(line) <= 150 and len(line.split()) <= 12 and line.isupper()


def join_lines(prev: str, line: str) -> tuple[str, str]:
    """How `line` continues `prev`: returns (prev without its soft hyphen, separator)."""
    if prev.endswith(_SOFT_HYPHENS):
        prev = prev[:-1] + "-"
    if prev.endswith("-") and len(prev) > 1 and prev[-2].isalpha():
        if not line[:1].islower():
            return prev, ""  # "VRRM-" + "MFP": a real hyphen that fell at the line end
        word = re.split(r"\W", prev[:-1])[-1].lower()
        return (prev, "") if word in _KEEP_HYPHEN else (prev[:-1], "")
    return prev, " "


def reflow(lines: list[str], full_width: int | None = None) -> list[str]:
    """Join layout lines into paragraphs.

    A line starts a new paragraph after a blank line, when it opens a numbered unit, when it or the
    line before is an all-caps heading, or when the line before ends a sentence well short of the
    usual line width (the author's line break, not the page's).
    """
    stripped = [x.strip() for x in lines]
    if full_width is None:
        widths = sorted(len(x) for x in stripped if x)
        full_width = widths[int(len(widths) * 0.9)] if widths else 0
    short = 0.8 * full_width
    paragraphs: list[str] = []
    # The paragraph being built, as pieces joined once at its end: growing one string line by line
    # copies it every time (quadratic: a 200,000-line paragraph took seconds).
    current: list[str] = []
    prev_line = ""
    for line in stripped:
        if not line:
            if current:
                paragraphs.append("".join(current))
            current, prev_line = [], ""
            continue
        new_paragraph = not prev_line.endswith(_SOFT_HYPHENS) and (
            not current
            # A number opens a unit only after a finished line: "... set forth in Section\n12.3 hereof" goes on.
            or (NUMBERED_LINE.match(line) is not None
                and (SENTENCE_END.search(prev_line) is not None or len(prev_line) < short))
            # A heading is a short line in capitals; a full line in capitals is shouted body text.
            or (is_heading(line) and len(line) < short) or (is_heading(prev_line) and len(prev_line) < short)
            or (SENTENCE_END.search(prev_line) is not None and len(prev_line) < short)
        )
        if new_paragraph:
            if current:
                paragraphs.append("".join(current))
            current = [line]
        else:
            _join_onto(current, line)
        prev_line = line
    if current:
        paragraphs.append("".join(current))
    return paragraphs


def _join_onto(pieces: list[str], line: str) -> None:
    """Append `line` to the paragraph `pieces` as join_lines would join it to "".join(pieces).

    join_lines reads the last word and rewrites at most the last character, so a bounded tail is
    enough to decide (any word longer than the tail is not one of _KEEP_HYPHEN).
    """
    if not pieces[-1].endswith(("-", *_SOFT_HYPHENS)):  # no hyphen to resolve: a plain space
        pieces.append(" ")
        pieces.append(line)
        return
    tail, n = "", len(pieces)
    while n and len(tail) < 64:
        n -= 1
        tail = pieces[n] + tail
    tail = tail[-64:]
    joined, sep = join_lines(tail, line)
    if joined != tail:  # only the tail's last character changes: dropped or made a hyphen
        pieces[-1] = pieces[-1][:-1] + joined[len(tail) - 1:]
    pieces.append(sep)
    pieces.append(line)


def looks_hard_wrapped(lines: list[str]) -> bool:
    """True for text wrapped at a fixed width (old EDGAR .txt exhibits), False for one line per paragraph."""
    widths = [len(x.rstrip()) for x in lines if x.strip()]
    if len(widths) < 20:
        return False
    long_lines = sum(w > 100 for w in widths)
    widths.sort()
    p90 = widths[int(len(widths) * 0.9)]
    return p90 <= 100 and long_lines <= 0.02 * len(widths)
