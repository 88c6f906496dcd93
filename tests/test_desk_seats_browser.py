"""The operator's keyboard and a form that a call cannot take away, in Debian's headless
Chromium against the simulated Asterisk (tests/seat_peer.py): the shortcuts' legend is on the
page, Alt+R / Alt+P drive the seat (Asterisk gets the action, the page shows what it reports),
nothing fires while typing in a field, Alt+N opens the popped call's form and "/" the search for
a case; a call that pops over a half-filled intake form leaves it as it is (the pop's form
opens in a new tab) and the draft survives a reload. Screenshots go to the test's temp dir."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from hotline.storage.db import Database
from tests.browser import Person, browser
from tests.desk_server import running_desk, seed
from tests.seat_peer import Asterisk

__all__ = ["browser"]  # the module-scoped Chromium fixture

SEAT = "PJSIP/1001"


@pytest.fixture
def operator(database: Database, browser: Browser, tmp_path: Path) -> Iterator[tuple[Person, Asterisk]]:
    seed(database)
    shots = tmp_path / "screens"
    shots.mkdir()
    asterisk = Asterisk()
    with running_desk(database, context=asterisk.context(wrapup=30)) as port:
        assert asterisk.connected.wait(10)
        person = Person(browser, f"http://127.0.0.1:{port}", shots, "operator")
        expect(person.page.locator("#live")).to_have_attribute("data-state", "open")
        yield person, asterisk
        person.close()
    print(f"screenshots: {shots}")


def off_fields(page: Page) -> None:
    """Focus back on the page, out of any field."""
    page.locator("h1").click()


def test_shortcuts_drive_the_seat_open_the_pop_s_form_and_search(operator: tuple[Person, Asterisk]) -> None:
    person, asterisk = operator
    page = person.page
    legend = page.locator("#shortcuts")
    expect(legend).to_be_visible()
    for text in ("快捷键", "Alt+R", "就绪", "Alt+P", "小休", "Alt+N", "新建工单", "/", "查找"):
        expect(legend).to_contain_text(text)
    badge = page.locator("#seat-badge")

    off_fields(page)
    page.keyboard.press("Alt+KeyR")
    expect(badge).to_have_attribute("data-state", "ready")
    assert [a["Queue"] for a in asterisk.peer.wait_for("QueueAdd", 1, Interface=SEAT)] == ["hotline-general"]
    person.shot("ready-by-keyboard")

    # Typing in a field, Alt+P is the field's: the seat stays as it is.
    page.locator("[data-search]").fill("R")
    page.keyboard.press("Alt+KeyP")
    off_fields(page)
    page.keyboard.press("Alt+KeyP")
    expect(badge).to_have_attribute("data-state", "paused")
    expect(badge).to_contain_text("小休")
    assert len(asterisk.peer.sent("QueuePause")) == 1 and asterisk.peer.members[("hotline-general", SEAT)] == (True, "break")
    page.keyboard.press("Alt+KeyR")
    expect(badge).to_have_attribute("data-state", "ready")

    # A call pops; Alt+N opens its form.
    uniqueid = asterisk.call(lambda: asterisk.peer.ring(SEAT, "13812345678", "-keys"))
    expect(page.locator("#pop")).to_be_visible()
    page.keyboard.press("Alt+KeyN")
    expect(page).to_have_url(re.compile(r"/desk/tickets/new\?call=" + re.escape(uniqueid) + "$"))
    expect(page.locator("input[name=call]")).to_have_value(uniqueid)
    person.shot("new-ticket-by-keyboard")

    # "/" finds a case: the intake page's own search …
    off_fields(page)
    page.keyboard.press("/")
    expect(page.locator("form[data-find] input[name=q]")).to_be_focused()
    # … and from the console, the ticket list's.
    page.click("text=坐席控制台")
    expect(page.locator("h1")).to_contain_text("坐席控制台")
    page.keyboard.press("/")
    expect(page.locator("[data-search]")).to_be_focused()
    expect(page).to_have_url(re.compile(r"/desk/tickets#search$"))


def test_a_call_popping_over_a_half_filled_form_leaves_it_alone(operator: tuple[Person, Asterisk]) -> None:
    person, asterisk = operator
    page = person.page
    page.click("nav >> text=新建工单")
    expect(page.locator("h1")).to_contain_text("新建工单")
    form_url = page.url
    description, address = page.locator("textarea[name=description]"), page.locator("input[name=location]")
    description.fill("路灯不亮，已经三天了")
    address.fill("香港中路 8 号")

    uniqueid = asterisk.call(lambda: asterisk.peer.ring(SEAT, "13900001111", "-draft"))
    pop = page.locator("#pop")
    expect(pop).to_be_visible()
    expect(pop.locator("[data-pop=caller]")).to_contain_text("13900001111")
    assert page.url == form_url
    expect(description).to_have_value("路灯不亮，已经三天了")
    expect(address).to_have_value("香港中路 8 号")
    person.shot("pop-over-draft")

    # The popped call's form opens beside it: this one keeps its draft.
    with person.context.expect_page() as opened:
        pop.locator("[data-pop=new_ticket]").click()
    beside = opened.value
    expect(beside).to_have_url(re.compile(r"/desk/tickets/new\?call=" + re.escape(uniqueid) + "$"))
    beside.close()
    assert page.url == form_url
    expect(description).to_have_value("路灯不亮，已经三天了")

    # Even a reload keeps it: the draft is restored from this tab, and can be discarded.
    page.reload()
    expect(description).to_have_value("路灯不亮，已经三天了")
    expect(address).to_have_value("香港中路 8 号")
    note = page.locator(".draft-note")
    expect(note).to_contain_text("已恢复")
    person.shot("draft-restored")
    note.locator("button").click()
    expect(description).to_have_value("")
    page.reload()
    expect(description).to_have_value("")
    expect(page.locator(".draft-note")).to_have_count(0)
