"""Accounts: register, log in, list, disable."""
from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.db.models import User
from app.roles import ROLES
from app.services.errors import AuthError, InvalidInput, NotFound
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


def authenticate(name: str, password: str, *, uow: UnitOfWork | None = None) -> UserInfo:
    """The user with this name and password; AuthError otherwise (without saying which was wrong)."""
    with begin(uow) as uow:
        user = uow.session.scalar(select(User).where(User.name == name.strip()))
        try:
            hasher.verify(user.password_hash if user and user.active else _dummy_hash(), password)
            ok = user is not None and user.active
        except (VerificationError, InvalidHashError):
            ok = False
        if not ok:
            audit(uow.session, user.id if user else None, "login_failed", "user", user.id if user else None,
                   name=name[:64])
            uow.commit()
            raise AuthError("Wrong user name or password.")
        if hasher.check_needs_rehash(user.password_hash):  # parameters were raised since it was hashed
            user.password_hash = hasher.hash(password)
        audit(uow.session, user.id, "login", "user", user.id)
        info = user_info(user)
        uow.commit()
    return info


def list_users(*, actor_id: int | None = None, uow: UnitOfWork | None = None) -> list[UserInfo]:
    """All accounts. actor_id: an admin; None only for the local `users list` command."""
    with begin(uow) as uow:
        if actor_id is not None:
            actor(uow.session, actor_id, "manage_users")
        return [user_info(u) for u in uow.session.scalars(select(User).order_by(User.name))]


def set_user_active(actor_id: int, user_id: int, active: bool, *, uow: UnitOfWork | None = None) -> UserInfo:
    """Disable an account (it can no longer log in; its reviews stay) or enable it again; admins only."""
    with begin(uow) as uow:
        actor(uow.session, actor_id, "manage_users")
        if user_id == actor_id and not active:
            raise InvalidInput("You cannot disable your own account; ask another admin.")
        user = uow.session.get(User, user_id)
        if user is None:
            raise NotFound(f"User {user_id} not found.")
        user.active = active
        audit(uow.session, actor_id, "enable_user" if active else "disable_user", "user", user.id)
        info = user_info(user)
        uow.commit()
    return info

