"""Contract text as HTML with clauses and evidence marked: every character of user text is escaped.

The pages pass the result to st.markdown(unsafe_allow_html=True), so nothing from a contract may reach it
unescaped: text goes through html.escape, and the only markup is ours (<mark> with colours from
app.taxonomy and ids that are integers).
"""
from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from app.taxonomy import BY_ID

_PRE = "white-space: pre-wrap; font-family: inherit; line-height: 1.6"
EVIDENCE_COLOUR = "#ffd84d"


@dataclass(frozen=True)
class Mark:
    start: int
    end: int
    label: str | None = None        # a bucket: the clause is filled in its colour
    clause_id: int | None = None
    kind: str | None = None          # an exposure field kind: evidence is marked in EVIDENCE_COLOUR


def marked_html(text: str, marks: Sequence[Mark], *, selected: int | None = None) -> str:
    """`text` escaped, each mark wrapped in <mark>; overlapping marks are clipped to the earlier one."""
    out, at = [f'<div class="marked-text" style="{_PRE}">'], 0
    for mark in sorted(marks, key=lambda m: (m.start, -m.end)):
        start, end = max(mark.start, at), min(mark.end, len(text))
        if end <= start:
            continue
        out.append(html.escape(text[at:start]))
        out.append(_open(mark, mark.clause_id is not None and mark.clause_id == selected))
        out.append(html.escape(text[start:end]))
        out.append("</mark>")
        at = end
    out.append(html.escape(text[at:]))
    out.append("</div>")
    return "".join(out)


def _open(mark: Mark, selected: bool) -> str:
    if mark.kind is not None:
        kind = html.escape(mark.kind, quote=True)
        return (f'<mark class="evidence" data-field="{kind}" style="background-color: {EVIDENCE_COLOUR}; '
                f'color: inherit; padding: 0 1px; border-radius: 2px">')
    colour = BY_ID[mark.label].colour if mark.label in BY_ID else "#cccccc"
    outline = f"; outline: 3px solid {colour}; outline-offset: 1px" if selected else ""
    attrs = f' data-clause-id="{int(mark.clause_id)}"' if mark.clause_id is not None else ""
    label = html.escape(mark.label or "", quote=True)
    return (f'<mark class="clause-mark{" selected" if selected else ""}" data-label="{label}"{attrs} '
            f'style="background-color: {colour}40; color: inherit; padding: 1px 0{outline}">')


def evidence_marks(spans: Iterable[tuple[str, int, int]]) -> list[Mark]:
    """Marks for exposure evidence (kind, start, end): overlapping spans merged, so no words are lost."""
    merged: list[Mark] = []
    for kind, start, end in sorted(spans, key=lambda s: (s[1], s[2])):
        if merged and start <= merged[-1].end:
            last = merged[-1]
            merged[-1] = Mark(last.start, max(last.end, end), kind=last.kind)
        else:
            merged.append(Mark(start, end, kind=kind))
    return merged


def snippet(text: str, start: int, end: int, *, context: int = 80) -> tuple[str, int, int]:
    """The words around text[start:end] (at most `context` characters each side, cut at spaces), with the
    evidence's offsets in the snippet."""
    left = max(0, start - context)
    if left:
        space = text.find(" ", left, start)
        left = space + 1 if space >= 0 else left
    right = min(len(text), end + context)
    if right < len(text):
        space = text.rfind(" ", end, right)
        right = space if space >= 0 else right
    prefix = "…" if left else ""
    suffix = "…" if right < len(text) else ""
    return prefix + text[left:right] + suffix, start - left + len(prefix), end - left + len(prefix)


def around(text: str, start: int, end: int, *, context: int = 1500) -> tuple[int, int]:
    """The paragraphs holding text[start:end] and about `context` characters either side, as offsets."""
    if start - context <= 0:
        begin = 0
    else:
        paragraph = text.rfind("\n\n", 0, start - context)
        begin = 0 if paragraph < 0 else paragraph + 2
    paragraph = text.find("\n\n", min(len(text), end + context))
    return begin, len(text) if paragraph < 0 else paragraph
