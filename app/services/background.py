"""Uploads scored in the background: stored at once (queued), scored by the worker, resumed after a restart.

The upload page calls queue_contract and is done; app.worker runs score_queued_contract for each queued
contract and, when it starts, resume_unfinished. The contract row carries the state (queued, scoring with
its progress, failed with its message, then in_review or complete), so leaving the page or closing the
browser loses nothing, and the task queue holds nothing the database does not also say.
"""
from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from app.config import Settings, get_settings
from app.db.models import Contract
from app.ingest import contract_warnings
from app.ingest.guard import ingest_bytes_guarded
from app.roles import ContractStatus
from app.routing import Policy, PolicyError, load_policy
from app.scoring import Scorer, score_clauses
from app.services.contracts import (Ingest, clause_row, contract_by_sha, default_scorer, duplicate_upload, load_scorer,
                                    read_upload, store_upload)
from app.services.errors import ServiceError
from app.services.uow import UnitOfWork, actor, audit, begin, find_contract
from app.views import UploadSummary

Enqueue = Callable[[int], None]   # hands a contract id to the worker (app.worker.enqueue_scoring)

# Contracts whose scoring has not finished; the worker takes these up again when it starts.
UNFINISHED = (ContractStatus.QUEUED, ContractStatus.SCORING)


def queue_contract(user_id: int, filename: str, data: bytes, *, enqueue: Enqueue, settings: Settings | None = None,
                   ingest: Ingest = ingest_bytes_guarded, uow: UnitOfWork | None = None) -> UploadSummary:
    """Read and store an upload at once (status queued) and hand it to the worker; returns without scoring.

    The file is read here, so a file that cannot be read is refused at once (InvalidFile naming it).
    The same bytes again are a duplicate, as with upload_contract; a duplicate of a contract whose scoring
    failed is queued again (a new model version, or the model back, may score it now).
    """
    settings = settings or get_settings()
    sha = hashlib.sha256(data).hexdigest()
    uow = begin(uow)
    with uow:
        actor(uow.session, user_id, "upload")
        existing = contract_by_sha(uow.session, sha)
        if existing is not None:
            return _duplicate(uow, user_id, existing, filename, enqueue)

    document, clauses = read_upload(data, filename, settings=settings, ingest=ingest)
    store_upload(settings.upload_dir, sha, data)
    with uow:
        actor(uow.session, user_id, "upload")
        contract = Contract(sha256=sha, filename=filename[:255], format=document.format, size_bytes=len(data),
                            uploaded_by_id=user_id, text=document.text, status=ContractStatus.QUEUED, progress=0.0)
        uow.session.add(contract)
        try:
            uow.session.flush()
        except IntegrityError:  # the same bytes were uploaded meanwhile, in another session
            uow.session.rollback()
            existing = contract_by_sha(uow.session, sha)
            return _duplicate(uow, user_id, existing, filename, enqueue)
        audit(uow.session, user_id, "upload", "contract", contract.id, filename=filename, sha256=sha,
              clauses=len(clauses), queued=True)
        summary = UploadSummary(contract.id, contract.filename, sha, False, len(clauses), 0, 0, "",
                                warnings=tuple(contract_warnings(document, clauses)), status=ContractStatus.QUEUED)
        uow.commit()
    enqueue(summary.contract_id)
    return summary


def _duplicate(uow: UnitOfWork, user_id: int, existing: Contract, filename: str, enqueue: Enqueue) -> UploadSummary:
    # A contract never scored (failed, or archived before the worker reached it) is queued again.
    again = existing.status == ContractStatus.FAILED or (
        existing.status == ContractStatus.ARCHIVED and existing.progress < 1.0)
    summary = duplicate_upload(uow, user_id, existing, filename)
    if again:
        existing.status, existing.progress, existing.error = ContractStatus.QUEUED, 0.0, None
        audit(uow.session, user_id, "requeue", "contract", existing.id)
    uow.commit()
    if again:
        enqueue(existing.id)
    return dataclasses.replace(summary, status=existing.status)


def score_queued_contract(contract_id: int, *, scorer_factory: Callable[[], Scorer] = default_scorer,
                          policy: Policy | None = None, settings: Settings | None = None,
                          ingest: Ingest = ingest_bytes_guarded, uow: UnitOfWork | None = None) -> str | None:
    """The worker's job: score a queued contract, writing its progress as it goes; its final status.

    None when the contract was not queued (scored already, archived, or taken by another worker): a task
    enqueued twice, once by the upload and once by a restart's resume, scores once. A file that cannot be
    read, a model that cannot load or a scorer that raises leaves the contract failed with the message.
    """
    settings = settings or get_settings()
    uow = begin(uow)
    with uow:  # the claim: only one worker moves it from queued to scoring
        claimed = uow.session.execute(update(Contract).where(
            Contract.id == contract_id, Contract.status == ContractStatus.QUEUED).values(
            status=ContractStatus.SCORING, progress=0.0, error=None)).rowcount
        uow.commit()
    if not claimed:
        return None
    with uow:
        contract = find_contract(uow.session, contract_id)
        sha, filename = contract.sha256, contract.filename

    try:
        data = (settings.upload_dir / sha[:2] / sha).read_bytes()
        document, clauses = read_upload(data, filename, settings=settings, ingest=ingest)
        scorer = load_scorer(scorer_factory)
        policy = policy or load_policy(scorer.version)
        scored = score_clauses(clauses, scorer, policy, batch_size=settings.batch_size,
                               progress=lambda done, n: _set_progress(uow, contract_id, done / n))
    except (ServiceError, PolicyError) as e:
        message = str(e)
        _fail(uow, contract_id, message if message.startswith(filename) else f"{filename}: {message}")
        return ContractStatus.FAILED
    except OSError as e:
        _fail(uow, contract_id, f"{filename}: the stored upload cannot be read ({e.strerror or e}); upload it again.")
        return ContractStatus.FAILED
    except Exception as e:  # a bug: the contract says so rather than scoring for ever; the worker logs the trace
        _fail(uow, contract_id, f"{filename}: scoring failed ({type(e).__name__}: {e}).")
        raise

    n_review = sum(s.decision.action == "review" for s in scored)
    with uow:
        contract = find_contract(uow.session, contract_id)
        contract.text, contract.format = document.text, document.format  # what the clause offsets point into
        for s in scored:
            uow.session.add(clause_row(contract_id, s.clause, s))
        contract.progress = 1.0
        if contract.status == ContractStatus.SCORING:  # archived meanwhile: it stays archived, scored
            contract.status = ContractStatus.IN_REVIEW if n_review else ContractStatus.COMPLETE
        audit(uow.session, None, "score", "contract", contract_id, clauses=len(scored), needs_review=n_review,
              model_version=scored[0].model_version if scored else "")
        status = contract.status
        uow.commit()
    return status


def _set_progress(uow: UnitOfWork, contract_id: int, fraction: float) -> None:
    with uow:
        uow.session.execute(update(Contract).where(Contract.id == contract_id, Contract.status == ContractStatus.SCORING)
                            .values(progress=round(min(fraction, 1.0), 4)))
        uow.commit()


def _fail(uow: UnitOfWork, contract_id: int, message: str) -> None:
    with uow:
        contract = find_contract(uow.session, contract_id)
        if contract.status == ContractStatus.SCORING:
            contract.status = ContractStatus.FAILED
        contract.error = message
        audit(uow.session, None, "score_failed", "contract", contract_id, error=message)
        uow.commit()


def resume_unfinished(*, uow: UnitOfWork | None = None) -> list[int]:
    """Contracts to score again after a (re)start, oldest first: queued ones, and those a stopped worker left
    scoring, which go back to queued (their clauses are written only when all are scored, so none are).

    Call it from the one consumer process that starts (app.worker does, once): a second consumer running
    at the same time would have its contracts in progress taken back.
    """
    with begin(uow) as uow:
        uow.session.execute(update(Contract).where(Contract.status == ContractStatus.SCORING)
                            .values(status=ContractStatus.QUEUED, progress=0.0))
        ids = list(uow.session.scalars(select(Contract.id).where(Contract.status == ContractStatus.QUEUED)
                                       .order_by(Contract.uploaded_at, Contract.id)))
        uow.commit()
    return ids

