"""One contract: its exposure with evidence, the document with liability clauses highlighted, one clause's
label, probabilities and decision; every clause in a table; exports.

The contract comes from st.session_state.contract_id (the contract list sets it); the selectbox is the
fallback way to pick one.
"""
import pandas as pd
import streamlit as st

from app import services
from app.exposure import clause_reference, heading_title
from app.exposure_fields import FIELD_KINDS, FIELD_NAMES
from app.taxonomy import BUCKETS, LABEL_IDS
from app.ui.highlight import Mark, around, evidence_marks, marked_html, snippet
from app.ui.render import (STATUS_NAMES, escape_markdown, label_badge, label_cell_style, label_name,
                           probability_chart)
from app.ui.session import require_user

user = require_user()
st.title("Contracts")

contracts = services.list_contracts(user.id)
if not contracts:
    st.info("No contracts yet. A lawyer uploads them on the Upload page.")
    st.stop()

names = {c.id: f"{c.filename} · {c.n_clauses} clauses" for c in contracts}
if st.session_state.get("contract_id") not in names:
    st.session_state.contract_id = contracts[0].id
contract_id = st.selectbox("Contract", list(names), format_func=names.get, key="contract_id")
detail = services.get_contract(user.id, contract_id)
document = services.get_document(user.id, contract_id)
clauses = {c.id: c for c in detail.clauses}
liability = [c for c in detail.clauses if c.label != "none"]
paged = bool(document.page_count)  # only PDFs have pages; a TXT clause is on no "page 1"


def clause_option(clause_id: int) -> str:
    """'§ 9.1 Limitation of liability · page 7 · Capped': the contract's own number and heading, said once."""
    c = clauses[clause_id]
    title = heading_title(c.heading)
    where = clause_reference(c.number, c.heading, c.text)
    parts = [f"§ {where}" if c.number else where, title if c.number and title else "",
             f"page {c.page}" if paged and c.page else "", label_name(c.label)]
    return " · ".join(p for p in parts if p)


# The selected clause belongs to this contract; a new contract starts at its worst exposure.
if st.session_state.get("clause_id") not in clauses:
    first = detail.exposure[0].clause_id if detail.exposure else (liability or detail.clauses)[0].id
    st.session_state.clause_id = first
    st.session_state.doc_page = clauses[first].page or 1


@st.cache_data(max_entries=16, show_spinner=False)
def rendered_page(user_id: int, contract_id: int, page: int, selected: int, labels: tuple[str, ...]):
    """A page costs a few tenths of a second; `labels` is in the key so a review redraws it."""
    return services.render_contract_page(user_id, contract_id, page, selected_clause_id=selected)


def select_clause(clause_id: int) -> None:
    """Callback of every way to pick a clause: the picker, a field of the card, a row of the table."""
    st.session_state.clause_id = clause_id
    st.session_state.doc_page = clauses[clause_id].page or 1


# --- the exposure card ---------------------------------------------------------------------------
st.subheader("Exposure")
counts = detail.contract.label_counts
for column, label in zip(st.columns(len(BUCKETS)), BUCKETS):
    column.metric(label_name(label), counts.get(label, 0))

with st.container(border=True, key="exposure_card"):
    if not detail.fields:
        st.caption("No cap, carve-out, excluded damages or time bar found in the liability clauses.")
    for kind in FIELD_KINDS:
        found = [f for f in detail.fields if f.kind == kind]
        if not found:
            continue
        st.markdown(f"**{FIELD_NAMES[kind]}**")
        # One row per clause: "consequential, indirect, lost profits" with each word marked in one snippet.
        by_clause = {}
        for f in found:
            by_clause.setdefault(f.clause_id, []).append(f)
        for n, (clause_id, group) in enumerate(by_clause.items()):
            clause = clauses[clause_id]
            first, last = min(f.start for f in group), max(f.end for f in group)
            text, start, _ = snippet(clause.text, first, last, context=60)
            marks = evidence_marks((kind, f.start - first + start, f.end - first + start) for f in group)
            value_col, evidence_col, go_col = st.columns([2, 6, 1], vertical_alignment="center")
            value_col.text(", ".join(f.value for f in group))
            evidence_col.markdown(marked_html(text, marks), unsafe_allow_html=True)
            reference = group[0].reference
            go_col.button((f"§ {reference}" if clause.number else reference)[:24], key=f"field_{kind}_{n}",
                          on_click=select_clause, args=(clause_id,), help="Show this clause in the document")
    if detail.exposure:
        with st.expander("One line per liability clause"):
            st.text("\n".join(f"• {item.line}" for item in detail.exposure))

# --- the document and the selected clause --------------------------------------------------------
st.subheader("Document")
doc_col, clause_col = st.columns([3, 2])

with clause_col:
    st.selectbox("Clause", [c.id for c in detail.clauses], format_func=clause_option, key="clause_id",
                 on_change=lambda: select_clause(st.session_state.clause_id))
    clause = clauses[st.session_state.clause_id]
    with st.container(border=True, key="clause_detail"):
        st.markdown(label_badge(clause.label), unsafe_allow_html=True)
        st.caption(escape_markdown(f"{STATUS_NAMES.get(clause.status, clause.status)} · {clause.reason}"))
        if clause.latest_review is not None:
            st.caption(escape_markdown(f"Label set by {clause.latest_review.reviewer}; the model said "
                                       f"{label_name(clause.model_label)}."))
        st.altair_chart(probability_chart(clause.probs), key="clause_probabilities")
        own = [f for f in detail.fields if f.clause_id == clause.id]
        if own:
            st.dataframe(pd.DataFrame({"field": [f.name for f in own], "value": [f.value for f in own],
                                       "words": [clause.text[f.start:f.end] for f in own]}),
                         hide_index=True, key="clause_fields")
        marks = evidence_marks((f.kind, f.start, f.end) for f in own)
        with st.container(height=320, key="clause_text"):
            st.markdown(marked_html(clause.text, marks), unsafe_allow_html=True)

with doc_col:
    if document.page_count:
        st.number_input("Page", min_value=1, max_value=document.page_count, step=1, key="doc_page")
        page_number = int(st.session_state.doc_page)
        page = rendered_page(user.id, contract_id, page_number, clause.id, tuple(s.label for s in document.spans))
        st.image(page.png, caption=f"Page {page_number} of {document.page_count}")
        span = next(s for s in document.spans if s.clause_id == clause.id)
        if clause.id not in page.boxes and (span.page or 0) <= page_number <= (span.page_end or span.page or 0):
            st.caption("The selected clause is on this page but its words were not found in the page's text "
                       "layer; read it on the right.")
    else:
        if document.format == "pdf":
            st.caption("The original PDF is not in the upload folder; its text is shown instead.")
        # Streamlit cannot scroll to the clause, so the view opens on the text around it.
        whole = st.toggle("Whole document", key="doc_whole")
        span = next(s for s in document.spans if s.clause_id == clause.id)
        begin, finish = (0, len(document.text)) if whole else around(document.text, span.start, span.end)
        marks = [Mark(max(s.start, begin) - begin, min(s.end, finish) - begin, label=s.label, clause_id=s.clause_id)
                 for s in document.spans if s.label != "none" and s.end > begin and s.start < finish]
        if begin:
            st.caption("Earlier text is left out; switch on “Whole document” to read it all.")
        with st.container(height=700, key="document_text"):
            st.markdown(marked_html(document.text[begin:finish], marks, selected=clause.id), unsafe_allow_html=True)
        if finish < len(document.text):
            st.caption("Later text is left out; switch on “Whole document” to read it all.")

# --- every clause ----------------------------------------------------------------------------------
st.subheader("All clauses")
left, right = st.columns(2)
buckets = left.multiselect("Bucket", LABEL_IDS, format_func=label_name, key="filter_labels",
                           placeholder="All buckets")
decisions = right.multiselect("Decision", list(STATUS_NAMES), format_func=STATUS_NAMES.get,
                              key="filter_decisions", placeholder="All decisions")
rows = [c for c in detail.clauses
        if (not buckets or c.label in buckets) and (not decisions or c.status in decisions)]


def table_selected() -> None:
    picked = st.session_state.clauses_table.selection.rows
    if picked:
        select_clause(rows[picked[0]].id)


table = pd.DataFrame({
    "number": [c.number or "" for c in rows],
    "heading": [c.heading or "" for c in rows],
    "page": [c.page if paged else None for c in rows],
    "bucket": [label_name(c.label) for c in rows],
    "probability": [c.confidence for c in rows],
    "decision": [STATUS_NAMES.get(c.status, c.status) for c in rows],
    "reason": [c.reason for c in rows],
    "text": [c.text for c in rows],
})
st.dataframe(
    table.style.map(label_cell_style, subset=["bucket"]), hide_index=True, key="clauses_table",
    on_select=table_selected, selection_mode="single-row",
    column_config={"number": "§", "probability": st.column_config.ProgressColumn("probability", format="%.2f",
                                                                                  min_value=0.0, max_value=1.0)},
)
st.caption(f"{len(rows)} of {len(detail.clauses)} clauses. Select a row to show it in the document.")

st.subheader("Export")
stem = detail.contract.filename.rsplit(".", 1)[0]
st.caption("This contract")
c1, c2, c3 = st.columns(3)
c1.download_button("Labels as CSV", lambda: services.export_labels(user.id, "csv", contract_id=contract_id),
                   file_name=f"{stem}-labels.csv", mime="text/csv", key="export_csv", on_click="ignore")
c2.download_button("Labels as JSONL", lambda: services.export_labels(user.id, "jsonl", contract_id=contract_id),
                   file_name=f"{stem}-labels.jsonl", mime="application/jsonl", key="export_jsonl", on_click="ignore")
c3.download_button("Excel report", lambda: services.export_contract_excel(user.id, contract_id),
                   file_name=f"{stem}-report.xlsx", key="export_excel", on_click="ignore",
                   mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
st.caption("All contracts")
a1, a2, _ = st.columns(3)
a1.download_button("All labels as CSV", lambda: services.export_labels(user.id, "csv"), file_name="labels.csv",
                   mime="text/csv", key="export_all_csv", on_click="ignore")
a2.download_button("All labels as JSONL", lambda: services.export_labels(user.id, "jsonl"), file_name="labels.jsonl",
                   mime="application/jsonl", key="export_all_jsonl", on_click="ignore")
