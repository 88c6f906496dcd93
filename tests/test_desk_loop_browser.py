"""The whole loop of issue 12 in Debian's headless Chromium, as one flow: an operator signs in,
goes ready (the scripted Asterisk confirms), a queue call pops, the pop's "new ticket" link
opens the intake form on that call, the category is found by its pinyin initials, the ticket
is opened, registered and dispatched; the department's staff mark it handled with a note
(处置反馈); a supervisor verifies and closes it. A screenshot of each page goes to
$HOTLINE_SCREENSHOTS/loop-<backend>/ (when set) or the test's temp dir, for a person to look
at; never committed."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, expect

from hotline.calllog import records
from hotline.storage.db import Database
from hotline.storage.models import utcnow
from tests.browser import Person, browser, handle_verify_close
from tests.desk_server import running_desk, seed
from tests.seat_peer import Asterisk

__all__ = ["browser"]  # the module-scoped Chromium fixture

CALLER = "13812345678"
UNIQUEID = "asterisk-lab-1795235026.17-loop"  # the captured call the peer rings with, renumbered
NOTE = "已更换井盖并清理现场"


def test_call_to_closed_case_through_three_roles_in_chromium(database: Database, browser: Browser, tmp_path: Path) -> None:
    ids = seed(database)

    def the_ivr_recorded_the_call(s: Any) -> None:
        records.start_call(s, uniqueid=UNIQUEID, caller_number=CALLER, at=utcnow())
        records.add_event(s, uniqueid=UNIQUEID, kind="language", detail={"lang": "zh"})

    database.run(the_ivr_recorded_the_call)
    shots = Path(os.environ.get("HOTLINE_SCREENSHOTS") or tmp_path / "screens") / f"loop-{database.dialect}"
    shots.mkdir(parents=True, exist_ok=True)
    for old in shots.glob("*.png"):
        old.unlink()
    asterisk = Asterisk()
    with running_desk(database, context=asterisk.context(wrapup=30)) as port:
        assert asterisk.connected.wait(10)
        base = f"http://127.0.0.1:{port}"

        # The operator goes ready; the page shows what Asterisk answered.
        operator = Person(browser, base, shots, "operator")
        page = operator.page
        page.click("text=坐席控制台")
        expect(page.locator("#live")).to_have_attribute("data-state", "open")
        page.click("button[data-seat-action=ready]")
        expect(page.locator("#seat [data-seat-label]")).to_contain_text("就绪")
        assert asterisk.peer.members[("hotline-general", "PJSIP/1001")] == (False, "")
        operator.shot("console-ready")

        # A queue call rings the seat and pops; its link opens the intake form on that call.
        asterisk.call(lambda: asterisk.peer.ring("PJSIP/1001", CALLER, "-loop"))
        pop = page.locator("#pop")
        expect(pop.locator("[data-pop=caller]")).to_contain_text(CALLER)
        operator.shot("pop")
        pop.locator("[data-pop=new_ticket]").click()
        expect(page.locator("h1")).to_contain_text("通话中")
        expect(page.locator("input[name=caller]")).to_have_value(CALLER)
        search = page.locator("#category-search")
        search.fill("jgps")  # 井盖破损 by its pinyin initials
        expect(page.locator("#category-results li[role=option]").first).to_contain_text("井盖破损")
        operator.shot("category-search")
        search.press("Enter")
        expect(page.locator("select[name=category]")).not_to_have_value("")
        page.fill("input[name=location]", "市南区香港中路 1 号")
        page.fill("textarea[name=description]", "人行道井盖破损，有行人绊倒的危险")
        expect(page.locator("#duplicates")).not_to_contain_text("香港中路")  # nothing to link to
        operator.shot("intake")
        page.click("button[name=outcome][value=ticket]")
        expect(page.locator("h1")).to_contain_text("受理")
        number = page.url.rsplit("/", 1)[1]
        expect(page.locator("dl.facts")).to_contain_text("井盖破损")
        expect(page.locator("table.list")).to_contain_text(CALLER)  # the call is linked
        operator.shot("opened")
        operator.act("register")
        expect(page.locator("h1")).to_contain_text("立案")
        operator.shot("registered")
        operator.act("dispatch", department=str(ids["roads"]))
        expect(page.locator("h1")).to_contain_text("已派遣")
        operator.shot("dispatched")
        operator.close()

        # The department's staff report it handled with a note; a supervisor verifies and closes it.
        handle_verify_close(browser, base, shots, number, NOTE).close()
    print(f"screenshots: {shots}")
    assert len(list(shots.glob("*.png"))) == 14  # three sign-in pages and eleven more
