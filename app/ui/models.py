"""Model versions (admin): which is active, what each was trained on and how well it did; activate or roll back."""
import streamlit as st

from app import services
from app.ui.session import require_user

user = require_user()
st.title("Model versions")
versions = services.list_model_versions(user.id)
if not versions:
    st.info("No model versions found: train one with `python -m training.train`.")
    st.stop()


def _scalars(metrics: dict) -> dict:
    return {k: v for k, v in metrics.items() if isinstance(v, (int, float))}


st.dataframe([{"version": v.name, "active": v.active, "created": v.created, "method": v.method,
               "base model": v.base_model, **_scalars(v.metrics)} for v in versions],
             hide_index=True, key="versions_table")
names = [v.name for v in versions]
choice = st.selectbox("Version", names, key="version_choice",
                      index=next((i for i, v in enumerate(versions) if v.active), 0))
if st.button("Activate", key="version_activate"):
    try:
        services.activate_model_version(user.id, choice)
    except services.ServiceError as e:
        st.error(str(e))
    else:
        st.success(f"{choice} is now active: new uploads are scored with it.")
        st.rerun()
