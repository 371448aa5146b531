"""Accounts: register, log in (throttled), list, disable or enable, reset a password, change a role."""
from __future__ import annotations

import hashlib
import math
import secrets
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from app.db.models import AuditEvent, Clause, User
from app.roles import ROLES, Role
from app.services.errors import AuthError, InvalidInput, NotFound
from app.services.sessions import end_user_sessions
from app.services.uow import UnitOfWork, actor, audit, begin
from app.views import UserInfo, user_info

MIN_PASSWORD_LENGTH = 8

# Module-level so tests can swap in a cheap one (argon2's default cost is ~0.5 s a hash).
hasher = PasswordHasher()
_dummy: list[str] = []


def _dummy_hash() -> str:
    """Verified against when the name is unknown, so a wrong name costs as long as a wrong password."""
    if not _dummy:
        _dummy.append(hasher.hash("lexdora-no-such-user"))
    return _dummy[0]


def register_user(name: str, password: str, role: str, *, actor_id: int | None = None,
                  uow: UnitOfWork | None = None) -> UserInfo:
    """Create an account. actor_id: the admin doing it; None only for the local `users add` command."""
    name = name.strip()
    if not name or len(name) > 64:
        raise InvalidInput("A user name needs 1 to 64 characters.")
    if role not in ROLES:
        raise InvalidInput(f"Unknown role {role!r}; choose one of {', '.join(ROLES)}.")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(f"A password needs at least {MIN_PASSWORD_LENGTH} characters.")
    with begin(uow) as uow:
        if actor_id is not None:
            actor(uow.session, actor_id, "manage_users")
        if uow.session.scalar(select(User.id).where(User.name == name)) is not None:
            raise InvalidInput(f"A user named {name!r} already exists.")
        user = User(name=name, role=role, password_hash=hasher.hash(password))
        uow.session.add(user)
        try:
            uow.session.flush()
        except IntegrityError:  # registered by someone else between the check and the insert
            raise InvalidInput(f"A user named {name!r} already exists.") from None
        audit(uow.session, actor_id, "register_user", "user", user.id, name=name, role=role)
        info = user_info(user)
        uow.commit()
    return info


# Login throttle: after FREE_FAILURES failed log-ins for one name (counted since that user's last
# successful log-in, within NAME_WINDOW) or FREE_CLIENT_FAILURES from one client (within
# CLIENT_WINDOW), each further attempt must wait BACKOFF_BASE * 2**(excess), at most BACKOFF_MAX,
# after the latest failure. An attempt during the wait is refused without checking the password
# (audited as login_throttled, not counted as a failure, so it does not lengthen the wait).
FREE_FAILURES = 5
FREE_CLIENT_FAILURES = 20
BACKOFF_BASE = timedelta(seconds=1)
BACKOFF_MAX = timedelta(minutes=15)
NAME_WINDOW = timedelta(hours=24)
CLIENT_WINDOW = timedelta(hours=1)
MAX_CLIENT_CHARS = 64


class LoginThrottled(AuthError):
    """Too many failed log-ins for this name or from this client; the message says how long to wait."""


def name_key(name: str) -> str:
    """What audit rows keep of a typed user name: a hash, so a password typed in the name box is not stored."""
    return hashlib.sha256(f"lexdora-login:{name}".encode()).hexdigest()[:16]


def _client(client: str | None) -> str | None:
    if not client:
        return None
    return "".join(ch if ch.isprintable() else "?" for ch in str(client))[:MAX_CLIENT_CHARS]


def _backoff(failures: int, free: int) -> timedelta:
    if failures < free:
        return timedelta(0)
    return min(BACKOFF_BASE * 2 ** min(failures - free, 30), BACKOFF_MAX)


def _failures(session, field: str, value: str, since: datetime) -> tuple[int, datetime | None]:
    """Failed log-ins whose audit detail has field == value since `since`: their number and the latest time."""
    row = session.execute(select(func.count(AuditEvent.id), func.max(AuditEvent.at)).where(
        AuditEvent.action == "login_failed", AuditEvent.at > since,
        AuditEvent.detail[field].as_string() == value)).one()
    return row[0], row[1]


def _wait(session, user: User | None, key: str, client: str | None, now: datetime) -> timedelta:
    """How long this attempt must still wait (zero: it may go ahead)."""
    since = now - NAME_WINDOW
    if user is not None:
        last_login = session.scalar(select(func.max(AuditEvent.at)).where(
            AuditEvent.action == "login", AuditEvent.user_id == user.id))
        if last_login is not None and last_login > since:
            since = last_login
    waits = [timedelta(0)]
    n, last = _failures(session, "who", key, since)
    if n and last is not None:
        waits.append(last + _backoff(n, FREE_FAILURES) - now)
    if client is not None:
        n, last = _failures(session, "client", client, now - CLIENT_WINDOW)
        if n and last is not None:
            waits.append(last + _backoff(n, FREE_CLIENT_FAILURES) - now)
    return max(waits)


def _audit_at(session, at: datetime, user: User | None, action: str, **detail) -> None:
    """An audit row stamped with the unit of work's clock, which the throttle reads back."""
    session.add(AuditEvent(at=at, user_id=user.id if user else None, action=action, entity="user",
                           entity_id=user.id if user else None, detail=detail))


def _in_words(wait: timedelta) -> str:
    seconds = max(1, math.ceil(wait.total_seconds()))
    return f"{seconds} seconds" if seconds < 120 else f"{math.ceil(seconds / 60)} minutes"


def authenticate(name: str, password: str, *, client: str | None = None,
                 uow: UnitOfWork | None = None) -> UserInfo:
    """The user with this name and password; AuthError otherwise (without saying which was wrong).

    client: where the attempt comes from (the browser's address), for the per-client throttle;
    LoginThrottled while the name or the client must wait after repeated failures. Audit rows of
    failures keep the user's id and name only when the name exists, else only a hash of what was typed.
    """
    name = name.strip()
    client = _client(client)
    key = name_key(name)
    with begin(uow) as uow:
        session, now = uow.session, uow.clock()
        user = session.scalar(select(User).where(User.name == name)) if len(name) <= 64 else None
        known = {"name": user.name} if user is not None else {}
        wait = _wait(session, user, key, client, now)
        if wait > timedelta(0):
            _audit_at(session, now, user, "login_throttled", who=key, client=client,
                      retry_after_s=math.ceil(wait.total_seconds()), **known)
            uow.commit()
            raise LoginThrottled(f"Too many failed log-ins; try again in {_in_words(wait)}.")
        try:
            hasher.verify(user.password_hash if user and user.active else _dummy_hash(), password)
            ok = user is not None and user.active
        except (VerificationError, InvalidHashError):
            ok = False
        if not ok:
            _audit_at(session, now, user, "login_failed", who=key, client=client, **known)
            uow.commit()
            raise AuthError("Wrong user name or password.")
        if hasher.check_needs_rehash(user.password_hash):  # parameters were raised since it was hashed
            user.password_hash = hasher.hash(password)
        _audit_at(session, now, user, "login", client=client)
        info = user_info(user)
        uow.commit()
    return info


def list_users(*, actor_id: int | None = None, uow: UnitOfWork | None = None) -> list[UserInfo]:
    """All accounts. actor_id: an admin; None only for the local `users list` command."""
    with begin(uow) as uow:
        if actor_id is not None:
            actor(uow.session, actor_id, "manage_users")
        return [user_info(u) for u in uow.session.scalars(select(User).order_by(User.name))]


def generate_password() -> str:
    """A new random password (16 URL-safe characters, ~96 bits)."""
    return secrets.token_urlsafe(12)


def _target(session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"User {user_id} not found.")
    return user


def _refuse_last_admin(session, user: User, what: str) -> None:
    """No change may leave the database without an active admin (nobody could manage users from the app)."""
    if user.role == Role.ADMIN and user.active and session.scalar(select(func.count()).where(
            User.role == Role.ADMIN, User.active.is_(True), User.id != user.id)) == 0:
        raise InvalidInput(f"{user.name} is the only active admin; make another admin before you {what}.")


def set_user_active(actor_id: int | None, user_id: int, active: bool, *,
                    uow: UnitOfWork | None = None) -> UserInfo:
    """Disable an account (it can no longer log in; its reviews stay) or enable it again.

    actor_id: an admin; None only for the local `users disable/enable` commands.
    """
    with begin(uow) as uow:
        if actor_id is not None:
            actor(uow.session, actor_id, "manage_users")
        if user_id == actor_id and not active:
            raise InvalidInput("You cannot disable your own account; ask another admin.")
        user = _target(uow.session, user_id)
        if not active:
            _refuse_last_admin(uow.session, user, "disable it")
            # A claim held by a disabled reviewer would keep its clause out of the queue until it lapsed.
            uow.session.execute(update(Clause).where(Clause.claimed_by_id == user.id)
                                .values(claimed_by_id=None, claim_expires_at=None))
        user.active = active
        audit(uow.session, actor_id, "enable_user" if active else "disable_user", "user", user.id)
        info = user_info(user)
        uow.commit()
    return info


def set_password(user_id: int, password: str, *, actor_id: int | None = None,
                 uow: UnitOfWork | None = None) -> UserInfo:
    """Give an account a new password. actor_id: an admin; None only for the local `users reset-password`."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(f"A password needs at least {MIN_PASSWORD_LENGTH} characters.")
    with begin(uow) as uow:
        if actor_id is not None:
            actor(uow.session, actor_id, "manage_users")
        user = _target(uow.session, user_id)
        user.password_hash = hasher.hash(password)
        end_user_sessions(uow.session, user.id, uow.clock())  # whoever knew the old one is logged out
        audit(uow.session, actor_id, "reset_password", "user", user.id)
        info = user_info(user)
        uow.commit()
    return info


def set_role(user_id: int, role: str, *, actor_id: int | None = None, uow: UnitOfWork | None = None) -> UserInfo:
    """Change an account's role. actor_id: an admin; None only for the local `users set-role`."""
    if role not in ROLES:
        raise InvalidInput(f"Unknown role {role!r}; choose one of {', '.join(ROLES)}.")
    with begin(uow) as uow:
        if actor_id is not None:
            actor(uow.session, actor_id, "manage_users")
        user = _target(uow.session, user_id)
        if role != user.role:
            if role != Role.ADMIN:
                _refuse_last_admin(uow.session, user, "change its role")
            audit(uow.session, actor_id, "set_role", "user", user.id, previous_role=user.role, role=role)
            user.role = role
        info = user_info(user)
        uow.commit()
    return info


def find_user(name: str, *, uow: UnitOfWork | None = None) -> UserInfo:
    """The account named `name` (local commands only: no role check); NotFound otherwise."""
    with begin(uow) as uow:
        user = uow.session.scalar(select(User).where(User.name == name.strip()))
        if user is None:
            raise NotFound(f"No user named {name.strip()!r}.")
        return user_info(user)
