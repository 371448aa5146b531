"""Review queue: near misses first; keys 1-7 pick a label, Enter confirms, S skips; the next clause loads at once."""
import streamlit as st

from app import services
from app.taxonomy import LABELS
from app.ui.render import clause_heading, escape_markdown, label_name, probability_chart, show_clause_text
from app.ui.session import require_user

CONTEXT_CHARS = 240  # of each neighbouring clause, next to the one under review

user = require_user()
st.session_state.setdefault("review_skipped", [])


def _load_next() -> None:
    item = services.claim_next_review(user.id, exclude=st.session_state.review_skipped)
    st.session_state.review_item = item
    st.session_state.review_choice = item.clause.model_label if item else None
    st.session_state.review_comment = ""


def _pick(label: str) -> None:
    st.session_state.review_choice = label


def _confirm() -> None:
    item = st.session_state.review_item
    try:
        services.submit_review(user.id, item.clause.id, st.session_state.review_choice,
                               comment=st.session_state.review_comment)
    except services.ServiceError as e:
        st.session_state.review_error = str(e)
    _load_next()


def _skip() -> None:
    # Excluded clauses are released by the service and not offered again until "Check again".
    st.session_state.review_skipped.append(st.session_state.review_item.clause.id)
    _load_next()


def _check_again() -> None:
    st.session_state.review_skipped = []
    _load_next()


if "review_item" not in st.session_state:
    _load_next()
item = st.session_state.review_item

st.title("Review queue")
if error := st.session_state.pop("review_error", None):
    st.error(error)
if item is None:
    st.success("Nothing left to review. New contracts add clauses here as they are scored.")
    st.button("Check again", key="review_refresh", on_click=_check_again)
    st.stop()

with st.container(key="review_source"):
    st.caption(escape_markdown(f"{item.filename} · {item.clause.reason} · "
                               f"held for you until {item.claim_expires_at:%H:%M} UTC"))
text_col, side_col = st.columns([3, 2], gap="large")
with text_col:
    # Neighbours are trimmed to the words next to the clause, so the clause itself stays in view.
    for neighbour in item.before:
        st.caption(escape_markdown(f"{clause_heading(neighbour.number, neighbour.heading, neighbour.page)}: "
                                   f"…{neighbour.text[-CONTEXT_CHARS:]}"))
    with st.container(border=True, key="review_clause"):
        st.markdown("**Clause to review**")
        st.text(clause_heading(item.clause.number, item.clause.heading, item.clause.page))
        show_clause_text(item.clause.text)
    for neighbour in item.after:
        st.caption(escape_markdown(f"{clause_heading(neighbour.number, neighbour.heading, neighbour.page)}: "
                                   f"{neighbour.text[:CONTEXT_CHARS]}…"))
    with st.expander("Neighbouring clauses in full"):
        for neighbour in [*item.before, *item.after]:
            st.caption(escape_markdown(clause_heading(neighbour.number, neighbour.heading, neighbour.page)))
            show_clause_text(neighbour.text)

with side_col, st.container(key="review_side"):
    st.altair_chart(probability_chart(item.clause.probs), key="review_probabilities")
    st.markdown(f"Model: **{label_name(item.clause.model_label)}** · your label: "
                f"**{label_name(st.session_state.review_choice)}**")
    for n, label in enumerate(LABELS, start=1):
        st.button(label.display, key=f"pick_{label.id}", shortcut=str(n), on_click=_pick, args=(label.id,),
                  type="primary" if label.id == st.session_state.review_choice else "secondary",
                  width="stretch", help=label.description)
    st.text_input("Comment (optional)", key="review_comment")
    st.caption("Shortcuts work while the cursor is outside the comment box.")
    confirm_col, skip_col = st.columns(2)
    confirm_col.button("Confirm", key="review_confirm", shortcut="Enter", on_click=_confirm, type="primary",
                       width="stretch")
    skip_col.button("Skip", key="review_skip", shortcut="S", on_click=_skip, width="stretch")
