"""Who is logged in (kept across refreshes by a session cookie), and which pages their role may see."""
from __future__ import annotations

import html
from pathlib import Path

import streamlit as st

from app import services
from app.roles import Role, may

# (file, title, icon, permission of app.roles the page needs). The services check the same table;
# this only decides what is shown.
_PAGES = (
    ("app/ui/contract_list.py", "Contracts", ":material/table_view:", "read"),
    ("app/ui/contracts.py", "Document", ":material/description:", "read"),
    ("app/ui/upload.py", "Upload", ":material/upload_file:", "upload"),
    ("app/ui/review.py", "Review queue", ":material/rule:", "review"),
    ("app/ui/history.py", "History", ":material/history:", "review"),
    ("app/ui/dashboard.py", "Dashboard", ":material/monitoring:", "dashboard"),
    ("app/ui/adjudication.py", "Adjudication", ":material/gavel:", "adjudicate"),
    ("app/ui/models.py", "Model versions", ":material/model_training:", "manage_models"),
    ("app/ui/users.py", "Users", ":material/group:", "manage_users"),
)
# Where a role starts: a reviewer at the queue, everyone else at the contracts list.
_LANDING = {Role.REVIEWER: "app/ui/review.py"}
_DEFAULT_LANDING = "app/ui/contract_list.py"


def current_user():
    """The logged-in user (plain data from services.authenticate), or None."""
    return st.session_state.get("user")


def log_in(user) -> None:
    """Remember `user` for this browser tab and, through a session cookie, for its refreshes and new tabs."""
    ticket = services.start_session(user.id)
    st.session_state.user = user
    st.session_state.session_token = ticket.token
    st.session_state.cookie_script = _cookie_script(ticket.token, ticket.max_age_s)


def resume_from_cookie() -> None:
    """After a refresh (a new Streamlit session), log the browser's user in again from its session cookie."""
    if current_user() is not None:
        return
    token = st.context.cookies.get(services.SESSION_COOKIE)
    user = services.resume_session(token) if token else None
    if user is not None:
        st.session_state.user = user
        st.session_state.session_token = token


def log_out() -> None:
    """End the session here and in the database (its cookie then logs nobody in); a clause the user held goes
    back to the queue at once, not after its claim lapses."""
    user = current_user()
    token = st.session_state.get("session_token")
    if user is not None:
        try:
            services.release_held_claims(user.id)
        except services.ServiceError:
            pass   # logging out must work even when the account is gone
    services.end_session(token)
    st.session_state.clear()
    st.session_state.cookie_script = _cookie_script("", 0)   # the browser forgets the dead token too


def write_pending_cookie() -> None:
    """Run the script that sets or clears the session cookie, once, after a log-in or a log-out."""
    script = st.session_state.pop("cookie_script", None)
    if script:
        # Streamlit can only reach the browser's cookies from script (st.context.cookies reads them), so the
        # cookie cannot be HttpOnly; it is SameSite=Strict, Secure over HTTPS, and worthless once logged out.
        st.html(script, unsafe_allow_javascript=True)


# One constant script reads the cookie from the element before it: a script whose text changed with each
# token could not be allowed by its hash in the reverse proxy's Content-Security-Policy
# (deploy/nginx/lexdora.conf lists COOKIE_SCRIPT's hash; tests/unit/test_nginx_site.py checks it).
COOKIE_SCRIPT = ("document.querySelectorAll('[data-lexdora-cookie]').forEach(function (e) {"
                 " document.cookie = e.dataset.lexdoraCookie"
                 " + (window.location.protocol === 'https:' ? '; Secure' : ''); e.remove(); });")


def _cookie_script(token: str, max_age_s: int) -> str:
    cookie = html.escape(f"{services.SESSION_COOKIE}={token}; Path=/; Max-Age={max_age_s}; SameSite=Strict")
    return f'<span hidden data-lexdora-cookie="{cookie}"></span><script>{COOKIE_SCRIPT}</script>'


def pages_for(role: str) -> list[st.Page]:
    landing = _LANDING.get(role, _DEFAULT_LANDING)
    return [st.Page(path, title=title, icon=icon, default=path == landing)
            for path, title, icon, permission in _PAGES if may(role, permission)]


def login_pages(show_login) -> list[st.Page]:
    """The log-in form under every page's address: a refresh or a bookmark of any page, logged out, shows the
    form (and, once logged in, that page) instead of Streamlit's "Page not found"."""
    return [st.Page(show_login, title="Log in", icon=":material/login:", url_path="login", default=True),
            *(st.Page(show_login, title=title, url_path=Path(path).stem) for path, title, _, _ in _PAGES)]


def require_user():
    """The logged-in user; stops the page when nobody is (a page opened directly by URL)."""
    user = current_user()
    if user is None:
        st.info("Please log in.")
        st.stop()
    return user
