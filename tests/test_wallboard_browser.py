"""The wallboard end to end in Debian's headless Chromium, on both backends: a supervisor watches
it change as the scripted Asterisk (tests/seat_peer.py, the lab's captured call frames) places
a call (waiting goes up), the operator's seat answers it (answered, agent on a call) and a
second caller abandons (abandoned, abandon rate) — the live part from the AMI live model, the
counts from the call records the AMI writer keeps; then the supervisor pauses the operator
from the agent list and the row shows paused with the reason Asterisk reported back, while the
operator's page is told. Screenshots go to $HOTLINE_SCREENSHOTS/wallboard-<backend>/ (when
set) or the test's temp dir; never committed."""

from __future__ import annotations

import os
from pathlib import Path

from playwright.sync_api import Browser, expect

from agent_desk.app import Desk
from hotline.simulator.asterisk import SimulatedAsterisk
from hotline.storage.db import Database
from tests.browser import Person, browser
from tests.desk_server import running_desk, seed
from tests.seat_peer import Asterisk

__all__ = ["browser"]  # the module-scoped Chromium fixture

SEAT = "PJSIP/1001"
#: Figures that come from the call records wait for the writer and the next snapshot.
RECORDED = 15_000


def test_a_supervisor_watches_calls_and_pauses_an_operator_in_chromium(database: Database, browser: Browser, tmp_path: Path) -> None:
    seed(database)
    shots = Path(os.environ.get("HOTLINE_SCREENSHOTS") or tmp_path / "screens") / f"wallboard-{database.dialect}"
    shots.mkdir(parents=True, exist_ok=True)
    for old in shots.glob("*.png"):
        old.unlink()
    asterisk = Asterisk()
    desks: list[Desk] = []
    with running_desk(database, context=asterisk.context(wrapup=0), desks=desks) as port:
        assert asterisk.connected.wait(10)
        asterisk.record_calls(desks[0].context.pool, tmp_path / "journal")
        base = f"http://127.0.0.1:{port}"

        # The operator goes ready; the supervisor opens the wallboard and sees the seat ready.
        operator = Person(browser, base, shots, "operator")
        operator.page.click("text=坐席控制台")
        expect(operator.page.locator("#live")).to_have_attribute("data-state", "open")
        operator.page.click("button[data-seat-action=ready]")
        expect(operator.page.locator("#seat [data-seat-label]")).to_contain_text("就绪")
        supervisor = Person(browser, base, shots, "supervisor")
        page = supervisor.page
        page.click("text=实时监控")
        expect(page.locator("#live")).to_have_attribute("data-state", "open")
        today = page.locator("tr[data-queue=general][data-period=today]")
        figure = lambda name: page.locator(f"tr[data-queue=general] td[data-figure={name}]")  # noqa: E731 - a locator per figure
        agent = page.locator("tr[data-seat='1001']")
        expect(agent).to_have_attribute("data-state", "ready")
        expect(figure("waiting")).to_have_text("0")
        expect(page.locator("#wb-live")).to_have_class("wb-up")
        expect(page.locator("abbr", has_text="接通率")).to_have_attribute("title", "接通率：接通量 / 进线量（目标 ≥ 95 %）")
        supervisor.shot("wallboard-idle")

        # A caller joins the queue: one waiting.
        asterisk.call(lambda: asterisk.peer.queue_call(list(SimulatedAsterisk.JOIN), SEAT, "13812345678", "-wb1"))
        expect(figure("waiting")).to_have_text("1")
        supervisor.shot("caller-waiting")

        # The operator's seat answers: nobody waits, the agent is on a call, the call is answered.
        asterisk.call(lambda: asterisk.peer.queue_call(list(SimulatedAsterisk.ANSWER), SEAT, "13812345678", "-wb1"))
        expect(figure("waiting")).to_have_text("0")
        expect(agent).to_have_attribute("data-state", "on_call")
        expect(today.locator("td[data-figure=answered]")).to_have_text("1", timeout=RECORDED)
        supervisor.shot("answered-on-call")
        asterisk.call(lambda: asterisk.peer.queue_call(list(SimulatedAsterisk.HANG_UP), SEAT, "13812345678", "-wb1"))
        expect(agent).to_have_attribute("data-state", "ready")

        # A second caller waits and hangs up: abandoned, and the abandon rate is 1 of 2 offered.
        asterisk.call(lambda: asterisk.peer.queue_call(list(SimulatedAsterisk.ABANDON), SEAT, "13900001111", "-wb2"))
        expect(today.locator("td[data-figure=abandoned]")).to_have_text("1", timeout=RECORDED)
        expect(today.locator("td[data-figure=abandon_rate]")).to_have_text("50.00 %", timeout=RECORDED)
        expect(today.locator("td[data-figure=offered]")).to_have_text("2")
        expect(today.locator("td[data-figure=abandon_rate]")).to_have_attribute("title", "1 / 2 · 放弃率：放弃量 / 进线量")
        supervisor.shot("abandoned")

        # The supervisor pauses the operator from the agent list; the row shows what Asterisk
        # reported back (QueueMemberPause with the reason), the operator's page is told.
        agent.locator("button[data-manage]").click()
        panel = page.locator("#wb-seat")
        expect(panel).to_be_visible()
        expect(panel.locator("[data-seat-field=seat]")).to_have_text("1001")
        expect(panel.locator("form[data-seat-action=unpause]")).to_be_hidden()  # it is not paused
        panel.locator("form[data-seat-action=pause] select[name=reason]").select_option("meal")
        supervisor.shot("seat-panel")
        panel.locator("form[data-seat-action=pause] button").click()
        expect(page.locator("#wb-done")).to_contain_text("已请 Asterisk 暂停坐席 1001")
        expect(agent).to_have_attribute("data-state", "paused")
        expect(agent.locator("td.state")).to_have_text("暂停 · 用餐")
        assert asterisk.peer.members[("hotline-general", SEAT)] == (True, "meal")
        expect(panel.locator("[data-seat-field=state]")).to_have_text("暂停 · 用餐")
        expect(panel.locator("form[data-seat-action=unpause]")).to_be_visible()
        expect(panel.locator("form[data-seat-action=pause]")).to_be_hidden()
        supervisor.shot("paused")
        expect(operator.page.locator("#notices")).to_contain_text("主管 supervisor 用户 暂停了您的坐席 1001（用餐）。")
        expect(operator.page.locator("#seat [data-seat-label]")).to_contain_text("暂停")
        operator.shot("told-paused")
        supervisor.close()
        operator.close()
    print(f"screenshots: {shots}")
    assert len(list(shots.glob("*.png"))) == 9  # two sign-in pages and seven more
