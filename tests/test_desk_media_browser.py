"""End to end in Debian's headless Chromium: department staff report a voicemail case handled
with a photo, the supervisor sees its thumbnail and plays the message's recording (the audio
element loads its metadata and seeks, through the recording route's byte ranges). Screenshots
are saved under the test's temp dir for a person to look at."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, expect

from hotline.config import AsteriskConfig, Config, ServiceConfig
from hotline.storage.db import Database
from hotline.storage.models import Transcript
from hotline.tickets import voicemail
from tests.desk_server import POLICY, Client, running_desk, seed
from tests.test_desk import act
from tests.test_desk_browser import Person, browser  # noqa: F401 - the module-scoped Chromium fixture
from tests.test_desk_media import png_bytes, wav_bytes


def test_a_report_with_a_photo_and_a_recording_in_chromium(database: Database, browser: Browser, tmp_path: Path) -> None:  # noqa: F811 - the imported fixture
    ids = seed(database)
    shots, messages = tmp_path / "screens", tmp_path / "voicemail"
    shots.mkdir()
    messages.mkdir()
    (messages / "1700000000.5.wav").write_bytes(wav_bytes(seconds=2.0))
    photo, text_file = tmp_path / "现场照片.png", tmp_path / "notes.txt"
    photo.write_bytes(png_bytes())
    text_file.write_text("not a photo")
    config = Config(service=ServiceConfig(data_dir="data"), asterisk=AsteriskConfig(recordings_dir=str(tmp_path / "monitor"), voicemail_dir=str(messages)), base_dir=tmp_path)

    def leave(s: Any) -> str:
        message = voicemail.leave_message(s, POLICY, uniqueid="1700000000.5", caller_number="13812345678", path=str(messages / "1700000000.5.wav"), duration_seconds=2.0, reason="closed")
        s.add(Transcript(recording_id=message.recording_id, status="done", text="东海西路的路灯一直不亮"))
        return message.ticket_number

    number = database.run(leave)
    with running_desk(database, config=config) as port:
        base = f"http://127.0.0.1:{port}"
        supervisor_http = Client(port)
        assert supervisor_http.login("supervisor").status == 303
        assert act(supervisor_http, number, "register", category="1").status == 303
        assert act(supervisor_http, number, "dispatch", department=str(ids["roads"])).status == 303

        dept = Person(browser, base, shots, "dept")
        dept.page.goto(f"{base}/desk/tickets/{number}")
        form = dept.page.locator("form[data-action=handle]")
        form.locator("textarea[name=reason]").fill("已修复路灯，照片为修复后现场")
        # The page says at once that a text file is no photo, and does not send the form.
        form.locator("input[name=photos]").set_input_files(str(text_file))
        expect(form.locator("[data-photo-problems]")).to_contain_text("notes.txt")
        form.locator("button").click()
        expect(dept.page.locator("h1")).to_contain_text("已派遣")
        dept.shot("photo-refused")
        form.locator("input[name=photos]").set_input_files(str(photo))
        expect(form.locator("[data-photo-problems]")).to_be_hidden()
        dept.shot("report")
        form.locator("button").click()
        expect(dept.page.locator("h1")).to_contain_text("已处置")
        dept.shot("handled")
        dept.close()

        supervisor = Person(browser, base, shots, "supervisor")
        supervisor.page.goto(f"{base}/desk/tickets/{number}")
        thumb = supervisor.page.locator("img.thumb")
        expect(thumb).to_have_attribute("alt", "现场照片.png")
        supervisor.page.wait_for_function("() => { const i = document.querySelector('img.thumb'); return i && i.complete && i.naturalWidth === 1; }")
        expect(supervisor.page.locator("figure.report")).to_contain_text("已修复路灯，照片为修复后现场")
        expect(supervisor.page.locator("details.transcript")).to_contain_text("东海西路的路灯一直不亮")
        supervisor.page.wait_for_function("() => { const a = document.querySelector('audio[data-player]'); return a && a.readyState >= 1 && Math.abs(a.duration - 2) < 0.01; }")
        # Seeking asks the server for a byte range; the element gets there and can play on.
        supervisor.page.evaluate("""() => new Promise((done, fail) => {
            const a = document.querySelector('audio[data-player]');
            a.addEventListener('seeked', () => done(), {once: true});
            a.addEventListener('error', () => fail(new Error('audio error ' + (a.error && a.error.code))), {once: true});
            a.currentTime = 1.5;
        })""")
        assert supervisor.page.evaluate("() => document.querySelector('audio[data-player]').currentTime") == 1.5
        supervisor.page.wait_for_function("() => document.querySelector('audio[data-player]').readyState >= 2")
        supervisor.shot("thumbnail-and-recording")
        supervisor.close()
    print(f"screenshots: {shots}")
    assert len(list(shots.glob("*.png"))) == 6
