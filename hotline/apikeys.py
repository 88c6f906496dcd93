"""API keys of the clients that file problems through the Open311 API (city apps, WeChat
mini-programs): created and revoked by administrators (desk page and CLI), checked per request.

A key is 32 random bytes shown once, at creation; only its SHA-256 is stored (as for desk
sessions), so a copy of the table lets nobody post. Every creation and revocation is audited in
the same transaction. Functions take a `Session` and never commit: the caller owns the unit of work.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from hotline import audit
from hotline.storage.models import ApiKey, utcnow

#: Every key starts with this, so a leaked one is recognisable in logs and secret scanners.
KEY_PREFIX = "h311_"
NAME_MAX = 100
NOTE_MAX = 1000


class ApiKeyError(ValueError):
    """A key cannot be created or revoked as asked; the message says why."""


@dataclass(frozen=True)
class Who:
    """Who manages keys: a desk user (id and name) or a shell user (`cli:NAME`)."""

    username: str
    user_id: int | None = None
    address: str = ""


@dataclass(frozen=True)
class KeyInfo:
    id: int
    name: str
    note: str
    prefix: str
    created_at: datetime
    created_by: str
    revoked_at: datetime | None
    revoked_by: str
    last_used_at: datetime | None
    last_used_address: str
    request_count: int

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    @classmethod
    def of(cls, row: ApiKey) -> KeyInfo:
        return cls(row.id, row.name, row.note, row.prefix, row.created_at, row.created_by, row.revoked_at, row.revoked_by, row.last_used_at, row.last_used_address, row.request_count)


@dataclass(frozen=True)
class Client:
    """The client a valid key belongs to, as the API sees it."""

    key_id: int
    name: str


def digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "replace")).hexdigest()


def create(session: Session, who: Who, name: str, note: str = "", *, now: datetime | None = None) -> tuple[KeyInfo, str]:
    """A new key for client `name`: (its record, the key itself — shown this once)."""
    name, note = name.strip(), note.strip()
    if not name:
        raise ApiKeyError("name the client the key is for (e.g. 城管通 app)")
    if len(name) > NAME_MAX:
        raise ApiKeyError(f"the client's name is longer than {NAME_MAX} characters")
    if len(note) > NOTE_MAX:
        raise ApiKeyError(f"the note is longer than {NOTE_MAX} characters")
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    row = ApiKey(name=name, note=note, prefix=key[: len(KEY_PREFIX) + 6], key_hash=digest(key), created_at=now or utcnow(), created_by=who.username[:64])
    session.add(row)
    session.flush()
    audit.record(session, "api_key_create", user_id=who.user_id, username=who.username, target=f"api_key:{row.id}", address=who.address, detail={"name": name, "prefix": row.prefix})
    return KeyInfo.of(row), key


def revoke(session: Session, who: Who, key_id: int, *, now: datetime | None = None) -> KeyInfo:
    """Revoke a key at once; its requests' tickets stay. Revoking twice is an error that says so."""
    row = session.get(ApiKey, key_id)
    if row is None:
        raise ApiKeyError(f"there is no API key {key_id}")
    if row.revoked_at is not None:
        raise ApiKeyError(f"API key {key_id} ({row.name}) was already revoked")
    row.revoked_at, row.revoked_by = now or utcnow(), who.username[:64]
    session.flush()
    audit.record(session, "api_key_revoke", user_id=who.user_id, username=who.username, target=f"api_key:{row.id}", address=who.address, detail={"name": row.name, "prefix": row.prefix})
    return KeyInfo.of(row)


def find(session: Session, ident: str) -> KeyInfo:
    """A key by its id or its shown prefix (what `list` prints), for the CLI."""
    ident = ident.strip()
    if ident.isdigit():
        row = session.get(ApiKey, int(ident))
    else:
        rows = list(session.scalars(select(ApiKey).where(ApiKey.prefix == ident)))
        if len(rows) > 1:
            raise ApiKeyError(f"several keys start with {ident!r}; give the id")
        row = rows[0] if rows else None
    if row is None:
        raise ApiKeyError(f"there is no API key {ident!r} (give the id or the prefix `list` shows)")
    return KeyInfo.of(row)


def keys(session: Session) -> list[KeyInfo]:
    """Every key, active first, newest first."""
    rows = session.scalars(select(ApiKey).order_by(ApiKey.revoked_at.is_not(None), ApiKey.id.desc()))
    return [KeyInfo.of(r) for r in rows]


def check(session: Session, key: str, *, address: str = "", now: datetime | None = None) -> Client | None:
    """The client of an active key, its use counted and stamped; None for an unknown or
    revoked key (the caller answers 403 the same way for both)."""
    if not key.startswith(KEY_PREFIX) or len(key) > 128:
        return None
    row = session.scalars(select(ApiKey).where(ApiKey.key_hash == digest(key))).one_or_none()
    if row is None or row.revoked_at is not None:
        return None
    # One UPDATE with the increment in SQL: concurrent requests of one client never lose a count.
    session.execute(update(ApiKey).where(ApiKey.id == row.id).values(last_used_at=now or utcnow(), last_used_address=address[:64], request_count=ApiKey.request_count + 1))
    return Client(row.id, row.name)
