"""Voicemail: a message a caller left (queue closed or full) becomes a ticket draft.

The draft is an ordinary ticket in status received (受理) with source voicemail, the caller's
number, the recording attached (a `Recording` row the transcription worker picks up) and the
call linked both ways. One function, one transaction, idempotent per recording, so the IVR
can hand it to the call-log journal when the database is away and nothing a caller said is
lost or doubled.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hotline import phone
from hotline.calllog import records as calls
from hotline.storage.models import CallDisposition, Recording, RecordingKind, Ticket, TicketSource
from hotline.tickets import services as tickets
from hotline.tickets.services import Actor, TicketPolicy
from hotline.timestamps import utc

IVR = Actor("ivr")

#: Why the caller was asked for a message, as the desk shows it.
REASONS = {
    "closed": ("非工作时间", "outside opening hours"),
    "full": ("坐席全忙", "all operators busy"),
    "timeout": ("等待超时", "waited too long"),
    "empty": ("无坐席在岗", "no operator logged in"),
    "fallback": ("系统繁忙时的留言", "recorded while the IVR was unavailable"),
}


@dataclass(frozen=True)
class VoicemailTicket:
    """Plain values for reactor code: the draft, its recording, whether this call made them."""

    ticket_id: int
    ticket_number: str
    recording_id: int
    created: bool


def leave_message(
    session: Session,
    policy: TicketPolicy,
    *,
    uniqueid: str,
    caller_number: str,
    path: str,
    fmt: str = "wav",
    duration_seconds: float | None = None,
    queue: str = "",
    reason: str = "",
    at: datetime | str | None = None,
) -> VoicemailTicket:
    """Open the ticket draft for a recorded message, attach the recording, link the call,
    and mark the call's outcome voicemail. A repeat for the same recording changes nothing."""
    when = utc(at)
    existing = session.scalars(select(Recording).where(Recording.kind == RecordingKind.VOICEMAIL, Recording.path == path).limit(1)).first()
    if existing is not None and existing.ticket_id is not None:
        ticket = session.get(Ticket, existing.ticket_id)
        assert ticket is not None
        return VoicemailTicket(ticket.id, ticket.number, existing.id, created=False)
    call_id = calls.saved(session, calls.start_call(session, uniqueid=uniqueid, at=when, caller_number=caller_number))
    try:
        number = phone.normalise(caller_number)
        unusable = ""
    except phone.InvalidPhoneNumber:
        number, unusable = "", caller_number
    why_zh, why_en = REASONS.get(reason, (reason, reason))
    parts = ["语音留言"]
    if queue or why_zh:
        parts.append(f"（{'，'.join(p for p in (queue and f'{queue} 队列', why_zh) if p)}）")
    parts.append("。录音见附件，待转写。")
    if unusable:
        parts.append(f"来电号码无法识别：{unusable}。")
    ticket = tickets.open_ticket(session, policy, source=TicketSource.VOICEMAIL, actor=IVR, caller_number=number, description="".join(parts), call_id=call_id, at=when)
    recording = Recording(kind=RecordingKind.VOICEMAIL, call_id=call_id, ticket_id=ticket.id, path=path[:255], format=fmt[:16], duration_seconds=duration_seconds, created_at=when)
    session.add(recording)
    session.flush()
    calls.link_ticket(session, uniqueid=uniqueid, ticket_id=ticket.id, at=when)
    calls.set_outcome(session, uniqueid=uniqueid, outcome=CallDisposition.VOICEMAIL.value, at=when, detail={"queue": queue, "reason": reason, "ticket": ticket.number, "why": why_en})
    return VoicemailTicket(ticket.id, ticket.number, recording.id, created=True)


def sweep_fallback_messages(session: Session, policy: TicketPolicy, directory: Path, *, now: datetime, min_age_seconds: float = 180.0, limit: int = 100) -> list[VoicemailTicket]:
    """Tickets for messages the dialplan recorded itself, when no FastAGI node answered.

    The dialplan writes `<voicemail_dir>/<uniqueid>.wav` and tells nobody we can rely on
    (the AMI may be away too), so the files are the truth: any message file without its
    Recording row becomes a ticket draft. Files younger than `min_age_seconds` may still be
    recording. Several nodes may sweep at once: the unique recording path lets one win."""
    if not directory.is_dir():
        return []
    cutoff = now.timestamp() - min_age_seconds
    candidates = []
    for entry in sorted(directory.glob("*.wav")):
        uniqueid = entry.stem
        if not _SAFE_UNIQUEID.match(uniqueid):
            continue
        try:
            if entry.stat().st_mtime > cutoff:
                continue
        except OSError:
            continue
        candidates.append(entry)
    if not candidates:
        return []
    paths = [str(c)[:255] for c in candidates]
    known = set(session.scalars(select(Recording.path).where(Recording.path.in_(paths))))
    made = []
    for entry, path in zip(candidates, paths, strict=True):
        if path in known:
            continue
        call = calls.get(session, entry.stem)
        caller = call.caller_number if call is not None else ""
        made.append(leave_message(session, policy, uniqueid=entry.stem, caller_number=caller, path=path, reason="fallback", at=now))
        if len(made) >= limit:
            break
    return made


_SAFE_UNIQUEID = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")


def operations(policy: TicketPolicy) -> dict[str, Callable[..., Any]]:
    """Journal-able operations of this module, bound to the ticket policy."""
    return {"leave_message": functools.partial(leave_message, policy=policy)}
