"""End to end in a real headless Chromium (Debian's, installed by scripts/install.sh --test;
never a downloaded browser): a ticket's loop through three roles, clicking as a person does.
Each page is saved as a screenshot under the test's temp dir for a person to look at."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from hotline.storage.db import Database
from tests.desk_server import PASSWORD, running_desk, seed

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert os.path.exists(CHROMIUM), "chromium missing: run scripts/install.sh --test"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield browser
        finally:
            browser.close()


class Person:
    """One browser context (its own cookies) signed in as one user, taking screenshots."""

    def __init__(self, browser: Browser, base: str, shots: Path, username: str) -> None:
        self.context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN", timezone_id="Asia/Shanghai")
        self.page: Page = self.context.new_page()
        self.base, self.shots, self.username, self.count = base, shots, username, 0
        self.page.goto(f"{base}/desk/tickets")
        self.shot("login")
        self.page.fill("input[name=username]", username)
        self.page.fill("input[name=password]", PASSWORD)
        self.page.click("button.primary")
        expect(self.page.locator("h1")).to_contain_text("工单")

    def shot(self, name: str) -> None:
        self.count += 1
        self.page.screenshot(path=str(self.shots / f"{self.username}-{self.count:02d}-{name}.png"), full_page=True)

    def act(self, action: str, **fields: str) -> None:
        form = self.page.locator(f"form[data-action={action}]")
        for name, value in fields.items():
            target = form.locator(f"[name={name}]")
            if target.evaluate("e => e.tagName") == "SELECT":
                target.select_option(value)
            else:
                target.fill(value)
        form.locator("button").click()
        self.page.wait_for_load_state()

    def close(self) -> None:
        self.context.close()


def test_a_ticket_round_the_loop_in_chromium(database: Database, browser: Browser, tmp_path: Path) -> None:
    ids = seed(database)
    shots = tmp_path / "screens"
    shots.mkdir()
    with running_desk(database) as port:
        base = f"http://127.0.0.1:{port}"
        operator = Person(browser, base, shots, "operator")
        operator.shot("tickets-empty")
        operator.page.click("text=新建工单")
        operator.page.fill("input[name=caller]", "13812345678")
        operator.page.select_option("select[name=category]", "1")
        operator.page.fill("input[name=location]", "香港中路 1 号")
        operator.page.fill("textarea[name=description]", "人行道井盖破损，有行人绊倒的危险")
        operator.shot("new-ticket")
        operator.page.click("text=受理工单")
        expect(operator.page.locator("h1")).to_contain_text("受理")
        number = operator.page.url.rsplit("/", 1)[1]
        operator.act("register", category="1")
        expect(operator.page.locator("h1")).to_contain_text("立案")
        expect(operator.page.locator("form[data-action=dispatch]")).to_contain_text("现在派遣的处置时限")
        operator.shot("registered")
        operator.act("dispatch", department=str(ids["roads"]))
        expect(operator.page.locator("h1")).to_contain_text("已派遣")
        operator.shot("dispatched")
        operator.page.click("text=工单")
        expect(operator.page.locator("table.list")).to_contain_text(number)
        operator.shot("tickets")
        operator.close()

        dept = Person(browser, base, shots, "dept")
        dept.page.click(f"text={number}")
        expect(dept.page.locator("dl.facts")).to_contain_text("138****5678")
        dept.act("handle", reason="已更换井盖并清理现场")
        expect(dept.page.locator("h1")).to_contain_text("已处置")
        dept.shot("handled")
        dept.close()

        supervisor = Person(browser, base, shots, "supervisor")
        supervisor.page.goto(f"{base}/desk/tickets/{number}")
        supervisor.act("verify")
        expect(supervisor.page.locator("h1")).to_contain_text("已核查")
        supervisor.act("close")
        expect(supervisor.page.locator("h1")).to_contain_text("已结案")
        expect(supervisor.page.locator("ol.timeline")).to_contain_text("已更换井盖并清理现场")
        supervisor.shot("closed")
        supervisor.page.click("text=English")
        expect(supervisor.page.locator("h1")).to_contain_text("closed")
        supervisor.shot("closed-english")
        supervisor.close()
    print(f"screenshots: {shots}")
    assert len(list(shots.glob("*.png"))) == 11
