"""History: the clauses this reviewer reviewed, latest first, with every review of each; reopen any of them."""
import time

import streamlit as st

from app import services
from app.ui.render import clause_heading, escape_markdown, label_badge, label_name, show_clause_text
from app.ui.session import require_user

KIND_NAMES = {"review": "review", "undo": "undo", "adjudication": "adjudication"}

user = require_user()
st.title("History")
history = services.review_history(user.id)
if not history:
    st.info("You have not reviewed a clause yet.")
    st.stop()


def _reopen(clause_id: int) -> None:
    try:
        task = services.reopen_clause(user.id, clause_id)
    except services.ServiceError as e:
        st.session_state.history_error = str(e)
        return
    st.session_state.review_item = task
    st.session_state.review_choice = task.clause.label
    st.session_state.review_comment = ""
    st.session_state.review_shown_at = time.monotonic()
    st.session_state.review_reopened = True


if error := st.session_state.pop("history_error", None):
    st.error(escape_markdown(error))
if st.session_state.pop("review_reopened", False):
    st.switch_page("app/ui/review.py")

st.caption(f"{len(history)} clauses, the latest you reviewed first. Reopen one to change its label: "
           "your new review is added to its history, nothing is overwritten.")
for entry in history:
    c = entry.clause
    with st.container(border=True, key=f"history_{c.id}"):
        head, button = st.columns([5, 1], vertical_alignment="center")
        head.markdown(f"{label_badge(c.label)} · {escape_markdown(entry.filename)} · "
                      f"{escape_markdown(clause_heading(c.number, c.heading, c.page) or f'clause {c.index + 1}')}",
                      unsafe_allow_html=True)
        button.button("Reopen", key=f"reopen_{c.id}", on_click=_reopen, args=(c.id,), width="stretch")
        st.caption(escape_markdown(c.text[:300] + ("…" if len(c.text) > 300 else "")))
        with st.expander(f"{len(entry.reviews)} reviews · model said {label_name(c.model_label)}"):
            st.dataframe([{"when (UTC)": r.created_at.strftime("%Y-%m-%d %H:%M"), "who": r.reviewer,
                           "what": KIND_NAMES.get(r.kind, r.kind), "from": label_name(r.previous_label),
                           "to": label_name(r.new_label), "comment": r.comment} for r in entry.reviews],
                         hide_index=True, key=f"history_reviews_{c.id}")
            show_clause_text(c.text)
