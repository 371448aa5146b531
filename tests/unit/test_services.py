"""Use cases against an in-memory SQLite database, with a fake scorer and a fake ingestion.

Ingestion and the classifier have their own tests; here they only feed the services.
"""
from __future__ import annotations

import csv
import functools
import io
import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from argon2 import PasswordHasher
from sqlalchemy import func, select
from sqlalchemy.orm import sessionmaker

from app import services
from app.config import Settings
from app.ingest import IngestError
from app.db import AuditEvent, Base, Clause, Contract, Prediction, Review, User, make_engine
from app.registry import Registry
from app.routing import Policy
from app.services import UnitOfWork
from app.taxonomy import LABEL_IDS
from tests.fakes import CONTRACT, FakeScorer

POLICY = Policy(floor=0.5, near_miss_margin=0.15, thresholds={"uncapped": 0.95, "exclusion": 0.8, "capped": 0.85})


@dataclass
class _Doc:
    name: str
    format: str
    text: str
    sha256: str


@dataclass
class _Clause:
    index: int
    number: str | None
    heading: str | None
    text: str
    start: int
    end: int
    page: int
    pages: tuple[int, ...]


def fake_ingest(data: bytes, name: str, *, max_bytes: int | None = None):
    """Numbered paragraphs -> clauses; refuses what is not UTF-8 text, like the real TXT reader."""
    if max_bytes is not None and len(data) > max_bytes:
        raise IngestError(f"{name}: the file is {len(data) / 2**20:.1f} MB, over the {max_bytes / 2**20:.0f} MB limit")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise IngestError("not a text file (it is not UTF-8); save it as PDF, DOCX, TXT or HTML") from None
    clauses, pos = [], 0
    for i, para in enumerate(p for p in text.split("\n\n") if p.strip()):
        start = text.index(para, pos)
        pos = start + len(para)
        m = re.match(r"(\d+)\. (\w[\w ]*)\.", para.strip())
        clauses.append(_Clause(i, m.group(1) if m else None, m.group(2) if m else None, para.strip(), start, pos,
                               1 + i // 3, (1 + i // 3,)))
    return _Doc(name, "txt", text, ""), clauses


class Clock:
    def __init__(self):
        self.now = datetime(2026, 1, 1, 9, 0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw) -> None:
        self.now += timedelta(**kw)


@pytest.fixture
def factory():
    engine = make_engine("sqlite://")
    Base.metadata.create_all(engine)
    return sessionmaker(engine, expire_on_commit=False)


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def uow(factory, clock):
    return lambda: UnitOfWork(factory, clock=clock)


@pytest.fixture(autouse=True)
def settings(tmp_path, monkeypatch):
    # argon2's default cost (~0.5 s a hash on a busy CI box) is not what these tests test.
    monkeypatch.setattr(services.users, "hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    return Settings(upload_dir=tmp_path / "uploads", registry_dir=tmp_path / "registry",
                    default_model_dir=tmp_path / "no-default", max_upload_mb=1.0, batch_size=4)


@pytest.fixture
def upload(settings):
    """services.upload_contract with this test's settings and the fake ingestion passed in."""
    return functools.partial(services.upload_contract, settings=settings, ingest=fake_ingest)


@pytest.fixture
def people(uow):
    admin = services.register_user("ann", "admin-pass", "admin", uow=uow())

    def make(name: str, role: str):
        return services.register_user(name, f"{name}-pass", role, actor_id=admin.id, uow=uow())

    return {"admin": admin, "lawyer": make("lee", "lawyer"), "lawyer2": make("lou", "lawyer"),
            "reviewer": make("rita", "reviewer"), "reviewer2": make("ray", "reviewer")}


@pytest.fixture
def contract(uow, people, upload):
    return upload(people["lawyer"].id, "msa.txt", CONTRACT.encode(), scorer_factory=FakeScorer,
                                    policy=POLICY, uow=uow())


def count(factory, model, *where) -> int:
    with factory() as s:
        return s.scalar(select(func.count()).select_from(model).where(*where))


def actions(factory) -> list[str]:
    with factory() as s:
        return list(s.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))


# ---------------------------------------------------------------- unit of work

def test_uncommitted_work_is_rolled_back(factory, uow):
    with uow() as u:
        u.session.add(User(name="x", role="lawyer", password_hash="h"))
    assert count(factory, User) == 0


def test_an_exception_inside_the_block_leaves_no_rows(factory, uow):
    with pytest.raises(RuntimeError), uow() as u:
        u.session.add(User(name="x", role="lawyer", password_hash="h"))
        u.session.flush()
        raise RuntimeError("boom")
    assert count(factory, User) == 0


def test_a_use_case_commits(factory, uow):
    unit = uow()
    services.register_user("ann", "admin-pass", "admin", uow=unit)
    assert unit.committed and count(factory, User) == 1


# ---------------------------------------------------------------- users

def test_authenticate_returns_the_user_and_refuses_wrong_passwords(uow, people, factory):
    assert services.authenticate("rita", "rita-pass", uow=uow()) == people["reviewer"]
    for name, password in [("rita", "wrong-pass"), ("nobody", "rita-pass")]:
        with pytest.raises(services.AuthError, match="^Wrong user name or password.$"):
            services.authenticate(name, password, uow=uow())
    assert actions(factory).count("login_failed") == 2


def test_passwords_are_stored_as_argon2_hashes(factory, people):
    with factory() as s:
        stored = s.scalar(select(User.password_hash).where(User.name == "rita"))
    assert stored.startswith("$argon2id$") and "rita-pass" not in stored


@pytest.mark.parametrize("name, password, role, message", [
    ("", "long-enough", "lawyer", "1 to 64 characters"),
    ("bob", "short", "lawyer", "at least 8 characters"),
    ("bob", "long-enough", "boss", "Unknown role 'boss'"),
    ("rita", "long-enough", "lawyer", "already exists"),
])
def test_register_user_refuses_bad_values(uow, people, name, password, role, message):
    with pytest.raises(services.InvalidInput, match=message):
        services.register_user(name, password, role, actor_id=people["admin"].id, uow=uow())


def test_only_admins_register_users(uow, people):
    with pytest.raises(services.PermissionDenied, match="A reviewer cannot manage users"):
        services.register_user("bob", "long-enough", "admin", actor_id=people["reviewer"].id, uow=uow())


def test_a_disabled_user_cannot_log_in_or_act_and_keeps_their_history(uow, people, factory):
    admin, rita = people["admin"], people["reviewer"]
    with pytest.raises(services.InvalidInput, match="cannot disable your own account"):
        services.set_user_active(admin.id, admin.id, False, uow=uow())
    assert services.set_user_active(admin.id, rita.id, False, uow=uow()).active is False
    with pytest.raises(services.AuthError, match="^Wrong user name or password.$"):
        services.authenticate("rita", "rita-pass", uow=uow())
    with pytest.raises(services.AuthError, match="log in again"):
        services.claim_next_review(rita.id, uow=uow())
    assert count(factory, User, User.name == "rita") == 1
    services.set_user_active(admin.id, rita.id, True, uow=uow())
    assert services.authenticate("rita", "rita-pass", uow=uow()) == rita


def _attempt(uow, name: str, password: str, client: str | None = None):
    """One log-in: the user, or the AuthError it raised."""
    try:
        return services.authenticate(name, password, client=client, uow=uow())
    except services.AuthError as e:
        return e


def test_the_right_password_after_30_wrong_ones_is_refused_during_the_back_off(uow, people, clock, factory):
    # An attacker going as fast as the throttle lets them: 30 wrong passwords, then the right one.
    wrong = 0
    while wrong < 30:
        result = _attempt(uow, "rita", f"guess-{wrong}")
        if isinstance(result, services.LoginThrottled):
            clock.advance(seconds=int(re.search(r"in (\d+) (\w+)", str(result)).group(1)) *
                          (60 if "minute" in str(result) else 1))
            continue
        assert str(result) == "Wrong user name or password."
        wrong += 1
    with pytest.raises(services.LoginThrottled, match="Too many failed log-ins; try again in 15 minutes"):
        services.authenticate("rita", "rita-pass", uow=uow())
    clock.advance(minutes=14)
    with pytest.raises(services.LoginThrottled):
        services.authenticate("rita", "rita-pass", uow=uow())
    clock.advance(minutes=1, seconds=1)
    assert services.authenticate("rita", "rita-pass", uow=uow()) == people["reviewer"]
    assert "login_throttled" in actions(factory)
    # A success starts the count afresh: the next typo costs no wait.
    assert str(_attempt(uow, "rita", "typo")) == "Wrong user name or password."
    assert services.authenticate("rita", "rita-pass", uow=uow()) == people["reviewer"]


def test_the_back_off_doubles_per_failure_and_applies_to_unknown_names_alike(uow, people, clock):
    for name in ("rita", "nobody"):
        for _ in range(services.users.FREE_FAILURES):
            assert not isinstance(_attempt(uow, name, "wrong"), services.LoginThrottled)
        waits = []
        for _ in range(4):
            result = _attempt(uow, name, "wrong")
            assert isinstance(result, services.LoginThrottled)
            waits.append(int(re.search(r"in (\d+) seconds", str(result)).group(1)))
            clock.advance(seconds=waits[-1])
            assert str(_attempt(uow, name, "wrong")) == "Wrong user name or password."
        assert waits == [1, 2, 4, 8], name


def test_one_client_trying_many_names_is_throttled(uow, people, clock):
    for i in range(services.users.FREE_CLIENT_FAILURES):
        assert str(_attempt(uow, f"user{i}", "wrong", client="203.0.113.9")) == "Wrong user name or password."
    assert isinstance(_attempt(uow, "rita", "rita-pass", client="203.0.113.9"), services.LoginThrottled)
    assert _attempt(uow, "rita", "rita-pass", client="198.51.100.1") == people["reviewer"]  # another client
    clock.advance(seconds=2)
    assert _attempt(uow, "rita", "rita-pass", client="203.0.113.9") == people["reviewer"]


def test_failed_log_ins_keep_no_typed_text_unless_it_names_a_user(uow, people, factory):
    _attempt(uow, "my-secret-password", "x", client="10.0.0.1\x1b[2J")
    _attempt(uow, "rita", "wrong")
    with factory() as s:
        rows = s.execute(select(AuditEvent.user_id, AuditEvent.detail)
                         .where(AuditEvent.action == "login_failed").order_by(AuditEvent.id)).all()
    (unknown_id, unknown), (rita_id, rita) = rows
    assert unknown_id is None and "my-secret-password" not in json.dumps(unknown)
    assert unknown["who"] == services.users.name_key("my-secret-password") and "name" not in unknown
    assert unknown["client"] == "10.0.0.1?[2J"
    assert rita_id == people["reviewer"].id and rita["name"] == "rita"


def test_admins_reset_passwords_and_change_roles_but_never_remove_the_last_admin(uow, people, factory):
    admin, rita = people["admin"], people["reviewer"]
    services.set_password(rita.id, "new-rita-pass", actor_id=admin.id, uow=uow())
    assert isinstance(_attempt(uow, "rita", "rita-pass"), services.AuthError)
    assert services.authenticate("rita", "new-rita-pass", uow=uow()).id == rita.id
    with pytest.raises(services.InvalidInput, match="at least 8"):
        services.set_password(rita.id, "short", uow=uow())
    with pytest.raises(services.PermissionDenied):
        services.set_password(admin.id, "taken-over!", actor_id=rita.id, uow=uow())
    assert services.set_role(rita.id, "lawyer", actor_id=admin.id, uow=uow()).role == "lawyer"
    with pytest.raises(services.PermissionDenied, match="A lawyer cannot review"):
        services.claim_next_review(rita.id, uow=uow())
    with pytest.raises(services.InvalidInput, match="Unknown role"):
        services.set_role(rita.id, "root", uow=uow())
    with pytest.raises(services.InvalidInput, match="only active admin"):
        services.set_role(admin.id, "lawyer", uow=uow())
    with pytest.raises(services.InvalidInput, match="only active admin"):
        services.set_user_active(None, admin.id, False, uow=uow())
    assert {"reset_password", "set_role"} <= set(actions(factory))


def test_disabling_a_reviewer_puts_their_claim_back_in_the_queue(uow, contract, people):
    task = services.claim_next_review(people["reviewer"].id, uow=uow())
    services.set_user_active(None, people["reviewer"].id, False, uow=uow())
    assert services.claim_next_review(people["reviewer2"].id, uow=uow()).clause.id == task.clause.id


# ---------------------------------------------------------------- upload

def test_upload_stores_clauses_in_order_with_routed_predictions(uow, contract, factory, settings):
    assert (contract.n_clauses, contract.n_auto_accepted, contract.n_needs_review) == (6, 2, 4)
    assert not contract.duplicate and contract.model_version == "fake-v1"
    with factory() as s:
        rows = s.execute(select(Clause.index, Clause.number, Clause.status, Prediction.decision, Prediction.reason)
                         .join(Prediction).order_by(Clause.index)).all()
    assert rows[0] == (0, "1", "auto_accepted", "auto_accept", "Confident: capped (92%)")
    assert rows[1][2:] == ("needs_review", "review", "Could be uncapped (50%) or carve-out (42%)")
    stored = settings.upload_dir / contract.sha256[:2] / contract.sha256
    assert stored.read_bytes() == CONTRACT.encode()


def test_same_bytes_again_are_a_duplicate_and_not_scored_again(uow, contract, people, factory, upload):
    scorer = FakeScorer()
    again = upload(people["lawyer2"].id, "copy.txt", CONTRACT.encode(),
                                     scorer_factory=lambda: scorer, policy=POLICY, uow=uow())
    assert again.duplicate and again.contract_id == contract.contract_id and again.filename == "msa.txt"
    assert scorer.calls == 0 and count(factory, Contract) == 1
    assert actions(factory)[-1] == "upload_duplicate"


def test_progress_is_reported_up_to_done(uow, people, upload):
    seen = []
    upload(people["lawyer"].id, "msa.txt", CONTRACT.encode(), scorer_factory=FakeScorer,
                             policy=POLICY, progress=lambda f, m: seen.append((f, m)), uow=uow())
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert "scored 6/6 clauses" in seen[-3][1]


def test_unreadable_file_is_an_invalid_file_error_naming_it(uow, people, factory, upload):
    with pytest.raises(services.InvalidFile, match=r"^scan\.txt: not a text file"):
        upload(people["lawyer"].id, "scan.txt", b"\xff\xfe\x00bad", scorer_factory=FakeScorer,
                                 policy=POLICY, uow=uow())
    assert count(factory, Contract) == 0


def test_oversized_file_is_refused_with_the_limit_from_settings(uow, people, upload):
    with pytest.raises(services.InvalidFile, match=r"^big\.txt: the file is 2\.0 MB, over the 1 MB limit$"):
        upload(people["lawyer"].id, "big.txt", b"x" * (2 * 1024 * 1024),
                                 scorer_factory=FakeScorer, policy=POLICY, uow=uow())


def test_a_failing_scorer_leaves_no_rows(uow, people, factory, upload):
    class Broken(FakeScorer):
        def predict_proba(self, texts, headings=None):
            return super().predict_proba(texts)[:, :3]

    with pytest.raises(RuntimeError, match="returned shape"):
        upload(people["lawyer"].id, "msa.txt", CONTRACT.encode(), scorer_factory=Broken,
                                 policy=POLICY, uow=uow())
    assert count(factory, Contract) == count(factory, Clause) == count(factory, Prediction) == 0


def test_a_model_that_cannot_load_is_a_model_unavailable_error(uow, people, upload):
    from app.registry import ModelVersionNotFound

    def missing():
        raise ModelVersionNotFound("model version 'default' not found (known: none)")

    with pytest.raises(services.ModelUnavailable, match="cannot score contracts right now: model version 'default'"):
        upload(people["lawyer"].id, "msa.txt", CONTRACT.encode(), scorer_factory=missing,
                                 uow=uow())


def test_reviewers_cannot_upload(uow, people, upload):
    with pytest.raises(services.PermissionDenied, match="A reviewer cannot upload contracts"):
        upload(people["reviewer"].id, "msa.txt", CONTRACT.encode(), scorer_factory=FakeScorer,
                                 policy=POLICY, uow=uow())


def test_upload_without_a_policy_uses_the_default_policy_file(uow, people, upload):
    summary = upload(people["lawyer"].id, "msa.txt", CONTRACT.encode(),
                                       scorer_factory=FakeScorer, uow=uow())
    assert summary.n_clauses == 6 and summary.n_needs_review >= 4


def test_a_text_that_is_not_a_contract_is_stored_with_a_warning(uow, people, upload):
    from app.ingest import ingest_bytes

    shopping = "Shopping list\n\nMilk\nEggs\nBread\n".encode()
    summary = upload(people["lawyer"].id, "list.txt", shopping, scorer_factory=FakeScorer, policy=POLICY,
                     ingest=ingest_bytes, uow=uow())
    assert summary.n_clauses >= 1 and not summary.duplicate  # accepted, not refused
    [warning] = summary.warnings
    assert warning.startswith("list.txt: this does not look like a contract")
    assert services.get_contract(people["lawyer"].id, summary.contract_id, uow=uow()).clauses
    contract = upload(people["lawyer"].id, "msa.txt", CONTRACT.encode(), scorer_factory=FakeScorer, policy=POLICY,
                      ingest=ingest_bytes, uow=uow())
    assert contract.warnings == ()


# ---------------------------------------------------------------- reading

def test_get_contract_lists_clauses_in_order_with_exposure(uow, contract, people):
    detail = services.get_contract(people["reviewer"].id, contract.contract_id, uow=uow())
    assert [c.number for c in detail.clauses] == ["1", "2", "3", "4", "5", "6"]
    assert detail.clauses[1].probs["uncapped"] == pytest.approx(0.5)
    assert [e.line for e in detail.exposure][:2] == ["uncapped for fraud, 2", "capped at $1,000,000 (Limitation), 1"]
    assert detail.contract.n_needs_review == 4 and detail.contract.uploaded_by == "lee"


def test_missing_contract_is_not_found(uow, people):
    with pytest.raises(services.NotFound, match="Contract 99 not found"):
        services.get_contract(people["lawyer"].id, 99, uow=uow())


def test_uploading_an_archived_contract_again_restores_it(uow, contract, people, upload):
    services.archive_contract(people["lawyer"].id, contract.contract_id, uow=uow())
    again = upload(people["lawyer"].id, "msa.txt", CONTRACT.encode(), scorer_factory=FakeScorer,
                                     policy=POLICY, uow=uow())
    assert again.duplicate
    assert [c.status for c in services.list_contracts(people["lawyer"].id, uow=uow())] == ["in_review"]


def test_archived_contracts_leave_lists_but_are_kept(uow, contract, people, factory):
    with pytest.raises(services.PermissionDenied):
        services.archive_contract(people["lawyer2"].id, contract.contract_id, uow=uow())
    services.archive_contract(people["lawyer"].id, contract.contract_id, uow=uow())
    assert services.list_contracts(people["lawyer"].id, uow=uow()) == []
    assert len(services.list_contracts(people["lawyer"].id, include_archived=True, uow=uow())) == 1
    assert services.claim_next_review(people["reviewer"].id, uow=uow()) is None
    assert count(factory, Clause) == 6


# ---------------------------------------------------------------- review queue

def test_queue_serves_near_misses_first_then_least_confident(uow, contract, people):
    order = []
    while task := services.claim_next_review(people["reviewer"].id, uow=uow()):
        order.append((task.clause.number, task.clause.rule))
        services.submit_review(people["reviewer"].id, task.clause.id, task.clause.model_label, uow=uow())
    assert order == [("3", "near_miss"), ("2", "near_miss"), ("4", "below_floor"), ("5", "below_threshold")]


def test_task_carries_neighbours_and_reason(uow, contract, people):
    task = services.claim_next_review(people["reviewer"].id, uow=uow())
    assert task.clause.reason == "Could be cap and collar (48%) or capped (44%)"
    assert [c.number for c in task.before] == ["1", "2"] and [c.number for c in task.after] == ["4", "5"]
    assert task.filename == "msa.txt"


def test_two_reviewers_never_get_the_same_clause(uow, contract, people):
    a = services.claim_next_review(people["reviewer"].id, uow=uow())
    b = services.claim_next_review(people["reviewer2"].id, uow=uow())
    c = services.claim_next_review(people["admin"].id, uow=uow())
    assert len({a.clause.id, b.clause.id, c.clause.id}) == 3


def test_asking_again_returns_the_clause_already_held(uow, contract, people, clock):
    first = services.claim_next_review(people["reviewer"].id, uow=uow())
    clock.advance(minutes=10)
    again = services.claim_next_review(people["reviewer"].id, uow=uow())
    assert again.clause.id == first.clause.id and again.claim_expires_at > first.claim_expires_at


def test_an_expired_claim_goes_to_the_next_reviewer_and_the_first_cannot_submit(uow, contract, people, clock):
    first = services.claim_next_review(people["reviewer"].id, uow=uow())
    clock.advance(minutes=16)
    second = services.claim_next_review(people["reviewer2"].id, uow=uow())
    assert second.clause.id == first.clause.id
    with pytest.raises(services.ClaimExpired, match="expired and ray is reviewing it now"):
        services.submit_review(people["reviewer"].id, first.clause.id, "capped", uow=uow())
    # and the first reviewer, asking again, gets a different clause
    assert services.claim_next_review(people["reviewer"].id, uow=uow()).clause.id != first.clause.id


def test_expired_claim_nobody_took_can_still_be_submitted(uow, contract, people, clock):
    task = services.claim_next_review(people["reviewer"].id, uow=uow())
    clock.advance(hours=1)
    info = services.submit_review(people["reviewer"].id, task.clause.id, "capped", uow=uow())
    assert info.status == "reviewed"


def test_a_late_review_after_another_reviewer_took_over_and_reviewed_is_refused(uow, contract, people, clock,
                                                                                 factory):
    # r1's claim lapses, r2 claims and reviews, r1 submits late: r2's review stands.
    first = services.claim_next_review(people["reviewer"].id, uow=uow())
    clock.advance(minutes=16)
    second = services.claim_next_review(people["reviewer2"].id, uow=uow())
    assert second.clause.id == first.clause.id
    services.submit_review(people["reviewer2"].id, second.clause.id, "carve_out", uow=uow())
    with pytest.raises(services.ClaimExpired, match="ray reviewed clause 3 after your claim lapsed"):
        services.submit_review(people["reviewer"].id, first.clause.id, "capped", uow=uow())
    with factory() as s:
        assert s.scalars(select(Review.new_label).where(Review.clause_id == first.clause.id)).all() == ["carve_out"]
        assert s.get(Clause, first.clause.id).label == "carve_out"


def test_a_late_review_after_another_reviewer_took_over_an_expired_claim_is_refused(uow, contract, people, clock):
    first = services.claim_next_review(people["reviewer"].id, uow=uow())
    clock.advance(minutes=16)
    services.claim_next_review(people["reviewer2"].id, uow=uow())
    clock.advance(minutes=16)  # ray's claim lapsed too, but it is still ray's
    with pytest.raises(services.ClaimExpired, match="ray took it over"):
        services.submit_review(people["reviewer"].id, first.clause.id, "capped", uow=uow())


def test_a_review_of_an_unclaimed_clause_is_refused_but_an_admin_may_adjudicate(uow, contract, people, factory):
    with pytest.raises(services.ClaimRequired, match="You do not hold a claim on clause 1"):
        services.submit_review(people["reviewer"].id, 1, "capped", uow=uow())
    with pytest.raises(services.ClaimRequired):  # an admin too, unless adjudicating explicitly
        services.submit_review(people["admin"].id, 1, "capped", uow=uow())
    with pytest.raises(services.PermissionDenied, match="A reviewer cannot settle reviewers' disagreements"):
        services.submit_review(people["reviewer"].id, 1, "capped", adjudicate=True, uow=uow())
    info = services.submit_review(people["admin"].id, 1, "capped", "settled", adjudicate=True, uow=uow())
    assert info.label == "capped" and "adjudicate" in actions(factory)


def test_an_adjudication_takes_the_claim_from_the_reviewer(uow, contract, people):
    task = services.claim_next_review(people["reviewer"].id, uow=uow())
    services.submit_review(people["admin"].id, task.clause.id, "capped", adjudicate=True, uow=uow())
    with pytest.raises(services.ClaimExpired, match="ann reviewed"):
        services.submit_review(people["reviewer"].id, task.clause.id, "uncapped", uow=uow())


def test_claim_clause_claims_a_given_clause_unless_someone_else_holds_it(uow, contract, people):
    task = services.claim_clause(people["reviewer"].id, 1, uow=uow())
    assert task.clause.id == 1
    with pytest.raises(services.ClaimExpired, match="rita is reviewing clause 1 now"):
        services.claim_clause(people["reviewer2"].id, 1, uow=uow())
    assert services.submit_review(people["reviewer"].id, 1, "capped", uow=uow()).label == "capped"


def test_archived_contracts_refuse_reviews_and_claims(uow, contract, people):
    task = services.claim_next_review(people["reviewer"].id, uow=uow())
    services.archive_contract(people["lawyer"].id, contract.contract_id, uow=uow())
    with pytest.raises(services.ContractArchived, match="msa.txt is archived"):
        services.submit_review(people["reviewer"].id, task.clause.id, "capped", uow=uow())
    with pytest.raises(services.ContractArchived):
        services.submit_review(people["admin"].id, task.clause.id, "capped", adjudicate=True, uow=uow())
    with pytest.raises(services.ContractArchived):
        services.claim_clause(people["reviewer2"].id, task.clause.id, uow=uow())


def test_skipping_releases_the_claim_and_serves_the_next(uow, contract, people):
    first = services.claim_next_review(people["reviewer"].id, uow=uow())
    second = services.claim_next_review(people["reviewer"].id, exclude=[first.clause.id], uow=uow())
    assert second.clause.id != first.clause.id
    assert services.claim_next_review(people["reviewer2"].id, uow=uow()).clause.id == first.clause.id


def test_release_claim_puts_the_clause_back(uow, contract, people, factory):
    task = services.claim_next_review(people["reviewer"].id, uow=uow())
    assert services.release_claim(people["reviewer2"].id, task.clause.id, uow=uow()) is False
    assert services.release_claim(people["reviewer"].id, task.clause.id, uow=uow()) is True
    assert services.claim_next_review(people["reviewer2"].id, uow=uow()).clause.id == task.clause.id
    assert "release_claim" in actions(factory)


def test_lawyers_cannot_review(uow, contract, people):
    with pytest.raises(services.PermissionDenied, match="A lawyer cannot review clauses"):
        services.claim_next_review(people["lawyer"].id, uow=uow())
    with pytest.raises(services.PermissionDenied):
        services.submit_review(people["lawyer"].id, 1, "capped", uow=uow())


def test_corrections_are_appended_not_overwritten(uow, contract, people, factory):
    task = services.claim_next_review(people["reviewer"].id, uow=uow())
    services.submit_review(people["reviewer"].id, task.clause.id, "capped", "no basket really", uow=uow())
    info = services.submit_review(people["admin"].id, task.clause.id, "cap_and_collar", "there is a basket",
                                  adjudicate=True, uow=uow())
    with factory() as s:
        history = s.execute(select(Review.previous_label, Review.new_label, Review.model_label, Review.comment)
                            .where(Review.clause_id == task.clause.id).order_by(Review.id)).all()
    assert history == [("cap_and_collar", "capped", "cap_and_collar", "no basket really"),
                       ("capped", "cap_and_collar", "cap_and_collar", "there is a basket")]
    assert info.label == "cap_and_collar" and info.latest_review.reviewer == "ann"
    assert info.latest_review.is_correction  # of the previous review


def test_unknown_label_is_refused(uow, contract, people):
    with pytest.raises(services.InvalidLabel, match="'unlimited' is not a label"):
        services.submit_review(people["reviewer"].id, 1, "unlimited", uow=uow())


def test_contract_is_complete_when_its_queue_is_empty(uow, contract, people):
    while task := services.claim_next_review(people["reviewer"].id, uow=uow()):
        services.submit_review(people["reviewer"].id, task.clause.id, task.clause.label, uow=uow())
    [summary] = services.list_contracts(people["lawyer"].id, uow=uow())
    assert summary.status == "complete" and summary.n_needs_review == 0


# ---------------------------------------------------------------- dashboard, export

def test_dashboard_counts_queue_rate_and_agreement(uow, contract, people):
    a = services.claim_next_review(people["reviewer"].id, uow=uow())
    services.submit_review(people["reviewer"].id, a.clause.id, "capped", uow=uow())          # disagrees
    b = services.claim_next_review(people["reviewer"].id, uow=uow())
    services.submit_review(people["reviewer"].id, b.clause.id, b.clause.model_label, uow=uow())  # agrees
    services.claim_next_review(people["reviewer2"].id, uow=uow())
    stats = services.dashboard_stats(people["admin"].id, uow=uow())
    assert (stats.n_clauses, stats.n_needs_review, stats.n_claimed, stats.n_reviewed) == (6, 2, 1, 2)
    assert stats.auto_accept_rate == pytest.approx(2 / 6) and stats.agreement == pytest.approx(0.5)
    assert sum(b.count for b in stats.reliability) == 2
    # The dashboard is an admin page (app.roles): the services refuse the others, as the UI hides it from them.
    for role in ("lawyer", "reviewer"):
        with pytest.raises(services.PermissionDenied, match=f"A {role} cannot see the dashboard"):
            services.dashboard_stats(people[role].id, uow=uow())


def test_export_contains_the_latest_correction(uow, contract, people):
    task = services.claim_next_review(people["reviewer"].id, uow=uow())
    services.submit_review(people["reviewer"].id, task.clause.id, "capped", "no basket", uow=uow())
    data = services.export_labels(people["lawyer"].id, "csv", uow=uow())
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    row = next(r for r in rows if r["clause_id"] == str(task.clause.id))
    assert (row["label"], row["label_source"], row["model_label"], row["reviewed_by"]) == \
        ("capped", "review", "cap_and_collar", "rita")
    lines = services.export_labels(people["lawyer"].id, "jsonl", uow=uow()).decode().splitlines()
    assert len(lines) == 6 and json.loads(lines[2])["label"] == "capped"


def test_label_exports_give_every_labels_probability_in_its_own_column(uow, contract, people):
    data = services.export_labels(people["lawyer"].id, "csv", uow=uow())
    # UTF-8 with a byte-order mark: Excel reads it as UTF-8, so "§" and curly quotes survive
    assert data.startswith(b"\xef\xbb\xbfcontract_id,") and data.count(b"\xef\xbb\xbf") == 1
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    jsonl = [json.loads(line) for line in services.export_labels(people["lawyer"].id, "jsonl", uow=uow()).splitlines()]
    detail = services.get_contract(people["lawyer"].id, contract.contract_id, uow=uow())
    columns = [f"p_{label}" for label in LABEL_IDS]
    assert [c for c in rows[0] if c.startswith("p_")] == columns  # p_carve_out ... p_none, in taxonomy order
    for csv_row, json_row, clause in zip(rows, jsonl, detail.clauses, strict=True):
        probs = [json_row[c] for c in columns]
        assert probs == pytest.approx([clause.probs[label] for label in LABEL_IDS], abs=1e-4)
        assert [float(csv_row[c]) for c in columns] == pytest.approx(probs)
        assert sum(probs) == pytest.approx(1, abs=1e-3)
        assert max(columns, key=json_row.get) == f"p_{clause.model_label}"


def test_excel_report_speaks_statuses_and_gives_probabilities(uow, contract, people):
    from openpyxl import load_workbook

    wb = load_workbook(io.BytesIO(services.export_contract_excel(people["lawyer"].id, contract.contract_id, uow=uow())))
    summary = {row[0]: row[1] for row in wb["Summary"].iter_rows(values_only=True) if row[0]}
    assert summary["Status"] == "waiting for review"  # not "in_review"
    header, *rows = wb["Clauses"].iter_rows(values_only=True)
    assert [h for h in header if h.startswith("p_")] == [f"p_{label}" for label in LABEL_IDS]
    records = [dict(zip(header, r)) for r in rows]
    assert {r["Status"] for r in records} <= {"auto-accepted", "waiting for review", "reviewed"}
    assert "waiting for review" in {r["Status"] for r in records}
    assert {r["Decision"] for r in records} <= {"auto-accepted", "sent to review"}
    detail = services.get_contract(people["lawyer"].id, contract.contract_id, uow=uow())
    for record, clause in zip(records, detail.clauses, strict=True):
        assert record["p_capped"] == pytest.approx(clause.probs["capped"], abs=1e-4)


def test_the_labels_csv_has_no_formula_cells(uow, people, upload):
    text = CONTRACT + "\n=HYPERLINK(\"http://x\",\"y\")\n\n@SUM(A1) and -1+2\n"
    summary = upload(people["lawyer"].id, "=f.txt", text.encode(), scorer_factory=FakeScorer, policy=POLICY,
                     uow=uow())
    data = services.export_labels(people["lawyer"].id, "csv", contract_id=summary.contract_id,
                                  uow=uow()).decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(data)))
    assert rows[0]["filename"] == "'=f.txt"
    assert [r["text"][:3] for r in rows[-2:]] == ["'=H", "'@S"]
    assert all(not v or v[0] not in "=+-@\t\r" for r in rows for v in r.values())


def test_excel_report_keeps_formula_like_text_as_text(uow, people, upload):
    text = CONTRACT + "\n=HYPERLINK(\"http://x\")\n"
    summary = upload(people["lawyer"].id, "f.txt", text.encode(), scorer_factory=FakeScorer,
                                       policy=POLICY, uow=uow())
    from openpyxl import load_workbook

    data = services.export_contract_excel(people["lawyer"].id, summary.contract_id, uow=uow())
    wb = load_workbook(io.BytesIO(data))
    header = [c.value for c in wb["Clauses"][1]]
    texts = [row[header.index("Text")] for row in wb["Clauses"].iter_rows(min_row=2, values_only=True)]
    assert texts[-1].startswith("=HYPERLINK") and wb["Clauses"].cell(8, header.index("Text") + 1).data_type == "s"
    assert "uncapped for fraud, 2" in [c.value for c in wb["Summary"]["B"]]


def test_reviewed_clauses_give_the_settled_label_and_each_reviewers_last_word(uow, contract, people):
    task = services.claim_next_review(people["reviewer"].id, uow=uow())
    services.submit_review(people["reviewer"].id, task.clause.id, "capped", uow=uow())
    for who in ("reviewer2", "reviewer"):  # a reviewed clause is claimed by id to be reviewed again
        services.claim_clause(people[who].id, task.clause.id, uow=uow())
        services.submit_review(people[who].id, task.clause.id, "cap_and_collar", uow=uow())
    [row] = services.reviewed_clauses(uow=uow())
    assert (row["clause_id"], row["label"], row["model_label"], row["filename"]) == \
        (task.clause.id, "cap_and_collar", "cap_and_collar", "msa.txt")
    assert row["reviewers"] == {"rita": "cap_and_collar", "ray": "cap_and_collar"}
    with pytest.raises(services.PermissionDenied):
        services.reviewed_clauses(actor_id=people["reviewer"].id, uow=uow())


# ---------------------------------------------------------------- model versions

def test_only_admins_switch_model_versions(uow, people, tmp_path, factory):
    registry = Registry(tmp_path / "registry", tmp_path / "default")
    for path in (tmp_path / "default", tmp_path / "registry" / "v2"):
        path.mkdir(parents=True)
        (path / "card.json").write_text(json.dumps({"metrics": {"macro_f1": 0.7}, "method": "dora"}))
    with pytest.raises(services.PermissionDenied):
        services.list_model_versions(people["reviewer"].id, registry=registry, uow=uow())
    names = [(v.name, v.active) for v in services.list_model_versions(people["admin"].id, registry=registry,
                                                                       uow=uow())]
    assert names == [("default", True), ("v2", False)]
    info = services.activate_model_version(people["admin"].id, "v2", registry=registry, uow=uow())
    assert info.active and registry.active_name() == "v2" and info.metrics == {"macro_f1": 0.7}
    with pytest.raises(services.NotFound, match="v3"):
        services.activate_model_version(people["admin"].id, "v3", registry=registry, uow=uow())
    assert actions(factory).count("activate_model") == 1


def test_every_write_leaves_an_audit_event(uow, contract, people, factory):
    task = services.claim_next_review(people["reviewer"].id, uow=uow())
    services.submit_review(people["reviewer"].id, task.clause.id, "capped", uow=uow())
    services.export_labels(people["lawyer"].id, uow=uow())
    assert actions(factory) == ["register_user"] * 5 + ["upload", "claim", "review", "export"]


def test_a_contract_scored_elsewhere_is_stored_as_given_without_reading_it_again(uow, people, factory, settings):
    # `python -m app score --db`: the batch hands over its own clauses and probabilities.
    from app.scoring import score_clauses

    document, clauses = fake_ingest(CONTRACT.encode(), "msa.txt")
    scored = score_clauses(clauses, FakeScorer(), POLICY)

    summary = services.store_scored_contract(people["lawyer"].id, "msa.txt", CONTRACT.encode(), document, scored,
                                             settings=settings, uow=uow())
    assert (summary.n_clauses, summary.n_needs_review, summary.model_version) == (6, 4, "fake-v1")
    detail = services.get_contract(people["lawyer"].id, summary.contract_id, uow=uow())
    assert [c.probs for c in detail.clauses] == [s.probabilities for s in scored]
    assert [c.reason for c in detail.clauses] == [s.decision.reason for s in scored]
    again = services.store_scored_contract(people["lawyer"].id, "copy.txt", CONTRACT.encode(), document, scored,
                                           settings=settings, uow=uow())
    assert again.duplicate and count(factory, Contract) == 1
