"""In Chromium: an administrator changes a class's time limit on the categories page, and the
next ticket an operator dispatches (the desk running all along) shows the new deadline.
Screenshots are saved under the test's temp dir."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from playwright.sync_api import Browser, expect
from sqlalchemy import select

from hotline.storage.db import Database
from hotline.storage.models import Ticket
from tests.desk_server import running_desk, seed
from tests.test_desk_browser import Person, browser

__all__ = ["browser"]  # the module-scoped Chromium fixture, shared with the desk's browser test


def test_an_admin_changes_a_time_limit_and_the_next_dispatch_uses_it(database: Database, browser: Browser, tmp_path: Path) -> None:
    ids = seed(database)
    shots = tmp_path / "screens"
    shots.mkdir()
    with running_desk(database) as port:
        base = f"http://127.0.0.1:{port}"
        admin = Person(browser, base, shots, "admin")
        admin.page.click("text=问题分类")
        form = admin.page.locator("form[data-category='0101']")
        form.locator("select[name=department]").select_option("roads")
        form.locator("input[name=time_limit]").fill("3 days")
        form.locator("input[name=urgent_time_limit]").fill("2小时")
        form.locator("button").click()
        # The taxonomy loader's own refusal, the value kept as typed.
        expect(admin.page.locator(".alert")).to_contain_text("'days' is ambiguous")
        expect(admin.page.locator("form[data-category='0101'] input[name=time_limit]")).to_have_value("3 days")
        admin.shot("refused")
        form = admin.page.locator("form[data-category='0101']")
        form.locator("input[name=time_limit]").fill("6小时")
        form.locator("button").click()
        expect(admin.page.locator("p.ok")).to_contain_text("0101")
        expect(admin.page.locator("#c-0101 td.applied")).to_contain_text("6 hours / 2 hours")
        admin.shot("saved")
        # The calendar's month view: National Day 2026 and the Saturday worked for it (调休).
        admin.page.click("text=工作日历")
        admin.page.goto(f"{base}/desk/admin/calendar?month=2026-10")
        expect(admin.page.locator("td[data-date='2026-10-01']")).to_contain_text("国庆节")
        expect(admin.page.locator("td[data-date='2026-10-10']")).to_contain_text("调休上班")
        admin.shot("calendar")
        admin.close()

        operator = Person(browser, base, shots, "operator")
        operator.page.click("text=新建工单")
        operator.page.fill("input[name=caller]", "13812345678")
        operator.page.select_option("select[name=category]", "1")
        operator.page.fill("input[name=location]", "香港中路 1 号")
        operator.page.fill("textarea[name=description]", "井盖缺失")
        operator.page.click("text=受理工单")
        expect(operator.page.locator("h1")).to_contain_text("受理")
        operator.act("register", category="1")
        operator.act("dispatch", department=str(ids["roads"]))
        expect(operator.page.locator("h1")).to_contain_text("已派遣")
        number = operator.page.url.rsplit("/", 1)[1]
        ticket = database.read(lambda s: s.scalars(select(Ticket).where(Ticket.number == number)).one())
        assert ticket.deadline_at == ticket.dispatched_at + timedelta(hours=6)
        shown = ticket.deadline_at.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%d %H:%M")
        expect(operator.page.locator("dl.facts")).to_contain_text(f"{shown} (6小时)")
        operator.shot("dispatched")
        operator.close()
    print(f"screenshots: {shots}")
    assert len(list(shots.glob("*.png"))) == 6
