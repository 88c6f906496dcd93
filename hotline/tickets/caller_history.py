"""What an operator needs the moment a call reaches the seat (the screen pop): this call as
the call record tells it (IVR path and keys, language, queue and wait) and the caller's
history — earlier calls and tickets, open cases first.

Reads the call record (`calls`, `call_events`) and the tickets only; numbers are returned in
full, since only the operator on the call (and roles that see numbers) is shown a pop.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Executable, and_, bindparam, select
from sqlalchemy.orm import Session

from hotline import phone
from hotline.storage.models import QUEUE_ENTER, Call, CallEvent, Ticket
from hotline.tickets.workflow import FINISHED

#: Earlier calls and tickets the pop lists.
LIMIT = 5
#: The caller's number as the record has it; '' (withheld) has no history.
_NO_HISTORY = frozenset({"", "anonymous", "unknown"})


@dataclass(frozen=True)
class Step:
    """One IVR step: a menu heard or a key pressed there."""

    kind: str
    node: str
    key: str


@dataclass(frozen=True)
class EarlierCall:
    uniqueid: str
    started_at: datetime
    disposition: str
    queue: str
    ticket: str


@dataclass(frozen=True)
class EarlierTicket:
    number: str
    status: str
    created_at: datetime
    description: str
    open: bool


@dataclass(frozen=True)
class CallContext:
    uniqueid: str
    #: True when the call record exists (the IVR or the call log has written it).
    recorded: bool
    caller_number: str
    caller_name: str
    language: str
    queue: str
    queued_at: datetime | None
    path: tuple[Step, ...]
    calls: tuple[EarlierCall, ...]
    tickets: tuple[EarlierTicket, ...]
    #: The record holds the IVR's hand-over to a queue, so the caller's whole menu path is
    #: written (the IVR submits it in one batch as Queue() starts).
    handed_to_queue: bool = False

    def as_json(self) -> dict[str, Any]:
        return {
            "uniqueid": self.uniqueid,
            "recorded": self.recorded,
            "caller": phone.national(self.caller_number),
            "caller_name": self.caller_name,
            "language": self.language,
            "queue": self.queue,
            "queued_at": self.queued_at.isoformat() if self.queued_at else None,
            "path": [{"kind": s.kind, "node": s.node, "key": s.key} for s in self.path],
            "calls": [{"uniqueid": c.uniqueid, "at": c.started_at.isoformat(), "disposition": c.disposition, "queue": c.queue, "ticket": c.ticket} for c in self.calls],
            "tickets": [{"number": t.number, "status": t.status, "at": t.created_at.isoformat(), "description": t.description, "open": t.open} for t in self.tickets],
        }


def stored_number(raw: str) -> str:
    """The caller's number as calls and tickets store it (E.164), or '' for none."""
    if raw.strip().lower() in _NO_HISTORY:
        return ""
    return phone.normalise_or_raw(raw)


@functools.cache
def _statements(limit: int) -> tuple[Executable, Executable, Executable]:
    """The pop's three statements, built once per limit: building them (and their cache
    keys) for every pop took more of the GIL, which the reactor shares, than running them."""
    this = (
        select(Call.caller_number, Call.caller_name, Call.queue, Call.queued_at, CallEvent.kind, CallEvent.detail)
        .outerjoin(CallEvent, and_(CallEvent.call_id == Call.id, CallEvent.kind.in_(("menu", "key", "language", QUEUE_ENTER))))
        .where(Call.uniqueid == bindparam("uniqueid"))
        .order_by(CallEvent.id)
    )
    earlier_calls = (
        select(Call.uniqueid, Call.started_at, Call.disposition, Call.queue, Ticket.number)
        .outerjoin(Ticket, Ticket.id == Call.ticket_id)
        .where(Call.caller_number == bindparam("number"), Call.uniqueid != bindparam("uniqueid"))
        .order_by(Call.started_at.desc())
        .limit(limit)
    )
    earlier_tickets = select(Ticket.number, Ticket.status, Ticket.created_at, Ticket.description).where(Ticket.caller_number == bindparam("number")).order_by(Ticket.created_at.desc()).limit(limit * 4)
    return this, earlier_calls, earlier_tickets


def call_context(connection: Connection | Session, uniqueid: str, caller_number: str = "", *, limit: int = LIMIT) -> CallContext:
    """This call and the caller's history. `caller_number` (from Asterisk) is used when the
    call record is not written yet.

    Three plain statements (the call with its IVR steps, earlier calls, tickets) on a Core
    connection (`DatabasePool.lookup`): every pop waits for them, and on PostgreSQL each
    statement is a round trip (the ORM version ran four, and built an entity per ticket)."""
    this, earlier_calls, earlier_tickets = _statements(limit)
    rows = connection.execute(this, {"uniqueid": uniqueid}).all()
    call = rows[0] if rows else None
    path: list[Step] = []
    language = ""
    handed_to_queue = False
    for row in rows:
        if row.kind is None:
            continue
        if row.kind == QUEUE_ENTER:
            handed_to_queue = True
            continue
        detail = row.detail or {}
        language = str(detail.get("lang") or language)
        if row.kind != "language":
            path.append(Step(row.kind, str(detail.get("node") or ""), str(detail.get("key") or "")))
    number = call.caller_number if call is not None and call.caller_number else stored_number(caller_number)
    calls: list[EarlierCall] = []
    tickets: list[EarlierTicket] = []
    if number:
        found_calls = connection.execute(earlier_calls, {"number": number, "uniqueid": uniqueid}).all()
        calls = [EarlierCall(r[0], r[1], str(getattr(r[2], "value", r[2])), r[3], r[4] or "") for r in found_calls]
        found = connection.execute(earlier_tickets, {"number": number}).all()
        ordered = sorted(found, key=lambda t: (t.status in FINISHED, -t.created_at.timestamp()))
        tickets = [EarlierTicket(t.number, t.status.value, t.created_at, t.description[:80], t.status not in FINISHED) for t in ordered[:limit]]
    return CallContext(
        uniqueid=uniqueid,
        recorded=call is not None,
        caller_number=number,
        caller_name=call.caller_name if call is not None else "",
        language=language,
        queue=call.queue if call is not None else "",
        queued_at=call.queued_at if call is not None else None,
        path=tuple(path),
        calls=tuple(calls),
        tickets=tuple(tickets),
        handed_to_queue=handed_to_queue,
    )
