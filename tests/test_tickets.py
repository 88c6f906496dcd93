"""Ticket services on SQLite and PostgreSQL: the whole life of a case, illegal moves,
extensions, rework, reopen after an unsatisfied callback, due-soon and overdue queries,
and ticket numbers under concurrent creation."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from hotline.storage.models import (
    Assignment,
    Category,
    CategoryKind,
    Department,
    Extension,
    Ticket,
    TicketEvent,
    TicketSource,
    TicketStatus,
    Urgency,
)
from hotline.tickets import services as tickets
from hotline.tickets.services import SYSTEM, Actor, TicketPolicy
from hotline.tickets.workflow import RULES, Action, IllegalTransition, InvalidValue, MissingField, StaleTicket, WorkflowError
from hotline.worktime import WorkingCalendar

CST = ZoneInfo("Asia/Shanghai")
POLICY = TicketPolicy(calendar=WorkingCalendar(tz=CST))
OPERATOR = Actor("op1")


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=CST)


@pytest.fixture
def ref(database):
    """Two departments and a small taxonomy: sanitation (4 working days) and a manhole class
    (urgent, 4 clock hours)."""
    with database.transaction() as s:
        san = Department(code="SAN", name_zh="环境卫生")
        mun = Department(code="MUN", name_zh="市政工程")
        s.add_all([san, mun])
        s.flush()
        env = Category(code="2001", kind=CategoryKind.EVENT, name_zh="市容环境", default_department_id=san.id, time_limit="4 working_days", urgent_time_limit="4 hours")
        pub = Category(code="1001", kind=CategoryKind.COMPONENT, name_zh="公共设施", default_department_id=mun.id, time_limit="5 working_days", urgent_time_limit="4 hours")
        s.add_all([env, pub])
        s.flush()
        garbage = Category(code="200102", kind=CategoryKind.EVENT, name_zh="暴露垃圾", parent_id=env.id)
        manhole = Category(code="100101", kind=CategoryKind.COMPONENT, name_zh="上水井盖", parent_id=pub.id, time_limit="4 hours", urgent_time_limit="4 hours")
        s.add_all([garbage, manhole])
        s.flush()
        return {"san": san.id, "mun": mun.id, "garbage": garbage.id, "manhole": manhole.id}


def _open(s, when=None, **kw):
    kw.setdefault("caller_number", "13812345678")
    return tickets.open_ticket(s, POLICY, source=TicketSource.HOTLINE, actor=SYSTEM, at=when or at(2026, 3, 2, 9, 0), **kw)


def test_full_life_of_a_case(database, ref):
    """受理 → 立案 → 派遣 → 处置 → 核查 → 结案 → 回访, each step stamped and kept."""
    with database.transaction() as s:
        t = _open(s, description="小区门口垃圾堆积")
        tickets.apply(s, POLICY, t, Action.REGISTER, actor=OPERATOR, at=at(2026, 3, 2, 9, 5), category_id=ref["garbage"])
        tickets.apply(s, POLICY, t, Action.DISPATCH, actor=OPERATOR, at=at(2026, 3, 2, 9, 10))
        # Inherited from 市容环境: 4 working days from Monday 09:10 → Friday 09:10.
        assert t.department_id == ref["san"] and t.time_limit == "4 working_days"
        assert t.deadline_at == at(2026, 3, 6, 9, 10)
        tickets.apply(s, POLICY, t, Action.HANDLE, actor=Actor("san1"), at=at(2026, 3, 4, 15, 0), reason="已清运")
        tickets.apply(s, POLICY, t, Action.VERIFY, actor=Actor("inspector"), at=at(2026, 3, 5, 10, 0))
        tickets.apply(s, POLICY, t, Action.CLOSE, actor=OPERATOR, at=at(2026, 3, 5, 11, 0))
        tickets.record_callback(s, POLICY, t, actor=Actor("cb1"), satisfaction="满意", at=at(2026, 3, 6, 10, 0))
        number = t.number
    with database.transaction() as s:
        t = tickets.get(s, number)
        assert number == "2603020001"
        assert t.status is TicketStatus.CLOSED and t.closed_on_time and t.handled_on_time and t.satisfied
        steps = [(e.action, e.from_status, e.to_status, e.actor) for e in tickets.history(s, t)]
        assert steps == [
            ("receive", None, TicketStatus.RECEIVED, "system"),
            ("register", TicketStatus.RECEIVED, TicketStatus.REGISTERED, "op1"),
            ("dispatch", TicketStatus.REGISTERED, TicketStatus.DISPATCHED, "op1"),
            ("handle", TicketStatus.DISPATCHED, TicketStatus.HANDLED, "san1"),
            ("verify", TicketStatus.HANDLED, TicketStatus.VERIFIED, "inspector"),
            ("close", TicketStatus.VERIFIED, TicketStatus.CLOSED, "op1"),
            ("callback", TicketStatus.CLOSED, TicketStatus.CLOSED, "cb1"),
        ]
        assert [e.seq for e in tickets.history(s, t)] == list(range(1, 8))


def test_illegal_move_raises_and_changes_nothing(database, ref):
    """Closing a ticket that was only dispatched is refused; status, version and history stay."""
    with database.transaction() as s:
        t = _open(s, category_id=ref["garbage"])
        tickets.apply(s, POLICY, t, Action.REGISTER, actor=OPERATOR)
        tickets.apply(s, POLICY, t, Action.DISPATCH, actor=OPERATOR)
        number, version = t.number, t.version
    with pytest.raises(IllegalTransition, match="cannot close"), database.transaction() as s:
        tickets.apply(s, POLICY, number, Action.CLOSE, actor=OPERATOR)
    with database.transaction() as s:
        t = tickets.get(s, number)
        assert t.status is TicketStatus.DISPATCHED and t.version == version and t.closed_at is None
        assert len(tickets.history(s, t)) == 3


def test_missing_and_invalid_input_is_refused(database, ref):
    """Rejecting without a reason, dispatching to no department, an unknown satisfaction level."""
    with database.transaction() as s:
        t = _open(s)
        with pytest.raises(MissingField, match="reason"):
            tickets.apply(s, POLICY, t, Action.REJECT, actor=OPERATOR)
        with pytest.raises(MissingField, match="category_id"):
            tickets.apply(s, POLICY, t, Action.REGISTER, actor=OPERATOR)
        with pytest.raises(InvalidValue, match="no category with id 999"):
            tickets.apply(s, POLICY, t, Action.REGISTER, actor=OPERATOR, category_id=999)
        with pytest.raises(WorkflowError, match="unknown action 'explode'"):
            tickets.apply(s, POLICY, t, "explode", actor=OPERATOR)
        tickets.apply(s, POLICY, t, Action.ANSWER, actor=OPERATOR, reason="政策咨询，已答复")
        with pytest.raises(InvalidValue, match="not one of 满意, 基本满意, 不满意"):
            tickets.apply(s, POLICY, t, Action.CALLBACK, actor=OPERATOR, satisfaction="great")
        assert t.status is TicketStatus.ANSWERED


def test_urgent_manhole_gets_four_clock_hours(database, ref):
    """A missing manhole cover is urgent: 4 natural hours, through a night and a holiday."""
    with database.transaction() as s:
        t = _open(s, when=at(2026, 10, 1, 22, 0), category_id=ref["manhole"], urgency=Urgency.URGENT)
        tickets.apply(s, POLICY, t, Action.REGISTER, actor=OPERATOR, at=at(2026, 10, 1, 22, 1))
        tickets.apply(s, POLICY, t, Action.DISPATCH, actor=OPERATOR, at=at(2026, 10, 1, 22, 2))
        assert t.department_id == ref["mun"] and t.time_limit == "4 hours"
        assert t.deadline_at == at(2026, 10, 2, 2, 2)


def test_extension_is_recorded_not_overwritten(database, ref):
    """延期 moves the deadline in force; the original deadline and each extension are kept."""
    with database.transaction() as s:
        t = _open(s, category_id=ref["garbage"])
        tickets.apply(s, POLICY, t, Action.REGISTER, actor=OPERATOR)
        tickets.apply(s, POLICY, t, Action.DISPATCH, actor=OPERATOR, at=at(2026, 3, 2, 9, 10))
        tickets.apply(s, POLICY, t, Action.EXTEND, actor=OPERATOR, at=at(2026, 3, 5, 9, 0), extra="2 working_days", reason="需协调产权单位")
        tickets.apply(s, POLICY, t, Action.EXTEND, actor=OPERATOR, at=at(2026, 3, 9, 9, 0), extra="1 working_days", reason="雨天")
        ticket_id = t.id
    with database.transaction() as s:
        t = s.get(Ticket, ticket_id)
        (round1,) = s.scalars(select(Assignment).where(Assignment.ticket_id == ticket_id)).all()
        assert round1.deadline_at == at(2026, 3, 6, 9, 10)
        assert round1.extended_deadline_at == t.deadline_at == at(2026, 3, 11, 9, 10)
        exts = s.scalars(select(Extension).order_by(Extension.id)).all()
        assert [(e.old_deadline_at, e.new_deadline_at, e.added) for e in exts] == [
            (at(2026, 3, 6, 9, 10), at(2026, 3, 10, 9, 10), "2 working_days"),
            (at(2026, 3, 10, 9, 10), at(2026, 3, 11, 9, 10), "1 working_days"),
        ]
        assert t.extension_count == 2


def test_rework_starts_a_new_round_and_keeps_the_old(database, ref):
    """返工 after a failed verification dispatches again; round 1 stays as handled."""
    with database.transaction() as s:
        t = _open(s, category_id=ref["garbage"])
        tickets.apply(s, POLICY, t, Action.REGISTER, actor=OPERATOR)
        tickets.apply(s, POLICY, t, Action.DISPATCH, actor=OPERATOR, at=at(2026, 3, 2, 10, 0))
        tickets.apply(s, POLICY, t, Action.HANDLE, actor=OPERATOR, at=at(2026, 3, 3, 10, 0), reason="已处理")
        tickets.apply(s, POLICY, t, Action.REWORK, actor=Actor("inspector"), at=at(2026, 3, 3, 16, 0), reason="现场仍有垃圾")
        rounds = s.scalars(select(Assignment).where(Assignment.ticket_id == t.id).order_by(Assignment.round)).all()
        assert [(r.round, r.reason, r.outcome, r.department_id) for r in rounds] == [(1, "dispatch", "handled", ref["san"]), (2, "rework", None, ref["san"])]
        assert t.status is TicketStatus.DISPATCHED and t.rework_count == 1 and t.handled_at is None
        assert t.deadline_at == at(2026, 3, 9, 16, 0)


def test_unsatisfied_callback_reopens_and_redispatches(database, ref):
    """不满意 sends the closed ticket back to the same department with a fresh deadline."""
    with database.transaction() as s:
        t = _open(s, category_id=ref["garbage"])
        for action, when in [(Action.REGISTER, 1), (Action.DISPATCH, 2), (Action.HANDLE, 3), (Action.VERIFY, 4), (Action.CLOSE, 5)]:
            tickets.apply(s, POLICY, t, action, actor=OPERATOR, at=at(2026, 3, 2, 9 + when, 0), reason="ok")
        tickets.record_callback(s, POLICY, t, actor=Actor("cb1"), satisfaction="不满意", note="垃圾又堆起来了", at=at(2026, 3, 3, 10, 0))
        assert t.status is TicketStatus.DISPATCHED and t.reopen_count == 1 and t.satisfied is False
        assert t.closed_at is None and t.closed_on_time is None
        assert t.department_id == ref["san"] and t.dispatch_count == 2
        assert t.deadline_at == at(2026, 3, 9, 10, 0)
        actions = [e.action for e in tickets.history(s, t)]
        assert actions[-3:] == ["callback", "reopen", "dispatch"]
        rounds = s.scalars(select(Assignment.reason).where(Assignment.ticket_id == t.id).order_by(Assignment.round)).all()
        assert rounds == ["dispatch", "reopen"]


def test_return_then_redispatch_elsewhere(database, ref):
    """退回 ends the round; the next dispatch to another department is a 'redispatch' round."""
    with database.transaction() as s:
        t = _open(s, category_id=ref["garbage"])
        tickets.apply(s, POLICY, t, Action.REGISTER, actor=OPERATOR)
        tickets.apply(s, POLICY, t, Action.DISPATCH, actor=OPERATOR)
        tickets.apply(s, POLICY, t, Action.RETURN, actor=Actor("san1"), reason="不属于本单位")
        assert t.status is TicketStatus.REGISTERED and t.department_id is None and t.deadline_at is None
        tickets.apply(s, POLICY, t, Action.DISPATCH, actor=OPERATOR, department_id=ref["mun"])
        rounds = s.scalars(select(Assignment).where(Assignment.ticket_id == t.id).order_by(Assignment.round)).all()
        assert [(r.reason, r.outcome, r.department_id) for r in rounds] == [("dispatch", "returned", ref["san"]), ("redispatch", None, ref["mun"])]


def test_stale_version_is_refused(database, ref):
    """A desk that shows version 1 cannot move a ticket someone else already moved."""
    with database.transaction() as s:
        t = _open(s, category_id=ref["garbage"])
        number = t.number
    with database.transaction() as s:
        tickets.apply(s, POLICY, number, Action.REGISTER, actor=OPERATOR, expected_version=1)
    with pytest.raises(StaleTicket, match="reload"), database.transaction() as s:
        tickets.apply(s, POLICY, number, Action.NOTE, actor=OPERATOR, reason="x", expected_version=1)


def test_concurrent_edits_one_wins(database, ref):
    """Two operators act on the same new ticket at once: exactly one move lands."""
    with database.transaction() as s:
        number = _open(s, category_id=ref["garbage"]).number
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def act(action: Action, **kw) -> None:
        barrier.wait(timeout=30)
        try:
            with database.transaction() as s:
                tickets.apply(s, POLICY, number, action, actor=OPERATOR, **kw)
            outcomes.append("ok")
        except (StaleTicket, IllegalTransition) as exc:
            outcomes.append(type(exc).__name__)

    threads = [threading.Thread(target=act, args=(Action.REGISTER,)), threading.Thread(target=act, args=(Action.REJECT,), kwargs={"reason": "重复"})]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=60)
    assert sorted(outcomes)[0] in ("IllegalTransition", "StaleTicket") and outcomes.count("ok") == 1
    with database.transaction() as s:
        t = tickets.get(s, number)
        assert t.status in (TicketStatus.REGISTERED, TicketStatus.REJECTED) and len(tickets.history(s, t)) == 2


def test_due_soon_overdue_and_caller_queries(database, ref):
    """Due-soon and overdue lists split dispatched tickets by deadline; a caller finds theirs."""
    with database.transaction() as s:
        made = []
        for i, hours in enumerate([1, 3, 30]):
            t = _open(s, caller_number=f"0532-8888 000{i}", category_id=ref["garbage"])
            tickets.apply(s, POLICY, t, Action.REGISTER, actor=OPERATOR)
            tickets.apply(s, POLICY, t, Action.DISPATCH, actor=OPERATOR, at=at(2026, 3, 2, 9, 0), time_limit=f"{hours} hours")
            made.append(t.number)
        now = at(2026, 3, 2, 11, 0)
        assert [t.number for t in tickets.overdue(s, now)] == [made[0]]
        assert [t.number for t in tickets.due_soon(s, now, timedelta(hours=24))] == [made[1]]
        assert [t.number for t in tickets.due_soon(s, now, timedelta(hours=48))] == [made[1], made[2]]
        mine = tickets.for_caller(s, "+86 532 8888 0002")
        assert [t.number for t in mine] == [made[2]] and mine[0].caller_number == "+8653288880002"
        assert tickets.for_caller(s, "053288880002", open_only=True)[0].number == made[2]
        assert tickets.for_caller(s, "anonymous") == []


def test_ticket_numbers_are_per_day_and_readable(database, ref):
    """Numbers are yymmdd + sequence in local time and restart each day."""
    with database.transaction() as s:
        # 2026-03-02 23:30 in Shanghai is still the 2nd, though UTC has it at 15:30.
        a = _open(s, when=at(2026, 3, 2, 23, 30)).number
        b = _open(s, when=at(2026, 3, 3, 0, 10)).number
        c = _open(s, when=at(2026, 3, 3, 8, 0)).number
    assert (a, b, c) == ("2603020001", "2603030001", "2603030002")


def test_ticket_numbers_unique_under_concurrency(database):
    """Twenty threads opening tickets at once get twenty distinct, gap-free numbers."""
    count = 20
    barrier = threading.Barrier(count)
    numbers: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def worker() -> None:
        try:
            barrier.wait(timeout=30)
            with database.transaction() as s:
                n = _open(s, when=at(2026, 5, 9, 10, 0)).number
            with lock:
                numbers.append(n)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(count)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=60)
    assert not errors, errors
    assert sorted(numbers) == [f"260509{i:04d}" for i in range(1, count + 1)]


# -- property: no sequence of actions reaches an illegal state or loses history

_ARGS = st.fixed_dictionaries(
    {
        "reason": st.sampled_from(["理由", None]),
        "extra": st.sampled_from(["2 working_hours", "1 working_days", None]),
        "satisfaction": st.sampled_from(["满意", "基本满意", "不满意", None]),
    }
)
_STEPS = st.lists(st.tuples(st.sampled_from([a for a in Action if a is not Action.RECEIVE]), _ARGS, st.integers(min_value=1, max_value=600)), max_size=25)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(steps=_STEPS)
def test_no_sequence_reaches_an_illegal_state(database, ref, steps):
    """Random action sequences: legal ones apply, illegal ones change nothing, history is complete."""
    with database.transaction() as s:
        t = _open(s, when=at(2025, 1, 20, 9, 0))
        when = at(2025, 1, 20, 9, 0)
        applied = 1
        for action, args, minutes in steps:
            when += timedelta(minutes=minutes)
            before = (t.status, t.version)
            history_before = s.scalar(select(func.count()).select_from(TicketEvent).where(TicketEvent.ticket_id == t.id))
            kwargs = dict(args)
            if action is Action.REGISTER:
                kwargs["category_id"] = ref["garbage"]
            try:
                tickets.apply(s, POLICY, t, action, actor=OPERATOR, at=when, **kwargs)
            except WorkflowError:
                assert (t.status, t.version) == before
                assert s.scalar(select(func.count()).select_from(TicketEvent).where(TicketEvent.ticket_id == t.id)) == history_before
                continue
            applied += 1
        _assert_consistent(s, t, applied)


def _assert_consistent(s, t: Ticket, applied: int) -> None:
    events = tickets.history(s, t)
    assert len(events) == applied
    assert [e.seq for e in events] == list(range(1, applied + 1))
    # The chain of statuses is unbroken and every step was allowed by the table.
    status = None
    for e in events:
        assert e.from_status == status
        if e.action != "receive":
            rule = RULES[Action(e.action)]
            assert e.from_status in rule.sources and e.to_status == rule.target_from(e.from_status)
        status = e.to_status
    assert status == t.status
    counts = {a: sum(1 for e in events if e.action == a) for a in ("dispatch", "rework", "extend", "reopen")}
    rounds = s.scalars(select(Assignment).where(Assignment.ticket_id == t.id)).all()
    assert t.dispatch_count == len(rounds) == counts["dispatch"] + counts["rework"]
    assert t.rework_count == counts["rework"] and t.extension_count == counts["extend"] and t.reopen_count == counts["reopen"]
    assert (t.closed_at is not None) == (t.status is TicketStatus.CLOSED)
    assert (t.deadline_at is not None) == (t.status in (TicketStatus.DISPATCHED, TicketStatus.HANDLED, TicketStatus.VERIFIED, TicketStatus.CLOSED))
    assert sum(1 for r in rounds if r.ended_at is None) == (1 if t.status is TicketStatus.DISPATCHED else 0)
