"""Users (admin): who can log in, and adding an account."""
import streamlit as st

from app import services
from app.roles import ROLES
from app.ui.session import require_user
from app.ui.render import escape_markdown  # user text (names, messages) shown literally

user = require_user()
st.title("Users")
st.dataframe([{"user": u.name, "role": u.role} for u in services.list_users(actor_id=user.id)], hide_index=True,
             key="users_table")

with st.form("add_user", clear_on_submit=True):
    st.subheader("Add a user")
    username = st.text_input("User name", key="new_username")
    password = st.text_input("Password", type="password", key="new_password")
    role = st.selectbox("Role", list(ROLES), key="new_role")
    added = st.form_submit_button("Add user", key="new_user_submit")
if added:
    try:
        services.register_user(username, password, role, actor_id=user.id)
    except services.ServiceError as e:
        st.error(escape_markdown(str(e)))
    else:
        st.success(f"{escape_markdown(username)} can now log in as {role}.")
