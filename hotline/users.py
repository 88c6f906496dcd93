"""Desk users: accounts, roles and password hashing (Argon2id)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from hotline.storage.models import Role, User, UserRole, utcnow

_hasher = PasswordHasher()
USERNAME = re.compile(r"^[A-Za-z0-9_.-]{2,64}$")
MIN_PASSWORD = 10


class UserError(ValueError):
    pass


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_password_strength(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise UserError(f"password too short: at least {MIN_PASSWORD} characters")
    if password.isdigit() or password.isalpha():
        raise UserError("password must mix letters with digits or symbols")


def create_user(session: Session, username: str, password: str, roles: Iterable[Role | str], *, display_name: str = "", department_id: int | None = None, extension: str | None = None) -> User:
    if not USERNAME.match(username):
        raise UserError(f"username {username!r}: use 2-64 letters, digits, '.', '_' or '-'")
    if session.scalars(select(User).where(User.username == username)).first() is not None:
        raise UserError(f"username {username!r} is taken")
    check_password_strength(password)
    try:
        role_set = sorted({Role(r) for r in roles})
    except ValueError as exc:
        raise UserError(f"unknown role ({exc}); roles are: {', '.join(r.value for r in Role)}") from None
    if not role_set:
        raise UserError("a user needs at least one role")
    if Role.DEPARTMENT in role_set and department_id is None:
        raise UserError("department staff need a department")
    user = User(username=username, display_name=display_name or username, password_hash=hash_password(password), department_id=department_id, extension=extension)
    user.roles = [UserRole(role=r) for r in role_set]
    session.add(user)
    session.flush()
    return user


def authenticate(session: Session, username: str, password: str) -> User | None:
    """The user if the password matches an active account; None otherwise, with the same cost
    either way so a timing probe cannot list usernames."""
    user = session.scalars(select(User).where(User.username == username)).first()
    stored = user.password_hash if user is not None and user.active else _DUMMY_HASH
    try:
        _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None or not user.active:
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_login_at = utcnow()
    return user


def has_admin(session: Session) -> bool:
    return session.scalars(select(UserRole).where(UserRole.role == Role.ADMIN).limit(1)).first() is not None


_DUMMY_HASH = _hasher.hash("timing-equaliser-not-a-password")


@dataclass(frozen=True)
class SignedIn:
    """A signed-in desk user as every service needs it (who, which roles, which department),
    detached from the ORM session; the web layer's session carries it."""

    user_id: int
    username: str
    display_name: str
    roles: frozenset[Role]
    department_id: int | None
    extension: str | None
    csrf_token: str
    language: str
    token_hash: str

    def has(self, *roles: Role) -> bool:
        return bool(self.roles.intersection(roles))


@dataclass(frozen=True)
class SeatHolder:
    """An active account whose seat (extension) a supervisor acts on: who to tell, and in
    which language."""

    user_id: int
    username: str
    display_name: str
    language: str


def seat_holders(session: Session, extension: str) -> list[SeatHolder]:
    """The active accounts with this extension (usually one; shifts may share a seat)."""
    from hotline.storage.models import UserSetting

    rows = session.execute(
        select(User.id, User.username, User.display_name, UserSetting.language)
        .outerjoin(UserSetting, UserSetting.user_id == User.id)
        .where(User.extension == extension, User.active.is_(True))
        .order_by(User.id)
    )
    return [SeatHolder(row.id, row.username, row.display_name, row.language or "zh_Hans") for row in rows]
