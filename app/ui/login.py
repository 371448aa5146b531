"""Log in with a user name and password (accounts: `python -m app users add NAME --role ROLE`)."""
import streamlit as st

from app import services
from app.ui.render import escape_markdown  # user text (names, messages) shown literally
from app.ui.session import log_in


def show_login() -> None:
    """The log-in form; the router shows it under every page's address while nobody is logged in."""
    st.title("lexdora")
    st.caption("Liability and indemnity clauses of commercial contracts, sorted into buckets.")

    with st.form("login_form"):
        username = st.text_input("User name", key="login_username")
        password = st.text_input("Password", type="password", key="login_password")
        submitted = st.form_submit_button("Log in", type="primary", key="login_submit")

    if submitted:
        try:
            # The browser's address (None when Streamlit cannot tell) for the per-client log-in throttle.
            user = services.authenticate(username, password, client=st.context.ip_address)
        except services.ServiceError as e:
            st.error(escape_markdown(str(e)))
        else:
            log_in(user)
            st.rerun()
