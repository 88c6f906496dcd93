"""Prometheus metrics owned by the service, in one registry per process (no global state).

Names follow hotline_<area>_<thing>_<unit|total>; labels are bounded (status names, never a
phone number or uniqueid).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Gauge, Info
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hotline.storage.models import Ticket, TicketStatus
from hotline.tickets.workflow import FINISHED


class Metrics:
    def __init__(self, version: str = "") -> None:
        self.registry = CollectorRegistry()
        self.info = Info("hotline_build", "Service version", registry=self.registry)
        self.info.info({"version": version})
        self.db_up = Gauge("hotline_db_up", "1 when the last database probe succeeded", registry=self.registry)
        self.tickets_open = Gauge("hotline_tickets_open", "Open tickets by status", ["status"], registry=self.registry)
        self.tickets_overdue = Gauge("hotline_tickets_overdue", "Dispatched tickets past their deadline", registry=self.registry)

    def refresh_tickets(self, snapshot: TicketSnapshot) -> None:
        for status in TicketStatus:
            if status not in FINISHED:
                self.tickets_open.labels(status.value).set(snapshot.open_by_status.get(status.value, 0))
        self.tickets_overdue.set(snapshot.overdue)


class TicketSnapshot:
    """Counts for the gauges, read in one cheap grouped query."""

    def __init__(self, open_by_status: dict[str, int], overdue: int) -> None:
        self.open_by_status, self.overdue = open_by_status, overdue

    @classmethod
    def read(cls, session: Session, now: object) -> TicketSnapshot:
        rows = session.execute(select(Ticket.status, func.count()).where(Ticket.status.not_in(FINISHED)).group_by(Ticket.status)).all()
        overdue = session.scalar(select(func.count()).select_from(Ticket).where(Ticket.status == TicketStatus.DISPATCHED, Ticket.deadline_at <= now)) or 0
        return cls({str(getattr(s, "value", s)): n for s, n in rows}, overdue)
