"""Debian's headless Chromium for the desk's browser tests (installed by scripts/install.sh
--test; never a downloaded browser): a module-scoped browser fixture and a signed-in person."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.desk_server import PASSWORD

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


def handle_verify_close(browser: Browser, base: str, shots: Path, number: str, note: str) -> Person:
    """The second half of a case's loop: department staff (of the case's department) find the
    dispatched case in their list, see the caller's number masked and report it handled with
    `note` (处置反馈); a supervisor verifies and closes it. Returns the supervisor, still signed
    in on the closed case."""
    dept = Person(browser, base, shots, "dept")
    dept.page.click(f"text={number}")
    expect(dept.page.locator("dl.facts")).to_contain_text("138****5678")
    dept.shot("case")
    dept.act("handle", reason=note)
    expect(dept.page.locator("h1")).to_contain_text("已处置")
    dept.shot("handled")
    dept.close()

    supervisor = Person(browser, base, shots, "supervisor")
    supervisor.page.click(f"text={number}")
    supervisor.act("verify")
    expect(supervisor.page.locator("h1")).to_contain_text("已核查")
    supervisor.shot("verified")
    supervisor.act("close")
    expect(supervisor.page.locator("h1")).to_contain_text("已结案")
    expect(supervisor.page.locator("ol.timeline")).to_contain_text(note)
    supervisor.shot("closed")
    return supervisor
