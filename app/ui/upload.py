"""Upload several contracts at once; each is ingested, scored and routed, with progress and one line per file."""
import streamlit as st

from app import services
from app.ui.session import require_user
from app.ui.render import escape_markdown  # user text (names, messages) shown literally

user = require_user()
st.title("Upload contracts")
st.session_state.setdefault("upload_results", [])

files = st.file_uploader("Contracts (PDF, DOCX, TXT or HTML)", type=["pdf", "docx", "txt", "html", "htm"],
                         accept_multiple_files=True, key="upload_files")
if st.button("Ingest and score", type="primary", disabled=not files, key="upload_submit"):
    results = []
    for file in files:
        with st.status(f"{escape_markdown(file.name)}: reading", expanded=True) as status:
            bar = st.progress(0.0)

            def progress(fraction: float, message: str, bar=bar, status=status) -> None:
                bar.progress(min(max(fraction, 0.0), 1.0), text=escape_markdown(message))
                status.update(label=escape_markdown(message))

            try:
                contract = services.upload_contract(user.id, file.name, file.getvalue(), progress=progress)
            except services.ServiceError as e:
                # One bad file never stops the others; the message says what to do about it.
                message = str(e) if str(e).startswith(file.name) else f"{file.name}: {e}"
                status.update(label=escape_markdown(message), state="error", expanded=False)
                results.append({"file": file.name, "result": message, "contract_id": None})
                continue
            if contract.duplicate:
                line = f"already uploaded as {contract.filename}; nothing scored again"
            else:
                line = (f"{contract.n_clauses} clauses: {contract.n_auto_accepted} auto-accepted, "
                        f"{contract.n_needs_review} sent to review")
            status.update(label=escape_markdown(f"{file.name}: {line}"), state="complete", expanded=False)
            results.append({"file": file.name, "result": line, "contract_id": contract.contract_id})
    st.session_state.upload_results = results

if st.session_state.upload_results:
    st.subheader("Last upload")
    st.dataframe(st.session_state.upload_results, hide_index=True, key="upload_results_table",
                 column_config={"file": "File", "result": "Result", "contract_id": "Contract id"})
    st.page_link("app/ui/contracts.py", label="Open the contracts", icon=":material/description:")
