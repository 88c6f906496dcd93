"""Desk sign-in: sessions, login throttling and password changes.

A session is a random token in an HttpOnly cookie; the database keeps only its SHA-256, with
the CSRF token that every state-changing request must echo. Each login issues a new token and
drops the one the browser came with, so a token planted before login (session fixation) is
worth nothing after it. Sessions end after `idle` without a request. Failed logins are
counted per account and per address in the database, so every desk process throttles alike.
Each function runs in the caller's transaction and writes its audit entry there.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from hotline import audit, users
from hotline.storage.models import DeskSession, LoginFailure, User, UserRole, UserSetting, utcnow
from hotline.users import SignedIn

LANGUAGES = ("zh_Hans", "en")
DEFAULT_LANGUAGE = "zh_Hans"


@dataclass(frozen=True)
class SessionPolicy:
    idle: timedelta = timedelta(minutes=30)
    #: Failures counted within this window …
    throttle_window: timedelta = timedelta(minutes=15)
    #: … refuse further attempts on one account, or from one address, once reached.
    max_failures_per_account: int = 5
    max_failures_per_address: int = 20
    #: last_seen_at is written at most this often, not on every request.
    touch_every: timedelta = timedelta(seconds=30)


@dataclass(frozen=True)
class LoginResult:
    """token is set on success; otherwise reason says why ('invalid' or 'throttled')."""

    token: str | None = None
    user: SignedIn | None = None
    reason: str = ""
    retry_after: timedelta | None = None


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def login(session: Session, username: str, password: str, *, address: str, policy: SessionPolicy, previous_token: str | None = None, now: datetime | None = None) -> LoginResult:
    """Check the password (unless throttled) and open a new session.

    Returns rather than raises on refusal, so the failure count and audit entry commit."""
    now = now or utcnow()
    username = username.strip()[:64]
    if previous_token:
        session.execute(delete(DeskSession).where(DeskSession.token_hash == token_hash(previous_token)))
    since = now - policy.throttle_window
    by_account = session.scalar(select(func.count()).select_from(LoginFailure).where(LoginFailure.username == username, LoginFailure.at >= since)) or 0
    by_address = session.scalar(select(func.count()).select_from(LoginFailure).where(LoginFailure.address == address, LoginFailure.at >= since)) or 0
    if by_account >= policy.max_failures_per_account or by_address >= policy.max_failures_per_address:
        audit.record(session, "login_throttled", username=username, address=address, at=now, detail={"account_failures": by_account, "address_failures": by_address})
        return LoginResult(reason="throttled", retry_after=policy.throttle_window)
    user = users.authenticate(session, username, password)
    if user is None:
        session.add(LoginFailure(at=now, username=username, address=address[:64]))
        audit.record(session, "login_failed", username=username, address=address, at=now)
        return LoginResult(reason="invalid")
    # A good password clears the account's count; the address's stays (one address guessing many accounts).
    session.execute(delete(LoginFailure).where(LoginFailure.username == username))
    token = secrets.token_urlsafe(32)
    row = DeskSession(token_hash=token_hash(token), user_id=user.id, csrf_token=secrets.token_urlsafe(32), created_at=now, last_seen_at=now, address=address[:64])
    session.add(row)
    audit.record(session, "login", user_id=user.id, username=user.username, address=address, at=now)
    session.flush()
    return LoginResult(token=token, user=_signed_in(session, user, row))


def look_up(session: Session, token: str | None, *, policy: SessionPolicy, now: datetime | None = None) -> tuple[SignedIn | None, bool]:
    """Read-only: the signed-in user, and whether a write is due (last_seen_at to move on, or
    the session to end), in which case the caller runs `resolve`. Most requests need no write,
    so they do not queue behind the writer (one thread on SQLite). Every desk request runs
    this, so it is one Core query (a row per role) rather than four ORM loads."""
    if not token:
        return None, False
    now = now or utcnow()
    sessions_t, users_t, settings_t, roles_t = DeskSession.__table__, User.__table__, UserSetting.__table__, UserRole.__table__
    query = (
        select(
            sessions_t.c.last_seen_at,
            sessions_t.c.csrf_token,
            users_t.c.id,
            users_t.c.username,
            users_t.c.display_name,
            users_t.c.active,
            users_t.c.department_id,
            users_t.c.extension,
            settings_t.c.language,
            roles_t.c.role,
        )
        .select_from(sessions_t.join(users_t, users_t.c.id == sessions_t.c.user_id).outerjoin(settings_t, settings_t.c.user_id == users_t.c.id).outerjoin(roles_t, roles_t.c.user_id == users_t.c.id))
        .where(sessions_t.c.token_hash == token_hash(token))
    )
    rows = session.connection().execute(query).all()
    if not rows:
        return None, False
    first = rows[0]
    if not first.active or first.last_seen_at + policy.idle < now or now - first.last_seen_at >= policy.touch_every:
        return None, True
    signed_in = SignedIn(
        user_id=first.id,
        username=first.username,
        display_name=first.display_name,
        roles=frozenset(r.role for r in rows if r.role is not None),
        department_id=first.department_id,
        extension=first.extension,
        csrf_token=first.csrf_token,
        language=first.language or DEFAULT_LANGUAGE,
        token_hash=token_hash(token),
    )
    return signed_in, False


def resolve(session: Session, token: str | None, *, policy: SessionPolicy, now: datetime | None = None) -> SignedIn | None:
    """The signed-in user for a cookie's token, or None (unknown, idle too long, account off)."""
    if not token:
        return None
    now = now or utcnow()
    row = session.get(DeskSession, token_hash(token))
    if row is None:
        return None
    user = session.get(User, row.user_id)
    if user is None or not user.active or row.last_seen_at + policy.idle < now:
        session.delete(row)
        return None
    if now - row.last_seen_at >= policy.touch_every:
        row.last_seen_at = now
    return _signed_in(session, user, row)


def logout(session: Session, token: str, *, address: str) -> None:
    row = session.get(DeskSession, token_hash(token))
    if row is None:
        return
    user = session.get(User, row.user_id)
    session.delete(row)
    audit.record(session, "logout", user_id=row.user_id, username=user.username if user else "", address=address)


def change_password(session: Session, who: SignedIn, old: str, new: str, *, address: str) -> None:
    """Raises users.UserError with a reason a person understands; ends the user's other sessions."""
    user = session.get(User, who.user_id)
    if user is None or users.authenticate(session, user.username, old) is None:
        audit.record(session, "password_change_refused", user_id=who.user_id, username=who.username, address=address)
        raise users.UserError("current password is wrong")
    if old == new:
        raise users.UserError("the new password must differ from the current one")
    users.check_password_strength(new)
    user.password_hash = users.hash_password(new)
    session.execute(delete(DeskSession).where(DeskSession.user_id == user.id, DeskSession.token_hash != who.token_hash))
    audit.record(session, "password_changed", user_id=user.id, username=user.username, address=address)


def set_language(session: Session, who: SignedIn, language: str, *, address: str) -> None:
    if language not in LANGUAGES:
        raise users.UserError(f"unknown language {language!r}; choose one of {', '.join(LANGUAGES)}")
    setting = session.get(UserSetting, who.user_id)
    if setting is None:
        session.add(UserSetting(user_id=who.user_id, language=language))
    else:
        setting.language = language
    audit.record(session, "language_changed", user_id=who.user_id, username=who.username, address=address, detail={"language": language})


def _signed_in(session: Session, user: User, row: DeskSession) -> SignedIn:
    setting = session.get(UserSetting, user.id)
    return SignedIn(
        user_id=user.id,
        username=user.username,
        display_name=user.display_name,
        roles=frozenset(r.role for r in user.roles),
        department_id=user.department_id,
        extension=user.extension,
        csrf_token=row.csrf_token,
        language=setting.language if setting is not None else DEFAULT_LANGUAGE,
        token_hash=row.token_hash,
    )
