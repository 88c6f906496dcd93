"""The call record the IVR leaves, on SQLite and PostgreSQL: identity (uniqueid, linkedid,
channel), the caller's number normalised, the called number, start/answer/end on the
virtual clock, the menu choices in order, the queue and the outcome, and a timeline of
events; written through the call log's operations, which stay right when repeated."""

from __future__ import annotations

from datetime import UTC, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from hotline.agi.scripted import hang_up, in_queue, press, speak
from hotline.calllog import records as calls
from hotline.storage.models import Call, CallDisposition
from hotline.tickets.kpi import call_kpis, month_period
from tests.test_flows import MONDAY, clock_at, make_config, make_line, record

T0 = MONDAY.astimezone(UTC)


@pytest.fixture
def line(tmp_path, database):
    made, runner = make_line(make_config(tmp_path, general={"max_callers": 0}), database, clock_at(MONDAY))
    yield made
    runner.close()


@pytest.mark.parametrize(
    "raw, stored",
    [
        ("13812345678", "+8613812345678"),
        ("8613812345678", "+8613812345678"),
        ("+86 138 1234 5678", "+8613812345678"),
        ("053212345678", "+8653212345678"),
        ("12345", "12345"),
        ("anonymous", ""),
        ("unknown", ""),
    ],
)
def test_caller_number_is_normalised(line, database, raw, stored):
    """Whatever form the trunk delivers, the record keeps one form (E.164, short numbers as
    digits, withheld as empty), so a repeat caller is recognised."""
    channel = line.call(callerid=raw)
    assert record(database, channel.info.uniqueid)[0].caller_number == stored


def test_identity_times_and_called_number(line, database):
    """uniqueid, linkedid (from the URL), channel and DNID are kept; start, answer and end
    are the virtual clock's moments."""
    channel = line.call(in_queue("ANSWERED", wait=30, talk=120), params={"linkedid": "1795399200.77"})
    call, events = record(database, channel.info.uniqueid)
    assert (call.uniqueid, call.linkedid, call.channel, call.dnid, call.direction) == (channel.info.uniqueid, "1795399200.77", channel.info.channel, "12319", "in")
    assert call.started_at == T0
    answer_at = {k: i for i, (k, _) in enumerate(events)}
    assert answer_at["start"] < answer_at["answer"] < answer_at["end"]
    assert call.ended_at == T0 + timedelta(seconds=channel.commands[-1].ended)
    assert call.queued_at == T0 + timedelta(seconds=channel.queue_entries()[0].at)


def test_answer_time_on_the_timeline(line, database):
    """The IVR's answer is an event at the moment ANSWER completed; Call.answered_at is the
    agent's answer, from the queue (here Queue()'s QUEUEWAIT after it started)."""
    channel = line.call(in_queue("ANSWERED", wait=7))
    with database.transaction() as s:
        events = {e.kind: e.at for e in calls.timeline(s, channel.info.uniqueid)}
        call = calls.get(s, channel.info.uniqueid)
        assert events["answer"] == T0 + timedelta(seconds=channel.answered_at)
        assert call.answered_at == T0 + timedelta(seconds=channel.queue_entries()[0].at + 7) == events["queue_answer"]


def test_unknown_dnid_falls_back_to_the_extension(line, database):
    """Local channels and some trunks send agi_dnid 'unknown': the dialled extension is kept."""
    channel = line.call(dnid="unknown")
    assert record(database, channel.info.uniqueid)[0].dnid == "12319"


def test_menu_choices_in_order(line, database):
    """Each choice is a key event (node, key, target) in order, and the summary lists them."""
    channel = line.call(press("9", after=3.0), press("2", after=2.0))
    _, events = record(database, channel.info.uniqueid)
    keys = [(d["node"], d["key"], d["target"]) for k, d in events if k == "key"]
    assert keys == [("main", "9", "language"), ("main", "2", "emergency")]
    summary = next(d for k, d in events if k == "ivr_summary")
    assert summary["choices"] == ["main:9", "main:2"] and summary["outcome"] == "queued" and summary["lang"] == "en"
    menu_nodes = [d["node"] for k, d in events if k == "menu"]
    assert menu_nodes == ["hours", "welcome", "check_caller", "main", "language", "main", "emergency"]


SCRIPTS: dict[str, tuple[list[Any], CallDisposition, str]] = {
    "answered": ([], CallDisposition.ANSWERED, "general"),
    "emergency": ([press("2", after=3.0)], CallDisposition.ANSWERED, "emergency"),
    "abandoned in the queue": ([in_queue("CALLER_HANGUP", wait=20)], CallDisposition.ABANDONED, "general"),
    "timed out, no message": ([in_queue("TIMEOUT", wait=300), speak(0.5)], CallDisposition.TIMED_OUT, "general"),
    "refused": ([in_queue("FULL", wait=0), hang_up(after=0.5)], CallDisposition.REFUSED, "general"),
    "voicemail": ([in_queue("TIMEOUT", wait=300), speak(10)], CallDisposition.VOICEMAIL, "general"),
    "abandoned in the IVR": ([hang_up(after=4.0)], CallDisposition.IVR_ABANDONED, ""),
    "unknown ticket number": ([press("1", after=3.0), press("2611200001#"), press("2611200002#")], CallDisposition.ANSWERED, "general"),
}


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_outcome_and_queue(line, database, name):
    """Each way out of the IVR leaves its outcome and queue (an unknown ticket number ends with
    the operators here)."""
    actions, disposition, queue = SCRIPTS[name]
    channel = line.call(*actions)
    call, events = record(database, channel.info.uniqueid)
    assert (call.disposition, call.queue) == (disposition, queue)
    kinds = [k for k, _ in events]
    assert kinds[0] == "start" and kinds[-1] == "end" and kinds.count("start") == kinds.count("end") == 1
    assert kinds.count("queue_join") <= 1


def test_a_second_leg_updates_the_same_record(line, database):
    """The callback leg of a call (same uniqueid) adds to the one record and moves its end."""
    queued = line.call(in_queue("EXIT", wait=20, position=1))
    first_end = record(database, queued.info.uniqueid)[0].ended_at
    line.clock.advance(2)
    line.call(flow="queue_callback", uniqueid=queued.info.uniqueid, variables=dict(queued.variables))
    with database.transaction() as s:
        assert len(s.scalars(select(Call).where(Call.uniqueid == queued.info.uniqueid)).all()) == 1
    call, events = record(database, queued.info.uniqueid)
    assert call.ended_at > first_end and [k for k, _ in events].count("start") == 1


def test_calls_count_in_the_call_centre_figures(line, database):
    """Queued calls are offered to their queue; self-service and abandoned-in-menu calls are
    'not queued' (hotline.tickets.kpi reads the records the IVR wrote)."""
    line.call()
    line.call(press("2", after=3.0))
    line.call(hang_up(after=1.0))
    with database.transaction() as s:
        report = call_kpis(s, month_period(2026, 11))
    assert report.queue("general").offered == 1 and report.queue("emergency").offered == 1 and report.not_queued == 1


# -- the operations, repeated (as a journal replay may)


def _columns(database, uniqueid: str) -> dict[str, Any]:
    with database.transaction() as s:
        call = calls.get(s, uniqueid)
        assert call is not None
        return {c: getattr(call, c) for c in ("linkedid", "caller_number", "dnid", "started_at", "ended_at", "disposition", "queue", "queued_at", "ticket_id", "wait_seconds")}


OPERATIONS: list[tuple[str, dict[str, Any]]] = [
    ("start_call", {"linkedid": "L.1", "caller_number": "13812345678", "dnid": "12319", "at": T0.isoformat()}),
    ("mark_answered", {"at": (T0 + timedelta(seconds=1)).isoformat()}),
    ("add_event", {"kind": "menu", "detail": {"node": "main"}, "at": (T0 + timedelta(seconds=2)).isoformat()}),
    ("queue_joined", {"queue": "general", "position": 2, "at": (T0 + timedelta(seconds=9)).isoformat()}),
    ("set_outcome", {"outcome": "queued", "at": (T0 + timedelta(seconds=9)).isoformat()}),
    ("call_ended", {"cause": "completed", "at": (T0 + timedelta(seconds=70)).isoformat()}),
]


@pytest.mark.parametrize("index", range(len(OPERATIONS)))
def test_each_operation_repeated_leaves_the_call_as_it_was(database, index):
    """Applying an operation a second time (an at-least-once replay) changes none of the
    call's columns: the record's state is idempotent by uniqueid."""
    with database.transaction() as s:
        for name, arguments in OPERATIONS[: index + 1]:
            calls.apply(s, name, {"uniqueid": "i.1", **arguments})
    before = _columns(database, "i.1")
    name, arguments = OPERATIONS[index]
    with database.transaction() as s:
        calls.apply(s, name, {"uniqueid": "i.1", **arguments})
    assert _columns(database, "i.1") == before


def test_start_call_repeated_adds_no_event(database):
    """A repeated start_call (a replay, the callback leg) fills gaps and adds no second start."""
    with database.transaction() as s:
        calls.start_call(s, uniqueid="i.2", at=T0)
        calls.start_call(s, uniqueid="i.2", caller_number="13812345678", dnid="12319", at=T0)
    call, events = record(database, "i.2")
    assert call.caller_number == "+8613812345678" and [k for k, _ in events] == ["start"]


def test_replayed_operation_adds_no_second_event(database):
    """An operation replayed from the journal with the same op_id leaves one timeline event."""
    with database.transaction() as s:
        calls.apply(s, "start_call", {"uniqueid": "1700000000.9", "caller_number": "13812345678"}, op_id="a1")
        for _ in range(3):
            calls.apply(s, "add_event", {"uniqueid": "1700000000.9", "kind": "menu", "detail": {"node": "main"}}, op_id="b2")
        calls.apply(s, "add_event", {"uniqueid": "1700000000.9", "kind": "menu", "detail": {"node": "main"}}, op_id="c3")
    with database.transaction() as s:
        kinds = [e.kind for e in calls.timeline(s, "1700000000.9")]
    assert kinds == ["start", "menu", "menu"]


def test_queue_event_first_then_start_fills_the_linkedid(database):
    """A record opened bare by a queue event gets its real linkedid when the IVR's start arrives."""
    with database.transaction() as s:
        calls.queue_joined(s, uniqueid="1700000000.10", queue="general")
        calls.start_call(s, uniqueid="1700000000.10", linkedid="1700000000.7", caller_number="13812345678")
    with database.transaction() as s:
        call = calls.get(s, "1700000000.10")
        assert call is not None and call.linkedid == "1700000000.7" and call.caller_number == "+8613812345678"


def test_late_abandon_does_not_overwrite_a_message(database):
    """A caller who left a message stays 'voicemail' when the queue's abandon event comes late."""
    with database.transaction() as s:
        calls.start_call(s, uniqueid="1700000000.11")
        calls.queue_joined(s, uniqueid="1700000000.11", queue="general")
        calls.set_outcome(s, uniqueid="1700000000.11", outcome="voicemail")
        calls.queue_abandoned(s, uniqueid="1700000000.11", queue="general", position=3)
    with database.transaction() as s:
        call = calls.get(s, "1700000000.11")
        assert call is not None and call.disposition is CallDisposition.VOICEMAIL


# -- one record from two sources, whatever the order (issue 10.3, 11.2)


def _at(seconds: float) -> str:
    return (T0 + timedelta(seconds=seconds)).isoformat()


#: Each story: what the IVR and the AMI side report about one call (operation, arguments),
#: and the record it must leave, in whatever order the reports are applied.
STORIES: dict[str, tuple[list[tuple[str, dict[str, Any]]], dict[str, Any]]] = {
    "answered": (
        [
            ("start_call", {"at": _at(0), "caller_number": "13812345678"}),
            ("queue_joined", {"queue": "general", "position": 2, "at": _at(9), "source": "ivr"}),
            ("queue_answered", {"queue": "general", "agent": "PJSIP/8001", "wait_seconds": 6, "at": _at(15), "source": "ivr"}),
            ("call_ended", {"cause": "completed", "at": _at(80), "source": "ivr"}),
            ("queue_joined", {"queue": "general", "position": 2, "at": _at(9.02), "source": "ami"}),
            ("queue_answered", {"queue": "general", "agent": "PJSIP/8001", "wait_seconds": 5, "at": _at(15.01), "source": "ami"}),
            ("call_ended", {"cause": "Normal Clearing", "talk_seconds": 64, "recording_path": "/rec/a.wav", "at": _at(80.4), "source": "ami"}),
        ],
        {
            "disposition": CallDisposition.ANSWERED,
            "queued_at": T0 + timedelta(seconds=9),
            "answered_at": T0 + timedelta(seconds=15),
            "wait_seconds": 5,
            "agent_interface": "PJSIP/8001",
            "talk_seconds": 64,
            "ended_at": T0 + timedelta(seconds=80.4),
            "queue_result": "answered",
        },
    ),
    "abandoned": (
        [
            ("start_call", {"at": _at(0)}),
            ("queue_joined", {"queue": "general", "at": _at(9), "source": "ivr"}),
            ("queue_abandoned", {"queue": "general", "wait_seconds": 40, "at": _at(49), "source": "ivr"}),
            ("call_ended", {"cause": "hangup", "at": _at(49), "source": "ivr"}),
            ("queue_joined", {"queue": "general", "position": 1, "at": _at(9.01), "source": "ami"}),
            ("queue_abandoned", {"queue": "general", "position": 1, "wait_seconds": 40, "at": _at(49), "source": "ami"}),
            ("call_ended", {"cause": "Normal Clearing", "at": _at(49.05), "source": "ami"}),
        ],
        {"disposition": CallDisposition.ABANDONED, "queued_at": T0 + timedelta(seconds=9), "wait_seconds": 40, "ended_at": T0 + timedelta(seconds=49.05), "queue_result": "abandoned"},
    ),
    # Asterisk sends QueueCallerAbandon on a timeout too: the IVR's QUEUESTATUS outranks it.
    "timed out, then a message": (
        [
            ("start_call", {"at": _at(0)}),
            ("queue_joined", {"queue": "general", "at": _at(9), "source": "ivr"}),
            ("queue_timed_out", {"queue": "general", "wait_seconds": 300, "at": _at(309)}),
            ("set_outcome", {"outcome": "voicemail", "at": _at(330)}),
            ("call_ended", {"cause": "hangup", "at": _at(331), "source": "ivr"}),
            ("queue_joined", {"queue": "general", "at": _at(9), "source": "ami"}),
            ("queue_abandoned", {"queue": "general", "wait_seconds": 300, "at": _at(309), "source": "ami"}),
            ("call_ended", {"cause": "Normal Clearing", "at": _at(331), "source": "ami"}),
        ],
        {"disposition": CallDisposition.VOICEMAIL, "queued_at": T0 + timedelta(seconds=9), "wait_seconds": 300, "queue_result": "timeout"},
    ),
    # leavewhenempty: AMI says joined then abandoned after 0 s, the IVR sees LEAVEEMPTY.
    "refused (leave empty)": (
        [
            ("start_call", {"at": _at(0)}),
            ("queue_refused", {"queue": "general", "reason": "leaveempty", "at": _at(9.5)}),
            ("call_ended", {"cause": "hangup", "at": _at(12), "source": "ivr"}),
            ("queue_joined", {"queue": "general", "at": _at(9), "source": "ami"}),
            ("queue_abandoned", {"queue": "general", "wait_seconds": 0, "at": _at(9.5), "source": "ami"}),
            ("call_ended", {"cause": "Normal Clearing", "at": _at(12), "source": "ami"}),
        ],
        {"disposition": CallDisposition.REFUSED, "queued_at": None, "wait_seconds": None, "queue_result": "leaveempty", "queue": "general"},
    ),
    # The skill queue timed out and sent the caller on to the general queue, where they hung up:
    # the record follows the queue they asked last.
    "two queues": (
        [
            ("start_call", {"at": _at(0)}),
            ("queue_joined", {"queue": "roads", "at": _at(9), "source": "ivr"}),
            ("queue_timed_out", {"queue": "roads", "wait_seconds": 300, "at": _at(309)}),
            ("queue_joined", {"queue": "general", "at": _at(311), "source": "ivr"}),
            ("queue_abandoned", {"queue": "general", "wait_seconds": 20, "at": _at(331), "source": "ivr"}),
            ("call_ended", {"cause": "hangup", "at": _at(331), "source": "ivr"}),
            ("queue_joined", {"queue": "roads", "at": _at(9), "source": "ami"}),
            ("queue_abandoned", {"queue": "roads", "wait_seconds": 300, "at": _at(309), "source": "ami"}),
            ("queue_joined", {"queue": "general", "at": _at(311), "source": "ami"}),
            ("queue_abandoned", {"queue": "general", "wait_seconds": 20, "at": _at(331), "source": "ami"}),
        ],
        {"disposition": CallDisposition.ABANDONED, "queue": "general", "queued_at": T0 + timedelta(seconds=311), "wait_seconds": 20, "queue_result": "abandoned"},
    ),
    # kill -9 while the caller waited: found gone on restart; nobody saw the end.
    "lost while the service was down": (
        [
            ("start_call", {"at": _at(0)}),
            ("queue_joined", {"queue": "general", "at": _at(9), "source": "ami"}),
            ("call_lost", {"at": _at(120)}),
        ],
        {"disposition": CallDisposition.SERVICE_DOWN, "ended_at": T0 + timedelta(seconds=120), "queued_at": T0 + timedelta(seconds=9)},
    ),
    # ... but an end that was journalled before the crash and replayed later wins.
    "lost, then the journalled end": (
        [
            ("start_call", {"at": _at(0)}),
            ("queue_joined", {"queue": "general", "at": _at(9), "source": "ivr"}),
            ("queue_abandoned", {"queue": "general", "wait_seconds": 20, "at": _at(29), "source": "ivr"}),
            ("call_ended", {"cause": "hangup", "at": _at(29), "source": "ivr"}),
            ("call_lost", {"at": _at(120)}),
        ],
        {"disposition": CallDisposition.ABANDONED, "ended_at": T0 + timedelta(seconds=29), "wait_seconds": 20},
    ),
}
_ONCE = ("start", "queue_join", "queue_answer", "queue_abandon", "queue_timeout", "queue_refused", "end", "service_down")
_stories_applied = iter(range(10**6))


@pytest.mark.parametrize("story", sorted(STORIES))
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_two_sources_in_any_order_leave_one_record(database, story, data):
    """The IVR's and the AMI's reports of one call, applied in any order (each in its own
    transaction, as the journal delivers them), leave the same record: one join, one answer,
    one end on the timeline, and one disposition decided from everything said."""
    reports, expected = STORIES[story]
    order = data.draw(st.permutations(reports))
    uniqueid = f"perm.{next(_stories_applied)}"
    for name, arguments in order:
        with database.transaction() as s:
            calls.apply(s, name, {"uniqueid": uniqueid, **arguments})
    with database.transaction() as s:
        call = calls.get(s, uniqueid)
        assert call is not None
        assert {column: getattr(call, column) for column in expected} == expected, [name for name, _ in order]
        kinds = [e.kind for e in calls.timeline(s, uniqueid)]
    assert all(kinds.count(kind) <= 1 for kind in _ONCE), kinds
    assert kinds.count("end") == (1 if any(name == "call_ended" for name, _ in reports) else 0)


def test_a_record_from_before_the_facts_keeps_what_it_said(database):
    """A call answered and on record before migration 0002 (no facts, only columns) keeps its
    disposition, agent and wait when a late report (an end replayed from the journal) arrives."""
    with database.transaction() as s:
        s.add(
            Call(
                uniqueid="legacy.1",
                linkedid="legacy.1",
                started_at=T0,
                disposition=CallDisposition.ANSWERED,
                queue="general",
                queued_at=T0 + timedelta(seconds=9),
                answered_at=T0 + timedelta(seconds=20),
                agent_interface="PJSIP/8001",
                wait_seconds=11,
                facts={},
            )
        )
    with database.transaction() as s:
        calls.call_ended(s, uniqueid="legacy.1", at=T0 + timedelta(seconds=90), cause="completed", source="ivr")
    with database.transaction() as s:
        call = calls.get(s, "legacy.1")
        assert call is not None
        assert (call.disposition, call.agent_interface, call.wait_seconds, call.queued_at, call.ended_at) == (
            CallDisposition.ANSWERED,
            "PJSIP/8001",
            11,
            T0 + timedelta(seconds=9),
            T0 + timedelta(seconds=90),
        )
