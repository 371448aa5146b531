"""Plain data the services hand to the UI and CLI, and the read queries that build it.

Nothing here is tied to a database session: every value is a str, number, dict or
one of these frozen dataclasses, safe to keep across Streamlit reruns.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from app.db.models import Clause, Contract, Prediction, Review, User


@dataclass(frozen=True)
class UserInfo:
    id: int
    name: str
    role: str  # lawyer | reviewer | admin
    active: bool = True  # a disabled account cannot log in; it is never deleted


@dataclass(frozen=True)
class ReviewInfo:
    reviewer: str
    previous_label: str
    new_label: str
    model_label: str
    comment: str
    created_at: datetime
    kind: str = "review"            # review | undo | adjudication
    seconds: float | None = None    # time the reviewer spent on it, when the screen measured it

    @property
    def is_correction(self) -> bool:
        return self.new_label != self.previous_label


@dataclass(frozen=True)
class ClauseInfo:
    id: int
    contract_id: int
    index: int
    number: str | None
    heading: str | None
    page: int | None
    text: str
    label: str             # current label: the latest review's, else the model's
    status: str            # needs_review | auto_accepted | reviewed
    model_label: str
    probs: dict[str, float]
    confidence: float
    decision: str          # auto_accept | review
    rule: str              # near_miss | below_floor | below_threshold | confident
    reason: str
    model_version: str
    latest_review: ReviewInfo | None = None


@dataclass(frozen=True)
class ExposureItem:
    label: str
    clause_id: int
    number: str | None
    page: int | None
    line: str  # e.g. "uncapped for IP infringement, 12.3"


@dataclass(frozen=True)
class ExposureFieldInfo:
    """A fact of the contract's exposure (app.exposure_fields) and the words of the clause it came from."""
    kind: str          # cap_amount | cap_basis | cap_period | cap_scope | basket | carve_out | uncapped | ...
    name: str          # the kind as a lawyer reads it: "Cap amount"
    value: str         # "$1,000,000", "12 months", "gross negligence"
    clause_id: int
    reference: str     # the contract's own number or heading of the clause: "9.1", "11(a)"
    start: int         # evidence: clause text[start:end]
    end: int


@dataclass(frozen=True)
class ClauseSpan:
    """Where a clause sits in its contract's stored text, and on which PDF pages."""
    clause_id: int
    start: int
    end: int
    page: int | None
    page_end: int | None
    label: str


@dataclass(frozen=True)
class ContractDocument:
    """What the document view shows: the stored text with every clause's span; PDFs also render pages."""
    contract_id: int
    filename: str
    format: str                 # pdf | docx | txt | html
    text: str
    spans: list[ClauseSpan]
    page_count: int | None      # PDFs only


@dataclass(frozen=True)
class ContractSummary:
    id: int
    filename: str
    format: str
    sha256: str
    uploaded_by: str
    uploaded_at: datetime
    status: str             # queued | scoring | failed | in_review | complete | archived
    n_clauses: int
    n_needs_review: int
    label_counts: dict[str, int] = field(default_factory=dict)
    progress: float = 1.0   # share of its clauses scored (the worker's progress while status is scoring)
    error: str | None = None  # why scoring failed


@dataclass(frozen=True)
class ContractRow:
    """One line of the contracts list: the contract and CUAD's two answers under its model version's rule."""
    contract: ContractSummary
    has_cap: bool | None        # None until the contract is scored
    p_cap: float | None         # the probability behind the answer (app.scoring.contract_answers)
    has_uncapped: bool | None
    p_uncapped: float | None
    model_version: str | None


@dataclass(frozen=True)
class ContractDetail:
    contract: ContractSummary
    clauses: list[ClauseInfo]
    exposure: list[ExposureItem]
    fields: list[ExposureFieldInfo] = field(default_factory=list)   # in clause order, then FIELD_KINDS order


@dataclass(frozen=True)
class UploadSummary:
    contract_id: int
    filename: str
    sha256: str
    duplicate: bool         # the same bytes were uploaded before; nothing was re-scored
    n_clauses: int
    n_auto_accepted: int
    n_needs_review: int
    model_version: str
    # Doubts about the file that did not stop it ("does not look like a contract"), to show beside it.
    warnings: tuple[str, ...] = ()
    status: str = ""        # the contract's status after the upload (queued when the worker will score it)


@dataclass(frozen=True)
class ReviewTask:
    clause: ClauseInfo
    filename: str
    before: list[ClauseInfo]   # neighbours for context, in order
    after: list[ClauseInfo]
    claim_expires_at: datetime
    why: str = ""              # why the queue serves this clause now (app.queue_order)
    reopened: bool = False     # a clause already settled, reopened from the history


@dataclass(frozen=True)
class ReliabilityBin:
    confidence: float   # mean model confidence in the bin
    accuracy: float     # share of those clauses whose model label the reviewer kept
    count: int


@dataclass(frozen=True)
class ModelVersionInfo:
    name: str
    active: bool
    created: str | None
    method: str | None
    base_model: str | None
    metrics: dict


@dataclass(frozen=True)
class DashboardStats:
    n_contracts: int
    n_clauses: int
    n_needs_review: int        # still to review, claimed or not
    n_claimed: int             # of those, held by a reviewer right now
    n_reviewed: int
    n_auto_accepted: int
    auto_accept_rate: float | None    # share of scored clauses the policy accepted
    n_reviews: int
    agreement: float | None           # share of reviewed clauses whose model label the reviewer kept
    agreement_by_label: dict[str, float]
    reliability: list[ReliabilityBin]
    active_model: ModelVersionInfo | None


@dataclass(frozen=True)
class HistoryItem:
    """A clause the reviewer has reviewed, with every review of it (undos and adjudications included)."""
    clause: ClauseInfo
    filename: str
    reviews: list[ReviewInfo]
    last_reviewed_at: datetime     # this reviewer's latest review of it


@dataclass(frozen=True)
class ContractProgress:
    contract_id: int
    filename: str
    left: int          # clauses still waiting for review
    to_review: int     # clauses routed to review in all (waiting + reviewed)


@dataclass(frozen=True)
class ReviewProgress:
    done_today: int    # this reviewer's reviews since midnight UTC
    left: int          # clauses waiting for review, in live contracts
    contracts: list[ContractProgress]   # contracts with clauses left, most left first


@dataclass(frozen=True)
class LabelAgreement:
    label: str
    n_reviews: int             # reviews that gave this label
    n_model: int               # reviewed clauses the model gave this label
    model_kept: float | None   # share of those where the settled label is the model's
    kappa: float | None        # reviewer vs reviewer, this label vs the rest, on clauses two reviewed
    kappa_n: int               # pairs of reviews behind kappa


@dataclass(frozen=True)
class ReviewerAgreement:
    reviewer: str
    n_reviews: int
    n_corrections: int         # reviews that changed the label they found
    model_kept: float | None   # share where the reviewer kept the model's label
    kappa_model: float | None  # Cohen's kappa of the reviewer's labels against the model's
    kappa_others: float | None # against other reviewers on the same clauses
    kappa_n: int               # pairs behind kappa_others
    median_seconds: float | None


@dataclass(frozen=True)
class AgreementStats:
    kappa: float | None        # reviewer vs reviewer over all labels
    kappa_n: int               # pairs of reviews on the same clause behind it
    by_label: list[LabelAgreement]
    by_reviewer: list[ReviewerAgreement]


@dataclass(frozen=True)
class Dispute:
    """A clause whose reviewers disagree and that no admin has settled since."""
    clause: ClauseInfo
    filename: str
    reviewers: dict[str, str]  # reviewer -> their last label


def effective_reviews(reviews: list[Review]) -> list[Review]:
    """A clause's reviews (oldest first) with undone ones and the undo events themselves taken out.

    An undo always takes back the clause's latest review still in force, so the history is a stack.
    """
    stack: list[Review] = []
    for review in reviews:
        if review.kind == "undo":
            if stack:
                stack.pop()
        else:
            stack.append(review)
    return stack


def user_info(user: User) -> UserInfo:
    return UserInfo(user.id, user.name, user.role, user.active)


def review_info(review: Review) -> ReviewInfo:
    return ReviewInfo(review.reviewer.name, review.previous_label, review.new_label, review.model_label,
                      review.comment, review.created_at, review.kind or "review", review.seconds)


def clause_info(clause: Clause, prediction: Prediction) -> ClauseInfo:
    in_force = effective_reviews(clause.reviews)
    latest = in_force[-1] if in_force else None
    return ClauseInfo(
        id=clause.id, contract_id=clause.contract_id, index=clause.index, number=clause.number,
        heading=clause.heading, page=clause.page, text=clause.text, label=clause.label, status=clause.status,
        model_label=prediction.label, probs=dict(prediction.probs), confidence=prediction.confidence,
        decision=prediction.decision, rule=prediction.rule, reason=prediction.reason,
        model_version=prediction.model_version, latest_review=review_info(latest) if latest else None)


def current_predictions(session: Session, clause_ids: list[int]) -> dict[int, Prediction]:
    rows = session.scalars(select(Prediction).where(Prediction.clause_id.in_(clause_ids), Prediction.current))
    return {p.clause_id: p for p in rows}


def clause_infos(session: Session, clauses: list[Clause]) -> list[ClauseInfo]:
    predictions = current_predictions(session, [c.id for c in clauses])
    return [clause_info(c, predictions[c.id]) for c in clauses]


def load_clauses(session: Session, *conditions, order_by=None) -> list[Clause]:
    query = (select(Clause).where(*conditions)
             .options(selectinload(Clause.reviews).selectinload(Review.reviewer))
             .order_by(*(order_by if order_by is not None else (Clause.contract_id, Clause.index))))
    return list(session.scalars(query))


def contract_summaries(session: Session, *conditions) -> list[ContractSummary]:
    contracts = list(session.scalars(select(Contract).where(*conditions)
                                     .options(selectinload(Contract.uploaded_by))
                                     .order_by(Contract.uploaded_at.desc(), Contract.id.desc())))
    if not contracts:
        return []
    counts: dict[int, dict[str, int]] = {}
    pending: dict[int, int] = {}
    rows = session.execute(select(Clause.contract_id, Clause.label, Clause.status, func.count())
                           .where(Clause.contract_id.in_([c.id for c in contracts]))
                           .group_by(Clause.contract_id, Clause.label, Clause.status))
    for contract_id, label, status, n in rows:
        per = counts.setdefault(contract_id, {})
        per[label] = per.get(label, 0) + n
        if status == "needs_review":
            pending[contract_id] = pending.get(contract_id, 0) + n
    return [ContractSummary(
        id=c.id, filename=c.filename, format=c.format, sha256=c.sha256, uploaded_by=c.uploaded_by.name,
        uploaded_at=c.uploaded_at, status=c.status, n_clauses=sum(counts.get(c.id, {}).values()),
        n_needs_review=pending.get(c.id, 0), label_counts=counts.get(c.id, {}), progress=c.progress,
        error=c.error) for c in contracts]


def current_clause_predictions(session: Session, contract_ids: list[int]) -> dict[int, list[tuple[str, dict, str]]]:
    """contract id -> (current label, model probabilities, model version) of each of its clauses."""
    rows = session.execute(select(Clause.contract_id, Clause.label, Prediction.probs, Prediction.model_version)
                           .join(Prediction, Prediction.clause_id == Clause.id)
                           .where(Clause.contract_id.in_(contract_ids), Prediction.current))
    out: dict[int, list[tuple[str, dict, str]]] = {}
    for contract_id, label, probs, version in rows:
        out.setdefault(contract_id, []).append((label, dict(probs), version))
    return out
