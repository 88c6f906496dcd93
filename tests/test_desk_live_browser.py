"""The live desk end to end in Debian's headless Chromium: an operator signs in, goes ready
(the scripted Asterisk confirms and the page shows it), a queue call rings the seat and pops;
the rest of its IVR path, written after the pop, updates it in place; the browser's stream
is cut, the page says so, a call pops meanwhile and arrives when the
stream is back. Screenshots go to the test's temp dir."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Browser, Route, expect
from sqlalchemy.orm import Session

from agent_desk.app import Desk
from hotline.storage.db import Database
from hotline.storage.models import Call, CallEvent
from tests.browser import Person, browser
from tests.desk_server import running_desk, seed
from tests.seat_peer import Asterisk

__all__ = ["browser"]  # the module-scoped Chromium fixture


def opened_call(session: Session, uniqueid: str) -> int:
    """A call record with its first menu step: what the IVR's first batch writes."""
    call = Call(uniqueid=uniqueid, caller_number="+8613812345678")
    session.add(call)
    session.flush()
    session.add(CallEvent(call_id=call.id, kind="menu", detail={"node": "main", "lang": "zh"}))
    return call.id


def test_go_ready_pop_cut_and_resume_in_chromium(database: Database, browser: Browser, tmp_path: Path) -> None:
    ids = seed(database)
    shots = tmp_path / "screens"
    shots.mkdir()
    asterisk = Asterisk()
    desks: list[Desk] = []
    with running_desk(database, context=asterisk.context(wrapup=30), desks=desks) as port:
        assert asterisk.connected.wait(10)
        desk = desks[0]
        operator = Person(browser, f"http://127.0.0.1:{port}", shots, "operator")
        page = operator.page
        live = page.locator("#live")
        expect(live).to_have_attribute("data-state", "open")
        page.click("text=坐席控制台")
        expect(page.locator("h1")).to_contain_text("坐席控制台")
        expect(page.locator("#seat [data-seat-label]")).to_contain_text("未签入")
        operator.shot("console-logged-off")

        page.click("button[data-seat-action=ready]")
        expect(page.locator("#seat [data-seat-label]")).to_contain_text("就绪")
        expect(page.locator("#seat-badge")).to_have_attribute("data-state", "ready")
        assert asterisk.peer.members[("hotline-general", "PJSIP/1001")] == (False, "")
        operator.shot("console-ready")

        # The IVR's record of the call as far as the call log had written it when the seat rang.
        call_id = database.run(lambda s: opened_call(s, "asterisk-lab-1795235026.17-p1"))
        asterisk.call(lambda: asterisk.peer.ring("PJSIP/1001", "13812345678", "-p1"))
        pop = page.locator("#pop")
        expect(pop).to_be_visible()
        expect(pop.locator("[data-pop=caller]")).to_contain_text("13812345678")
        expect(pop.locator("[data-pop=path]")).to_have_text("main")
        expect(pop.locator("[data-pop=new_ticket]")).to_have_attribute("href", "/desk/tickets/new?call=asterisk-lab-1795235026.17-p1")
        operator.shot("pop")
        pop.locator("[data-pop-close]").click()
        expect(pop).to_be_hidden()
        # The rest of the path is written: the closed pop is brought up to date, not reopened.
        database.run(lambda s: s.add_all([CallEvent(call_id=call_id, kind="key", detail={"node": "main", "key": "1"}), CallEvent(call_id=call_id, kind="queue_enter", detail={"queue": "general"})]))
        expect(pop.locator("[data-pop=path]")).to_have_text("main → [1]")
        expect(pop).to_be_hidden()
        # Closed, or on another page: the last call is one click away.
        page.click("text=工单")
        page.click("[data-pop-again]")
        expect(pop.locator("[data-pop=caller]")).to_contain_text("13812345678")
        expect(pop.locator("[data-pop=path]")).to_have_text("main → [1]")
        pop.locator("[data-pop-close]").click()
        page.click("text=坐席控制台")
        expect(live).to_have_attribute("data-state", "open")  # this page's stream is connected

        # Cut the stream and keep the browser from reconnecting until the second call popped.
        def refuse(route: Route) -> None:
            route.abort()

        page.route("**/desk/events**", refuse)
        assert asterisk.call(lambda: desk.end_streams(ids["operator"])) == 1
        expect(live).to_have_attribute("data-state", "reconnecting")
        expect(live).to_contain_text("连接已断开")
        operator.shot("disconnected")
        asterisk.call(lambda: asterisk.peer.ring("PJSIP/1001", "13900001111", "-p2"))
        page.unroute("**/desk/events**")
        expect(pop).to_be_visible(timeout=15000)
        expect(pop.locator("[data-pop=caller]")).to_contain_text("13900001111")
        expect(live).to_have_attribute("data-state", "open")
        operator.shot("pop-after-reconnect")
        operator.close()
    print(f"screenshots: {shots}")
    assert len(list(shots.glob("*.png"))) == 6
