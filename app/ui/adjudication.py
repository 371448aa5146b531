"""Adjudication: clauses whose reviewers disagree; an admin's label settles them and is what retraining takes."""
import streamlit as st

from app import services
from app.taxonomy import LABEL_IDS
from app.ui.guideline import show_guideline
from app.ui.render import clause_heading, escape_markdown, label_badge, label_name, show_clause_text
from app.ui.session import require_user

user = require_user()
st.title("Adjudication")
if done := st.session_state.pop("adjudicated", None):
    st.success(escape_markdown(done))
disputes = services.list_disputes(user.id)
if not disputes:
    st.info("No disagreements to settle.")
    show_guideline()
    st.stop()


def _settle(clause_id: int) -> None:
    label = st.session_state[f"adjudicate_label_{clause_id}"]
    info = services.adjudicate(user.id, clause_id, label, st.session_state.get(f"adjudicate_comment_{clause_id}", ""))
    st.session_state.adjudicated = f"Settled as {label_name(info.label)}."


st.caption(f"{len(disputes)} clauses where reviewers disagree. The label you choose is final for retraining.")
for d in disputes:
    c = d.clause
    with st.container(border=True, key=f"dispute_{c.id}"):
        st.markdown(escape_markdown(f"{d.filename} · {clause_heading(c.number, c.heading, c.page)}"))
        st.markdown(" · ".join(f"{escape_markdown(name)}: {label_badge(label)}" for name, label in d.reviewers.items())
                    + f" · model: {label_badge(c.model_label)}", unsafe_allow_html=True)
        show_clause_text(c.text)
        pick, comment, go = st.columns([2, 3, 1], vertical_alignment="bottom")
        pick.selectbox("Settled label", LABEL_IDS, index=LABEL_IDS.index(c.label), format_func=label_name,
                       key=f"adjudicate_label_{c.id}")
        comment.text_input("Why (optional)", key=f"adjudicate_comment_{c.id}")
        go.button("Settle", key=f"adjudicate_{c.id}", on_click=_settle, args=(c.id,), type="primary", width="stretch")
show_guideline()
