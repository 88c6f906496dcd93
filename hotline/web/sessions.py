"""Desk sign-in: sessions, login throttling and password changes.

A session is a random token in an HttpOnly cookie; the database keeps only its SHA-256, with
the CSRF token that every state-changing request must echo. Each login issues a new token and
drops the one the browser came with, so a token planted before login (session fixation) is
worth nothing after it. Sessions end after `idle` without a request: `expire_idle` (the desk
runs it every minute) ends them, audits it and names the operators whose seat must leave the
queues (docs/desk.md, console). Failed logins are
counted per account and per address in the database, so every desk process throttles alike.
Each function runs in the caller's transaction and writes its audit entry there.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Select, Table, Update, bindparam, delete, func, select, update
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


def _look_up_query() -> Select[Any]:
    sessions_t, users_t, settings_t, roles_t = DeskSession.__table__, User.__table__, UserSetting.__table__, UserRole.__table__
    return (
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
        .where(sessions_t.c.token_hash == bindparam("token_hash"))
    )


#: Built once: every desk request runs it, and building the statement (and its cache key)
#: per request took more of the GIL, which the reactor shares, than running it.
_LOOK_UP = _look_up_query()


def look_up(session: Session, token: str | None, *, policy: SessionPolicy, now: datetime | None = None) -> tuple[SignedIn | None, bool]:
    """Read-only: the signed-in user, and whether a write is due. With a user, the write is
    only last_seen_at moving on (`touch`, which nobody need wait for); without one, the
    session may have to end, and the caller runs `resolve`. Most requests need no write, so
    they do not queue behind the writer (one thread on SQLite). Every desk request runs
    this, so it is one Core query (a row per role) rather than four ORM loads."""
    if not token:
        return None, False
    now = now or utcnow()
    rows = session.connection().execute(_LOOK_UP, {"token_hash": token_hash(token)}).all()
    if not rows:
        return None, False
    first = rows[0]
    if not first.active or first.last_seen_at + policy.idle < now:
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
    return signed_in, now - first.last_seen_at >= policy.touch_every


def _touch_statement() -> Update:
    table = cast(Table, DeskSession.__table__)
    return update(table).where(table.c.token_hash == bindparam("hashed"), table.c.last_seen_at < bindparam("now")).values(last_seen_at=bindparam("now"))


#: A Core UPDATE built once: the ORM's bulk update evaluated it against the session's objects.
_TOUCH = _touch_statement()


def touch(session: Session, hashed: str, now: datetime) -> None:
    """The session was used at `now` (`look_up` said the write is due). A plain UPDATE, so
    that many requests' touches go in one batched transaction (`DatabasePool.write`)."""
    session.connection().execute(_TOUCH, {"hashed": hashed, "now": now})


def resolve(session: Session, token: str | None, *, policy: SessionPolicy, now: datetime | None = None) -> SignedIn | None:
    """The signed-in user for a cookie's token, or None (unknown, idle too long, account off)."""
    if not token:
        return None
    now = now or utcnow()
    row = session.get(DeskSession, token_hash(token))
    if row is None:
        return None
    user = session.get(User, row.user_id)
    if user is None or not user.active:
        session.delete(row)
        return None
    if row.last_seen_at + policy.idle < now:
        return None  # expired: expire_idle ends it, so its seat leaves the queues too
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


@dataclass(frozen=True)
class LeftSeat:
    """An operator with a seat (extension) who has no live session left: signed out, or every
    session expired."""

    user_id: int
    username: str
    extension: str


def left_seat(session: Session, user_id: int, *, policy: SessionPolicy, now: datetime | None = None) -> LeftSeat | None:
    """The user's seat if they have one and no live session any more (after a logout or an
    expiry); None while another of their sessions is live (a second browser at the seat)."""
    now = now or utcnow()
    user = session.get(User, user_id)
    if user is None or not user.extension:
        return None
    live = session.scalar(select(func.count()).select_from(DeskSession).where(DeskSession.user_id == user_id, DeskSession.last_seen_at >= now - policy.idle)) or 0
    return None if live else LeftSeat(user.id, user.username, user.extension)


def expire_idle(session: Session, *, policy: SessionPolicy, now: datetime | None = None, limit: int = 500) -> list[LeftSeat]:
    """End the sessions idle longer than `policy.idle` (audited `session_expired`); returns the
    seats whose operator has no live session left. Safe on several desk processes at once:
    each row is ended by the one delete that finds it."""
    now = now or utcnow()
    cutoff = now - policy.idle
    rows = session.execute(select(DeskSession.token_hash, DeskSession.user_id, DeskSession.address, DeskSession.last_seen_at).where(DeskSession.last_seen_at < cutoff).limit(limit)).all()
    ended: list[int] = []
    for token, user_id, address, last_seen in rows:
        if session.execute(delete(DeskSession).where(DeskSession.token_hash == token, DeskSession.last_seen_at < cutoff)).rowcount:  # type: ignore[attr-defined]  # a DML result has rowcount
            user = session.get(User, user_id)
            audit.record(
                session,
                "session_expired",
                user_id=user_id,
                username=user.username if user else "",
                address=address or "",
                at=now,
                detail={"last_seen": last_seen.isoformat(), "idle_minutes": int(policy.idle.total_seconds() // 60)},
            )
            ended.append(user_id)
    seats = (left_seat(session, user_id, policy=policy, now=now) for user_id in dict.fromkeys(ended))
    return [seat for seat in seats if seat is not None]


def seats_left(session: Session, extensions: list[str], *, policy: SessionPolicy, now: datetime | None = None) -> list[LeftSeat]:
    """Of these seats, those whose operator (the active accounts with the extension) has no
    live session: nobody is there to take a call."""
    if not extensions:
        return []
    now = now or utcnow()
    holders = session.execute(select(User.id, User.username, User.extension).where(User.extension.in_(extensions), User.active).order_by(User.id)).all()
    live = set(session.scalars(select(DeskSession.user_id).where(DeskSession.user_id.in_([h.id for h in holders]), DeskSession.last_seen_at >= now - policy.idle)))
    by_seat: dict[str, list[tuple[int, str]]] = {}
    for user_id, username, extension in holders:
        by_seat.setdefault(extension or "", []).append((user_id, username))
    return [LeftSeat(users[0][0], users[0][1], extension) for extension, users in by_seat.items() if extension and not any(u in live for u, _ in users)]


def seat_holder(session: Session, extension: str, user_id: int | None = None) -> LeftSeat | None:
    """Who a seat's automatic actions are attributed to: `user_id` if given, else the active
    account with this extension that signed in last."""
    user = session.get(User, user_id) if user_id is not None else None
    if user is None:
        user = session.scalars(select(User).where(User.extension == extension, User.active).order_by(User.last_login_at.desc().nulls_last(), User.id)).first()
    return LeftSeat(user.id, user.username, extension) if user is not None else None
