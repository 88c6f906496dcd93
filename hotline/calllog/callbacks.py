"""Queue callbacks: a queued caller asks to be called back instead of waiting, keeping their place.

The request is stored once per call, whatever happens around it (a key pressed twice, an AGI
retried, a journal replayed): a citizen is never called back twice for one call. Placing
the calls is a later issue (`callback/`); this module is the storage both share.

"Place" is when the caller joined the queue (the call record's `queued_at`), with the
position Asterisk reported (QUEUEPOSITION) as a tie-break and for display: positions are
snapshots at different moments, so only the join time orders callers fairly across requests.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hotline import phone as phones
from hotline.calllog import records as calls
from hotline.storage.models import Call, Callback, CallbackKind, CallbackStatus, CallDisposition
from hotline.timestamps import utc


def request_queue_callback(
    session: Session,
    *,
    uniqueid: str,
    phone: str,
    queue: str,
    position: int | None,
    at: datetime | str | None = None,
) -> Callback:
    """Store a pending queue callback for this call, once; a repeat returns the first.

    Also marks the call's outcome `callback_requested` (the first time only, so a replay adds
    no second event). Raises ValueError for a number that cannot be called back.
    """
    when = utc(at)
    number = _callable_number(phone)
    call = calls.get(session, uniqueid) or calls.start_call(session, uniqueid=uniqueid, at=when, caller_number=number)
    call_id = calls.saved(session, call)
    existing = session.scalars(select(Callback).where(Callback.call_id == call_id, Callback.kind == CallbackKind.QUEUE).order_by(Callback.id).limit(1)).first()
    if existing is not None:
        return existing
    callback = Callback(
        kind=CallbackKind.QUEUE,
        status=CallbackStatus.PENDING,
        call_id=call_id,
        phone=number,
        queue=(queue or call.queue)[:64],
        position=position if position is None or position > 0 else None,
        requested_at=when,
        due_at=when,
    )
    session.add(callback)
    session.flush()
    calls.set_outcome(
        session, uniqueid=uniqueid, outcome=CallDisposition.CALLBACK_REQUESTED.value, at=when, detail={"queue": callback.queue, "position": callback.position, "callback_id": callback.id}
    )
    return callback


def pending_queue_callbacks(session: Session, queue: str) -> list[Callback]:
    """Pending callbacks for `queue`, in the order the callers would have been served."""
    place = func.coalesce(Call.queued_at, Callback.requested_at)
    stmt = (
        select(Callback)
        .join(Call, Call.id == Callback.call_id, isouter=True)
        .where(Callback.kind == CallbackKind.QUEUE, Callback.status == CallbackStatus.PENDING, Callback.queue == queue)
        .order_by(place, Callback.position.asc().nulls_last(), Callback.requested_at, Callback.id)
    )
    return list(session.scalars(stmt))


def _callable_number(raw: str) -> str:
    try:
        number = phones.normalise(raw)
    except phones.InvalidPhoneNumber as exc:
        raise ValueError(f"cannot call back {raw!r}: {exc}") from None
    if not number:
        raise ValueError("cannot call back a withheld number")
    return number


#: For the call-log journal: a callback request must survive a database outage like the call record.
OPERATIONS = {"request_queue_callback": request_queue_callback}
