"""Errors a user can cause: each message can be shown as-is by the UI and the CLI."""
from __future__ import annotations

class ServiceError(Exception):
    """A problem the user can act on; str(error) is the message to show."""


class AuthError(ServiceError):
    """Wrong name or password, or a session whose user no longer exists."""


class PermissionDenied(ServiceError):
    """The user's role does not allow this."""


class NotFound(ServiceError):
    """No such contract, clause, user or model version."""


class ClaimRequired(ServiceError):
    """A review submitted without holding the clause's claim (claim it first, or adjudicate as an admin)."""


class ClaimExpired(ClaimRequired):
    """The review claim lapsed and another reviewer holds the clause now, or has reviewed it since."""


class ContractArchived(ServiceError):
    """The clause's contract is archived: it takes no more reviews."""


class NotHeld(ClaimExpired):
    """A submit for a clause the reviewer does not hold now (a second keypress after the first confirm)."""


class InvalidLabel(ServiceError):
    """A label that is not one of the seven."""


class InvalidInput(ServiceError):
    """A bad value: empty name, short password, duplicate user, over-long comment."""


class ModelUnavailable(ServiceError):
    """The model version to score with cannot be loaded; the message says what to do."""


class InvalidFile(ServiceError):
    """An upload that cannot be read (ingestion's IngestError) or is too large; the message names the file."""

