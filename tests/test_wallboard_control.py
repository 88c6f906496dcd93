"""The wallboard's seat control over real HTTP on both backends, against the scripted Asterisk
of tests/seat_peer.py: a supervisor (or admin) pauses with a reason, unpauses and logs off an
operator's seat — exactly the QueuePause / QueueRemove the console sends — and listens in
(an async Originate into ChanSpy, only with desk.listen_in); each is audited with who did it
to whom, the operator is told on their own stream and their console follows what Asterisk
reports; refusals (no seat, bad reason, logged-off seat, Asterisk refusing or away) are clear
pages. Every wallboard figure carries its formula for the hover."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select, update

from agent_desk.app import Desk
from hotline.storage.db import Database
from hotline.storage.models import AuditEntry, User
from tests.desk_server import Client, running_desk, seed
from tests.seat_peer import Asterisk
from tests.test_desk import signed_in
from tests.test_desk_live import Stream

Live = tuple[int, dict[str, int], Desk]


@pytest.fixture
def asterisk() -> Asterisk:
    return Asterisk()


def _desk(database: Database, asterisk: Asterisk, listen_in: bool) -> Iterator[Live]:
    ids = seed(database)
    database.run(lambda s: s.execute(update(User).where(User.username == "supervisor").values(extension="1002")))
    desks: list[Desk] = []
    with running_desk(database, context=asterisk.context(wrapup=0, listen_in=listen_in), desks=desks) as port:
        assert asterisk.connected.wait(10)
        yield port, ids, desks[0]


@pytest.fixture
def live(database: Database, asterisk: Asterisk) -> Iterator[Live]:
    yield from _desk(database, asterisk, listen_in=False)


@pytest.fixture
def listening(database: Database, asterisk: Asterisk) -> Iterator[Live]:
    yield from _desk(database, asterisk, listen_in=True)


def ready(port: int) -> tuple[Client, Stream]:
    """The operator, signed in with the console's stream open, goes ready in the general queue."""
    operator = signed_in(port, "operator")
    stream = Stream(operator)
    stream.next("hello")
    assert operator.post("/desk/console", {"csrf": operator.csrf("/desk/console"), "state": "ready"}).status == 303
    seat_state(stream, "ready")
    return operator, stream


def seat_state(stream: Stream, state: str) -> dict[str, Any]:
    """The operator's next seat event in `state` (what Asterisk reported, as the console shows it)."""
    event = stream.next("seat")
    while event.data["state"] != state:
        event = stream.next("seat")
    return event.data


def told(stream: Stream, state: str) -> tuple[str, dict[str, Any]]:
    """The operator's notice and their seat's new state, in whichever order they come (the
    seat event follows Asterisk's reply, the notice the audit entry's commit)."""
    notice: str | None = None
    seat: dict[str, Any] | None = None
    while notice is None or seat is None:
        event = stream.next()
        if event.kind == "notice":
            notice = event.data["text"]
        elif event.kind == "seat" and event.data["state"] == state:
            seat = event.data
    return notice, seat


def sent(asterisk: Asterisk) -> list[tuple[str, str]]:
    """The last action the scripted Asterisk received, headers in order, without its ActionID."""
    return [(k, v) for k, v in asterisk.connection.actions[-1] if k != "ActionID"]


def entries(database: Database, action: str) -> list[AuditEntry]:
    return database.run(lambda s: list(s.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id))))


def post(client: Client, what: str, **form: str) -> Any:
    return client.post(f"/desk/wallboard/seats/{what}", {"csrf": client.csrf("/desk/wallboard"), **form})


def test_a_supervisor_pauses_unpauses_and_logs_off_a_seat(live: Live, asterisk: Asterisk, database: Database) -> None:
    port, ids, _ = live
    operator, stream = ready(port)
    supervisor = signed_in(port, "supervisor")
    board = json.loads(supervisor.get("/desk/wallboard/data").body)
    row = next(a for a in board["agents"] if a["seat"] == "1001")
    assert row["state"] == "ready"

    done = post(supervisor, "pause", seat="1001", reason="meal")
    assert done.status == 303 and done.headers["location"] == "/desk/wallboard?done=pause&seat=1001"
    assert sent(asterisk) == [("Action", "QueuePause"), ("Queue", "hotline-general"), ("Interface", "PJSIP/1001"), ("Paused", "true"), ("Reason", "meal")]
    assert asterisk.peer.members[("hotline-general", "PJSIP/1001")] == (True, "meal")
    notice, seat = told(stream, "paused")
    assert notice == "主管 supervisor 用户 暂停了您的坐席 1001（用餐）。"
    assert seat["reason"] == "meal"  # the console follows Asterisk's report
    page = supervisor.get(done.headers["location"])
    assert "已请 Asterisk 暂停坐席 1001" in page.body
    row = next(a for a in json.loads(supervisor.get("/desk/wallboard/data").body)["agents"] if a["seat"] == "1001")
    assert (row["state"], row["pause_reason"]) == ("paused", "meal")
    [entry] = entries(database, "supervisor_pause")
    assert (entry.user_id, entry.username, entry.target) == (ids["supervisor"], "supervisor", "seat:1001")
    assert entry.detail == {"extension": "1001", "queues": ["general"], "reason": "meal", "operators": ["operator"]}

    assert post(supervisor, "unpause", seat="1001").status == 303
    assert sent(asterisk) == [("Action", "QueuePause"), ("Queue", "hotline-general"), ("Interface", "PJSIP/1001"), ("Paused", "false")]
    assert told(stream, "ready")[0] == "主管 supervisor 用户 恢复了您的坐席 1001，您可以继续接听来电。"

    assert post(supervisor, "logoff", seat="1001").status == 303
    assert sent(asterisk) == [("Action", "QueueRemove"), ("Queue", "hotline-general"), ("Interface", "PJSIP/1001")]
    assert told(stream, "logged_off")[0] == "主管 supervisor 用户 已将您的坐席 1001 签出所有队列。"
    assert not asterisk.peer.members
    assert "未签入" in operator.get("/desk/console").body
    assert [len(entries(database, a)) for a in ("supervisor_unpause", "supervisor_logoff")] == [1, 1]
    stream.close()


def test_an_admin_may_and_an_operator_may_not(live: Live, asterisk: Asterisk, database: Database) -> None:
    port, _, _ = live
    _operator, stream = ready(port)
    admin = signed_in(port, "admin")
    assert "坐席控制" in admin.get("/desk/wallboard").body
    assert post(admin, "pause", seat="1001", reason="supervisor").status == 303
    assert told(stream, "paused")[0] == "主管 admin 用户 暂停了您的坐席 1001（主管暂停）。"
    count = len(asterisk.connection.actions)
    other = signed_in(port, "operator")
    refused = other.post("/desk/wallboard/seats/unpause", {"csrf": other.csrf(), "seat": "1001"})
    assert refused.status == 403 and "无权" in refused.body
    assert len(asterisk.connection.actions) == count  # nothing reached Asterisk
    assert entries(database, "refused")[-1].detail == {"route": "wallboard_unpause", "reason": "Not allowed"}
    stream.close()


def test_refusals_are_clear_and_change_nothing(live: Live, asterisk: Asterisk, database: Database) -> None:
    port, _, _ = live
    supervisor = signed_in(port, "supervisor")
    count = len(asterisk.connection.actions)
    bad_seat = post(supervisor, "pause", seat="1001\r\nAction: Originate", reason="meal")
    assert bad_seat.status == 400 and "请从坐席列表中选择" in bad_seat.body
    bad_reason = post(supervisor, "pause", seat="1001", reason="nap")
    assert bad_reason.status == 400 and "请选择暂停原因" in bad_reason.body
    logged_off = post(supervisor, "logoff", seat="1001")
    assert logged_off.status == 409 and "坐席 1001 未在任何队列中" in logged_off.body
    assert len(asterisk.connection.actions) == count
    assert not entries(database, "supervisor_pause") and not entries(database, "supervisor_logoff")

    _operator, stream = ready(port)
    asterisk.peer.refuse["QueuePause"] = "Interface not found"
    refused = post(supervisor, "pause", seat="1001", reason="break")
    assert refused.status == 502 and "Asterisk 拒绝了对坐席 1001 的操作" in refused.body and "hotline-general: Interface not found" in refused.body
    assert entries(database, "supervisor_pause")[-1].detail["errors"] == ["hotline-general: Interface not found"]
    english = signed_in(port, "supervisor")
    english.post("/desk/language", {"csrf": english.csrf(), "language": "en", "next": "/desk/wallboard"})
    assert "Asterisk refused the change to seat 1001" in post(english, "pause", seat="1001", reason="break").body
    stream.close()


def test_without_asterisk_the_wallboard_says_so(database: Database) -> None:
    seed(database)
    with running_desk(database) as port:
        supervisor = signed_in(port, "supervisor")
        away = post(supervisor, "pause", seat="1001", reason="meal")
        assert away.status == 503 and "未连接电话系统（Asterisk）：暂时无法更改坐席 1001" in away.body
        off = post(supervisor, "listen", seat="1001")
        assert off.status == 409 and "监听功能未开启" in off.body
        assert "监听</button>" not in supervisor.get("/desk/wallboard").body


def test_listening_in_rings_the_supervisors_seat_into_chanspy(listening: Live, asterisk: Asterisk, database: Database) -> None:
    port, ids, _ = listening
    _operator, operator_stream = ready(port)
    supervisor = signed_in(port, "supervisor")
    assert "监听</button>" in supervisor.get("/desk/wallboard").body
    stream = Stream(supervisor)
    stream.next("hello")
    done = post(supervisor, "listen", seat="1001")
    assert done.status == 303 and done.headers["location"] == "/desk/wallboard?done=listen&seat=1001"
    # The wire format of ami_originate.txt's async originate, into an application.
    assert sent(asterisk) == [
        ("Action", "Originate"),
        ("Channel", "PJSIP/1002"),
        ("Application", "ChanSpy"),
        ("Data", "PJSIP/1001-,bqE"),
        ("CallerID", '"Listen 1001" <1001>'),
        ("Timeout", "30000"),
        ("Async", "true"),
    ]
    assert stream.next("notice").data["text"] == "正在监听坐席 1001：挂断您的话机即可结束。"
    assert "正在呼叫您的话机 1002：接听后即可监听坐席 1001。" in supervisor.get(done.headers["location"]).body
    [entry] = entries(database, "supervisor_listen")
    assert (entry.user_id, entry.target) == (ids["supervisor"], "seat:1001")
    assert entry.detail == {"extension": "1001", "listener": "1002", "options": "bqE", "operators": ["operator"]}

    # The outcome may overtake Asterisk's response; a phone that rings out is said so.
    asterisk.connection.originate = "event_first"
    asterisk.peer.unanswered.add("1002")
    assert post(supervisor, "listen", seat="1001").status == 303
    assert stream.next("notice").data["text"] == "您的话机 1002 未接通（无人接听），未能监听坐席 1001。"
    assert post(supervisor, "listen", seat="1002").status == 409  # a seat in no queue has nothing to listen to
    database.run(lambda s: s.execute(update(User).where(User.username == "admin").values(extension="1001")))
    admin = signed_in(port, "admin")
    own = post(admin, "listen", seat="1001")
    assert own.status == 400 and "这是您自己的坐席" in own.body
    stream.close()
    operator_stream.close()


def test_listening_in_refused_by_asterisk_or_without_a_seat(listening: Live, asterisk: Asterisk, database: Database) -> None:
    port, _, _ = listening
    _operator, stream = ready(port)
    admin = signed_in(port, "admin")  # no extension: nothing to ring
    assert "监听</button>" not in admin.get("/desk/wallboard").body
    no_seat = post(admin, "listen", seat="1001")
    assert no_seat.status == 409 and "您的账号没有可呼叫的坐席" in no_seat.body
    supervisor = signed_in(port, "supervisor")
    asterisk.connection.write = frozenset({"call", "agent", "reporting"})  # a manager.conf without originate
    denied = post(supervisor, "listen", seat="1001")
    assert denied.status == 502 and "Asterisk 拒绝呼叫您的话机 1002" in denied.body and "Permission denied" in denied.body
    assert entries(database, "supervisor_listen")[-1].detail["errors"] == ["Permission denied"]
    stream.close()


def test_every_figure_explains_itself_with_the_reports_formula(live: Live) -> None:
    from agent_desk import i18n
    from hotline.reports.report import CALL_FIGURES
    from hotline.reports.wallboard import LIVE_FIGURES

    port, _, _ = live
    supervisor = signed_in(port, "supervisor")
    page = supervisor.get("/desk/wallboard").body
    assert '<abbr title="接通率：接通量 / 进线量（目标 ≥ 95 %）">接通率</abbr>' in page
    assert '<abbr title="排队：此刻在队列中等待的来电数（Asterisk 实时报告）">排队</abbr>' in page
    docs = json.loads(supervisor.get("/desk/wallboard/data").body)["figure_docs"]
    figures = dict(CALL_FIGURES)
    zh = i18n.catalogue("zh_Hans")
    assert docs["abandon_rate"] == f"放弃率：{zh.gettext(figures['abandon_rate'].doc)}" == "放弃率：放弃量 / 进线量"
    for _, column in LIVE_FIGURES:  # the live view's own figures have their Chinese too
        assert zh.gettext(column.doc) != column.doc
    assert set(docs) == {
        "offered",
        "answered",
        "abandoned",
        "abandon_rate",
        "service_level",
        "answer_rate",
        "average_wait",
        "average_handle_time",
        "waiting",
        "longest_wait",
        "time_in_state",
        "calls_taken",
    }
