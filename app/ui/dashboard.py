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
agreement = services.agreement_stats(user.id)
st.subheader("Agreement")
st.caption("Reviewer vs reviewer: Cohen's kappa on pairs of labels given to the same clause "
           + (f"(overall {agreement.kappa:.2f}, n = {agreement.kappa_n} pairs)." if agreement.kappa is not None else
              f"(not enough pairs yet: n = {agreement.kappa_n})."))
kept = st.column_config.ProgressColumn(format="percent", min_value=0.0, max_value=1.0)
if agreement.by_label:
    st.dataframe([{"label": label_name(a.label), "reviews giving it": a.n_reviews, "model said it": a.n_model,
                   "model kept": a.model_kept, "kappa": a.kappa, "kappa n": a.kappa_n} for a in agreement.by_label],
                 hide_index=True, key="agreement_by_label", column_config={"model kept": kept})
if agreement.by_reviewer:
    st.dataframe([{"reviewer": r.reviewer, "reviews": r.n_reviews, "corrections": r.n_corrections,
                   "model kept": r.model_kept, "kappa vs model": r.kappa_model, "kappa vs reviewers": r.kappa_others,
                   "kappa n": r.kappa_n, "median s per item": r.median_seconds} for r in agreement.by_reviewer],
                 hide_index=True, key="agreement_by_reviewer", column_config={"model kept": kept})
else:
    st.info("No reviews yet.")

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

st.subheader("Queue order")
curve = services.active_learning_curve(user.id)
if curve:
    st.image(curve, caption="Contract-level F1 after k reviews: the queue's order against the former order and random "
                            "(python -m training.active_learning, validation contracts)")
else:
    st.info("No active-learning curve yet: run python -m training.active_learning.")
