"""A supervisor in Debian's headless Chromium opens the month's report, sees its charts and
downloads its CSV (a real browser download, read back), then opens the wallboard and sees it
render and refresh from its JSON. Screenshots go under the test's temp dir."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect
from sqlalchemy import insert

from hotline.storage.db import Database
from hotline.storage.models import Call, CallDisposition
from tests.desk_server import running_desk, seed
from tests.test_desk_browser import Person, browser  # noqa: F401 - the module's browser fixture
from tests.test_kpi import NOW, call, calls, february, ref  # noqa: F401 - fixtures


@pytest.mark.usefixtures("february", "calls")
def test_a_supervisor_opens_a_report_and_downloads_its_csv(database: Database, browser: Browser, tmp_path: Path) -> None:  # noqa: F811 - the fixture
    seed(database)
    # Two calls this morning, so the wallboard has a queue with today's figures.
    with database.transaction() as s:
        s.execute(
            insert(Call),
            [call("m1", NOW - timedelta(minutes=50), CallDisposition.ANSWERED, "general", wait=4, talk=120), call("m2", NOW - timedelta(minutes=20), CallDisposition.ABANDONED, "general", wait=30)],
        )
    shots = tmp_path / "screens"
    shots.mkdir()
    with running_desk(database, now=lambda: NOW) as port:
        supervisor = Person(browser, f"http://127.0.0.1:{port}", shots, "supervisor")
        supervisor.page.click("text=报表")
        expect(supervisor.page.locator("h1")).to_contain_text("报表")
        supervisor.page.fill("input[name=date]", "2026-02-10")
        supervisor.page.select_option("select[name=period]", "month")
        supervisor.page.click("button:has-text('查询')")
        expect(supervisor.page.locator("h1 small")).to_contain_text("2026-02")
        expect(supervisor.page.locator("svg.chart")).to_have_count(1)
        supervisor.shot("report")
        with supervisor.page.expect_download() as download_info:
            supervisor.page.click("a[data-export=tickets]")
        download = download_info.value
        assert download.suggested_filename.endswith("-tickets.csv")
        saved = tmp_path / download.suggested_filename
        download.save_as(saved)
        body = saved.read_bytes()
        assert body.startswith(b"\xef\xbb\xbf")
        rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
        assert rows[0][1] == "部门" and rows[-1][1] == "合计" and "结案率 %" in rows[0]
        supervisor.page.click("text=趋势")
        expect(supervisor.page.locator("svg.chart")).to_have_count(3)
        supervisor.shot("trend")
        supervisor.page.goto(f"http://127.0.0.1:{port}/desk/wallboard?theme=dark")
        # wallboard.js renders the snapshot and stamps the time of the one it shows.
        expect(supervisor.page.locator("#wallboard[data-updated]")).to_have_count(1)
        expect(supervisor.page.locator("body.wall-dark")).to_have_count(1)
        today = supervisor.page.locator("tr[data-queue=general][data-period=today]")
        expect(today).to_contain_text("50.00 %")  # 接通率: 1 answered of 2 offered
        expect(today.locator("td.rate.bad")).to_have_count(1)  # below the 95 % target
        supervisor.shot("wallboard")
        supervisor.close()


@pytest.mark.usefixtures("february", "calls")
def test_each_period_from_the_form_a_reversed_range_and_the_formulas_on_hover(database: Database, browser: Browser, tmp_path: Path) -> None:  # noqa: F811 - the fixture
    """Day, week and month from the form; a custom range typed the wrong way round gets the
    400 page naming the field, and put right (grouped by operator) the report; a column
    header's hover text is its formula in Chinese."""
    seed(database)
    shots = tmp_path / "screens"
    shots.mkdir()
    with running_desk(database, now=lambda: NOW) as port:
        supervisor = Person(browser, f"http://127.0.0.1:{port}", shots, "supervisor")
        page = supervisor.page
        page.goto(f"http://127.0.0.1:{port}/desk/reports")
        for period, label in (("day", "2026-02-10"), ("week", "2026-W07"), ("month", "2026-02")):
            page.select_option("select[name=period]", period)
            page.fill("input[name=date]", "2026-02-10")
            page.click("button:has-text('查询')")
            expect(page.locator("h1 small")).to_contain_text(label)
        page.select_option("select[name=period]", "custom")
        page.fill("input[name=start]", "2026-02-12")
        page.fill("input[name=end]", "2026-02-03")
        page.click("button:has-text('查询')")
        expect(page.locator("[role=alert] li[data-field=end]")).to_contain_text("早于起始日 2026-02-12")
        supervisor.shot("reversed-range")
        page.fill("input[name=end]", "2026-02-20")
        page.select_option("select[name=by]", "operator")
        page.click("button:has-text('查询')")
        expect(page.locator("h1 small")).to_contain_text("2026-02-12 – 2026-02-20")
        expect(page.locator("table.figures").first.locator("thead th").nth(0)).to_have_text("受理话务员")
        expect(page.locator("table.figures").first.locator("thead th").nth(1)).to_have_attribute("title", re.compile(r"^立案率 = 立案数 / 受理数。"))
        supervisor.shot("custom-by-operator")
        supervisor.close()
