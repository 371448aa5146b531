"""Contracts: upload (ingest, score, route, store), list (with CUAD's answers), read, archive."""
from __future__ import annotations

import dataclasses
import hashlib
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.config import Settings, get_settings
from app.db.models import Clause, Contract, Prediction
from app.exposure import ClauseFacts, clause_reference, exposure_lines
from app.exposure_fields import FIELD_NAMES, extract_fields
from app.ingest import Document, IngestError, contract_warnings
from app.ingest.guard import ingest_bytes_guarded
from app.registry import ModelVersionNotFound, Registry
from app.roles import ClauseStatus, ContractStatus, Role
from app.routing import Policy, load_policy
from app.scoring import (ContractRule, ContractRuleError, ScoredClause, Scorer, contract_answers, contract_rule,
                         score_clauses)
from app.services.errors import InvalidFile, ModelUnavailable, PermissionDenied
from app.services.uow import UnitOfWork, actor, audit, begin, find_contract
from app.views import (ClauseInfo, ContractDetail, ContractRow, ContractSummary, ExposureFieldInfo, ExposureItem,
                       UploadSummary, clause_infos, contract_summaries, current_clause_predictions, load_clauses)

if TYPE_CHECKING:
    from app.ingest import Clause as IngestedClause

Progress = Callable[[float, str], None]   # (fraction done 0..1, message): st.progress / rich friendly
Ingest = Callable[..., tuple[Document, list]]   # app.ingest.ingest_bytes(data, name, max_bytes=...)


def default_scorer() -> Scorer:
    """The active model version's classifier (Classifier.load keeps its weights cached per version)."""
    from app.classifier import Classifier

    return Classifier.load()


def upload_contract(user_id: int, filename: str, data: bytes, *, progress: Progress | None = None,
                    scorer_factory: Callable[[], Scorer] = default_scorer, policy: Policy | None = None,
                    settings: Settings | None = None, ingest: Ingest = ingest_bytes_guarded,
                    uow: UnitOfWork | None = None) -> UploadSummary:
    """Ingest, score and route one uploaded file; the same bytes uploaded again return duplicate=True.

    Raises InvalidFile with a message naming the file when it cannot be read or is over
    settings.max_upload_mb (ingestion's limit, so one rule gives one message). A file that reads but
    does not look like a contract is stored and scored, its doubts in UploadSummary.warnings.
    The bytes are kept under settings.upload_dir by SHA-256, outside anything served.
    policy: default, the scoring model version's (app.routing.load_policy).
    """
    report = progress or (lambda fraction, message: None)
    settings = settings or get_settings()
    sha = hashlib.sha256(data).hexdigest()
    uow = begin(uow)

    with uow:  # a quick look first, so a duplicate is not ingested and scored again
        actor(uow.session, user_id, "upload")
        existing = contract_by_sha(uow.session, sha)
        if existing is not None:
            summary = duplicate_upload(uow, user_id, existing, filename)
            uow.commit()
            report(1.0, f"{filename}: already uploaded as {existing.filename}")
            return summary

    report(0.0, f"{filename}: reading")
    document, clauses = read_upload(data, filename, settings=settings, ingest=ingest)
    warnings = tuple(contract_warnings(document, clauses))  # accepted all the same, with the warning shown
    report(0.1, f"{filename}: {len(clauses)} clauses found, scoring")

    scorer = load_scorer(scorer_factory)
    if policy is None:
        policy = load_policy(scorer.version)
    scored = score_clauses(clauses, scorer, policy, batch_size=settings.batch_size,
                           progress=lambda done, n: report(0.1 + 0.85 * done / n,
                                                           f"{filename}: scored {done}/{n} clauses"))
    report(0.95, f"{filename}: saving")
    summary = store_scored_contract(user_id, filename, data, document, scored, settings=settings, uow=uow)
    report(1.0, f"{filename}: {summary.n_clauses} clauses, {summary.n_needs_review} for review")
    return dataclasses.replace(summary, warnings=warnings)


def read_upload(data: bytes, filename: str, *, settings: Settings,
                ingest: Ingest = ingest_bytes_guarded) -> tuple[Document, list]:
    """The document and its clauses; InvalidFile naming the file when it cannot be read or has no clauses."""
    try:
        document, clauses = ingest(data, filename, max_bytes=int(settings.max_upload_mb * 1024 * 1024))
    except IngestError as e:
        message = str(e)
        raise InvalidFile(message if message.startswith(filename) else f"{filename}: {message}") from None
    if not clauses:
        raise InvalidFile(f"{filename}: no clauses found; is it a scanned document without a text layer?")
    return document, clauses


def store_scored_contract(user_id: int, filename: str, data: bytes, document: Document,
                          scored: Sequence[ScoredClause], *, settings: Settings | None = None,
                          uow: UnitOfWork | None = None) -> UploadSummary:
    """Store a contract already ingested and scored (by upload_contract, or `python -m app score --db`).

    The same bytes stored before are a duplicate: nothing is written but the audit event.
    """
    settings = settings or get_settings()
    sha = hashlib.sha256(data).hexdigest()
    uow = begin(uow)
    with uow:
        actor(uow.session, user_id, "upload")
        existing = contract_by_sha(uow.session, sha)
        if existing is not None:
            summary = duplicate_upload(uow, user_id, existing, filename)
            uow.commit()
            return summary
    store_upload(settings.upload_dir, sha, data)
    model_version = scored[0].model_version if scored else ""
    n_review = sum(s.decision.action == "review" for s in scored)

    with uow:
        actor(uow.session, user_id, "upload")
        contract = Contract(sha256=sha, filename=filename[:255], format=document.format, size_bytes=len(data),
                            uploaded_by_id=user_id, text=document.text,
                            status=ContractStatus.IN_REVIEW if n_review else ContractStatus.COMPLETE)
        uow.session.add(contract)
        try:
            uow.session.flush()
        except IntegrityError:  # the same bytes were uploaded while this one was scored
            uow.session.rollback()
            existing = contract_by_sha(uow.session, sha)
            summary = duplicate_upload(uow, user_id, existing, filename)
            uow.commit()
            return summary
        for s in scored:
            uow.session.add(clause_row(contract.id, s.clause, s))
        audit(uow.session, user_id, "upload", "contract", contract.id, filename=filename, sha256=sha,
              clauses=len(scored), needs_review=n_review, model_version=model_version)
        summary = UploadSummary(contract.id, contract.filename, sha, False, len(scored),
                                len(scored) - n_review, n_review, model_version, status=contract.status)
        uow.commit()
    return summary


def contract_by_sha(session, sha: str) -> Contract | None:
    """The contract stored with these bytes (their SHA-256), if any: the same upload twice is one contract."""
    return session.scalar(select(Contract).where(Contract.sha256 == sha))


def clause_row(contract_id: int, c: IngestedClause, s: ScoredClause) -> Clause:
    d = s.decision
    pages = list(getattr(c, "pages", None) or [])
    clause = Clause(contract_id=contract_id, index=c.index, number=(c.number or None) and c.number[:64],
                    heading=c.heading or None, text=c.text, start=c.start, end=c.end, page=c.page,
                    page_end=max(pages) if pages else c.page, label=d.label,
                    status=ClauseStatus.NEEDS_REVIEW if d.action == "review" else ClauseStatus.AUTO_ACCEPTED)
    clause.predictions.append(Prediction(
        model_version=s.model_version, probs=dict(s.probabilities), label=d.label, confidence=d.confidence,
        decision=d.action, rule=d.rule, reason=d.reason))
    return clause


def duplicate_upload(uow: UnitOfWork, user_id: int, contract: Contract, filename: str) -> UploadSummary:
    if contract.status == ContractStatus.ARCHIVED:  # uploading it again is the way back from the archive
        pending = uow.session.scalar(select(func.count()).where(Clause.contract_id == contract.id,
                                                                Clause.status == ClauseStatus.NEEDS_REVIEW))
        contract.status = ContractStatus.IN_REVIEW if pending else ContractStatus.COMPLETE
        audit(uow.session, user_id, "unarchive", "contract", contract.id)
    statuses = dict(uow.session.execute(select(Clause.status, func.count()).where(
        Clause.contract_id == contract.id).group_by(Clause.status)).all())
    version = uow.session.scalar(select(Prediction.model_version).join(Clause).where(
        Clause.contract_id == contract.id, Prediction.current).limit(1)) or ""
    audit(uow.session, user_id, "upload_duplicate", "contract", contract.id, filename=filename)
    return UploadSummary(contract.id, contract.filename, contract.sha256, True, sum(statuses.values()),
                         statuses.get(ClauseStatus.AUTO_ACCEPTED, 0), statuses.get(ClauseStatus.NEEDS_REVIEW, 0),
                         version, status=contract.status)


def load_scorer(scorer_factory: Callable[[], Scorer]) -> Scorer:
    from app.classifier import ClassifierError

    try:
        return scorer_factory()
    except (ClassifierError, ModelVersionNotFound) as e:
        raise ModelUnavailable(f"The model cannot score contracts right now: {e}") from None


def upload_path(upload_dir: Path, sha: str) -> Path:
    """Where an upload's bytes are kept: by SHA-256, no extension, so nothing opens or serves it by type."""
    return Path(upload_dir) / sha[:2] / sha


def store_upload(upload_dir: Path, sha: str, data: bytes) -> Path:
    path = upload_path(upload_dir, sha)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)
    return path


def list_contracts(user_id: int, *, include_archived: bool = False,
                   uow: UnitOfWork | None = None) -> list[ContractSummary]:
    """Contracts newest first, with clause counts per label and how many await review."""
    with begin(uow) as uow:
        actor(uow.session, user_id, "read")
        conditions = [] if include_archived else [Contract.status != ContractStatus.ARCHIVED]
        return contract_summaries(uow.session, *conditions)


def contract_overview(user_id: int, *, include_archived: bool = False, registry: Registry | None = None,
                      uow: UnitOfWork | None = None) -> list[ContractRow]:
    """Every contract the user may read, newest first, with its status, progress, counts and CUAD's two answers.

    The answers come from app.scoring.contract_answers under the contract rule of the model version that
    scored the contract (the any_label default when that version is gone or has none).
    registry: where those versions are (default: the settings' registry).
    """
    registry = registry or Registry()
    with begin(uow) as uow:
        actor(uow.session, user_id, "read")
        conditions = [] if include_archived else [Contract.status != ContractStatus.ARCHIVED]
        summaries = contract_summaries(uow.session, *conditions)
        clauses = current_clause_predictions(uow.session, [c.id for c in summaries])
    rules: dict[str, ContractRule] = {}
    rows = []
    for summary in summaries:
        scored = clauses.get(summary.id)
        if not scored:
            rows.append(ContractRow(summary, None, None, None, None, None))
            continue
        version = scored[0][2]
        if version not in rules:
            rules[version] = _rule_of(version, registry)
        answers = contract_answers([{"label": label, "probabilities": probs} for label, probs, _ in scored],
                                   rules[version])
        rows.append(ContractRow(summary, answers.has_cap, answers.p_cap, answers.has_uncapped, answers.p_uncapped,
                                version))
    return rows


def _rule_of(version_name: str, registry: Registry) -> ContractRule:
    try:
        return contract_rule(registry.get(version_name))
    except (ModelVersionNotFound, ContractRuleError, OSError, ValueError):
        return ContractRule()  # a version deleted from disk, or a broken card: answer by label


def get_contract(user_id: int, contract_id: int, *, uow: UnitOfWork | None = None) -> ContractDetail:
    """One contract: its clauses in order (label, probabilities, decision, reason, latest review) and exposure."""
    with begin(uow) as uow:
        actor(uow.session, user_id, "read")
        return contract_detail(uow.session, contract_id)


def contract_detail(session: Session, contract_id: int) -> ContractDetail:
    find_contract(session, contract_id)
    summary = contract_summaries(session, Contract.id == contract_id)[0]
    clauses = clause_infos(session, load_clauses(session, Clause.contract_id == contract_id))
    by_index = {c.index: c for c in clauses}
    lines = exposure_lines([ClauseFacts(c.label, c.number, c.heading, c.text, c.index) for c in clauses])
    exposure = [ExposureItem(f.label, by_index[f.index].id, f.number, by_index[f.index].page, line)
                for f, line in lines]
    return ContractDetail(summary, clauses, exposure, exposure_fields(clauses))


def exposure_fields(clauses: Sequence[ClauseInfo]) -> list[ExposureFieldInfo]:
    """The exposure fields of every liability clause (label other than none), with their evidence spans."""
    return [ExposureFieldInfo(f.kind, FIELD_NAMES[f.kind], f.value, c.id, clause_reference(c.number, c.heading, c.text),
                              f.start, f.end)
            for c in clauses if c.label != "none" for f in extract_fields(c.text)]


def archive_contract(user_id: int, contract_id: int, *, uow: UnitOfWork | None = None) -> None:
    """Hide a contract from lists, queue and exports; nothing is deleted. Its uploader or an admin."""
    with begin(uow) as uow:
        user = actor(uow.session, user_id, "archive")
        contract = find_contract(uow.session, contract_id)
        if user.role != Role.ADMIN and contract.uploaded_by_id != user.id:
            raise PermissionDenied("Only the lawyer who uploaded a contract, or an admin, can archive it.")
        previous, contract.status = contract.status, ContractStatus.ARCHIVED
        audit(uow.session, user_id, "archive", "contract", contract.id, previous_status=previous)
        uow.commit()

