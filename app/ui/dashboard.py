"""Dashboard: queue sizes, auto-accept rate, reviewer-vs-model agreement, the active model and its calibration."""
import streamlit as st

from app import services
from app.ui.render import label_name, percent, reliability_chart, split_metrics
from app.ui.session import require_user

user = require_user()
st.title("Dashboard")
stats = services.dashboard_stats(user.id)

c1, c2, c3, c4, c5 = st.columns(5)
c1.metric("Contracts", stats.n_contracts)
c2.metric("Waiting for review", stats.n_needs_review)
c3.metric("Claimed by a reviewer", stats.n_claimed)
c4.metric("Auto-accept rate", percent(stats.auto_accept_rate), help="Share of scored clauses the policy accepted.")
c5.metric("Reviewer agrees with model", percent(stats.agreement),
          help=f"Share of the {stats.n_reviews} reviewed clauses where the reviewer kept the model's label.")
if stats.agreement_by_label:
    st.dataframe([{"model label": label_name(k), "agreement": v} for k, v in stats.agreement_by_label.items()],
                 hide_index=True, key="agreement_by_label",
                 column_config={"agreement": st.column_config.ProgressColumn(format="percent", min_value=0.0,
                                                                               max_value=1.0)})

model = stats.active_model
st.subheader(f"Active model: {model.name}" if model else "No active model")
if model:
    st.caption(f"{model.method or '?'} on {model.base_model or '?'}, created {model.created or '?'}")
    scalars, per_label = split_metrics(model.metrics)
    if any(len(row) > 1 for row in scalars):
        st.dataframe(scalars, hide_index=True, key="model_metrics")
        if per_label:
            st.caption("F1 per label (empty: no such clause in that split)")
            st.dataframe(per_label, hide_index=True, key="model_per_label_f1")
    else:
        st.info("This model version's card has no metrics.")

st.subheader("Reliability")
left, right = st.columns(2)
with left:
    if stats.reliability:
        st.altair_chart(reliability_chart(stats.reliability), key="reliability_reviews")
        st.caption("Model confidence against how often reviewers kept its label.")
    else:
        st.info("No reviews yet: the reviewer-based reliability diagram appears after the first reviews.")
with right:
    png = services.reliability_diagram(user.id)
    if png:
        st.image(png, caption="Reliability diagram from the version's evaluation (test clauses)")
    else:
        st.info("No reliability diagram in the active version's eval folder.")
