"""Uploads stored at once and scored by the worker's service functions; the contracts list; log-in sessions.

The same in-memory database, fake ingestion and fake scorer as test_services; the worker process itself
(Huey, a restart) is tested in tests/integration/test_worker.py.
"""
from __future__ import annotations

import functools
import json

import pytest
from sqlalchemy import select, update

from app import services
from app.db import AuditEvent, Clause, Contract
from app.registry import Registry
from tests.fakes import CONTRACT, FakeScorer
from tests.unit.test_services import (POLICY, clock, count, factory, fake_ingest, people, settings,  # noqa: F401
                                      uow)


class Queue(list):
    """Stands in for app.worker.enqueue_scoring: remembers what was handed to the worker."""

    def __call__(self, contract_id: int) -> None:
        self.append(contract_id)


@pytest.fixture
def queue():
    return Queue()


@pytest.fixture
def enqueue(uow, queue, settings):
    return functools.partial(services.queue_contract, enqueue=queue, settings=settings, ingest=fake_ingest)


@pytest.fixture
def score(uow, settings):
    def run(contract_id: int, scorer_factory=FakeScorer):
        return services.score_queued_contract(contract_id, scorer_factory=scorer_factory, policy=POLICY,
                                              settings=settings, ingest=fake_ingest, uow=uow())
    return run


def status(factory, contract_id: int) -> tuple[str, float, str | None]:
    with factory() as s:
        c = s.get(Contract, contract_id)
        return c.status, c.progress, c.error


def test_an_upload_is_stored_queued_at_once_and_handed_to_the_worker(enqueue, queue, uow, people, factory):
    summary = enqueue(people["lawyer"].id, "msa.txt", CONTRACT.encode(), uow=uow())
    assert (summary.status, summary.n_clauses, summary.duplicate) == ("queued", 6, False)
    assert queue == [summary.contract_id]
    assert status(factory, summary.contract_id) == ("queued", 0.0, None)
    assert count(factory, Clause) == 0   # nothing is scored in the request


def test_an_unreadable_upload_is_refused_at_once_and_nothing_is_queued(enqueue, queue, uow, people, factory):
    with pytest.raises(services.InvalidFile, match=r"^scan\.txt: not a text file"):
        enqueue(people["lawyer"].id, "scan.txt", b"\xff\xfe\x00garbage", uow=uow())
    assert queue == [] and count(factory, Contract) == 0


def test_the_worker_scores_a_queued_contract_and_writes_its_progress_as_it_goes(enqueue, score, uow, people,
                                                                                factory):
    contract_id = enqueue(people["lawyer"].id, "msa.txt", CONTRACT.encode(), uow=uow()).contract_id
    seen = []

    class Watching(FakeScorer):
        def predict_proba(self, texts, headings=None):
            seen.append(status(factory, contract_id)[:2])   # what the list shows while this chunk is scored
            return super().predict_proba(texts, headings)

    assert score(contract_id, Watching) == "in_review"
    # 6 clauses in chunks of settings.batch_size (4): the second chunk starts at 4/6 done.
    assert seen == [("scoring", 0.0), ("scoring", 0.6667)]
    assert status(factory, contract_id) == ("in_review", 1.0, None)
    assert count(factory, Clause, Clause.contract_id == contract_id) == 6
    with factory() as s:
        assert s.scalars(select(AuditEvent.action)).all()[-1] == "score"


def test_a_contract_enqueued_twice_is_scored_once(enqueue, score, uow, people, factory):
    contract_id = enqueue(people["lawyer"].id, "msa.txt", CONTRACT.encode(), uow=uow()).contract_id
    assert score(contract_id) == "in_review"
    assert score(contract_id) is None   # the resume after a restart queued it again: nothing to do
    assert count(factory, Clause) == 6


def test_a_failure_marks_the_contract_failed_with_its_message_and_the_same_file_again_requeues_it(
        enqueue, queue, score, uow, people, factory):
    contract_id = enqueue(people["lawyer"].id, "msa.txt", CONTRACT.encode(), uow=uow()).contract_id

    def no_model():
        raise services.ModelUnavailable("The model cannot score contracts right now: no weights")

    assert score(contract_id, no_model) == "failed"
    assert status(factory, contract_id) == (
        "failed", 0.0, "msa.txt: The model cannot score contracts right now: no weights")
    again = enqueue(people["lawyer2"].id, "copy.txt", CONTRACT.encode(), uow=uow())
    assert again.duplicate and again.status == "queued" and queue == [contract_id, contract_id]
    assert score(contract_id) == "in_review" and status(factory, contract_id) == ("in_review", 1.0, None)


def test_a_bug_in_scoring_leaves_the_contract_failed_and_reaches_the_worker(enqueue, score, uow, people, factory):
    contract_id = enqueue(people["lawyer"].id, "msa.txt", CONTRACT.encode(), uow=uow()).contract_id

    class Broken(FakeScorer):
        def predict_proba(self, texts, headings=None):
            raise ZeroDivisionError("division by zero")

    with pytest.raises(ZeroDivisionError):   # Huey logs the trace
        score(contract_id, Broken)
    assert status(factory, contract_id) == ("failed", 0.0, "msa.txt: scoring failed (ZeroDivisionError: division by zero).")
    assert count(factory, Clause) == 0


def test_a_restart_queues_again_what_was_queued_or_half_scored_oldest_first(enqueue, score, uow, people, factory):
    first = enqueue(people["lawyer"].id, "a.txt", CONTRACT.encode(), uow=uow()).contract_id
    second = enqueue(people["lawyer"].id, "b.txt", (CONTRACT + "\n7. Notices. In writing.\n").encode(),
                     uow=uow()).contract_id
    done = enqueue(people["lawyer"].id, "c.txt", (CONTRACT + "\n8. Term. One year.\n").encode(),
                   uow=uow()).contract_id
    assert score(done) == "in_review"
    with factory() as s, s.begin():   # the worker was stopped while scoring `first`
        s.execute(update(Contract).where(Contract.id == first).values(status="scoring", progress=0.5))

    assert services.resume_unfinished(uow=uow()) == [first, second]
    assert status(factory, first) == ("queued", 0.0, None)
    assert [score(first), score(second)] == ["in_review", "in_review"]
    assert services.resume_unfinished(uow=uow()) == []


def test_an_archived_contract_is_not_scored_and_comes_back_queued_when_uploaded_again(enqueue, queue, score, uow,
                                                                                      people, factory):
    contract_id = enqueue(people["lawyer"].id, "msa.txt", CONTRACT.encode(), uow=uow()).contract_id
    services.archive_contract(people["lawyer"].id, contract_id, uow=uow())
    assert score(contract_id) is None and count(factory, Clause) == 0
    assert enqueue(people["lawyer"].id, "msa.txt", CONTRACT.encode(), uow=uow()).status == "queued"
    assert queue == [contract_id, contract_id] and score(contract_id) == "in_review"


def test_reviewers_cannot_queue_uploads(enqueue, queue, uow, people):
    with pytest.raises(services.PermissionDenied):
        enqueue(people["reviewer"].id, "msa.txt", CONTRACT.encode(), uow=uow())
    assert queue == []


# ---------------------------------------------------------------- the contracts list

def test_the_list_has_status_progress_counts_and_the_two_answers_under_the_versions_rule(
        enqueue, score, uow, people, settings, tmp_path):
    scored = enqueue(people["lawyer"].id, "scored.txt", CONTRACT.encode(), uow=uow()).contract_id
    score(scored)
    queued = enqueue(people["lawyer2"].id, "queued.txt", (CONTRACT + "\n9. Term. One year.\n").encode(),
                     uow=uow()).contract_id
    # fake-v1's rule: a cap needs a clause at 0.96, uncapped one at 0.9 (any_label would say Yes to both).
    version = tmp_path / "registry" / "fake-v1"
    version.mkdir(parents=True)
    (version / "card.json").write_text(json.dumps({"contract_rule": {
        "cap": {"method": "max_prob", "threshold": 0.96}, "uncapped": {"method": "max_prob", "threshold": 0.9}}}))
    registry = Registry(tmp_path / "registry", tmp_path / "no-default")

    rows = {r.contract.id: r for r in services.contract_overview(people["reviewer"].id, registry=registry, uow=uow())}
    assert list(rows) == [queued, scored]   # newest first
    q, s = rows[queued], rows[scored]
    assert (q.contract.status, q.contract.progress, q.has_cap, q.p_cap, q.contract.uploaded_by) == (
        "queued", 0.0, None, None, "lou")
    assert (s.contract.status, s.model_version, s.contract.n_clauses, s.contract.n_needs_review) == (
        "in_review", "fake-v1", 6, 4)
    assert s.contract.label_counts["capped"] == 1 and s.contract.uploaded_by == "lee"
    # The best clause's summed probability of the mapped labels (app.taxonomy.CUAD_MAPPING): for a cap the
    # basket clause, 0.48 + 0.44 + 2 x 0.016 (carve_out, exclusion); for uncapped the fraud clause, 0.50 + 0.42.
    assert (s.has_cap, s.p_cap) == (False, 0.952)
    assert (s.has_uncapped, s.p_uncapped) == (True, 0.92)


def test_without_the_scoring_version_the_list_answers_by_label(enqueue, score, uow, people, tmp_path):
    contract_id = enqueue(people["lawyer"].id, "msa.txt", CONTRACT.encode(), uow=uow()).contract_id
    score(contract_id)
    [row] = services.contract_overview(people["lawyer"].id, registry=Registry(tmp_path / "none", tmp_path / "none"),
                                       uow=uow())
    assert (row.has_cap, row.has_uncapped) == (True, True)   # a clause labelled capped, one uncapped


def test_archived_contracts_leave_the_list(enqueue, uow, people):
    contract_id = enqueue(people["lawyer"].id, "msa.txt", CONTRACT.encode(), uow=uow()).contract_id
    services.archive_contract(people["lawyer"].id, contract_id, uow=uow())
    assert services.contract_overview(people["lawyer"].id, uow=uow()) == []


# ---------------------------------------------------------------- log-in sessions

def test_a_session_token_logs_its_user_in_until_logout(uow, people, factory):
    ticket = services.start_session(people["lawyer"].id, hours=1, uow=uow())
    assert len(ticket.token) >= 43 and ticket.max_age_s == 3600
    assert services.resume_session(ticket.token, uow=uow()) == people["lawyer"]
    services.end_session(ticket.token, uow=uow())
    assert services.resume_session(ticket.token, uow=uow()) is None
    with factory() as s:   # only the token's hash is kept
        from app.db import LoginSession
        assert ticket.token not in {row.token_sha256 for row in s.scalars(select(LoginSession))}


def test_a_session_expires(uow, people, clock):
    ticket = services.start_session(people["lawyer"].id, hours=1, uow=uow())
    clock.advance(minutes=59)
    assert services.resume_session(ticket.token, uow=uow()) is not None
    clock.advance(minutes=2)
    assert services.resume_session(ticket.token, uow=uow()) is None


def test_a_disabled_account_or_a_made_up_token_logs_nobody_in(uow, people):
    ticket = services.start_session(people["lawyer"].id, uow=uow())
    for token in ("", None, "x" * 43, ticket.token + "x", "y" * 10_000):
        assert services.resume_session(token, uow=uow()) is None
    services.set_user_active(people["admin"].id, people["lawyer"].id, False, uow=uow())
    assert services.resume_session(ticket.token, uow=uow()) is None


def test_a_new_password_logs_out_every_browser(uow, people):
    ticket = services.start_session(people["lawyer"].id, uow=uow())
    other = services.start_session(people["reviewer"].id, uow=uow())
    services.set_password(people["lawyer"].id, "a-new-password", actor_id=people["admin"].id, uow=uow())
    assert services.resume_session(ticket.token, uow=uow()) is None
    assert services.resume_session(other.token, uow=uow()) == people["reviewer"]
