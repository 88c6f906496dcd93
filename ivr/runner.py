"""`CallRunner`: the one entry point the FastAGI server and the classic AGI script call.

``await runner(channel)`` routes by ``channel.info.flow`` to a flow of `ivr.flows.FLOWS`,
keeps the call record (open, each menu step, the outcome, closed on hangup or completion)
and has the one top-level guard: any unexpected exception is logged with the uniqueid,
counted, and the caller is sent to the general queue — never dead air. An unknown flow name
is logged, marked failed on the channel (`VAR_OUTCOME`) and hung up cleanly.

Two ways to build one from the config:

- with a reactor (the service): database work runs on a `DatabasePool` (lookups on its
  reader threads, the call log batched by its writer, the journal on its file thread), the
  call log retries on the reactor's clock;
- without (the classic AGI script, one process per call): database work runs inline, the
  call log is a `SyncCallLog` whose journal the service adopts if the database was away.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from prometheus_client import CollectorRegistry, Counter
from twisted.internet.defer import Deferred

from hotline.agi.channel import Channel, ChannelError, Hangup
from hotline.agi.codec import ProtocolError
from hotline.business_hours import BusinessHours
from hotline.calllog.child import ChildCallLog
from hotline.calllog.journal import CallLog, CallLogWriter, SyncCallLog, journal_path, operations_for
from hotline.config import Config
from hotline.dialplan import FLOWS as DIALPLAN_FLOWS
from hotline.dialplan import VAR_OUTCOME
from hotline.prompts import LANGUAGES, Prompt
from hotline.prompts import catalogue as shipped_catalogue
from hotline.storage.db import Database
from hotline.storage.dbpool import DatabasePool
from hotline.storage.models import CallDisposition
from ivr.flows import FLOWS, CallSession, DatabaseStore, Flow, IvrStore, send_to_general_queue
from ivr.menu import Menu, load_menu

log = logging.getLogger(__name__)

#: Outcomes the IVR reports (CallDisposition values a flow can leave a caller in).
OUTCOMES = tuple(
    d.value
    for d in (
        CallDisposition.QUEUED,
        CallDisposition.REFUSED,
        CallDisposition.VOICEMAIL,
        CallDisposition.SELF_SERVICE,
        CallDisposition.CALLBACK_REQUESTED,
        CallDisposition.IVR_ABANDONED,
        CallDisposition.FAILED,
    )
)


class IvrMetrics:
    """hotline_ivr_* counters, registered in the injected registry. Labels are bounded: outcome
    values, menu node names from the menu file, phone keys, flow names."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.calls = Counter("hotline_ivr_calls_total", "IVR sessions by the outcome they left the caller in", ["outcome"], registry=registry)
        self.menu_choices = Counter("hotline_ivr_menu_choices_total", "Menu choices by node and key ('none': the caller pressed nothing)", ["node", "key"], registry=registry)
        self.errors = Counter("hotline_ivr_flow_errors_total", "Unexpected exceptions caught by the IVR's top-level guard", ["flow"], registry=registry)
        for outcome in OUTCOMES:
            self.calls.labels(outcome)


class SystemClock:
    """Wall time for a process without a reactor (no timers: nothing there waits)."""

    def seconds(self) -> float:
        return time.time()


class CallRunner:
    """Runs one AGI session: `await runner(channel)`."""

    def __init__(
        self,
        *,
        config: Config,
        menu: Menu,
        store: IvrStore,
        calllog: CallLogWriter,
        clock: Any,
        registry: CollectorRegistry | None = None,
        catalogue: Mapping[str, Prompt] | None = None,
        flows: Mapping[str, Flow] | None = None,
        store_timeout: float = 2.0,
        soon: Callable[[Callable[[], None]], object] | None = None,
    ) -> None:
        self.config, self.menu, self.store, self.calllog, self.clock = config, menu, store, calllog, clock
        self.registry = registry if registry is not None else CollectorRegistry()
        self.metrics = IvrMetrics(self.registry)
        self.catalogue = catalogue if catalogue is not None else shipped_catalogue()
        self.flows = dict(flows if flows is not None else FLOWS)
        self.store_timeout = store_timeout
        self.soon = soon
        self.calendar = config.working_calendar()
        self.hours = {q.name: BusinessHours.parse(q.hours) for q in config.queues}
        self._owned: list[Any] = []

    @classmethod
    def from_config(
        cls,
        config: Config,
        database: Database | DatabasePool | None = None,
        registry: CollectorRegistry | None = None,
        *,
        reactor: Any = None,
        clock: Any = None,
        writer: Sequence[str] | None = None,
    ) -> CallRunner:
        """Build everything from the config; raises MenuError for a broken menu.

        `database` may be a `DatabasePool` (the service's: its reactor is used), a `Database`
        (with `reactor`: wrapped in a pool; without: used inline, for the classic script), or
        None (one is made from config.database). `clock` replaces the wall clock of the
        inline mode (tests pass a virtual one). `writer`, with a reactor: the command of the
        call-log writer process (`hotline.calllog.child.writer_argv`, what the ivr role uses;
        the caller starts it: `runner.calllog.start()`); without it the pool's writer thread
        writes the call log in this process."""
        catalogue = shipped_catalogue()
        menu = load_menu(config, catalogue)
        operations = operations_for(config)
        owned: list[Any] = []
        if isinstance(database, DatabasePool):
            reactor = database.reactor
        if reactor is None:
            if database is None:
                database = Database.from_url(config.database_url(), pool_size=config.database.pool_size)
                owned.append(database)
            assert isinstance(database, Database)
            clock = clock if clock is not None else SystemClock()
            calllog: CallLogWriter = SyncCallLog(database, journal_path(config), operations=operations, clock=clock)
            store: IvrStore = DatabaseStore.inline(database)
            soon = None
        else:
            if not isinstance(database, DatabasePool):
                if database is None:
                    database = Database.from_url(config.database_url(), pool_size=config.database.pool_size, timeout=config.database.timeout)
                database = DatabasePool(reactor, database, size=config.database.pool_size, timeout=config.database.timeout)
                database.start()
                owned.append(database)
            pool = database
            if writer is not None:
                # Not started here: the process is forked by whoever runs the reactor (the
                # service once it runs, so a role that fails to start forks no writer).
                calllog = ChildCallLog(reactor, writer, journal_path(config), operations, disk=pool.disk)
            else:
                calllog = CallLog(pool.write, journal_path(config), clock=reactor, operations=operations, disk=pool.disk)
                calllog.start()
            store = DatabaseStore(pool.read_first)
            clock = reactor
            # A call's batch is encoded and handed over, and its lookup started, on the
            # reactor's next turn: after the command sent meanwhile (a prompt, Queue()) is on the wire.
            soon = lambda work: reactor.callLater(0, work)  # noqa: E731 - one line
        if registry is not None:
            calllog.register_metrics(registry)
        runner = cls(config=config, menu=menu, store=store, calllog=calllog, clock=clock, registry=registry, catalogue=catalogue, soon=soon)
        runner._owned = owned
        return runner

    def close(self) -> Deferred[Any]:
        """Stop the call log (it waits for what was submitted) and release what from_config
        made; fires when done (at once without a reactor)."""
        d = self.calllog.close()

        def release(result: Any) -> Any:
            for thing in self._owned:
                if isinstance(thing, DatabasePool):
                    thing.stop()
                else:
                    thing.dispose()
            self._owned = []
            return result

        return d.addBoth(release)

    def reconfigure(self, config: Config) -> None:
        """Settings an administrator changed (hotline.settings): the queues' hours and limits
        apply from the next call on."""
        self.config = config
        self.hours = {q.name: BusinessHours.parse(q.hours) for q in config.queues}

    def session(self, channel: Channel) -> CallSession:
        # ?lang=… from the dialplan (a number of its own) is a known language: no offer.
        # Without it the call starts in the configuration's default and the menu offers the other.
        asked = channel.info.params.get("lang", "")
        known = asked in LANGUAGES
        return CallSession(
            channel=channel,
            config=self.config,
            menu=self.menu,
            catalogue=self.catalogue,
            store=self.store,
            calllog=self.calllog,
            clock=self.clock,
            calendar=self.calendar,
            hours=self.hours,
            lang=asked if known else self.config.service.language,
            language_known=known,
            store_timeout=self.store_timeout,
            soon=self.soon,
            on_choice=lambda node, key: self.metrics.menu_choices.labels(node, key).inc(),
        )

    async def __call__(self, channel: Channel) -> None:
        info = channel.info
        call = self.session(channel)
        dnid = info.dnid if info.dnid and info.dnid != "unknown" else info.extension
        call.record("start_call", linkedid=info.linkedid, channel=info.channel, caller_number=info.callerid, caller_name=info.calleridname if info.calleridname != "unknown" else "", dnid=dnid)
        flow = self.flows.get(info.flow)
        if flow is None:
            await self._unknown_flow(call)
            return
        ended = "completed"
        try:
            await flow(call)
        except Hangup:
            ended = "hangup"
        except ProtocolError:
            # The peer does not speak AGI (the FastAGI server warned with its address and
            # counted it): nobody to queue, no flow error.
            ended = "protocol_error"
        except Exception as exc:  # noqa: BLE001 - the one top-level guard: log, count, queue the caller
            ended = await self._guard(call, info.flow, exc)
        finally:
            self._finish(call, info.flow, ended)

    async def _guard(self, call: CallSession, flow: str, error: Exception) -> str:
        log.error("IVR flow %s failed for uniqueid %s: %s: %s", flow, call.uniqueid, type(error).__name__, error, exc_info=error)
        self.metrics.errors.labels(flow if flow in DIALPLAN_FLOWS else "unknown").inc()
        call.event("error", flow=flow, error=type(error).__name__, message=str(error)[:200])
        if call.state.left_queue:
            return "error"  # the caller was already through a queue; do not queue them again
        try:
            await send_to_general_queue(call)
        except Hangup:
            return "hangup"
        except Exception as again:  # noqa: BLE001 - the channel itself is broken: say so, end
            log.error("IVR could not queue uniqueid %s after an error: %s: %s", call.uniqueid, type(again).__name__, again)
            call.state.outcome = CallDisposition.FAILED.value
            call.record("set_outcome", outcome=CallDisposition.FAILED.value, detail={"error": type(again).__name__})
            try:
                await call.channel.set_variable(VAR_OUTCOME, CallDisposition.FAILED.value)
            except ChannelError:
                pass
        return "error"

    async def _unknown_flow(self, call: CallSession) -> None:
        flow = call.info.flow
        log.error("unknown IVR flow %r for uniqueid %s (known: %s)", flow, call.uniqueid, ", ".join(sorted(self.flows)))
        call.state.outcome = CallDisposition.FAILED.value
        call.record("set_outcome", outcome=CallDisposition.FAILED.value, detail={"error": "unknown flow", "flow": flow[:64]})
        try:
            await call.channel.set_variable(VAR_OUTCOME, CallDisposition.FAILED.value)
            await call.channel.hangup()
        except ChannelError:
            pass
        self._finish(call, flow, "unknown_flow")

    def _finish(self, call: CallSession, flow: str, ended: str) -> None:
        """The outcome (self-service if the caller heard a status and hung up without asking
        for an operator), a summary event, and the record closed. The record's disposition
        is decided by `hotline.calllog.records` from everything reported, not here."""
        state = call.state
        if isinstance(state.prefetch, Deferred):
            state.prefetch.addErrback(lambda failure: None)  # a lookup nobody waited for (hangup in the welcome)
        if ended == "protocol_error" and not call.opened:
            call.unwritten.clear()  # not a call: no record, no outcome counted
            return
        outcome = state.outcome
        if outcome is None:
            if state.heard_status and not state.wants_operator:
                outcome = CallDisposition.SELF_SERVICE.value
                call.record("set_outcome", outcome=outcome, detail={"heard_status": True})
            else:
                outcome = CallDisposition.IVR_ABANDONED.value
        call.event("ivr_summary", flow=flow[:64], menu=self.menu.name, choices=state.choices, outcome=outcome, queue=state.queue, lang=call.lang, ended=ended)
        call.record("call_ended", cause=ended, source="ivr")
        call.flush()
        self.metrics.calls.labels(outcome).inc()
