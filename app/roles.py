"""Who may do what, and the statuses a contract and a clause go through.

One table: the services check it (app.services.uow.actor) and the UI builds its page list from
it (app.ui.session), so the two cannot disagree.
"""
from __future__ import annotations

from enum import StrEnum


class _Name(StrEnum):
    """A member is its string value everywhere, dict keys included (Enum hashes the member name)."""

    __hash__ = str.__hash__


class Role(_Name):
    LAWYER = "lawyer"
    REVIEWER = "reviewer"
    ADMIN = "admin"


class ContractStatus(_Name):
    QUEUED = "queued"         # stored, waiting for the worker (app.worker)
    SCORING = "scoring"       # the worker is scoring it; Contract.progress says how far
    FAILED = "failed"         # scoring failed; Contract.error says why
    IN_REVIEW = "in_review"
    COMPLETE = "complete"
    ARCHIVED = "archived"


class ClauseStatus(_Name):
    NEEDS_REVIEW = "needs_review"     # routed to review, no review yet
    AUTO_ACCEPTED = "auto_accepted"   # the routing policy accepted it
    REVIEWED = "reviewed"             # a person settled it


ROLES: tuple[str, ...] = tuple(r.value for r in Role)
CONTRACT_STATUSES: tuple[str, ...] = tuple(s.value for s in ContractStatus)
CLAUSE_STATUSES: tuple[str, ...] = tuple(s.value for s in ClauseStatus)

# Statuses as a lawyer reads them: what pages and exports show, never the stored values.
CLAUSE_STATUS_NAMES: dict[str, str] = {ClauseStatus.AUTO_ACCEPTED.value: "auto-accepted",
                                       ClauseStatus.NEEDS_REVIEW.value: "waiting for review",
                                       ClauseStatus.REVIEWED.value: "reviewed"}
CONTRACT_STATUS_NAMES: dict[str, str] = {ContractStatus.IN_REVIEW.value: "waiting for review",
                                         ContractStatus.COMPLETE.value: "reviewed",
                                         ContractStatus.ARCHIVED.value: "archived"}
# A prediction's routing decision (app.routing.Action).
DECISION_NAMES: dict[str, str] = {"auto_accept": "auto-accepted", "review": "sent to review"}


def status_name(status: str) -> str:
    """A contract's or clause's status in words ("in_review" -> "waiting for review")."""
    return CLAUSE_STATUS_NAMES.get(status) or CONTRACT_STATUS_NAMES.get(status) or status.replace("_", " ")

_ALL = frozenset(Role)

# permission -> (roles allowed, what it is, worded to finish "A lawyer cannot ...").
# The dashboard is for admins: it shows the model and its calibration beside the queue.
PERMISSIONS: dict[str, tuple[frozenset[Role], str]] = {
    "read": (_ALL, "read contracts"),
    "export": (_ALL, "export labels"),
    "upload": (frozenset({Role.LAWYER, Role.ADMIN}), "upload contracts"),
    "archive": (frozenset({Role.LAWYER, Role.ADMIN}), "archive contracts"),
    "review": (frozenset({Role.REVIEWER, Role.ADMIN}), "review clauses"),
    "dashboard": (frozenset({Role.ADMIN}), "see the dashboard"),
    "manage_users": (frozenset({Role.ADMIN}), "manage users"),
    "manage_models": (frozenset({Role.ADMIN}), "change the model version"),
    # Settle a clause without holding its claim (the final word over reviewers who disagree).
    "adjudicate": (frozenset({Role.ADMIN}), "settle reviewers' disagreements"),
}


def may(role: str, permission: str) -> bool:
    """Whether `role` has `permission` (a key of PERMISSIONS)."""
    return role in PERMISSIONS[permission][0]


def roles_with(permission: str) -> frozenset[str]:
    return frozenset(str(r) for r in PERMISSIONS[permission][0])


def denial(role: str, permission: str) -> str:
    """The message shown when `role` lacks `permission`."""
    return f"A {role} cannot {PERMISSIONS[permission][1]}."
