"""The use cases: what people do with lexdora. The UI, the CLI and the workers call only these.

Each use case is one function and one transaction: it opens a unit of work, checks the
caller's role (app.roles), does the work, writes an audit event and commits explicitly; leaving
the block without a commit rolls everything back. Services take plain values (ids, text,
bytes) and return the plain dataclasses of app.views. Errors a user can cause are
`ServiceError` subclasses whose message can be shown as-is.

One module per area: uow (transaction, role check), users, sessions (log-ins kept in a cookie),
contracts (upload, list, read, archive), background (uploads scored by app.worker), review (the
queue), admin (dashboard, model versions), export.
"""
from __future__ import annotations

from app.scoring import Scorer
from app.services.admin import (RELIABILITY_PNGS, activate_model_version, active_learning_curve, dashboard_stats,
                                list_model_versions, reliability_diagram)
from app.services.agreement import adjudicate, agreement_stats, list_disputes
from app.services.background import UNFINISHED, queue_contract, resume_unfinished, score_queued_contract
from app.services.contracts import (archive_contract, contract_overview, default_scorer, get_contract, list_contracts,
                                    store_scored_contract, upload_contract)
from app.services.document import get_document, render_contract_page
from app.services.desk import (release_held_claims, reopen_clause, review_history, review_progress, submit_shown,
                               undo_last_review)
from app.services.errors import (AuthError, ClaimExpired, ClaimRequired, ContractArchived, InvalidFile, InvalidInput,
                                 InvalidLabel, ModelUnavailable, NotFound, NotHeld, PermissionDenied, ServiceError)
from app.services.export import EXPORT_FIELDS, export_contract_excel, export_labels, reviewed_clauses
from app.services.review import (CLAIM_TTL, MAX_COMMENT_CHARS, NEIGHBOURS, claim_clause, claim_next_review,
                                 release_claim, submit_review)
from app.services.sessions import SESSION_COOKIE, SessionTicket, end_session, resume_session, start_session
from app.services.uow import UnitOfWork
from app.services.users import (MIN_PASSWORD_LENGTH, LoginThrottled, authenticate, find_user, generate_password,
                                list_users, register_user, set_password, set_role, set_user_active)
from app.views import (AgreementStats, ClauseInfo, ClauseSpan, ContractDetail, ContractDocument, ContractProgress,
                       ContractRow, ContractSummary, DashboardStats, ExposureFieldInfo,
                       Dispute, ExposureItem, HistoryItem, LabelAgreement, ModelVersionInfo, ReliabilityBin,
                       ReviewerAgreement, ReviewInfo, ReviewProgress, ReviewTask, UploadSummary, UserInfo)

__all__ = [
    "CLAIM_TTL", "EXPORT_FIELDS", "MAX_COMMENT_CHARS", "MIN_PASSWORD_LENGTH", "NEIGHBOURS", "RELIABILITY_PNGS",
    "AuthError", "ClaimExpired", "ClaimRequired", "ContractArchived", "ClauseInfo", "ContractDetail", "ContractSummary", "DashboardStats",
    "ExposureItem", "InvalidFile", "LoginThrottled", "InvalidInput", "InvalidLabel", "ModelUnavailable", "ModelVersionInfo", "NotFound",
    "PermissionDenied", "ReliabilityBin", "ReviewInfo", "ReviewTask", "Scorer", "ServiceError", "UnitOfWork",
    "UploadSummary", "UserInfo", "activate_model_version", "archive_contract", "authenticate", "claim_clause", "claim_next_review",
    "dashboard_stats", "default_scorer", "export_contract_excel", "export_labels", "find_user", "generate_password", "get_contract",
    "list_contracts", "list_model_versions", "list_users", "register_user", "release_claim", "reliability_diagram",
    "reviewed_clauses", "set_password", "set_role", "set_user_active", "store_scored_contract", "submit_review",
    "upload_contract",
    # the reviewer's desk (issue 13)
    "AgreementStats", "ContractProgress", "Dispute", "HistoryItem", "LabelAgreement", "NotHeld", "ReviewProgress",
    "ReviewerAgreement", "adjudicate", "agreement_stats", "list_disputes", "release_held_claims", "reopen_clause",
    "review_history", "review_progress", "submit_shown", "undo_last_review", "active_learning_curve",
    # the document view (issue 14)
    "ClauseSpan", "ContractDocument", "ExposureFieldInfo", "get_document", "render_contract_page",
    # the contracts list, background scoring and log-ins that survive a refresh (issue 14)
    "ContractRow", "SESSION_COOKIE", "SessionTicket", "UNFINISHED", "contract_overview", "end_session",
    "queue_contract", "resume_session", "resume_unfinished", "score_queued_contract", "start_session",
]
