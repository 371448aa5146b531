"""The reviewer's desk: submit the clause shown, undo, history and reopening, progress, release at logout.

Reviews stay append-only: an undo is a new review event (kind "undo") that restores the label and
status the clause had before the reviewer's last review (app.views.effective_reviews reads the
history as a stack), and every step leaves an audit event.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.db.models import Clause, Contract, Review, User
from app.roles import ClauseStatus, ContractStatus
from app.services.errors import ClaimExpired, InvalidInput, NotHeld
from app.services.review import CLAIM_TTL, MAX_COMMENT_CHARS, _review_task
from app.services.uow import UnitOfWork, actor, audit, begin, check_label, clause_name, find_clause
from app.views import (ClauseInfo, ContractProgress, HistoryItem, ReviewProgress, ReviewTask, clause_info,
                       clause_infos, current_predictions, effective_reviews, load_clauses, review_info)


# A repeat of the reviewer's own confirm this soon after it is the same key press arriving twice.
REPLAY_WINDOW = timedelta(seconds=30)

def append_review(session: Session, user: User, clause: Clause, label: str, comment: str, now: datetime, *,
                  kind: str = "review", seconds: float | None = None) -> Review:
    """Append a review or an adjudication: the clause takes `label` and is settled; its contract completes
    when nothing of it waits for review any more."""
    prediction = current_predictions(session, [clause.id])[clause.id]
    review = Review(clause_id=clause.id, reviewer_id=user.id, previous_label=clause.label, new_label=label,
                    model_label=prediction.label, comment=comment, created_at=now, kind=kind, seconds=seconds)
    session.add(review)
    clause.label, clause.status = label, ClauseStatus.REVIEWED
    clause.claimed_by_id, clause.claim_expires_at = None, None
    session.flush()
    _update_contract_status(session, clause.contract)
    audit(session, user.id, "adjudicate" if kind == "adjudication" else "review", "clause", clause.id,
          previous_label=review.previous_label, new_label=label, comment=comment, kind=kind)
    return review


def _update_contract_status(session: Session, contract: Contract) -> None:
    if contract.status == ContractStatus.ARCHIVED:
        return
    waiting = session.scalar(select(func.count()).where(Clause.contract_id == contract.id,
                                                        Clause.status == ClauseStatus.NEEDS_REVIEW))
    contract.status = ContractStatus.IN_REVIEW if waiting else ContractStatus.COMPLETE


def _check_comment(comment: str) -> str:
    comment = comment.strip()
    if len(comment) > MAX_COMMENT_CHARS:
        raise InvalidInput(f"A comment can have at most {MAX_COMMENT_CHARS} characters.")
    return comment


def submit_shown(user_id: int, shown_clause_id: int, label: str, comment: str = "", *, seconds: float | None = None,
                 uow: UnitOfWork | None = None) -> ClauseInfo:
    """Record the reviewer's label for the clause they were shown, which they must hold right now.

    A second Enter that arrives after the first confirm carries the id of the clause already
    confirmed; it no longer holds that clause, so nothing is saved: when it repeats the reviewer's own
    save of a moment ago (same label, within REPLAY_WINDOW; Streamlit can replay a callback when a key
    press interrupts the run it started) that save is returned as is, otherwise NotHeld is raised.
    """
    check_label(label)
    comment = _check_comment(comment)
    with begin(uow) as uow:
        session = uow.session
        user = actor(session, user_id, "review")
        clause = find_clause(session, shown_clause_id)
        now = uow.clock()
        if clause.claimed_by_id != user.id or clause.claim_expires_at is None or clause.claim_expires_at <= now:
            if clause.claimed_by_id not in (None, user.id) and clause.claim_expires_at > now:
                holder = session.get(User, clause.claimed_by_id)
                raise ClaimExpired(f"Your claim on {clause_name(clause)} expired and {holder.name} is reviewing it "
                                   "now; take the next clause.")
            in_force = effective_reviews(clause.reviews)
            last = in_force[-1] if in_force else None
            if (last is not None and last.reviewer_id == user.id and last.new_label == label
                    and last.kind != "undo" and now - last.created_at <= REPLAY_WINDOW):
                return clause_info(clause, current_predictions(session, [clause.id])[clause.id])
            raise NotHeld(f"You no longer hold {clause_name(clause)} of {clause.contract.filename}; nothing was saved.")
        if clause.contract.status == ContractStatus.ARCHIVED:
            raise NotHeld(f"{clause.contract.filename} was archived; nothing was saved.")
        append_review(session, user, clause, label, comment, now,
                      seconds=None if seconds is None else max(0.0, float(seconds)))
        session.flush()
        session.refresh(clause, ["reviews"])
        info = clause_info(clause, current_predictions(session, [clause.id])[clause.id])
        uow.commit()
    return info


def undo_last_review(user_id: int, *, ttl: timedelta = CLAIM_TTL, uow: UnitOfWork | None = None) -> ReviewTask | None:
    """Take back the reviewer's last review still in force: a new "undo" review restores the label and status
    before it, and the clause is held for the reviewer again. None when there is nothing to undo.

    Refused (InvalidInput) when someone reviewed that clause since: reopen it from the history instead.
    """
    with begin(uow) as uow:
        session = uow.session
        user = actor(session, user_id, "review")
        now = uow.clock()
        mine = session.scalars(select(Review).where(Review.reviewer_id == user.id, Review.kind != "undo")
                               .order_by(Review.id.desc()).limit(200))
        for review in mine:
            clause = review.clause
            in_force = effective_reviews(clause.reviews)
            if review not in in_force:
                continue          # undone already: the one before is next
            if in_force[-1] is not review:
                later = in_force[-1].reviewer.name
                raise InvalidInput(f"{later} reviewed {clause_name(clause)} after you; reopen it from the history "
                                   "to change it.")
            if clause.claimed_by_id not in (None, user.id) and clause.claim_expires_at > now:
                holder = session.get(User, clause.claimed_by_id)
                raise InvalidInput(f"{holder.name} is reviewing {clause_name(clause)} now; try again later.")
            prediction = current_predictions(session, [clause.id])[clause.id]
            before = in_force[:-1]
            status = (ClauseStatus.REVIEWED if before else
                      ClauseStatus.AUTO_ACCEPTED if prediction.decision == "auto_accept" else ClauseStatus.NEEDS_REVIEW)
            session.add(Review(clause_id=clause.id, reviewer_id=user.id, previous_label=clause.label,
                               new_label=review.previous_label, model_label=prediction.label,
                               comment=f"undo of review {review.id}", created_at=now, kind="undo"))
            clause.label, clause.status = review.previous_label, status
            _release_others(session, user.id, clause.id, now)
            clause.claimed_by_id, clause.claim_expires_at = user.id, now + ttl
            session.flush()
            _update_contract_status(session, clause.contract)
            audit(session, user.id, "undo_review", "clause", clause.id, review_id=review.id,
                  restored_label=review.previous_label, restored_status=str(status))
            session.flush()
            task = _review_task(session, clause.id, now + ttl)
            uow.commit()
            return task
    return None


def _release_others(session: Session, user_id: int, clause_id: int, now: datetime) -> None:
    """One clause held at a time: release the others this user holds."""
    for other in session.scalars(select(Clause).where(Clause.claimed_by_id == user_id, Clause.id != clause_id,
                                                      Clause.claim_expires_at > now)):
        other.claimed_by_id, other.claim_expires_at = None, None
        audit(session, user_id, "release_claim", "clause", other.id, instead=clause_id)


def reopen_clause(user_id: int, clause_id: int, *, ttl: timedelta = CLAIM_TTL,
                  uow: UnitOfWork | None = None) -> ReviewTask:
    """Hold a clause again, reviewed or not, to review it anew (from the history); the next submit appends."""
    with begin(uow) as uow:
        session = uow.session
        user = actor(session, user_id, "review")
        clause = find_clause(session, clause_id)
        now = uow.clock()
        if clause.contract.status == ContractStatus.ARCHIVED:
            raise InvalidInput(f"{clause.contract.filename} was archived; its clauses cannot be reviewed.")
        if clause.claimed_by_id not in (None, user.id) and clause.claim_expires_at > now:
            holder = session.get(User, clause.claimed_by_id)
            raise InvalidInput(f"{holder.name} is reviewing {clause_name(clause)} now; try again later.")
        _release_others(session, user.id, clause.id, now)
        clause.claimed_by_id, clause.claim_expires_at = user.id, now + ttl
        audit(session, user.id, "reopen", "clause", clause.id, expires_at=(now + ttl).isoformat())
        session.flush()
        task = _review_task(session, clause.id, now + ttl)
        uow.commit()
    return task


def review_history(user_id: int, *, limit: int = 100, uow: UnitOfWork | None = None) -> list[HistoryItem]:
    """The clauses this reviewer reviewed, the latest first, each with all its reviews."""
    with begin(uow) as uow:
        session = uow.session
        user = actor(session, user_id, "review")
        last = dict(session.execute(select(Review.clause_id, func.max(Review.created_at))
                                    .where(Review.reviewer_id == user.id).group_by(Review.clause_id)).all())
        if not last:
            return []
        ids = sorted(last, key=lambda i: (last[i], i), reverse=True)[:limit]
        clauses = {c.id: c for c in load_clauses(session, Clause.id.in_(ids))}
        infos = {i.id: i for i in clause_infos(session, list(clauses.values()))}
        return [HistoryItem(infos[i], clauses[i].contract.filename, [review_info(r) for r in clauses[i].reviews],
                            last[i]) for i in ids]


def review_progress(user_id: int, *, uow: UnitOfWork | None = None) -> ReviewProgress:
    """Done today by this reviewer, left in the queue, and per contract."""
    with begin(uow) as uow:
        session = uow.session
        user = actor(session, user_id, "review")
        now = uow.clock()
        midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
        done = session.scalar(select(func.count()).select_from(Review).where(
            Review.reviewer_id == user.id, Review.kind == "review", Review.created_at >= midnight))
        undone = session.scalar(select(func.count()).select_from(Review).where(
            Review.reviewer_id == user.id, Review.kind == "undo", Review.created_at >= midnight))
        rows = session.execute(select(Contract.id, Contract.filename, Clause.status, func.count())
                               .join(Clause, Clause.contract_id == Contract.id)
                               .where(Contract.status != ContractStatus.ARCHIVED)
                               .group_by(Contract.id, Contract.filename, Clause.status)).all()
    per: dict[int, list] = {}
    for contract_id, filename, status, n in rows:
        entry = per.setdefault(contract_id, [filename, 0, 0])
        if status == ClauseStatus.NEEDS_REVIEW:
            entry[1] += n
            entry[2] += n
        elif status == ClauseStatus.REVIEWED:
            entry[2] += n
    contracts = sorted((ContractProgress(cid, f, left, total) for cid, (f, left, total) in per.items() if left),
                       key=lambda c: (-c.left, c.filename))
    return ReviewProgress(done_today=max(0, done - undone), left=sum(c.left for c in contracts), contracts=contracts)


def release_held_claims(user_id: int, *, uow: UnitOfWork | None = None) -> int:
    """Give back every clause the user holds (at logout); how many. A user who cannot review holds none."""
    with begin(uow) as uow:
        session = uow.session
        now = uow.clock()
        held = list(session.scalars(select(Clause).where(Clause.claimed_by_id == user_id,
                                                         Clause.claim_expires_at > now)))
        for clause in held:
            clause.claimed_by_id, clause.claim_expires_at = None, None
            audit(session, user_id, "release_claim", "clause", clause.id, logout=True)
        uow.commit()
    return len(held)
