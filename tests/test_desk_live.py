"""The live desk over real HTTP on both backends: the event stream (resumption, limits,
heartbeats, ticket events scoped by department), the operator console driving a scripted
Asterisk (tests/seat_peer.py over real TCP) and showing what it reports back, the screen pop,
wrap-up, and a clear message when Asterisk is not there."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select

from agent_desk.app import Desk
from hotline.storage.db import Database
from hotline.storage.models import AuditEntry, Call, CallEvent, Ticket, TicketSource, TicketStatus
from tests.desk_server import Client, running_desk, seed
from tests.seat_peer import Asterisk
from tests.test_desk import new_ticket, signed_in

CALLER = "13812345678"


@dataclass
class Sse:
    """One event of a stream."""

    id: str
    kind: str
    data: dict[str, Any]


class Stream:
    """A browser's event stream over a plain HTTP connection, read event by event."""

    def __init__(self, client: Client, last: str | None = None, query: str = "") -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", client.port, timeout=15)
        headers = {"cookie": "; ".join(f"{k}={v}" for k, v in client.jar.items()), "accept": "text/event-stream"}
        if last is not None:
            headers["last-event-id"] = last
        self.conn.request("GET", "/desk/events" + query, headers=headers)
        self.response = self.conn.getresponse()
        self.comments: list[str] = []

    def next(self, kind: str | None = None) -> Sse:
        """The next event (of `kind`, skipping others); fails after the socket timeout."""
        while True:
            fields: dict[str, str] = {}
            while True:
                line = self.response.readline().decode("utf-8")
                assert line, "the stream ended"
                line = line.rstrip("\n")
                if not line:
                    break
                if line.startswith(":"):
                    self.comments.append(line[1:].strip())
                    continue
                name, _, value = line.partition(": ")
                fields[name] = value
            if "event" in fields and (kind is None or fields["event"] == kind):
                return Sse(fields.get("id", ""), fields["event"], json.loads(fields["data"]))

    def heartbeat(self) -> str:
        """The next comment line (a heartbeat)."""
        count = len(self.comments)
        while len(self.comments) == count:
            line = self.response.readline().decode("utf-8")
            assert line, "the stream ended"
            if line.startswith(":"):
                self.comments.append(line[1:].strip())
        return self.comments[-1]

    def ended(self) -> bool:
        """Reads to the end of the response: True once the desk has ended the stream."""
        while self.response.readline():
            pass
        return True

    def close(self) -> None:
        self.conn.close()


@pytest.fixture
def asterisk() -> Asterisk:
    return Asterisk()


@pytest.fixture
def live(database: Database, asterisk: Asterisk) -> Iterator[tuple[int, dict[str, int], Desk]]:
    ids = seed(database)
    desks: list[Desk] = []
    with running_desk(database, context=asterisk.context(wrapup=1), desks=desks) as port:
        assert asterisk.connected.wait(10)
        yield port, ids, desks[0]


def audit_actions(database: Database) -> list[str]:
    from sqlalchemy import select

    return database.run(lambda s: list(s.scalars(select(AuditEntry.action).order_by(AuditEntry.id))))


def test_console_drives_the_seat_and_shows_what_asterisk_reports(live: tuple[int, dict[str, int], Desk], asterisk: Asterisk, database: Database) -> None:
    port, _, _ = live
    operator = signed_in(port, "operator")
    page = operator.get("/desk/console")
    assert page.status == 200 and "PJSIP/1001" in page.body and "未签入" in page.body  # logged off: not in any queue
    stream = Stream(operator)
    assert stream.next("hello").id
    assert operator.post("/desk/console", {"csrf": page.csrf(), "state": "ready"}).status == 303
    seat = stream.next("seat")
    while seat.data["state"] != "ready":
        seat = stream.next("seat")
    assert seat.data["joined"] == ["general"] and seat.data["connected"] is True
    assert ("hotline-general", "PJSIP/1001") in asterisk.peer.members
    assert "就绪" in operator.get("/desk/console").body

    assert operator.post("/desk/console", {"csrf": page.csrf(), "state": "pause", "reason": "meal"}).status == 303
    seat = stream.next("seat")
    assert (seat.data["state"], seat.data["reason"]) == ("paused", "meal")
    assert asterisk.peer.members[("hotline-general", "PJSIP/1001")] == (True, "meal")
    body = operator.get("/desk/console").body
    assert "已暂停" in body and "用餐" in body

    bad = operator.post("/desk/console", {"csrf": page.csrf(), "state": "pause", "reason": "nap"})
    assert bad.status == 400 and "小休" in bad.body
    assert operator.post("/desk/console", {"csrf": page.csrf(), "state": "dance"}).status == 400

    assert operator.post("/desk/console", {"csrf": page.csrf(), "state": "logoff"}).status == 303
    seat = stream.next("seat")
    assert seat.data["state"] == "logged_off" and not asterisk.peer.members
    stream.close()
    actions = audit_actions(database)
    assert [a for a in actions if a.startswith("seat_")] == ["seat_ready", "seat_pause", "seat_logoff"]


def test_asterisk_refusing_is_shown_not_hidden(live: tuple[int, dict[str, int], Desk], asterisk: Asterisk) -> None:
    port, _, _ = live
    operator = signed_in(port, "operator")
    asterisk.peer.refuse["QueueAdd"] = "Permission denied"
    response = operator.post("/desk/console", {"csrf": operator.csrf("/desk/console"), "state": "ready"})
    assert response.status == 502
    assert "Asterisk 拒绝了" in response.body and "Permission denied" in response.body and "未签入" in response.body


def test_a_call_to_the_seat_pops_with_the_call_record_and_history(live: tuple[int, dict[str, int], Desk], asterisk: Asterisk, database: Database) -> None:
    port, _, _ = live
    operator = signed_in(port, "operator")
    earlier = new_ticket(operator, caller=CALLER)
    uniqueid = "asterisk-lab-1795235026.17-a"

    def record(s: Any) -> None:
        call = Call(uniqueid=uniqueid, caller_number="+8613812345678", queue="general")
        s.add(call)
        s.flush()
        s.add_all(
            [
                CallEvent(call_id=call.id, kind="language", detail={"lang": "zh"}),
                CallEvent(call_id=call.id, kind="menu", detail={"node": "main", "lang": "zh"}),
                CallEvent(call_id=call.id, kind="key", detail={"node": "main", "key": "1", "target": "report"}),
            ]
        )
        s.add(Call(uniqueid="older-1", caller_number="+8613812345678", queue="general"))
        s.add(Ticket(number="20200101-0001", source=TicketSource.HOTLINE, status=TicketStatus.CLOSED, caller_number="+8613812345678", description="旧的已结案件"))

    database.run(record)
    stream = Stream(operator)
    stream.next("hello")
    asterisk.call(lambda: asterisk.peer.ring("PJSIP/1001", CALLER, "-a"))
    pop = stream.next("pop").data
    assert pop["uniqueid"] == uniqueid and pop["caller"] == CALLER and pop["recorded"] is True
    assert pop["language"] == "zh" and [(s["kind"], s["node"], s["key"]) for s in pop["path"]] == [("menu", "main", ""), ("key", "main", "1")]
    assert pop["wait_seconds"] is not None and pop["queue"] == "general"
    assert [t["number"] for t in pop["tickets"]] == [earlier, "20200101-0001"] and pop["tickets"][0]["open"] is True  # the open case on top
    assert [c["uniqueid"] for c in pop["calls"]] == ["older-1"]
    assert pop["new_ticket"] == f"/desk/tickets/new?call={uniqueid}"
    stream.close()


def test_a_pop_is_sent_again_when_the_ivr_s_menu_path_is_written_after_it(live: tuple[int, dict[str, int], Desk], asterisk: Asterisk, database: Database) -> None:
    """Asterisk rings a free seat as Queue() starts, before the call log's writer has written
    the batch the IVR submitted then (it lingers to batch records): the first pop has the
    record as far as it was written, and the desk reads it again and sends the whole path as
    an update of the same pop; a read that finds nothing new sends nothing."""
    port, _, _ = live
    operator = signed_in(port, "operator")
    uniqueid = "asterisk-lab-1795235026.17-u"

    def opened(s: Any) -> None:
        call = Call(uniqueid=uniqueid, caller_number="+8613812345678")
        s.add(call)
        s.flush()
        s.add(CallEvent(call_id=call.id, kind="menu", detail={"node": "main", "lang": "zh"}))

    database.run(opened)
    stream = Stream(operator)
    stream.next("hello")
    asterisk.call(lambda: asterisk.peer.ring("PJSIP/1001", CALLER, "-u"))
    first = stream.next("pop").data
    assert first["uniqueid"] == uniqueid and first["update"] is False
    assert [s["kind"] for s in first["path"]] == ["menu"]

    def handed_over(s: Any) -> None:
        call = s.scalars(select(Call).where(Call.uniqueid == uniqueid)).one()
        s.add(CallEvent(call_id=call.id, kind="key", detail={"node": "main", "key": "1"}))
        s.add(CallEvent(call_id=call.id, kind="queue_enter", detail={"queue": "general", "position": None}))

    database.run(handed_over)
    update = stream.next("pop").data
    assert update["uniqueid"] == uniqueid and update["update"] is True
    assert [(s["kind"], s["key"]) for s in update["path"]] == [("menu", ""), ("key", "1")]
    assert {k: v for k, v in update.items() if k not in ("path", "update")} == {k: v for k, v in first.items() if k not in ("path", "update")}
    # Handed over: no more reads, so the next event on the stream is not another pop of it.
    asterisk.call(lambda: asterisk.peer.ring("PJSIP/1001", CALLER, "-v"))
    assert stream.next("pop").data["uniqueid"] == "asterisk-lab-1795235026.17-v"
    stream.close()


def test_queue_changes_tell_every_stream_so_the_wallboard_refetches(live: tuple[int, dict[str, int], Desk], asterisk: Asterisk) -> None:
    """A call ringing a seat moves the wallboard's figures: every open stream (a supervisor's
    wallboard among them) gets one "queues" event, whoever's seat it was."""
    port, _, _ = live
    supervisor = Stream(signed_in(port, "supervisor"))
    supervisor.next("hello")
    asterisk.call(lambda: asterisk.peer.ring("PJSIP/1001", CALLER, "-q"))
    event = supervisor.next("queues")
    assert event.kind == "queues" and event.data == {}
    supervisor.close()


def test_a_pop_sent_while_disconnected_arrives_on_reconnect(live: tuple[int, dict[str, int], Desk], asterisk: Asterisk) -> None:
    port, _, _ = live
    operator = signed_in(port, "operator")
    stream = Stream(operator)
    last = stream.next("hello").id
    stream.close()
    asterisk.call(lambda: asterisk.peer.ring("PJSIP/1001", CALLER, "-b"))
    # The pop is published to the hub (with no stream open) before the browser comes back.
    resumed = Stream(operator, last=last)
    pop = resumed.next("pop")
    assert pop.data["caller"] == CALLER and pop.data["recorded"] is False
    resumed.close()
    # From that pop's id on, nothing is sent twice; a new page resumes from ?last= too.
    again = Stream(operator, query=f"?last={pop.id}")
    hello = again.next()
    while hello.kind == "seat":  # the seat's current state opens every operator's stream
        hello = again.next()
    assert hello.kind == "hello" and hello.id.split(".")[0] == pop.id.split(".")[0] and int(hello.id.split(".")[1]) >= int(pop.id.split(".")[1])
    again.close()


def test_wrapup_pauses_after_a_call_and_unpauses_when_it_runs_out(live: tuple[int, dict[str, int], Desk], asterisk: Asterisk, database: Database) -> None:
    port, _, _ = live
    operator = signed_in(port, "operator")
    stream = Stream(operator)
    stream.next("hello")
    assert operator.post("/desk/console", {"csrf": operator.csrf("/desk/console"), "state": "ready"}).status == 303
    asterisk.call(lambda: asterisk.peer.ring("PJSIP/1001", CALLER, "-c", answer=True, complete=True))
    states = []
    while states[-2:] != ["wrapup", "ready"]:
        seat = stream.next("seat").data
        if not states or states[-1] != seat["state"]:
            states.append(seat["state"])
    assert "wrapup" in states
    assert stream.next("notice").data == {"text": "wrapup_ended"}  # sent once the end is audited
    stream.close()
    assert {"seat_wrapup", "seat_wrapup_end"} <= set(audit_actions(database))


def test_ticket_events_stream_to_everyone_who_may_see_them(live: tuple[int, dict[str, int], Desk], asterisk: Asterisk) -> None:
    port, ids, desk = live
    operator, dept, dept2 = signed_in(port, "operator"), signed_in(port, "dept"), signed_in(port, "dept2")
    streams = {name: Stream(client) for name, client in (("operator", operator), ("dept", dept), ("dept2", dept2))}
    for stream in streams.values():
        stream.next("hello")
    number = new_ticket(operator)
    event = streams["operator"].next("ticket")
    assert event.data["number"] == number and event.data["action"] == "receive"
    csrf = operator.csrf(f"/desk/tickets/{number}")
    assert operator.post(f"/desk/tickets/{number}/register", {"csrf": csrf, "category": "1"}).status == 303
    assert operator.post(f"/desk/tickets/{number}/dispatch", {"csrf": operator.csrf(f"/desk/tickets/{number}"), "department": str(ids["roads"])}).status == 303
    dispatched = streams["dept"].next("ticket")
    while dispatched.data["action"] != "dispatch":
        dispatched = streams["dept"].next("ticket")
    assert dispatched.data["number"] == number
    # Resuming from before the dispatch replays it from the timeline table, in order.
    resumed = Stream(dept, last=f"{int(dispatched.id.split('.')[0]) - 1}.0")
    assert resumed.next("ticket").data["action"] == "dispatch"
    resumed.close()
    # Parks (dept2) saw nothing of a Roads case: the next event after its hello is a marker
    # published for everyone after the dispatch had reached Roads.
    asterisk.call(lambda: desk.hub.publish("marker", {}))
    following = streams["dept2"].next()
    while following.kind == "queues":  # queue and agent changes go to everyone
        following = streams["dept2"].next()
    assert following.kind == "marker"
    for stream in streams.values():
        stream.close()


def test_the_stream_is_for_browsers_and_limited_per_user(live: tuple[int, dict[str, int], Desk], asterisk: Asterisk) -> None:
    port, ids, desk = live
    desk.heartbeat_seconds = 0.2
    operator = signed_in(port, "operator")
    plain = operator.get("/desk/events")
    assert plain.status == 406 and "实时" in plain.body
    anonymous = Stream(Client(port))
    assert anonymous.response.status == 303
    anonymous.close()
    streams = [Stream(operator) for _ in range(desk.hub.max_streams)]
    for stream in streams:
        stream.next("hello")
    refused = Stream(operator)
    assert refused.response.status == 429
    refused.close()
    assert streams[0].heartbeat() == "hb"
    # The desk ends a user's streams (as it does each one after desk.stream_seconds): they end
    # cleanly, so the browser reconnects at once and resumes.
    assert asterisk.call(lambda: desk.end_streams(ids["operator"])) == len(streams)
    assert all(stream.ended() for stream in streams)
    for stream in streams:
        stream.close()
    assert asterisk.call(lambda: desk.hub.streams(ids["operator"])) == 0


def test_without_asterisk_the_console_says_so(database: Database) -> None:
    seed(database)
    with running_desk(database) as port:
        operator = signed_in(port, "operator")
        page = operator.get("/desk/console")
        assert page.status == 200 and "没有配置" in page.body
        response = operator.post("/desk/console", {"csrf": page.csrf(), "state": "ready"})
        assert response.status == 503 and "未连接到电话系统" in response.body
        supervisor = signed_in(port, "supervisor")
        response = supervisor.post("/desk/console", {"csrf": supervisor.csrf("/desk/console"), "state": "ready"})
        assert response.status == 409 and "没有坐席" in response.body


def test_with_asterisk_down_the_console_says_so(database: Database, asterisk: Asterisk) -> None:
    seed(database)
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    with running_desk(database, context=asterisk.context(port=closed_port)) as port:
        operator = signed_in(port, "operator")
        page = operator.get("/desk/console")
        assert "未连接到电话系统" in page.body
        response = operator.post("/desk/console", {"csrf": page.csrf(), "state": "pause", "reason": "break"})
        assert response.status == 503 and "未连接到电话系统" in response.body
