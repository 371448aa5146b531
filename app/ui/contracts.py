"""Contracts: pick one, see its exposure and its clauses coloured by bucket; export labels."""
import pandas as pd
import streamlit as st

from app import services
from app.taxonomy import BUCKETS, LABEL_IDS
from app.ui.render import STATUS_NAMES, clause_heading, label_cell_style, label_name, show_clause_text
from app.ui.session import require_user

EXPOSURE_SHOWN = 8  # lines before the rest fold away

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

st.subheader("Exposure")
counts = detail.contract.label_counts
for column, label in zip(st.columns(len(BUCKETS)), BUCKETS):
    column.metric(label_name(label), counts.get(label, 0))
lines = [f"• {item.line}" for item in detail.exposure]  # worst first, as the service orders them
st.text("\n".join(lines[:EXPOSURE_SHOWN]) or "No liability or indemnity terms found.")
if len(lines) > EXPOSURE_SHOWN:
    with st.expander(f"{len(lines) - EXPOSURE_SHOWN} more"):
        st.text("\n".join(lines[EXPOSURE_SHOWN:]))

left, right = st.columns(2)
buckets = left.multiselect("Bucket", LABEL_IDS, format_func=label_name, key="filter_labels",
                           placeholder="All buckets")
decisions = right.multiselect("Decision", list(STATUS_NAMES), format_func=STATUS_NAMES.get,
                              key="filter_decisions", placeholder="All decisions")
rows = [c for c in detail.clauses
        if (not buckets or c.label in buckets) and (not decisions or c.status in decisions)]

table = pd.DataFrame({
    "number": [c.number or "" for c in rows],
    "heading": [c.heading or "" for c in rows],
    "page": [c.page for c in rows],
    "bucket": [label_name(c.label) for c in rows],
    "probability": [c.confidence for c in rows],
    "decision": [STATUS_NAMES.get(c.status, c.status) for c in rows],
    "reason": [c.reason for c in rows],
    "text": [c.text for c in rows],
})
selection = st.dataframe(
    table.style.map(label_cell_style, subset=["bucket"]), hide_index=True, key="clauses_table",
    on_select="rerun", selection_mode="single-row",
    column_config={"number": "§", "probability": st.column_config.ProgressColumn("probability", format="%.2f",
                                                                                  min_value=0.0, max_value=1.0)},
)
st.caption(f"{len(rows)} of {len(detail.clauses)} clauses. Select a row to read the whole clause.")
if selection.selection.rows:
    clause = rows[selection.selection.rows[0]]
    with st.container(border=True, key="clause_detail"):
        st.text(clause_heading(clause.number, clause.heading, clause.page))
        show_clause_text(clause.text)

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
