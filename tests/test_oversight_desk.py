"""The oversight pages over real HTTP on both backends: the board with its filters and the
department scope, 督办 and extension requests end to end between a department and a
supervisor, the reworked list and the printable daily summary; bad input gets a specific
answer and another department's case is 404. (Every route × role is in tests/test_desk.py,
generated from agent_desk.routes.)"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from hotline.storage.db import Database
from hotline.storage.models import AuditEntry, TicketSource, utcnow
from hotline.tickets import services
from hotline.tickets.services import Actor
from hotline.tickets.workflow import Action
from hotline.worktime import TimeLimit
from tests import test_desk
from tests.desk_server import POLICY, Client
from tests.test_desk import signed_in

CST = ZoneInfo("Asia/Shanghai")
#: The desk's fixture: a seeded database and a desk serving it.
desk = test_desk.desk
XSS = '<script>alert("x")</script>'
SQL = "' OR 1=1; --"


def dispatched(database: Database, department_id: int, when: datetime, limit: str | None = None) -> str:
    """A case dispatched at `when` (the seed's category: 5 working days by default)."""

    def work(s: Any) -> str:
        actor = Actor("op")
        t = services.open_ticket(s, POLICY, source=TicketSource.HOTLINE, actor=actor, caller_number="13812345678", description="井盖破损", location="香港中路 1 号", category_id=1, at=when)
        services.apply(s, POLICY, t, Action.REGISTER, actor=actor, at=when)
        services.apply(s, POLICY, t, Action.DISPATCH, actor=actor, at=when, department_id=department_id, time_limit=limit)
        return t.number

    return database.run(work)


def post(client: Client, path: str, **fields: str) -> Any:
    return client.post(path, {"csrf": client.csrf(), **fields})


def test_the_board_by_department_with_filters_and_scope(desk: tuple[int, dict[str, int], Database]) -> None:
    port, ids, database = desk
    late = dispatched(database, ids["roads"], datetime(2026, 1, 5, 9, 0, tzinfo=CST))  # long overdue
    soon = dispatched(database, ids["roads"], utcnow(), limit="2 hours")  # clock hours: due soon whatever the day
    parks = dispatched(database, ids["parks"], datetime(2026, 1, 6, 9, 0, tzinfo=CST))
    supervisor = signed_in(port, "supervisor")
    page = supervisor.get("/desk/oversight")
    assert page.status == 200 and "督办" in page.body
    for number in (late, soon, parks):
        assert f'href="/desk/tickets/{number}"' in page.body
    assert 'data-count="overdue">2<' in page.body and 'data-count="due_soon">1<' in page.body
    assert re.search(rf'data-number="{late}".*?超时 [0-9.]+ 工作时', page.body, re.S)
    assert re.search(rf'data-number="{soon}".*?剩余 [0-9.]+ 小时', page.body, re.S)
    assert page.body.index(f'data-department="{ids["roads"]}"') < page.body.index(f'data-department="{ids["parks"]}"')  # most overdue first
    only_parks = supervisor.get(f"/desk/oversight?department={ids['parks']}").body
    assert parks in only_parks and late not in only_parks
    assert late not in supervisor.get("/desk/oversight?urgency=urgent").body
    assert supervisor.get("/desk/oversight?sort=urgency").status == 200
    mine = signed_in(port, "dept").get("/desk/oversight").body
    assert late in mine and soon in mine and parks not in mine
    assert parks not in signed_in(port, "dept").get(f"/desk/oversight?department={ids['parks']}").body
    for name, value in (("department", SQL), ("category", SQL), ("urgency", SQL), ("sort", SQL), ("within", "0"), ("within", SQL)):
        response = supervisor.get(f"/desk/oversight?{name}=" + quote(value))
        assert response.status == 400 and name in response.body, name
    assert "市政道路处" in supervisor.get("/desk/tickets").body  # the desk still serves


def test_urging_a_department_shows_on_its_case_and_board(desk: tuple[int, dict[str, int], Database]) -> None:
    port, ids, database = desk
    number = dispatched(database, ids["roads"], datetime(2026, 1, 5, 9, 0, tzinfo=CST))
    supervisor, dept, dept2 = signed_in(port, "supervisor"), signed_in(port, "dept"), signed_in(port, "dept2")
    assert 'data-form="urge"' in supervisor.get(f"/desk/tickets/{number}").body
    assert 'data-form="urge"' not in dept.get(f"/desk/tickets/{number}").body
    done = post(supervisor, f"/desk/oversight/cases/{number}/urge", note="请今天内处理并反馈")
    assert done.status == 303 and done.headers["location"] == f"/desk/tickets/{number}#oversight"
    post(supervisor, f"/desk/oversight/cases/{number}/urge", note=XSS)
    case = dept.get(f"/desk/tickets/{number}").body
    assert "请今天内处理并反馈" in case and "已督办 2 次" in case
    assert "<script>alert" not in case and "&lt;script&gt;" in case
    board = dept.get("/desk/oversight").body
    assert re.search(rf'class="overdue urged" data-number="{number}"', board) and "已督办 2 次" in board
    empty = post(supervisor, f"/desk/oversight/cases/{number}/urge", note="  ")
    assert empty.status == 303 and "error=" in empty.headers["location"]
    assert "督办意见" in supervisor.get(empty.headers["location"].removeprefix("http://127.0.0.1")).body
    assert post(supervisor, "/desk/oversight/cases/0000/urge", note="x").status == 404
    assert post(dept2, f"/desk/oversight/cases/{number}/urge", note="x").status == 403
    urged = database.read(lambda s: [(e.username, e.action) for e in s.query(AuditEntry).filter(AuditEntry.target == f"ticket:{number}")])
    assert urged == [("supervisor", "ticket_urged")] * 2


def test_an_extension_request_from_the_department_to_the_supervisor_and_back(desk: tuple[int, dict[str, int], Database]) -> None:
    port, ids, database = desk
    number = dispatched(database, ids["roads"], datetime(2026, 1, 5, 9, 0, tzinfo=CST))
    path = f"/desk/oversight/cases/{number}/extension"
    supervisor, dept, dept2 = signed_in(port, "supervisor"), signed_in(port, "dept"), signed_in(port, "dept2")
    assert 'data-form="request-extension"' in dept.get(f"/desk/tickets/{number}").body
    for fields, named in (({"amount": "x", "unit": "working_days"}, "amount"), ({"amount": "0", "unit": "working_days"}, "amount"), ({"amount": "2", "unit": "days"}, "unit")):
        bad = post(dept, path, reason="x", **fields)
        assert bad.status == 400 and named in bad.body, fields
    assert post(dept2, path, amount="2", unit="working_days", reason="x").status == 404  # another department's case
    assert post(supervisor, path, amount="2", unit="working_days", reason="x").status == 403
    assert post(dept, path, amount="2", unit="working_days", reason=XSS + "需要更换井座").status == 303
    again = post(dept, path, amount="1", unit="working_days", reason="再申请")
    assert "error=" in again.headers["location"]
    for who in (dept, supervisor):
        page = who.get(f"/desk/tickets/{number}").body
        assert "已申请延期，等待审批" in page and "2个工作日" in page and "&lt;script&gt;" in page and "<script>alert" not in page
    board = supervisor.get("/desk/oversight").body
    assert "待审批的延期申请" in board and f'href="/desk/tickets/{number}#oversight"' in board
    request_id = re.search(r'name="request" value="(\d+)"', supervisor.get(f"/desk/tickets/{number}").body)
    assert request_id is not None
    decide = f"/desk/oversight/cases/{number}/extension/decision"
    assert post(supervisor, decide, request="x", decision="approve").status == 400
    assert post(supervisor, decide, request=request_id.group(1), decision="maybe").status == 400
    assert post(dept, decide, request=request_id.group(1), decision="approve").status == 403
    refused = post(supervisor, decide, request=request_id.group(1), decision="refuse", note="")
    assert "error=" in refused.headers["location"]
    before = database.read(lambda s: services.get(s, number).deadline_at)
    assert post(supervisor, decide, request=request_id.group(1), decision="approve", note="同意延期").status == 303
    after = database.read(lambda s: services.get(s, number).deadline_at)
    assert after == POLICY.calendar.deadline(before, TimeLimit.parse("2 working_days"))
    outcome = dept.get(f"/desk/tickets/{number}").body
    assert "已批准" in outcome and "同意延期" in outcome and after.astimezone(CST).strftime("%Y-%m-%d %H:%M") in outcome
    assert 'data-form="request-extension"' in outcome  # may ask again
    audit = database.read(lambda s: [(e.username, e.action) for e in s.query(AuditEntry).filter(AuditEntry.target == f"ticket:{number}").order_by(AuditEntry.id)])
    assert audit == [("dept", "extension_requested"), ("supervisor", "extension_approved")]


def test_reworked_cases_and_their_filters(desk: tuple[int, dict[str, int], Database]) -> None:
    port, ids, database = desk
    number = dispatched(database, ids["roads"], datetime(2026, 1, 5, 9, 0, tzinfo=CST))
    actor = Actor("supervisor")
    database.run(lambda s: services.apply(s, POLICY, number, Action.HANDLE, actor=actor, reason="done"))
    database.run(lambda s: services.apply(s, POLICY, number, Action.REWORK, actor=actor, reason="井盖仍松动"))
    supervisor = signed_in(port, "supervisor")
    page = supervisor.get("/desk/oversight/reworked").body
    assert re.search(rf'data-number="{number}".*?data-times>1<', page, re.S)
    assert number in signed_in(port, "dept").get("/desk/oversight/reworked").body
    assert number not in signed_in(port, "dept2").get("/desk/oversight/reworked").body
    assert number not in supervisor.get(f"/desk/oversight/reworked?department={ids['parks']}").body
    for name in ("department", "category", "since", "until"):
        response = supervisor.get(f"/desk/oversight/reworked?{name}=" + quote(SQL))
        assert response.status == 400 and name in response.body, name


def test_the_daily_summary_prints(desk: tuple[int, dict[str, int], Database]) -> None:
    port, ids, database = desk
    number = dispatched(database, ids["roads"], datetime(2026, 1, 5, 9, 0, tzinfo=CST))
    supervisor = signed_in(port, "supervisor")
    post(supervisor, f"/desk/oversight/cases/{number}/urge", note="快")
    today = utcnow().astimezone(CST).date()
    page = supervisor.get("/desk/oversight/daily").body
    assert f"日报 {today}" in page and "oversight.css" in page and "data-print" in page
    assert re.search(r'data-department="total">.*?data-figure="urged">1<', page, re.S)
    day = supervisor.get("/desk/oversight/daily?date=2026-01-05").body
    assert re.search(r'data-department="total">.*?data-figure="received">1<.*?data-figure="dispatched">1<', day, re.S)
    assert "市政道路处" in day
    assert "当天没有业务" in supervisor.get("/desk/oversight/daily?date=2020-01-01").body
    for value in ("2026-13-01", SQL, "yesterday"):
        response = supervisor.get("/desk/oversight/daily?date=" + quote(value))
        assert response.status == 400 and "date" in response.body
    css = supervisor.get("/desk/static/oversight.css")
    assert css.status == 200 and "@media print" in css.body
