"""Queue callbacks on SQLite and PostgreSQL: a queued caller who presses the callback key is
stored once with their place, never twice, and pending callbacks come back in the order the
callers would have been served; the queue-callback flow does it over the scripted channel."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from hotline.agi.scripted import in_queue, press
from hotline.calllog import callbacks
from hotline.calllog import records as calls
from hotline.dialplan import FLOW_QUEUE_CALLBACK, VAR_OUTCOME
from hotline.storage.models import Callback, CallbackKind, CallbackStatus, CallDisposition
from tests.test_flows import MONDAY, clock_at, make_config, make_line, prompts_played, queued_to, record

T0 = MONDAY.astimezone(UTC)


@pytest.fixture
def line(tmp_path, database):
    made, runner = make_line(make_config(tmp_path), database, clock_at(MONDAY))
    yield made
    runner.close()


# -- the service functions


def count(database, model=Callback) -> int:
    with database.transaction() as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


def test_request_is_stored_once_per_call(database):
    """Asking twice for the same call returns the first request; one row, one outcome event."""
    with database.transaction() as s:
        calls.start_call(s, uniqueid="q.1", caller_number="13812345678", at=T0)
        calls.queue_joined(s, uniqueid="q.1", queue="general", at=T0)
    with database.transaction() as s:
        first = callbacks.request_queue_callback(s, uniqueid="q.1", phone="13812345678", queue="general", position=3, at=T0 + timedelta(seconds=40))
        first_id = first.id
    with database.transaction() as s:
        again = callbacks.request_queue_callback(s, uniqueid="q.1", phone="138 1234 5678", queue="general", position=2, at=T0 + timedelta(seconds=90))
        assert again.id == first_id and again.position == 3
    assert count(database) == 1
    call, events = record(database, "q.1")
    assert call.disposition is CallDisposition.CALLBACK_REQUESTED
    assert [d["outcome"] for k, d in events if k == "outcome"] == ["callback_requested"]


def test_request_fields(database):
    """kind queue, status pending, due now, the place, the number in E.164, the call linked."""
    at = T0 + timedelta(minutes=2)
    with database.transaction() as s:
        callback = callbacks.request_queue_callback(s, uniqueid="q.2", phone="+86 138 1234 5678", queue="emergency", position=5, at=at.isoformat())
        call = calls.get(s, "q.2")
        assert call is not None
        assert (callback.kind, callback.status) == (CallbackKind.QUEUE, CallbackStatus.PENDING)
        assert callback.due_at == at and callback.requested_at == at
        assert (callback.phone, callback.queue, callback.position, callback.call_id) == ("+8613812345678", "emergency", 5, call.id)
        assert call.caller_number == "+8613812345678"


@pytest.mark.parametrize("number", ["", "anonymous", "not-a-number"])
def test_no_callback_to_an_unusable_number(database, number):
    """A withheld or unusable number cannot be called back: refused, nothing stored."""
    with pytest.raises(ValueError), database.transaction() as s:
        callbacks.request_queue_callback(s, uniqueid="q.3", phone=number, queue="general", position=1, at=T0)
    assert count(database) == 0


def test_position_zero_is_no_place(database):
    """QUEUEPOSITION 0 or less is not a place; stored as unknown."""
    with database.transaction() as s:
        assert callbacks.request_queue_callback(s, uniqueid="q.4", phone="13812345678", queue="general", position=0, at=T0).position is None


def test_pending_callbacks_in_the_order_callers_joined(database):
    """Ordered by when each caller joined the queue (their place), not by when they asked or
    by positions reported at different moments; other queues, kinds and statuses excluded."""
    joined = {"early": (0, 4), "middle": (30, 1), "late": (60, 2)}
    asked = ["late", "early", "middle"]
    with database.transaction() as s:
        for name, (offset, _) in joined.items():
            calls.start_call(s, uniqueid=name, at=T0 + timedelta(seconds=offset))
            calls.queue_joined(s, uniqueid=name, queue="general", at=T0 + timedelta(seconds=offset))
        for index, name in enumerate(asked):
            callbacks.request_queue_callback(s, uniqueid=name, phone=f"1381234567{index}", queue="general", position=joined[name][1], at=T0 + timedelta(seconds=100 + index))
        callbacks.request_queue_callback(s, uniqueid="other-queue", phone="13900000000", queue="emergency", position=1, at=T0)
        done = callbacks.request_queue_callback(s, uniqueid="done", phone="13900000001", queue="general", position=1, at=T0)
        done.status = CallbackStatus.DONE
        s.add(Callback(kind=CallbackKind.SATISFACTION, phone="13900000002", queue="general", due_at=T0))
    with database.transaction() as s:
        pending = callbacks.pending_queue_callbacks(s, "general")
        order = [calls.get(s, "early").id, calls.get(s, "middle").id, calls.get(s, "late").id]
        assert [c.call_id for c in pending] == order


def test_same_join_time_falls_back_to_position(database):
    """Callers who joined at the same moment are ordered by the position Asterisk gave them."""
    with database.transaction() as s:
        for name, position in (("b", 2), ("a", 1)):
            calls.start_call(s, uniqueid=name, at=T0)
            calls.queue_joined(s, uniqueid=name, queue="general", at=T0)
            callbacks.request_queue_callback(s, uniqueid=name, phone="13812345678", queue="general", position=position, at=T0 + timedelta(seconds=5))
    with database.transaction() as s:
        assert [c.position for c in callbacks.pending_queue_callbacks(s, "general")] == [1, 2]


# -- the flow


def test_callback_key_in_the_queue_stores_the_request(line, database):
    """The caller leaves the queue with the callback key (QUEUEPOSITION 3); the queue-callback
    flow stores the request with that place, says it is recorded and hangs up."""
    queued = line.call(in_queue("EXIT", wait=45, position=3))
    assert not queued.flow_hung_up  # the dialplan continues into the exit context
    leg = line.call(flow=FLOW_QUEUE_CALLBACK, uniqueid=queued.info.uniqueid, variables=dict(queued.variables))
    assert prompts_played(leg) == ["callback_recorded"] and leg.verbs()[-1] == "hangup"
    assert leg.variables[VAR_OUTCOME] == "callback_requested"
    with database.transaction() as s:
        (callback,) = s.scalars(select(Callback)).all()
        assert (callback.position, callback.queue, callback.phone) == (3, "general", "+8613812345678")
    call, events = record(database, queued.info.uniqueid)
    assert call.disposition is CallDisposition.CALLBACK_REQUESTED and call.queue == "general"
    assert ("callback_key", {"queue": "general", "position": 3}) in events
    assert [d["outcome"] for k, d in events if k == "ivr_summary"] == ["queued", "callback_requested"]


def test_callback_asked_twice_is_placed_once(line, database):
    """The same call asking again (a second key press, a retried AGI) adds nothing."""
    queued = line.call(in_queue("EXIT", wait=10, position=2))
    for _ in range(2):
        line.call(flow=FLOW_QUEUE_CALLBACK, uniqueid=queued.info.uniqueid, variables=dict(queued.variables))
    assert count(database) == 1


def test_callback_for_the_emergency_queue_keeps_its_queue(line, database):
    """The queue the caller waited in travels in HOTLINE_QUEUE to the callback leg."""
    queued = line.call(press("2", after=3.0), in_queue("EXIT", wait=10, position=1))
    line.call(flow=FLOW_QUEUE_CALLBACK, uniqueid=queued.info.uniqueid, variables=dict(queued.variables))
    with database.transaction() as s:
        assert s.scalars(select(Callback.queue)).all() == ["emergency"]


def test_withheld_number_goes_back_to_the_queue(line, database):
    """No number to call back: the caller hears why and is queued again, nothing stored."""
    leg = line.call(flow=FLOW_QUEUE_CALLBACK, callerid="anonymous", variables={"QUEUEPOSITION": "2", "HOTLINE_QUEUE": "general"})
    assert prompts_played(leg) == ["callback_no_number"] and queued_to(leg) == ["general"]
    assert count(database) == 0


def test_queue_parameter_of_the_dialplan_wins(line, database):
    """The rendered dialplan calls queue_callback?queue=<skill>: that names the queue."""
    line.call(flow=FLOW_QUEUE_CALLBACK, params={"queue": "emergency"}, variables={"HOTLINE_QUEUE": "general"})
    with database.transaction() as s:
        assert s.scalars(select(Callback.queue)).all() == ["emergency"]


def test_unknown_queue_name_falls_back_to_general(line, database):
    """A HOTLINE_QUEUE naming no configured queue (a stale dialplan) is taken as general."""
    line.call(flow=FLOW_QUEUE_CALLBACK, variables={"QUEUEPOSITION": "1", "HOTLINE_QUEUE": "gone"})
    with database.transaction() as s:
        assert s.scalars(select(Callback.queue)).all() == ["general"]


def test_missing_position_is_still_a_request(line, database):
    """Without QUEUEPOSITION the request is stored, its place taken from the call's join time."""
    line.call(flow=FLOW_QUEUE_CALLBACK)
    with database.transaction() as s:
        assert s.scalars(select(Callback.position)).all() == [None]


def test_naive_time_is_refused(database):
    """Times are aware; a naive one would shift by the server's zone."""
    with pytest.raises(ValueError, match="naive"), database.transaction() as s:
        callbacks.request_queue_callback(s, uniqueid="q.9", phone="13812345678", queue="general", position=1, at=datetime(2026, 1, 1))


def test_database_refuses_a_second_queue_callback_for_one_call(database):
    """The partial unique index keeps one queue callback per call, whoever inserts it."""
    from sqlalchemy.exc import IntegrityError

    from hotline.storage.models import Call as CallRow
    from hotline.storage.models import Callback as CallbackRow
    from hotline.storage.models import CallbackKind as Kind
    from hotline.storage.models import utcnow as now

    with database.transaction() as s:
        call = CallRow(uniqueid="1700000000.12")
        s.add(call)
        s.flush()
        s.add(CallbackRow(kind=Kind.QUEUE, call_id=call.id, phone="+8613812345678", due_at=now()))
        call_id = call.id
    with pytest.raises(IntegrityError), database.transaction() as s:
        s.add(CallbackRow(kind=Kind.QUEUE, call_id=call_id, phone="+8613812345678", due_at=now()))
    with database.transaction() as s:
        s.add(CallbackRow(kind=Kind.SATISFACTION, call_id=call_id, phone="+8613812345678", due_at=now()))
