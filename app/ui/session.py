"""Who is logged in, and which pages their role may see."""
from __future__ import annotations

import streamlit as st

# (file, title, icon, roles allowed). Services check roles again; this only decides what is shown.
_PAGES = (
    ("app/ui/upload.py", "Upload", ":material/upload_file:", {"lawyer", "admin"}),
    ("app/ui/review.py", "Review queue", ":material/rule:", {"reviewer", "admin"}),
    ("app/ui/contracts.py", "Contracts", ":material/description:", {"lawyer", "reviewer", "admin"}),
    ("app/ui/dashboard.py", "Dashboard", ":material/monitoring:", {"admin"}),
    ("app/ui/models.py", "Model versions", ":material/model_training:", {"admin"}),
    ("app/ui/users.py", "Users", ":material/group:", {"admin"}),
)


def current_user():
    """The logged-in user (plain data from services.authenticate), or None."""
    return st.session_state.get("user")


def log_out() -> None:
    st.session_state.clear()


def pages_for(role: str) -> list[st.Page]:
    return [st.Page(path, title=title, icon=icon) for path, title, icon, roles in _PAGES if role in roles]


def require_user():
    """The logged-in user; stops the page when nobody is (a page opened directly by URL)."""
    user = current_user()
    if user is None:
        st.info("Please log in.")
        st.stop()
    return user
