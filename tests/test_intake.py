"""Intake's core on SQLite and PostgreSQL: the category search by Chinese, pinyin and initials
(over the shipped taxonomy too), address comparison, the duplicate finder, opening a case from
a call (and answering it directly), adding a caller to an open case, and finding a case by
number or phone with the sentence read to the caller."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from hotline.calllog import records
from hotline.storage.db import Database
from hotline.storage.models import AuditEntry, Call, Category, CategoryKind, Department, Role, Ticket, TicketEvent, TicketReporter, TicketSource, TicketStatus
from hotline.tickets import addresses, category_search, intake, services
from hotline.tickets.category_search import CategoryIndex
from hotline.tickets.intake import DuplicatesFound, IntakeForm, IntakeInvalid
from hotline.tickets.services import SYSTEM, TicketPolicy
from hotline.tickets.taxonomy import load_departments, load_taxonomy
from hotline.users import SignedIn, create_user
from hotline.worktime import WorkingCalendar

CST = ZoneInfo("Asia/Shanghai")
POLICY = TicketPolicy(calendar=WorkingCalendar(tz=CST))
NOW = datetime(2026, 12, 3, 10, 0, tzinfo=CST)


def _category(id: int, code: str, name: str, parent: int | None = None, name_en: str = "") -> Category:
    return Category(id=id, code=code, kind=CategoryKind.EVENT, name_zh=name, name_en=name_en, parent_id=parent, active=True)


SMALL = [
    _category(1, "2001", "市容环境", name_en="City appearance"),
    _category(2, "200102", "暴露垃圾", 1, "Exposed garbage"),
    _category(3, "200199", "垃圾堆放", 1, "Garbage piled up"),
    _category(4, "2005", "街面秩序"),
    _category(5, "200507", "乱堆物堆料", 4, "Materials piled on the street"),
    _category(6, "1004", "园林绿化"),
    _category(7, "100402", "行道树", 6, "Street trees"),
    _category(8, "100405", "绿地", 6, "Green space"),
    _category(9, "100499", "路灯（LED）", 6),
]


def names(hits: list[category_search.Hit]) -> list[str]:
    return [h.entry.name_zh for h in hits]


def test_category_search_by_initials_full_pinyin_mixes_chinese_code_and_english() -> None:
    index = CategoryIndex.build(SMALL)
    assert names(index.search("ljdf"))[0] == "垃圾堆放"
    assert names(index.search("LJDF"))[0] == "垃圾堆放"  # caps lock on
    assert names(index.search("lajiduifang")) == ["垃圾堆放"]
    assert names(index.search("laji duifang")) == ["垃圾堆放"]
    assert names(index.search("lajidf")) == ["垃圾堆放"]
    assert names(index.search("lj")) == ["垃圾堆放", "暴露垃圾"]  # from the first syllable before from inside
    assert names(index.search("垃圾")) == ["垃圾堆放", "暴露垃圾"]
    assert names(index.search("堆")) == ["垃圾堆放", "乱堆物堆料"]
    assert names(index.search("xds")) == ["行道树"]  # the phrase reading xíng, not háng
    assert names(index.search("lvdi")) == ["绿地"]  # ü typed as v, as every IME does
    assert names(index.search("ld led")) == ["路灯（LED）"]
    assert names(index.search("2001"))[:2] == ["暴露垃圾", "垃圾堆放"] and "市容环境" in names(index.search("2001"))
    assert names(index.search("garbage")) == ["暴露垃圾", "垃圾堆放"]
    assert index.search("") == [] and index.search("   ") == [] and index.search("qqqq") == [] and index.search("火星") == []
    hit = index.search("ljdf")[0].as_json()
    assert hit == {
        "id": 3, "code": "200199", "kind": "event", "name_zh": "垃圾堆放", "name_en": "Garbage piled up",
        "parent_zh": "市容环境", "parent_en": "City appearance", "minor": True, "pinyin": "la ji dui fang", "initials": "ljdf",
    }  # fmt: skip
    # Minor classes (what an operator files under) before a major one of the same score.
    ranked = [(h.score, not h.entry.minor) for h in CategoryIndex.build([*SMALL, _category(10, "200511", "水管破裂", 4)]).search("s")]
    assert ranked == sorted(ranked) and (4, True) in ranked and (4, False) in ranked


def test_the_shipped_taxonomy_is_searchable_and_indexed_once_per_load(database: Database) -> None:
    def load(s: Any) -> None:
        load_departments(s)
        load_taxonomy(s)

    database.run(load)
    index = database.read(category_search.index_for)
    assert len(index.entries) > 150
    assert names(index.search("bllj"))[0] == "暴露垃圾"
    manholes = names(index.search("井盖"))
    assert len(manholes) == 12 and all("井盖" in n for n in manholes)
    assert names(index.search("jdc"))[0] == "机动车乱停放"
    assert names(index.search("zdfp")) == ["占道废品收购（经营）"]
    assert database.read(category_search.index_for) is index  # nothing changed: the same index
    database.run(lambda s: setattr(s.scalars(select(Category).where(Category.code == "200102")).one(), "name_zh", "暴露垃圾（含渣土）"))
    rebuilt = database.read(category_search.index_for)
    assert rebuilt is not index and names(rebuilt.search("bllj"))[0] == "暴露垃圾（含渣土）"


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("香港中路1号", "青岛市市南区香港中路 1 号", True),
        ("香港中路一号", "香港中路１号", True),
        ("香港中路1号", "香港中路3号门口", True),
        ("五四广场东侧", "五四广场东边", True),
        ("香港中路与燕儿岛路路口", "燕儿岛路10号", True),
        ("幸福小区3号楼", "幸福小区三号楼", True),
        ("香港中路1号", "香港中路30号", False),
        ("香港中路1号", "延安三路1号", False),
        ("香港中路1号", "", False),
    ],
)
def test_addresses_compare_road_and_number_then_text(a: str, b: str, same: bool) -> None:
    assert (addresses.similarity(a, b) >= addresses.THRESHOLD) is same, (a, b, addresses.similarity(a, b))
    assert addresses.similarity(b, a) == addresses.similarity(a, b)


def test_address_normalisation() -> None:
    assert addresses.normalise(" 山东省青岛市市南区 香港中路（东段）一百零五号 ") == "香港中路东段105号"
    assert addresses.Place.parse("市南区香港中路十二号").roads == ("香港中路",)
    assert addresses.Place.parse("市南区香港中路十二号").number == 12


# -- with a database


@pytest.fixture
def world(database: Database) -> dict[str, Any]:
    """Two departments, a garbage and a manhole class, an operator and a department user."""

    def work(s: Any) -> dict[str, Any]:
        san, mun = Department(code="SAN", name_zh="环境卫生处", name_en="Sanitation"), Department(code="MUN", name_zh="市政工程处", name_en="Public works")
        s.add_all([san, mun])
        s.flush()
        env = Category(code="2001", kind=CategoryKind.EVENT, name_zh="市容环境", default_department_id=san.id)
        s.add(env)
        s.flush()
        garbage = Category(code="200102", kind=CategoryKind.EVENT, name_zh="暴露垃圾", parent_id=env.id, default_department_id=san.id, time_limit="4 working_hours")
        manhole = Category(code="100101", kind=CategoryKind.COMPONENT, name_zh="上水井盖", default_department_id=mun.id)
        s.add_all([garbage, manhole])
        s.flush()
        op = create_user(s, "op1", "correct-horse-42", [Role.OPERATOR], display_name="王芳")
        dept = create_user(s, "dept1", "correct-horse-42", [Role.DEPARTMENT], department_id=san.id)
        return {"san": san.id, "mun": mun.id, "garbage": garbage.id, "manhole": manhole.id, "op": op.id, "dept": dept.id}

    ids = database.run(work)
    ids["operator"] = SignedIn(ids["op"], "op1", "王芳", frozenset({Role.OPERATOR}), None, None, "t", "zh_Hans", "h")
    ids["department"] = SignedIn(ids["dept"], "dept1", "", frozenset({Role.DEPARTMENT}), ids["san"], None, "t", "zh_Hans", "h")
    return ids


def opened(database: Database, category_id: int | None, location: str, *, at: datetime = NOW, caller: str = "13800000001", status: TicketStatus | None = None, department: int | None = None) -> str:
    def work(s: Any) -> str:
        t = services.open_ticket(s, POLICY, source=TicketSource.HOTLINE, actor=SYSTEM, caller_number=caller, description="垃圾没人清", location=location, category_id=category_id, at=at)
        if status is not None and status is not TicketStatus.RECEIVED:
            services.apply(s, POLICY, t, "register", actor=SYSTEM, at=at)
            services.apply(s, POLICY, t, "dispatch", actor=SYSTEM, at=at, department_id=department)
            if status is TicketStatus.CLOSED:
                for action in ("handle", "verify", "close"):
                    services.apply(s, POLICY, t, action, actor=SYSTEM, at=at, reason="已清理")
        return t.number

    return database.run(work)


def test_duplicates_are_open_recent_same_category_and_nearby(database: Database, world: dict[str, Any]) -> None:
    g = world["garbage"]
    near = opened(database, g, "市南区香港中路 1 号", at=NOW - timedelta(days=2))
    next_door = opened(database, g, "香港中路3号", at=NOW - timedelta(hours=1), status=TicketStatus.DISPATCHED, department=world["san"])
    opened(database, g, "延安三路1号")  # elsewhere
    opened(database, world["manhole"], "香港中路1号")  # another category
    opened(database, g, "香港中路1号", status=TicketStatus.CLOSED, department=world["san"])  # finished
    old = opened(database, g, "香港中路1号", at=NOW - timedelta(days=10))  # too long ago for 7 days

    def find(days: int = 7, who: str = "operator", location: str = "香港中路一号") -> list[str]:
        found = database.read(lambda s: intake.find_duplicates(s, world[who], category_id=g, location=location, days=days, now=NOW))
        return [d.row.number for d in found]

    assert find() == [near, next_door]  # the same number first, then next door
    assert find(days=30) == [near, old, next_door]
    assert find(who="department") == [next_door]  # department staff see their department's only
    assert find(location="") == [] and database.read(lambda s: intake.find_duplicates(s, world["operator"], category_id=None, location="香港中路1号", now=NOW)) == []
    first = database.read(lambda s: intake.find_duplicates(s, world["operator"], category_id=g, location="香港中路1号", now=NOW))[0]
    assert first.citizens == 1 and first.closeness == 1.0 and first.row.caller == "13800000001" and first.row.status_label == ("受理", "received")


def form(**fields: str) -> IntakeForm:
    return IntakeForm(**({"caller": "13912345678", "caller_name": "李女士", "location": "香港中路1号", "description": "路边垃圾堆了三天"} | fields))


def test_a_second_case_waits_for_the_operator_to_see_the_duplicates(database: Database, world: dict[str, Any]) -> None:
    g, op = world["garbage"], world["operator"]
    first = opened(database, g, "香港中路1号")

    def open_case(f: IntakeForm) -> Ticket:
        return database.run(lambda s: intake.open_case(s, POLICY, op, f, address="10.0.0.1", link_call=records.link_ticket, now=NOW))

    with pytest.raises(DuplicatesFound) as found:
        open_case(form(category=str(g)))
    assert [d.row.number for d in found.value.duplicates] == [first]
    with pytest.raises(IntakeInvalid) as invalid:
        open_case(form(category=str(g), offered=first))
    assert list(invalid.value.errors) == ["duplicate_reason"]
    assert database.read(lambda s: len(s.scalars(select(Ticket)).all())) == 1  # nothing saved so far
    number = open_case(form(category=str(g), offered=first, duplicate_reason="是对面的另一堆，在公交站旁")).number
    history = database.read(lambda s: [(e.action, e.note) for e in s.scalars(select(TicketEvent).join(Ticket).where(Ticket.number == number).order_by(TicketEvent.seq))])
    assert history[0][0] == "receive" and history[1][0] == "note" and first in history[1][1] and "公交站旁" in history[1][1]
    entry = database.read(lambda s: s.scalars(select(AuditEntry).where(AuditEntry.target == f"ticket:{number}")).one())
    assert entry.action == "ticket_created" and entry.detail["duplicates_offered"] == [first] and entry.address == "10.0.0.1"


def test_every_wrong_field_is_named_at_once(database: Database, world: dict[str, Any]) -> None:
    bad = IntakeForm(caller="not a number", category="999", location="", description=" ", urgency="very", outcome="later", call="1796272279.99", caller_name="张" * 101)
    with pytest.raises(IntakeInvalid) as invalid:
        database.run(lambda s: intake.open_case(s, POLICY, world["operator"], bad, address="", link_call=records.link_ticket))
    assert set(invalid.value.errors) == {"caller", "category", "location", "description", "urgency", "outcome", "call", "caller_name"}
    with pytest.raises(IntakeInvalid) as invalid:
        database.run(lambda s: intake.open_case(s, POLICY, world["operator"], form(outcome="answer", location=""), address="", link_call=records.link_ticket))
    assert set(invalid.value.errors) == {"answer"}  # a consultation needs no address, but an answer
    with pytest.raises(intake.Forbidden):
        database.run(lambda s: intake.open_case(s, POLICY, world["department"], form(), address="", link_call=records.link_ticket))


def a_call(database: Database, uniqueid: str = "1796272279.6", lang: str = "en") -> None:
    def work(s: Any) -> None:
        records.start_call(s, uniqueid=uniqueid, caller_number="13912345678", at=NOW - timedelta(minutes=3))
        records.add_event(s, uniqueid=uniqueid, kind="menu", detail={"node": "main", "lang": "zh"}, at=NOW - timedelta(minutes=3))
        records.add_event(s, uniqueid=uniqueid, kind="language", detail={"lang": lang}, at=NOW - timedelta(minutes=2))

    database.run(work)


def test_a_consultation_from_a_call_is_opened_and_answered_in_one_step(database: Database, world: dict[str, Any]) -> None:
    a_call(database)
    info = database.read(lambda s: intake.call_info(s, world["operator"], "1796272279.6"))
    assert info is not None and info.caller == "13912345678" and info.language == "en"
    assert database.read(lambda s: intake.call_info(s, world["department"], "1796272279.6")).caller == "139****5678"
    f = form(call="1796272279.6", outcome="answer", location="", answer="大件垃圾请拨打 12345 预约上门清运。", description="大件家具怎么扔？")
    t = database.run(lambda s: intake.open_case(s, POLICY, world["operator"], f, address="", link_call=records.link_ticket, now=NOW))
    assert t.status is TicketStatus.ANSWERED and t.resolution.startswith("大件垃圾")

    def check(s: Any) -> None:
        ticket = s.scalars(select(Ticket).where(Ticket.number == t.number)).one()
        call = s.scalars(select(Call).where(Call.uniqueid == "1796272279.6")).one()
        assert ticket.call_id == call.id and call.ticket_id == ticket.id
        assert [e.action for e in s.scalars(select(AuditEntry).where(AuditEntry.target == f"ticket:{t.number}").order_by(AuditEntry.id))] == ["ticket_created", "ticket_answer"]
        assert [e.to_status for e in s.scalars(select(TicketEvent).where(TicketEvent.ticket_id == ticket.id).order_by(TicketEvent.seq))] == [TicketStatus.RECEIVED, TicketStatus.ANSWERED]

    database.read(check)
    found = database.read(lambda s: intake.find_cases(s, world["operator"], t.number, tz=CST, now=NOW))
    assert found[0].read_out[0].startswith("您的咨询已于12月3日 10:00答复：大件垃圾") and found[0].read_out[1].startswith("Your question was answered on 3 December 10:00")


def test_the_caller_joins_an_open_case_instead_of_a_second_one(database: Database, world: dict[str, Any]) -> None:
    g, op = world["garbage"], world["operator"]
    number = opened(database, g, "香港中路1号", caller="13800000001")
    a_call(database)

    def link(f: IntakeForm, to: str = number) -> Ticket:
        return database.run(lambda s: intake.link_reporter(s, POLICY, op, to, f, address="10.0.0.2", link_call=records.link_ticket, now=NOW))

    link(form(call="1796272279.6", description="味道很大"))
    link(form(caller="13912345678", caller_name="李女士", description=""))  # the same citizen again
    link(form(caller="", caller_name="", description="匿名来电"))
    people = database.read(lambda s: intake.reporters(s, op, number))
    assert people.citizens == 3 and [p.caller for p in people.rows] == ["13800000001", "13912345678", "13912345678", ""]
    assert [p.again for p in people.rows] == [False, False, True, False] and people.rows[0].first and people.rows[1].call == "1796272279.6"

    def check(s: Any) -> None:
        ticket = s.scalars(select(Ticket).where(Ticket.number == number)).one()
        call = s.scalars(select(Call).where(Call.uniqueid == "1796272279.6")).one()
        assert call.ticket_id == ticket.id and ticket.call_id is None
        notes = [e.note for e in s.scalars(select(TicketEvent).where(TicketEvent.ticket_id == ticket.id, TicketEvent.action == "note").order_by(TicketEvent.seq))]
        assert "139****5678" in notes[0] and "味道很大" in notes[0] and "13912345678" not in "".join(notes) and "再次来电" in notes[1]
        audits = [e.detail for e in s.scalars(select(AuditEntry).where(AuditEntry.action == "ticket_duplicate_linked").order_by(AuditEntry.id))]
        assert [a["citizens"] for a in audits] == [2, 2, 3] and [a["repeat"] for a in audits] == [False, True, False]
        assert len(s.scalars(select(TicketReporter)).all()) == 3

    database.read(check)
    dup = database.read(lambda s: intake.find_duplicates(s, op, category_id=g, location="香港中路1号", now=NOW))[0]
    assert dup.citizens == 3
    closed = opened(database, g, "香港中路2号", status=TicketStatus.CLOSED, department=world["san"])
    with pytest.raises(IntakeInvalid) as invalid:
        link(form(), to=closed)
    assert list(invalid.value.errors) == ["ticket"]
    with pytest.raises(services.TicketNotFound):
        link(form(), to="0000000000")


def test_reporters_are_masked_for_department_staff(database: Database, world: dict[str, Any]) -> None:
    number = opened(database, world["garbage"], "香港中路1号", status=TicketStatus.DISPATCHED, department=world["san"])
    database.run(lambda s: intake.link_reporter(s, POLICY, world["operator"], number, form(), address="", link_call=records.link_ticket, now=NOW))
    people = database.read(lambda s: intake.reporters(s, world["department"], number))
    assert [p.caller for p in people.rows] == ["138****0001", "139****5678"]


def test_find_a_case_by_number_or_phone_and_read_its_status(database: Database, world: dict[str, Any]) -> None:
    g, op = world["garbage"], world["operator"]
    dispatched = opened(database, g, "香港中路1号", caller="13800000001", status=TicketStatus.DISPATCHED, department=world["san"], at=NOW - timedelta(days=1))
    received = opened(database, g, "延安三路5号", caller="13800000001")
    database.run(lambda s: intake.link_reporter(s, POLICY, op, dispatched, form(caller="13700000002"), address="", link_call=records.link_ticket, now=NOW))

    def find(query: str, who: str = "operator") -> list[intake.Found]:
        return database.read(lambda s: intake.find_cases(s, world[who], query, tz=CST, now=NOW))

    by_number = find(dispatched)
    assert [f.row.number for f in by_number] == [dispatched] and by_number[0].by == "number"
    zh, en = by_number[0].read_out
    assert zh.startswith("您反映的问题已于12月2日 10:00派遣至环境卫生处，处理时限至12月2日") and "已超过处理时限" in zh, zh
    assert en.startswith("Your report was sent to Sanitation on 2 December 10:00, to be handled by 2 December") and "That time has passed" in en
    assert [f.row.number for f in find("138 0000 0001")] == [received, dispatched]  # newest open first
    assert [(f.row.number, f.by) for f in find("+86 137 0000 0002")] == [(dispatched, "reporter")]
    assert find("13600000000") == []
    assert find(received)[0].read_out[0] == f"您反映的问题已于12月3日 10:00受理，工单号{received}，正在审核立案。"
    for bad in ("", "垃圾", "x" * 50, "abc"):
        with pytest.raises(intake.InvalidValue):
            find(bad)


def test_spoken_times_say_the_year_only_when_it_is_another() -> None:
    assert intake.spoken_time(datetime(2026, 1, 5, 8, 5, tzinfo=CST), CST, "zh", NOW) == "1月5日 08:05"
    assert intake.spoken_time(datetime(2025, 12, 31, 23, 0, tzinfo=CST), CST, "en", NOW) == "31 December 2025 23:00"
    assert intake.spoken_time(None, CST, "zh", NOW) == ""
