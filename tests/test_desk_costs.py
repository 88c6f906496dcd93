"""What the desk keeps so that a request costs less, on both backends: the category and
department pickers rendered once per language (and renewed when the taxonomy changes), and
the session's last_seen_at written in the background instead of holding up the request."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update
from twisted.internet.threads import blockingCallFromThread

from agent_desk.app import Desk
from agent_desk.pickers import REFRESH_SECONDS, Picker, PickerCache
from hotline.storage.db import Database
from hotline.storage.models import Category, DeskSession, utcnow
from hotline.tickets.desk import Choice
from hotline.web import sessions
from hotline.web.sessions import SessionPolicy
from tests.desk_server import Client, running_desk, seed

Desked = tuple[int, dict[str, int], Database, Desk, list[datetime]]


@pytest.fixture
def desk(database: Database) -> Iterator[Desked]:
    ids = seed(database)
    clock = [utcnow()]
    desks: list[Desk] = []
    with running_desk(database, now=lambda: clock[0], desks=desks) as port:
        yield port, ids, database, desks[0], clock


def signed_in(port: int, username: str) -> Client:
    client = Client(port)
    assert client.login(username).status == 303
    return client


def written(desk: Desk) -> None:
    """Wait until the writes the desk handed to its pool's batch are committed (the batch is
    written now, not after its linger), on the desk's reactor."""
    blockingCallFromThread(desk.context.reactor, desk.context.pool.drain)


def options(body: str, name: str) -> list[tuple[str, bool, str]]:
    """The options of the <select name=…> in `body`: (value, selected, label)."""
    found = re.search(rf'<select name="{name}"[^>]*>(.*?)</select>', body, re.S)
    assert found, body[:500]
    return [(v, bool(s), label) for v, s, label in re.findall(r'<option value="([^"]*)"( selected)?>([^<]*)</option>', found.group(1))]


# -- the pickers


def test_a_picker_escapes_its_labels_and_marks_the_chosen_option() -> None:
    picker = Picker([(1, "0101 井盖破损"), (12, '<b>"x"</b>'), (2, "0102 路灯")])
    assert str(picker()) == '<option value="1">0101 井盖破损</option><option value="12">&lt;b&gt;&#34;x&#34;&lt;/b&gt;</option><option value="2">0102 路灯</option>'
    assert '<option value="1" selected>' in picker(1) and picker(1).count("selected") == 1
    assert '<option value="12" selected>' in picker("12") and '<option value="1" selected>' not in picker("12")
    for nothing in (None, "", "abc", "-1", 99):
        assert "selected" not in picker(nothing)


def test_the_cache_renders_once_per_language_and_again_only_when_the_choices_change() -> None:
    now = [0.0]
    cache = PickerCache(lambda: now[0])
    assert cache.due()
    categories = [Choice(1, "0101", "井盖破损", "Broken manhole cover"), Choice(2, "0102", "路灯", "")]
    departments = [Choice(7, "roads", "市政道路处", "Roads")]
    cache.update((categories, departments))
    zh, en = cache.get("zh_Hans"), cache.get("en")
    assert "0101 井盖破损" in zh.categories() and "0101 Broken manhole cover" in en.categories() and "0102 路灯" in en.categories()  # no English name: the Chinese one
    assert str(zh.departments(7)) == '<option value="7" selected>市政道路处</option>' and str(en.departments()) == '<option value="7">Roads</option>'
    assert cache.get("zh_Hans") is zh and not cache.due()
    now[0] += REFRESH_SECONDS
    assert cache.due()
    cache.update(([*categories], [*departments]))  # read again, the same: kept as rendered
    assert cache.get("zh_Hans") is zh and not cache.due()
    cache.update(([Choice(1, "0101", "井盖丢失", "Missing manhole cover")], departments))
    assert "0101 井盖丢失" in cache.get("zh_Hans").categories() and "路灯" not in cache.get("zh_Hans").categories()
    cache.drop()
    assert cache.due()


def test_list_case_and_intake_pages_show_the_pickers_with_their_choice(desk: Desked) -> None:
    port, ids, database, _, _ = desk
    category = database.read(lambda s: s.scalar(select(Category.id).where(Category.code == "0101")))
    operator = signed_in(port, "operator")
    listed = operator.get(f"/desk/tickets?category={category}&department={ids['roads']}")
    assert options(listed.body, "category")[1:] == [(str(category), True, "0101 井盖破损")]
    assert (str(ids["roads"]), True, "市政道路处") in options(listed.body, "department") and (str(ids["parks"]), False, "园林绿化处") in options(listed.body, "department")
    form = operator.get(f"/desk/tickets/new?category={category}")
    assert (str(category), True, "0101 井盖破损") in options(form.body, "category")
    created = operator.post(
        "/desk/tickets/new",
        {"csrf": form.csrf(), "caller": "13812345678", "caller_name": "张先生", "description": "井盖破了", "location": "香港中路 1 号", "category": str(category), "urgency": "normal"},
    )
    assert created.status == 303, created.body
    number = created.headers["location"].rsplit("/", 1)[1]
    case = operator.get(f"/desk/tickets/{number}")
    # Registering proposes the case's own category; then dispatching, its default department.
    assert (str(category), True, "0101 井盖破损") in options(case.body, "category")
    registered = operator.post(f"/desk/tickets/{number}/register", {"csrf": case.csrf(), "category": str(category)})
    assert registered.status == 303, registered.body
    assert (str(ids["roads"]), True, "市政道路处") in options(operator.get(f"/desk/tickets/{number}").body, "department")


def test_a_taxonomy_change_reaches_the_pickers(desk: Desked) -> None:
    """On this process's admin page: at once. Elsewhere (another desk process, a taxonomy
    import): when the kept choices are next due."""
    port, _, database, running, _ = desk
    category = database.read(lambda s: s.scalar(select(Category.id).where(Category.code == "0101")))
    now = [0.0]
    running.pickers = PickerCache(lambda: now[0])
    operator, admin = signed_in(port, "operator"), signed_in(port, "admin")
    assert (str(category), False, "0101 井盖破损") in options(operator.get("/desk/tickets").body, "category")
    form = {"csrf": admin.csrf("/desk/admin/categories"), "id": str(category), "name_zh": "井盖丢失", "name_en": "Missing manhole cover", "department": "roads"}
    saved = admin.post("/desk/admin/categories", form | {"time_limit": "2 working_days", "urgent_time_limit": "4 hours"})
    assert saved.status == 303, saved.body
    assert (str(category), False, "0101 井盖丢失") in options(operator.get("/desk/tickets").body, "category")

    database.run(lambda s: s.execute(update(Category).where(Category.id == category).values(name_zh="井盖移位")))
    assert (str(category), False, "0101 井盖丢失") in options(operator.get("/desk/tickets").body, "category")  # kept: not due yet
    now[0] += REFRESH_SECONDS
    assert (str(category), False, "0101 井盖移位") in options(operator.get("/desk/tickets").body, "category")
    database.run(lambda s: s.execute(update(Category).where(Category.id == category).values(active=False)))
    now[0] += REFRESH_SECONDS
    assert options(operator.get("/desk/tickets").body, "category")[1:] == []


# -- the session's last_seen_at


def test_look_up_says_when_only_a_touch_is_due_and_touch_writes_it(database: Database) -> None:
    ids = seed(database)
    policy, start = SessionPolicy(), utcnow()
    token = "a-token-of-the-test"
    database.run(lambda s: s.add(DeskSession(token_hash=sessions.token_hash(token), user_id=ids["operator"], csrf_token="c", created_at=start, last_seen_at=start, address="127.0.0.1")))
    who, due = database.read(lambda s: sessions.look_up(s, token, policy=policy, now=start + timedelta(seconds=1)))
    assert who is not None and who.username == "operator" and due is False
    later = start + policy.touch_every
    who, due = database.read(lambda s: sessions.look_up(s, token, policy=policy, now=later))
    assert who is not None and due is True
    database.run(lambda s: sessions.touch(s, who.token_hash, later))
    database.run(lambda s: sessions.touch(s, who.token_hash, start))  # an older touch arriving late moves nothing back
    assert database.read(lambda s: s.get(DeskSession, sessions.token_hash(token)).last_seen_at) == later
    # Idle too long or the account off: no user, and the caller runs resolve (which ends it).
    assert database.read(lambda s: sessions.look_up(s, token, policy=policy, now=later + policy.idle + timedelta(seconds=1))) == (None, True)


def test_a_request_moves_last_seen_at_without_waiting_for_it(desk: Desked) -> None:
    port, ids, database, running, clock = desk
    operator = signed_in(port, "operator")

    def last_seen() -> Any:
        return database.read(lambda s: s.scalar(select(DeskSession.last_seen_at).where(DeskSession.user_id == ids["operator"])))

    signed = last_seen()
    clock[0] += timedelta(minutes=20)
    assert operator.get("/desk/tickets").status == 200
    written(running)  # the request was answered without it; the batched touch follows
    assert last_seen() == clock[0] and last_seen() > signed
    # 20 more minutes: 40 since signing in, 20 since the last request: still signed in.
    clock[0] += timedelta(minutes=20)
    assert operator.get("/desk/tickets").status == 200
