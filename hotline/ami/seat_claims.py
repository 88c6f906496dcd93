"""Once across desk processes: every desk process keeps its own AMI connection and sees the same
AgentComplete, but a seat is paused for wrap-up (or leaves the queues after its operator's
last call) once. The first process to claim the action's key in the database does it; a
claim is kept a day."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.orm import Session

from hotline.storage.models import SeatClaim, utcnow

#: How long claims are kept (an action's key is never seen again after its call).
KEEP = timedelta(days=1)


def claim(session: Session, key: str, *, now: datetime | None = None) -> bool:
    """True for the first claim of `key`. A claim racing in from another process makes the
    flush (or the commit) raise IntegrityError: that one lost."""
    if session.get(SeatClaim, key[:200]) is not None:
        return False
    session.add(SeatClaim(key=key[:200], at=now or utcnow()))
    session.flush()
    return True


def forget_old(session: Session, *, now: datetime | None = None) -> int:
    """Drop the claims older than KEEP; returns how many."""
    result = session.execute(delete(SeatClaim).where(SeatClaim.at < (now or utcnow()) - KEEP))
    return int(result.rowcount)  # type: ignore[attr-defined]  # a DML result has rowcount


__all__ = ["KEEP", "claim", "forget_old"]
