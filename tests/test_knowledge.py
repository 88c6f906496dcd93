"""The knowledge base's core on both backends: Chinese word segmentation finds answers by the
words of a caller's sentence, writing and reviewing (an edit clears the review), usage counted,
and an answer closing a consultation as answered directly through the workflow, audited."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from hotline.storage.db import Database
from hotline.storage.models import AuditEntry, Category, CategoryKind, KnowledgeAnswer, Role, Ticket, TicketSource, TicketStatus
from hotline.tickets import knowledge, services
from hotline.tickets.desk import Forbidden
from hotline.tickets.knowledge import AnswerForm, AnswerNotFound, KnowledgeInvalid
from hotline.tickets.services import SYSTEM, TicketPolicy
from hotline.tickets.workflow import InvalidValue, WorkflowError
from hotline.users import SignedIn, create_user
from hotline.worktime import WorkingCalendar

CST = ZoneInfo("Asia/Shanghai")
POLICY = TicketPolicy(calendar=WorkingCalendar(tz=CST))
NOW = datetime(2026, 12, 3, 10, 0, tzinfo=CST)


def test_segmentation_splits_a_callers_sentence_into_words() -> None:
    assert knowledge.words("井盖丢了怎么办") == ["井盖", "丢"]  # 了 and 怎么办 are in every question
    assert "垃圾" in knowledge.words("小区门口的垃圾三天没人清运") and "清运" in knowledge.words("小区门口的垃圾三天没人清运")
    assert knowledge.words("  ，。？ ") == []
    assert knowledge.segmenter_loaded()


@pytest.fixture
def kb(database: Database) -> dict[str, Any]:
    def work(s: Any) -> dict[str, Any]:
        manhole = Category(code="100101", kind=CategoryKind.COMPONENT, name_zh="上水井盖")
        s.add(manhole)
        sup = create_user(s, "sup1", "correct-horse-42", [Role.SUPERVISOR])
        op = create_user(s, "op1", "correct-horse-42", [Role.OPERATOR])
        admin = create_user(s, "adm1", "correct-horse-42", [Role.ADMIN])
        s.flush()
        return {"manhole": manhole.id, "sup": sup.id, "op": op.id, "admin": admin.id}

    ids = database.run(work)
    ids["supervisor"] = SignedIn(ids["sup"], "sup1", "", frozenset({Role.SUPERVISOR}), None, None, "t", "zh_Hans", "h")
    ids["operator"] = SignedIn(ids["op"], "op1", "", frozenset({Role.OPERATOR}), None, None, "t", "zh_Hans", "h")
    ids["administrator"] = SignedIn(ids["admin"], "adm1", "", frozenset({Role.ADMIN}), None, None, "t", "zh_Hans", "h")
    return ids


def add(database: Database, who: SignedIn, **fields: str) -> int:
    form = AnswerForm(**({"active": "1"} | fields))
    return database.run(lambda s: knowledge.save(s, who, form, address="10.0.0.1", now=NOW).id)


def titles(database: Database, query: str, **kw: Any) -> list[str]:
    return [e.title for e in database.read(lambda s: knowledge.search(s, query, **kw))]


def test_search_finds_answers_by_the_words_of_the_question(database: Database, kb: dict[str, Any]) -> None:
    sup = kb["supervisor"]
    manhole = add(database, sup, title="井盖丢失或破损如何报修", answer="请告知具体位置，我们将派市政部门在 24 小时内处置。", keywords="窨井 下水道盖", category=str(kb["manhole"]))
    add(database, sup, title="生活垃圾清运时间", answer="居民区生活垃圾每日清运两次，上午 7 点、下午 5 点。", keywords="垃圾 清运")
    add(database, sup, title="路灯不亮找谁", answer="路灯由市政工程处维护，井盖问题另行报修。")
    retired = add(database, sup, title="井盖旧规定", answer="已作废", active="")

    assert titles(database, "井盖丢了怎么办") == ["井盖丢失或破损如何报修", "路灯不亮找谁"]  # the title counts more than the text
    assert titles(database, "窨井") == ["井盖丢失或破损如何报修"]  # by keyword
    assert titles(database, "垃圾什么时候清运") == ["生活垃圾清运时间"]
    assert titles(database, "天气怎么样") == []
    assert titles(database, "怎么办") == []  # stop words alone find nothing
    assert "井盖旧规定" in titles(database, "井盖", include_inactive=True) and "井盖旧规定" not in titles(database, "井盖")
    found = database.read(lambda s: knowledge.search(s, "井盖丢了"))[0]
    assert found.id == manhole and found.category == "上水井盖" and found.matched == ("井盖", "丢") and not found.reviewed
    assert [e.title for e in database.read(lambda s: knowledge.search(s, ""))][:3] and retired not in [e.id for e in database.read(lambda s: knowledge.search(s, ""))]
    with pytest.raises(InvalidValue):
        database.read(lambda s: knowledge.search(s, "井" * 201))


def test_writing_is_for_supervisors_and_admins_and_reviewing_for_supervisors(database: Database, kb: dict[str, Any]) -> None:
    sup, op, admin = kb["supervisor"], kb["operator"], kb["administrator"]
    with pytest.raises(Forbidden):
        add(database, op, title="问", answer="答")
    answer_id = add(database, admin, title="犬只扰民怎么处理", answer="请拨打 110 或联系社区。")
    with pytest.raises(Forbidden):
        database.run(lambda s: knowledge.review(s, admin, answer_id, address="a"))
    database.run(lambda s: knowledge.review(s, sup, answer_id, address="a", now=NOW))
    entry = database.read(lambda s: knowledge.get(s, answer_id))
    assert entry.reviewed and entry.reviewed_by == "sup1"
    # Keywords only: still reviewed. The answer's text: the review is cleared.
    add_form = AnswerForm(title="犬只扰民怎么处理", answer="请拨打 110 或联系社区。", keywords="狗 噪音", active="1")
    database.run(lambda s: knowledge.save(s, admin, add_form, answer_id=answer_id, address="a"))
    assert database.read(lambda s: knowledge.get(s, answer_id)).reviewed
    database.run(lambda s: knowledge.save(s, admin, AnswerForm(title="犬只扰民怎么处理", answer="请联系所在社区。", active="1"), answer_id=answer_id, address="a"))
    assert not database.read(lambda s: knowledge.get(s, answer_id)).reviewed
    with pytest.raises(KnowledgeInvalid) as invalid:
        add(database, sup, title=" ", answer="", category="999", keywords="词" * 301)
    assert set(invalid.value.errors) == {"title", "answer", "category", "keywords"}
    with pytest.raises(AnswerNotFound):
        database.run(lambda s: knowledge.review(s, sup, 9999, address="a"))
    actions = database.read(lambda s: [e.action for e in s.scalars(select(AuditEntry).where(AuditEntry.target == f"knowledge:{answer_id}").order_by(AuditEntry.id))])
    assert actions == ["knowledge_created", "knowledge_reviewed", "knowledge_edited", "knowledge_edited"]


def test_an_answer_closes_a_consultation_as_answered_directly_and_is_counted(database: Database, kb: dict[str, Any]) -> None:
    sup, op = kb["supervisor"], kb["operator"]
    answer_id = add(database, sup, title="井盖丢失或破损如何报修", answer="请告知具体位置，我们将派市政部门处置。")

    def opened() -> str:
        return database.run(lambda s: services.open_ticket(s, POLICY, source=TicketSource.HOTLINE, actor=SYSTEM, caller_number="13800000001", description="井盖丢了怎么办", location="", at=NOW).number)

    number = opened()
    ticket = database.run(lambda s: knowledge.use(s, POLICY, op, answer_id, number=number, address="10.0.0.1"))
    assert ticket is not None and ticket.number == number
    t = database.read(lambda s: s.scalars(select(Ticket).where(Ticket.number == number)).one())
    assert t.status is TicketStatus.ANSWERED and t.resolution == "请告知具体位置，我们将派市政部门处置。"
    database.run(lambda s: knowledge.use(s, POLICY, op, answer_id, address="10.0.0.1"))  # copied into the intake form
    assert database.read(lambda s: s.get(KnowledgeAnswer, answer_id).usage_count) == 2
    # A case that has moved on cannot be answered directly; nothing is counted.
    with pytest.raises(WorkflowError):
        database.run(lambda s: knowledge.use(s, POLICY, op, answer_id, number=number, address="a"))
    assert database.read(lambda s: s.get(KnowledgeAnswer, answer_id).usage_count) == 2
    with pytest.raises(Forbidden):
        database.run(lambda s: knowledge.use(s, POLICY, kb["administrator"], answer_id, number=opened(), address="a"))
    database.run(lambda s: knowledge.save(s, sup, AnswerForm(title="井盖丢失或破损如何报修", answer="请告知具体位置，我们将派市政部门处置。", active=""), answer_id=answer_id, address="a"))
    with pytest.raises(AnswerNotFound):
        database.run(lambda s: knowledge.use(s, POLICY, op, answer_id, address="a"))
    audit = database.read(lambda s: [(e.action, e.target) for e in s.scalars(select(AuditEntry).where(AuditEntry.action.in_(["knowledge_used", "ticket_answer"])).order_by(AuditEntry.id))])
    assert audit == [("ticket_answer", f"ticket:{number}"), ("knowledge_used", f"knowledge:{answer_id}"), ("knowledge_used", f"knowledge:{answer_id}")]
