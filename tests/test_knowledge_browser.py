"""The knowledge base in Debian's headless Chromium, as an operator uses it on a call: open the
new-ticket form's "answered directly" panel, search by the caller's sentence, see the answer
marked unreviewed, use it (the answer is copied into the form and the use counted), and finish
the consultation as 直接答复. Screenshots go to the test's temp dir."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Browser, expect
from sqlalchemy import select

from hotline.storage.db import Database
from hotline.storage.models import KnowledgeAnswer, Role, Ticket, TicketStatus
from hotline.tickets import knowledge
from hotline.users import SignedIn
from tests.desk_server import running_desk, seed
from tests.test_desk_browser import Person, browser  # noqa: F401 - the module's Chromium fixture

ANSWER = "请告知具体位置，市政部门将在 24 小时内补装井盖。"


def test_search_and_use_an_answer_from_the_intake_form(database: Database, browser: Browser, tmp_path: Path) -> None:  # noqa: F811 - the fixture
    ids = seed(database)
    sup = SignedIn(ids["supervisor"], "supervisor", "", frozenset({Role.SUPERVISOR}), None, None, "t", "zh_Hans", "h")
    form = knowledge.AnswerForm(title="井盖丢失或破损如何报修", answer=ANSWER, keywords="窨井", active="1")
    answer_id = database.run(lambda s: knowledge.save(s, sup, form, address="127.0.0.1").id)
    shots = tmp_path / "screens"
    shots.mkdir()
    with running_desk(database) as port:
        operator = Person(browser, f"http://127.0.0.1:{port}", shots, "operator")
        page = operator.page
        page.goto(f"http://127.0.0.1:{port}/desk/tickets/new")
        page.fill("input[name=caller]", "13912345678")
        page.fill("input[name=location]", "市南区")
        page.fill("textarea[name=description]", "井盖丢了怎么办？")
        page.locator("details.answer summary").click()
        query = page.locator(".knowledge-query")
        query.fill("井盖丢了怎么办")
        hit = page.locator(".knowledge-results li").first
        expect(hit).to_contain_text("井盖丢失或破损如何报修")
        expect(hit.locator(".tag.unreviewed")).to_have_text("未审核")
        query.press("Enter")  # Enter in the search box does not submit the intake form
        assert page.url.endswith("/desk/tickets/new")
        operator.shot("knowledge-found")
        with page.expect_response(lambda r: r.url.endswith("/desk/knowledge/use") and r.status == 204):
            hit.locator("button").click()
        expect(page.locator("textarea[name=answer]")).to_have_value(ANSWER)
        assert database.read(lambda s: s.get(KnowledgeAnswer, answer_id).usage_count) == 1
        operator.shot("knowledge-used")
        page.locator("button[name=outcome][value=answer]").click()
        expect(page.locator("main")).to_contain_text("直接答复")
        operator.shot("answered")
    t = database.read(lambda s: s.scalars(select(Ticket).order_by(Ticket.id.desc())).first())
    assert t is not None and t.status is TicketStatus.ANSWERED and t.resolution == ANSWER
