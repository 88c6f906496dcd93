"""The tickets' timeline read as a feed: what the desk's live streams pass on.

Read by id from `ticket_events` (append-only, ids increase), so every desk process — and a
browser that resumes at another one — sees the same events in the same order."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hotline.storage.models import Ticket, TicketEvent

#: Most events one read returns (a browser away for long gets the newest this many).
BATCH = 200


@dataclass(frozen=True)
class FeedItem:
    id: int
    number: str
    action: str
    status: str
    department_id: int | None
    at: datetime


def last_id(session: Session) -> int:
    return int(session.scalar(select(func.max(TicketEvent.id))) or 0)


def since(session: Session, after: int, limit: int = BATCH) -> list[FeedItem]:
    """Timeline events with id > `after`, oldest first; at most the newest `limit` of them."""
    rows = session.execute(
        select(TicketEvent.id, Ticket.number, TicketEvent.action, TicketEvent.to_status, Ticket.department_id, TicketEvent.at)
        .join(Ticket, Ticket.id == TicketEvent.ticket_id)
        .where(TicketEvent.id > after)
        .order_by(TicketEvent.id.desc())
        .limit(limit)
    ).all()
    return [FeedItem(r[0], r[1], r[2], str(r[3].value if hasattr(r[3], "value") else r[3]), r[4], r[5]) for r in reversed(rows)]
