"""The audit log: who did what, when, from where. Append-only; every desk action writes one
entry in the same transaction as the change it describes, so a change without its entry (or
an entry for a change that was rolled back) cannot exist."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hotline.storage.models import AuditEntry, utcnow


def record(
    session: Session, action: str, *, user_id: int | None = None, username: str = "", target: str = "", address: str = "", detail: dict[str, Any] | None = None, at: datetime | None = None
) -> AuditEntry:
    entry = AuditEntry(at=at or utcnow(), user_id=user_id, username=username[:64], action=action[:48], target=target[:128], address=address[:64], detail=detail or {})
    session.add(entry)
    session.flush()
    return entry


def recent(session: Session, *, limit: int = 100, offset: int = 0, user_id: int | None = None, action: str | None = None) -> list[AuditEntry]:
    """Newest first, for the admin's audit page."""
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit).offset(offset)
    if user_id is not None:
        query = query.where(AuditEntry.user_id == user_id)
    if action:
        query = query.where(AuditEntry.action == action)
    return list(session.scalars(query))
