"""Contracts: every contract at a glance (status, CUAD's two answers, counts per bucket); a row opens it."""
import pandas as pd
import streamlit as st

from app import services
from app.taxonomy import BUCKETS
from app.ui.render import escape_markdown, label_name
from app.ui.session import require_user

REFRESH_S = 2  # how often the list reloads itself while the worker has contracts in hand

user = require_user()
st.title("Contracts")

# Human words for a contract's status; "scoring" gets its progress.
STATUS_TEXT = {"queued": "queued", "failed": "failed", "in_review": "waiting for review", "complete": "reviewed",
               "archived": "archived"}


def status_text(row: services.ContractRow) -> str:
    c = row.contract
    if c.status == "scoring":
        return f"scoring {int(c.progress * 100)}%"
    return STATUS_TEXT.get(c.status, c.status)


def answer(has: bool | None, p: float | None) -> str:
    return "" if has is None else f"{'Yes' if has else 'No'} ({p:.0%})"


def table(rows: list[services.ContractRow]) -> pd.DataFrame:
    return pd.DataFrame({
        "id": [r.contract.id for r in rows],
        "contract": [r.contract.filename for r in rows],
        "status": [status_text(r) for r in rows],
        "has cap": [answer(r.has_cap, r.p_cap) for r in rows],
        "uncapped": [answer(r.has_uncapped, r.p_uncapped) for r in rows],
        "to review": [r.contract.n_needs_review for r in rows],
        **{label_name(b): [r.contract.label_counts.get(b, 0) for r in rows] for b in BUCKETS},
        "clauses": [r.contract.n_clauses for r in rows],
        "uploaded by": [r.contract.uploaded_by for r in rows],
        "uploaded": [r.contract.uploaded_at for r in rows],
    })


left, middle, right = st.columns([2, 2, 1])
search = left.text_input("Search", key="list_search", placeholder="Contract or uploader")
statuses = middle.multiselect("Status", ["queued", "scoring", "failed", "waiting for review", "reviewed"],
                              key="list_status", placeholder="All statuses")
flags = right.multiselect("Answer", ["has cap", "uncapped"], key="list_flags", placeholder="Any")


@st.fragment(run_every=REFRESH_S if st.session_state.get("list_busy") else None)
def contracts_table() -> None:
    rows = services.contract_overview(user.id)
    busy = any(r.contract.status in services.UNFINISHED for r in rows)
    if busy != st.session_state.get("list_busy", False):
        st.session_state.list_busy = busy
        st.rerun()  # (re)arm or stop the periodic refresh, which is set when the fragment is defined
    if not rows:
        st.info("No contracts yet. A lawyer uploads them on the Upload page.")
        return
    df = table(rows)
    if search:
        needle = search.casefold()
        df = df[df["contract"].str.casefold().str.contains(needle, regex=False)
                | df["uploaded by"].str.casefold().str.contains(needle, regex=False)]
    if statuses:
        df = df[df["status"].map(lambda s: s.split(" ")[0] if s.startswith("scoring") else s).isin(statuses)]
    for flag in flags:
        df = df[df[flag].str.startswith("Yes")]
    st.caption(f"{len(df)} of {len(rows)} contracts. Click a column to sort; select a row to open the contract.")
    event = st.dataframe(
        df, hide_index=True, key="contract_table", on_select="rerun", selection_mode="single-row",
        column_config={
            "id": None,  # kept for the selection, not shown
            "contract": "Contract", "status": "Status", "to review": "To review", "clauses": "Clauses",
            "uploaded by": "Uploaded by",
            "has cap": st.column_config.TextColumn("Has cap", help="CUAD 'Cap On Liability', with its probability"),
            "uncapped": st.column_config.TextColumn("Uncapped", help="CUAD 'Uncapped Liability', with its probability"),
            "uploaded": st.column_config.DatetimeColumn("Uploaded (UTC)", format="YYYY-MM-DD HH:mm"),
        })
    failed = [r for r in rows if r.contract.status == "failed" and r.contract.id in set(df["id"])]
    for r in failed:
        st.error(escape_markdown(r.contract.error or f"{r.contract.filename}: scoring failed."))
    if event.selection.rows:
        st.session_state["contract_id"] = int(df.iloc[event.selection.rows[0]]["id"])
        st.switch_page("app/ui/contracts.py")


contracts_table()
