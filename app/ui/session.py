"""Who is logged in, and which pages their role may see."""
from __future__ import annotations

import streamlit as st

from app.roles import may

# (file, title, icon, permission of app.roles the page needs). The services check the same table;
# this only decides what is shown.
_PAGES = (
    ("app/ui/upload.py", "Upload", ":material/upload_file:", "upload"),
    ("app/ui/review.py", "Review queue", ":material/rule:", "review"),
    ("app/ui/history.py", "History", ":material/history:", "review"),
    ("app/ui/contracts.py", "Contracts", ":material/description:", "read"),
    ("app/ui/dashboard.py", "Dashboard", ":material/monitoring:", "dashboard"),
    ("app/ui/adjudication.py", "Adjudication", ":material/gavel:", "adjudicate"),
    ("app/ui/models.py", "Model versions", ":material/model_training:", "manage_models"),
    ("app/ui/users.py", "Users", ":material/group:", "manage_users"),
)


def current_user():
    """The logged-in user (plain data from services.authenticate), or None."""
    return st.session_state.get("user")


def log_out() -> None:
    """Forget the session; a clause the user held goes back to the queue at once, not after its claim lapses."""
    user = current_user()
    if user is not None:
        from app import services
        try:
            services.release_held_claims(user.id)
        except services.ServiceError:
            pass   # logging out must work even when the account is gone
    st.session_state.clear()


def pages_for(role: str) -> list[st.Page]:
    return [st.Page(path, title=title, icon=icon) for path, title, icon, permission in _PAGES
            if may(role, permission)]


def require_user():
    """The logged-in user; stops the page when nobody is (a page opened directly by URL)."""
    user = current_user()
    if user is None:
        st.info("Please log in.")
        st.stop()
    return user
