"""Seats nobody is at leave Asterisk's queues, and wrap-up runs without a page: over real HTTP
and a real AMI connection to the simulated Asterisk (tests/seat_peer.py), on both backends.

Signing out, or a session that expires, takes the operator's seat out of every queue
(QueueRemove each), audited; during a call the call is not cut: the seat is paused (no
further call is offered) and leaves when the call ends. Wrap-up after a call pauses and
unpauses the seat whether or not the operator's page is open, and a reloaded console shows the
time left; after a reconnection the desk picks up what Asterisk reports (a wrap-up it did not
start, a seat left in the queues by an operator who has no session)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import delete, select, update
from twisted.internet.defer import ensureDeferred

from agent_desk.app import Desk
from hotline.storage.db import Database
from hotline.storage.models import AuditEntry, DeskSession, UserQueue, utcnow
from tests.desk_server import Client, running_desk, seed
from tests.seat_peer import Asterisk
from tests.test_desk import signed_in
from tests.test_desk_live import CALLER, Stream

BOTH = {"hotline-general", "hotline-emergency"}
SEAT = "PJSIP/1001"


@pytest.fixture
def asterisk() -> Asterisk:
    return Asterisk()


def desk_with(database: Database, asterisk: Asterisk, wrapup: int) -> Iterator[tuple[int, dict[str, int], Desk]]:
    """A desk on the simulated Asterisk; the operator (seat 1001) serves both queues."""
    ids = seed(database)
    database.run(lambda s: s.add_all([UserQueue(user_id=ids["operator"], queue=q) for q in ("general", "emergency")]))
    desks: list[Desk] = []
    with running_desk(database, context=asterisk.context(wrapup=wrapup), desks=desks) as port:
        assert asterisk.connected.wait(10)
        yield port, ids, desks[0]


@pytest.fixture
def live(database: Database, asterisk: Asterisk) -> Iterator[tuple[int, dict[str, int], Desk]]:
    yield from desk_with(database, asterisk, wrapup=0)


@pytest.fixture
def wrapping(database: Database, asterisk: Asterisk) -> Iterator[tuple[int, dict[str, int], Desk]]:
    yield from desk_with(database, asterisk, wrapup=30)


def audits(database: Database, action: str) -> list[AuditEntry]:
    return database.run(lambda s: list(s.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id))))


def ready(operator: Client, asterisk: Asterisk) -> None:
    assert operator.post("/desk/console", {"csrf": operator.csrf("/desk/console"), "state": "ready"}).status == 303
    assert set(asterisk.peer.members) == {(q, SEAT) for q in BOTH}


def reconnect(asterisk: Asterisk) -> None:
    """Asterisk drops the desk's AMI connection; the desk logs in again and resyncs."""
    connection = asterisk.peer.peers[-1]
    asterisk.connected.clear()
    asterisk.call(connection.transport.loseConnection)
    assert asterisk.connected.wait(30)


def until_state(stream: Stream, state: str) -> dict[str, Any]:
    seat = stream.next("seat").data
    while seat["state"] != state:
        seat = stream.next("seat").data
    return seat


def test_signing_out_takes_the_seat_out_of_every_queue(live: tuple[int, dict[str, int], Desk], asterisk: Asterisk, database: Database) -> None:
    port, ids, _ = live
    operator = signed_in(port, "operator")
    ready(operator, asterisk)
    assert operator.post("/desk/logout", {"csrf": operator.csrf("/desk/console")}).status == 303
    removed = asterisk.peer.wait_for("QueueRemove", 2, Interface=SEAT)
    assert {r["Queue"] for r in removed} == BOTH and not asterisk.peer.members
    [entry] = audits(database, "seat_signout")
    assert (entry.user_id, entry.target, entry.detail["why"], set(entry.detail["queues"])) == (ids["operator"], "seat:1001", "logout", {"general", "emergency"})
    assert "after_call" not in entry.detail and "errors" not in entry.detail


def test_a_second_window_still_signed_in_keeps_the_seat(live: tuple[int, dict[str, int], Desk], asterisk: Asterisk, database: Database) -> None:
    """The same operator signed in on a second browser at the seat: signing out of one leaves
    the seat as it is (the desk answers the logout only after any sign-out of the seat)."""
    port, _, _ = live
    first, second = signed_in(port, "operator"), signed_in(port, "operator")
    ready(first, asterisk)
    assert first.post("/desk/logout", {"csrf": first.csrf("/desk/console")}).status == 303
    assert asterisk.peer.sent("QueueRemove") == [] and not audits(database, "seat_signout")
    assert set(asterisk.peer.members) == {(q, SEAT) for q in BOTH}
    assert second.post("/desk/logout", {"csrf": second.csrf("/desk/console")}).status == 303
    assert {r["Queue"] for r in asterisk.peer.wait_for("QueueRemove", 2)} == BOTH


def test_signing_out_on_a_call_keeps_the_call_and_leaves_after_it(live: tuple[int, dict[str, int], Desk], asterisk: Asterisk, database: Database) -> None:
    port, _, _ = live
    operator = signed_in(port, "operator")
    ready(operator, asterisk)
    stream = Stream(operator)
    stream.next("hello")
    uniqueid = asterisk.call(lambda: asterisk.peer.ring(SEAT, CALLER, "-out", answer=True))
    until_state(stream, "on_call")
    stream.close()
    assert operator.post("/desk/logout", {"csrf": operator.csrf("/desk/console")}).status == 303
    # Held: paused in every queue (no further call is offered), nothing removed, the call up.
    paused = asterisk.peer.wait_for("QueuePause", 2, Reason="signedout")
    assert {p["Queue"] for p in paused} == BOTH and all(p["Paused"] == "true" for p in paused)
    assert asterisk.peer.sent("QueueRemove") == [] and asterisk.peer.members == {(q, SEAT): (True, "signedout") for q in BOTH}
    assert uniqueid in asterisk.peer.active and not {"Hangup", "Redirect"} & {name for name, _ in asterisk.peer.actions}
    [held] = audits(database, "seat_signout")
    assert held.detail["after_call"] is True and held.detail["steps"] == ["pause", "pause"]
    # The call ends: the seat leaves the queues then, audited.
    asterisk.call(lambda: asterisk.peer.hang_up(uniqueid))
    assert {r["Queue"] for r in asterisk.peer.wait_for("QueueRemove", 2, Interface=SEAT)} == BOTH
    assert not asterisk.peer.members
    assert not audits(database, "seat_wrapup")  # nobody is there to wrap up
    [after] = audit_when(database, "seat_signout_after_call")
    assert after.target == "seat:1001" and set(after.detail["queues"]) == {"general", "emergency"}


def audit_when(database: Database, action: str) -> list[AuditEntry]:
    """The audit rows of `action`, once written (the desk audits after Asterisk answered)."""
    from tests.test_roles import until

    until(lambda: bool(audits(database, action)), what=f"no audit entry {action}")
    return audits(database, action)


def test_an_expired_session_takes_the_seat_out_of_every_queue(live: tuple[int, dict[str, int], Desk], asterisk: Asterisk, database: Database) -> None:
    port, ids, desk = live
    operator = signed_in(port, "operator")
    ready(operator, asterisk)
    # The operator went home: no request for longer than the idle timeout.
    database.run(lambda s: s.execute(update(DeskSession).where(DeskSession.user_id == ids["operator"]).values(last_seen_at=utcnow() - timedelta(hours=2))))
    assert operator.get("/desk/console").status == 303  # signed out already: the sweep ends it
    asterisk.call(lambda: ensureDeferred(desk.sweep_sessions()))  # the desk runs this every minute
    assert {r["Queue"] for r in asterisk.peer.wait_for("QueueRemove", 2, Interface=SEAT)} == BOTH
    [expired] = audit_when(database, "session_expired")
    assert expired.user_id == ids["operator"]
    [entry] = audit_when(database, "seat_signout")
    assert entry.detail["why"] == "expired" and entry.address == "system"
    assert database.run(lambda s: s.scalar(select(DeskSession).where(DeskSession.user_id == ids["operator"]))) is None


def test_wrapup_runs_with_no_page_open(database: Database, asterisk: Asterisk) -> None:
    ids = seed(database)
    with running_desk(database, context=asterisk.context(wrapup=1)) as port:
        assert asterisk.connected.wait(10)
        operator = signed_in(port, "operator")
        assert operator.post("/desk/console", {"csrf": operator.csrf("/desk/console"), "state": "ready"}).status == 303
        # No stream, no page: the call ends, the seat is paused for wrap-up and unpaused after it.
        asterisk.call(lambda: asterisk.peer.ring(SEAT, CALLER, "-nopage", answer=True, complete=True))
        assert asterisk.peer.wait_for("QueuePause", 1, Reason="wrapup")[0]["Queue"] == "hotline-general"
        assert asterisk.peer.wait_for("QueuePause", 1, Paused="false")[0]["Interface"] == SEAT
        [start] = audit_when(database, "seat_wrapup")
        [end] = audit_when(database, "seat_wrapup_end")
        assert start.user_id == end.user_id == ids["operator"] and asterisk.peer.members == {("hotline-general", SEAT): (False, "")}


def test_wrapup_survives_a_reload_and_shows_the_time_left(wrapping: tuple[int, dict[str, int], Desk], asterisk: Asterisk) -> None:
    port, _, _ = wrapping
    operator = signed_in(port, "operator")
    ready(operator, asterisk)
    asterisk.call(lambda: asterisk.peer.ring(SEAT, CALLER, "-reload", answer=True, complete=True))
    asterisk.peer.wait_for("QueuePause", 2, Reason="wrapup")
    stream = Stream(operator)  # a page (re)opened: the seat's state opens the stream
    seat = until_state(stream, "wrapup")
    stream.close()
    assert 0 < seat["wrapup_left"] <= 30
    page = operator.get("/desk/console").body  # reloaded: the time left is on the page
    left = re.search(r'data-wrapup-left="(\d+)"', page)
    assert left is not None and 0 < int(left.group(1)) <= 30 and "话后处理" in page
    # Ready by hand ends wrap-up early; the desk's timer then leaves the seat alone.
    ready(operator, asterisk)
    assert asterisk.peer.members == {(q, SEAT): (False, "") for q in BOTH}


def test_after_a_reconnect_a_wrapup_begun_elsewhere_ends(database: Database, asterisk: Asterisk) -> None:
    """A seat Asterisk reports in wrap-up that this desk process holds no timer for (another
    process started it, or this one restarted and lost it): once connected again, the desk
    ends it at the time Asterisk's pause says."""
    seed(database)
    desks: list[Desk] = []
    with running_desk(database, context=asterisk.context(wrapup=2), desks=desks) as port:
        assert asterisk.connected.wait(10)
        desk = desks[0]
        operator = signed_in(port, "operator")
        assert operator.post("/desk/console", {"csrf": operator.csrf("/desk/console"), "state": "ready"}).status == 303
        asterisk.call(lambda: asterisk.peer.ring(SEAT, CALLER, "-else", answer=True, complete=True))
        asterisk.peer.wait_for("QueuePause", 1, Reason="wrapup")

        def forget() -> None:  # what a restarted process knows of the wrap-up: nothing
            for wrapup in desk._wrapups.values():
                wrapup.timer.cancel()
            desk._wrapups.clear()

        asterisk.call(forget)
        reconnect(asterisk)
        unpaused = asterisk.peer.wait_for("QueuePause", 1, Paused="false")
        assert unpaused[0]["Interface"] == SEAT
        assert audit_when(database, "seat_wrapup_end")
        assert asterisk.peer.members == {("hotline-general", SEAT): (False, "")}


def test_after_a_reconnect_a_seat_nobody_is_signed_in_at_leaves(live: tuple[int, dict[str, int], Desk], asterisk: Asterisk, database: Database) -> None:
    """The session ended while the desk could not reach Asterisk (or was down): the seat is
    taken out of the queues once the desk is connected again."""
    port, ids, _ = live
    operator = signed_in(port, "operator")
    ready(operator, asterisk)
    database.run(lambda s: s.execute(delete(DeskSession).where(DeskSession.user_id == ids["operator"])))
    reconnect(asterisk)
    assert {r["Queue"] for r in asterisk.peer.wait_for("QueueRemove", 2, Interface=SEAT)} == BOTH
    [entry] = audit_when(database, "seat_signout")
    assert entry.detail["why"] == "no_session"


def test_two_desk_processes_wrap_a_seat_up_once(database: Database, asterisk: Asterisk) -> None:
    """Every desk process has its own AMI connection and sees the call end; the seat is paused
    for wrap-up, and unpaused, by one of them (the one that claimed it in the database)."""
    ids = seed(database)
    other = Asterisk()
    with running_desk(database, context=asterisk.context(wrapup=1)) as port, running_desk(database, context=other.context(wrapup=1, port=asterisk.port)):
        assert asterisk.connected.wait(10) and other.connected.wait(10)
        operator = signed_in(port, "operator")
        assert operator.post("/desk/console", {"csrf": operator.csrf("/desk/console"), "state": "ready"}).status == 303
        asterisk.call(lambda: asterisk.peer.ring(SEAT, CALLER, "-twice", answer=True, complete=True))
        asterisk.peer.wait_for("QueuePause", 1, Paused="false")
        assert len(asterisk.peer.sent("QueuePause")) == 2  # one pause, one unpause
        [start] = audit_when(database, "seat_wrapup")
        [end] = audit_when(database, "seat_wrapup_end")
        assert start.user_id == end.user_id == ids["operator"]
