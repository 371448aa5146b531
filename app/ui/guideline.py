"""The labelling guideline beside the clause: bucket definitions and near-miss notes, read at run time."""
from __future__ import annotations

from pathlib import Path

import streamlit as st

from app.config import get_settings

GUIDELINE = Path("taxonomy") / "liability_buckets.md"
# The part a reviewer needs: the table of buckets and the notes; the CUAD mapping after it is for the model.
_END_MARKER = "Mapping to the two yes/no questions"


def guideline_path() -> Path:
    return get_settings().shared_dir / GUIDELINE


def guideline_text(path: Path | None = None) -> str | None:
    """The bucket definitions and near-miss notes of the guideline; None when the file is absent."""
    path = path or guideline_path()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return None
    body = text.split(_END_MARKER, 1)[0]
    lines = body.splitlines()
    if lines and lines[0].startswith("# "):
        lines = lines[1:]   # the page has its own heading
    return "\n".join(lines).strip()


def show_guideline(expanded: bool = False) -> None:
    with st.expander("Guideline: the buckets and the near misses", expanded=expanded, icon=":material/menu_book:"):
        text = guideline_text()
        if text is None:
            st.warning(f"The guideline is not at {guideline_path()}; set LEXDORA_SHARED_DIR to the shared folder "
                       "that holds taxonomy/liability_buckets.md.")
        else:
            st.markdown(text)
