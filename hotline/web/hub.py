"""The desk's event fan-out: what the browsers' live streams (server-sent events) carry.

Publishers — the live model's screen pops and seat changes, the ticket feed, the console,
later the supervisors' wallboard — call `Hub.publish`; each open stream is a `Subscription`
that receives the events meant for its user. The hub is plain state (no Twisted, no I/O): the
desk's stream resource does the writing, heartbeats and database reads.

Two kinds of event, and so two cursors in every event id (`Cursor`, sent as `"T.S"`):

- *Hub events* (pops, seat states, anything addressed to one user or to everyone) are numbered
  by this process (`S`) and kept in memory, the last `keep` per user and `keep` broadcast ones,
  so a browser that reconnects with `Last-Event-ID` gets what it missed. The numbering starts
  at the process's start time in milliseconds, so a restarted desk never reuses an old number
  (a browser resuming across a restart misses only what the old process held in memory).
- *Ticket events* are rows of the tickets' timeline (`ticket_events.id`, `T`): every desk
  process reads the same table, so a browser resuming at another process after a failover
  gets exactly the ticket events it missed. The hub only passes them on
  (`publish(..., ticket_event=id)`); resumption reads them from the database.

A stream remembers the highest `T` and `S` it has sent and skips anything at or below them,
so replay and live delivery can overlap without doubling an event.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

#: Events kept per user (and for broadcasts) for resumption.
KEEP = 200
#: Streams one user may hold open at once (browser tabs); one more is refused.
MAX_STREAMS_PER_USER = 5


class TooManyStreams(Exception):
    """The user already has `max_streams` streams open."""


@dataclass(frozen=True, order=True)
class Cursor:
    """Where a stream is: the last ticket event (`ticket`) and hub event (`seq`) it was sent."""

    ticket: int = 0
    seq: int = 0

    def __str__(self) -> str:
        return f"{self.ticket}.{self.seq}"

    @classmethod
    def parse(cls, text: str) -> Cursor | None:
        """A cursor from a `Last-Event-ID`; None when it is not one of ours (then the stream
        starts from now)."""
        ticket, dot, seq = text.strip().partition(".")
        if not dot or not ticket.isdigit() or not seq.isdigit() or len(text) > 40:
            return None
        return cls(int(ticket), int(seq))

    def after(self, event: Event) -> Cursor:
        return Cursor(max(self.ticket, event.ticket_event), max(self.seq, event.seq))


@dataclass(frozen=True)
class Event:
    """One message for the browsers. `kind` is the SSE event name (pop, seat, ticket, …);
    `data` is JSON-ready. `user_id` None: for every signed-in user, narrowed by
    `department_id` for department staff (who see only their department's cases: a ticket
    event without a department is not shown to them)."""

    kind: str
    data: dict[str, Any]
    seq: int = 0
    ticket_event: int = 0
    user_id: int | None = None
    department_id: int | None = None

    def is_new_for(self, cursor: Cursor) -> bool:
        if self.ticket_event:
            return self.ticket_event > cursor.ticket
        return self.seq > cursor.seq


@dataclass(eq=False)
class Subscription:
    """One open stream of one user."""

    hub: Hub
    user_id: int
    #: None: sees every broadcast; a department id: department staff, their department's only.
    scope: int | None
    deliver: Callable[[Event], None]
    closed: bool = False

    def wants(self, event: Event) -> bool:
        if event.user_id is not None:
            return event.user_id == self.user_id
        if self.scope is None:
            return True
        if event.ticket_event:  # a case not (yet) dispatched to their department is not theirs to see
            return event.department_id == self.scope
        return event.department_id is None or event.department_id == self.scope

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.hub._remove(self)


@dataclass
class Hub:
    """Publish events; subscribe streams; replay what a reconnecting stream missed."""

    keep: int = KEEP
    max_streams: int = MAX_STREAMS_PER_USER
    clock: Callable[[], float] = time.time
    _seq: int = 0
    _streams: dict[int, list[Subscription]] = field(default_factory=dict)
    _recent: dict[int, deque[Event]] = field(default_factory=dict)
    _broadcast: deque[Event] = field(default_factory=deque)
    published: int = 0
    delivery_errors: int = 0

    def __post_init__(self) -> None:
        self._seq = int(self.clock() * 1000)
        self._broadcast = deque(maxlen=self.keep)

    # -- publishing

    def publish(self, kind: str, data: dict[str, Any], *, user_id: int | None = None, department_id: int | None = None, ticket_event: int = 0) -> Event:
        """Send an event to the streams it is for, and keep it for resumption (ticket events
        are kept by the database instead)."""
        if ticket_event:
            event = Event(kind, data, 0, ticket_event, user_id, department_id)
        else:
            self._seq += 1
            event = Event(kind, data, self._seq, 0, user_id, department_id)
            if user_id is None:
                self._broadcast.append(event)
            else:
                recent = self._recent.get(user_id)
                if recent is None:
                    recent = self._recent[user_id] = deque(maxlen=self.keep)
                recent.append(event)
        self.published += 1
        for streams in [self._streams.get(user_id, [])] if user_id is not None else list(self._streams.values()):
            for stream in list(streams):
                if stream.wants(event):
                    try:
                        stream.deliver(event)
                    except Exception:  # noqa: BLE001 - one broken stream must not stop the others
                        self.delivery_errors += 1
        return event

    # -- streams

    def subscribe(self, user_id: int, deliver: Callable[[Event], None], *, scope: int | None = None) -> Subscription:
        streams = self._streams.setdefault(user_id, [])
        if len(streams) >= self.max_streams:
            raise TooManyStreams(f"{len(streams)} live streams already open")
        subscription = Subscription(self, user_id, scope, deliver)
        streams.append(subscription)
        return subscription

    def _remove(self, subscription: Subscription) -> None:
        streams = self._streams.get(subscription.user_id, [])
        if subscription in streams:
            streams.remove(subscription)
        if not streams:
            self._streams.pop(subscription.user_id, None)

    def streams(self, user_id: int | None = None) -> int:
        """Open streams of one user, or of everyone."""
        if user_id is not None:
            return len(self._streams.get(user_id, ()))
        return sum(len(s) for s in self._streams.values())

    def subscriptions(self) -> Iterable[Subscription]:
        for streams in list(self._streams.values()):
            yield from list(streams)

    # -- resumption

    @property
    def seq(self) -> int:
        """The last hub event's number: a new stream starts here."""
        return self._seq

    def missed(self, user_id: int, scope: int | None, since: int) -> list[Event]:
        """Hub events after `since` for this user (own and broadcast), oldest first."""
        probe = Subscription(self, user_id, scope, lambda _: None)
        own = [e for e in self._recent.get(user_id, ()) if e.seq > since]
        shared = [e for e in self._broadcast if e.seq > since and probe.wants(e)]
        return sorted(own + shared, key=lambda e: e.seq)


__all__ = ["KEEP", "MAX_STREAMS_PER_USER", "Cursor", "Event", "Hub", "Subscription", "TooManyStreams"]
