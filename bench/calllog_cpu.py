"""CPU per call of writing its record, three ways: what the server's CPU per call is made of.

bench/ivr_calls.py found most of `hotline serve`'s CPU per call on the call log's writer
thread. This isolates that work: the operations the IVR writes for a queued caller (start,
answer, eight menu steps, outcome, queue join, end: about the 13 timeline events per call the
service wrote in ivr_calls.py), in the three batches the IVR submits per call (first prompt,
before Queue(), end), for `--calls` calls:

- **records, a transaction per batch**: `hotline.calllog.records` through the journal's
  work for its entries (`entries_work`), one transaction per call's batch;
- **records, batched**: the same works, `--per-transaction` calls' batches in one
  transaction, as the pool's writer runs them (`run_batch`: the calls' rows read at once);
- **core executemany**: the same rows written with bare SQLAlchemy Core, one executemany per
  table per transaction, no facts, no rules (op_id de-duplication, dispositions that must
  not go backwards): the floor that `records` (Core since 2026-12-03, ORM before) is
  measured against.

    .venv/bin/python bench/calllog_cpu.py [--calls 500] [--per-transaction 50] [--postgresql]

Prints CPU (process time of this process: the database server's is not included) per call.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def batches(uniqueid: str, at: datetime) -> list[list[dict[str, Any]]]:
    """One call's journal entries as the IVR submits them: three batches."""

    def op(name: str, **args: Any) -> dict[str, Any]:
        return {"id": uuid.uuid4().hex, "op": name, "args": {"uniqueid": uniqueid, "at": at.isoformat(), **args}}

    first = [op("start_call", caller_number="13812345678", dnid="12319", channel="PJSIP/trunk-1"), op("mark_answered"), op("add_event", kind="menu", detail={"node": "welcome"})]
    menu = [op("add_event", kind=kind, detail={"node": "main", "step": k}) for k, kind in enumerate(("menu", "key", "menu", "key", "menu", "key", "queue_open"))]
    second = [*menu, op("set_outcome", outcome="queued"), op("queue_joined", queue="general", position=1)]
    third = [op("add_event", kind="ivr_summary", detail={"flow": "ivr", "outcome": "queued"}), op("call_ended", cause="hangup")]
    return [first, second, third]


def records(database: Any, calls: list[list[list[dict[str, Any]]]], per_transaction: int) -> None:
    """As the service writes: each call's batch is one journal work (`entries_work`), and the
    writer runs `per_transaction` calls' works in one transaction (`run_batch`)."""
    from hotline.calllog.journal import entries_work
    from hotline.calllog.records import OPERATIONS
    from hotline.storage.dbpool import run_batch

    for stage in range(3):
        for start in range(0, len(calls), per_transaction):
            works = [entries_work(OPERATIONS, call[stage]) for call in calls[start : start + per_transaction]]
            database.run(lambda session: run_batch(session, works))


def core(database: Any, calls: list[list[list[dict[str, Any]]]], per_transaction: int) -> None:
    from sqlalchemy import bindparam, insert, select, update

    from hotline.storage.models import Call, CallDisposition, CallEvent

    calls_table, events_table = Call.__table__, CallEvent.__table__
    for stage in range(3):
        for start in range(0, len(calls), per_transaction):
            group = [call[stage] for call in calls[start : start + per_transaction]]
            with database.engine.begin() as connection:
                if stage == 0:
                    rows = [
                        {
                            "uniqueid": e[0]["args"]["uniqueid"],
                            "linkedid": e[0]["args"]["uniqueid"],
                            "caller_number": "+8613812345678",
                            "dnid": "12319",
                            "started_at": datetime.fromisoformat(e[0]["args"]["at"]),
                            "disposition": CallDisposition.IN_PROGRESS,
                        }
                        for e in group
                    ]
                    connection.execute(insert(calls_table), rows)
                uniqueids = [e[0]["args"]["uniqueid"] for e in group]
                ids = dict(connection.execute(select(calls_table.c.uniqueid, calls_table.c.id).where(calls_table.c.uniqueid.in_(uniqueids))).all())
                if stage == 1:
                    connection.execute(
                        update(calls_table).where(calls_table.c.id == bindparam("call")).values(disposition=CallDisposition.QUEUED, queue="general", queued_at=bindparam("queued")),
                        [{"call": ids[u], "queued": datetime.now(UTC)} for u in uniqueids],
                    )
                if stage == 2:
                    connection.execute(
                        update(calls_table).where(calls_table.c.id == bindparam("call")).values(ended_at=bindparam("ended")), [{"call": ids[u], "ended": datetime.now(UTC)} for u in uniqueids]
                    )
                events = [
                    {
                        "call_id": ids[e["args"]["uniqueid"]],
                        "kind": e["args"].get("kind", e["op"]),
                        "detail": e["args"].get("detail", {}),
                        "at": datetime.fromisoformat(e["args"]["at"]),
                        "op_id": e["id"],
                    }
                    for entries in group
                    for e in entries
                ]
                connection.execute(insert(events_table), events)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--per-transaction", type=int, default=50)
    parser.add_argument("--postgresql", action="store_true", help="a PostgreSQL server of its own (tests/pgserver.py) instead of SQLite")
    args = parser.parse_args()
    from hotline.storage import db as dbmod
    from hotline.storage.db import Database

    server = None
    try:
        if args.postgresql:
            from tests.pgserver import PostgresServer

            server = PostgresServer()
            server.start()
            urls = {name: server.createdb(name) for name in ("orm1", "ormn", "core")}
        else:
            directory = Path(tempfile.mkdtemp(prefix="hotline-calllog-cpu-"))
            urls = {name: f"sqlite:///{directory / name}.db" for name in ("orm1", "ormn", "core")}
        at = datetime(2026, 12, 3, 2, 0, tzinfo=UTC)
        print(f"{time.strftime('%Y-%m-%d')}, {'PostgreSQL' if server else 'SQLite'}, {args.calls} calls, 3 batches and 13 timeline events each; CPU of this process per call")
        variants = (
            ("records, a transaction per batch", "orm1", records, 1),
            (f"records, {args.per_transaction} calls per transaction", "ormn", records, args.per_transaction),
            (f"core executemany, {args.per_transaction} calls per transaction", "core", core, args.per_transaction),
        )
        for label, name, write, per in variants:
            dbmod.upgrade(urls[name])
            database = Database.from_url(urls[name])
            calls = [batches(f"{name}.{k}", at + timedelta(seconds=k)) for k in range(args.calls)]
            write(database, calls[:20], per)  # warm-up: statement caches, connections
            cpu0 = time.process_time()
            write(database, calls[20:], per)
            cpu = time.process_time() - cpu0
            database.dispose()
            print(f"  {label:<48} {cpu * 1000 / (args.calls - 20):7.2f} ms per call")
    finally:
        if server is not None:
            server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
