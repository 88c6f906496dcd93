"""Load N tickets (default 1,000,000) into PostgreSQL and into SQLite, then time the three
queries the desk and the IVR lean on: the monthly KPI report, the due-soon list, and a
caller's tickets by phone number. PostgreSQL is the target (each under 200 ms at 1 M);
SQLite is the peer measured in the same run.

    .venv/bin/python bench/tickets_1m.py [--rows 1000000] [--backends postgresql,sqlite] [--repeat 15]

Starts its own throwaway PostgreSQL (tests/pgserver.py) unless --pg-url is given. Prints a
table and writes bench/out/tickets_1m.json; copy the figures into bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import text

from hotline.storage import db as dbmod
from hotline.storage.db import Database
from hotline.tickets import kpi
from hotline.tickets import services as tickets

CST = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 20, 10, 0, tzinfo=CST).astimezone(UTC)
SPAN_DAYS = 4 * 365
COLUMNS = [
    "id",
    "number",
    "source",
    "status",
    "caller_number",
    "caller_name",
    "location",
    "description",
    "transcript",
    "urgency",
    "category_id",
    "department_id",
    "time_limit",
    "created_at",
    "registered_at",
    "first_dispatched_at",
    "dispatched_at",
    "deadline_at",
    "handled_at",
    "verified_at",
    "closed_at",
    "closed_on_time",
    "handled_on_time",
    "dispatch_count",
    "rework_count",
    "extension_count",
    "reopen_count",
    "satisfaction",
    "satisfied",
    "callback_at",
    "resolution",
    "version",
]
SOURCES = ["hotline"] * 70 + ["voicemail"] * 5 + ["web"] * 10 + ["inspector"] * 15
SATISFACTION = ["满意"] * 90 + ["基本满意"] * 8 + ["不满意"] * 2


def generate(rows: int, categories: list[tuple[int, int]], seed: int = 12319):
    """Yield ticket rows as tuples in COLUMNS order, with a realistic mix of states.

    Spread evenly over four years (about 680 a day, Nantong's volume); a 200,000-number
    caller population so repeat callers exist; older tickets mostly closed, a few percent
    rejected or answered, some closed late, a tail still open and overdue.
    """
    rnd = random.Random(seed)
    callers = [f"+86138{rnd.randrange(10**8):08d}" for _ in range(200_000)]
    start = NOW - timedelta(days=SPAN_DAYS)
    step = SPAN_DAYS * 86400 / rows
    sequence: dict[str, int] = {}
    for i in range(rows):
        created = start + timedelta(seconds=i * step + rnd.random() * step)
        day = created.astimezone(CST).strftime("%y%m%d")
        sequence[day] = sequence.get(day, 0) + 1
        number = f"{day}{sequence[day]:04d}"
        category_id, department_id = rnd.choice(categories)
        age = (NOW - created).days
        r = rnd.random()
        urgent = rnd.random() < 0.03
        limit_h = 4 if urgent else rnd.choice((8, 24, 96, 120))
        registered = dispatched = deadline = handled = verified = closed = callback = None
        closed_on_time = handled_on_time = satisfied = None
        satisfaction = None
        dispatch_count = rework = extension = reopen = 0
        status = "received"
        if r < 0.04:
            status = "rejected"
        elif r < 0.09:
            status = "answered"
        else:
            registered = created + timedelta(minutes=rnd.randint(1, 30))
            dispatched = registered + timedelta(minutes=rnd.randint(1, 60))
            deadline = dispatched + timedelta(hours=limit_h * (1.4 if limit_h >= 24 else 1))
            dispatch_count = 1
            status = "dispatched"
            if rnd.random() < 0.04:
                extension = 1
                deadline += timedelta(days=2)
            done_after = timedelta(hours=rnd.expovariate(1 / (limit_h * 0.6)))
            if created + done_after + timedelta(days=2) < NOW and (age > 20 or rnd.random() < 0.7):
                handled = dispatched + done_after
                handled_on_time = handled <= deadline
                status = "handled"
                if rnd.random() < 0.03:
                    rework = 1
                    dispatch_count = 2
                if handled + timedelta(hours=6) < NOW:
                    verified = handled + timedelta(hours=rnd.randint(1, 5))
                    closed = verified + timedelta(minutes=rnd.randint(5, 120))
                    closed_on_time = closed <= deadline
                    status = "closed"
                    if rnd.random() < 0.8 and closed + timedelta(days=1) < NOW:
                        callback = closed + timedelta(hours=rnd.randint(4, 48))
                        satisfaction = rnd.choice(SATISFACTION)
                        satisfied = satisfaction != "不满意"
            elif rnd.random() < 0.01 and age > 30:
                status = "dispatched"  # the long tail: open and overdue
        yield (
            i + 1,
            number,
            rnd.choice(SOURCES),
            status,
            rnd.choice(callers),
            "",
            "某区某街道",
            "市民反映的问题",
            "",
            "urgent" if urgent else "normal",
            category_id,
            department_id if dispatch_count else None,
            f"{limit_h} hours" if dispatch_count else None,
            created,
            registered,
            dispatched,
            dispatched,
            deadline,
            handled,
            verified,
            closed,
            closed_on_time,
            handled_on_time,
            dispatch_count,
            rework,
            extension,
            reopen,
            satisfaction,
            satisfied,
            callback,
            "",
            1,
        )


def _reference(database: Database) -> list[tuple[int, int]]:
    from hotline.tickets import taxonomy

    with database.transaction() as s:
        taxonomy.load_departments(s)
        taxonomy.load_taxonomy(s)
    with database.transaction() as s:
        rows = s.execute(text("SELECT c.id, COALESCE(c.default_department_id, p.default_department_id) FROM categories c JOIN categories p ON c.parent_id = p.id")).all()
    return [(c, d) for c, d in rows if d is not None]


def load_postgresql(url: str, rows: int) -> tuple[Database, float]:
    import psycopg

    dbmod.upgrade(url)
    database = Database.from_url(url, pool_size=2)
    categories = _reference(database)
    started = time.perf_counter()
    raw = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(raw) as conn, conn.cursor() as cur:
        with cur.copy(f"COPY tickets ({', '.join(COLUMNS)}) FROM STDIN") as copy:
            for row in generate(rows, categories):
                copy.write_row(row)
        cur.execute("INSERT INTO ticket_sequences (day, last) SELECT to_date(left(number, 6), 'YYMMDD'), max(right(number, 4)::int) FROM tickets GROUP BY 1")
        cur.execute("SELECT setval(pg_get_serial_sequence('tickets', 'id'), (SELECT max(id) FROM tickets))")
        conn.commit()
        conn.autocommit = True
        cur.execute("VACUUM ANALYZE tickets")
    return database, time.perf_counter() - started


def _sqlite_value(v):
    if isinstance(v, datetime):
        return v.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(v, bool):
        return int(v)
    return v


def load_sqlite(path: Path, rows: int) -> tuple[Database, float]:
    url = f"sqlite:///{path}"
    dbmod.upgrade(url)
    database = Database.from_url(url)
    categories = _reference(database)
    started = time.perf_counter()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=OFF")
    sql = f"INSERT INTO tickets ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
    batch = []
    for row in generate(rows, categories):
        batch.append(tuple(_sqlite_value(v) for v in row))
        if len(batch) == 50_000:
            conn.executemany(sql, batch)
            batch.clear()
    conn.executemany(sql, batch)
    conn.commit()
    conn.execute("ANALYZE")
    conn.commit()
    conn.close()
    return database, time.perf_counter() - started


def timed(fn, repeat: int) -> dict[str, float]:
    fn(0)  # warm the cache and the plan once; a desk query runs against a warm database
    samples = []
    for i in range(repeat):
        started = time.perf_counter()
        fn(i)
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return {"median_ms": statistics.median(samples), "p95_ms": samples[min(len(samples) - 1, int(len(samples) * 0.95))], "max_ms": samples[-1]}


def measure(database: Database, repeat: int) -> dict[str, dict[str, float]]:
    months = [(2026, m) for m in range(1, 11)] + [(2025, m) for m in range(1, 13)]
    with database.transaction() as s:
        callers = [c for (c,) in s.execute(text("SELECT caller_number FROM tickets WHERE id % 997 = 0 LIMIT 50")).all()]

    def monthly(i: int) -> None:
        year, month = months[i % len(months)]
        with database.transaction() as s:
            kpi.monthly_report(s, year, month, CST)

    def due_soon(i: int) -> None:
        with database.transaction() as s:
            tickets.due_soon(s, NOW - timedelta(hours=i), timedelta(hours=24))

    def by_caller(i: int) -> None:
        with database.transaction() as s:
            tickets.for_caller(s, callers[i % len(callers)])

    return {"monthly_kpi_report": timed(monthly, repeat), "due_soon": timed(due_soon, repeat), "tickets_by_caller": timed(by_caller, repeat)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--backends", default="postgresql,sqlite")
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--pg-url", help="an empty PostgreSQL database to use instead of starting one")
    args = parser.parse_args()
    results: dict[str, object] = {
        "rows": args.rows,
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, {__import__('os').cpu_count()} cores, Python {platform.python_version()}",
    }
    server = None
    try:
        for backend in args.backends.split(","):
            if backend == "postgresql":
                url = args.pg_url
                if url is None:
                    sys.path.insert(0, str(ROOT))
                    from tests.pgserver import PostgresServer

                    server = PostgresServer()
                    server.start()
                    url = server.createdb("bench")
                database, load_s = load_postgresql(url, args.rows)
                with database.transaction() as s:
                    results["postgresql_version"] = s.execute(text("SHOW server_version")).scalar_one()
            else:
                tmp = Path(tempfile.mkdtemp(prefix="hotline-bench-"))
                database, load_s = load_sqlite(tmp / "bench.db", args.rows)
                results["sqlite_version"] = sqlite3.sqlite_version
            figures = measure(database, args.repeat)
            results[backend] = {"load_seconds": round(load_s, 1), **{k: {m: round(v, 1) for m, v in f.items()} for k, f in figures.items()}}
            database.dispose()
            print(f"{backend}: loaded {args.rows:,} tickets in {load_s:.1f} s", flush=True)
    finally:
        if server is not None:
            server.stop()
    print(f"\n{'query':<22}" + "".join(f"{b + ' median/p95 ms':>30}" for b in args.backends.split(",")))
    for query in ("monthly_kpi_report", "due_soon", "tickets_by_caller"):
        cells = "".join(f"{results[b][query]['median_ms']:>20.1f} / {results[b][query]['p95_ms']:<7.1f}" for b in args.backends.split(","))
        print(f"{query:<22}{cells}")
    if "postgresql" in results:
        worst = max(results["postgresql"][q]["p95_ms"] for q in ("monthly_kpi_report", "due_soon", "tickets_by_caller"))
        print(f"\nPostgreSQL target: every query under 200 ms at 1 M tickets — worst p95 {worst:.1f} ms: {'met' if worst < 200 else 'NOT met'}")
    out = ROOT / "bench" / "out"
    out.mkdir(exist_ok=True)
    (out / "tickets_1m.json").write_text(json.dumps(results, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
