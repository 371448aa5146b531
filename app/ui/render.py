"""Small rendering helpers shared by pages. Clause text is always shown as plain text, never as HTML."""
from __future__ import annotations

from collections.abc import Mapping

import altair as alt
import pandas as pd
import streamlit as st

from app.roles import CLAUSE_STATUS_NAMES
from app.taxonomy import BY_ID, LABEL_IDS


def label_name(label: str | None) -> str:
    return BY_ID[label].display if label in BY_ID else "—"


def _text_colour(hex_colour: str) -> str:
    """Black or white, whichever reads better on `hex_colour` (WCAG relative luminance)."""
    r, g, b = (int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5))
    lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in (r, g, b)]
    luminance = 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]
    return "#000000" if luminance > 0.179 else "#ffffff"


def label_cell_style(display_name: str) -> str:
    """CSS for a dataframe cell holding a label's display name: the bucket's colour from app.taxonomy."""
    for label in BY_ID.values():
        if label.display == display_name:
            return f"background-color: {label.colour}; color: {_text_colour(label.colour)}"
    return ""


def probability_chart(probabilities: Mapping[str, float]) -> alt.Chart:
    """Horizontal bars, one per label in taxonomy order, each in its bucket's colour."""
    df = pd.DataFrame({"label": [label_name(i) for i in LABEL_IDS],
                       "probability": [float(probabilities.get(i, 0.0)) for i in LABEL_IDS]})
    names = [label_name(i) for i in LABEL_IDS]
    colours = [BY_ID[i].colour for i in LABEL_IDS]
    bars = alt.Chart(df).mark_bar().encode(
        x=alt.X("probability:Q", scale=alt.Scale(domain=[0, 1]), title="probability"),
        y=alt.Y("label:N", sort=names, title=None, axis=alt.Axis(labelOverlap=False, labelLimit=160)),
        color=alt.Color("label:N", scale=alt.Scale(domain=names, range=colours), legend=None),
        tooltip=["label", alt.Tooltip("probability:Q", format=".2f")],
    )
    text = bars.mark_text(align="left", dx=3).encode(text=alt.Text("probability:Q", format=".2f"),
                                                      color=alt.value("#333333"))
    return (bars + text).properties(height=7 * 26)


def clause_heading(number: str | None, heading: str | None, page: int | None) -> str:
    """'§ 12.3 · 12 LIMITATION OF LIABILITY > Cap · page 7' as plain text (callers pass it to st.text or a
    caption). The heading path ends with the clause's own number ("... > 12.3 Cap"), shown once, up front;
    no page when the document has none."""
    parts = [f"§ {number}" if number else "", _path_without_number(heading or "", number),
             f"page {page}" if page else ""]
    return " · ".join(p for p in parts if p)


def _path_without_number(heading: str, number: str | None) -> str:
    """'12 LIABILITY > 12.3 Cap' without the '12.3' of clause 12.3: '12 LIABILITY > Cap'."""
    *path, last = heading.split(" > ")
    if number and (last == number or last.startswith(number + " ")):
        last = last[len(number):].strip()
    return " > ".join(p for p in [*path, last] if p)


def show_clause_text(text: str) -> None:
    """The clause as plain text: st.text never interprets Markdown or HTML."""
    st.text(text, width="stretch")


_MARKDOWN_SPECIALS = set("\\`*_{}[]()<>#+-.!|:~$=")


def escape_markdown(text: str) -> str:
    """Backslash-escape every Markdown/Streamlit directive character (CommonMark allows it for all ASCII
    punctuation), so user text in a caption or label renders literally."""
    return "".join("\\" + ch if ch in _MARKDOWN_SPECIALS else ch for ch in text)

# Clause statuses as a lawyer reads them; the table lives in app.roles, which exports read too.
STATUS_NAMES = CLAUSE_STATUS_NAMES


def percent(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"


def reliability_chart(bins) -> alt.Chart:
    """Confidence (x) against observed accuracy (y) per bin, with the diagonal of perfect calibration."""
    df = pd.DataFrame([{"confidence": b.confidence, "accuracy": b.accuracy, "clauses": b.count} for b in bins])
    diagonal = alt.Chart(pd.DataFrame({"x": [0.0, 1.0], "y": [0.0, 1.0]})).mark_line(
        strokeDash=[4, 4], color="#999999").encode(x="x:Q", y="y:Q")
    points = alt.Chart(df).mark_line(point=True).encode(
        x=alt.X("confidence:Q", scale=alt.Scale(domain=[0, 1]), title="model confidence"),
        y=alt.Y("accuracy:Q", scale=alt.Scale(domain=[0, 1]), title="kept by reviewers"),
        tooltip=["confidence", "accuracy", "clauses"])
    return (diagonal + points).properties(height=300)


def split_metrics(metrics: dict) -> tuple[list[dict], list[dict]]:
    """A card's metrics as (one row of scalar metrics per split, one row of per-label F1 per label).

    Cards nest metrics by split ({"test": {"macro_f1": ..., "per_label_f1": {...}}}); a flat card is one split.
    """
    splits = {k: v for k, v in metrics.items() if isinstance(v, dict)} or {"all": metrics}
    scalars = [{"split": name, **{k: v for k, v in m.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}}
               for name, m in splits.items()]
    per_label = [{"label": label_name(label), **{name: (m.get("per_label_f1") or {}).get(label) for name, m in splits.items()}}
                 for label in LABEL_IDS if any(label in (m.get("per_label_f1") or {}) for m in splits.values())]
    return scalars, per_label


def label_badge(label: str | None) -> str:
    """A label's name on its bucket's colour, as HTML for st.markdown(unsafe_allow_html=True); names and
    colours come from app.taxonomy only, never from user text."""
    if label not in BY_ID:
        return "—"
    colour = BY_ID[label].colour
    return (f'<span class="label-badge" data-label="{label}" style="background-color: {colour}; '
            f'color: {_text_colour(colour)}; padding: 0.1em 0.5em; border-radius: 0.4em; font-weight: 600">'
            f"{BY_ID[label].display}</span>")


RULE_NAMES = {"near_miss": "near miss between two confusable labels", "below_floor": "below the policy's floor",
              "below_threshold": "below the label's auto-accept threshold", "confident": "auto-accepted"}


def probability_hover(probabilities: Mapping[str, float], rule: str | None = None) -> str:
    """The numbers behind a reason, for a tooltip: every label's probability, highest first, and the rule."""
    ranked = sorted(((float(p), label) for label, p in probabilities.items()), reverse=True)
    lines = [f"{label_name(label)}: {p:.2f}" for p, label in ranked]
    if rule:
        lines.append(f"routing rule: {RULE_NAMES.get(rule, rule)}")
    return "  \n".join(lines)
