"""The admin pages over real HTTP on both backends: departments, categories with their time
limits, the working calendar; refusals carry the loaders' own messages; every change is
audited; a changed time limit or calendar reaches the next dispatch without a restart."""

from __future__ import annotations

import hashlib
import html
import http.client
import io
import re
import subprocess
import sys
import types
import wave
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from hotline import config as config_module
from hotline import settings
from hotline.config import Config, ConfigError
from hotline.storage.db import Database
from hotline.storage.models import AuditEntry, Category, Department, Ticket
from hotline.tickets.services import TicketPolicy
from hotline.tickets.taxonomy import TaxonomyError, read_departments, read_taxonomy
from tests.desk_server import Client, running_desk, seed
from tests.test_desk import act, new_ticket, signed_in

Desk = tuple[int, dict[str, int], Database]


@pytest.fixture
def desk(database: Database) -> Iterator[Desk]:
    ids = seed(database)
    with running_desk(database) as port:
        yield port, ids, database


def post(client: Client, page: str, **form: str) -> Any:
    return client.post(f"/desk/admin/{page}", {"csrf": client.csrf(f"/desk/admin/{page.split('/', maxsplit=1)[0]}"), **form})


def shown(response: Any) -> str:
    """The page's text as a person reads it (entities decoded)."""
    return html.unescape(response.body)


def audited(database: Database, action: str) -> list[AuditEntry]:
    return database.read(lambda s: list(s.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id))))


def file_problem(tmp_path: Any, name: str, text: str) -> str:
    """What the taxonomy loader says about a file holding `text` (its one problem, without the position)."""
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(TaxonomyError) as caught:
        (read_departments if name.startswith("departments") else read_taxonomy)(path)
    assert len(caught.value.problems) == 1, caught.value.problems
    return re.sub(r" \([a-z]+\[\d+\]\)", "", caught.value.problems[0])


def config_problem(toml: str) -> str:
    """What the configuration loader says about a file holding `toml`, after the file name."""
    with pytest.raises(ConfigError) as caught:
        config_module.parse(toml, source="hotline.toml")
    return str(caught.value).removeprefix("hotline.toml: ")


# -- departments


def test_departments_are_created_renamed_and_deactivated_with_the_loaders_rules(desk: Desk, tmp_path: Any) -> None:
    port, ids, database = desk
    admin = signed_in(port, "admin")
    page = admin.get("/desk/admin/departments")
    assert page.status == 200 and "市政道路处" in page.body and "园林绿化处" in page.body

    created = post(admin, "departments", code="water", name_zh="供水管理处", name_en="Water supply", phone="0532-1234567")
    assert created.status == 303
    assert "供水管理处" in admin.get(created.headers["location"]).body
    water = database.read(lambda s: s.scalars(select(Department).where(Department.code == "water")).one())
    assert (water.name_en, water.phone, water.active) == ("Water supply", "0532-1234567", True)

    # Refusals: the departments file's own messages, the form kept as typed, nothing written.
    spaced = post(admin, "departments", code="storm water", name_zh="排水处")
    assert spaced.status == 400
    expected = file_problem(tmp_path, "departments-a.json", '{"departments": [{"code": "storm water", "name_zh": "排水处"}]}')
    assert expected in shown(spaced) and "'code' 'storm water' must not contain spaces" in expected
    assert 'value="storm water"' in spaced.body
    long_name = post(admin, "departments", code="drains", name_zh="排" * 101)
    assert long_name.status == 400 and "'name_zh' is 101 characters long, at most 100 fit" in shown(long_name)
    assert "'name_zh' is empty" in shown(post(admin, "departments", code="drains", name_zh="  "))
    duplicate = post(admin, "departments", code="roads", name_zh="另一个道路处")
    assert duplicate.status == 400 and "department code 'roads' is already used" in shown(duplicate)
    assert database.read(lambda s: s.scalar(select(Department.id).where(Department.code == "drains"))) is None

    # Rename: the code stays (files refer to it) even if the form sends another.
    renamed = post(admin, "departments", id=str(water.id), code="sneaky", name_zh="市供水处", name_en="Water", phone="")
    assert renamed.status == 303
    water = database.read(lambda s: s.get(Department, water.id))
    assert (water.code, water.name_zh, water.phone) == ("water", "市供水处", "")

    # Deactivation: refused while an active category dispatches there by default, named on the page.
    refused = post(admin, "departments/active", id=str(ids["roads"]), active="0")
    assert refused.status == 400 and "department roads is the default department of active categories 0101" in shown(refused)
    assert post(admin, "departments/active", id=str(water.id), active="0").status == 303
    assert database.read(lambda s: s.get(Department, water.id)).active is False
    assert "供水" not in re.sub(r"(?s)<form[^>]*data-new-department.*", "", signed_in(port, "operator").get("/desk/tickets/new").body)
    assert post(admin, "departments/active", id=str(water.id), active="1").status == 303
    assert post(admin, "departments/active", id="x", active="1").status == 400

    actions = [e.action for e in database.read(lambda s: list(s.scalars(select(AuditEntry).where(AuditEntry.action.like("department.%")))))]
    assert actions == ["department.create", "department.update", "department.deactivate", "department.activate"]
    update = audited(database, "department.update")[0]
    assert update.detail["before"]["name_zh"] == "供水管理处" and update.detail["after"]["name_zh"] == "市供水处"
    assert update.username == "admin" and update.target == "department:water"


# -- categories


def test_categories_time_limits_and_departments_are_checked_as_the_taxonomy_file_is(desk: Desk, tmp_path: Any) -> None:
    port, ids, database = desk
    admin = signed_in(port, "admin")
    assert "井盖破损" in admin.get("/desk/admin/categories").body
    category = database.read(lambda s: s.scalars(select(Category).where(Category.code == "0101")).one())

    def save(**fields: str) -> Any:
        form = {"id": str(category.id), "name_zh": "井盖破损", "name_en": "Broken manhole cover", "department": "roads", "time_limit": "2 working_days", "urgent_time_limit": "4 hours"}
        return post(admin, "categories", **(form | fields))

    assert save().status == 303
    stored = database.read(lambda s: s.get(Category, category.id))
    assert (stored.time_limit, stored.urgent_time_limit, stored.default_department_id) == ("2 working_days", "4 hours", ids["roads"])
    # Chinese spellings are read and stored canonically, as from the file.
    assert save(time_limit="3个工作日", urgent_time_limit="2工作时").status == 303
    assert database.read(lambda s: s.get(Category, category.id)).time_limit == "3 working_days"

    major = '{"components": [{"code": "0101", "name": "井盖破损", "department": "roads", "time_limit": %s, "urgent_time_limit": "4 hours"}], "events": []}'
    ambiguous = save(time_limit="3 days")
    assert ambiguous.status == 400
    assert file_problem(tmp_path, "t1.json", major % '"3 days"').replace("component major class 0101 井盖破损", "") in shown(ambiguous)
    assert "'days' is ambiguous" in shown(ambiguous) and 'value="3 days"' in ambiguous.body
    missing = save(time_limit="")
    assert "missing key 'time_limit' (every major class needs its own time limits)" in shown(missing)
    unknown = save(department="nowhere")
    assert unknown.status == 400 and "unknown department code 'nowhere'" in shown(unknown)
    assert database.read(lambda s: s.get(Category, category.id)).time_limit == "3 working_days"

    # A minor class: empty fields follow the major class; its code must extend the major's.
    created = post(admin, "categories", code="010101", kind="component", parent="0101", name_zh="雨水井盖", name_en="", department="", time_limit="", urgent_time_limit="")
    assert created.status == 303
    page = shown(admin.get("/desk/admin/categories"))
    assert re.search(r'id="c-010101".*?roads 市政道路处<br>3 working_days / 2 working_hours', page, re.S)
    wrong = post(admin, "categories", code="0201", kind="component", parent="0101", name_zh="错码", department="", time_limit="", urgent_time_limit="")
    assert wrong.status == 400 and "code '0201' does not start with its major class's code '0101'" in shown(wrong)
    assert post(admin, "categories", code="0102", kind="nonsense", name_zh="x").status == 400
    new_major = post(
        admin, "categories", code="0115", kind="event", parent="", name_zh="占道经营", name_en="Street vending", department="parks", time_limit="1 working_days", urgent_time_limit="2 hours"
    )
    assert new_major.status == 303
    assert database.read(lambda s: s.scalars(select(Category).where(Category.code == "0115")).one()).code_origin == "local"

    # Deactivating a major class takes its minors with it; a minor waits for its major.
    minor_id = database.read(lambda s: s.scalar(select(Category.id).where(Category.code == "010101")))
    assert post(admin, "categories/active", id=str(category.id), active="0").status == 303
    assert database.read(lambda s: s.get(Category, minor_id)).active is False
    back = post(admin, "categories/active", id=str(minor_id), active="1")
    assert back.status == 400 and "its major class 0101 is inactive" in shown(back)
    assert post(admin, "categories/active", id=str(category.id), active="1").status == 303

    updates = audited(database, "category.update")
    assert len(updates) == 2 and updates[0].detail["after"]["time_limit"] == "2 working_days"
    assert [e.detail["codes"] for e in audited(database, "category.deactivate")] == [["0101", "010101"]]
    assert len(audited(database, "category.create")) == 2


def test_a_changed_time_limit_is_used_by_the_next_dispatch(desk: Desk) -> None:
    """The operator's desk was running all along; the admin's change is in the next deadline."""
    port, ids, database = desk
    admin, operator = signed_in(port, "admin"), signed_in(port, "operator")
    category_id = database.read(lambda s: s.scalar(select(Category.id).where(Category.code == "0101")))

    def dispatched_with(limit: str) -> Ticket:
        form = {"id": str(category_id), "name_zh": "井盖破损", "department": "roads", "time_limit": limit, "urgent_time_limit": "2 hours"}
        assert post(admin, "categories", **form).status == 303
        number = new_ticket(operator)
        assert act(operator, number, "register", category=str(category_id)).status == 303
        assert act(operator, number, "dispatch", department=str(ids["roads"])).status == 303
        return database.read(lambda s: s.scalars(select(Ticket).where(Ticket.number == number)).one())

    first = dispatched_with("6 hours")
    assert first.time_limit == "6 hours" and first.deadline_at == first.dispatched_at + timedelta(hours=6)
    second = dispatched_with("30 hours")
    assert second.time_limit == "30 hours" and second.deadline_at == second.dispatched_at + timedelta(hours=30)
    deadline = second.deadline_at.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%d %H:%M")
    assert re.search(rf"<dd>{deadline} \(30小时\)", operator.get(f"/desk/tickets/{second.number}").body)
    # The first ticket keeps the deadline it was dispatched with.
    assert database.read(lambda s: s.get(Ticket, first.id)).deadline_at == first.deadline_at


# -- the working calendar


def test_the_calendar_month_shows_holidays_and_adjusted_working_days(desk: Desk) -> None:
    port, _, _ = desk
    admin = signed_in(port, "admin")
    page = admin.get("/desk/admin/calendar?month=2026-02")
    assert page.status == 200
    kinds = dict(re.findall(r'data-date="([0-9-]+)" data-kind="([a-z_]+)"', page.body))
    assert len(kinds) == 28
    # Spring Festival 2026: 15-23 February off; Saturday 14th and 28th worked (调休).
    assert kinds["2026-02-14"] == kinds["2026-02-28"] == "adjusted"
    assert kinds["2026-02-17"] == kinds["2026-02-23"] == "holiday"
    assert kinds["2026-02-07"] == "weekend" and kinds["2026-02-24"] == "workday"
    assert "春节" in page.body and "调休" in page.body
    assert admin.get("/desk/admin/calendar?month=2026-13").status == 400
    assert "没有 2099 年的节假日数据" in admin.get("/desk/admin/calendar?month=2099-01").body


def test_calendar_changes_are_checked_by_the_config_loader_stored_and_audited(desk: Desk) -> None:
    port, _, database = desk
    admin = signed_in(port, "admin")

    def save(**fields: str) -> Any:
        form = {"month": "2026-02", "office_hours": "08:30-12:00\n13:30-17:30", "year": "2026", "holidays": "", "workdays": ""}
        return post(admin, "calendar", **(form | fields))

    saved = save(holidays="2026-02-24\n2026-02-25", workdays="2026-02-22")
    assert saved.status == 303
    page = admin.get(saved.headers["location"])
    kinds = dict(re.findall(r'data-date="([0-9-]+)" data-kind="([a-z_]+)"', page.body))
    assert kinds["2026-02-24"] == "local_holiday" and kinds["2026-02-22"] == "local_workday"
    stored = database.read(settings.stored)["calendar"]
    assert stored["years"]["2026"] == {"holidays": ["2026-02-24", "2026-02-25"], "workdays": ["2026-02-22"]}

    cases = {
        "office_hours": ({"office_hours": "17:30-08:30"}, '[calendar]\noffice_hours = ["17:30-08:30"]'),
        "both": ({"holidays": "2026-03-02", "workdays": "2026-03-02"}, '[calendar.years.2026]\nholidays = ["2026-03-02"]\nworkdays = ["2026-03-02"]'),
        "year": ({"year": "26", "holidays": "2026-03-02"}, '[calendar.years.26]\nholidays = ["2026-03-02"]'),
        "date": ({"holidays": "2026-02-30"}, '[calendar.years.2026]\nholidays = ["2026-02-30"]'),
        "elsewhere": ({"holidays": "2027-01-04"}, '[calendar.years.2026]\nholidays = ["2027-01-04"]'),
    }
    for name, (fields, toml) in cases.items():
        refused = save(**fields)
        assert refused.status == 400, name
        expected = config_problem(toml)
        assert f"admin settings: {expected}" in shown(refused), (name, expected, shown(refused)[-2000:])
    assert database.read(settings.stored)["calendar"] == stored
    entries = audited(database, "settings.calendar")
    assert len(entries) == 1 and entries[0].detail["after"] == stored and entries[0].detail["before"] is None
    # Removing the year's entries (both lists empty) removes the override.
    assert save().status == 303
    assert database.read(settings.stored)["calendar"]["years"] == {}


def test_a_role_picks_up_a_calendar_change_without_restarting(database: Database) -> None:
    """Two roles on one database, each with its LiveSettings as the composition root builds
    them: a save in one reaches the other's ticket policy, built before the change, at its next poll."""
    seed(database)
    ivr, desk = settings.LiveSettings(Config()), settings.LiveSettings(Config())
    assert database.read(ivr.refresh) and database.read(desk.refresh)
    policy = TicketPolicy.from_config(desk.config)
    friday = datetime(2026, 3, 6, 9, 0, tzinfo=UTC)  # 17:00 in Shanghai
    limit = policy.default_time_limit.parse("1 working_hours")
    before = policy.calendar.deadline(friday, limit)
    assert (before.date(), before.hour, before.minute) == (date(2026, 3, 9), 9, 0)  # half an hour Friday, half Monday
    raw = settings.calendar_edit(Config().calendar, office_hours=["08:00-12:00", "13:00-17:00"], year="2026", holidays=["2026-03-09"], workdays=[])
    database.run(lambda s: settings.save(s, "calendar", raw, user_id=None, username="admin", address="127.0.0.1"))
    assert database.read(desk.changes) is not None
    assert database.read(desk.refresh) is True
    assert database.read(desk.refresh) is False  # nothing new: no reload
    due = policy.calendar.deadline(friday, limit)
    assert (due.date(), due.hour, due.minute) == (date(2026, 3, 10), 9, 0)  # Friday closed at 17:00, Monday a local holiday
    assert policy.calendar.is_working_day(date(2026, 3, 9)) is False
    assert desk.config.working_calendar() is policy.calendar
    assert database.read(settings.revision) == 1
    # The other role had not polled yet: it still runs on the old rules until it does.
    assert ivr.calendar.is_working_day(date(2026, 3, 9)) is True
    assert database.read(ivr.refresh) is True and ivr.calendar.is_working_day(date(2026, 3, 9)) is False


# -- calling windows for callbacks


def test_calling_windows_are_checked_as_queue_hours_are_and_reach_the_roles(desk: Desk) -> None:
    port, _, database = desk
    admin = signed_in(port, "admin")
    page = admin.get("/desk/admin/callbacks")
    assert page.status == 200 and "workdays 09:00-12:00" in page.body
    assert len(re.findall(r'<tr data-date="', page.body)) == 14

    saved = post(admin, "callbacks", calling_hours="workdays 09:00-12:00\nsat 10:00-11:30\n")
    assert saved.status == 303
    rows = dict(re.findall(r'<tr data-date="([0-9-]+)">.*?<td class="periods">([^<]*)</td>', admin.get(saved.headers["location"]).body))
    saturdays = [d for d in rows if date.fromisoformat(d).weekday() == 5]
    assert saturdays and all("10:00-11:30" in rows[d] for d in saturdays)
    assert all(rows[d] in ("不回访", "09:00-12:00", "09:00-12:00, 10:00-11:30", "10:00-11:30") for d in rows)

    for bad, toml in (
        ("mon-fri 18:00-09:00", '[callbacks]\ncalling_hours = ["mon-fri 18:00-09:00"]'),
        ("weekdays 09:00-12:00", '[callbacks]\ncalling_hours = ["weekdays 09:00-12:00"]'),
        ("", "[callbacks]\ncalling_hours = []"),
    ):
        refused = post(admin, "callbacks", calling_hours=bad)
        assert refused.status == 400
        assert f"admin settings: {config_problem(toml)}" in shown(refused)
    assert database.read(settings.stored)["callbacks"] == {"calling_hours": ["workdays 09:00-12:00", "sat 10:00-11:30"]}
    assert [e.detail["after"] for e in audited(database, "settings.callbacks")] == [{"calling_hours": ["workdays 09:00-12:00", "sat 10:00-11:30"]}]
    role = settings.LiveSettings(Config())
    assert database.read(role.refresh) and role.config.callbacks.calling_hours == ("workdays 09:00-12:00", "sat 10:00-11:30")


# -- the IVR's announcements


def wav(seconds: float, rate: int = 8000, channels: int = 1, width: int = 2) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(width)
        out.setframerate(rate)
        out.writeframes(b"\0" * int(seconds * rate) * channels * width)
    return buffer.getvalue()


def upload(client: Client, name: str, lang: str, data: bytes | None) -> Any:
    """A multipart/form-data POST as a browser sends a file input."""
    boundary = "----hotline-test-boundary"
    fields = {"csrf": client.csrf("/desk/admin/prompts"), "name": name, "lang": lang}
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode() for k, v in fields.items()]
    if data is not None:
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}.wav"\r\nContent-Type: audio/wav\r\n\r\n'.encode() + data + b"\r\n")
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    conn = http.client.HTTPConnection("127.0.0.1", client.port, timeout=30)
    headers = {"cookie": "; ".join(f"{k}={v}" for k, v in client.jar.items()), "content-type": f"multipart/form-data; boundary={boundary}"}
    try:
        conn.request("POST", "/desk/admin/prompts", body=body, headers=headers)
        raw = conn.getresponse()
        return types.SimpleNamespace(status=raw.status, headers={k.lower(): v for k, v in raw.headers.items()}, body=raw.read().decode())
    finally:
        conn.close()


def fetch(client: Client, path: str) -> tuple[int, str, bytes]:
    """A GET whose body is bytes (a recording), with the client's cookies."""
    conn = http.client.HTTPConnection("127.0.0.1", client.port, timeout=30)
    try:
        conn.request("GET", path, headers={"cookie": "; ".join(f"{k}={v}" for k, v in client.jar.items())})
        raw = conn.getresponse()
        return raw.status, raw.headers.get("content-type", ""), raw.read()
    finally:
        conn.close()


def cli_zero_key(config_file: Path, sounds: Path) -> list[tuple[str, str]]:
    """(verdict, seconds) of each zero-key line `hotline prompts check` prints."""
    run = subprocess.run([sys.executable, "-m", "hotline", "-c", str(config_file), "prompts", "check", str(sounds)], capture_output=True, text=True, timeout=120, check=False)
    return re.findall(r"^  (OVER|ok)\s+([0-9.]+) s", run.stdout, re.M)


def page_zero_key(body: str) -> list[tuple[str, str]]:
    return [("OVER" if over == "yes" else "ok", seconds) for over, seconds in re.findall(r'data-over="(yes|no)">.*?<td>(?:<span class="tag late">[^<]*</span> )?([0-9.]+) /', body, re.S)]


def test_announcements_upload_play_and_the_zero_key_budget(database: Database, tmp_path: Path) -> None:
    seed(database)
    sounds = tmp_path / "sounds"
    sounds.mkdir()
    config_file = tmp_path / "hotline.toml"
    config_file.write_text(f'[asterisk]\nsounds_dir = "{sounds}"\n[ivr]\nzero_key_seconds = 12\n', encoding="utf-8")
    config = config_module.load(config_file)
    with running_desk(database, config=config) as port:
        admin = signed_in(port, "admin")
        page = admin.get("/desk/admin/prompts")
        assert page.status == 200 and "welcome" in page.body and "<audio" not in page.body
        before = page_zero_key(page.body)
        assert before and before == cli_zero_key(config_file, sounds)
        assert all(verdict == "ok" for verdict, _ in before)

        # Refused, each with what to do; nothing written.
        cases = {
            "44100 Hz, 2 channels, 16-bit; Asterisk's prompts must be 8000 Hz, mono, 16-bit PCM": upload(admin, "welcome", "zh", wav(1, rate=44100, channels=2)),
            "8000 Hz, 1 channel, 8-bit": upload(admin, "welcome", "zh", wav(1, width=1)),
            "not a PCM WAV file": upload(admin, "welcome", "zh", b"ID3\x03 this is an mp3"),
            "a prompt may be at most 2 MB": upload(admin, "welcome", "zh", wav(140)),
            "the recording is empty": upload(admin, "welcome", "zh", wav(0)),
            "'nonsense' is not a prompt of the catalogue": upload(admin, "nonsense", "zh", wav(1)),
            "language 'fr'": upload(admin, "welcome", "fr", wav(1)),
            "请选择要上传的 WAV 文件": upload(admin, "welcome", "zh", None),
        }
        for message, response in cases.items():
            assert response.status == 400, message
            assert message in html.unescape(response.body), (message, response.body[-1500:])
        assert not list(sounds.rglob("*.wav"))

        # A long welcome: installed, playable, and the budget now says OVER for Chinese callers.
        long_welcome = wav(11.5)
        done = upload(admin, "welcome", "zh", long_welcome)
        assert done.status == 303
        page = admin.get(done.headers["location"])
        assert "<audio controls" in page.body and "11.5 s" in page.body
        after = page_zero_key(page.body)
        assert after == cli_zero_key(config_file, sounds)
        assert any(verdict == "OVER" for verdict, _ in after) and after != before
        assert fetch(admin, "/desk/admin/prompts/sound?lang=zh&name=welcome") == (200, "audio/wav", long_welcome)
        assert (sounds / "zh" / "welcome.wav").read_bytes() == long_welcome
        assert admin.get("/desk/admin/prompts/sound?lang=en&name=welcome").status == 404
        assert admin.get("/desk/admin/prompts/sound?lang=zh&name=../../etc/passwd").status == 404
        assert fetch(signed_in(port, "supervisor"), "/desk/admin/prompts/sound?lang=zh&name=welcome")[0] == 403

        entry = audited(database, "prompt.upload")
        assert len(entry) == 1 and entry[0].target == "prompt:zh/welcome"
        assert entry[0].detail["sha256"] == hashlib.sha256(long_welcome).hexdigest() and entry[0].detail["seconds"] == 11.5


# -- queues and skills, and Asterisk's files rendered again


def queue_form(client: Client, **fields: str) -> Any:
    form = {"name": "general", "label_zh": "人工服务", "label_en": "Operators", "strategy": "rrmemory", "ring_seconds": "15", "wrapup_seconds": "10", "weight": "0"}
    form |= {"max_callers": "30", "max_wait_seconds": "600", "announce_position": "1", "hours": "24x7"}
    return post(client, "queues", **(form | fields))


def test_queues_are_checked_by_the_loader_and_asterisk_is_rendered_again(database_url: str, database: Database, tmp_path: Path) -> None:
    seed(database)
    conf_dir = tmp_path / "asterisk"
    config_file = tmp_path / "hotline.toml"
    config_file.write_text(f'[database]\nurl = "{database_url}"\n[asterisk]\nconf_dir = "{conf_dir}"\n', encoding="utf-8")
    config = config_module.load(config_file, environ={})
    with running_desk(database, config=config) as port:
        admin = signed_in(port, "admin")
        page = admin.get("/desk/admin/queues")
        assert page.status == 200 and 'data-queue="general"' in page.body and 'data-queue="emergency"' in page.body

        refusals = {
            "200": queue_form(admin, ring_seconds="200"),
            "'abc'": queue_form(admin, ring_seconds="abc"),
            '"mon-fri 9:00-17:00"': queue_form(admin, hours="mon-fri 9:00-17:00"),
        }
        for value, response in refusals.items():
            assert response.status == 400, value
        ring = config_problem('[[queues]]\nname = "general"\nring_seconds = 200')
        assert f"admin settings: {ring}" in shown(refusals["200"])
        assert "queues[0].ring_seconds: expected an integer from 5 to 120, found 'abc' (str)" in shown(refusals["'abc'"])
        hours = config_problem('[[queues]]\nname = "general"\nhours = ["mon-fri 9:00-17:00"]')
        assert f"admin settings: {hours}" in shown(refusals['"mon-fri 9:00-17:00"'])
        duplicate = post(
            admin,
            "queues",
            new="1",
            name="general",
            label_zh="重复",
            label_en="Again",
            strategy="ringall",
            ring_seconds="15",
            wrapup_seconds="0",
            weight="0",
            max_callers="0",
            max_wait_seconds="0",
            hours="24x7",
        )
        assert duplicate.status == 400 and "queues[2].name: expected a name not used by another entry, found 'general' (str)" in shown(duplicate)
        assert not conf_dir.exists()

        added = post(
            admin,
            "queues",
            new="1",
            name="water",
            label_zh="供水服务",
            label_en="Water",
            strategy="ringall",
            ring_seconds="20",
            wrapup_seconds="5",
            weight="3",
            max_callers="10",
            max_wait_seconds="300",
            hours="workdays 08:30-17:30",
        )
        assert added.status == 200
        notice = shown(added)
        assert "asterisk -rx 'queue reload all'" in notice and str(conf_dir / "hotline-queues.conf") in notice
        queues_conf = (conf_dir / "hotline-queues.conf").read_text(encoding="utf-8")
        assert "[hotline-water]" in queues_conf and "[hotline-general]" in queues_conf
        assert 'data-queue="water"' in added.body
        changed = queue_form(admin, ring_seconds="25", announce_position="")
        assert changed.status == 200
        general = (conf_dir / "hotline-queues.conf").read_text(encoding="utf-8").split("[hotline-general]")[1].split("\n[")[0]
        assert "timeout = 25" in general

    stored = database.read(settings.stored)["queues"]["entries"]
    assert [q["name"] for q in stored] == ["general", "emergency", "water"]
    assert stored[0]["ring_seconds"] == 25 and stored[0]["announce_position"] is False
    assert [e.detail["revision"] for e in audited(database, "settings.queues")] == [1, 2]
    # Every role takes the queues at its next poll; the IVR's runner listens (ivr.runner.Runner.reconfigure).
    role, heard = settings.LiveSettings(config), []
    role.listeners.append(lambda c: heard.append([q.name for q in c.queues]))
    assert database.read(role.refresh) and heard == [["general", "emergency", "water"]]
    assert role.config.queue("water").hours == ("workdays 08:30-17:30",)
    # The command line renders what the roles run: the file's queues and the stored ones.
    out = tmp_path / "cli"
    run = subprocess.run([sys.executable, "-m", "hotline", "-c", str(config_file), "asterisk-config", "render", "--out", str(out)], capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 0, run.stderr
    assert (out / "hotline-queues.conf").read_text(encoding="utf-8") == (conf_dir / "hotline-queues.conf").read_text(encoding="utf-8")


def test_without_a_conf_dir_the_page_says_what_to_run(desk: Desk) -> None:
    port, _, _ = desk
    admin = signed_in(port, "admin")
    saved = queue_form(admin, label_en="Operators (all)")
    assert saved.status == 200
    notice = shown(saved)
    assert "asterisk.conf_dir is not set" in notice
    assert "hotline asterisk-config render --out /etc/asterisk/hotline" in notice and "asterisk -rx 'queue reload all'" in notice


def test_a_running_ivr_role_applies_stored_settings_without_a_restart(tmp_path: Path) -> None:
    """A real `hotline serve --role ivr` process: settings saved afterwards (as the desk saves
    them, from another process) are applied at its next poll, queues handed to its call runner."""
    from tests.test_roles import Node, init, node_dir

    cwd = node_dir(tmp_path / "node")
    init(cwd)
    node = Node(cwd, "--role", "ivr", "--http-port", "0")
    try:
        node.wait_for(r"serving role ivr")
        config = config_module.load(cwd / "hotline.toml", environ={})
        database = Database.from_url(config.database_url())
        try:
            queues = [*settings.queues_raw(config), {"name": "water", "label_zh": "供水", "label_en": "Water", "hours": ["workdays 08:30-17:30"]}]
            database.run(lambda s: settings.save(s, "queues", queues, user_id=None, username="admin", address="127.0.0.1", config=config))
            node.wait_for(r"admin settings revision 1 applied \(queues\)")
            raw = settings.calendar_edit(config.calendar, office_hours=["09:00-17:00"], year="2027", holidays=["2027-01-04"], workdays=[])
            database.run(lambda s: settings.save(s, "calendar", raw, user_id=None, username="admin", address="127.0.0.1"))
            node.wait_for(r"admin settings revision 2 applied \(calendar, queues\)")
        finally:
            database.dispose()
        assert "not applied" not in node.log
    finally:
        assert node.stop() == 0, node.log


def test_a_queue_edit_keeps_what_the_page_does_not_show() -> None:
    """Keys of [[queues]] the form lacks (added by other features) keep their value on an edit."""
    config = config_module.parse('[[queues]]\nname = "general"\nweight = 7\n[[queues]]\nname = "emergency"\n')
    raw = settings.queues_edit(config, {"name": "general", "label_zh": "人工", "ring_seconds": "20"}, new=False)
    assert raw[0]["weight"] == 7 and raw[0]["ring_seconds"] == 20 and raw[0]["label_zh"] == "人工"
    assert config_module.check_section("queues", raw, "test")[0].weight == 7
    added = settings.queues_edit(config, {"name": "water", "label_zh": "供水"}, new=True)
    assert added[2] == {"name": "water", "label_zh": "供水"}
