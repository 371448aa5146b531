"""DOCX body -> paragraph texts, with Word's automatic list numbering rendered back ("12.3", "(a)").

python-docx reads paragraphs and tables but leaves numbering unrendered (the numbers live in
numbering.xml, not in the text), and clause numbers are what segmentation keys on; so this module
replays Word's list counters itself: per abstract list, one counter per level, deeper levels reset
when a shallower one advances, `w:lvlText` templates such as "%1.%2" or "(%3)".
"""
from __future__ import annotations

import io
from dataclasses import dataclass, field

from docx.oxml.ns import qn


def _roman(n: int) -> str:
    out = ""
    for value, letters in ((1000, "m"), (900, "cm"), (500, "d"), (400, "cd"), (100, "c"), (90, "xc"),
                           (50, "l"), (40, "xl"), (10, "x"), (9, "ix"), (5, "v"), (4, "iv"), (1, "i")):
        while n >= value:
            out, n = out + letters, n - value
    return out


def _letter(n: int) -> str:
    # Word repeats the letter after z: aa, bb, ...
    return chr(ord("a") + (n - 1) % 26) * ((n - 1) // 26 + 1)


_FORMATS = {
    "decimal": str,
    "decimalZero": lambda n: f"{n:02d}",
    "lowerLetter": _letter,
    "upperLetter": lambda n: _letter(n).upper(),
    "lowerRoman": _roman,
    "upperRoman": lambda n: _roman(n).upper(),
}


@dataclass
class _Level:
    start: int = 1
    fmt: str = "decimal"
    text: str = ""
    legal: bool = False  # w:isLgl: shallower levels shown in decimal ("1.1" rather than "I.1")


@dataclass
class _Numbering:
    abstract_of: dict[str, str] = field(default_factory=dict)           # numId -> abstractNumId
    levels: dict[str, dict[int, _Level]] = field(default_factory=dict)  # abstractNumId -> ilvl -> level
    overrides: dict[str, dict[int, int]] = field(default_factory=dict)  # numId -> ilvl -> start
    counters: dict[str, dict[int, int]] = field(default_factory=dict)   # abstractNumId -> ilvl -> count
    started: set[str] = field(default_factory=set)                      # numIds already used

    @classmethod
    def from_document(cls, document) -> _Numbering:
        numbering = cls()
        try:
            root = document.part.numbering_part.element
        except (KeyError, NotImplementedError):
            return numbering
        for abstract in root.iterchildren(qn("w:abstractNum")):
            levels = {}
            for lvl in abstract.iterchildren(qn("w:lvl")):
                level = _Level()
                for tag, attr in (("w:start", "start"), ("w:numFmt", "fmt"), ("w:lvlText", "text")):
                    node = lvl.find(qn(tag))
                    if node is not None and node.get(qn("w:val")) is not None:
                        value = node.get(qn("w:val"))
                        setattr(level, attr, int(value) if attr == "start" else value)
                level.legal = lvl.find(qn("w:isLgl")) is not None
                levels[int(lvl.get(qn("w:ilvl"), "0"))] = level
            numbering.levels[abstract.get(qn("w:abstractNumId"))] = levels
        for num in root.iterchildren(qn("w:num")):
            num_id = num.get(qn("w:numId"))
            ref = num.find(qn("w:abstractNumId"))
            if ref is not None:
                numbering.abstract_of[num_id] = ref.get(qn("w:val"))
            for override in num.iterchildren(qn("w:lvlOverride")):
                start = override.find(qn("w:startOverride"))
                if start is not None:
                    numbering.overrides.setdefault(num_id, {})[int(override.get(qn("w:ilvl"), "0"))] = \
                        int(start.get(qn("w:val")))
        return numbering

    def label(self, num_id: str, ilvl: int) -> str:
        """Advance the list counter for this paragraph and return its rendered number ('' for bullets)."""
        abstract = self.abstract_of.get(num_id)
        levels = self.levels.get(abstract)
        if not levels or ilvl not in levels:
            return ""
        counters = self.counters.setdefault(abstract, {})
        if num_id not in self.started:
            self.started.add(num_id)
            for lvl, start in self.overrides.get(num_id, {}).items():
                counters[lvl] = start - 1
        counters[ilvl] = counters.get(ilvl, levels[ilvl].start - 1) + 1
        for deeper in [k for k in counters if k > ilvl]:
            del counters[deeper]
        level = levels[ilvl]
        if level.fmt not in _FORMATS:  # bullet, none, pictures: not a clause number
            return ""
        text = level.text
        for k in range(ilvl, -1, -1):  # from deep to shallow so "%1" does not eat "%10"
            shown = levels.get(k, _Level())
            count = counters.get(k, shown.start)
            fmt = "decimal" if (level.legal and k < ilvl) else shown.fmt
            text = text.replace(f"%{k + 1}", _FORMATS.get(fmt, str)(count))
        return text.strip()


def _num_pr(paragraph, styles) -> tuple[str, int] | None:
    """(numId, ilvl) of a paragraph, set directly or through its style chain."""
    p_pr = paragraph.find(qn("w:pPr"))
    num_pr = p_pr.find(qn("w:numPr")) if p_pr is not None else None
    ilvl = None
    if num_pr is not None:
        num_id = num_pr.find(qn("w:numId"))
        lvl = num_pr.find(qn("w:ilvl"))
        ilvl = int(lvl.get(qn("w:val"))) if lvl is not None else None
        if num_id is not None:
            value = num_id.get(qn("w:val"))
            return (None if value == "0" else (value, ilvl or 0))
    style_id = None
    if p_pr is not None and p_pr.find(qn("w:pStyle")) is not None:
        style_id = p_pr.find(qn("w:pStyle")).get(qn("w:val"))
    seen = set()
    while style_id and style_id not in seen:
        seen.add(style_id)
        style = styles.get(style_id)
        if style is None:
            return None
        s_num = style.find(f"{qn('w:pPr')}/{qn('w:numPr')}")
        if s_num is not None and s_num.find(qn("w:numId")) is not None:
            lvl = s_num.find(qn("w:ilvl"))
            level = ilvl if ilvl is not None else (int(lvl.get(qn("w:val"))) if lvl is not None else 0)
            value = s_num.find(qn("w:numId")).get(qn("w:val"))
            return None if value == "0" else (value, level)
        based = style.find(qn("w:basedOn"))
        style_id = based.get(qn("w:val")) if based is not None else None
    return None


def _paragraph_text(p) -> str:
    # w:t holds text, w:tab and w:br are whitespace; deleted text (w:delText) is skipped on purpose.
    parts = []
    for node in p.iter(qn("w:t"), qn("w:tab"), qn("w:br"), qn("w:cr")):
        parts.append((node.text or "") if node.tag == qn("w:t") else " ")
    return "".join(parts)


def docx_paragraphs(data: bytes) -> list[str]:
    """The document body as paragraph texts in reading order; each table row becomes one paragraph."""
    import docx

    document = docx.Document(io.BytesIO(data))
    styles = {s.get(qn("w:styleId")): s for s in document.styles.element.iterchildren(qn("w:style"))}
    numbering = _Numbering.from_document(document)

    def render(p) -> str:
        text = _paragraph_text(p)
        num = _num_pr(p, styles)
        label = numbering.label(*num) if num else ""
        return f"{label} {text}" if label and text.strip() else text

    out: list[str] = []
    for block in document.element.body.iterchildren():
        if block.tag == qn("w:p"):
            out.append(render(block))
        elif block.tag == qn("w:tbl"):
            for row in block.iterchildren(qn("w:tr")):
                cells = [" ".join(render(p) for p in tc.iter(qn("w:p"))) for tc in row.iterchildren(qn("w:tc"))]
                out.append(" ".join(c.strip() for c in cells if c.strip()))
    return out
