"""Rendering helpers of app/ui: user text stays literal, bucket colours come from the taxonomy."""
from __future__ import annotations

import pytest

from app.taxonomy import BY_ID, LABELS
from app.ui.render import clause_heading, escape_markdown, label_cell_style, label_name, split_metrics


@pytest.mark.parametrize("text", ["**bold**", "<b>x</b>", ":red[alarm]", "[link](http://x)", "# heading",
                                  "a_b_c", "$x$", "`code`", ":material/home:"])
def test_escaped_markdown_has_no_unescaped_special_character(text):
    escaped = escape_markdown(text)
    unescaped = escaped.replace("\\\\", "").replace("\\", "")
    assert unescaped == text.replace("\\", "")
    assert all(escaped[i - 1] == "\\" for i, ch in enumerate(escaped) if ch in "*<>:[]#_$`" and i > 0)


def test_every_bucket_cell_takes_its_taxonomy_colour_with_readable_text():
    for label in LABELS:
        style = label_cell_style(label.display)
        assert f"background-color: {label.colour}" in style
        assert style.endswith(("color: #000000", "color: #ffffff"))
    assert label_cell_style("not a label") == ""


def test_dark_buckets_get_white_text_and_the_mid_grey_of_none_black():
    assert label_cell_style(BY_ID["carve_out"].display).endswith("#ffffff")
    assert label_cell_style(BY_ID["capped"].display).endswith("#ffffff")
    assert label_cell_style(BY_ID["none"].display).endswith("#000000")


def test_clause_heading_leaves_out_what_is_missing():
    assert clause_heading("12.3", "Limitation of Liability", 7) == "§ 12.3 · Limitation of Liability · page 7"
    assert clause_heading(None, None, None) == ""
    assert clause_heading(None, "LIMITATION OF LIABILITY", None) == "LIMITATION OF LIABILITY"


def test_clause_heading_shows_the_clause_number_once():
    # the heading path the segmenter gives ends with the clause's own number
    assert clause_heading("4.2", "4.2", None) == "§ 4.2"
    assert clause_heading("12.3", "12 LIMITATION OF LIABILITY > 12.3", 7) == \
        "§ 12.3 · 12 LIMITATION OF LIABILITY · page 7"
    assert clause_heading("12.3", "12 LIABILITY > 12.3 Cap", None) == "§ 12.3 · 12 LIABILITY > Cap"
    assert clause_heading("(b)", "9.2 Cap > (b)", 2) == "§ (b) · 9.2 Cap · page 2"
    assert clause_heading("1", "10 Term > 10.1", None) == "§ 1 · 10 Term > 10.1"  # "10.1" is not "1" repeated
    assert label_name("carve_out") == "Cap with carve-out"
    assert label_name(None) == "—"


def test_split_metrics_reads_nested_and_flat_cards():
    nested = {"test": {"accuracy": 0.7, "n": 178, "per_label_f1": {"capped": 0.4, "cap_and_collar": None}},
              "validation": {"accuracy": 0.6, "per_label_f1": {"capped": 0.5}}}
    scalars, per_label = split_metrics(nested)
    assert scalars == [{"split": "test", "accuracy": 0.7, "n": 178}, {"split": "validation", "accuracy": 0.6}]
    assert per_label == [{"label": "Cap and collar", "test": None, "validation": None},
                         {"label": "Capped", "test": 0.4, "validation": 0.5}]
    assert split_metrics({"macro_f1": 0.5, "merged": True}) == ([{"split": "all", "macro_f1": 0.5}], [])
