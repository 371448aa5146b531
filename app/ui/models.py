"""Model versions (admin): which is active, what each was trained on and how well it did; activate or roll back."""
import streamlit as st

from app import services
from app.ui.render import split_metrics
from app.ui.session import require_user

user = require_user()
st.title("Model versions")
versions = services.list_model_versions(user.id)
if not versions:
    st.info("No model versions found: train one with `python -m training.train`.")
    st.stop()


def _headline(metrics: dict) -> dict:
    """Accuracy and macro-F1 of each split, as columns of the versions table."""
    scalars, _ = split_metrics(metrics)
    return {f"{row['split']} {k}": row[k] for row in scalars for k in ("accuracy", "macro_f1") if k in row}


def _activate() -> None:
    name = st.session_state.version_choice
    try:
        services.activate_model_version(user.id, name)
    except services.ServiceError as e:
        st.session_state.version_message = ("error", str(e))
    else:
        st.session_state.version_message = ("success", f"{name} is now active: new uploads are scored with it.")


# The callback runs before this script, so the table below already shows the newly active version.
if message := st.session_state.pop("version_message", None):
    getattr(st, message[0])(message[1])
st.dataframe([{"version": v.name, "active": v.active, "created": v.created, "method": v.method,
               "base model": v.base_model, **_headline(v.metrics)} for v in versions],
             hide_index=True, key="versions_table")
st.selectbox("Version", [v.name for v in versions], key="version_choice",
             index=next((i for i, v in enumerate(versions) if v.active), 0))
st.button("Activate", key="version_activate", on_click=_activate)
