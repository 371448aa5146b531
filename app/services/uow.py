"""The unit of work (one transaction per use case) and the checks every use case starts with."""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from app.db.models import AuditEvent, Clause, Contract, User, utcnow
from app.roles import denial, may
from app.services.errors import AuthError, InvalidLabel, NotFound, PermissionDenied
from app.taxonomy import BY_ID, LABEL_IDS


class UnitOfWork:
    """One transaction: `with uow: ...; uow.commit()`; leaving the block uncommitted rolls back.

    session_factory: default, the one for settings.database_url (migrated to head on first use).
    clock: naive-UTC "now"; tests pass their own to expire claims.
    """

    def __init__(self, session_factory: sessionmaker[Session] | None = None,
                 clock: Callable[[], datetime] = utcnow):
        self._factory = session_factory
        self.clock = clock
        self.committed = False

    def __enter__(self) -> UnitOfWork:
        if self._factory is None:
            from app.db.session import session_factory
            self._factory = session_factory()
        self.session: Session = self._factory()
        self.committed = False
        return self

    def __exit__(self, *exc) -> None:
        self.session.rollback()  # nothing to undo after commit
        self.session.close()

    def commit(self) -> None:
        self.session.commit()
        self.committed = True


def begin(uow: UnitOfWork | None) -> UnitOfWork:
    """`uow`, or a new one on the default database."""
    return uow if uow is not None else UnitOfWork()


def actor(session: Session, user_id: int, permission: str) -> User:
    """The active user `user_id` if app.roles lets their role do `permission`; AuthError or PermissionDenied otherwise."""
    user = session.get(User, user_id)
    if user is None or not user.active:
        raise AuthError("Your account is no longer available; log in again.")
    if not may(user.role, permission):
        raise PermissionDenied(denial(user.role, permission))
    return user


def audit(session: Session, user_id: int | None, action: str, entity: str, entity_id: int | None,
           **detail) -> None:
    session.add(AuditEvent(user_id=user_id, action=action, entity=entity, entity_id=entity_id, detail=detail))


def check_label(label: str) -> str:
    if label not in BY_ID:
        raise InvalidLabel(f"{label!r} is not a label; choose one of {', '.join(LABEL_IDS)}.")
    return label


def find_contract(session: Session, contract_id: int) -> Contract:
    contract = session.get(Contract, contract_id)
    if contract is None:
        raise NotFound(f"Contract {contract_id} not found.")
    return contract


def find_clause(session: Session, clause_id: int) -> Clause:
    clause = session.get(Clause, clause_id)
    if clause is None:
        raise NotFound(f"Clause {clause_id} not found.")
    return clause


def clause_name(clause: Clause) -> str:
    return f"clause {clause.number}" if clause.number else f"clause {clause.index + 1}"
