"""The knowledge base pages over real HTTP on both backends: a supervisor writes an answer, an
operator finds it by a caller's sentence (page and JSON), a supervisor reviews it, an operator
uses it to close a consultation as answered directly; roles refused, bad input answered with a
clear status, and the desk starting without jieba's dictionary (loaded at the first search)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from sqlalchemy import select

from hotline.storage.db import Database
from hotline.storage.models import AuditEntry, KnowledgeAnswer, Ticket, TicketStatus
from tests.desk_server import Client, Response, running_desk, seed
from tests.test_desk import XSS, new_ticket, signed_in

ANSWER = "请告知具体位置，市政部门将在 24 小时内补装井盖。"


@pytest.fixture
def desk(database: Database) -> Iterator[tuple[int, Database]]:
    seed(database)
    with running_desk(database) as port:
        yield port, database


def save(client: Client, **fields: str) -> Response:
    form = {"title": "井盖丢失或破损如何报修", "answer": ANSWER, "keywords": "窨井 下水道盖", "category": "", "active": "1"} | fields
    return client.post("/desk/knowledge/edit", {"csrf": client.csrf("/desk/knowledge/edit"), **form})


def search(client: Client, query: str) -> dict[str, Any]:
    response = client.get("/desk/knowledge/search?q=" + quote(query))
    assert response.status == 200 and response.headers["content-type"].startswith("application/json"), response.body
    result: dict[str, Any] = json.loads(response.body)
    return result


def test_write_find_review_and_use_an_answer(desk: tuple[int, Database]) -> None:
    port, database = desk
    supervisor, operator = signed_in(port, "supervisor"), signed_in(port, "operator")
    response = save(supervisor)
    assert response.status == 303 and response.headers["location"].endswith("/desk/knowledge?done=saved")
    answer_id = database.read(lambda s: s.scalars(select(KnowledgeAnswer.id)).one())

    page = operator.get("/desk/knowledge?q=" + quote("井盖丢了怎么办"))
    assert page.status == 200 and "井盖丢失或破损如何报修" in page.body and '<span class="tag unreviewed">未审核</span>' in page.body
    assert "/knowledge/edit" not in page.body and "/knowledge/review" not in page.body  # an operator neither edits nor reviews
    hits = search(operator, "井盖丢了怎么办")["results"]
    assert isinstance(hits, list) and [h["id"] for h in hits] == [answer_id] and hits[0]["reviewed"] is False and hits[0]["matched"] == ["井盖", "丢"]
    assert search(operator, "天气怎么样")["results"] == []

    assert supervisor.post("/desk/knowledge/review", {"csrf": supervisor.csrf(), "id": str(answer_id)}).status == 303
    assert search(operator, "窨井")["results"][0]["reviewed"] is True

    # The new-ticket form carries the picker; an operator opens a consultation and answers it with the entry.
    assert 'data-knowledge-src="/desk/knowledge/search"' in operator.get("/desk/tickets/new").body
    number = new_ticket(operator, description="井盖丢了怎么办？", location="市南区", category="")
    used = operator.post("/desk/knowledge/use", {"csrf": operator.csrf(), "id": str(answer_id), "ticket": number})
    assert used.status == 303 and used.headers["location"].endswith(f"/desk/tickets/{number}")
    t = database.read(lambda s: s.scalars(select(Ticket).where(Ticket.number == number)).one())
    assert t.status is TicketStatus.ANSWERED and t.resolution == ANSWER
    assert operator.post("/desk/knowledge/use", {"csrf": operator.csrf(), "id": str(answer_id)}).status == 204  # copied into the intake form: counted
    again = operator.post("/desk/knowledge/use", {"csrf": operator.csrf(), "id": str(answer_id), "ticket": number})
    assert again.status == 409
    assert database.read(lambda s: s.get(KnowledgeAnswer, answer_id).usage_count) == 2
    listing = operator.get("/desk/knowledge").body
    assert "使用 2 次" in listing and "已审核" in listing and '<a href="/desk/knowledge">知识库</a>' in listing
    actions = database.read(lambda s: [e.action for e in s.scalars(select(AuditEntry).where(AuditEntry.target == f"knowledge:{answer_id}").order_by(AuditEntry.id))])
    assert actions == ["knowledge_created", "knowledge_reviewed", "knowledge_used", "knowledge_used"]

    # Editing the text clears the review; the editor is prefilled.
    form = supervisor.get(f"/desk/knowledge/edit?id={answer_id}")
    assert form.status == 200 and "窨井 下水道盖" in form.body
    assert save(supervisor, id=str(answer_id), answer="请拨打 12319 报修。").status == 303
    assert search(operator, "井盖")["results"][0]["reviewed"] is False


def test_roles_and_bad_input(desk: tuple[int, Database]) -> None:
    port, database = desk
    supervisor, operator, admin, dept = signed_in(port, "supervisor"), signed_in(port, "operator"), signed_in(port, "admin"), signed_in(port, "dept")
    assert operator.get("/desk/knowledge/edit").status == 403
    assert save(operator).status == 403
    assert dept.get("/desk/knowledge").status == 403 and dept.get("/desk/knowledge/search?q=x").status == 403
    assert save(admin, title=XSS).status == 303  # an administrator writes answers too
    answer_id = database.read(lambda s: s.scalars(select(KnowledgeAnswer.id)).one())
    assert XSS not in supervisor.get("/desk/knowledge").body and "&lt;script&gt;" in supervisor.get("/desk/knowledge").body
    assert admin.post("/desk/knowledge/review", {"csrf": admin.csrf(), "id": str(answer_id)}).status == 403  # but only a supervisor vouches for one
    assert admin.post("/desk/knowledge/use", {"csrf": admin.csrf(), "id": str(answer_id)}).status == 403

    wrong = save(supervisor, title=" ", answer="", category="abc", keywords="词" * 301)
    assert wrong.status == 400
    assert len(re.findall(r'class="field-error" id="error-(\w+)"', wrong.body)) == 4 and 'value="词' in wrong.body  # what was typed is kept
    for path in ("/desk/knowledge/edit?id=abc", "/desk/knowledge/edit?id=1" + "0" * 20):
        assert supervisor.get(path).status == 400, path
    assert supervisor.get("/desk/knowledge/edit?id=9999").status == 404
    assert supervisor.post("/desk/knowledge/review", {"csrf": supervisor.csrf(), "id": "9999"}).status == 404
    assert supervisor.post("/desk/knowledge/review", {"csrf": supervisor.csrf()}).status == 400
    assert operator.post("/desk/knowledge/use", {"csrf": operator.csrf(), "id": str(answer_id), "ticket": "20991231-9999"}).status == 404
    assert operator.post("/desk/knowledge/use", {"csrf": operator.csrf(), "id": str(answer_id), "ticket": "9" * 40}).status == 400
    too_long = operator.get("/desk/knowledge/search?q=" + quote("井" * 201))
    assert too_long.status == 400 and "at most 200" in json.loads(too_long.body)["error"]
    assert operator.get("/desk/knowledge?q=" + quote("井" * 201)).status == 400
    assert operator.get("/desk/knowledge?q=%FF").status == 400  # not UTF-8
    assert operator.get("/desk/knowledge").status == 200  # and the desk keeps serving


def test_the_desk_starts_without_jiebas_dictionary() -> None:
    """jieba (and its dictionary, a second and some 50 MB) is loaded by the first search, not by
    importing or building the desk."""
    code = "import sys, agent_desk.app, hotline.tickets.knowledge as k; assert 'jieba' not in sys.modules and not k.segmenter_loaded(); print('ok')"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr
