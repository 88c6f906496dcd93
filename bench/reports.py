"""Time each report page over real HTTP on PostgreSQL with 1 M tickets and 1 M call records:
the desk (tests/desk_server.py: the real Klein app, the real pool) serving a database seeded
with bench/tickets_1m.py's tickets (COPY), their intake history (a 受理 event per ticket and the
立案 / 不予立案 / 直接答复 that decided it, by 40 operators: what the per-operator grouping
reads) and a call history of the same span (COPY).

    .venv/bin/python bench/reports.py [--tickets 1000000] [--calls 1000000] [--repeat 20] [--pg-url URL]

Starts its own throwaway PostgreSQL (tests/pgserver.py) unless --pg-url names a database
already seeded by this script (then nothing is loaded). Every page is measured: the summary
for each grouping (department, minor and major category, intake operator) and each period
kind (day, ISO week, month, custom ranges of 7 to 31 days, and a custom quarter), the trend
for each period kind, and the CSV export. Each is fetched once to warm up, then `--repeat`
times with varying periods; p50 and p95 are printed against the 200 ms target and written to
bench/out/reports.json. `--calls` defaults to the ticket count.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import random
import statistics
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import tickets_1m
from sqlalchemy import insert, text

from hotline.reports import report
from hotline.startup import freeze_start_up_objects
from hotline.storage.db import Database
from hotline.storage.models import Role, User
from hotline.tickets import kpi
from hotline.users import create_user
from tests.desk_server import PASSWORD, Client, running_desk

TARGET_MS = 200.0
#: Operators who take tickets in; a hotline ticket is taken in by one of them.
OPERATORS = 40
CALL_COLUMNS = [
    "id",
    "uniqueid",
    "linkedid",
    "direction",
    "channel",
    "caller_number",
    "caller_name",
    "dnid",
    "started_at",
    "answered_at",
    "ended_at",
    "disposition",
    "queue",
    "agent_interface",
    "queued_at",
    "wait_seconds",
    "talk_seconds",
    "recording_path",
    "queue_result",
    "facts",
]
DISPOSITIONS = ["answered"] * 86 + ["abandoned"] * 7 + ["voicemail"] * 2 + ["callback_requested"] * 1 + ["timed_out"] * 1 + ["self_service"] * 3


def generate_calls(rows: int, seed: int = 12319):
    """Inbound calls spread over the tickets' four years: most answered by one of 40 seats,
    some abandoned, a few left a message or used the menu only; waits and talk times with
    the usual long tails."""
    rnd = random.Random(seed)
    start = tickets_1m.NOW - timedelta(days=tickets_1m.SPAN_DAYS)
    step = tickets_1m.SPAN_DAYS * 86400 / rows
    for i in range(rows):
        started = start + timedelta(seconds=i * step + rnd.random() * step)
        disposition = rnd.choice(DISPOSITIONS)
        queue = "" if disposition == "self_service" else ("emergency" if rnd.random() < 0.1 else "general")
        queued = started + timedelta(seconds=rnd.randint(5, 40)) if queue else None
        wait = int(rnd.expovariate(1 / 12)) if queue else None
        answered = ended = None
        talk = None
        agent = ""
        if disposition == "answered":
            answered = queued + timedelta(seconds=wait)
            talk = int(rnd.expovariate(1 / 300))
            ended = answered + timedelta(seconds=talk)
            agent = f"PJSIP/10{rnd.randrange(40):02d}"
        else:
            ended = (queued or started) + timedelta(seconds=(wait or 0) + 1)
        uniqueid = f"{1700000000 + i}.{i % 1000}"
        yield (
            i + 1,
            uniqueid,
            uniqueid,
            "in",
            f"PJSIP/trunk-{i:08x}",
            f"+86138{rnd.randrange(10**8):08d}",
            "",
            "12319",
            started,
            answered,
            ended,
            disposition,
            queue,
            agent,
            queued,
            wait,
            talk,
            "",
            "answered" if answered else ("abandoned" if disposition == "abandoned" else ""),
            "{}",
        )


def load_calls(url: str, rows: int) -> float:
    import psycopg

    started = time.perf_counter()
    raw = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(raw) as conn, conn.cursor() as cur:
        with cur.copy(f"COPY calls ({', '.join(CALL_COLUMNS)}) FROM STDIN") as copy:
            for row in generate_calls(rows):
                copy.write_row(row)
        cur.execute("SELECT setval(pg_get_serial_sequence('calls', 'id'), (SELECT max(id) FROM calls))")
        conn.commit()
        conn.autocommit = True
        cur.execute("VACUUM ANALYZE calls")
    return time.perf_counter() - started


def load_intake(database: Database, url: str) -> float:
    """The intake history the per-operator figures read: `OPERATORS` desk users; per ticket a
    受理 (receive) event, by an operator for hotline tickets and by the channel otherwise, and
    for a decided ticket the 立案 / 不予立案 / 直接答复 event, by the same operator for a hotline
    ticket and by one of them for the others. Later moves (dispatch … close) are left out: the
    grouping stops at the first intake move, so they would only make the table larger."""
    import psycopg

    def users(s):
        s.execute(insert(User), [{"username": f"op{i:02d}", "display_name": f"话务员{i:02d}", "password_hash": "-"} for i in range(OPERATORS)])

    database.run(users)
    started = time.perf_counter()
    raw = url.replace("postgresql+psycopg://", "postgresql://")
    operator = f"(SELECT id FROM users WHERE username = 'op' || lpad((t.id % {OPERATORS})::text, 2, '0'))"
    with psycopg.connect(raw) as conn, conn.cursor() as cur:
        cur.execute(
            "INSERT INTO ticket_events (ticket_id, seq, at, action, from_status, to_status, actor_user_id, actor, note, data) "
            f"SELECT t.id, 1, t.created_at, 'receive', NULL, 'received', CASE WHEN t.source = 'hotline' THEN {operator} END, "
            "CASE WHEN t.source = 'hotline' THEN '' ELSE t.source END, '', '{}'::json FROM tickets t"
        )
        cur.execute(
            "INSERT INTO ticket_events (ticket_id, seq, at, action, from_status, to_status, actor_user_id, actor, note, data) "
            "SELECT t.id, 2, COALESCE(t.registered_at, t.created_at + interval '10 minutes'), "
            "CASE WHEN t.status = 'rejected' THEN 'reject' WHEN t.status = 'answered' THEN 'answer' ELSE 'register' END, 'received', "
            f"CASE WHEN t.status IN ('rejected', 'answered') THEN t.status ELSE 'registered' END, {operator}, '', '', '{{}}'::json "
            "FROM tickets t WHERE t.registered_at IS NOT NULL OR t.status IN ('rejected', 'answered')"
        )
        conn.commit()
        conn.autocommit = True
        cur.execute("VACUUM ANALYZE ticket_events")
        # The intake moves' trigger (migration 0015) wrote each ticket's intake_user_id.
        cur.execute("VACUUM ANALYZE tickets")
    return time.perf_counter() - started


def pages() -> dict[str, list[str]]:
    """Each report page with the variations the repeats cycle through: the summary for every
    grouping and period kind, the trend for every period kind, the CSV export."""
    months = [date(2026, m, 15) for m in range(1, 11)] + [date(2025, m, 15) for m in range(1, 13)]
    weeks = [date(2026, 10, 1) - timedelta(weeks=k) for k in range(20)]
    days = [date(2026, 11, 19) - timedelta(days=k * 3) for k in range(20)]
    # Custom ranges of 7 to 31 days starting on varying days, and calendar-free quarters.
    ranges = [(date(2026, 10, 20) - timedelta(days=17 * k), 7 + 3 * (k % 9)) for k in range(20)]
    quarters = [(date(2026, 8, 1) - timedelta(days=45 * k), 92) for k in range(10)]
    kinds: dict[str, list[dict[str, str]]] = {
        "month": [{"period": "month", "date": d.isoformat()} for d in months],
        "week": [{"period": "week", "date": d.isoformat()} for d in weeks],
        "day": [{"period": "day", "date": d.isoformat()} for d in days],
        "custom 7-31 d": [{"period": "custom", "start": s.isoformat(), "end": (s + timedelta(days=n - 1)).isoformat()} for s, n in ranges],
        "custom 92 d": [{"period": "custom", "start": s.isoformat(), "end": (s + timedelta(days=n - 1)).isoformat()} for s, n in quarters],
    }

    def q(path: str, **args: str) -> str:
        return f"/desk{path}?{urlencode(args)}"

    out: dict[str, list[str]] = {}
    for by in kpi.GROUPINGS:
        for kind, variants in kinds.items():
            out[f"summary, {kind}, by {by}"] = [q("/reports", **v, by=by) for v in variants]
    for kind, variants in kinds.items():
        out[f"trend, {kind}"] = [q("/reports/trend", **v) for v in variants]
    for by in ("department", "operator"):
        out[f"export CSV, month, by {by}"] = [q("/reports/export", **v, by=by, table="tickets", format="csv") for v in kinds["month"]]
    out["wallboard JSON"] = ["/desk/wallboard/data"]
    return out


def fetch(client: Client, path: str) -> float:
    conn = http.client.HTTPConnection("127.0.0.1", client.port, timeout=60)
    headers = {"cookie": "; ".join(f"{k}={v}" for k, v in client.jar.items())}
    started = time.perf_counter()
    conn.request("GET", path, headers=headers)
    response = conn.getresponse()
    response.read()
    elapsed = (time.perf_counter() - started) * 1000
    conn.close()
    if response.status != 200:
        raise RuntimeError(f"{path}: HTTP {response.status}")
    return elapsed


def measure(database: Database, repeat: int) -> dict[str, dict[str, float]]:
    def account(s):
        if not s.execute(text("SELECT 1 FROM users WHERE username = 'bench'")).first():
            create_user(s, "bench", PASSWORD, [Role.SUPERVISOR], display_name="bench")

    database.run(account)
    # "now" is the seed's: the figures and the wallboard see the data as of the day it ends.
    with running_desk(database, now=lambda: tickets_1m.NOW) as port:
        # As the desk role starts (hotline/service.py): the report statements built, then what
        # start-up made kept out of the garbage collector's scans.
        kpi.build_statements(report.TREND_DAYS)
        freeze_start_up_objects()
        client = Client(port)
        assert client.login("bench").status == 303
        results = {}
        for name, paths in pages().items():
            fetch(client, paths[0])
            samples = sorted(fetch(client, paths[i % len(paths)]) for i in range(repeat))
            results[name] = {"p50_ms": statistics.median(samples), "p95_ms": samples[min(len(samples) - 1, int(len(samples) * 0.95))], "max_ms": samples[-1]}
            print(f"  {name:<44} p50 {results[name]['p50_ms']:7.1f}  p95 {results[name]['p95_ms']:7.1f} ms", flush=True)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", "--rows", dest="rows", type=int, default=1_000_000)
    parser.add_argument("--calls", type=int, help="call records to load (default: as many as tickets)")
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--pg-url", help="a database this script seeded before (nothing is loaded)")
    args = parser.parse_args()
    args.calls = args.rows if args.calls is None else args.calls
    out: dict[str, object] = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "rows": args.rows,
        "calls": args.calls,
    }
    server = None
    try:
        url = args.pg_url
        if url is None:
            from tests.pgserver import PostgresServer

            server = PostgresServer()
            server.start()
            url = server.createdb("bench_reports")
            database, load_s = tickets_1m.load_postgresql(url, args.rows)
            intake_s = load_intake(database, url)
            calls_s = load_calls(url, args.calls)
            out |= {"load_tickets_seconds": round(load_s, 1), "load_intake_seconds": round(intake_s, 1), "load_calls_seconds": round(calls_s, 1)}
            print(f"loaded {args.rows:,} tickets in {load_s:.1f} s, their intake history in {intake_s:.1f} s and {args.calls:,} calls in {calls_s:.1f} s", flush=True)
        else:
            database = Database.from_url(url, pool_size=2)
        with database.transaction() as s:
            out["postgresql_version"] = s.execute(text("SHOW server_version")).scalar_one()
        load_before = os.getloadavg()[0]
        figures = measure(database, args.repeat)
        # The machine is shared: the load says how much the figures are inflated.
        out["load_average"] = {"before": round(load_before, 1), "after": round(os.getloadavg()[0], 1)}
        print(f"load average (1 min) before {load_before:.1f}, after {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        database.dispose()
    finally:
        if server is not None:
            server.stop()
    out["pages"] = {k: {m: round(v, 1) for m, v in f.items()} for k, f in figures.items()}
    worst = max(f["p95_ms"] for f in figures.values())
    print(f"\nPostgreSQL target: each report page under {TARGET_MS:.0f} ms p95 at {args.rows:,} tickets — worst p95 {worst:.1f} ms: {'met' if worst < TARGET_MS else 'NOT met'}")
    for name, f in figures.items():
        if f["p95_ms"] >= TARGET_MS:
            print(f"  over target: {name} (p95 {f['p95_ms']:.1f} ms)")
    (ROOT / "bench" / "out").mkdir(exist_ok=True)
    (ROOT / "bench" / "out" / "reports.json").write_text(json.dumps(out, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
