"""Intake end to end in Debian's headless Chromium, with the keyboard as an operator uses it on
a call: pick the category by its pinyin initials, see the open case at the same address
offered as a duplicate, add the caller to it, find the case by the caller's phone, and see
on the case page that two citizens reported it. Screenshots go to the test's temp dir."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, expect
from sqlalchemy import select

from hotline.calllog import records
from hotline.storage.db import Database
from hotline.storage.models import Category, CategoryKind, TicketSource, utcnow
from hotline.tickets import services
from hotline.tickets.services import SYSTEM
from tests.desk_server import POLICY, running_desk, seed
from tests.test_desk_browser import Person, browser  # noqa: F401 - the module's Chromium fixture

UNIQUEID = "1796272279.6"


def test_intake_by_pinyin_duplicate_link_and_find_by_phone(database: Database, browser: Browser, tmp_path: Path) -> None:  # noqa: F811 - the fixture
    ids = seed(database)

    def more(s: Any) -> str:
        garbage = Category(code="200199", kind=CategoryKind.EVENT, name_zh="垃圾堆放", name_en="Garbage piled up", default_department_id=ids["roads"])
        s.add(garbage)
        s.flush()
        records.start_call(s, uniqueid=UNIQUEID, caller_number="13912345678", at=utcnow() - timedelta(minutes=1))
        records.add_event(s, uniqueid=UNIQUEID, kind="language", detail={"lang": "zh"})
        first = services.open_ticket(
            s, POLICY, source=TicketSource.HOTLINE, actor=SYSTEM, caller_number="13800000001", description="路口垃圾堆了三天", location="市南区香港中路 1 号", category_id=garbage.id
        )
        return first.number

    number = database.run(more)
    garbage_id = database.read(lambda s: s.scalars(select(Category.id).where(Category.code == "200199")).one())
    shots = tmp_path / "screens"
    shots.mkdir()
    with running_desk(database) as port:
        operator = Person(browser, f"http://127.0.0.1:{port}", shots, "operator")
        page = operator.page
        page.goto(f"http://127.0.0.1:{port}/desk/tickets/new?call={UNIQUEID}")  # where the console's screen pop leads
        expect(page.locator("input[name=caller]")).to_have_value("13912345678")
        search = page.locator("#category-search")
        search.focus()
        page.keyboard.type("ljdf")
        expect(page.locator("#category-results li[role=option]").first).to_contain_text("垃圾堆放")
        expect(search).to_have_attribute("aria-expanded", "true")
        operator.shot("category-by-initials")
        page.keyboard.press("Enter")
        expect(page.locator("select[name=category]")).to_have_value(str(garbage_id))
        expect(page.locator("#category-results")).to_be_hidden()
        page.keyboard.press("Tab")  # on to the select, then the address, as an operator would
        page.keyboard.press("Tab")
        page.keyboard.type("香港中路一号")
        duplicate = page.locator(f"#duplicates li.dup[data-number='{number}']")
        expect(duplicate).to_contain_text("已有 1 位市民反映")
        expect(page.locator("input[name=offered]")).to_have_value(number)
        page.fill("textarea[name=description]", "垃圾还没清，味道很大")
        operator.shot("duplicate-offered")
        duplicate.locator("button.link-dup").click()
        expect(page.locator("p.notice[role=status]")).to_contain_text(f"来电人已加入工单 {number}")
        expect(page.locator("blockquote.read-out").first).to_contain_text(f"工单号{number}")
        operator.shot("linked")

        page.goto(f"http://127.0.0.1:{port}/desk/tickets/new")
        find = page.locator("form[data-find] input[name=q]")
        find.fill("139 1234 5678")
        find.press("Enter")
        found = page.locator(f".found-cases article.found[data-number='{number}']")
        expect(found).to_contain_text("此号码已加入该工单")
        expect(found.locator("blockquote.read-out").first).to_contain_text("您反映的问题已于")
        assert page.url.endswith("/desk/tickets/new")  # found without leaving the form
        operator.shot("found-by-phone")

        page.goto(f"http://127.0.0.1:{port}/desk/tickets/{number}")
        reporters = page.locator("section.reporters")
        expect(reporters).to_contain_text("已有 2 位市民反映")
        expect(reporters).to_contain_text("垃圾还没清，味道很大")
        operator.shot("case-reporters")
        operator.close()
    print(f"screenshots: {shots}")
    assert len(list(shots.glob("*.png"))) == 6
