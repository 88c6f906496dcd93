"""Oversight end to end in Debian's headless Chromium: a department finds its overdue case on
the board and requests an extension; a supervisor sees the request pending, approves it; the
department sees the new deadline. The daily summary is captured in print media too.
Screenshots are saved under the test's temp dir for a person to look at."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from playwright.sync_api import Browser, expect

from hotline.storage.db import Database
from hotline.storage.models import TicketSource
from hotline.tickets import services
from hotline.tickets.services import Actor
from hotline.tickets.workflow import Action
from hotline.worktime import TimeLimit
from tests import test_desk_browser
from tests.desk_server import POLICY, running_desk, seed
from tests.test_desk_browser import Person

CST = ZoneInfo("Asia/Shanghai")
#: Debian's Chromium, once per module (the desk browser test's fixture).
browser = test_desk_browser.browser


def test_a_department_requests_an_extension_and_sees_the_new_deadline(database: Database, browser: Browser, tmp_path: Path) -> None:
    ids = seed(database)
    when = datetime(2026, 9, 30, 15, 0, tzinfo=CST)  # due Thu 10-08 15:00, after National Day

    def work(s: Any) -> tuple[str, datetime]:
        actor = Actor("op")
        t = services.open_ticket(s, POLICY, source=TicketSource.HOTLINE, actor=actor, caller_number="13812345678", description="人行道井盖破损", location="香港中路 1 号", category_id=1, at=when)
        services.apply(s, POLICY, t, Action.REGISTER, actor=actor, at=when)
        services.apply(s, POLICY, t, Action.DISPATCH, actor=actor, at=when, department_id=ids["roads"], time_limit="1 working_day")
        assert t.deadline_at is not None
        return t.number, t.deadline_at

    number, old = database.run(work)
    new = POLICY.calendar.deadline(old, TimeLimit.parse("2 working_days"))
    assert new.astimezone(CST) == datetime(2026, 10, 10, 15, 0, tzinfo=CST)  # through the worked Saturday (调休)
    shots = tmp_path / "screens"
    shots.mkdir()
    with running_desk(database) as port:
        base = f"http://127.0.0.1:{port}"
        dept = Person(browser, base, shots, "dept")
        dept.page.click("header nav >> text=督办")
        row = dept.page.locator(f"tr[data-number='{number}']")
        expect(row).to_contain_text("超时")
        dept.shot("board")
        row.locator(f"text={number}").click()
        form = dept.page.locator("form[data-form=request-extension]")
        form.locator("[name=amount]").fill("2")
        form.locator("[name=unit]").select_option("working_days")
        form.locator("[name=reason]").fill("需要更换井座，材料周六到货")
        form.locator("button").click()
        expect(dept.page.locator("#oversight .pending")).to_contain_text("已申请延期，等待审批")
        expect(dept.page.locator("#oversight .pending")).to_contain_text("2026-10-10 15:00")
        dept.shot("requested")

        supervisor = Person(browser, base, shots, "supervisor")
        supervisor.page.click("header nav >> text=督办")
        pending = supervisor.page.locator("table.pending-requests")
        expect(pending).to_contain_text(number)
        expect(pending).to_contain_text("需要更换井座")
        supervisor.shot("board-pending")
        pending.locator(f"text={number}").click()
        decide = supervisor.page.locator("form[data-form=decide-extension]")
        decide.locator("[name=note]").fill("同意，周六完成")
        decide.locator("button[value=approve]").click()
        expect(supervisor.page.locator("#oversight")).to_contain_text("已批准")
        expect(supervisor.page.locator("dl.facts")).to_contain_text("2026-10-10 15:00")
        supervisor.shot("approved")
        supervisor.page.goto(f"{base}/desk/oversight/daily?date=2026-09-30")
        expect(supervisor.page.locator("table.daily tfoot")).to_contain_text("1")
        supervisor.page.emulate_media(media="print")
        expect(supervisor.page.locator("header.top")).to_be_hidden()
        supervisor.shot("daily-print")
        supervisor.close()

        dept.page.reload()
        expect(dept.page.locator("dl.facts")).to_contain_text("2026-10-10 15:00")
        outcome = dept.page.locator("#oversight [data-outcome=approved]")
        expect(outcome).to_contain_text("已批准")
        expect(outcome).to_contain_text("同意，周六完成")
        expect(outcome).to_contain_text("2026-10-10 15:00")
        dept.shot("sees-new-deadline")
        dept.close()
    print(f"screenshots: {shots}")
    assert len(list(shots.glob("*.png"))) == 8
