"""The IVR flows: `async def` functions over one `Channel`, registered by their dialplan names.

`FLOW_IVR` runs the configured menu (`ivr.menu`); `FLOW_QUEUE_CALLBACK` runs when a queued
caller pressed the callback key (queues.conf sends them to the exit context, which calls it).

Everything a flow needs arrives in its `CallSession`: the channel, the config, the menu, the
prompt catalogue, an async `IvrStore` for the two reads (a caller's open ticket, a ticket by
number), the `CallLog` for every write, and the clock. No globals, no reactor import.

Rules the flows keep, whatever the database does:

- Writes never hold up the caller: call-log operations are submitted and not awaited (the
  call log orders them per call and journals them while the database is away).
- A call's steps are kept in the session and written together, in one transaction, at
  three moments: when the first prompt starts (a moment after answer, so the call is on
  record from its first second), before Queue() (so the agent's desk sees what the caller
  chose) or a recording, and when the session ends. A step costs a list append, not a
  database round trip, and each write runs while Asterisk plays or waits, not between two
  quick commands where the caller would wait for it. If the process dies in the menu, the
  steps since the first write are lost, not the record.
- Reads are bounded: a lookup that has not answered within `store_timeout` seconds counts as
  unavailable, and the caller goes on (to the operators) instead of waiting on dead air.
- The caller's open-ticket lookup starts right after answer and runs while the welcome plays.

Queue checks, and why this way:

- Hours and holidays come from our config (`[[queues]] hours`, the working calendar), so
  the IVR, the rendered dialplan and the desk agree on when a queue is open.
- "Full" is read from Asterisk with GET VARIABLE on the dialplan function
  ``QUEUE_WAITING_COUNT(hotline-<skill>)`` (res_agi evaluates a name ending in ``)`` as a
  function), compared with `max_callers`: Asterisk's live count, not a second model that
  could drift. queues.conf's `maxlen` (the renderer sets it from the same value) backs it up.
  QUEUESTATUS after Queue() (FULL, TIMEOUT, JOINEMPTY, LEAVEEMPTY, JOINUNAVAIL, LEAVEUNAVAIL)
  catches the rest, and all of them lead to the queue node's overflow (a message).
- The skill's name is left in the channel variable `VAR_QUEUE` for the callback flow, which
  runs in a new AGI session after the caller leaves the queue with the callback key. Skills
  are our names ("general"); Asterisk's queues are `hotline.dialplan.asterisk_queue(skill)`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, TypeVar

from twisted.internet.defer import Deferred, maybeDeferred, succeed

from hotline import phone
from hotline.agi.channel import CallInfo, Channel, Hangup
from hotline.business_hours import BusinessHours
from hotline.calllog.journal import CallLogWriter
from hotline.calllog.records import REFUSALS
from hotline.config import Config
from hotline.dialplan import (
    FLOW_IVR,
    FLOW_QUEUE_CALLBACK,
    GENERAL_QUEUE,
    VAR_OUTCOME,
    VAR_QUEUE,
    VAR_RECORDING,
    asterisk_queue,
    message_path,
    queue_application_data,
)
from hotline.prompts import Prompt, sound_name
from hotline.storage.db import Database
from hotline.storage.models import QUEUE_ENTER, CallDisposition
from hotline.storage.prepared import PreparedRead
from hotline.tickets import services as tickets
from hotline.worktime import WorkingCalendar
from ivr.menu import (
    DTMF,
    CallerTicketNode,
    HangupNode,
    HoursNode,
    LanguageNode,
    Menu,
    MenuNode,
    Node,
    PromptNode,
    QueueNode,
    TicketStatusNode,
    VoicemailNode,
)

log = logging.getLogger(__name__)
T = TypeVar("T")

#: Asterisk's own variables the flows read.
QUEUESTATUS = "QUEUESTATUS"
QUEUEPOSITION = "QUEUEPOSITION"
LANGUAGE_FUNCTION = "CHANNEL(language)"
#: The FastAGI URL parameter with the channel's state (``${CHANNEL(state)}``), and the
#: state of an answered channel.
PARAM_STATE = "state"
STATE_UP = "Up"
#: What Queue() leaves on the channel (reference/asterisk: set even when the caller hung up).
QUEUEWAIT = "QUEUEWAIT"
ANSWEREDTIME = "ANSWEREDTIME"
MEMBERINTERFACE = "MEMBERINTERFACE"
#: VAR_OUTCOME while Queue() runs: the flow ran (the dialplan must not start it again) and
#: handed the caller to Queue(); whether Asterisk kept them is recorded when it says so.
QUEUEING = "queueing"
#: QUEUESTATUS values after which the caller was not served: they go to the overflow.
OVERFLOW_STATUSES = {"TIMEOUT": "timeout", "FULL": "full", "JOINEMPTY": "empty", "LEAVEEMPTY": "empty", "JOINUNAVAIL": "empty", "LEAVEUNAVAIL": "empty"}
#: Prompts the flows play outside any menu node (checked against the catalogue by the tests).
FLOW_PROMPTS = ("callback_recorded", "callback_no_number", "goodbye", "system_busy", "ticket_number_is", "ticket_not_found")
#: Samples per second of RECORD FILE's endpos (8 kHz telephony audio).
SAMPLE_RATE = 8000
#: A menu walk longer than this is a loop the validator could not see: the guard takes over.
MAX_STEPS = 200
_SAFE_ID = re.compile(r"[^A-Za-z0-9_.\-]")


# -- what flows read from the database


@dataclass(frozen=True)
class TicketView:
    """A ticket as the IVR may say it: its number and status, nothing personal."""

    number: str
    status: str


class IvrStore(Protocol):
    """The reads the flows make; each returns an awaitable (a Deferred in the service)."""

    def open_ticket_for(self, caller_number: str) -> Awaitable[TicketView | None]: ...

    def ticket(self, number: str) -> Awaitable[TicketView | None]: ...


#: Runs a `PreparedRead` with its parameters: its first row, in a Deferred.
Reads = Callable[[PreparedRead, Mapping[str, Any]], "Deferred[Sequence[Any] | None]"]


class DatabaseStore:
    """`IvrStore` over the database's reads a caller waits for (`Database.read_first`):
    `DatabasePool.read_first` in the service (a reader thread, the pool's timeout), `inline`
    without a reactor (the classic script, tests)."""

    def __init__(self, read: Reads) -> None:
        self._read = read

    @classmethod
    def inline(cls, database: Database) -> DatabaseStore:
        return cls(lambda prepared, params: maybeDeferred(database.read_first, prepared, params))

    def open_ticket_for(self, caller_number: str) -> Deferred[TicketView | None]:
        query = tickets.caller_open_ticket_query(caller_number)
        if query is None:
            return succeed(None)
        return self._read(*query).addCallback(_view)

    def ticket(self, number: str) -> Deferred[TicketView | None]:
        return self._read(*tickets.ticket_status_query(number)).addCallback(_view)


def _view(row: Sequence[Any] | None) -> TicketView | None:
    """A ticket's (number, status) row as the flows see it."""
    found = tickets.status_pair(row)
    return TicketView(*found) if found else None


class StoreUnavailable(Exception):
    """A read failed or took too long; the flow treats it as 'cannot tell' and goes on."""


# -- the call as a flow sees it


@dataclass
class CallState:
    """What happened so far, for the call record and the runner's accounting."""

    #: The CallDisposition value the IVR left the caller in, once known.
    outcome: str | None = None
    heard_status: bool = False
    last_ticket: TicketView | None = None
    caller_ticket: TicketView | None = None
    #: "node:key" for every choice, "node:-" when the caller pressed nothing.
    choices: list[str] = field(default_factory=list)
    queue: str | None = None
    #: True once Queue() has returned: the guard must not queue the caller a second time.
    left_queue: bool = False
    #: True once the caller reached a queue node (asked for, or was sent to, an operator):
    #: hearing a status before that is no longer self-service.
    wants_operator: bool = False
    #: Why the last queue sent the caller on (closed, full, timeout …) and which queue.
    overflow: tuple[str, str] | None = None
    prefetch: Any = None


@dataclass
class CallSession:
    """One AGI session: the channel and every collaborator a flow may use."""

    channel: Channel
    config: Config
    menu: Menu
    catalogue: Mapping[str, Prompt]
    store: IvrStore
    calllog: CallLogWriter
    clock: Any
    calendar: WorkingCalendar
    hours: Mapping[str, BusinessHours]
    lang: str = "zh"
    #: The dialplan said the language (a number of its own): no language offer.
    language_known: bool = False
    store_timeout: float = 2.0
    #: Called with (node, key) for each menu choice; key "none" when the caller pressed nothing.
    on_choice: Callable[[str, str], None] = lambda node, key: None
    #: Schedules a function on the event loop's next turn (the service's reactor); None
    #: runs it at once (the classic script, tests). See `flush` and `lookup_soon`.
    soon: Callable[[Callable[[], None]], object] | None = None
    state: CallState = field(default_factory=CallState)
    #: Call-log operations recorded since the last `flush`.
    unwritten: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    #: True once the first batch (the record's opening) was submitted.
    opened: bool = False
    #: True while a submission is scheduled with `soon`.
    writing_soon: bool = False

    @property
    def info(self) -> CallInfo:
        return self.channel.info

    @property
    def uniqueid(self) -> str:
        return self.channel.info.uniqueid

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.clock.seconds(), UTC)

    def sound(self, prompt: str) -> str:
        return sound_name(prompt, self.lang, self.config.asterisk.sounds_dir)

    def record(self, operation: str, **arguments: Any) -> None:
        """One call-log operation for this call, stamped now, written at the next `flush`."""
        self.unwritten.append((operation, {"uniqueid": self.uniqueid, "at": self.now(), **arguments}))

    def flush(self) -> None:
        """Submit what was recorded, as one batch (one transaction); never awaited by flows.

        With `soon`, the batch is submitted on the next turn of the event loop, so the
        command the flow sends next is written first; steps recorded meanwhile join it."""
        if not self.unwritten:
            return
        self.opened = True
        if self.soon is None:
            self._submit()
        elif not self.writing_soon:
            self.writing_soon = True
            self.soon(self._submit)

    def _submit(self) -> None:
        self.writing_soon = False
        if self.unwritten:
            operations, self.unwritten = self.unwritten, []
            self.calllog.submit_batch(self.uniqueid, operations)

    def event(self, kind: str, **detail: Any) -> None:
        self.record("add_event", kind=kind, detail=detail)

    def lookup_soon(self, read: Callable[[], Awaitable[T]]) -> Awaitable[T]:
        """`read()` started on the event loop's next turn, as `lookup`: a read the flow needs
        later (the caller's open case, wanted after the welcome) goes to its thread after the
        command the flow sends meanwhile is on the wire, not while the reactor writes it
        (started first, the reader thread took the GIL from the reactor: the next command was
        0.5-0.9 ms late at the median, bench/RESULTS.md)."""
        if self.soon is None:
            return self.lookup(read())
        started: Deferred[T] = Deferred()
        self.lookup(started)

        def start() -> None:
            if started.called:
                return  # timed out before it could start
            pending = read()
            if isinstance(pending, Deferred):
                pending.chainDeferred(started)  # a late result after a timeout is dropped by Twisted
            else:
                Deferred.fromCoroutine(_awaited(pending)).chainDeferred(started)

        self.soon(start)
        return started

    def lookup(self, pending: Awaitable[T]) -> Awaitable[T]:
        """Start the clock on a store read: it fails with a timeout `store_timeout` seconds
        from now, whether or not anybody awaits it yet."""
        if isinstance(pending, Deferred) and not pending.called:
            pending.addTimeout(self.store_timeout, self.clock)
        return pending

    async def settle(self, pending: Awaitable[T]) -> T:
        """The read's result, or StoreUnavailable for any failure (timeout included)."""
        try:
            return await pending
        except Exception as exc:
            log.warning("IVR lookup failed for uniqueid %s: %s: %s", self.uniqueid, type(exc).__name__, str(exc).splitlines()[0] if str(exc) else "")
            raise StoreUnavailable(type(exc).__name__) from exc

    async def play(self, prompts: tuple[str, ...] | list[str], escape: str = "") -> str | None:
        """Play prompts in order; the key that interrupted one, or None. The first prompt of
        the call also opens its record."""
        if not self.opened:
            self.flush()
        for prompt in prompts:
            key = await self.channel.stream_file(self.sound(prompt), escape)
            if key:
                return key
        return None

    def caller_number(self) -> str:
        try:
            return phone.normalise(self.info.callerid)
        except phone.InvalidPhoneNumber:
            return ""


Flow = Callable[[CallSession], Awaitable[None]]


async def _awaited(pending: Awaitable[T]) -> T:
    return await pending


# -- FLOW_IVR: the menu


async def run_ivr(call: CallSession) -> None:
    """Answer, start the repeat-caller lookup, and walk the menu from its start node.

    Each command here is a round trip before the caller hears a word, so none is sent that
    changes nothing: no ANSWER when the dialplan says the channel is up already (it passes
    ``state=${CHANNEL(state)}``), no CHANNEL(language) when the channel has the call's
    language (``agi_language``)."""
    channel = call.channel
    if call.info.params.get(PARAM_STATE) != STATE_UP:
        await channel.answer()
    call.record("mark_answered")
    if call.info.language != call.lang:
        await channel.set_variable(LANGUAGE_FUNCTION, call.lang)
    if any(isinstance(n, CallerTicketNode) for n in call.menu.nodes.values()):
        number = call.caller_number()
        if number:
            call.state.prefetch = call.lookup_soon(lambda: call.store.open_ticket_for(number))
    await MenuWalk(call).run()


class MenuWalk:
    """Interprets the menu's nodes for one call: one method per node type."""

    def __init__(self, call: CallSession) -> None:
        self.call = call
        self.channel = call.channel

    async def run(self) -> None:
        name, carried = self.call.menu.start, None
        for _ in range(MAX_STEPS):
            node = self.call.menu.node(name)
            self.call.event("menu", node=node.name, type=node.kind, lang=self.call.lang)
            step = await getattr(self, f"_{node.kind}")(node, carried)
            if step is None:
                return
            name, carried = step
        raise RuntimeError(f"menu {self.call.menu.name}: more than {MAX_STEPS} steps (last node {name!r})")

    def choose(self, node: Node, key: str | None, target: str) -> None:
        self.call.state.choices.append(f"{node.name}:{key or '-'}")
        self.call.on_choice(node.name, key or "none")
        self.call.event("key", node=node.name, key=key, target=target)

    async def _prompt(self, node: PromptNode, carried: str | None) -> tuple[str, str | None]:
        key = carried
        if key is None:
            key = await self.call.play(node.prompts, DTMF if node.interruptible else "")
        return node.next, key

    async def _menu(self, node: MenuNode, carried: str | None) -> tuple[str, None]:
        key, tries = carried, 0
        while True:
            if key is None:
                key = await self.call.play(node.playlist(self.call.language_known), DTMF)
                if key is None and node.timeout_seconds > 0:
                    key = await self.channel.wait_for_digit(int(node.timeout_seconds * 1000)) or None
            if key is None:
                self.choose(node, None, node.default)
                return node.default, None
            target = node.options.get(key)
            if target is not None:
                self.choose(node, key, target)
                return target, None
            if tries >= node.retries:
                self.choose(node, key, node.invalid)
                if node.retries and node.transfer_prompt:
                    # The caller tried and failed: say where they go now, never silently.
                    await self.call.play((node.transfer_prompt,))
                return node.invalid, None
            tries += 1
            self.call.state.choices.append(f"{node.name}:{key}")
            self.call.on_choice(node.name, key)
            self.call.event("key", node=node.name, key=key, target=None, retry=tries)
            key = await self.call.play((node.invalid_prompt,), DTMF)

    async def _caller_ticket(self, node: CallerTicketNode, carried: str | None) -> tuple[str, str | None]:
        state = self.call.state
        view = None
        if state.prefetch is not None:
            try:
                view = await self.call.settle(state.prefetch)
            except StoreUnavailable:
                view = None
        state.caller_ticket = view
        self.call.event("caller_ticket", found=view is not None, status=view.status if view else None)
        return (node.found if view else node.otherwise), carried

    async def _hours(self, node: HoursNode, carried: str | None) -> tuple[str, str | None]:
        is_open = self.call.hours[node.queue].is_open(self.call.now(), self.call.calendar)
        if not is_open:
            self.call.event("queue_closed", queue=node.queue, node=node.name)
            self.call.state.overflow = (node.queue, "closed")  # a message left now says so
        return (node.open if is_open else node.closed), carried

    async def _ticket_status(self, node: TicketStatusNode, carried: str | None) -> tuple[str, None]:
        state = self.call.state
        if node.lookup != "keyed":
            view = state.caller_ticket if node.lookup == "caller" else state.last_ticket
            if view is None:
                return node.not_found, None
            await self.say_status(view)
            return node.next, None
        digits_max = 6 + self.call.config.tickets.sequence_digits + 2
        for attempt in range(1, node.attempts + 1):
            digits, _timed_out = await self.channel.get_data(self.call.sound(node.prompt), int(node.timeout_seconds * 1000), digits_max)
            digits = "".join(c for c in digits if c.isdigit())
            if not digits:
                self.call.event("ticket_lookup", node=node.name, result="no_input", attempt=attempt)
                return node.no_input, None
            try:
                view = await self.call.settle(self.call.lookup(self.call.store.ticket(digits)))
            except StoreUnavailable:
                self.call.event("ticket_lookup", node=node.name, result="unavailable", attempt=attempt)
                await self.call.play(("system_busy",))
                return node.unavailable, None
            if view is not None:
                self.call.event("ticket_lookup", node=node.name, result="found", status=view.status, attempt=attempt)
                await self.say_status(view)
                return node.next, None
            self.call.event("ticket_lookup", node=node.name, result="not_found", attempt=attempt)
            await self.call.play(("ticket_not_found",))
        return node.not_found, None

    async def say_status(self, view: TicketView) -> None:
        """案件编号 <digits> <status>: the number as digits, the status as a recorded phrase."""
        await self.call.play(("ticket_number_is",))
        await self.channel.say_digits(view.number)
        await self.call.play((f"status_{view.status}",))
        self.call.state.heard_status = True
        self.call.state.last_ticket = view

    async def _queue(self, node: QueueNode, carried: str | None) -> tuple[str, None] | None:
        queue = self.call.config.queue(node.queue)
        state = self.call.state
        state.wants_operator = True
        if not self.call.hours[queue.name].is_open(self.call.now(), self.call.calendar):
            self.call.event("queue_closed", queue=queue.name)
            await self.call.play((node.closed_prompt,))
            state.overflow = (queue.name, "closed")
            return node.overflow, None
        waiting = await waiting_count(self.channel, queue.name) if queue.max_callers else None
        if waiting is not None and waiting >= queue.max_callers:
            self.call.event("queue_full", queue=queue.name, waiting=waiting, max_callers=queue.max_callers)
            self.call.record("queue_refused", queue=queue.name, reason="full")
            await self.call.play((node.busy_prompt,))
            state.overflow = (queue.name, "full")
            return node.overflow, None
        await self.call.play(node.prompts)
        status = await join_queue(self.call, queue.name, queue.max_wait_seconds, position=None if waiting is None else waiting + 1)
        if status is None:
            return None
        await self.call.play((node.busy_prompt,))
        state.overflow = (queue.name, status)
        return node.overflow, None

    async def _voicemail(self, node: VoicemailNode, carried: str | None) -> None:
        call, state = self.call, self.call.state
        queue, reason = state.overflow or ("", "")
        path = message_path(call.config.asterisk.voicemail_dir, _SAFE_ID.sub("_", call.uniqueid), "wav")
        base = path[: -len(".wav")]  # RECORD FILE takes the name and the format apart
        await call.play(node.prompts)
        await self.channel.set_variable(VAR_RECORDING, path)
        await self.channel.set_variable(VAR_OUTCOME, "voicemail")
        call.event("voicemail", path=path, queue=queue, reason=reason)
        call.flush()
        try:
            result = await self.channel.record_file(base, "wav", "#", node.max_seconds * 1000, True, node.silence_seconds or None)
        except Hangup as hangup:
            # Most callers hang up instead of pressing #: what they said is still a message,
            # as long as they said something (RECORD FILE's `(hangup) endpos=` tells).
            seconds = hangup.endpos / SAMPLE_RATE if hangup.endpos is not None else None
            if seconds is not None and seconds < node.min_seconds:
                self.no_message(path, seconds, "hangup")
            else:
                self.leave_message(path, None if seconds is None else round(seconds, 2), queue, reason)
            raise
        seconds = result.endpos / SAMPLE_RATE
        if seconds >= node.min_seconds and seconds > 0:
            self.leave_message(path, round(seconds, 2), queue, reason)
            await call.play((node.thanks,))
        else:
            self.no_message(path, seconds, "silence")
            await call.play(("goodbye",))
        await self.channel.hangup()

    def no_message(self, path: str, seconds: float, ended: str) -> None:
        """Nothing (or a moment) recorded: on the call record as "no message", no ticket."""
        self.call.event("no_message", path=path, seconds=round(seconds, 2), ended=ended)

    def leave_message(self, path: str, seconds: float | None, queue: str, reason: str) -> None:
        self.call.state.outcome = "voicemail"
        self.call.record("leave_message", caller_number=self.call.info.callerid, path=path, fmt="wav", duration_seconds=seconds, queue=queue, reason=reason)

    async def _language(self, node: LanguageNode, carried: str | None) -> tuple[str, str | None]:
        lang = node.lang if node.lang != "toggle" else ("en" if self.call.lang == "zh" else "zh")
        self.call.lang = lang
        await self.channel.set_variable(LANGUAGE_FUNCTION, lang)
        self.call.event("language", lang=lang)
        return node.next, carried

    async def _hangup(self, node: HangupNode, carried: str | None) -> None:
        self.call.state.outcome = "self_service"
        self.call.record("set_outcome", outcome="self_service", detail={"node": node.name})
        await self.channel.set_variable(VAR_OUTCOME, "self_service")
        await self.call.play(node.prompts)
        await self.channel.hangup()


async def waiting_count(channel: Channel, queue: str) -> int | None:
    """Callers waiting in the skill's Asterisk queue now; None if Asterisk cannot say."""
    value = await channel.get_variable(f"QUEUE_WAITING_COUNT({asterisk_queue(queue)})")
    try:
        return int(value) if value not in (None, "") else None
    except ValueError:
        return None


async def join_queue(call: CallSession, queue: str, max_wait_seconds: int, position: int | None = None) -> str | None:
    """EXEC Queue. None when the caller was served or left by a key (nothing more to do);
    otherwise why they were not served ("timeout", "full", "empty").

    The join is recorded when Asterisk confirms it, from what Queue() leaves on the channel
    (QUEUESTATUS, QUEUEWAIT, ANSWEREDTIME, MEMBERINTERFACE): not before Queue() runs, and
    never for a refused caller. The AMI side reports the same facts as they happen;
    `hotline.calllog.records` keeps one of each. A caller who hung up in the queue ends the
    flow with Hangup, as any hangup does."""
    channel, state = call.channel, call.state
    await channel.set_variable(VAR_QUEUE, queue)
    # For the dialplan: the flow ran and handed the caller to Queue() (not yet "queued").
    await channel.set_variable(VAR_OUTCOME, QUEUEING)
    state.queue = queue
    call.event(QUEUE_ENTER, queue=queue, position=position)
    call.flush()
    started = call.now()
    try:
        result = await channel.exec("Queue", queue_application_data(queue, max_wait_seconds))
    except Hangup:
        call.event("queue_exit", queue=queue, result=None, status="HANGUP")
        raise
    state.left_queue = True
    if result == -1:
        await _queue_ended(call, queue, started, position)
        return None
    status = (await channel.get_variable(QUEUESTATUS) or "").upper()
    call.event("queue_exit", queue=queue, result=result, status=status)
    reason = OVERFLOW_STATUSES.get(status)
    if status.lower() in REFUSALS:
        state.outcome = CallDisposition.REFUSED.value
        call.record("queue_refused", queue=queue, reason=status.lower())
        await channel.set_variable(VAR_OUTCOME, CallDisposition.REFUSED.value)
        return reason
    state.outcome = CallDisposition.QUEUED.value
    call.record("queue_joined", queue=queue, position=position, at=started, source="ivr")
    if status == "TIMEOUT":
        call.record("queue_timed_out", queue=queue, wait_seconds=_seconds(await channel.get_variable(QUEUEWAIT)))
    return reason


async def _queue_ended(call: CallSession, queue: str, started: datetime, position: int | None) -> None:
    """Queue() returned -1: an agent answered (and one side hung up), or the caller hung up
    while waiting. ANSWEREDTIME and QUEUEWAIT (readable on a dead channel) tell which."""
    channel, state = call.channel, call.state
    try:
        talked = _seconds(await channel.get_variable(ANSWEREDTIME))
        waited = _seconds(await channel.get_variable(QUEUEWAIT))
        agent = (await channel.get_variable(MEMBERINTERFACE) or "") if talked else ""
    except Hangup:
        talked = waited = None  # the channel is gone: the AMI side says what happened
        agent = ""
    call.event("queue_exit", queue=queue, result=-1, answered_seconds=talked, wait_seconds=waited)
    if waited is None:
        raise Hangup("the caller hung up as Queue() started")  # never joined
    state.outcome = CallDisposition.QUEUED.value
    call.record("queue_joined", queue=queue, position=position, at=started, source="ivr")
    if talked:
        call.record("queue_answered", queue=queue, agent=agent, wait_seconds=waited, at=started + timedelta(seconds=waited), source="ivr")
        return None
    call.record("queue_abandoned", queue=queue, position=position, wait_seconds=waited, source="ivr")
    raise Hangup("the caller hung up in the queue")


def _seconds(value: str | None) -> int | None:
    """A whole-seconds channel variable Queue() sets; None when unset or empty."""
    try:
        return int(value) if value not in (None, "") else None
    except ValueError:
        return None


async def send_to_general_queue(call: CallSession) -> None:
    """The guard's way out: the general queue, no checks, no prompts — never dead air."""
    queue = call.config.queue(GENERAL_QUEUE)
    await join_queue(call, queue.name, queue.max_wait_seconds)


# -- FLOW_QUEUE_CALLBACK


async def run_queue_callback(call: CallSession) -> None:
    """The caller left the queue with the callback key: store the request with their place."""
    channel, state = call.channel, call.state
    position = _integer(await channel.get_variable(QUEUEPOSITION))
    # The rendered dialplan passes the skill as ?queue=…; VAR_QUEUE is what the IVR left.
    queue = call.info.params.get("queue") or await channel.get_variable(VAR_QUEUE) or GENERAL_QUEUE
    if queue not in {q.name for q in call.config.queues}:
        queue = GENERAL_QUEUE
    call.event("callback_key", queue=queue, position=position)
    number = call.caller_number()
    if not number:
        # Nobody to call back: back into the queue (at its end, sadly) rather than a dead end.
        await call.play(("callback_no_number",))
        await join_queue(call, queue, call.config.queue(queue).max_wait_seconds)
        return
    state.outcome, state.queue = "callback_requested", queue
    call.record("request_queue_callback", phone=number, queue=queue, position=position)
    await channel.set_variable(VAR_OUTCOME, "callback_requested")
    await call.play(("callback_recorded",))
    await channel.hangup()


def _integer(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None


#: The flows by the names the dialplan calls them (hotline.dialplan.FLOWS).
FLOWS: dict[str, Flow] = {FLOW_IVR: run_ivr, FLOW_QUEUE_CALLBACK: run_queue_callback}
