"""Log-in sessions that survive a refresh: a random token in a cookie, its hash and expiry in the database.

The token is 256 random bits (secrets.token_urlsafe), so it cannot be guessed or forged, and the
database row is looked up on every resume anyway (to honour a log-out, an expiry or a disabled
account), so a signature would add a secret to manage and nothing to check. Only the token's SHA-256
is stored: a copy of the database does not give working cookies.
"""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.config import get_settings
from app.db.models import LoginSession, User
from app.services.uow import UnitOfWork, begin
from app.views import UserInfo, user_info

SESSION_COOKIE = "lexdora_session"
_MAX_TOKEN_CHARS = 128  # a token is 43 characters; anything much longer is not one of ours


@dataclass(frozen=True)
class SessionTicket:
    token: str              # goes into the cookie, nowhere else
    expires_at: datetime    # naive UTC
    max_age_s: int          # the cookie's Max-Age: the browser drops it when the session expires


def _plausible(token) -> bool:
    return isinstance(token, str) and 0 < len(token) <= _MAX_TOKEN_CHARS


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(user_id: int, *, hours: float | None = None, uow: UnitOfWork | None = None) -> SessionTicket:
    """A new log-in session for `user_id` (just authenticated), lasting settings.session_hours."""
    hours = hours if hours is not None else get_settings().session_hours
    token = secrets.token_urlsafe(32)
    with begin(uow) as uow:
        expires_at = uow.clock() + timedelta(hours=hours)
        uow.session.add(LoginSession(user_id=user_id, token_sha256=_digest(token), created_at=uow.clock(),
                                     expires_at=expires_at))
        uow.commit()
    return SessionTicket(token, expires_at, int(hours * 3600))


def resume_session(token: str | None, *, uow: UnitOfWork | None = None) -> UserInfo | None:
    """The user of a live session (not ended, not expired, account active); None for anything else."""
    if not _plausible(token):
        return None
    with begin(uow) as uow:
        row = uow.session.execute(select(LoginSession, User).join(User, User.id == LoginSession.user_id).where(
            LoginSession.token_sha256 == _digest(token), LoginSession.ended_at.is_(None),
            LoginSession.expires_at > uow.clock())).first()
        if row is None or not row.User.active:
            return None
        return user_info(row.User)


def end_session(token: str | None, *, uow: UnitOfWork | None = None) -> None:
    """Log out: the session's cookie no longer logs anyone in, whatever the browser keeps."""
    if not _plausible(token):
        return
    with begin(uow) as uow:
        row = uow.session.scalar(select(LoginSession).where(LoginSession.token_sha256 == _digest(token),
                                                            LoginSession.ended_at.is_(None)))
        if row is not None:
            row.ended_at = uow.clock()
            uow.commit()


def end_user_sessions(session: Session, user_id: int, now: datetime) -> None:
    """End every live session of a user, inside the caller's transaction (a new password logs out every browser)."""
    session.execute(update(LoginSession).where(LoginSession.user_id == user_id, LoginSession.ended_at.is_(None))
                    .values(ended_at=now))
