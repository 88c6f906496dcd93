"""The intake pages over real HTTP on both backends: the form opened from a call, a message per
wrong field with what was typed kept, the category search route, duplicates offered and the
caller added to the open case, a case answered directly, finding a case on the phone, who
reported a case on the ticket page, and the roles each route refuses."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import quote

import pytest
from prometheus_client import generate_latest
from sqlalchemy import select

from hotline.calllog import records
from hotline.metrics import Metrics
from hotline.storage.db import Database
from hotline.storage.models import AuditEntry, Call, Category, CategoryKind, Ticket, TicketStatus, utcnow
from tests.desk_server import Client, Response, running_desk, seed

XSS = '<script>alert("x")</script>'
UNIQUEID = "1796272279.6"


@pytest.fixture
def desk(database: Database) -> Iterator[tuple[int, dict[str, int], Database, Metrics]]:
    ids = seed(database)

    def more(s: Any) -> None:
        s.add(Category(code="200199", kind=CategoryKind.EVENT, name_zh="垃圾堆放", name_en="Garbage piled up", default_department_id=ids["roads"]))
        at = utcnow() - timedelta(minutes=2)
        records.start_call(s, uniqueid=UNIQUEID, caller_number="13912345678", caller_name="", at=at)
        records.add_event(s, uniqueid=UNIQUEID, kind="language", detail={"lang": "en"}, at=at)

    database.run(more)
    ids["garbage"] = database.read(lambda s: s.scalars(select(Category.id).where(Category.code == "200199")).one())
    metrics = Metrics()
    with running_desk(database, metrics=metrics) as port:
        yield port, ids, database, metrics


def signed_in(port: int, username: str) -> Client:
    client = Client(port)
    assert client.login(username).status == 303
    return client


def post_form(client: Client, path: str = "/desk/tickets/new", **fields: str) -> Response:
    return client.post(path, {"csrf": client.csrf("/desk/tickets/new"), **fields})


def case(ids: dict[str, int], **fields: str) -> dict[str, str]:
    return {"caller": "13812345678", "caller_name": "张先生", "category": str(ids["garbage"]), "location": "香港中路1号", "description": "路边垃圾堆了三天", "urgency": "normal"} | fields


def test_the_form_opened_from_a_call_takes_the_callers_number_language_and_links_the_call(desk: tuple[int, dict[str, int], Database, Metrics]) -> None:
    port, ids, database, _ = desk
    operator = signed_in(port, "operator")
    page = operator.get(f"/desk/tickets/new?call={UNIQUEID}")
    assert page.status == 200 and 'name="caller" value="13912345678"' in page.body and "English" in page.body and f'name="call" value="{UNIQUEID}"' in page.body
    assert "通话中" in page.body and "该来电人此前没有反映过问题" in page.body
    created = post_form(operator, **case(ids, caller="13912345678", call=UNIQUEID, location="延安三路5号"))
    assert created.status == 303, created.body
    number = created.headers["location"].rsplit("/", 1)[1]
    ticket_id, call_id, linked = database.read(
        lambda s: (
            s.scalars(select(Ticket.call_id).where(Ticket.number == number)).one(),
            s.scalars(select(Call.id).where(Call.uniqueid == UNIQUEID)).one(),
            s.scalars(select(Call.ticket_id).where(Call.uniqueid == UNIQUEID)).one(),
        )
    )
    assert ticket_id == call_id and linked is not None
    assert "暂无" not in operator.get(f"/desk/tickets/{number}").body.split("通话")[1][:200]  # the call is on the case
    # The next time this caller is on the line, the form lists their case.
    again = operator.get(f"/desk/tickets/new?call={UNIQUEID}")
    assert "该来电人的工单" in again.body and number in again.body
    unknown = operator.get("/desk/tickets/new?call=" + quote(XSS))
    assert unknown.status == 200 and "找不到这通电话的记录" in unknown.body and "<script>alert" not in unknown.body


def test_each_wrong_field_gets_its_own_message_and_the_form_keeps_what_was_typed(desk: tuple[int, dict[str, int], Database, Metrics]) -> None:
    port, ids, database, _ = desk
    operator = signed_in(port, "operator")
    bad = post_form(operator, caller="call me", caller_name=XSS, category="999", location="", description="", urgency="very", call="nope")
    assert bad.status == 400
    for message in ("号码格式不对", "请从列表中选择分类", "请填写问题地点", "请按来电人的说法描述问题", "请从列表中选择紧急程度", "找不到这通电话的记录"):
        assert message in bad.body, message
    assert bad.body.count('aria-invalid="true"') == 5
    assert 'value="call me"' in bad.body and "&lt;script&gt;" in bad.body and "<script>alert" not in bad.body
    typed = post_form(operator, **case(ids, caller="12ab"))  # the rest is fine and kept
    assert typed.status == 400 and "路边垃圾堆了三天" in typed.body and 'value="香港中路1号"' in typed.body
    long = post_form(operator, **case(ids, description="很" * 4001))
    assert long.status == 400 and "内容太长" in long.body
    answer = post_form(operator, **case(ids, outcome="answer", answer=""))
    assert answer.status == 400 and "请填写给来电人的答复" in answer.body
    assert database.read(lambda s: s.scalars(select(Ticket)).all()) == []


def test_category_search_route_answers_json(desk: tuple[int, dict[str, int], Database, Metrics]) -> None:
    port, ids, _, _ = desk
    operator = signed_in(port, "operator")
    found = operator.get("/desk/intake/categories?q=ljdf")
    assert found.status == 200 and found.headers["content-type"].startswith("application/json")
    body = json.loads(found.body)
    assert body["query"] == "ljdf" and body["results"][0]["name_zh"] == "垃圾堆放" and body["results"][0]["id"] == ids["garbage"]
    assert json.loads(operator.get("/desk/intake/categories?q=" + quote("井盖")).body)["results"][0]["name_zh"] == "井盖破损"
    for value in ("' OR 1=1; --", "%", XSS, ""):
        answer = operator.get("/desk/intake/categories?q=" + quote(value))
        assert answer.status == 200 and json.loads(answer.body)["results"] == [], value
    too_long = operator.get("/desk/intake/categories?q=" + "a" * 41)
    assert too_long.status == 400 and "at most 40" in json.loads(too_long.body)["error"]
    assert signed_in(port, "dept").get("/desk/intake/categories?q=jg").status == 403


def test_a_duplicate_is_offered_and_the_caller_joins_it(desk: tuple[int, dict[str, int], Database, Metrics]) -> None:
    port, ids, database, metrics = desk
    operator = signed_in(port, "operator")
    first = post_form(operator, **case(ids))
    number = first.headers["location"].rsplit("/", 1)[1]
    fragment = operator.get(f"/desk/intake/duplicates?category={ids['garbage']}&location=" + quote("市南区香港中路 1 号"))
    assert fragment.status == 200 and number in fragment.body and "<html" not in fragment.body and f'data-offered="{number}"' in fragment.body
    assert number not in operator.get(f"/desk/intake/duplicates?category={ids['garbage']}&location=" + quote("延安三路1号")).body
    assert operator.get("/desk/intake/duplicates?category=" + quote("1 OR 1=1")).status == 400
    # A second caller reports the same pile: offered before anything is saved.
    second = post_form(operator, **case(ids, caller="13912345678", caller_name="李女士", call=UNIQUEID, location="香港中路一号", description="垃圾还在"))
    assert second.status == 409 and "可能的重复件" in second.body and "将来电人加入此工单" in second.body and f'name="offered" value="{number}"' in second.body
    assert "垃圾还在" in second.body  # nothing typed is lost
    no_reason = post_form(operator, **case(ids, caller="13912345678", location="香港中路一号", offered=number))
    assert no_reason.status == 400 and "请说明为何与所列工单不是同一问题" in no_reason.body
    linked = post_form(operator, "/desk/intake/link", **case(ids, caller="13912345678", caller_name="李女士", call=UNIQUEID, description="垃圾还在", ticket=number))
    assert linked.status == 303 and linked.headers["location"] == f"/desk/intake/find?q={number}&linked={number}"
    after = operator.get(linked.headers["location"])
    assert f"来电人已加入工单 {number}" in after.body and "您反映的问题已于" in after.body and f"工单号{number}" in after.body
    reporters = operator.get(f"/desk/tickets/{number}/reporters")
    assert "已有 2 位市民反映" in reporters.body and "13912345678" in reporters.body and "李女士" in reporters.body and "垃圾还在" in reporters.body
    assert 'data-reporters-src="/desk/tickets/' in operator.get(f"/desk/tickets/{number}").body
    assert database.read(lambda s: s.scalars(select(Call.ticket_id).where(Call.uniqueid == UNIQUEID)).one()) is not None
    assert database.read(lambda s: len(s.scalars(select(Ticket)).all())) == 1
    audit = database.read(lambda s: [e.action for e in s.scalars(select(AuditEntry).where(AuditEntry.target == f"ticket:{number}").order_by(AuditEntry.id))])
    assert audit == ["ticket_created", "ticket_duplicate_linked"]
    # Saving a new case anyway stays possible, with the reason in its timeline.
    anyway = post_form(operator, **case(ids, location="香港中路1号", offered=number, duplicate_reason="对面公交站旁的另一堆"))
    assert anyway.status == 303
    assert "对面公交站旁的另一堆" in operator.get(anyway.headers["location"].removeprefix(f"http://127.0.0.1:{port}")).body
    exposed = generate_latest(metrics.registry).decode()
    for outcome, count in (("ticket", 1), ("duplicates_offered", 1), ("duplicate_linked", 1), ("despite_duplicates", 1)):
        assert f'hotline_intake_total{{outcome="{outcome}"}} {count}.0' in exposed, outcome


def test_linking_refuses_what_it_cannot_do(desk: tuple[int, dict[str, int], Database, Metrics]) -> None:
    port, ids, database, _ = desk
    operator = signed_in(port, "operator")
    number = post_form(operator, **case(ids)).headers["location"].rsplit("/", 1)[1]
    missing = post_form(operator, "/desk/intake/link", **case(ids, ticket=""))
    assert missing.status == 400 and "请选择要加入的工单" in missing.body
    unknown = post_form(operator, "/desk/intake/link", **case(ids, ticket="0000000000"))
    assert unknown.status == 404 and "没有这个工单" in unknown.body and "路边垃圾堆了三天" in unknown.body
    bad_caller = post_form(operator, "/desk/intake/link", **case(ids, ticket=number, caller="abc"))
    assert bad_caller.status == 400 and "号码格式不对" in bad_caller.body
    database.run(lambda s: setattr(s.scalars(select(Ticket).where(Ticket.number == number)).one(), "status", TicketStatus.REJECTED))
    finished = post_form(operator, "/desk/intake/link", **case(ids, ticket=number))
    assert finished.status == 400 and "该工单已办结" in finished.body
    for username in ("callback", "dept", "admin"):
        other = signed_in(port, username)
        assert other.post("/desk/intake/link", {"csrf": other.csrf(), "ticket": number}).status == 403


def test_a_consultation_is_answered_directly(desk: tuple[int, dict[str, int], Database, Metrics]) -> None:
    port, ids, database, _ = desk
    supervisor = signed_in(port, "supervisor")
    answered = post_form(supervisor, **case(ids, category="", location="", outcome="answer", description="大件家具怎么扔？", answer="请拨打 12345 预约上门清运。"))
    assert answered.status == 303
    page = supervisor.get(answered.headers["location"])
    assert "直接答复" in page.body and "请拨打 12345 预约上门清运。" in page.body
    number = answered.headers["location"].rsplit("/", 1)[1]
    assert database.read(lambda s: s.scalars(select(Ticket.status).where(Ticket.number == number)).one()) is TicketStatus.ANSWERED


def test_find_a_case_by_number_or_phone(desk: tuple[int, dict[str, int], Database, Metrics]) -> None:
    port, ids, _, _ = desk
    operator = signed_in(port, "operator")
    number = post_form(operator, **case(ids)).headers["location"].rsplit("/", 1)[1]
    page = operator.get(f"/desk/intake/find?q={number}")
    assert page.status == 200 and f"工单号{number}，正在审核立案" in page.body and "Your report was received on" in page.body and "<html" in page.body
    partial = operator.get("/desk/intake/find?partial=1&lang=en&q=" + quote("138-1234-5678"))
    assert partial.status == 200 and "<html" not in partial.body and number in partial.body
    assert partial.body.index("Your report was received") < partial.body.index("您反映的问题")  # the caller's language first
    assert "没有这个工单号" in operator.get("/desk/intake/find?q=13600000000").body
    for bad in ("垃圾", XSS, "1" * 41):
        refused = operator.get("/desk/intake/find?q=" + quote(bad))
        assert refused.status == 400 and "请输入工单号或来电号码" in refused.body and "<script>alert" not in refused.body, bad
    assert operator.get("/desk/intake/find").status == 200
    assert signed_in(port, "callback").get(f"/desk/intake/find?q={number}").status == 200
    assert signed_in(port, "dept").get(f"/desk/intake/find?q={number}").status == 403


def test_reporters_fragment_masks_numbers_and_hides_other_departments_cases(desk: tuple[int, dict[str, int], Database, Metrics]) -> None:
    port, ids, _, _ = desk
    operator = signed_in(port, "operator")
    number = post_form(operator, **case(ids)).headers["location"].rsplit("/", 1)[1]
    assert post_form(operator, "/desk/intake/link", **case(ids, caller="13912345678", ticket=number)).status == 303
    act = operator.post(f"/desk/tickets/{number}/register", {"csrf": operator.csrf(), "category": str(ids["garbage"])})
    assert act.status == 303
    assert operator.post(f"/desk/tickets/{number}/dispatch", {"csrf": operator.csrf(), "department": str(ids["roads"])}).status == 303
    mine = signed_in(port, "dept").get(f"/desk/tickets/{number}/reporters")
    assert mine.status == 200 and "139****5678" in mine.body and "13912345678" not in mine.body and "138****5678" in mine.body
    assert signed_in(port, "dept2").get(f"/desk/tickets/{number}/reporters").status == 404
    assert operator.get("/desk/tickets/0000000000/reporters").status == 404
    alone = post_form(operator, **case(ids, location="延安三路9号")).headers["location"].rsplit("/", 1)[1]
    assert operator.get(f"/desk/tickets/{alone}/reporters").body.strip() == ""  # one report: nothing to add to the page


def test_the_intake_pages_in_english(desk: tuple[int, dict[str, int], Database, Metrics]) -> None:
    port, ids, _, _ = desk
    operator = signed_in(port, "operator")
    assert operator.post("/desk/language", {"csrf": operator.csrf(), "language": "en"}).status == 303
    page = operator.get(f"/desk/tickets/new?call={UNIQUEID}")
    assert "Find a category" in page.body and "Language <strong>English</strong>" in page.body and "搜索分类" not in page.body
    bad = post_form(operator, **case(ids, location=""))
    assert bad.status == 400 and "Say where the problem is" in bad.body
    number = post_form(operator, **case(ids)).headers["location"].rsplit("/", 1)[1]
    offered = post_form(operator, **case(ids, caller="13912345678"))
    assert offered.status == 409 and "Likely duplicates" in offered.body and "1 citizen(s) reported it" in offered.body and number in offered.body
