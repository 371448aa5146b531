"""The use cases: what people do with lexdora. The UI and the CLI call only these.

Each use case is one function and one transaction: it opens a unit of work, checks the
caller's role, does the work, writes an audit event and commits explicitly; leaving the
block without a commit rolls everything back. Services take plain values (ids, text,
bytes) and return the plain dataclasses of app.views. Errors a user can cause are
`ServiceError` subclasses whose message can be shown as-is.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import os
from collections.abc import Callable, Collection
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import case, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from app.config import get_settings
from app.db.models import ROLES, AuditEvent, Clause, Contract, Prediction, Review, User, utcnow
from app.exposure import ClauseFacts, exposure_lines
from app.registry import ModelVersion, ModelVersionNotFound, Registry
from app.routing import Policy, load_policy
from app.taxonomy import BY_ID, LABEL_IDS
from app.views import (ClauseInfo, ContractDetail, ContractSummary, DashboardStats, ExposureItem,  # noqa: F401
                       ModelVersionInfo, ReliabilityBin, ReviewInfo, ReviewTask, UploadSummary, UserInfo,
                       clause_info, clause_infos, contract_summaries, current_predictions, load_clauses, user_info)

if TYPE_CHECKING:
    import numpy as np

CLAIM_TTL = timedelta(minutes=15)
NEIGHBOURS = 2            # clauses shown before and after the one under review
MIN_PASSWORD_LENGTH = 8
MAX_COMMENT_CHARS = 5000

# What each role may do; checked here, whatever the UI shows.
PERMISSIONS: dict[str, frozenset[str]] = {
    "read": frozenset(ROLES),
    "export": frozenset(ROLES),
    "upload": frozenset({"lawyer", "admin"}),
    "archive": frozenset({"lawyer", "admin"}),
    "review": frozenset({"reviewer", "admin"}),
    "dashboard": frozenset({"reviewer", "admin"}),
    "manage_users": frozenset({"admin"}),
    "manage_models": frozenset({"admin"}),
}
_WHAT = {"read": "read contracts", "export": "export labels", "upload": "upload contracts",
         "archive": "archive contracts", "review": "review clauses", "dashboard": "see the dashboard",
         "manage_users": "manage users", "manage_models": "change the model version"}

Progress = Callable[[float, str], None]   # (fraction done 0..1, message): st.progress / rich friendly


# ---------------------------------------------------------------------------- errors

class ServiceError(Exception):
    """A problem the user can act on; str(error) is the message to show."""


class AuthError(ServiceError):
    """Wrong name or password, or a session whose user no longer exists."""


class PermissionDenied(ServiceError):
    """The user's role does not allow this."""


class NotFound(ServiceError):
    """No such contract, clause, user or model version."""


class ClaimExpired(ServiceError):
    """The review claim lapsed and another reviewer holds the clause now."""


class InvalidLabel(ServiceError):
    """A label that is not one of the seven."""


class InvalidInput(ServiceError):
    """A bad value: empty name, short password, duplicate user, over-long comment."""


class ModelUnavailable(ServiceError):
    """The model version to score with cannot be loaded; the message says what to do."""


class InvalidFile(ServiceError):
    """An upload that cannot be read (ingestion's IngestError) or is too large; the message names the file."""


# ---------------------------------------------------------------------------- unit of work

class UnitOfWork:
    """One transaction: `with uow: ...; uow.commit()`; leaving the block uncommitted rolls back.

    session_factory: default, the one for settings.database_url (migrated to head on first use).
    clock: naive-UTC "now"; tests pass their own to expire claims.
    """

    def __init__(self, session_factory: sessionmaker[Session] | None = None,
                 clock: Callable[[], datetime] = utcnow):
        self._factory = session_factory
        self.clock = clock
        self.committed = False

    def __enter__(self) -> UnitOfWork:
        if self._factory is None:
            from app.db.session import session_factory
            self._factory = session_factory()
        self.session: Session = self._factory()
        self.committed = False
        return self

    def __exit__(self, *exc) -> None:
        self.session.rollback()  # nothing to undo after commit
        self.session.close()

    def commit(self) -> None:
        self.session.commit()
        self.committed = True


def _uow(uow: UnitOfWork | None) -> UnitOfWork:
    return uow if uow is not None else UnitOfWork()


# ---------------------------------------------------------------------------- scoring

class Scorer(Protocol):
    """What upload needs from a classifier: calibrated probabilities, columns in LABEL_IDS order."""

    version_name: str

    def predict_proba(self, texts: list[str]) -> np.ndarray: ...


class _ClassifierScorer:
    """Adapts app.classifier.Classifier (which names its version as .version.name) to Scorer."""

    def __init__(self, classifier):
        self._classifier = classifier
        self.version_name = classifier.version.name

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        return self._classifier.predict_proba(texts)


def default_scorer() -> Scorer:
    """The active model version's classifier (Classifier.load keeps its weights cached per version)."""
    from app.classifier import Classifier

    return _ClassifierScorer(Classifier.load())


# ---------------------------------------------------------------------------- helpers

def _actor(session: Session, user_id: int, permission: str) -> User:
    user = session.get(User, user_id)
    if user is None or not user.active:
        raise AuthError("Your account is no longer available; log in again.")
    if user.role not in PERMISSIONS[permission]:
        raise PermissionDenied(f"A {user.role} cannot {_WHAT[permission]}.")
    return user


def _audit(session: Session, user_id: int | None, action: str, entity: str, entity_id: int | None,
           **detail) -> None:
    session.add(AuditEvent(user_id=user_id, action=action, entity=entity, entity_id=entity_id, detail=detail))


def _label(label: str) -> str:
    if label not in BY_ID:
        raise InvalidLabel(f"{label!r} is not a label; choose one of {', '.join(LABEL_IDS)}.")
    return label


def _contract(session: Session, contract_id: int) -> Contract:
    contract = session.get(Contract, contract_id)
    if contract is None:
        raise NotFound(f"Contract {contract_id} not found.")
    return contract


def _clause(session: Session, clause_id: int) -> Clause:
    clause = session.get(Clause, clause_id)
    if clause is None:
        raise NotFound(f"Clause {clause_id} not found.")
    return clause


def _where(clause: Clause) -> str:
    return f"clause {clause.number}" if clause.number else f"clause {clause.index + 1}"


_hasher = PasswordHasher()
_dummy: list[str] = []


def _dummy_hash() -> str:
    """Verified against when the name is unknown, so a wrong name costs as long as a wrong password."""
    if not _dummy:
        _dummy.append(_hasher.hash("lexdora-no-such-user"))
    return _dummy[0]


# ---------------------------------------------------------------------------- users

def register_user(name: str, password: str, role: str, *, actor_id: int | None = None,
                  uow: UnitOfWork | None = None) -> UserInfo:
    """Create an account. actor_id: the admin doing it; None only for the local `users add` command."""
    name = name.strip()
    if not name or len(name) > 64:
        raise InvalidInput("A user name needs 1 to 64 characters.")
    if role not in ROLES:
        raise InvalidInput(f"Unknown role {role!r}; choose one of {', '.join(ROLES)}.")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(f"A password needs at least {MIN_PASSWORD_LENGTH} characters.")
    with _uow(uow) as uow:
        if actor_id is not None:
            _actor(uow.session, actor_id, "manage_users")
        if uow.session.scalar(select(User.id).where(User.name == name)) is not None:
            raise InvalidInput(f"A user named {name!r} already exists.")
        user = User(name=name, role=role, password_hash=_hasher.hash(password))
        uow.session.add(user)
        try:
            uow.session.flush()
        except IntegrityError:  # registered by someone else between the check and the insert
            raise InvalidInput(f"A user named {name!r} already exists.") from None
        _audit(uow.session, actor_id, "register_user", "user", user.id, name=name, role=role)
        info = user_info(user)
        uow.commit()
    return info


def authenticate(name: str, password: str, *, uow: UnitOfWork | None = None) -> UserInfo:
    """The user with this name and password; AuthError otherwise (without saying which was wrong)."""
    with _uow(uow) as uow:
        user = uow.session.scalar(select(User).where(User.name == name.strip()))
        try:
            _hasher.verify(user.password_hash if user and user.active else _dummy_hash(), password)
            ok = user is not None and user.active
        except (VerificationError, InvalidHashError):
            ok = False
        if not ok:
            _audit(uow.session, user.id if user else None, "login_failed", "user", user.id if user else None,
                   name=name[:64])
            uow.commit()
            raise AuthError("Wrong user name or password.")
        if _hasher.check_needs_rehash(user.password_hash):  # parameters were raised since it was hashed
            user.password_hash = _hasher.hash(password)
        _audit(uow.session, user.id, "login", "user", user.id)
        info = user_info(user)
        uow.commit()
    return info


def list_users(*, actor_id: int | None = None, uow: UnitOfWork | None = None) -> list[UserInfo]:
    """All accounts. actor_id: an admin; None only for the local `users list` command."""
    with _uow(uow) as uow:
        if actor_id is not None:
            _actor(uow.session, actor_id, "manage_users")
        return [user_info(u) for u in uow.session.scalars(select(User).order_by(User.name))]


def set_user_active(actor_id: int, user_id: int, active: bool, *, uow: UnitOfWork | None = None) -> UserInfo:
    """Disable an account (it can no longer log in; its reviews stay) or enable it again; admins only."""
    with _uow(uow) as uow:
        _actor(uow.session, actor_id, "manage_users")
        if user_id == actor_id and not active:
            raise InvalidInput("You cannot disable your own account; ask another admin.")
        user = uow.session.get(User, user_id)
        if user is None:
            raise NotFound(f"User {user_id} not found.")
        user.active = active
        _audit(uow.session, actor_id, "enable_user" if active else "disable_user", "user", user.id)
        info = user_info(user)
        uow.commit()
    return info


# ---------------------------------------------------------------------------- contracts

def upload_contract(user_id: int, filename: str, data: bytes, *, progress: Progress | None = None,
                    scorer_factory: Callable[[], Scorer] = default_scorer, policy: Policy | None = None,
                    uow: UnitOfWork | None = None) -> UploadSummary:
    """Ingest, score and route one uploaded file; the same bytes uploaded again return duplicate=True.

    Raises InvalidFile with a message naming the file when it cannot be read or is over
    settings.max_upload_mb (ingestion's limit, so one rule gives one message).
    The bytes are kept under settings.upload_dir by SHA-256, outside anything served.
    """
    from app.ingest import IngestError, ingest_bytes

    report = progress or (lambda fraction, message: None)
    settings = get_settings()
    sha = hashlib.sha256(data).hexdigest()
    uow = _uow(uow)

    with uow:  # a quick look first, so a duplicate is not ingested and scored again
        _actor(uow.session, user_id, "upload")
        existing = uow.session.scalar(select(Contract).where(Contract.sha256 == sha))
        if existing is not None:
            summary = _duplicate(uow, user_id, existing, filename)
            uow.commit()
            report(1.0, f"{filename}: already uploaded as {existing.filename}")
            return summary

    report(0.0, f"{filename}: reading")
    try:
        document, clauses = ingest_bytes(data, filename, max_bytes=int(settings.max_upload_mb * 1024 * 1024))
    except IngestError as e:
        message = str(e)
        raise InvalidFile(message if message.startswith(filename) else f"{filename}: {message}") from None
    if not clauses:
        raise InvalidFile(f"{filename}: no clauses found; is it a scanned document without a text layer?")
    report(0.1, f"{filename}: {len(clauses)} clauses found, scoring")

    scorer = _load_scorer(scorer_factory)
    probs = _score(scorer, [c.text for c in clauses], report, filename)
    if policy is None:
        policy = load_policy(_model_version(scorer.version_name))
    decisions = [policy.decide(p) for p in probs]
    report(0.95, f"{filename}: saving")
    _store_upload(settings.upload_dir, sha, data)

    with uow:
        _actor(uow.session, user_id, "upload")
        contract = Contract(sha256=sha, filename=filename[:255], format=document.format, size_bytes=len(data),
                            uploaded_by_id=user_id, text=document.text,
                            status="in_review" if any(d.action == "review" for d in decisions) else "complete")
        uow.session.add(contract)
        try:
            uow.session.flush()
        except IntegrityError:  # the same bytes were uploaded while this one was scored
            uow.session.rollback()
            existing = uow.session.scalar(select(Contract).where(Contract.sha256 == sha))
            summary = _duplicate(uow, user_id, existing, filename)
            uow.commit()
            return summary
        for c, p, d in zip(clauses, probs, decisions, strict=True):
            pages = list(getattr(c, "pages", None) or [])
            clause = Clause(contract_id=contract.id, index=c.index, number=(c.number or None) and c.number[:64],
                            heading=c.heading or None,
                            text=c.text, start=c.start, end=c.end, page=c.page,
                            page_end=max(pages) if pages else c.page, label=d.label,
                            status="needs_review" if d.action == "review" else "auto_accepted")
            clause.predictions.append(Prediction(
                model_version=scorer.version_name, probs=p, label=d.label, confidence=d.confidence,
                decision=d.action, rule=d.rule, reason=d.reason))
            uow.session.add(clause)
        n_review = sum(d.action == "review" for d in decisions)
        _audit(uow.session, user_id, "upload", "contract", contract.id, filename=filename, sha256=sha,
               clauses=len(clauses), needs_review=n_review, model_version=scorer.version_name)
        summary = UploadSummary(contract.id, contract.filename, sha, False, len(clauses),
                                len(clauses) - n_review, n_review, scorer.version_name)
        uow.commit()
    report(1.0, f"{filename}: {len(clauses)} clauses, {n_review} for review")
    return summary


def _duplicate(uow: UnitOfWork, user_id: int, contract: Contract, filename: str) -> UploadSummary:
    if contract.status == "archived":  # uploading it again is the way back from the archive
        pending = uow.session.scalar(select(func.count()).where(Clause.contract_id == contract.id,
                                                                Clause.status == "needs_review"))
        contract.status = "in_review" if pending else "complete"
        _audit(uow.session, user_id, "unarchive", "contract", contract.id)
    statuses = dict(uow.session.execute(select(Clause.status, func.count()).where(
        Clause.contract_id == contract.id).group_by(Clause.status)).all())
    version = uow.session.scalar(select(Prediction.model_version).join(Clause).where(
        Clause.contract_id == contract.id, Prediction.current).limit(1)) or ""
    _audit(uow.session, user_id, "upload_duplicate", "contract", contract.id, filename=filename)
    return UploadSummary(contract.id, contract.filename, contract.sha256, True, sum(statuses.values()),
                         statuses.get("auto_accepted", 0), statuses.get("needs_review", 0), version)


def _load_scorer(scorer_factory: Callable[[], Scorer]) -> Scorer:
    from app.classifier import ClassifierError

    try:
        return scorer_factory()
    except (ClassifierError, ModelVersionNotFound) as e:
        raise ModelUnavailable(f"The model cannot score contracts right now: {e}") from None


def _score(scorer: Scorer, texts: list[str], report: Progress, filename: str) -> list[dict[str, float]]:
    batch = max(1, get_settings().batch_size)
    rows: list[dict[str, float]] = []
    for start in range(0, len(texts), batch):
        chunk = texts[start:start + batch]
        out = scorer.predict_proba(chunk)
        if getattr(out, "shape", None) != (len(chunk), len(LABEL_IDS)):
            raise RuntimeError(f"scorer {scorer.version_name} returned shape {getattr(out, 'shape', None)}, "
                               f"expected ({len(chunk)}, {len(LABEL_IDS)})")
        rows.extend({label: round(float(p), 6) for label, p in zip(LABEL_IDS, row, strict=True)}
                    for row in out.tolist())
        done = start + len(chunk)
        report(0.1 + 0.85 * done / len(texts), f"{filename}: scored {done}/{len(texts)} clauses")
    return rows


def _model_version(name: str) -> ModelVersion | None:
    try:
        return Registry().get(name)
    except ModelVersionNotFound:
        return None


def _store_upload(upload_dir: Path, sha: str, data: bytes) -> Path:
    path = Path(upload_dir) / sha[:2] / sha  # no extension: nothing opens or serves it by type
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)
    return path


def list_contracts(user_id: int, *, include_archived: bool = False,
                   uow: UnitOfWork | None = None) -> list[ContractSummary]:
    """Contracts newest first, with clause counts per label and how many await review."""
    with _uow(uow) as uow:
        _actor(uow.session, user_id, "read")
        conditions = [] if include_archived else [Contract.status != "archived"]
        return contract_summaries(uow.session, *conditions)


def get_contract(user_id: int, contract_id: int, *, uow: UnitOfWork | None = None) -> ContractDetail:
    """One contract: its clauses in order (label, probabilities, decision, reason, latest review) and exposure."""
    with _uow(uow) as uow:
        _actor(uow.session, user_id, "read")
        return _contract_detail(uow.session, contract_id)


def _contract_detail(session: Session, contract_id: int) -> ContractDetail:
    _contract(session, contract_id)
    summary = contract_summaries(session, Contract.id == contract_id)[0]
    clauses = clause_infos(session, load_clauses(session, Clause.contract_id == contract_id))
    by_index = {c.index: c for c in clauses}
    lines = exposure_lines([ClauseFacts(c.label, c.number, c.heading, c.text, c.index) for c in clauses])
    exposure = [ExposureItem(f.label, by_index[f.index].id, f.number, by_index[f.index].page, line)
                for f, line in lines]
    return ContractDetail(summary, clauses, exposure)


def archive_contract(user_id: int, contract_id: int, *, uow: UnitOfWork | None = None) -> None:
    """Hide a contract from lists, queue and exports; nothing is deleted. Its uploader or an admin."""
    with _uow(uow) as uow:
        user = _actor(uow.session, user_id, "archive")
        contract = _contract(uow.session, contract_id)
        if user.role != "admin" and contract.uploaded_by_id != user.id:
            raise PermissionDenied("Only the lawyer who uploaded a contract, or an admin, can archive it.")
        previous, contract.status = contract.status, "archived"
        _audit(uow.session, user_id, "archive", "contract", contract.id, previous_status=previous)
        uow.commit()


# ---------------------------------------------------------------------------- review

def claim_next_review(user_id: int, *, exclude: Collection[int] = (), ttl: timedelta = CLAIM_TTL,
                      uow: UnitOfWork | None = None) -> ReviewTask | None:
    """Claim the next clause to review, near misses first, then the least confident; None when the queue is empty.

    A reviewer who still holds an unexpired claim gets that clause back (its claim renewed), so a
    page reload does not take a second one. exclude: clause ids the reviewer skipped; a claim held on
    one of them is released. No two reviewers hold the same clause: the claim is a conditional UPDATE
    that only one transaction can win.
    """
    exclude = list(exclude)
    with _uow(uow) as uow:
        user = _actor(uow.session, user_id, "review")
        now = uow.clock()
        session = uow.session
        for clause in session.scalars(select(Clause).where(
                Clause.claimed_by_id == user.id, Clause.claim_expires_at > now, Clause.id.in_(exclude))):
            clause.claimed_by_id, clause.claim_expires_at = None, None
            _audit(session, user.id, "release_claim", "clause", clause.id, skipped=True)
        session.flush()

        claimed = session.scalar(select(Clause.id).where(
            Clause.claimed_by_id == user.id, Clause.claim_expires_at > now, Clause.status == "needs_review")
            .order_by(Clause.claim_expires_at).limit(1))
        if claimed is None:
            claimed = _claim_one(session, user.id, now, ttl, exclude)
            if claimed is None:
                uow.commit()
                return None
            _audit(session, user.id, "claim", "clause", claimed, expires_at=(now + ttl).isoformat())
        else:
            session.execute(update(Clause).where(Clause.id == claimed).values(claim_expires_at=now + ttl)
                            .execution_options(synchronize_session=False))
        task = _review_task(session, claimed, now + ttl)
        uow.commit()
    return task


def _claim_one(session: Session, user_id: int, now: datetime, ttl: timedelta, exclude: list[int]) -> int | None:
    free = or_(Clause.claimed_by_id.is_(None), Clause.claim_expires_at <= now)
    while True:
        candidates = list(session.scalars(
            select(Clause.id)
            .join(Prediction, (Prediction.clause_id == Clause.id) & Prediction.current)
            .join(Contract, Contract.id == Clause.contract_id)
            .where(Clause.status == "needs_review", Contract.status != "archived", free,
                   Clause.id.not_in(exclude))
            .order_by(case((Prediction.rule == "near_miss", 0), else_=1), Prediction.confidence, Clause.id)
            .limit(10)))
        if not candidates:
            return None
        for clause_id in candidates:
            # The WHERE is re-checked under the row's write lock, so of two racing reviewers one wins.
            won = session.execute(
                update(Clause).where(Clause.id == clause_id, Clause.status == "needs_review", free)
                .values(claimed_by_id=user_id, claim_expires_at=now + ttl)
                .execution_options(synchronize_session=False)).rowcount
            if won == 1:
                return clause_id


def _review_task(session: Session, clause_id: int, expires_at: datetime) -> ReviewTask:
    clause = session.scalar(select(Clause).where(Clause.id == clause_id).execution_options(populate_existing=True))
    around = load_clauses(session, Clause.contract_id == clause.contract_id,
                          Clause.index.between(clause.index - NEIGHBOURS, clause.index + NEIGHBOURS))
    infos = {c.index: c for c in clause_infos(session, around)}
    return ReviewTask(clause=infos[clause.index], filename=clause.contract.filename,
                      before=[infos[i] for i in sorted(infos) if i < clause.index],
                      after=[infos[i] for i in sorted(infos) if i > clause.index], claim_expires_at=expires_at)


def submit_review(user_id: int, clause_id: int, label: str, comment: str = "", *,
                  uow: UnitOfWork | None = None) -> ClauseInfo:
    """Record a confirmation (same label) or correction; appended to the clause's history, never overwriting.

    Works on queued and auto-accepted clauses alike. Raises ClaimExpired when another reviewer
    holds the clause now (this reviewer's claim lapsed).
    """
    _label(label)
    comment = comment.strip()
    if len(comment) > MAX_COMMENT_CHARS:
        raise InvalidInput(f"A comment can have at most {MAX_COMMENT_CHARS} characters.")
    with _uow(uow) as uow:
        user = _actor(uow.session, user_id, "review")
        session = uow.session
        clause = _clause(session, clause_id)
        now = uow.clock()
        if clause.claimed_by_id not in (None, user.id) and clause.claim_expires_at > now:
            holder = session.get(User, clause.claimed_by_id)
            raise ClaimExpired(f"Your claim on {_where(clause)} expired and {holder.name} is reviewing it now; "
                               "take the next clause.")
        prediction = current_predictions(session, [clause.id])[clause.id]
        review = Review(clause_id=clause.id, reviewer_id=user.id, previous_label=clause.label, new_label=label,
                        model_label=prediction.label, comment=comment, created_at=now)
        session.add(review)
        clause.label, clause.status = label, "reviewed"
        clause.claimed_by_id, clause.claim_expires_at = None, None
        session.flush()
        contract = clause.contract
        if contract.status == "in_review" and session.scalar(select(func.count()).where(
                Clause.contract_id == contract.id, Clause.status == "needs_review")) == 0:
            contract.status = "complete"
        _audit(session, user.id, "review", "clause", clause.id, previous_label=review.previous_label,
               new_label=label, comment=comment)
        session.flush()
        session.refresh(clause, ["reviews"])
        info = clause_info(clause, prediction)
        uow.commit()
    return info


def release_claim(user_id: int, clause_id: int, *, uow: UnitOfWork | None = None) -> bool:
    """Give a claimed clause back to the queue; False when this reviewer did not hold it."""
    with _uow(uow) as uow:
        user = _actor(uow.session, user_id, "review")
        clause = _clause(uow.session, clause_id)
        if clause.claimed_by_id != user.id:
            return False
        clause.claimed_by_id, clause.claim_expires_at = None, None
        _audit(uow.session, user.id, "release_claim", "clause", clause.id)
        uow.commit()
    return True


# ---------------------------------------------------------------------------- dashboard and models

def dashboard_stats(user_id: int, *, registry: Registry | None = None,
                    uow: UnitOfWork | None = None) -> DashboardStats:
    """Queue sizes, auto-accept rate, reviewer-vs-model agreement, reliability of reviewed clauses, active model."""
    with _uow(uow) as uow:
        _actor(uow.session, user_id, "dashboard")
        session, now = uow.session, uow.clock()
        live = Contract.status != "archived"
        statuses = dict(session.execute(select(Clause.status, func.count()).join(Contract).where(live)
                                        .group_by(Clause.status)).all())
        n_claimed = session.scalar(select(func.count()).select_from(Clause).join(Contract).where(
            live, Clause.status == "needs_review", Clause.claim_expires_at > now))
        n_contracts = session.scalar(select(func.count()).select_from(Contract).where(live))
        decisions = dict(session.execute(select(Prediction.decision, func.count()).join(Clause).join(Contract)
                                         .where(live, Prediction.current).group_by(Prediction.decision)).all())
        reviewed = session.execute(select(Clause.label, Prediction.label, Prediction.confidence)
                                   .join(Prediction, (Prediction.clause_id == Clause.id) & Prediction.current)
                                   .join(Contract).where(live, Clause.status == "reviewed")).all()
        n_reviews = session.scalar(select(func.count()).select_from(Review))
    n_scored = sum(decisions.values())
    agree_by: dict[str, list[bool]] = {}
    for final, model, _ in reviewed:
        agree_by.setdefault(model, []).append(final == model)
    agreed = [ok for oks in agree_by.values() for ok in oks]
    return DashboardStats(
        n_contracts=n_contracts, n_clauses=sum(statuses.values()), n_needs_review=statuses.get("needs_review", 0),
        n_claimed=n_claimed, n_reviewed=statuses.get("reviewed", 0),
        n_auto_accepted=statuses.get("auto_accepted", 0),
        auto_accept_rate=decisions.get("auto_accept", 0) / n_scored if n_scored else None,
        n_reviews=n_reviews, agreement=sum(agreed) / len(agreed) if agreed else None,
        agreement_by_label={k: sum(v) / len(v) for k, v in sorted(agree_by.items())},
        reliability=_reliability([(conf, final == model) for final, model, conf in reviewed]),
        active_model=_active_model(registry))


def _reliability(points: list[tuple[float, bool]], bins: int = 10) -> list[ReliabilityBin]:
    # sklearn's calibration_curve drops the bin counts the diagram needs, so bin here.
    grouped: dict[int, list[tuple[float, bool]]] = {}
    for confidence, correct in points:
        grouped.setdefault(min(int(confidence * bins), bins - 1), []).append((confidence, correct))
    return [ReliabilityBin(sum(c for c, _ in g) / len(g), sum(ok for _, ok in g) / len(g), len(g))
            for _, g in sorted(grouped.items())]


def _version_info(version: ModelVersion, active: bool) -> ModelVersionInfo:
    try:
        card = version.card
    except (OSError, ValueError):
        card = {}
    return ModelVersionInfo(version.name, active, card.get("created"), card.get("method"), card.get("base_model"),
                            card.get("metrics") or {})


def _active_model(registry: Registry | None) -> ModelVersionInfo | None:
    registry = registry or Registry()
    try:
        return _version_info(registry.active(), True)
    except ModelVersionNotFound:
        return None


# Written beside a version by training.evaluate (test clauses), else training.calibrate (validation clauses).
RELIABILITY_PNGS = ("eval/reliability.png", "eval/reliability_validation.png")


def reliability_diagram(user_id: int, *, registry: Registry | None = None,
                        uow: UnitOfWork | None = None) -> bytes | None:
    """The active model version's reliability diagram as PNG bytes; None when its evaluation wrote none."""
    with _uow(uow) as uow:
        _actor(uow.session, user_id, "dashboard")
    try:
        version = (registry or Registry()).active()
    except ModelVersionNotFound:
        return None
    for name in RELIABILITY_PNGS:
        if (version.path / name).is_file():
            return (version.path / name).read_bytes()
    return None


def list_model_versions(user_id: int, *, registry: Registry | None = None,
                        uow: UnitOfWork | None = None) -> list[ModelVersionInfo]:
    """Every registered model version with its card's metrics; admins only."""
    with _uow(uow) as uow:
        _actor(uow.session, user_id, "manage_models")
    registry = registry or Registry()
    active = registry.active_name()
    return [_version_info(v, v.name == active) for v in registry.list()]


def activate_model_version(user_id: int, name: str, *, registry: Registry | None = None,
                           uow: UnitOfWork | None = None) -> ModelVersionInfo:
    """Make `name` the model new uploads are scored with (also how to roll back); admins only."""
    registry = registry or Registry()
    with _uow(uow) as uow:
        _actor(uow.session, user_id, "manage_models")
        previous = registry.active_name()
        try:
            version = registry.get(name)
        except ModelVersionNotFound as e:
            raise NotFound(str(e).capitalize() + ".") from None
        _audit(uow.session, user_id, "activate_model", "model_version", None, name=name, previous=previous)
        uow.session.flush()
        registry.activate(name)
        try:
            uow.commit()
        except Exception:
            registry.activate(previous)  # no activation without its audit event
            raise
    return _version_info(version, True)


# ---------------------------------------------------------------------------- export

def reviewed_clauses(*, actor_id: int | None = None, uow: UnitOfWork | None = None) -> list[dict]:
    """Every reviewed clause with its settled label, for retraining: clause_id, filename, sha256, text,
    label (the latest review's), model_label, reviewers ({name: that reviewer's latest label}).

    actor_id: an admin; None only for local commands such as `python -m training.retrain`.
    """
    with _uow(uow) as uow:
        if actor_id is not None:
            _actor(uow.session, actor_id, "manage_models")
        rows = uow.session.execute(
            select(Review.clause_id, User.name, Review.new_label, Review.model_label, Clause.text, Clause.label,
                   Contract.filename, Contract.sha256)
            .join(User, User.id == Review.reviewer_id).join(Clause, Clause.id == Review.clause_id)
            .join(Contract, Contract.id == Clause.contract_id)
            .where(Contract.status != "archived").order_by(Review.clause_id, Review.id)).all()
    out: dict[int, dict] = {}
    for clause_id, reviewer, new_label, model_label, text, label, filename, sha in rows:
        entry = out.setdefault(clause_id, {"clause_id": clause_id, "filename": filename, "sha256": sha,
                                           "text": text, "label": label, "model_label": model_label,
                                           "reviewers": {}})
        entry["reviewers"][reviewer] = new_label  # rows come oldest first: the last one stays
    return list(out.values())


ExportFormat = Literal["csv", "jsonl"]
EXPORT_FIELDS = ("contract_id", "filename", "sha256", "clause_id", "index", "number", "heading", "page", "text",
                 "label", "label_source", "model_label", "confidence", "decision", "reason", "model_version",
                 "reviewed_by", "reviewed_at", "previous_label", "comment")


def export_labels(user_id: int, fmt: ExportFormat = "csv", *, contract_id: int | None = None,
                  uow: UnitOfWork | None = None) -> bytes:
    """Every clause's current label (latest correction, else the model's) as CSV or JSONL bytes."""
    if fmt not in ("csv", "jsonl"):
        raise InvalidInput(f"Unknown export format {fmt!r}; choose csv or jsonl.")
    with _uow(uow) as uow:
        _actor(uow.session, user_id, "export")
        rows = _export_rows(uow.session, contract_id)
        _audit(uow.session, user_id, "export", "contract" if contract_id else "labels", contract_id,
               format=fmt, rows=len(rows))
        uow.commit()
    if fmt == "jsonl":
        return "".join(json.dumps(r, ensure_ascii=False, default=str) + "\n" for r in rows).encode()
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=EXPORT_FIELDS)
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


def _export_rows(session: Session, contract_id: int | None) -> list[dict]:
    if contract_id is not None:
        _contract(session, contract_id)
        contracts = {contract_id: session.get(Contract, contract_id)}
    else:
        contracts = {c.id: c for c in session.scalars(select(Contract).where(Contract.status != "archived"))}
    clauses = load_clauses(session, Clause.contract_id.in_(list(contracts)))
    rows = []
    for info in clause_infos(session, clauses):
        contract, review = contracts[info.contract_id], info.latest_review
        rows.append({
            "contract_id": contract.id, "filename": contract.filename, "sha256": contract.sha256,
            "clause_id": info.id, "index": info.index, "number": info.number, "heading": info.heading,
            "page": info.page, "text": info.text, "label": info.label,
            "label_source": "review" if review else "model", "model_label": info.model_label,
            "confidence": round(info.confidence, 4), "decision": info.decision, "reason": info.reason,
            "model_version": info.model_version, "reviewed_by": review.reviewer if review else None,
            "reviewed_at": review.created_at.isoformat() if review else None,
            "previous_label": review.previous_label if review else None, "comment": review.comment if review else None,
        })
    return rows


def export_contract_excel(user_id: int, contract_id: int, *, uow: UnitOfWork | None = None) -> bytes:
    """An .xlsx report for one contract: a summary sheet with its exposure, and every clause coloured by label."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill

    with _uow(uow) as uow:
        _actor(uow.session, user_id, "export")
        detail = _contract_detail(uow.session, contract_id)
        _audit(uow.session, user_id, "export", "contract", contract_id, format="xlsx")
        uow.commit()

    def put(sheet, row: int, values: list) -> None:
        for col, value in enumerate(values, start=1):
            cell = sheet.cell(row=row, column=col, value=value)
            if isinstance(value, str):
                cell.data_type = "s"  # clause text starting with "=" must stay text, not become a formula

    c = detail.contract
    wb = Workbook()
    summary = wb.active
    summary.title = "Summary"
    for r, pair in enumerate([("Contract", c.filename), ("SHA-256", c.sha256), ("Uploaded by", c.uploaded_by),
                              ("Uploaded at (UTC)", c.uploaded_at.isoformat(timespec="seconds")),
                              ("Status", c.status), ("Clauses", c.n_clauses),
                              ("Awaiting review", c.n_needs_review)], start=1):
        put(summary, r, list(pair))
        summary.cell(row=r, column=1).font = Font(bold=True)
    row = len(summary["A"]) + 2
    put(summary, row, ["Exposure"])
    summary.cell(row=row, column=1).font = Font(bold=True)
    for i, item in enumerate(detail.exposure, start=row + 1):
        put(summary, i, [BY_ID[item.label].display, item.line])
    summary.column_dimensions["A"].width, summary.column_dimensions["B"].width = 22, 90

    sheet = wb.create_sheet("Clauses")
    header = ["#", "Number", "Heading", "Page", "Label", "Source", "Model label", "Confidence", "Decision",
              "Reason", "Reviewed by", "Comment", "Text"]
    put(sheet, 1, header)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for r, cl in enumerate(detail.clauses, start=2):
        review = cl.latest_review
        put(sheet, r, [cl.index + 1, cl.number, cl.heading, cl.page, BY_ID[cl.label].display,
                       "review" if review else "model", BY_ID[cl.model_label].display, round(cl.confidence, 3),
                       cl.decision, cl.reason, review.reviewer if review else None,
                       review.comment if review else None, cl.text])
        colour = BY_ID[cl.label].colour.lstrip("#")
        sheet.cell(row=r, column=5).fill = PatternFill("solid", start_color=colour, end_color=colour)
        sheet.cell(row=r, column=5).font = Font(color="FFFFFF", bold=True)
        sheet.cell(row=r, column=13).alignment = Alignment(wrap_text=True, vertical="top")
    for col, width in zip("ABCDEFGHIJKLM", (5, 9, 28, 6, 20, 8, 20, 11, 11, 40, 14, 30, 100), strict=True):
        sheet.column_dimensions[col].width = width
    sheet.freeze_panes = "A2"
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


__all__ = [
    "CLAIM_TTL", "AuthError", "ClaimExpired", "ClauseInfo", "ContractDetail", "ContractSummary", "DashboardStats",
    "ExposureItem", "InvalidFile", "InvalidInput", "InvalidLabel", "ModelUnavailable", "ModelVersionInfo", "NotFound",
    "PermissionDenied", "ReliabilityBin", "ReviewInfo", "ReviewTask", "Scorer", "ServiceError", "UnitOfWork",
    "UploadSummary", "UserInfo", "activate_model_version", "archive_contract", "authenticate", "claim_next_review",
    "dashboard_stats", "default_scorer", "export_contract_excel", "export_labels", "get_contract",
    "list_contracts", "list_model_versions", "list_users", "register_user", "release_claim", "reliability_diagram",
    "reviewed_clauses", "set_user_active",
    "submit_review",
    "upload_contract",
]
