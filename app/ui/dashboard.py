"""Dashboard: queue sizes, auto-accept rate, reviewer-vs-model agreement, the active model and its calibration."""
import streamlit as st

from app import services
from app.ui.session import require_user

user = require_user()
st.title("Dashboard")
stats = services.dashboard_stats(user.id)

c1, c2, c3, c4 = st.columns(4)
c1.metric("Waiting for review", stats.queue_waiting)
c2.metric("Claimed now", stats.queue_claimed)
c3.metric("Auto-accept rate", f"{stats.auto_accept_rate:.0%}" if stats.auto_accept_rate is not None else "—")
c4.metric("Reviewer agrees with model", f"{stats.agreement:.0%}" if stats.agreement is not None else "—",
          help="Share of reviewed clauses where the reviewer kept the model's label.")

st.subheader(f"Active model: {stats.model_version}")
if stats.model_metrics:
    st.dataframe([{"metric": k, "value": v} for k, v in stats.model_metrics.items()], hide_index=True,
                 key="model_metrics")
else:
    st.info("This model version's card has no metrics.")
if stats.reliability_png:
    st.image(str(stats.reliability_png), caption="Reliability diagram (test clauses)", width=520)
else:
    st.info("No reliability diagram in this version's eval folder.")
