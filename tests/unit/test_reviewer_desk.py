"""The reviewer's desk (issue 13): no accidental confirms, undo and history, progress and one-contract mode,
release at logout, the queue's order, agreement and adjudication. Same in-memory database and fakes as
test_services."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from app import services
from app.db import Clause, Review
from app.queue_order import Candidate, is_bare_heading, prioritise
from tests.fakes import CONTRACT, FakeScorer
from tests.unit.test_services import (POLICY, actions, clock, factory, people, settings, upload,  # noqa: F401
                                      uow)
from tests.unit.test_services import contract as contract  # noqa: F401,PLC0414


OTHER = CONTRACT + "\n7. Extra. Liability shall be unlimited.\n"


def _reviews(factory, clause_id):
    with factory() as s:
        return s.execute(select(Review.kind, Review.previous_label, Review.new_label)
                         .where(Review.clause_id == clause_id).order_by(Review.id)).all()


# ---------------------------------------------------------------- 1. no accidental confirms

def test_a_second_enter_for_the_clause_already_confirmed_saves_nothing(uow, contract, people, factory):
    rita = people["reviewer"].id
    first = services.claim_next_review(rita, uow=uow())
    services.submit_shown(rita, first.clause.id, "capped", uow=uow())
    nxt = services.claim_next_review(rita, uow=uow())
    # The second keypress still carries the id of the clause the reviewer was shown: it repeats the save
    # just made (answered with it), and a different label for that clause is refused; nothing new either way.
    again = services.submit_shown(rita, first.clause.id, "capped", uow=uow())
    assert again.label == "capped"
    with pytest.raises(services.NotHeld, match="no longer hold"):
        services.submit_shown(rita, first.clause.id, "uncapped", uow=uow())
    assert len(_reviews(factory, first.clause.id)) == 1 and _reviews(factory, nxt.clause.id) == []


def test_a_late_repeat_of_ones_own_confirm_is_refused(uow, contract, people, factory, clock):
    rita = people["reviewer"].id
    first = services.claim_next_review(rita, uow=uow())
    services.submit_shown(rita, first.clause.id, "capped", uow=uow())
    clock.advance(minutes=1)
    with pytest.raises(services.NotHeld, match="no longer hold"):
        services.submit_shown(rita, first.clause.id, "capped", uow=uow())
    assert len(_reviews(factory, first.clause.id)) == 1


def test_a_clause_one_never_held_cannot_be_submitted(uow, contract, people):
    task = services.claim_next_review(people["reviewer"].id, uow=uow())
    with pytest.raises(services.ClaimExpired, match="rita is reviewing it now"):
        services.submit_shown(people["reviewer2"].id, task.clause.id, "capped", uow=uow())
    with pytest.raises(services.NotHeld):
        services.submit_shown(people["reviewer2"].id, task.clause.id + 1, "capped", uow=uow())


def test_an_expired_hold_is_no_longer_held(uow, contract, people, clock):
    task = services.claim_next_review(people["reviewer"].id, uow=uow())
    clock.advance(minutes=16)
    with pytest.raises(services.NotHeld):
        services.submit_shown(people["reviewer"].id, task.clause.id, "capped", uow=uow())


def test_submit_shown_records_the_time_spent(uow, contract, people, factory):
    task = services.claim_next_review(people["reviewer"].id, uow=uow())
    info = services.submit_shown(people["reviewer"].id, task.clause.id, "capped", seconds=7.5, uow=uow())
    assert info.label == "capped" and info.latest_review.seconds == 7.5 and info.latest_review.kind == "review"


# ---------------------------------------------------------------- 2. undo, history, reopen

def test_undo_restores_the_clause_to_the_queue_and_holds_it_for_the_reviewer(uow, contract, people, factory):
    rita = people["reviewer"].id
    task = services.claim_next_review(rita, uow=uow())
    services.submit_shown(rita, task.clause.id, "capped", uow=uow())
    back = services.undo_last_review(rita, uow=uow())
    assert back.clause.id == task.clause.id and back.clause.status == "needs_review"
    assert back.clause.label == task.clause.model_label and back.clause.latest_review is None
    # append-only: the review stays, an undo event follows it
    assert _reviews(factory, task.clause.id) == [("review", "cap_and_collar", "capped"),
                                                 ("undo", "capped", "cap_and_collar")]
    assert "undo_review" in actions(factory)
    # held for rita: the queue gives it back to her and to nobody else, and her submit goes through
    assert services.claim_next_review(people["reviewer2"].id, uow=uow()).clause.id != task.clause.id
    assert services.claim_next_review(rita, uow=uow()).clause.id == task.clause.id
    services.submit_shown(rita, task.clause.id, "cap_and_collar", uow=uow())
    [row] = [r for r in services.reviewed_clauses(uow=uow()) if r["clause_id"] == task.clause.id]
    assert row["label"] == "cap_and_collar" and row["reviewers"] == {"rita": "cap_and_collar"}


def test_after_an_undo_only_the_restored_clause_is_held(uow, contract, people, factory):
    rita = people["reviewer"].id
    task = services.claim_next_review(rita, uow=uow())
    services.submit_shown(rita, task.clause.id, "capped", uow=uow())
    services.claim_next_review(rita, uow=uow())          # the next clause on screen
    services.undo_last_review(rita, uow=uow())
    with factory() as s:
        assert list(s.scalars(select(Clause.id).where(Clause.claimed_by_id == rita))) == [task.clause.id]


def test_undo_walks_back_one_review_at_a_time_and_then_has_nothing(uow, contract, people):
    rita = people["reviewer"].id
    done = []
    for _ in range(2):
        task = services.claim_next_review(rita, uow=uow())
        services.submit_shown(rita, task.clause.id, "none", uow=uow())
        done.append(task.clause.id)
    assert services.undo_last_review(rita, uow=uow()).clause.id == done[1]
    assert services.undo_last_review(rita, uow=uow()).clause.id == done[0]
    assert services.undo_last_review(rita, uow=uow()) is None
    [summary] = services.list_contracts(people["lawyer"].id, uow=uow())
    assert summary.n_needs_review == 4


def test_undo_of_a_second_review_restores_the_first(uow, contract, people):
    rita, ray = people["reviewer"].id, people["reviewer2"].id
    task = services.claim_next_review(rita, uow=uow())
    services.submit_shown(rita, task.clause.id, "capped", uow=uow())
    services.reopen_clause(ray, task.clause.id, uow=uow())
    services.submit_shown(ray, task.clause.id, "none", uow=uow())
    with pytest.raises(services.InvalidInput, match="ray reviewed clause 3 after you"):
        services.undo_last_review(rita, uow=uow())
    back = services.undo_last_review(ray, uow=uow())
    assert (back.clause.status, back.clause.label, back.reopened) == ("reviewed", "capped", True)
    assert back.clause.latest_review.reviewer == "rita"


def test_undo_completes_and_reopens_the_contract(uow, contract, people):
    rita = people["reviewer"].id
    while task := services.claim_next_review(rita, uow=uow()):
        services.submit_shown(rita, task.clause.id, task.clause.model_label, uow=uow())
    assert services.list_contracts(people["lawyer"].id, uow=uow())[0].status == "complete"
    services.undo_last_review(rita, uow=uow())
    assert services.list_contracts(people["lawyer"].id, uow=uow())[0].status == "in_review"


def test_history_lists_the_reviewers_clauses_latest_first_with_past_reviews(uow, contract, people, clock):
    rita = people["reviewer"].id
    first = services.claim_next_review(rita, uow=uow())
    services.submit_shown(rita, first.clause.id, "capped", uow=uow())
    clock.advance(minutes=1)
    second = services.claim_next_review(rita, uow=uow())
    services.submit_shown(rita, second.clause.id, "uncapped", uow=uow())
    clock.advance(minutes=1)
    services.reopen_clause(rita, first.clause.id, uow=uow())
    services.submit_shown(rita, first.clause.id, "cap_and_collar", uow=uow())
    history = services.review_history(rita, uow=uow())
    assert [h.clause.id for h in history] == [first.clause.id, second.clause.id]
    assert [r.new_label for r in history[0].reviews] == ["capped", "cap_and_collar"]
    assert history[0].filename == "msa.txt" and services.review_history(people["reviewer2"].id, uow=uow()) == []


def test_reopen_refuses_a_clause_someone_else_holds_and_releases_ones_own(uow, contract, people, factory):
    rita, ray = people["reviewer"].id, people["reviewer2"].id
    held = services.claim_next_review(rita, uow=uow())
    with pytest.raises(services.InvalidInput, match="rita is reviewing"):
        services.reopen_clause(ray, held.clause.id, uow=uow())
    auto = 1   # clause 1 was auto-accepted: any clause can be reopened
    task = services.reopen_clause(rita, auto, uow=uow())
    assert task.reopened and task.clause.status == "auto_accepted"
    with factory() as s:
        assert s.get(Clause, held.clause.id).claimed_by_id is None
    assert "reopen" in actions(factory)


# ---------------------------------------------------------------- 3. progress, one contract, logout

def test_progress_counts_done_today_and_left_per_contract(uow, contract, people, upload, clock):
    rita = people["reviewer"].id
    other = upload(people["lawyer"].id, "other.txt", OTHER.encode(), scorer_factory=FakeScorer, policy=POLICY,
                   uow=uow())
    progress = services.review_progress(rita, uow=uow())
    assert (progress.done_today, progress.left) == (0, 9)
    assert [(c.filename, c.left, c.to_review) for c in progress.contracts] == [("other.txt", 5, 5), ("msa.txt", 4, 4)]
    task = services.claim_next_review(rita, contract_id=other.contract_id, uow=uow())
    services.submit_shown(rita, task.clause.id, "none", uow=uow())
    progress = services.review_progress(rita, uow=uow())
    assert (progress.done_today, progress.left) == (1, 8)
    assert {c.filename: (c.left, c.to_review) for c in progress.contracts} == {"other.txt": (4, 5), "msa.txt": (4, 4)}
    clock.advance(days=1)
    assert services.review_progress(rita, uow=uow()).done_today == 0


def test_one_contract_mode_serves_only_that_contract_until_it_is_done(uow, contract, people, upload):
    rita = people["reviewer"].id
    other = upload(people["lawyer"].id, "other.txt", OTHER.encode(), scorer_factory=FakeScorer, policy=POLICY,
                   uow=uow())
    elsewhere = services.claim_next_review(rita, contract_id=contract.contract_id, uow=uow())
    seen = []
    while task := services.claim_next_review(rita, contract_id=other.contract_id, uow=uow()):
        seen.append(task.clause.contract_id)
        services.submit_shown(rita, task.clause.id, task.clause.model_label, uow=uow())
    assert seen == [other.contract_id] * 5
    # the clause held in the other contract was released when one-contract mode moved on
    assert services.claim_next_review(people["reviewer2"].id, uow=uow()).clause.id == elsewhere.clause.id


def test_logout_releases_every_held_clause(uow, contract, people, factory):
    task = services.claim_next_review(people["reviewer"].id, uow=uow())
    assert services.release_held_claims(people["reviewer"].id, uow=uow()) == 1
    assert services.claim_next_review(people["reviewer2"].id, uow=uow()).clause.id == task.clause.id
    assert services.release_held_claims(people["lawyer"].id, uow=uow()) == 0
    with factory() as s:
        assert s.scalar(select(Clause.claimed_by_id).where(Clause.id == task.clause.id)) == people["reviewer2"].id


# ---------------------------------------------------------------- 4. queue order

@pytest.mark.parametrize(("text", "heading"), [
    ("EXHIBIT A", True), ("PRICING", True), ("12. LIMITATION OF LIABILITY", True), ("SCHEDULE 2 - FEES", True),
    ("THE AGGREGATE LIABILITY SHALL NOT EXCEED $1,000", False),
    ("Pricing", False), ("Liability shall be unlimited.", False), ("", False),
])
def test_bare_headings(text, heading):
    assert is_bare_heading(text) is heading


def test_queue_order_weighs_uncertainty_by_what_the_clause_decides():
    flat = {"none": 0.5, "exclusion": 0.45, "capped": 0.05}
    deciding = {"capped": 0.55, "cap_and_collar": 0.40, "none": 0.05}
    order = prioritise([Candidate(1, 9, "Neither party is liable for lost profits.", flat),
                        Candidate(2, 9, "EXHIBIT A", {"none": 0.34, "capped": 0.33, "uncapped": 0.33}),
                        Candidate(3, 9, "Liability shall not exceed fees paid.", deciding)],
                       {3: {"cap"}})
    assert [p.clause_id for p in order] == [3, 1, 2]
    assert order[0].why == ("Unsure between capped (55%) and cap and collar (40%); this clause decides whether the "
                            "contract has a cap.")
    assert order[2].heading and order[2].value == 0


def test_the_task_says_why_it_is_next_and_headings_come_last(uow, people, upload):
    text = "EXHIBIT A\n\n" + CONTRACT
    upload(people["lawyer"].id, "h.txt", text.encode(), scorer_factory=FakeScorer, policy=POLICY, uow=uow())
    rita = people["reviewer"].id
    first = services.claim_next_review(rita, uow=uow())
    assert first.why.startswith("Unsure between cap and collar (48%) and capped (44%)")
    served = [first.clause.text]
    services.submit_shown(rita, first.clause.id, "capped", uow=uow())
    while task := services.claim_next_review(rita, uow=uow()):
        served.append(task.clause.text)
        services.submit_shown(rita, task.clause.id, "none", uow=uow())
    assert served[-1] == "EXHIBIT A" or "EXHIBIT A" not in served


# ---------------------------------------------------------------- 6. agreement and adjudication

def _disagree(uow, people):
    rita, ray = people["reviewer"].id, people["reviewer2"].id
    a = services.claim_next_review(rita, uow=uow())
    services.submit_shown(rita, a.clause.id, "capped", seconds=10, uow=uow())
    services.reopen_clause(ray, a.clause.id, uow=uow())
    services.submit_shown(ray, a.clause.id, "cap_and_collar", seconds=20, uow=uow())
    b = services.claim_next_review(rita, uow=uow())
    services.submit_shown(rita, b.clause.id, b.clause.model_label, seconds=4, uow=uow())
    services.reopen_clause(ray, b.clause.id, uow=uow())
    services.submit_shown(ray, b.clause.id, b.clause.model_label, uow=uow())
    return a.clause, b.clause


def test_agreement_per_label_and_reviewer_with_kappa_and_its_n(uow, contract, people):
    _disagree(uow, people)
    stats = services.agreement_stats(people["admin"].id, uow=uow())
    assert stats.kappa_n == 2
    # observed 1/2, chance (uncapped by both half the time) 1/4: kappa = (1/2 - 1/4) / (3/4)
    assert stats.kappa == pytest.approx(1 / 3, abs=1e-3)
    rita = next(r for r in stats.by_reviewer if r.reviewer == "rita")
    assert (rita.n_reviews, rita.n_corrections, rita.kappa_n, rita.median_seconds) == (2, 1, 2, 7.0)
    assert rita.model_kept == pytest.approx(0.5)
    capped = next(lab for lab in stats.by_label if lab.label == "capped")
    assert capped.n_reviews == 1 and capped.kappa_n == 2
    with pytest.raises(services.PermissionDenied):
        services.agreement_stats(people["reviewer"].id, uow=uow())


def test_disagreements_go_to_adjudication_and_retraining_takes_the_adjudicated_label(uow, contract, people,
                                                                                    factory):
    a, b = _disagree(uow, people)
    [dispute] = services.list_disputes(people["admin"].id, uow=uow())
    assert dispute.clause.id == a.id and dispute.reviewers == {"rita": "capped", "ray": "cap_and_collar"}
    with pytest.raises(services.PermissionDenied):
        services.adjudicate(people["reviewer"].id, a.id, "capped", uow=uow())
    info = services.adjudicate(people["admin"].id, a.id, "capped", "basket is only a notice period", uow=uow())
    assert info.label == "capped" and info.latest_review.kind == "adjudication"
    assert services.list_disputes(people["admin"].id, uow=uow()) == []
    assert "adjudicate" in actions(factory)
    # a later plain review does not unsettle it for retraining
    services.reopen_clause(people["reviewer2"].id, a.id, uow=uow())
    services.submit_shown(people["reviewer2"].id, a.id, "cap_and_collar", uow=uow())
    row = next(r for r in services.reviewed_clauses(uow=uow()) if r["clause_id"] == a.id)
    assert (row["label"], row["adjudicated"]) == ("capped", True)

    from training.corrections import Correction
    correction = Correction(row["clause_id"], row["filename"], row["text"], row["label"], row["model_label"],
                            row["reviewers"], row["adjudicated"])
    assert correction.label == "capped" and not correction.disputed
