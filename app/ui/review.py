"""Review queue: one clause at a time, the most valuable label first.

Keys 1-7 pick a label, Enter confirms, S skips, U undoes the last confirm. Every confirm carries the
id of the clause it was shown for: a second Enter that lands after the next clause is drawn names the
clause already saved, and is ignored here and refused by the service (services.NotHeld).

The clause's id travels in the key of its buttons, not only in their callback args. Streamlit takes a
button's args from the server's latest run, so an Enter pressed in the browser on a clause already saved,
but arriving after the server has drawn the next one, would have run with the next clause's id and
confirmed a clause nobody saw. A button keyed by its clause is one the browser had on screen: when its
clause is gone, Streamlit has no callback for it, or the callback's id no longer matches. For the same
reason the clause is drawn before its buttons: no button can reach the browser ahead of its clause.
"""
import time

import streamlit as st

from app import services
from app.taxonomy import LABELS
from app.ui.guideline import show_guideline
from app.ui.render import clause_heading, escape_markdown, label_badge, label_name, probability_chart, \
    probability_hover, show_clause_text
from app.ui.session import require_user

CONTEXT_CHARS = 240  # of each neighbouring clause, next to the one under review
ALL_CONTRACTS = "All contracts"

user = require_user()
st.session_state.setdefault("review_skipped", [])
st.session_state.setdefault("review_contract", None)


def _show(item) -> None:
    st.session_state.review_item = item
    st.session_state.review_choice = (item.clause.label if item and item.reopened else
                                      item.clause.model_label if item else None)
    st.session_state.review_comment = ""
    st.session_state.review_shown_at = time.monotonic()


def _load_next() -> None:
    _show(services.claim_next_review(user.id, exclude=st.session_state.review_skipped,
                                     contract_id=st.session_state.review_contract))


def _note(key: str, value) -> None:
    """Keep what an action did beside the clause it left on screen, until another clause is shown: a key press
    that is ignored (its clause is gone) reruns the page too, and must not wipe it."""
    item = st.session_state.review_item
    st.session_state[key] = (item.clause.id if item else None, value)


def _noted(key: str, item):
    shown_id, value = st.session_state.get(key, (None, None))
    return value if shown_id == (item.clause.id if item else None) else None


def _shown_key(control: str, clause_id: int) -> str:
    """Key of a button that acts on one clause (see the module docstring)."""
    return f"{control}_{clause_id}"


def _pick(shown_id: int, label: str) -> None:
    item = st.session_state.review_item
    if item is not None and item.clause.id == shown_id:
        st.session_state.review_choice = label


def _confirm(shown_id: int) -> None:
    item = st.session_state.review_item
    if item is None or item.clause.id != shown_id:
        return   # a second keypress for a clause already confirmed: the screen has moved on
    label = st.session_state.review_choice
    saved = None
    try:
        services.submit_shown(user.id, shown_id, label, comment=st.session_state.review_comment,
                              seconds=time.monotonic() - st.session_state.get("review_shown_at", time.monotonic()))
        saved = (label, item.clause.number or str(item.clause.index + 1), item.filename)
    except services.ServiceError as e:
        st.session_state.review_error = str(e)
    _load_next()
    if saved:
        _note("review_saved", saved)


def _skip(shown_id: int) -> None:
    item = st.session_state.review_item
    if item is None or item.clause.id != shown_id:
        return
    # Excluded clauses are released by the service and not offered again until "Check again".
    st.session_state.review_skipped.append(shown_id)
    _load_next()


def _undo() -> None:
    try:
        task = services.undo_last_review(user.id)
    except services.ServiceError as e:
        st.session_state.review_error = str(e)
        return
    if task is None:
        st.session_state.review_error = "Nothing to undo."
        return
    _show(task)
    _note("review_undone", task.clause.number or str(task.clause.index + 1))


def _check_again() -> None:
    st.session_state.review_skipped = []
    _load_next()


def _choose_contract(choice_key: str) -> None:
    choice = st.session_state[choice_key]
    st.session_state.review_contract = None if choice == ALL_CONTRACTS else choice
    st.session_state.review_skipped = []
    _load_next()


# A clause reopened from the History page arrives in review_item with reopened=True.
if "review_item" not in st.session_state:
    _load_next()
item = st.session_state.review_item
progress = services.review_progress(user.id)
names = {c.contract_id: c.filename for c in progress.contracts}
if st.session_state.review_contract is not None and st.session_state.review_contract not in names:
    names[st.session_state.review_contract] = "this contract (done)"

st.title("Review queue")
top_left, top_mid, top_right = st.columns([2, 3, 1], vertical_alignment="bottom")
with top_left, st.container(key="review_contract_choice"):
    # Keyed by the contract chosen, so a choice draws a new box: the old one takes the browser's focus with it.
    # Streamlit ignores shortcuts while an input has the focus, so Enter and 1-7 would be dead until a click.
    choice_key = f"review_contract_choice_{st.session_state.review_contract}"
    st.selectbox("Review", [ALL_CONTRACTS, *names], key=choice_key,
                 index=([ALL_CONTRACTS, *names].index(st.session_state.review_contract)
                        if st.session_state.review_contract in names else 0),
                 format_func=lambda c: c if c == ALL_CONTRACTS else f"only {names[c]}", on_change=_choose_contract,
                 args=(choice_key,))
with top_mid:
    contract_left = next((c for c in progress.contracts if item and c.contract_id == item.clause.contract_id), None)
    with st.container(key="review_progress"):
        st.markdown(f"**{progress.done_today}** done today · **{progress.left}** left"
                    + (escape_markdown(f" · {contract_left.left} of {contract_left.to_review} left in "
                                       f"{contract_left.filename}") if contract_left else ""))
        total = progress.done_today + progress.left
        st.progress(progress.done_today / total if total else 1.0)
with top_right:
    st.button("Undo last", key="review_undo", shortcut="U", on_click=_undo, icon=":material/undo:", width="stretch")

if saved := _noted("review_saved", item):
    label, number, filename = saved
    with st.container(key="review_saved"):
        st.markdown(f"Saved {label_badge(label)} for clause {escape_markdown(number)} of {escape_markdown(filename)}",
                    unsafe_allow_html=True)
if undone := _noted("review_undone", item):
    st.info(f"Undone: clause {undone} is back, as it was before your review.")
if error := st.session_state.pop("review_error", None):
    st.error(escape_markdown(error))
if item is None:
    st.success("Nothing left to review here. New contracts add clauses as they are scored.")
    st.button("Check again", key="review_refresh", on_click=_check_again)
    st.stop()

text_col, side_col = st.columns([3, 2], gap="large")
with text_col:
    with st.container(key="review_source"):
        st.caption(escape_markdown(f"{item.filename} · held for you until {item.claim_expires_at:%H:%M} UTC"
                                   + (" · reopened" if item.reopened else "")))
        st.markdown(escape_markdown(item.clause.reason), help=probability_hover(item.clause.probs, item.clause.rule))
        if item.why:
            st.caption(escape_markdown(f"Why now: {item.why}"))
    # Neighbours are trimmed to the words next to the clause, so the clause itself stays in view.
    for neighbour in item.before:
        st.caption(escape_markdown(f"{clause_heading(neighbour.number, neighbour.heading, neighbour.page)}: "
                                   f"…{neighbour.text[-CONTEXT_CHARS:]}"))
    with st.container(border=True, key="review_clause"):
        st.markdown("**Clause to review**")
        st.text(clause_heading(item.clause.number, item.clause.heading, item.clause.page))
        show_clause_text(item.clause.text)
    for neighbour in item.after:
        st.caption(escape_markdown(f"{clause_heading(neighbour.number, neighbour.heading, neighbour.page)}: "
                                   f"{neighbour.text[:CONTEXT_CHARS]}…"))
    with st.expander("Neighbouring clauses in full"):
        for neighbour in [*item.before, *item.after]:
            st.caption(escape_markdown(clause_heading(neighbour.number, neighbour.heading, neighbour.page)))
            show_clause_text(neighbour.text)
    show_guideline()

with side_col, st.container(key="review_side"):
    # Label buttons and Confirm/Skip first, so they are in view without scrolling at 1366x768. Each button sits
    # in a container of a fixed key, the handle tests and styles use; the button's own key names its clause.
    shown = item.clause.id
    st.markdown(f"Model: **{label_name(item.clause.model_label)}** · your label: "
                f"{label_badge(st.session_state.review_choice)}", unsafe_allow_html=True)
    confirm_col, skip_col = st.columns(2)
    with confirm_col, st.container(key="review_confirm"):
        st.button("Confirm", key=_shown_key("confirm", shown), shortcut="Enter", on_click=_confirm, args=(shown,),
                  type="primary", width="stretch")
    with skip_col, st.container(key="review_skip"):
        st.button("Skip", key=_shown_key("skip", shown), shortcut="S", on_click=_skip, args=(shown,),
                  width="stretch")
    for n, label in enumerate(LABELS, start=1):
        with st.container(key=f"pick_{label.id}"):
            st.button(f"{n} · {label.display}", key=_shown_key(f"pick_{label.id}", shown), shortcut=str(n),
                      on_click=_pick, args=(shown, label.id),
                      type="primary" if label.id == st.session_state.review_choice else "secondary",
                      width="stretch", help=label.description)
    st.text_input("Comment (optional)", key="review_comment")
    st.caption("Shortcuts work while the cursor is outside the comment box.")
    st.altair_chart(probability_chart(item.clause.probs), key="review_probabilities")
