"""The review queue: claim the next clause, submit a confirmation or correction, release a claim."""
from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from app.db.models import Clause, Contract, Prediction, Review, User
from app.queue_order import Candidate, deciding_clauses, prioritise
from app.roles import ClauseStatus, ContractStatus
from app.services.errors import ClaimExpired, InvalidInput
from app.services.uow import UnitOfWork, actor, audit, begin, check_label, clause_name, find_clause
from app.views import ClauseInfo, ReviewTask, clause_info, clause_infos, current_predictions, load_clauses

CLAIM_TTL = timedelta(minutes=15)
NEIGHBOURS = 2            # clauses shown before and after the one under review
MAX_COMMENT_CHARS = 5000


def claim_next_review(user_id: int, *, exclude: Collection[int] = (), ttl: timedelta = CLAIM_TTL,
                      uow: UnitOfWork | None = None, contract_id: int | None = None) -> ReviewTask | None:
    """Claim the next clause to review, the most valuable label first (app.queue_order); None when the queue is empty.

    contract_id: only clauses of that contract ("review this contract"); a claim held elsewhere is released.

    A reviewer who still holds an unexpired claim gets that clause back (its claim renewed), so a
    page reload does not take a second one. exclude: clause ids the reviewer skipped; a claim held on
    one of them is released. No two reviewers hold the same clause: the claim is a conditional UPDATE
    that only one transaction can win.
    """
    exclude = list(exclude)
    with begin(uow) as uow:
        user = actor(uow.session, user_id, "review")
        now = uow.clock()
        session = uow.session
        for clause in session.scalars(select(Clause).where(
                Clause.claimed_by_id == user.id, Clause.claim_expires_at > now, Clause.id.in_(exclude))):
            clause.claimed_by_id, clause.claim_expires_at = None, None
            audit(session, user.id, "release_claim", "clause", clause.id, skipped=True)
        _release_elsewhere(session, user.id, now, contract_id)
        session.flush()

        held = select(Clause.id).where(
            Clause.claimed_by_id == user.id, Clause.claim_expires_at > now, Clause.status == ClauseStatus.NEEDS_REVIEW)
        if contract_id is not None:
            held = held.where(Clause.contract_id == contract_id)
        claimed = session.scalar(held.order_by(Clause.claim_expires_at).limit(1))
        if claimed is None:
            claimed = _claim_one(session, user.id, now, ttl, exclude, contract_id)
            if claimed is None:
                uow.commit()
                return None
            audit(session, user.id, "claim", "clause", claimed, expires_at=(now + ttl).isoformat())
        else:
            session.execute(update(Clause).where(Clause.id == claimed).values(claim_expires_at=now + ttl)
                            .execution_options(synchronize_session=False))
        task = _review_task(session, claimed, now + ttl)
        uow.commit()
    return task


def _release_elsewhere(session: Session, user_id: int, now: datetime, contract_id: int | None) -> None:
    """Release what the reviewer holds and will not be served: reopened clauses left unsubmitted, and in
    one-contract mode, claims in other contracts."""
    stray = [Clause.status != ClauseStatus.NEEDS_REVIEW]
    if contract_id is not None:
        stray.append(Clause.contract_id != contract_id)
    for clause in session.scalars(select(Clause).where(Clause.claimed_by_id == user_id, Clause.claim_expires_at > now,
                                                       or_(*stray))):
        clause.claimed_by_id, clause.claim_expires_at = None, None
        audit(session, user_id, "release_claim", "clause", clause.id, moved_on=True)


def _candidates(session: Session, now: datetime, exclude: list[int], contract_id: int | None) -> list[int]:
    """Free clauses waiting for review, most valuable first (app.queue_order)."""
    free = or_(Clause.claimed_by_id.is_(None), Clause.claim_expires_at <= now)
    where = [Clause.status == ClauseStatus.NEEDS_REVIEW, Contract.status != ContractStatus.ARCHIVED, free,
             Clause.id.not_in(exclude)]
    if contract_id is not None:
        where.append(Clause.contract_id == contract_id)
    rows = session.execute(
        select(Clause.id, Clause.contract_id, Clause.text, Prediction.probs)
        .join(Prediction, (Prediction.clause_id == Clause.id) & Prediction.current)
        .join(Contract, Contract.id == Clause.contract_id).where(*where)).all()
    if not rows:
        return []
    return [p.clause_id for p in prioritise([Candidate(*row) for row in rows],
                                            _deciding(session, {row.contract_id for row in rows}))]


def _deciding(session: Session, contract_ids: Collection[int]) -> dict[int, set[str]]:
    return deciding_clauses(session.execute(
        select(Clause.id, Clause.contract_id, Prediction.probs)
        .join(Prediction, (Prediction.clause_id == Clause.id) & Prediction.current)
        .where(Clause.contract_id.in_(list(contract_ids)))).all())


def _claim_one(session: Session, user_id: int, now: datetime, ttl: timedelta, exclude: list[int],
               contract_id: int | None = None) -> int | None:
    free = or_(Clause.claimed_by_id.is_(None), Clause.claim_expires_at <= now)
    while True:
        candidates = _candidates(session, now, exclude, contract_id)
        if not candidates:
            return None
        for clause_id in candidates:
            # The WHERE is re-checked under the row's write lock, so of two racing reviewers one wins.
            won = session.execute(
                update(Clause).where(Clause.id == clause_id, Clause.status == ClauseStatus.NEEDS_REVIEW, free)
                .values(claimed_by_id=user_id, claim_expires_at=now + ttl)
                .execution_options(synchronize_session=False)).rowcount
            if won == 1:
                return clause_id


def why_next(session: Session, clause: Clause) -> str:
    """Why the queue serves `clause`: its uncertainty and what it decides in its contract."""
    prediction = current_predictions(session, [clause.id])[clause.id]
    [priority] = prioritise([Candidate(clause.id, clause.contract_id, clause.text, prediction.probs)],
                            _deciding(session, [clause.contract_id]))
    return priority.why


def _review_task(session: Session, clause_id: int, expires_at: datetime) -> ReviewTask:
    clause = session.scalar(select(Clause).where(Clause.id == clause_id).execution_options(populate_existing=True))
    around = load_clauses(session, Clause.contract_id == clause.contract_id,
                          Clause.index.between(clause.index - NEIGHBOURS, clause.index + NEIGHBOURS))
    infos = {c.index: c for c in clause_infos(session, around)}
    return ReviewTask(clause=infos[clause.index], filename=clause.contract.filename,
                      before=[infos[i] for i in sorted(infos) if i < clause.index],
                      after=[infos[i] for i in sorted(infos) if i > clause.index], claim_expires_at=expires_at,
                      why=why_next(session, clause), reopened=clause.status != ClauseStatus.NEEDS_REVIEW)


def submit_review(user_id: int, clause_id: int, label: str, comment: str = "", *,
                  uow: UnitOfWork | None = None) -> ClauseInfo:
    """Record a confirmation (same label) or correction; appended to the clause's history, never overwriting.

    Works on queued and auto-accepted clauses alike. Raises ClaimExpired when another reviewer
    holds the clause now (this reviewer's claim lapsed).
    """
    check_label(label)
    comment = comment.strip()
    if len(comment) > MAX_COMMENT_CHARS:
        raise InvalidInput(f"A comment can have at most {MAX_COMMENT_CHARS} characters.")
    with begin(uow) as uow:
        user = actor(uow.session, user_id, "review")
        session = uow.session
        clause = find_clause(session, clause_id)
        now = uow.clock()
        if clause.claimed_by_id not in (None, user.id) and clause.claim_expires_at > now:
            holder = session.get(User, clause.claimed_by_id)
            raise ClaimExpired(f"Your claim on {clause_name(clause)} expired and {holder.name} is reviewing it now; "
                               "take the next clause.")
        prediction = current_predictions(session, [clause.id])[clause.id]
        review = Review(clause_id=clause.id, reviewer_id=user.id, previous_label=clause.label, new_label=label,
                        model_label=prediction.label, comment=comment, created_at=now)
        session.add(review)
        clause.label, clause.status = label, ClauseStatus.REVIEWED
        clause.claimed_by_id, clause.claim_expires_at = None, None
        session.flush()
        contract = clause.contract
        if contract.status == ContractStatus.IN_REVIEW and session.scalar(select(func.count()).where(
                Clause.contract_id == contract.id, Clause.status == ClauseStatus.NEEDS_REVIEW)) == 0:
            contract.status = ContractStatus.COMPLETE
        audit(session, user.id, "review", "clause", clause.id, previous_label=review.previous_label,
               new_label=label, comment=comment)
        session.flush()
        session.refresh(clause, ["reviews"])
        info = clause_info(clause, prediction)
        uow.commit()
    return info


def release_claim(user_id: int, clause_id: int, *, uow: UnitOfWork | None = None) -> bool:
    """Give a claimed clause back to the queue; False when this reviewer did not hold it."""
    with begin(uow) as uow:
        user = actor(uow.session, user_id, "review")
        clause = find_clause(uow.session, clause_id)
        if clause.claimed_by_id != user.id:
            return False
        clause.claimed_by_id, clause.claim_expires_at = None, None
        audit(uow.session, user.id, "release_claim", "clause", clause.id)
        uow.commit()
    return True
