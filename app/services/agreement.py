"""Agreement between reviewers and with the model, and adjudication of the clauses they disagree on.

Kappa is Cohen's (sklearn.metrics.cohen_kappa_score) on pairs of labels given to the same clause,
always shown with its n; None when there are fewer than two pairs or only one label among them.
An adjudication is a review of kind "adjudication" by an admin: it settles the clause, and
retraining (app.services.export.reviewed_clauses) takes its label over any reviewer's.
"""
from __future__ import annotations

import statistics
from itertools import combinations

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app.db.models import Clause, Contract, Review
from app.roles import ContractStatus
from app.services.desk import _check_comment, append_review
from app.services.uow import UnitOfWork, actor, begin, check_label, find_clause
from app.taxonomy import LABEL_IDS
from app.views import AgreementStats, ClauseInfo, Dispute, LabelAgreement, ReviewerAgreement, clause_info, \
    clause_infos, current_predictions, effective_reviews, load_clauses


def kappa(a: list[str], b: list[str]) -> float | None:
    """Cohen's kappa of two equally long label lists; None when it is undefined or rests on under two pairs."""
    if len(a) < 2 or len(set(a) | set(b)) < 2:
        return None
    from sklearn.metrics import cohen_kappa_score

    value = float(cohen_kappa_score(a, b))
    return None if value != value else round(value, 4)


def _in_force(session) -> dict[int, list[Review]]:
    """clause id -> its reviews in force (undone ones out), in live contracts."""
    clauses = session.scalars(select(Clause).join(Contract).where(Contract.status != ContractStatus.ARCHIVED)
                              .where(Clause.reviews.any())
                              .options(selectinload(Clause.reviews).selectinload(Review.reviewer)))
    return {c.id: effective_reviews(c.reviews) for c in clauses}


def _last_word(reviews: list[Review]) -> dict[str, str]:
    """reviewer -> their last label among plain reviews after the last adjudication."""
    start = max((i + 1 for i, r in enumerate(reviews) if r.kind == "adjudication"), default=0)
    return {r.reviewer.name: r.new_label for r in reviews[start:] if r.kind == "review"}


def agreement_stats(user_id: int, *, uow: UnitOfWork | None = None) -> AgreementStats:
    """Per label and per reviewer: counts, agreement with the model, Cohen's kappa with its n, time per item."""
    with begin(uow) as uow:
        session = uow.session
        actor(session, user_id, "dashboard")
        by_clause = _in_force(session)
        pairs: list[tuple[str, str, str, str]] = []     # (reviewer a, label a, reviewer b, label b)
        rows: dict[str, list[Review]] = {}
        last: dict[str, dict[int, tuple[str, str]]] = {}   # reviewer -> clause -> (their label, model label)
        settled: dict[int, tuple[str, str]] = {}            # clause -> (settled label, model label)
        for clause_id, reviews in by_clause.items():
            plain = [r for r in reviews if r.kind == "review"]
            if reviews:
                settled[clause_id] = (reviews[-1].new_label, reviews[-1].model_label)
            for r in plain:
                rows.setdefault(r.reviewer.name, []).append(r)
                last.setdefault(r.reviewer.name, {})[clause_id] = (r.new_label, r.model_label)
            words = {r.reviewer.name: r.new_label for r in plain}
            for (ra, la), (rb, lb) in combinations(sorted(words.items()), 2):
                pairs.append((ra, la, rb, lb))
        by_label = []
        for label in LABEL_IDS:
            n_reviews = sum(r.new_label == label for rs in rows.values() for r in rs)
            model = [s for s, m in settled.values() if m == label]
            binary_a = [la == label for _, la, _, lb in pairs]
            binary_b = [lb == label for _, la, _, lb in pairs]
            k = kappa([str(x) for x in binary_a], [str(x) for x in binary_b])
            if n_reviews or model:
                by_label.append(LabelAgreement(label, n_reviews, len(model),
                                               sum(s == label for s in model) / len(model) if model else None,
                                               k, len(pairs)))
        by_reviewer = []
        for name in sorted(rows):
            mine = rows[name]
            theirs = list(last[name].values())
            others = [(la, lb) if ra == name else (lb, la) for ra, la, rb, lb in pairs if name in (ra, rb)]
            seconds = [r.seconds for r in mine if r.seconds is not None]
            by_reviewer.append(ReviewerAgreement(
                name, len(mine), sum(r.new_label != r.previous_label for r in mine),
                sum(lab == m for lab, m in theirs) / len(theirs) if theirs else None,
                kappa([lab for lab, _ in theirs], [m for _, m in theirs]),
                kappa([a for a, _ in others], [b for _, b in others]), len(others),
                round(statistics.median(seconds), 1) if seconds else None))
        return AgreementStats(kappa([p[1] for p in pairs], [p[3] for p in pairs]), len(pairs), by_label, by_reviewer)


def list_disputes(user_id: int, *, uow: UnitOfWork | None = None) -> list[Dispute]:
    """Clauses whose reviewers' last labels differ and that no adjudication has settled since; admins only."""
    with begin(uow) as uow:
        session = uow.session
        actor(session, user_id, "adjudicate")
        disputed = {cid: words for cid, reviews in _in_force(session).items()
                    if len(set((words := _last_word(reviews)).values())) > 1}
        if not disputed:
            return []
        clauses = load_clauses(session, Clause.id.in_(list(disputed)))
        names = dict(session.execute(select(Contract.id, Contract.filename)
                                     .where(Contract.id.in_({c.contract_id for c in clauses}))).all())
        return [Dispute(info, names[info.contract_id], disputed[info.id]) for info in clause_infos(session, clauses)]


def adjudicate(user_id: int, clause_id: int, label: str, comment: str = "", *,
               uow: UnitOfWork | None = None) -> ClauseInfo:
    """Settle a clause: an adjudication review by an admin (no claim needed); retraining takes its label."""
    from app.services.review import submit_review

    return submit_review(user_id, clause_id, label, comment, adjudicate=True, uow=uow)
