"""Upload several contracts at once: each is read and stored at once, then scored by the worker in the background."""
import streamlit as st

from app import services
from app.ui.render import escape_markdown  # user text (names, messages) shown literally
from app.ui.session import require_user
from app.worker import enqueue_scoring

user = require_user()
st.title("Upload contracts")
st.session_state.setdefault("upload_results", [])

files = st.file_uploader("Contracts (PDF, DOCX, TXT or HTML)", type=["pdf", "docx", "txt", "html", "htm"],
                         accept_multiple_files=True, key="upload_files")
if st.button("Upload", type="primary", disabled=not files, key="upload_submit"):
    results = []
    with st.status("Reading the files", expanded=True) as status:
        for file in files:
            status.update(label=escape_markdown(f"{file.name}: reading"))
            try:
                contract = services.queue_contract(user.id, file.name, file.getvalue(), enqueue=enqueue_scoring)
            except services.ServiceError as e:
                # One bad file never stops the others; the message says what to do about it.
                message = str(e) if str(e).startswith(file.name) else f"{file.name}: {e}"
                st.error(escape_markdown(message))
                results.append({"file": file.name, "result": message, "contract_id": None})
                continue
            if not contract.duplicate:
                line = f"queued: {contract.n_clauses} clauses to score"
            elif contract.status in services.UNFINISHED:   # waiting for the worker, or failed before and queued again
                line = f"already uploaded as {contract.filename}; queued for scoring"
            else:
                line = f"already uploaded as {contract.filename}; nothing scored again"
            for warning in contract.warnings:   # stored and scored all the same; the lawyer decides
                line += f"; warning: {warning}"
                st.warning(escape_markdown(f"{file.name}: {warning}"))
            results.append({"file": file.name, "result": line, "contract_id": contract.contract_id})
        refused = sum(r["contract_id"] is None for r in results)
        # Kept open when a file was refused, so its message stays in sight.
        status.update(label=f"{len(files) - refused} of {len(files)} file(s) stored", expanded=bool(refused),
                      state="error" if refused else "complete")
    st.session_state.upload_results = results

if st.session_state.upload_results:
    st.subheader("Last upload")
    with st.container(key="upload_results"):
        for r in st.session_state.upload_results:
            st.text(f"{r['file']}: {r['result']}" if not r["result"].startswith(r["file"]) else r["result"])
    st.caption("Scoring goes on in the background: leave this page or close the browser, nothing is lost.")
    st.page_link("app/ui/contract_list.py", label="Follow the scoring in the contracts list",
                 icon=":material/table_view:")
