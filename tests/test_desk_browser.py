"""End to end in a real headless Chromium (Debian's, installed by scripts/install.sh --test;
never a downloaded browser): a ticket's loop through three roles, clicking as a person does.
Each page is saved as a screenshot under the test's temp dir for a person to look at."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Browser, expect

from hotline.storage.db import Database
from tests.browser import Person, browser, handle_verify_close
from tests.desk_server import running_desk, seed

__all__ = ["Person", "browser"]  # in tests/browser.py; other test modules still import them from here


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

        supervisor = handle_verify_close(browser, base, shots, number, "已更换井盖并清理现场")
        supervisor.page.click("text=English")
        expect(supervisor.page.locator("h1")).to_contain_text("closed")
        supervisor.shot("closed-english")
        supervisor.close()
    print(f"screenshots: {shots}")
    assert len(list(shots.glob("*.png"))) == 13
