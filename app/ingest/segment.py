"""Document -> numbered clauses with heading paths, character offsets and pages.

A clause is the smallest numbered unit ("12.3", "(b)", "Section 9.2", "ARTICLE IV"). Numbers are
found where a paragraph starts and, because many EDGAR exhibits arrive as one long line, also inside
a paragraph right after a sentence ends, but only when they continue the numbering seen so far
("1.2" after "1.1", "(b)" after "(a)"), so "see Section 14.1 of this Agreement" starts nothing.
An unnumbered heading in capitals on its own line ("LIMITATION OF LIABILITY", "DEFINITIONS") closes
the numbered unit before it and opens a section: its paragraphs are clauses with that heading, the
heading line going with the first one. (It does not head the paths of numbered clauses after it:
on CUAD, titles and captions would have changed about 1,600 numbered paths.) Other unnumbered text
falls back to paragraphs. Three rules keep clauses whole enough for CUAD's spans, which are often a
full sentence or two (bench/ingest_coverage.py measures this):
- a unit that ends with a colon keeps its sub-items ("shall not apply to: (a) ...; (b) ...") when
  all fit in TARGET_WORDS;
- the paragraphs of one numbered unit are packed together up to TARGET_WORDS;
- a paragraph over MAX_WORDS is cut into pieces of even size at the sentence boundary (pysbd)
  nearest each planned cut.
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

from app.ingest.document import Clause, Document
from app.ingest.layout import is_heading

MAX_WORDS = 350  # a paragraph longer than this is cut...
TARGET_WORDS = 300  # ...and no clause built from whole paragraphs or pieces grows past this
TITLE_MAX_WORDS = 10
SENTENCE_WINDOW = 3000  # chars handed to pysbd at once
CUT_WINDOW = 25  # words either side of a planned cut searched for a sentence boundary

_ROMAN = {"i": 1, "v": 5, "x": 10, "l": 50, "c": 100}
_ROMAN_RE = re.compile(r"^(?=[ivxlc])c{0,3}(xc|xl|l?x{0,3})(ix|iv|v?i{0,3})$")

# One numbering marker; group names tell its kind.
_MARKER = re.compile(
    r"""(?P<article>(?:ARTICLE|Article)\s+(?P<art_val>[IVXLC]{1,6}|\d{1,3})\b\.?)
      | (?P<section>(?:SECTION|Section|§)\s*(?P<sec_val>\d{1,3}(?:\.\d{1,3})*)\.?(?=\s|$))
      | (?P<decimal>(?P<dec_val>\d{1,3}(?:\.\d{1,3})+)\.?(?=\s|$)|(?P<dec1>\d{1,3})\.(?=\s|$)
                    |(?P<bare>\d{1,3})(?=\s+[A-Z]{2}))
      | (?P<paren>\(\s*(?P<par_val>[a-zA-Z]{1,2}|[ivxlcIVXLC]{1,6}|\d{1,3})\s*\)(?=\s|$))
      | (?P<rparen>(?P<rp_val>[a-z]|[ivxlc]{1,6}|\d{1,3})\)(?=\s|$))
      | (?P<dotted>(?P<dot_val>[A-Z]|[IVXLC]{1,6})\.(?=\s))
    """,
    re.VERBOSE,
)
# Where a number may sit inside a paragraph: after a sentence or heading ends.
_INLINE = re.compile(r"(?:(?<=[.:])|(?<=[.:][\"'”’)]))\s+(?=[(\dASa-z§])")
_INLINE_SUBNUMBER = re.compile(r"(?<=\s)\d{1,3}\.\d{1,3}\.?(?=\s+[A-Z])")
_REFERRING_WORDS = {"section", "sections", "clause", "clauses", "paragraph", "paragraphs", "article", "articles",
                    "of", "in", "to", "under", "and", "or", "with", "per", "see", "by", "from", "through", "than"}
_EXHIBIT = re.compile(r"(?:EXHIBIT|Exhibit|SCHEDULE|Schedule|ANNEX|Annex|APPENDIX|Appendix|ATTACHMENT|"
                      r"Attachment|IN WITNESS WHEREOF)\b")
_WORD = re.compile(r"\S+")
_LEADING_NUMBER = re.compile(r"[\w.()]{1,12}[.!?]\s+")
_ENDS_SENTENCE = re.compile(r"[.!?;:][\"'”’)\]]*$")
_PARAGRAPH = re.compile(r"[^\n]+")
_HEADING_WORD = re.compile(r"[A-Za-z][A-Za-z'&-]*")
SECTION_HEADING_MAX_WORDS = 8
# Words that make a short line in capitals a shouted sentence ("IN NO EVENT SHALL ...") or a line of a
# title block ("AND", "BETWEEN:"), not a section heading.
_NOT_IN_HEADINGS = frozenset("""shall will may must is are be been was were has have had does do agrees agree
means include includes apply applies exceed exceeds pay pays provide provides""".split())
_CONNECTIVES = frozenset("and between by of the to or among with".split())
# Before any numbered unit, a heading ending so is the contract's title, not a section of it.
_TITLE = re.compile(r"\b(?:AGREEMENT|CONTRACT|ADDENDUM|AMENDMENT)$")
# Captions of a filing's front matter, not sections of the contract.
_FRONT_MATTER = frozenset({"TABLE OF CONTENTS", "CONTENTS", "INDEX", "EXECUTION COPY", "EXECUTION VERSION",
                           "REDACTED COPY", "CONFIDENTIAL", "CONFIDENTIAL TREATMENT REQUESTED", "FINAL", "DRAFT"})
_LETTER_ITEM = re.compile(r"[A-Za-z][.)]\s")  # "E) CORRECTIONS AND UPDATES": an item the outline did not take
# A line in capitals ending so is a party's name in a title or signature block ("HERC RENTALS INC.").
_COMPANY_END = re.compile(r"\b(?:INC|LLC|L\.L\.C|LTD|LIMITED|CORP|CORPORATION|CO|COMPANY|L\.?P|G\.?P|PLC|"
                          r"TRUST|GMBH|AG|S\.?A|SAS|N\.V|B\.V)\.?$")


@dataclass
class _Marker:
    start: int       # offset of the marker in the document text
    body: int        # offset just after the marker
    style: str       # "article", "dec1", "dec2", ..., "paren-alpha", "paren-ROMAN", "dot-alpha", ...
    value: tuple[int, ...]
    label: str       # as shown: "12.3", "(b)", "ARTICLE IV", "Section 9.2"
    strong: bool     # at the start of a paragraph


def _roman_value(s: str) -> int | None:
    s = s.lower()
    if not _ROMAN_RE.match(s):
        return None
    total = 0
    for a, b in zip(s, s[1:] + " "):
        v = _ROMAN[a]
        total += -v if b != " " and _ROMAN[b] > v else v
    return total


def _alpha_value(s: str) -> int | None:
    if len(s) == 2 and s[0] != s[1]:
        return None
    return (ord(s[0].lower()) - ord("a") + 1) + 26 * (len(s) - 1)


def _case(s: str) -> str:
    return "upper" if s.isupper() else "lower"


def _parse(m: re.Match, strong: bool, heading_follows: bool = False) -> list[_Marker]:
    """Readings of a marker; "(i)" is both the letter after (h) and the roman one, resolved later."""
    start, end, g = m.start(), m.end(), m.groupdict()
    label = m.group(0).strip()
    if g["article"]:
        val = g["art_val"]
        n = int(val) if val.isdigit() else _roman_value(val)
        return [_Marker(start, end, "article", (n,), label.rstrip("."), strong)] if n else []
    if g["section"] or g["decimal"]:
        if g["bare"] and not (strong and heading_follows):
            return []  # "9 LIMITATION OF LIABILITY." counts, "30 DAYS" inside a sentence does not
        val = g["sec_val"] or g["dec_val"] or g["dec1"] or g["bare"]
        parts = tuple(int(x) for x in val.split("."))
        if any(p > 200 for p in parts[1:]) or parts[0] == 0 and len(parts) == 1:
            return []
        return [_Marker(start, end, f"dec{len(parts)}", parts, label.rstrip("."), strong)]
    if g["paren"] or g["rparen"] or g["dotted"]:
        val = g["par_val"] or g["rp_val"] or g["dot_val"]
        kind = "paren" if g["paren"] else "rparen" if g["rparen"] else "dot"
        if kind == "dot" and not strong:
            return []  # "A." inside a sentence is usually an initial ("John A. Smith")
        out = []
        if val.isdigit():
            out.append(_Marker(start, end, f"{kind}-digit", (int(val),), label, strong))
        else:
            roman = _roman_value(val)
            if roman:
                out.append(_Marker(start, end, f"{kind}-roman-{_case(val)}", (roman,), label, strong))
            alpha = _alpha_value(val)
            if alpha:
                out.append(_Marker(start, end, f"{kind}-alpha-{_case(val)}", (alpha,), label, strong))
        return out
    return []


class _Outline:
    """The open numbering levels (ARTICLE IV > 4.2 > (a)) while walking the document."""

    def __init__(self) -> None:
        self.stack: list[tuple[_Marker, str]] = []  # (marker, heading label)
        self.last: dict[str, tuple[int, ...]] = {}  # style -> last value accepted

    def _index(self, style: str) -> int | None:
        for i, (m, _) in enumerate(self.stack):
            if m.style == style:
                return i
        return None

    def _follows(self, m: _Marker) -> bool:
        """Does `m` continue the numbering seen so far (or start a fresh list)?"""
        if m.style.startswith("dec"):
            depth = len(m.value)
            parent = self.last.get(f"dec{depth - 1}") if depth > 1 else None
            prev = self.last.get(m.style)
            if depth == 1:
                return prev is None and m.value[0] <= 2 or prev is not None and 0 < m.value[0] - prev[0] <= 2
            same_parent = prev is not None and prev[:-1] == m.value[:-1]
            if same_parent and 0 < m.value[-1] - prev[-1] <= 2:
                return True
            if m.value[-1] in (0, 1) and (parent is None or parent[: depth - 1] == m.value[:-1]
                                          or (prev is not None and prev[0] + 1 == m.value[0])):
                return True
            return False
        if m.style == "article":
            prev = self.last.get("article")
            return prev is None and m.value[0] == 1 or prev is not None and m.value[0] - prev[0] == 1
        i = self._index(m.style)
        if i is None:
            return m.value[0] == 1
        return m.value[0] == self.stack[i][0].value[0] + 1

    def choose(self, readings: list[_Marker]) -> _Marker | None:
        """Pick the reading that continues an open list; a strong marker is accepted even without one."""
        for m in readings:
            if self._follows(m):
                return m
        if readings and readings[0].strong:
            m = readings[0]
            prev = self.last.get(m.style)
            if (m.style == "article" or m.style.startswith("dec")) and prev is not None \
                    and m.value[:-1] == prev[:-1] and 1 < m.value[-1] < prev[-1]:
                return None  # numbers do not run backwards: a cross-reference broken onto a new line
            # "(i)" opening a list is roman unless an alpha list is open at that level.
            for m in readings:
                if self._index(m.style) is not None:
                    return m
            return readings[0]
        return None

    def push(self, m: _Marker, title: str) -> str:
        """Place `m` in the outline and return the heading path up to and including it."""
        if m.style == "article":
            del self.stack[:]
        elif m.style.startswith("dec"):
            depth = len(m.value)
            keep = [e for e in self.stack if e[0].style == "article"
                    or (e[0].style.startswith("dec") and len(e[0].value) < depth)]
            self.stack = keep
            for k in [s for s in self.last if s.startswith("dec") and int(s[3:]) > depth]:
                del self.last[k]
        else:
            i = self._index(m.style)
            if i is not None:
                del self.stack[i:]
        heading = f"{m.label} {title}".strip() if title else m.label
        self.stack.append((m, heading))
        self.last[m.style] = m.value
        return " > ".join(h for _, h in self.stack)

    def reset(self) -> None:
        self.stack.clear()
        self.last.clear()


def _title(text: str) -> str:
    """A unit's own heading: "Limitation of Liability" in "12. Limitation of Liability. Neither ..." ."""
    first = re.split(r"(?<=[.:])\s|\s(?=\d{1,3}\.\d{1,3}\.?\s)", text.strip(), maxsplit=1)[0].strip()
    words = first.split()
    if not words or len(words) > TITLE_MAX_WORDS:
        return ""
    core = first.rstrip(".:")
    letters = [c for c in core if c.isalpha()]
    caps = [w for w in core.split() if w[:1].isupper() or not w[:1].isalpha()]
    small = {"of", "and", "the", "to", "for", "in", "on", "or", "by", "with", "a", "an", "upon", "under"}
    if letters and (core.isupper() or all(w in caps or w.lower() in small for w in core.split())):
        return core
    return ""


@lru_cache(maxsize=1)
def _sentence_splitter():
    import pysbd
    return pysbd.Segmenter(language="en", clean=False)


def _windows(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Cut text[start:end] into pieces of at most SENTENCE_WINDOW chars, at a ". " where there is one."""
    out = []
    while end - start > SENTENCE_WINDOW:
        cut = max(text.rfind(". ", start, start + SENTENCE_WINDOW), text.rfind("; ", start, start + SENTENCE_WINDOW))
        if cut <= start:
            cut = text.rfind(" ", start, start + SENTENCE_WINDOW)
        cut = cut + 1 if cut > start else start + SENTENCE_WINDOW
        out.append((start, cut))
        start = cut
    out.append((start, end))
    return out


def _sentences(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Sentence spans inside text[start:end], found by pysbd and mapped back to offsets."""
    spans = []
    # pysbd's time grows with the square of its input; windows keep a 50 MB file linear.
    for ws, we in _windows(text, start, end):
        pos = ws
        for sentence in _sentence_splitter().segment(text[ws:we]):
            s = sentence.strip()
            i = text.find(s, pos, we) if s else -1
            if i < 0:
                continue
            if spans and not _ENDS_SENTENCE.search(text, spans[-1][0], spans[-1][1]):
                # pysbd opens a sentence at "12." in "... under Section 12. The ...": give the number
                # back to the sentence it ends, or failing that keep both pieces together.
                lead = _LEADING_NUMBER.match(text, i, i + len(s))
                if lead and lead.end() < i + len(s):
                    spans[-1] = (spans[-1][0], i + len(lead.group(0).rstrip()))
                    spans.append((lead.end(), i + len(s)))
                else:
                    spans[-1] = (spans[-1][0], i + len(s))
            else:
                spans.append((i, i + len(s)))
            pos = i + len(s)
    return spans or [(start, end)]


def _words(text: str, start: int, end: int) -> int:
    return len(_WORD.findall(text, start, end))


def _chunks(text: str, start: int, end: int, pack_paragraphs: bool) -> list[tuple[int, int]]:
    """Cut text[start:end] into chunks of whole paragraphs/sentences, each at most TARGET_WORDS."""
    blocks: list[tuple[int, int, int]] = []  # (start, end, words)
    for p in _PARAGRAPH.finditer(text, start, end):
        ps, pe = _trim(text, p.start(), p.end())
        if ps >= pe:
            continue
        n = _words(text, ps, pe)
        if n > MAX_WORDS:
            blocks.extend(_split_long(text, ps, pe))
        else:
            blocks.append((ps, pe, n))
        if not pack_paragraphs:
            blocks.append((-1, -1, 0))  # a paragraph boundary that packing must not cross
    chunks: list[tuple[int, int]] = []
    cur_s, cur_e, cur_n = -1, -1, 0
    for s, e, n in blocks:
        if s < 0 or (cur_s >= 0 and cur_n + n > TARGET_WORDS):
            if cur_s >= 0:
                chunks.append((cur_s, cur_e))
            cur_s, cur_e, cur_n = -1, -1, 0
            if s < 0:
                continue
        if cur_s < 0:
            cur_s = s
        cur_e, cur_n = e, cur_n + n
    if cur_s >= 0:
        chunks.append((cur_s, cur_e))
    return chunks


def _split_long(text: str, start: int, end: int) -> list[tuple[int, int, int]]:
    """Cut a long paragraph into pieces of even size, each cut at the sentence boundary nearest its ideal
    place (pysbd, run only on CUT_WINDOW words either side: it is the slowest step of ingestion), else
    after a semicolon there, else (a table flattened into one line) between two words."""
    words = list(_WORD.finditer(text, start, end))
    n = len(words)
    k = -(-n // (TARGET_WORDS - 2 * CUT_WINDOW))
    cuts = [start]
    for j in range(1, k):
        c = round(j * n / k)
        ideal = words[c].start()
        ws, we = words[max(0, c - CUT_WINDOW)].start(), words[min(n - 1, c + CUT_WINDOW)].end()
        options = [s for s, _ in _sentences(text, ws, we)[1:]]
        if not options:
            options = [ws + m.end() for m in re.finditer(r";\s+", text[ws:we])]
        options = [o for o in options if o > cuts[-1]] or [ideal]
        cuts.append(min(options, key=lambda o: abs(o - ideal)))
    cuts.append(end)
    pieces = [_trim(text, a, b) for a, b in zip(cuts, cuts[1:])]
    return [(a, b, _words(text, a, b)) for a, b in pieces if a < b]


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _is_section_heading(line: str) -> bool:
    """An unnumbered heading: a few words in capitals, no verb ("LIMITATION OF LIABILITY", "DEFINITIONS")."""
    words = _HEADING_WORD.findall(line)
    # A colon ends a label ("IF TO VERTICALNET:", "LICENSOR:") in a notice or signature block, not a heading.
    # Digits mean a number this module did not read as one ("-2- 3 8. LIABILITY", "11.CONFIDENTIALITY"),
    # a date or a page; dashes and brackets, a rule or a placeholder ("[GRAPHIC OMITTED]").
    return (is_heading(line) and 0 < len(words) <= SECTION_HEADING_MAX_WORDS
            and not any(ch.isdigit() for ch in line) and not line.startswith("[") and "--" not in line
            and "__" not in line and not line.endswith((",", ";", ":")) and not _COMPANY_END.search(line)
            and not _LETTER_ITEM.match(line) and line.rstrip(".:") not in _FRONT_MATTER
            and not any(w.lower() in _NOT_IN_HEADINGS for w in words)
            and any(len(w) >= 3 and w.lower() not in _CONNECTIVES for w in words))


def _section_headings(text: str) -> list[tuple[int, int]]:
    """(start, end) of the paragraphs that are unnumbered section headings, in reading order."""
    paragraphs = [s for s in (_trim(text, *p.span()) for p in _PARAGRAPH.finditer(text)) if s[0] < s[1]]
    lines = [text[s:e] for s, e in paragraphs]
    # A line in capitals met twice is a running header or a form's caption ("CONFIDENTIAL TREATMENT").
    seen = Counter(line for line in lines if is_heading(line))
    out = []
    for i, (s, e) in enumerate(paragraphs):
        line = lines[i]
        if seen[line] > 1 or not _is_section_heading(line) or _MARKER.match(text, s, e) or _EXHIBIT.match(text, s):
            continue
        previous, following = lines[i - 1] if i else "", lines[i + 1] if i + 1 < len(lines) else ""
        if previous and not _ENDS_SENTENCE.search(previous) and (following[:1].islower() or previous.isupper()):
            continue  # the rest of a shouted sentence, or a header dropped into one by a page break
        out.append((s, e))
    return out


def _markers(text: str) -> list[tuple[re.Match, int, bool]]:
    """Candidate markers in reading order: (match, is the rest of its paragraph a heading, strong)."""
    out = []
    for p in _PARAGRAPH.finditer(text):
        ps, pe = _trim(text, p.start(), p.end())
        m = _MARKER.match(text, ps, pe)
        if m:
            out.append((m, m.group("bare") is not None and is_heading(text[m.end():pe].strip()), True))
        found = []
        for gap in _INLINE.finditer(text, ps, pe):
            m = _MARKER.match(text, gap.end(), pe)
            if m and m.start() > ps:
                found.append(m)
        # "9. TERM & TERMINATION 9.1 The Agreement ...": a sub-number after a heading without a full stop.
        for m in _INLINE_SUBNUMBER.finditer(text, ps, pe):
            before = text[max(ps, m.start() - 20):m.start()].split()
            if m.start() > ps and before and before[-1].lower() not in _REFERRING_WORDS:
                found.append(_MARKER.match(text, m.start(), pe))
        out.extend((m, False, False) for m in sorted({m.start(): m for m in found if m}.values(),
                                                      key=lambda m: m.start()))
    return out


@dataclass
class _Unit:
    start: int
    end: int
    number: str | None
    heading: str
    title_end: int  # where the unit's number and own heading end and its body begins
    depth: int      # levels open in the outline, this unit included; 0 for unnumbered text
    section: bool = False  # an unnumbered section opened by a heading in capitals


def _units(text: str) -> list[_Unit]:
    """Numbered units, unnumbered sections and the unnumbered stretches between them, in reading order."""
    outline = _Outline()
    units: list[_Unit] = []
    cursor = 0
    title_end = 0  # the end of the last numbered unit's heading: a capital line before it is that heading
    numbered = False  # has a numbered unit been met yet

    def close_gap(upto: int) -> None:
        # Unclaimed text belongs to the open numbered unit or section, or else is a stretch of paragraphs.
        nonlocal cursor
        if units and (units[-1].number is not None or units[-1].section):
            units[-1].end = upto
        elif cursor < upto:
            units.append(_Unit(cursor, upto, None, "", cursor, 0))
        cursor = upto

    def close_body(upto: int) -> None:
        # An exhibit or signature block closes the numbered body; what follows is paragraphs again.
        close_gap(upto)
        units.append(_Unit(cursor, cursor, None, "", cursor, 0))
        outline.reset()

    def open_section(start: int, end: int) -> None:
        nonlocal cursor
        close_gap(start)
        units.append(_Unit(start, len(text), None, text[start:end].rstrip(".:").strip(), end, 0, section=True))
        cursor = start

    # Breaks in reading order: (offset, kind, end of the line); kind 0, an exhibit, sorts before 1, a heading.
    breaks = sorted([(p.start(), 0, p.start()) for p in _PARAGRAPH.finditer(text)
                     if _EXHIBIT.match(text, _trim(text, p.start(), p.end())[0])]
                    + [(s, 1, e) for s, e in _section_headings(text)])
    breaks.append((len(text) + 1, 0, 0))
    b_i = 0

    def take_breaks(upto: int) -> None:
        nonlocal b_i
        while breaks[b_i][0] < upto:
            at, kind, end = breaks[b_i]
            if kind == 0:
                close_body(at)
            elif at >= title_end and not (_TITLE.search(text, at, end) and not numbered):
                open_section(at, end)  # not the heading an "ARTICLE IV" line took, nor the contract's title
            b_i += 1

    for match, heading_follows, strong in _markers(text):
        take_breaks(match.start())
        marker = outline.choose(_parse(match, strong, heading_follows))
        if marker is None:
            continue
        close_gap(marker.start)
        line_end = text.find("\n", marker.body)
        line_end = len(text) if line_end < 0 else line_end
        title = _title(text[marker.body:line_end])
        title_end = text.find(title, marker.body) + len(title) if title else marker.body
        if not title and not text[marker.body:line_end].strip():
            # "ARTICLE IV" alone on its line, its heading in capitals on the next one
            nxt = _PARAGRAPH.search(text, line_end)
            if nxt and is_heading(nxt.group(0).strip()) and not _MARKER.match(text, _trim(text, *nxt.span())[0]):
                title = nxt.group(0).strip().rstrip(".:")
                title_end = nxt.end()
        heading = outline.push(marker, title)
        numbered = True
        units.append(_Unit(marker.start, len(text), marker.label, heading, title_end, len(outline.stack)))
        cursor = marker.start
    take_breaks(len(text) + 1)
    close_gap(len(text))
    return [u for u in units if u.start < u.end]


def _merge_lists(text: str, units: list[_Unit]) -> list[_Unit]:
    """Keep "... shall not apply: (a) ...; (b) ..." whole: a unit whose body ends with a colon takes its
    sub-items in, when together they fit in one clause (CUAD marks such sentences as one span)."""
    out: list[_Unit] = []
    i = 0
    while i < len(units):
        u = units[i]
        j = i + 1
        if u.number is not None and text[u.start:u.end].rstrip().endswith(":"):
            while j < len(units) and units[j].number is not None and units[j].depth > u.depth:
                j += 1
            if j > i + 1 and _words(text, u.start, units[j - 1].end) <= TARGET_WORDS:
                u = _Unit(u.start, units[j - 1].end, u.number, u.heading, u.title_end, u.depth)
            else:
                j = i + 1
        out.append(u)
        i = j
    return out


def segment(document: Document) -> list[Clause]:
    """Cut a Document into clauses; see the module docstring for the rules."""
    text = document.text
    clauses: list[Clause] = []
    units = _merge_lists(text, _units(text))
    for i, u in enumerate(units):
        start, end = _trim(text, u.start, u.end)
        # A unit that is only its number and heading ("1. Services." before "1.1 ...") is a heading,
        # not a clause; a short item with nothing under it ("(iii) Third.") is a clause.
        if u.number is not None and not re.search(r"[A-Za-z]{2}", text[u.title_end:end]):
            has_children = i + 1 < len(units) and units[i + 1].depth > u.depth
            number_only = not re.search(r"[A-Za-z]{2}", text[start:end])  # "3.1" torn from its text
            if number_only or has_children or text[start:end].isupper():
                continue
        if u.section:
            # The heading line opens the section's first clause rather than standing alone.
            chunks = _chunks(text, u.title_end, end, pack_paragraphs=False)
            if not chunks:
                continue  # a heading with nothing under it before the next one
            chunks[0] = (start, chunks[0][1])
        else:
            chunks = _chunks(text, start, end, pack_paragraphs=u.number is not None)
        for cs, ce in chunks:
            first, last = document.page_of(cs), document.page_of(ce - 1)
            pages = tuple(range(first, last + 1)) if first is not None else ()
            clauses.append(Clause(index=len(clauses), number=u.number, heading=u.heading, text=text[cs:ce],
                                  start=cs, end=ce, page=first, pages=pages))
    return clauses
