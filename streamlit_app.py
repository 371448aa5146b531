"""Entry point of the browser app: login, then the pages the user's role may see.

Run with `streamlit run streamlit_app.py`; every page lives in app/ui/ and talks to app.services only.
"""
from __future__ import annotations

import streamlit as st

from app import services
from app.ui.login import show_login
from app.ui.session import current_user, log_out, login_pages, pages_for, resume_from_cookie, write_pending_cookie

# An emoji icon is drawn in the browser; a :material/...: page icon is fetched from fonts.gstatic.com, which
# tells Google who opens the app and is refused by the Content-Security-Policy of deploy/nginx/lexdora.conf.
st.set_page_config(page_title="lexdora", page_icon="⚖️", layout="wide")

resume_from_cookie()  # a refresh starts a new session: the cookie says who was logged in
user = current_user()
if user is None:
    page = st.navigation(login_pages(show_login), position="hidden")
else:
    page = st.navigation(pages_for(user.role))
    with st.sidebar:
        st.caption(f"Signed in as **{user.name}** ({user.role})")
        st.button("Log out", key="logout", on_click=log_out, icon=":material/logout:")
write_pending_cookie()
try:
    page.run()
except services.ServiceError as e:  # a user-caused error: its message is written to be shown as-is
    st.error(str(e))
