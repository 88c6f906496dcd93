"""The desk's event hub (hotline.web.hub): who receives what, ids that only grow, and what a
reconnecting stream gets back."""

from __future__ import annotations

import pytest

from hotline.web.hub import Cursor, Event, Hub, TooManyStreams


def clock() -> float:
    return 1_800_000_000.0


def test_events_reach_their_user_and_broadcasts_reach_everyone_in_scope() -> None:
    hub = Hub(clock=clock)
    got: dict[str, list[Event]] = {"op": [], "other": [], "dept": []}
    hub.subscribe(1, got["op"].append)
    hub.subscribe(2, got["other"].append)
    hub.subscribe(3, got["dept"].append, scope=7)
    hub.publish("pop", {"caller": "13812345678"}, user_id=1)
    hub.publish("ticket", {"number": "A"}, department_id=7, ticket_event=10)
    hub.publish("ticket", {"number": "B"}, department_id=8, ticket_event=11)
    hub.publish("board", {"waiting": 3})
    assert [e.kind for e in got["op"]] == ["pop", "ticket", "ticket", "board"]
    assert [e.kind for e in got["other"]] == ["ticket", "ticket", "board"]
    assert [e.data.get("number") for e in got["dept"] if e.kind == "ticket"] == ["A"]  # department staff: their cases only


def test_ids_grow_and_start_past_the_process_start() -> None:
    hub = Hub(clock=clock)
    first = hub.publish("pop", {}, user_id=1)
    second = hub.publish("seat", {}, user_id=2)
    assert first.seq >= 1_800_000_000_000 and second.seq == first.seq + 1
    cursor = Cursor(5, 0).after(first).after(Event("ticket", {}, ticket_event=9))
    assert (cursor.ticket, cursor.seq) == (9, first.seq)
    assert Cursor.parse(str(cursor)) == cursor


@pytest.mark.parametrize("text", ["", "abc", "1", "1.x", "-1.2", "1.2.3", "9" * 50 + ".1"])
def test_a_foreign_last_event_id_is_ignored(text: str) -> None:
    assert Cursor.parse(text) is None


def test_a_reconnecting_stream_gets_what_it_missed_and_nothing_twice() -> None:
    hub = Hub(clock=clock, keep=3)
    hub.publish("pop", {"n": 0}, user_id=1)
    seen = hub.publish("pop", {"n": 1}, user_id=1)
    hub.publish("pop", {"n": 2}, user_id=2)
    hub.publish("board", {"n": 3})
    hub.publish("pop", {"n": 4}, user_id=1)
    missed = hub.missed(1, None, seen.seq)
    assert [e.data["n"] for e in missed] == [3, 4]
    assert all(e.is_new_for(Cursor(0, seen.seq)) for e in missed)
    assert not seen.is_new_for(Cursor(0, seen.seq))
    for n in range(5, 9):
        hub.publish("pop", {"n": n}, user_id=1)
    assert [e.data["n"] for e in hub.missed(1, None, 0) if e.kind == "pop"] == [6, 7, 8]  # only the last `keep` are kept


def test_streams_per_user_are_limited_and_freed_on_close() -> None:
    hub = Hub(clock=clock, max_streams=2)
    first = hub.subscribe(1, lambda e: None)
    hub.subscribe(1, lambda e: None)
    with pytest.raises(TooManyStreams):
        hub.subscribe(1, lambda e: None)
    hub.subscribe(2, lambda e: None)  # another user is not affected
    first.close()
    first.close()
    hub.subscribe(1, lambda e: None)
    assert hub.streams(1) == 2 and hub.streams() == 3


def test_a_broken_stream_does_not_stop_the_others() -> None:
    hub = Hub(clock=clock)
    got: list[Event] = []

    def broken(event: Event) -> None:
        raise OSError("gone")

    hub.subscribe(1, broken)
    hub.subscribe(1, got.append)
    hub.publish("pop", {}, user_id=1)
    assert len(got) == 1 and hub.delivery_errors == 1
