"""Live desk: the browser's event stream (server-sent events), the operator console (seat
state driving AMI) and the screen pop.

One stream per browser page (`GET /desk/events`) carries what the hub (`hotline.web.hub`)
publishes for its user: `pop` (a queue call reaches the operator's seat), `seat` (the seat's
state as Asterisk reports it), `ticket` (a step on a case's timeline, read from
`ticket_events` by id) and `hello` (the stream's position). Every event has an id
(`hotline.web.hub.Cursor`); the browser sends the last one back as `Last-Event-ID` when it
reconnects (or as `?last=` when a new page opens the stream) and gets what it missed.

The console sends QueueAdd / QueuePause / QueueRemove for the seat (`hotline.ami.seats`) and
shows the state the live model holds, i.e. what Asterisk reported back. The desk also moves
seats by itself, from what Asterisk reports, whether or not anyone's page is open: wrap-up
after each call, and the seat of an operator who signed out or whose session expired taken
out of the queues (after the call, if one is up), each audited.
"""

from __future__ import annotations

import json
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from twisted.internet.defer import CancelledError, Deferred, ensureDeferred
from twisted.internet.task import LoopingCall
from twisted.logger import Logger

from agent_desk.base import DeskBase, DeskContext, HttpError, Req
from agent_desk.i18n import N_
from hotline import audit
from hotline.ami import seat_claims, seats
from hotline.ami.actions import ActionValueError
from hotline.ami.live import (
    AgentCalled,
    CallCompleted,
    CallerAbandoned,
    CallerAnswered,
    CallerJoined,
    CallerLeft,
    Change,
    ConnectionChanged,
    LiveSnapshot,
    MemberChanged,
    MemberRemoved,
    QueueRemoved,
    Resynced,
)
from hotline.dialplan import asterisk_queue, skill_of
from hotline.storage.models import UserQueue
from hotline.tickets import caller_history, feed
from hotline.tickets.desk import scope
from hotline.users import SignedIn
from hotline.web import sessions
from hotline.web.hub import Cursor, Event, Hub, TooManyStreams

log = Logger()

#: Seconds between heartbeat comments on every stream (proxies close idle connections).
HEARTBEAT_SECONDS = 15.0
#: A stream ends after this long and the browser reconnects at once (resuming where it was):
#: so the session is checked again (a signed-out or expired session gets no more events) and
#: long-lived connections are recycled.
STREAM_SECONDS = 300.0
#: Seconds between reads of the tickets' timeline for new events.
FEED_SECONDS = 1.0
#: The browser waits this long (ms) before reconnecting.
RETRY_MS = 2000
#: A pop whose call record (opened by the IVR at its first prompt) does not hold the IVR's
#: hand-over to the queue yet is read and sent again after these delays (seconds). The IVR
#: submits the caller's menu path as Queue() starts, but its writer lingers up to
#: `DatabasePool.linger` (0.5 s) to batch records, and Asterisk rings a free seat at once: the
#: first read often misses the last steps. A call with no record at all did not come through
#: the IVR (or the database was away): nothing is read again. Why here and not by writing that
#: batch at once: a writer thread started as Queue() starts would take the GIL from the IVR's
#: reactor while it sends Queue(), as the repeat-caller lookup did (bench/RESULTS.md); the desk
#: is the reader that can wait.
POP_REFRESH_SECONDS = (0.8, 2.0)
#: Pops remembered per process so one call pops once per seat (AgentCalled, then AgentConnect).
POPPED_MEMORY = 5000
#: Seconds to wait for Asterisk's answer to each console action.
ACTION_TIMEOUT = 5.0
#: Seconds between sweeps for idle sessions (whose seats then leave the queues).
SESSION_SWEEP_SECONDS = 60.0
#: Pause reasons and their labels (the codes are sent to Asterisk; hotline.ami.seats).
REASON_LABELS = {
    "break": N_("Break"),
    "meal": N_("Meal"),
    "training": N_("Training"),
    "acw": N_("After-call work"),
    seats.WRAPUP: N_("Wrap-up"),
    "supervisor": N_("Paused by a supervisor"),
    seats.SIGNED_OUT: N_("Signed out (leaves the queues after this call)"),
}
STATE_LABELS = {
    "logged_off": N_("Logged off (seat)"),
    "ready": N_("Ready (take calls)"),
    "paused": N_("Paused (seat)"),
    "wrapup": N_("Wrap-up"),
    "ringing": N_("Ringing (seat)"),
    "on_call": N_("On a call"),
    "unknown": N_("Unknown"),
}


def sse(event: Event, cursor: Cursor) -> bytes:
    """One event in the text/event-stream framing; JSON data is one line."""
    data = json.dumps(event.data, ensure_ascii=False, separators=(",", ":"))
    return f"id: {cursor}\nevent: {event.kind}\ndata: {data}\n\n".encode()


@dataclass(eq=False)
class _Stream:
    """One browser's open stream: writes events past its cursor, holds live ones back while
    the missed ones are being replayed."""

    request: Req
    cursor: Cursor
    user_id: int = 0
    pending: list[Event] | None = field(default_factory=list)
    closed: bool = False
    #: Fires when the stream is over: the browser went away, or the desk ends it.
    ended: Deferred[None] = field(default_factory=Deferred)

    def end(self, _: object = None) -> None:
        if not self.ended.called:
            self.ended.callback(None)

    def deliver(self, event: Event) -> None:
        if self.pending is not None:
            self.pending.append(event)
        else:
            self._write(event)

    def replay(self, events: list[Event]) -> None:
        pending, self.pending = self.pending or [], None
        for event in events + pending:
            self._write(event)

    def _write(self, event: Event) -> None:
        if self.closed or not event.is_new_for(self.cursor):
            return
        self.cursor = self.cursor.after(event)
        self.request.write(sse(event, self.cursor))

    def comment(self, text: str) -> None:
        if not self.closed:
            self.request.write(f": {text}\n\n".encode())


@dataclass
class _Wrapup:
    user_id: int | None
    username: str
    skills: tuple[str, ...]
    until: float
    timer: Any


#: Queue and agent changes come in bursts (a call is a join, a ring, a connect …): the
#: broadcast "queues" event goes out at most this often.
QUEUES_EVENT_SECONDS = 1.0
#: The live model's changes that move the wallboard's figures.
_QUEUE_CHANGES = (AgentCalled, CallerJoined, CallerLeft, CallerAnswered, CallerAbandoned, CallCompleted, MemberChanged, MemberRemoved, QueueRemoved, Resynced, ConnectionChanged)


class LivePages(DeskBase):
    """The event stream, the console and the pops; `self.hub` is the fan-out other page
    modules publish into."""

    def __init__(self, context: DeskContext) -> None:
        super().__init__(context)
        if context.reactor is None:
            from twisted.internet import reactor as global_reactor

            self.reactor: Any = global_reactor
        else:
            self.reactor = context.reactor
        self.hub = Hub(clock=self.reactor.seconds)
        self.wrapup_seconds = context.config.desk.wrapup_seconds if context.config is not None else 30
        self.heartbeat_seconds, self.stream_seconds = HEARTBEAT_SECONDS, STREAM_SECONDS
        self._streams: set[_Stream] = set()
        #: extension → user ids that opened a stream or the console in this process (who a pop is for).
        self._seated: dict[str, set[int]] = {}
        self._skills: dict[int, tuple[str, ...]] = {}
        self._popped: OrderedDict[tuple[str, str], bool] = OrderedDict()
        self._wrapups: dict[str, _Wrapup] = {}
        self._feed_after: int | None = None
        self._heartbeat = LoopingCall(self._beat)
        self._heartbeat.clock = self.reactor
        self._feed = LoopingCall(self._poll_feed)
        self._feed.clock = self.reactor
        self._feed_busy = False
        self._queues_due: Any = None
        #: (monotonic time of the AMI change, kind) of the last pops, for the benchmark.
        self.pop_latencies: list[float] = []
        if context.ami is not None:
            context.ami.model.subscribe(self._on_change)
        self._sweeper = LoopingCall(lambda: ensureDeferred(self.sweep_sessions()))
        self._sweeper.clock = self.reactor
        self._sweeper.start(SESSION_SWEEP_SECONDS, now=False)

    # -- the stream

    async def on_events(self, request: Req, who: SignedIn) -> None:
        if b"text/event-stream" not in (request.getHeader(b"accept") or b""):
            raise HttpError(406, N_("Live updates"), N_("This address is the desk's live event stream; the desk's pages open it themselves."))
        header = (request.getHeader(b"last-event-id") or b"").decode("ascii", "replace")
        cursor = Cursor.parse(header or self.form(request, "last"))
        stream = _Stream(request, cursor or Cursor(), who.user_id)
        try:
            subscription = self.hub.subscribe(who.user_id, stream.deliver, scope=scope(who))
        except TooManyStreams:
            raise HttpError(429, N_("Too many windows"), N_("Your account has too many desk windows open; close some and reload this page.")) from None
        self._seat(who)
        request.setHeader(b"content-type", b"text/event-stream; charset=utf-8")
        request.setHeader(b"cache-control", b"no-store")
        request.setHeader(b"x-accel-buffering", b"no")
        request.notifyFinish().addBoth(stream.end)
        lifetime = self.reactor.callLater(self.stream_seconds, stream.end)
        self._streams.add(stream)
        self._start_timers()
        try:
            request.write(f"retry: {RETRY_MS}\n: {' ' * 2048}\n\n".encode())  # padding: some proxies buffer the first 2 KiB
            await self._open(stream, who, cursor)
            await stream.ended
        except CancelledError:
            pass  # the browser went away: Klein cancels the handler
        except Exception as exc:  # noqa: BLE001 - the database read failed: the stream ends and the browser retries
            log.warn("desk stream of {user} ended: {error!r}", user=who.username, error=exc)
        finally:
            if lifetime.active():
                lifetime.cancel()
            stream.closed = True
            subscription.close()
            self._streams.discard(stream)

    async def _open(self, stream: _Stream, who: SignedIn, cursor: Cursor | None) -> None:
        """Send what the browser missed since `cursor` (nothing for a new one), the seat's
        state, and `hello` with the stream's position; live events wait meanwhile."""
        user_id, department, now = who.user_id, scope(who), self.hub.seq
        if cursor is None:
            last = await self.context.pool.read(feed.last_id)
            stream.cursor = Cursor(last, now)
            missed: list[Event] = []
        else:
            items = await self.context.pool.read(lambda s: feed.since(s, cursor.ticket))
            missed = [self._ticket_event(item) for item in items if department is None or item.department_id == department]
            missed += self.hub.missed(user_id, department, cursor.seq)
        if self.context.ami is not None and who.extension and not self._skills.get(user_id):
            await self._load_skills(who)
        if stream.ended.called:
            return
        if self.context.ami is not None and who.extension:
            self._publish_seat(who.extension, user_id)
        stream.replay(missed)
        stream.request.write(sse(Event("hello", {"at": self.reactor.seconds()}), stream.cursor))

    def end_streams(self, user_id: int | None = None) -> int:
        """End the open streams (of one user); their browsers reconnect and resume. Returns
        how many were ended."""
        ending = [s for s in self._streams if user_id is None or s.user_id == user_id]
        for stream in ending:
            stream.end()
        return len(ending)

    def _start_timers(self) -> None:
        if not self._heartbeat.running:
            self._heartbeat.start(self.heartbeat_seconds, now=False)
        if not self._feed.running:
            self._feed.start(FEED_SECONDS, now=True)

    def _beat(self) -> None:
        for stream in list(self._streams):
            try:
                stream.comment("hb")
            except Exception:  # noqa: BLE001 - a stream that cannot be written to is closing
                stream.closed = True

    async def _poll_feed(self) -> None:
        if self._feed_busy:
            return
        self._feed_busy = True
        try:
            if self._feed_after is None:
                self._feed_after = await self.context.pool.read(feed.last_id)
                return
            after = self._feed_after
            items = await self.context.pool.read(lambda s: feed.since(s, after))
            for item in items:
                self._feed_after = max(self._feed_after or 0, item.id)
                event = self._ticket_event(item)
                self.hub.publish(event.kind, event.data, department_id=item.department_id, ticket_event=item.id)
        except Exception as exc:  # noqa: BLE001 - the database is away: try again next time
            log.warn("desk ticket feed: {error}", error=type(exc).__name__)
        finally:
            self._feed_busy = False

    @staticmethod
    def _ticket_event(item: feed.FeedItem) -> Event:
        return Event("ticket", {"number": item.number, "action": item.action, "status": item.status, "at": item.at.isoformat()}, ticket_event=item.id, department_id=item.department_id)

    # -- who sits where

    def _seat(self, who: SignedIn) -> None:
        if who.extension:
            self._seated.setdefault(who.extension, set()).add(who.user_id)
            if who.user_id not in self._skills:
                self._skills[who.user_id] = ()  # filled by _load_skills; a pop needs none

    async def _load_skills(self, who: SignedIn) -> tuple[str, ...]:
        """The account's queues (skills); without any, the configured seat's; else general."""
        user_id = who.user_id

        def work(s: Any) -> list[str]:
            from sqlalchemy import select

            return list(s.scalars(select(UserQueue.queue).where(UserQueue.user_id == user_id).order_by(UserQueue.queue)))

        names = tuple(await self.read(work))
        if not names and self.context.config is not None:
            seat = next((x for x in self.context.config.seats if x.extension == who.extension), None)
            names = seat.queues if seat is not None else ()
        skills = tuple(skill_of(n) or n for n in names) or ("general",)
        self._skills[user_id] = skills
        return skills

    # -- the live model's changes

    def _on_change(self, change: Change) -> None:
        if isinstance(change, _QUEUE_CHANGES):
            self._queues_changed()
        if isinstance(change, (AgentCalled, CallerAnswered)):
            self._maybe_pop(change)
        elif isinstance(change, CallCompleted):
            self._call_completed(change)
        if isinstance(change, (MemberChanged, MemberRemoved)):
            extension = _extension(change.member.interface if isinstance(change, MemberChanged) else change.interface)
            for user_id in self._seated.get(extension or "", ()):
                self._publish_seat(extension or "", user_id)
        elif isinstance(change, (ConnectionChanged, Resynced)):
            for extension, users in self._seated.items():
                for user_id in users:
                    self._publish_seat(extension, user_id)
        if isinstance(change, Resynced):
            self._recover_seats()

    def _queues_changed(self) -> None:
        """Tell every stream, at most once a second, that the queues or agents changed: the
        wallboard fetches its figures then (it computes them per viewer and language)."""
        if self._queues_due is None or not self._queues_due.active():
            self._queues_due = self.reactor.callLater(QUEUES_EVENT_SECONDS, self._publish_queues)

    def _publish_queues(self) -> None:
        self._queues_due = None
        self.hub.publish("queues", {})

    def _maybe_pop(self, change: AgentCalled | CallerAnswered) -> None:
        """Pop the call on the seat's screens once (AgentCalled, or AgentConnect if that came
        first), and send it again, marked `update`, when a later read finds more of its record
        (`POP_REFRESH_SECONDS`)."""
        extension = _extension(change.interface)
        users = self._seated.get(extension or "")
        if not extension or not users:
            return
        key = (extension, change.uniqueid)
        if key in self._popped:
            if isinstance(change, CallerAnswered):
                for user_id in users:
                    self.hub.publish("call", {"uniqueid": change.uniqueid, "state": "answered"}, user_id=user_id)
            return
        self._popped[key] = True
        while len(self._popped) > POPPED_MEMORY:
            self._popped.popitem(last=False)
        started = time.monotonic()
        wait = change.hold_seconds if isinstance(change, CallerAnswered) else self._waited(change.queue, change.uniqueid)
        number = change.callerid_num if isinstance(change, AgentCalled) else ""
        uniqueid = change.uniqueid
        #: What the seat's screens show of this call now: a re-read that finds the same is not sent.
        shown: dict[str, Any] = {}

        def publish(context: caller_history.CallContext, refreshes: tuple[float, ...], update: bool) -> None:
            data = context.as_json() | {"wait_seconds": wait, "queue": context.queue or (skill_of(change.queue) or change.queue), "new_ticket": f"{self.base}/tickets/new?call={uniqueid}"}
            if data != shown:
                shown.clear()
                shown.update(data)
                for user_id in users:
                    self.hub.publish("pop", data | {"update": update}, user_id=user_id)
            if not update:
                self.pop_latencies.append(time.monotonic() - started)
                del self.pop_latencies[:-1000]
            if refreshes and context.recorded and not context.handed_to_queue:
                self.reactor.callLater(refreshes[0], read, refreshes[1:], True)

        def read(refreshes: tuple[float, ...], update: bool) -> None:
            def failed(failure: Any) -> None:
                # The pop still goes out, with what Asterisk told us, when the database is away.
                log.warn("screen pop of {uniqueid}: call record unreadable ({error})", uniqueid=uniqueid, error=failure.getErrorMessage())
                if not update:
                    publish(caller_history.CallContext(uniqueid, False, caller_history.stored_number(number), "", "", "", None, (), (), ()), refreshes, update)

            def work(connection: Any) -> caller_history.CallContext:
                return caller_history.call_context(connection, uniqueid, number)

            self.context.pool.lookup(work).addCallbacks(publish, failed, callbackArgs=(refreshes, update))

        read(POP_REFRESH_SECONDS, False)

    def _waited(self, queue: str, uniqueid: str) -> int | None:
        caller = self.context.ami.model.caller(queue, uniqueid) if self.context.ami is not None else None
        return caller.wait_seconds if caller is not None else None

    # -- the seat's state

    def _state(self, extension: str, skills: tuple[str, ...]) -> seats.SeatState | None:
        """The seat's state from its own slice of the live model."""
        snapshot = self._seat_snapshot(extension, skills)
        return None if snapshot is None else seats.seat_state(snapshot, extension, skills)

    def _seat_snapshot(self, extension: str, skills: tuple[str, ...]) -> LiveSnapshot | None:
        """The seat's own slice of the live model (LiveModel.seat): the seat's queues with only
        its member, so a console request costs the same in a queue of 500."""
        ami = self.context.ami
        if ami is None:
            return None
        model, member = ami.model, seats.interface(extension)
        queues = tuple(q for q in (model.seat(asterisk_queue(s), member) for s in skills) if q is not None)
        return LiveSnapshot(datetime.now(UTC), model.connected, None, queues, ())

    def _seat_json(self, state: seats.SeatState | None, extension: str) -> dict[str, Any]:
        if state is None:
            return {"extension": extension, "state": "unknown", "connected": False}
        wrapup = self._wrapups.get(extension)
        if wrapup is not None:
            left: int | None = max(0, round(wrapup.until - self.reactor.seconds()))
        elif state.state == "wrapup" and state.since is not None:  # begun before this process (re)started
            left = max(0, round(state.since.timestamp() + self.wrapup_seconds - time.time()))
        else:
            left = None
        return {
            "extension": extension,
            "state": state.state,
            "reason": state.reason,
            "joined": list(state.joined),
            "skills": list(state.skills),
            "connected": state.connected,
            "since": state.since.isoformat() if state.since else None,
            "wrapup_left": left if state.state == "wrapup" else None,
        }

    def _publish_seat(self, extension: str, user_id: int) -> None:
        skills = self._skills.get(user_id) or ("general",)
        self.hub.publish("seat", self._seat_json(self._state(extension, skills), extension), user_id=user_id)

    # -- wrap-up, and seats left behind: driven by what Asterisk reports, page open or not

    def _seat_skills(self, extension: str) -> tuple[str, ...]:
        """The skills whose queue lists the seat now (whatever the account's skills say)."""
        ami = self.context.ami
        if ami is None:
            return ()
        model, member = ami.model, seats.interface(extension)
        seen = (model.seat(name, member) for name in sorted(model.queues))
        return tuple(skill_of(q.name) or q.name for q in seen if q is not None and q.members)

    def _seat_user(self, extension: str) -> Deferred[tuple[int | None, str]]:
        """Who the desk's automatic seat actions are audited to: the operator seated here, else
        the active account with this extension."""
        seated = sorted(self._seated.get(extension, ()))

        def work(s: Any) -> tuple[int | None, str]:
            holder = sessions.seat_holder(s, extension, seated[0] if seated else None)
            return (holder.user_id, holder.username) if holder is not None else (None, "")

        return self.context.pool.read(work)

    def _once(self, key: str) -> Deferred[bool]:
        """Whether this process does an automatic seat action every desk process sees: the
        first to claim `key` does. With the database away, each does it (twice beats never)."""
        now = self.context.now()

        def failed(failure: Any) -> bool:
            from sqlalchemy.exc import IntegrityError

            if failure.check(IntegrityError):
                return False
            log.warn("seat claim {key}: {error}", key=key, error=failure.getErrorMessage())
            return True

        claimed: Deferred[bool] = self.context.pool.run(lambda s: seat_claims.claim(s, key, now=now))
        return claimed.addErrback(failed)

    def _call_completed(self, change: CallCompleted) -> None:
        extension = _extension(change.interface)
        if not extension or self.context.ami is None:
            return
        skills = self._seat_skills(extension)
        snapshot = self._seat_snapshot(extension, skills)
        if snapshot is not None and seats.leaving(snapshot, extension, skills):
            steps = seats.after_call_steps(snapshot, extension, skills)
            self._once(f"leave:{change.queue}:{change.uniqueid}:{extension}").addCallback(lambda mine: self._leave_after_call(extension, steps) if mine else None)
        elif skills and self.wrapup_seconds > 0:
            self._once(f"wrapup:{change.queue}:{change.uniqueid}:{extension}").addCallback(lambda mine: self._start_wrapup(extension, skills, self.wrapup_seconds) if mine else None)

    def _start_wrapup(self, extension: str, skills: tuple[str, ...], seconds: float, *, pause: bool = True) -> None:
        """Pause the seat for after-call work (`pause`; False: Asterisk already has it paused
        so, as after a restart) and unpause it after `seconds`."""
        old = self._wrapups.pop(extension, None)
        if old is not None and old.timer.active():
            old.timer.cancel()
        timer = self.reactor.callLater(seconds, lambda: self._end_wrapup(extension))
        wrapup = self._wrapups[extension] = _Wrapup(None, "", skills, self.reactor.seconds() + seconds, timer)

        def who(errors: list[str]) -> Any:
            def audited(holder: tuple[int | None, str]) -> Any:
                wrapup.user_id, wrapup.username = holder
                return self._audit_auto(wrapup.user_id, extension, "seat_wrapup", errors, skills) if pause else None

            return self._seat_user(extension).addCallback(audited)

        sent: Deferred[Any] = self._drive(extension, [("pause", s) for s in skills], seats.WRAPUP) if pause else Deferred()
        sent.addCallback(who).addErrback(lambda f: log.warn("wrap-up of seat {extension}: {error}", extension=extension, error=f.getErrorMessage()))
        if not pause:
            sent.callback([])

    def _resume_wrapup(self, mine: bool, extension: str, skills: tuple[str, ...], seconds: float) -> None:
        """A wrap-up Asterisk reports that no timer here ends (begun before a restart): end it
        on time, if this process claimed it."""
        if mine:
            self._start_wrapup(extension, skills, seconds, pause=False)

    def _end_wrapup(self, extension: str) -> None:
        wrapup = self._wrapups.pop(extension, None)
        if wrapup is None:
            return
        state = self._state(extension, wrapup.skills)
        if state is None or state.state != "wrapup":
            return  # the operator chose another state meanwhile: theirs stands
        done = self._drive(extension, [("unpause", s) for s in state.joined], None)
        done.addCallback(lambda errors: self._audit_auto(wrapup.user_id, extension, "seat_wrapup_end", errors, state.joined))
        # Then tell the operator (the seat event itself comes from Asterisk, as always).
        done.addCallback(lambda _: [self.hub.publish("notice", {"text": "wrapup_ended"}, user_id=u) for u in self._seated.get(extension, ())])

    def _leave_after_call(self, extension: str, steps: list[tuple[str, str]]) -> None:
        """The call of an operator who signed out is over: the seat leaves the queues now."""
        skills = tuple(skill for _, skill in steps)
        done = self._drive(extension, steps, None)
        done.addCallback(lambda errors: self._seat_user(extension).addCallback(lambda who: self._audit_auto(who[0], extension, "seat_signout_after_call", errors, skills)))

    def _recover_seats(self) -> None:
        """After every (re)connection: what Asterisk reports is picked up again, so a desk that
        restarted leaves nothing behind. A seat in wrap-up gets its end (from Asterisk's pause
        time); a seat held for an operator who signed out on a call leaves once that call is over."""
        ami = self.context.ami
        if ami is None:
            return
        snapshot = ami.model.snapshot()
        extensions = sorted({e for q in snapshot.queues for m in q.members if (e := _extension(m.interface))})
        others = []
        for extension in extensions:
            skills = self._seat_skills(extension)
            state = seats.seat_state(snapshot, extension, skills)
            if state.state == "wrapup" and extension not in self._wrapups and self.wrapup_seconds > 0:
                since = state.since.timestamp() if state.since is not None else time.time()
                left, joined = max(0.0, since + self.wrapup_seconds - time.time()), state.joined
                self._once(f"wrapup-end:{extension}:{since:.0f}").addCallback(self._resume_wrapup, extension, joined, left)
            elif seats.leaving(snapshot, extension, skills):
                steps = seats.after_call_steps(snapshot, extension, skills)
                if steps and state.state not in ("on_call", "ringing"):
                    self._leave_after_call(extension, steps)
            else:
                others.append(extension)
        # A seat in the queues whose operator has no live session (signed out while Asterisk
        # was away, or the desk was down when the session expired) leaves them now.
        policy, now = self.settings.sessions, self.context.now()

        async def gone() -> None:
            for seat in await self.context.pool.read(lambda s: sessions.seats_left(s, others, policy=policy, now=now)):
                await self.sign_out_seat(seat, "no_session", "system")

        ensureDeferred(gone()).addErrback(lambda f: log.warn("seats left behind: {error}", error=f.getErrorMessage()))

    # -- signing out

    async def sign_out_seat(self, seat: sessions.LeftSeat, why: str, address: str) -> list[str]:
        """Take the seat of an operator who signed out (`why` = "logout") or whose last session
        expired ("expired") out of Asterisk's queues, as the console's "log off" does; a call
        that is up is not cut: the seat is paused and leaves when the call ends. Audited
        (`seat_signout`); returns Asterisk's refusals, as text."""
        ami, extension = self.context.ami, seat.extension
        if ami is None or not ami.enabled:
            return []
        wrapup = self._wrapups.pop(extension, None)
        if wrapup is not None and wrapup.timer.active():
            wrapup.timer.cancel()
        skills = self._seat_skills(extension)
        snapshot = self._seat_snapshot(extension, skills)
        steps, after_call = seats.sign_out_steps(snapshot, extension, skills) if snapshot is not None else ([], False)
        if not ami.client.connected:
            errors = ["Asterisk: not connected (the seat leaves the queues when the desk is connected again)"]
        elif not steps:
            return []  # in no queue: nothing to do, nothing to audit
        else:
            errors = await self._drive(extension, steps, seats.SIGNED_OUT)
        detail = {
            "extension": extension,
            "why": why,
            "queues": [s for _, s in steps],
            "steps": [c for c, _ in steps],
            **({"after_call": True} if after_call else {}),
            **({"errors": errors} if errors else {}),
        }
        await self.context.pool.run(lambda s: audit.record(s, "seat_signout", user_id=seat.user_id, username=seat.username, target=f"seat:{extension}", address=address, detail=detail))
        return errors

    async def sweep_sessions(self) -> int:
        """End idle sessions; the seats of operators left without one leave the queues.
        Returns how many seats were signed out."""
        policy, now = self.settings.sessions, self.context.now()
        try:
            left = await self.context.pool.run(lambda s: sessions.expire_idle(s, policy=policy, now=now))
            await self.context.pool.run(lambda s: seat_claims.forget_old(s, now=now))
            for seat in left:
                self.end_streams(seat.user_id)
                await self.sign_out_seat(seat, "expired", "system")
        except Exception as exc:  # noqa: BLE001 - the database or Asterisk is away: the next sweep tries again
            log.warn("session sweep: {error!r}", error=exc)
            return 0
        return len(left)

    def _audit_auto(self, user_id: int | None, extension: str, action: str, errors: list[str], joined: tuple[str, ...]) -> Deferred[Any]:
        detail = {"extension": extension, "queues": list(joined), "by": "desk", **({"errors": errors} if errors else {})}
        written: Deferred[Any] = self.context.pool.run(lambda s: audit.record(s, action, user_id=user_id, username="", target=f"seat:{extension}", address="system", detail=detail))
        return written.addErrback(lambda f: log.warn("could not audit {action}: {error}", action=action, error=f.getErrorMessage()))

    def _drive(self, extension: str, steps: list[tuple[str, str]], reason: str | None) -> Any:
        """Send each (command, skill) for the seat in turn; fires with the errors, as text."""
        from twisted.internet.defer import ensureDeferred

        return ensureDeferred(self._send_all(extension, steps, reason))

    async def _send_all(self, extension: str, steps: list[tuple[str, str]], reason: str | None) -> list[str]:
        return await seats.send_steps(self.context.ami.client, extension, steps, reason, ACTION_TIMEOUT)

    # -- the console

    async def on_console(self, request: Req, who: SignedIn, *, error: str = "", details: tuple[str, ...] = (), status: int = 200) -> bytes:
        extension = who.extension or ""
        skills = await self._load_skills(who) if extension else ()
        self._seat(who)
        state = self._state(extension, skills) if extension else None
        ami = self.context.ami
        connection = "none" if ami is None or not ami.enabled else ("up" if ami.client.connected else "down")
        return self.render(
            request,
            "console.html",
            who,
            status,
            extension=extension,
            interface=seats.interface(extension) if extension else "",
            skills=skills,
            state=state,
            seat=self._seat_json(state, extension),
            connection=connection,
            reasons=seats.PAUSE_REASONS,
            reason_labels=REASON_LABELS,
            state_labels=STATE_LABELS,
            wrapup_seconds=self.wrapup_seconds,
            error=error,
            details=details,
        )

    async def on_console_state(self, request: Req, who: SignedIn) -> bytes:
        wanted, reason = self.form(request, "state"), self.form(request, "reason")
        if wanted not in ("ready", "pause", "logoff"):
            raise HttpError(400, N_("Bad request"), N_("state: ready, pause or logoff"))
        if wanted == "pause" and reason not in seats.PAUSE_REASONS:
            return await self.on_console(request, who, error=N_("Choose why you pause: break, meal, training or after-call work."), status=400)
        extension = who.extension or ""
        if not extension:
            return await self.on_console(request, who, error=N_("Your account has no seat (extension); an administrator sets it on the users page."), status=409)
        ami = self.context.ami
        if ami is None or not ami.enabled or not ami.client.connected:
            return await self.on_console(request, who, error=N_("Not connected to the phone system (Asterisk): your state cannot be changed just now. Try again in a moment."), status=503)
        skills = await self._load_skills(who)
        state = self._state(extension, skills)
        joined = state.joined if state is not None else ()
        steps = seats.plan(wanted, joined, skills)
        wrapup = self._wrapups.pop(extension, None)
        if wrapup is not None and wrapup.timer.active():
            wrapup.timer.cancel()
        try:
            errors: list[str] = await self._drive(extension, steps, reason if wanted == "pause" else None)
        except ActionValueError as exc:
            raise HttpError(400, N_("Bad request"), str(exc)) from None
        address = self.address(request)
        detail = {"extension": extension, "state": wanted, "queues": [s for _, s in steps], **({"reason": reason} if wanted == "pause" else {}), **({"errors": errors} if errors else {})}
        await self.db(lambda s: audit.record(s, f"seat_{wanted}", user_id=who.user_id, username=who.username, target=f"seat:{extension}", address=address, detail=detail))
        if errors:
            return await self.on_console(request, who, error=N_("Asterisk refused the change; the state shown is what it reports."), details=tuple(errors), status=502)
        return self.redirect(request, "/console")


_extension = seats.extension_of


__all__ = ["LivePages", "sse"]
