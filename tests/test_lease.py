"""The lease one process among all nodes holds (the AMI call-record writer's), on SQLite and a
real PostgreSQL, and the keeper that tries, keeps and loses it on a clock."""

from __future__ import annotations

from typing import Any

from twisted.internet.defer import fail, succeed
from twisted.internet.task import Clock

from hotline.storage.db import Database
from hotline.storage.lease import Lease, LeaseKeeper, lease_for


def test_one_holder_at_a_time_and_the_next_takes_it_when_released(database_url):
    first_db, second_db = Database.from_url(database_url), Database.from_url(database_url)  # two "nodes"
    first, second = lease_for(first_db, "ami-writer"), lease_for(second_db, "ami-writer")
    try:
        assert first.try_acquire() is True
        assert second.try_acquire() is False
        assert first.still_held() is True and second.still_held() is False
        other = lease_for(second_db, "another-job")
        assert other.try_acquire() is True  # leases are by name
        other.release()
        first.release()
        assert second.try_acquire() is True
        assert first.try_acquire() is False
    finally:
        first.release()
        second.release()
        first_db.dispose()
        second_db.dispose()


class ScriptedLease(Lease):
    name = "test"

    def __init__(self) -> None:
        self.free, self.alive, self.released = True, True, 0

    def try_acquire(self) -> bool:
        return self.free

    def still_held(self) -> bool:
        return self.alive

    def release(self) -> None:
        self.released += 1


def keeper(lease: Lease, run: Any = None) -> tuple[Clock, LeaseKeeper, list[str]]:
    clock = Clock()
    clock.addSystemEventTrigger = lambda *a: None  # type: ignore[attr-defined]
    seen: list[str] = []
    k = LeaseKeeper(clock, lease, run or (lambda fn: succeed(fn())), lambda: seen.append("acquired"), lambda: seen.append("lost"), interval=5)
    k.start()
    return clock, k, seen


def test_keeper_takes_keeps_loses_and_takes_again():
    lease = ScriptedLease()
    lease.free = False
    clock, k, seen = keeper(lease)
    assert seen == [] and not k.held  # someone else holds it
    lease.free = True
    clock.advance(5)
    assert seen == ["acquired"] and k.held
    clock.advance(5)
    assert seen == ["acquired"]  # checked, still held
    lease.alive = False  # the session (and the lock) went away
    clock.advance(5)
    assert seen == ["acquired", "lost"] and not k.held
    lease.alive = True
    clock.advance(5)
    assert seen == ["acquired", "lost", "acquired"]
    k.stop()
    assert seen[-1] == "lost" and lease.released == 1


def test_a_failing_check_counts_as_lost_and_releases():
    lease = ScriptedLease()
    calls = {"n": 0}

    def run(fn: Any) -> Any:
        calls["n"] += 1
        return succeed(fn()) if calls["n"] == 1 else fail(OSError("database away"))

    clock, k, seen = keeper(lease, run)
    assert seen == ["acquired"]
    clock.advance(5)
    assert seen == ["acquired", "lost"] and not k.held
