"""The dashboard and model versions: statistics, reliability, listing and activating versions."""
from __future__ import annotations

from sqlalchemy import func, select

from app.db.models import Clause, Contract, Prediction, Review
from app.registry import ModelVersion, ModelVersionNotFound, Registry
from app.roles import ClauseStatus, ContractStatus
from app.services.errors import NotFound
from app.services.uow import UnitOfWork, actor, audit, begin
from app.views import DashboardStats, ModelVersionInfo, ReliabilityBin


def dashboard_stats(user_id: int, *, registry: Registry | None = None,
                    uow: UnitOfWork | None = None) -> DashboardStats:
    """Queue sizes, auto-accept rate, reviewer-vs-model agreement, reliability of reviewed clauses, active model."""
    with begin(uow) as uow:
        actor(uow.session, user_id, "dashboard")
        session, now = uow.session, uow.clock()
        live = Contract.status != ContractStatus.ARCHIVED
        statuses = dict(session.execute(select(Clause.status, func.count()).join(Contract).where(live)
                                        .group_by(Clause.status)).all())
        n_claimed = session.scalar(select(func.count()).select_from(Clause).join(Contract).where(
            live, Clause.status == ClauseStatus.NEEDS_REVIEW, Clause.claim_expires_at > now))
        n_contracts = session.scalar(select(func.count()).select_from(Contract).where(live))
        decisions = dict(session.execute(select(Prediction.decision, func.count()).join(Clause).join(Contract)
                                         .where(live, Prediction.current).group_by(Prediction.decision)).all())
        reviewed = session.execute(select(Clause.label, Prediction.label, Prediction.confidence)
                                   .join(Prediction, (Prediction.clause_id == Clause.id) & Prediction.current)
                                   .join(Contract).where(live, Clause.status == ClauseStatus.REVIEWED)).all()
        n_reviews = session.scalar(select(func.count()).select_from(Review))
    n_scored = sum(decisions.values())
    agree_by: dict[str, list[bool]] = {}
    for final, model, _ in reviewed:
        agree_by.setdefault(model, []).append(final == model)
    agreed = [ok for oks in agree_by.values() for ok in oks]
    return DashboardStats(
        n_contracts=n_contracts, n_clauses=sum(statuses.values()), n_needs_review=statuses.get(ClauseStatus.NEEDS_REVIEW, 0),
        n_claimed=n_claimed, n_reviewed=statuses.get(ClauseStatus.REVIEWED, 0),
        n_auto_accepted=statuses.get(ClauseStatus.AUTO_ACCEPTED, 0),
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
    with begin(uow) as uow:
        actor(uow.session, user_id, "dashboard")
    try:
        version = (registry or Registry()).active()
    except ModelVersionNotFound:
        return None
    for name in RELIABILITY_PNGS:
        if (version.path / name).is_file():
            return (version.path / name).read_bytes()
    return None


ACTIVE_LEARNING_PNG = "reports/active-learning.png"   # written by `python -m training.active_learning`


def active_learning_curve(user_id: int, *, uow: UnitOfWork | None = None) -> bytes | None:
    """The queue-order replay plot (contract F1 after k reviews, by order) as PNG bytes; None before it was run."""
    from app.config import ROOT

    with begin(uow) as uow:
        actor(uow.session, user_id, "dashboard")
    path = ROOT / ACTIVE_LEARNING_PNG
    return path.read_bytes() if path.is_file() else None


def list_model_versions(user_id: int, *, registry: Registry | None = None,
                        uow: UnitOfWork | None = None) -> list[ModelVersionInfo]:
    """Every registered model version with its card's metrics; admins only."""
    with begin(uow) as uow:
        actor(uow.session, user_id, "manage_models")
    registry = registry or Registry()
    active = registry.active_name()
    return [_version_info(v, v.name == active) for v in registry.list()]


def activate_model_version(user_id: int, name: str, *, registry: Registry | None = None,
                           uow: UnitOfWork | None = None) -> ModelVersionInfo:
    """Make `name` the model new uploads are scored with (also how to roll back); admins only."""
    registry = registry or Registry()
    with begin(uow) as uow:
        actor(uow.session, user_id, "manage_models")
        previous = registry.active_name()
        try:
            version = registry.get(name)
        except ModelVersionNotFound as e:
            raise NotFound(str(e).capitalize() + ".") from None
        audit(uow.session, user_id, "activate_model", "model_version", None, name=name, previous=previous)
        uow.session.flush()
        registry.activate(name)
        try:
            uow.commit()
        except Exception:
            registry.activate(previous)  # no activation without its audit event
            raise
    return _version_info(version, True)
