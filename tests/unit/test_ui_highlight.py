"""Marked contract text: user text is escaped, marks wrap exactly their characters, evidence spans merge."""
from __future__ import annotations

import re

from app.taxonomy import BY_ID
from app.ui.highlight import Mark, around, evidence_marks, marked_html, snippet


def test_contract_text_is_escaped_inside_and_outside_marks():
    text = '<script>alert(1)</script> & "cap" <b>here</b>'
    start = text.index("&")
    out = marked_html(text, [Mark(start, start + len('& "cap"'), label="capped", clause_id=7)])
    assert "<script>" not in out and "<b>" not in out
    assert "&lt;script&gt;" in out and "&lt;b&gt;here&lt;/b&gt;" in out
    assert '&amp; &quot;cap&quot;</mark>' in out


def test_a_clause_mark_takes_its_bucket_colour_and_the_selected_one_an_outline():
    text = "First clause. Second clause."
    out = marked_html(text, [Mark(0, 13, label="capped", clause_id=1), Mark(14, 28, label="exclusion", clause_id=2)],
                      selected=2)
    assert f'data-clause-id="1" style="background-color: {BY_ID["capped"].colour}40' in out
    assert out.count("outline:") == 1 and 'class="clause-mark selected" data-label="exclusion"' in out
    assert ">First clause.</mark> <mark" in out


def test_overlapping_marks_never_repeat_or_lose_text():
    text = "abcdefghij"
    out = marked_html(text, [Mark(2, 6, kind="cap_amount"), Mark(4, 8, kind="cap_basis")])
    assert re.sub(r"<[^>]+>", "", out) == text


def test_evidence_spans_that_overlap_are_merged():
    marks = evidence_marks([("cap_basis", 10, 20), ("cap_period", 15, 30), ("cap_amount", 40, 45)])
    assert [(m.start, m.end, m.kind) for m in marks] == [(10, 30, "cap_basis"), (40, 45, "cap_amount")]


def test_snippet_cuts_at_spaces_and_keeps_the_evidence_offsets():
    text = "word " * 40 + "EVIDENCE here " + "word " * 40
    start = text.index("EVIDENCE")
    short, a, b = snippet(text, start, start + 8, context=20)
    assert short[a:b] == "EVIDENCE"
    assert short.startswith("…word") and short.endswith("word…")


def test_the_text_around_a_clause_starts_and_ends_at_paragraph_breaks():
    paragraphs = [f"Paragraph {n} " + "word " * 60 for n in range(40)]
    text = "\n\n".join(paragraphs)
    start = text.index("Paragraph 20 ")
    end = start + len(paragraphs[20])
    begin, finish = around(text, start, end, context=700)
    assert text[begin:].startswith("Paragraph ") and text[finish:finish + 2] == "\n\n"
    assert begin < start - 700 and finish > end + 700
    assert finish - begin < len(text) / 2
    assert around(text, 10, 50, context=700)[0] == 0
    assert around(text, len(text) - 20, len(text), context=700)[1] == len(text)
