"""Queue facts into the call record: a live-model subscriber that reports what the AMI saw.

It turns `hotline.ami.live` changes into the journal-able operations of `hotline.calllog.records`
(`queue_joined`, `queue_answered`, `queue_abandoned`, `call_ended`, `call_lost`,
`reconcile_open_calls`, `add_event`), marked `source="ami"`, and hands them to an injected
writer with one method, `submit(operation, arguments)`, which must not block (in the service
it is `hotline.calllog.journal.CallLog`, which writes through the database pool and journals
to disk while the database is away). Arguments are JSON-friendly: times are ISO 8601 strings
in UTC. What the IVR reports about the same call goes to the same operations;
`hotline.calllog.records` keeps one join, one end and decides the one disposition.

The record is keyed by the caller's uniqueid (the channel that ran Queue(), the same one the
IVR logged). Only calls seen in a queue are written here; agent channels and calls that never
queued are the IVR's to log.

After every AMI login the live model is re-based on Asterisk's lists (`Resynced`): open
records of calls Asterisk no longer has ended while we were away (`reconcile_open_calls`:
"ended while the service was down", at the moment we stopped seeing them — this process's
start, or the loss of the AMI connection), and calls still up are followed again (their
hangup closes their record, if they have one).
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from twisted.internet.defer import Deferred
from twisted.python.failure import Failure

from hotline import dialplan
from hotline.ami.live import (
    CallCompleted,
    CallerAbandoned,
    CallerAnswered,
    CallerJoined,
    CallerLeft,
    Change,
    ChannelHungUp,
    ConnectionChanged,
    QueueStatusSet,
    RecordingStarted,
    Resynced,
)
from hotline.calllog.records import REFUSALS
from hotline.config import AsteriskConfig
from hotline.dialplan import recording_path

log = logging.getLogger(__name__)


#: The `source` of what this module reports (the IVR's reports say "ivr").
AMI = "ami"


def _skill(asterisk_queue: str) -> str:
    """The call record holds the skill ("general"), as the IVR writes it, not Asterisk's
    queue name ("hotline-general"), so one call never shows under two names."""
    return dialplan.skill_of(asterisk_queue) or asterisk_queue


class CallLogWriter(Protocol):
    """Where operations go (hotline.calllog.journal.CallLog in the service, a list in tests).

    `submit` must not block. It may return a Deferred (the journal does); if that one fails,
    the failure is logged here rather than left unhandled.
    """

    def submit(self, operation: str, arguments: dict[str, Any]) -> object: ...


@dataclass(slots=True)
class _Call:
    uniqueid: str
    queue: str = ""
    linkedid: str = ""
    joined: bool = False
    answered: bool = False
    abandoned: bool = False
    agent_uniqueid: str = ""
    talk_seconds: int | None = None
    recording: str | None = None
    ended_at: str | None = None
    cause: str = ""


class QueueCallLog:
    """Subscriber of the live model (`model.subscribe(call_log)`)."""

    def __init__(self, writer: CallLogWriter, *, recordings_dir: str = AsteriskConfig().recordings_dir, max_calls: int = 20_000, clock: Any = None) -> None:
        self.writer = writer
        #: Since when we have not seen Asterisk: this process's start, then each AMI loss.
        self._unseen_since: datetime | None = datetime.fromtimestamp(clock.seconds(), UTC) if clock is not None else datetime.now(UTC)
        #: Channels that were up at a resync and not followed otherwise: maybe a call on record.
        self._maybe: OrderedDict[str, None] = OrderedDict()
        self.recordings_dir = recordings_dir
        self.max_calls = max_calls
        self._calls: OrderedDict[str, _Call] = OrderedDict()
        self._by_agent: dict[str, str] = {}  # agent channel uniqueid → caller uniqueid
        self._by_linkedid: dict[str, str] = {}  # linkedid → caller uniqueid
        self._recordings: OrderedDict[str, str | None] = OrderedDict()  # channel or linkedid → file, not yet tied to a call
        self._ended: OrderedDict[str, _Call] = OrderedDict()  # recently ended, for late AgentComplete
        self.submitted = 0
        self.writer_errors = 0
        self._handlers: dict[type, Callable[[Any], None]] = {
            CallerJoined: self._joined,
            CallerAnswered: self._answered,
            CallerAbandoned: self._abandoned,
            CallCompleted: self._completed,
            CallerLeft: self._left,
            ChannelHungUp: self._hung_up,
            RecordingStarted: self._recording,
            ConnectionChanged: self._connection,
            Resynced: self._resynced,
            QueueStatusSet: self._queue_status,
        }

    def __call__(self, change: Change) -> None:
        handler: Callable[[Any], None] | None = self._handlers.get(type(change))
        if handler is not None:
            handler(change)

    # -- handlers

    def _joined(self, change: CallerJoined) -> None:
        call = self._call(change.caller.uniqueid, create=True)
        assert call is not None
        call.queue = change.queue
        if change.caller.linkedid:
            self._link(call, change.caller.linkedid)
        if call.joined:
            return
        call.joined = True
        at = change.caller.joined_at if change.resync else change.at
        self._submit("queue_joined", uniqueid=call.uniqueid, queue=_skill(change.queue), position=change.caller.position, at=at.isoformat(), source=AMI)

    def _answered(self, change: CallerAnswered) -> None:
        call = self._call(change.uniqueid, create=True)
        assert call is not None
        call.queue = call.queue or change.queue
        if change.linkedid:
            self._link(call, change.linkedid)
        if change.agent_uniqueid:
            call.agent_uniqueid = change.agent_uniqueid
            self._by_agent[change.agent_uniqueid] = call.uniqueid
        if call.answered:
            return
        call.answered = True
        self._submit("queue_answered", uniqueid=call.uniqueid, queue=_skill(change.queue), agent=change.interface, wait_seconds=change.hold_seconds, at=change.at.isoformat(), source=AMI)
        self._claim_recording(call)

    def _abandoned(self, change: CallerAbandoned) -> None:
        call = self._call(change.uniqueid, create=True)
        assert call is not None
        call.queue = call.queue or change.queue
        if call.abandoned:
            return
        call.abandoned = True
        self._submit("queue_abandoned", uniqueid=call.uniqueid, queue=_skill(change.queue), position=change.position, wait_seconds=change.hold_seconds, at=change.at.isoformat(), source=AMI)

    def _completed(self, change: CallCompleted) -> None:
        call = self._calls.get(change.uniqueid) or self._ended.get(change.uniqueid)
        if call is None:
            call = self._call(change.uniqueid, create=True)
            assert call is not None
        call.queue = call.queue or change.queue
        if change.agent_uniqueid and not call.agent_uniqueid:
            call.agent_uniqueid = change.agent_uniqueid
            self._by_agent[change.agent_uniqueid] = call.uniqueid
        if not call.answered:
            # The connect happened while we were away (reconnect mid-call): AgentComplete
            # still says who answered and how long the caller waited.
            call.answered = True
            answered_at = change.at - timedelta(seconds=change.talk_seconds)
            self._submit("queue_answered", uniqueid=call.uniqueid, queue=_skill(change.queue), agent=change.interface, wait_seconds=change.hold_seconds, at=answered_at.isoformat(), source=AMI)
        call.talk_seconds = change.talk_seconds
        self._claim_recording(call)
        self._submit(
            "add_event",
            uniqueid=call.uniqueid,
            kind="queue_complete",
            detail={"queue": _skill(change.queue), "agent": change.interface, "hold_seconds": change.hold_seconds, "talk_seconds": change.talk_seconds, "reason": change.reason},
            at=change.at.isoformat(),
        )
        if call.ended_at is not None:
            # The caller's Hangup came first: complete the record with the talk time.
            self._submit("call_ended", uniqueid=call.uniqueid, at=call.ended_at, talk_seconds=call.talk_seconds, recording_path=call.recording, cause=call.cause, source=AMI)

    def _left(self, change: CallerLeft) -> None:
        if change.resync and change.uniqueid in self._calls:
            self._gap(change.uniqueid, change.queue, "left the queue while the AMI connection was down", change.at)

    def _gap(self, uniqueid: str, queue: str, note: str, at: datetime) -> None:
        self._submit("add_event", uniqueid=uniqueid, kind="ami_gap", detail={"queue": _skill(queue), "note": note}, at=at.isoformat())

    def _hung_up(self, change: ChannelHungUp) -> None:
        call = self._calls.pop(change.uniqueid, None)
        if call is None:
            if not change.resync and self._maybe.pop(change.uniqueid, False) is None:
                # Up at a resync, not seen in a queue since: close its record if it has one.
                self._submit("call_ended", uniqueid=change.uniqueid, at=change.at.isoformat(), cause=change.cause_text, source=AMI, if_exists=True)
            return
        self._forget_links(call)
        if change.resync:
            # Gone while we were disconnected: when and how is unknown. A lost call ends no
            # later than when we stopped seeing it; an end the IVR logged still wins.
            self._gap(call.uniqueid, call.queue, "the call ended while the AMI connection was down", change.at)
            self._submit("call_lost", uniqueid=call.uniqueid, at=(self._unseen_since or change.at).isoformat())
            return
        self._claim_recording(call)
        call.ended_at = change.at.isoformat()
        call.cause = change.cause_text
        self._submit("call_ended", uniqueid=call.uniqueid, at=call.ended_at, talk_seconds=call.talk_seconds, recording_path=call.recording, cause=call.cause, source=AMI)
        self._ended[call.uniqueid] = call
        while len(self._ended) > 1000:
            self._ended.popitem(last=False)

    def _queue_status(self, change: QueueStatusSet) -> None:
        """QUEUESTATUS after a Queue() the caller was in: a timeout or a leavewhenempty, not
        the hangup QueueCallerAbandon alone would suggest. (A caller refused at the door was
        never seen in a queue here: the IVR records that refusal.)"""
        call = self._calls.get(change.uniqueid) or self._ended.get(change.uniqueid)
        if call is None or not call.queue:
            return
        status = change.status.lower()
        if status == "timeout":
            self._submit("queue_timed_out", uniqueid=call.uniqueid, queue=_skill(call.queue), at=change.at.isoformat(), source=AMI)
        elif status in REFUSALS:
            self._submit("queue_refused", uniqueid=call.uniqueid, queue=_skill(call.queue), reason=status, at=change.at.isoformat(), source=AMI)

    def _connection(self, change: ConnectionChanged) -> None:
        if not change.connected and self._unseen_since is None:
            self._unseen_since = change.at

    def _resynced(self, change: Resynced) -> None:
        """Asterisk's lists are in: close what ended while we were away, follow the rest."""
        since, self._unseen_since = self._unseen_since, None
        if change.live_channels is None:
            log.warning("call log: no channel list from Asterisk (CoreShowChannels refused?): open call records not reconciled")
            return
        for uniqueid in change.live_channels:
            if uniqueid not in self._calls:
                self._maybe[uniqueid] = None
        while len(self._maybe) > self.max_calls:
            self._maybe.popitem(last=False)
        if since is not None:
            self._submit("reconcile_open_calls", live=sorted(change.live_channels), since=since.isoformat(), at=change.at.isoformat())

    def _recording(self, change: RecordingStarted) -> None:
        uid = change.uniqueid if change.uniqueid in self._calls else self._by_agent.get(change.uniqueid) or (self._by_linkedid.get(change.linkedid) if change.linkedid else None)
        call = self._calls.get(uid) if uid else None
        if call is None:
            # MixMonitor may start on the agent's channel before AgentConnect ties it to a call.
            self._remember(change.uniqueid, change.filename)
            if change.linkedid:
                self._remember(change.linkedid, change.filename)
            return
        self._set_recording(call, change.filename)

    # -- helpers

    def _call(self, uniqueid: str, create: bool = False) -> _Call | None:
        call = self._calls.get(uniqueid)
        if call is None and create:
            call = self._calls[uniqueid] = _Call(uniqueid)
            if len(self._calls) > self.max_calls:
                # A call whose hangup we never heard of: stop tracking the oldest.
                _, old = self._calls.popitem(last=False)
                self._forget_links(old)
        return call

    def _link(self, call: _Call, linkedid: str) -> None:
        call.linkedid = linkedid
        self._by_linkedid.setdefault(linkedid, call.uniqueid)

    def _forget_links(self, call: _Call) -> None:
        if call.agent_uniqueid and self._by_agent.get(call.agent_uniqueid) == call.uniqueid:
            del self._by_agent[call.agent_uniqueid]
        if call.linkedid and self._by_linkedid.get(call.linkedid) == call.uniqueid:
            del self._by_linkedid[call.linkedid]

    def _remember(self, key: str, filename: str | None) -> None:
        if filename is not None or key not in self._recordings:
            self._recordings[key] = filename
        while len(self._recordings) > 2000:
            self._recordings.popitem(last=False)

    def _claim_recording(self, call: _Call) -> None:
        for key in (call.uniqueid, call.agent_uniqueid, call.linkedid):
            if key and key in self._recordings:
                self._set_recording(call, self._recordings.pop(key))

    def _set_recording(self, call: _Call, filename: str | None) -> None:
        if filename:
            call.recording = filename
        elif call.recording is None:
            try:
                call.recording = recording_path(self.recordings_dir, call.uniqueid)
            except ValueError:
                log.warning("call %r: recording seen but no safe file name can be derived from its uniqueid", call.uniqueid)

    def _submit(self, operation: str, **arguments: Any) -> None:
        self.submitted += 1
        try:
            result = self.writer.submit(operation, arguments)
        except Exception:
            self.writer_errors += 1
            log.exception("call log: %s for %s not written", operation, arguments.get("uniqueid"))
            return
        if isinstance(result, Deferred):
            result.addErrback(self._not_written, operation, arguments.get("uniqueid"))

    def _not_written(self, failure: Failure, operation: str, uniqueid: str | None) -> None:
        self.writer_errors += 1
        log.error("call log: %s for %s not written: %s", operation, uniqueid, failure.getTraceback())
