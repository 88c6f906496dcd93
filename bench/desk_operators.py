"""200 operators on one desk process: each with its live stream open, working tickets and
its seat, while queue calls pop at their seats and the IVR role of the same installation
answers held calls. Prints request latency per kind of request (p50/p95/p99), screen-pop
delivery latency (from the AMI event leaving Asterisk to the pop arriving on the operator's
stream) and the IVR's turnaround in the same run.

Four processes, as the roles run them on one machine: `hotline serve --role ivr` (niceness
0) and the desk (this script's `--serve`: the desk role's Klein app, database pool and AMI
service, niceness 5 as `[roles]` gives it) on ONE database made by `hotline init`; the
simulated Asterisk (hotline.simulator.asterisk, as tests/seat_peer.py sets it up) inside the
desk child (the lab capture's QueueAdd/QueuePause replies and call events); the 200 browsers (this script's `--clients`,
niceness 10: in a real centre they are elsewhere), asyncio over plain HTTP/1.0 sockets; and
bench/ivr_calls.py's call generator holding silent calls on the IVR. Each operator, every
1-3 s (`--pace`; an operator's pace, not a measured wait), does one of: open the console, list tickets
with a filter, open a ticket, open the intake form and file a ticket (taking the duplicate
check's answer as an operator would), or pause and go ready again (two QueuePause round
trips to Asterisk); signing on (the console and going ready) is spread over the first
4 s and reported apart. The child rings a ready seat every `--ring-every` seconds and notes when
each AgentCalled left (CLOCK_MONOTONIC, shared by the processes); the caller number carries
the call's index, so the pop's arrival is matched to it.

    .venv/bin/python bench/desk_operators.py [--operators 200] [--seconds 30] [--database postgresql] [--ivr-calls 200]

Writes bench/out/desk_operators[-postgresql].json; copy the figures into bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import platform
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PASSWORD = "correct-horse-42"
FIRST_EXTENSION = 3000
KINDS = ("console", "list", "ticket", "intake_form", "intake_post", "state")
#: The requests of signing on (console and going ready), in the warm-up: not in the figures
#: of the work, reported on their own.
START = "start"


def token(i: int) -> str:
    """Operator i's session cookie (the child seeds the sessions)."""
    return f"bench-session-{i:03d}-0123456789abcdef"


# -- the desk (child process)


def serve(args: argparse.Namespace) -> None:
    """The desk and the scripted Asterisk; prints the port and what the operators may open,
    rings seats, writes ring times when stdin closes."""
    from argon2 import PasswordHasher
    from prometheus_client import CollectorRegistry
    from sqlalchemy import select
    from twisted.internet import reactor
    from twisted.internet.task import LoopingCall
    from twisted.logger import FilteringLogObserver, LogLevel, LogLevelFilterPredicate, globalLogBeginner, textFileLogObserver

    from agent_desk.app import Desk
    from agent_desk.base import DeskContext, DeskSettings
    from hotline.ami.service import start_ami
    from hotline.config import AmiConfig, Config, DeskConfig
    from hotline.metrics import Metrics
    from hotline.startup import freeze_start_up_objects
    from hotline.storage import db as dbmod
    from hotline.storage.dbpool import DatabasePool
    from hotline.storage.models import Category, DeskSession, Role, Ticket, TicketSource, User, UserRole, utcnow
    from hotline.tickets import services as tickets
    from hotline.tickets.services import SYSTEM, TicketPolicy
    from hotline.web.sessions import token_hash
    from hotline.web.site import build_root, make_site
    from tests.seat_peer import seat_asterisk

    globalLogBeginner.beginLoggingTo([FilteringLogObserver(textFileLogObserver(sys.stderr), [LogLevelFilterPredicate(LogLevel.warn)])], redirectStandardIO=False)
    dbmod.upgrade(args.database_url)
    database = dbmod.Database.from_url(args.database_url, pool_size=8)
    hashed = PasswordHasher().hash(PASSWORD)  # one hash for all: seeding 200 argon2 hashes is not what is measured
    config = Config(desk=DeskConfig(wrapup_seconds=0))
    policy = TicketPolicy.from_config(config)
    rng = random.Random(12319)

    def seed(s: Any) -> dict[str, list[Any]]:
        now = utcnow()
        for i in range(args.operators):
            user = User(username=f"op{i:03d}", display_name=f"话务员 {i}", password_hash=hashed, extension=str(FIRST_EXTENSION + i))
            user.roles = [UserRole(role=Role.OPERATOR)]
            s.add(user)
            s.flush()
            # Signed in already: 200 argon2 verifications are not what is measured.
            s.add(DeskSession(token_hash=token_hash(token(i)), user_id=user.id, csrf_token=f"csrf-{i}", created_at=now, last_seen_at=now, address="127.0.0.1"))
        categories = list(s.scalars(select(Category.id).where(Category.active.is_(True), Category.parent_id.is_not(None))))
        for k in range(args.tickets):
            tickets.open_ticket(
                s,
                policy,
                source=TicketSource.HOTLINE,
                actor=SYSTEM,
                caller_number=f"1370{k:07d}",
                category_id=rng.choice(categories),
                location=f"香港中路{k}号",
                description="路灯不亮",
            )
        numbers = list(s.scalars(select(Ticket.number).order_by(Ticket.id.desc()).limit(500)))
        return {"categories": categories, "tickets": numbers}

    seeded = database.run(seed)
    pool = DatabasePool(reactor, database, size=8)
    # As the desk role starts it (hotline.service): the 0.5 ms GIL switch interval, and the
    # writes drained and the threads stopped at shutdown.
    pool.start()
    simulator = seat_asterisk(reactor)
    listening = reactor.listenTCP(0, simulator.factory(), interface="127.0.0.1")
    ami_config = AmiConfig(enabled=True, host="127.0.0.1", port=listening.getHost().port, username="labuser", password="labsecret")
    config = Config(ami=ami_config, desk=DeskConfig(wrapup_seconds=0))
    ami = start_ami(reactor, ami_config, CollectorRegistry(), None)
    metrics = Metrics()
    desk = Desk(DeskContext(pool=pool, policy=policy, settings=DeskSettings(), metrics=metrics, config=config, ami=ami, reactor=reactor))
    root = build_root(pool, metrics)
    root.putChild(b"desk", desk.app.resource())
    port = reactor.listenTCP(0, make_site(root), interface="127.0.0.1", backlog=1024)
    rings: list[tuple[int, float]] = []
    count = [0]

    def ring() -> None:
        ready = [(q, i) for (q, i), (paused, _) in simulator.members.items() if not paused]
        if not ready:
            return
        count[0] += 1
        queue, interface = random.choice(ready)
        rings.append((count[0], time.monotonic()))
        simulator.ring(interface, f"139{count[0]:08d}", f"-b{count[0]}", queue=queue)

    LoopingCall(ring).start(args.ring_every, now=False)
    # What holds the reactor up: how late a 10 ms timer fires, and the garbage collector's pauses.
    lags: list[float] = []
    due = [time.monotonic() + 0.01]

    def tick() -> None:
        now = time.monotonic()
        lags.append(max(0.0, now - due[0]))
        due[0] = now + 0.01

    pauses: dict[int, list[float]] = {0: [], 1: [], 2: []}
    gc_started = [0.0]

    def collected(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            gc_started[0] = time.perf_counter()
        else:
            pauses[info["generation"]].append(time.perf_counter() - gc_started[0])

    def stop_on_stdin() -> None:
        sys.stdin.readline()
        reactor.callFromThread(reactor.stop)

    threading.Thread(target=stop_on_stdin, daemon=True).start()
    print(json.dumps({"port": port.getHost().port, **seeded}), flush=True)

    def running() -> None:
        # As every role does once running: start-up's objects kept out of the collector's
        # scans (its own full collection is start-up's, not measured); then the measuring.
        freeze_start_up_objects()
        due[0] = time.monotonic() + 0.01
        LoopingCall(tick).start(0.01, now=False)
        gc.callbacks.append(collected)

    reactor.callWhenRunning(running)
    reactor.run()
    Path(args.rings).write_text(json.dumps({"rings": rings, "server_pop_seconds": desk.pop_latencies, "reactor_lag_seconds": lags, "gc_pauses": pauses}))


# -- the operators (the `--clients` child)


async def http(port: int, method: str, path: str, cookies: dict[str, str], form: dict[str, str] | None = None) -> tuple[int, dict[str, str], str]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    body = urlencode(form).encode() if form is not None else b""
    head = [f"{method} {path} HTTP/1.0", "Host: 127.0.0.1"]
    if cookies:
        head.append("Cookie: " + "; ".join(f"{k}={v}" for k, v in cookies.items()))
    if form is not None:
        head += ["Content-Type: application/x-www-form-urlencoded", f"Content-Length: {len(body)}"]
    writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
    raw = await reader.read(-1)
    writer.close()
    header, _, text = raw.partition(b"\r\n\r\n")
    lines = header.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.partition(": ")
        if name.lower() == "set-cookie":
            key, _, rest = value.partition("=")
            cookies[key] = rest.split(";")[0]
        headers[name.lower()] = value
    return status, headers, text.decode("utf-8", "replace")


OFFERED = re.compile(r'name="offered" value="([^"]*)"')
STATUSES = ("", "received", "registered", "dispatched")


class Operator:
    def __init__(self, port: int, index: int, seeded: dict[str, list[Any]], latencies: dict[str, list[float]], pops: dict[int, float], errors: list[str]) -> None:
        self.port, self.index, self.seeded, self.latencies, self.pops, self.errors = port, index, seeded, latencies, pops, errors
        self.cookies: dict[str, str] = {"hotline_desk": token(index)}
        self.csrf = f"csrf-{index}"
        self.filed = 0
        self.pace: tuple[float, float] = seeded["pace"]

    async def timed(self, kind: str, method: str, path: str, form: dict[str, str] | None = None, *, ok: tuple[int, ...] = (200, 303)) -> tuple[int, dict[str, str], str]:
        started = time.perf_counter()
        status, headers, body = await http(self.port, method, path, self.cookies, form)
        self.latencies[kind].append(time.perf_counter() - started)
        if status not in ok:
            self.errors.append(f"{method} {path}: {status}")
        return status, headers, body

    async def stream(self, stop: asyncio.Event) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        cookie = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        writer.write(f"GET /desk/events HTTP/1.0\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\nCookie: {cookie}\r\n\r\n".encode())
        kind = ""
        while not stop.is_set():
            line = await reader.readline()
            if not line:
                break
            if line.startswith(b"event: "):
                kind = line[7:].strip().decode()
            elif line.startswith(b"data: ") and kind == "pop":
                arrived = time.monotonic()
                data = json.loads(line[6:])
                if not data.get("update"):  # an update of a pop (more of its record) is not its arrival
                    self.pops[int(data["caller"][3:])] = arrived
        writer.close()

    async def file_ticket(self) -> None:
        """The intake form, then the ticket; when duplicates are offered, a new case anyway
        with a reason, as an operator does for a different problem at the same place."""
        await self.timed("intake_form", "GET", "/desk/tickets/new")
        self.filed += 1
        form = {
            "csrf": self.csrf,
            "caller": f"138{self.index:04d}{self.filed:04d}",
            "caller_name": "张先生",
            "category": str(random.choice(self.seeded["categories"])),
            "location": f"延安{self.index}路{self.filed}号",
            "description": "路边垃圾堆了三天,影响通行",
            "urgency": "normal",
        }
        status, headers, body = await self.timed("intake_post", "POST", "/desk/tickets/new", form, ok=(303, 409))
        for _ in range(3):  # others may file a nearby case meanwhile: the form offers it too
            if status != 409:
                break
            offered = OFFERED.search(body)
            form |= {"duplicate_reason": "不同问题", "offered": offered.group(1) if offered else ""}
            status, headers, body = await self.timed("intake_post", "POST", "/desk/tickets/new", form, ok=(303, 409))
        if status == 303:
            self.seeded["tickets"].append(headers["location"].rsplit("/", 1)[1])

    async def work(self, stop: asyncio.Event) -> None:
        # Signing on: spread over the warm-up (a shift does not start in one second), and
        # reported apart from the work that follows.
        await asyncio.sleep(random.uniform(0.0, 4.0))
        await self.timed("start", "GET", "/desk/console")
        await self.timed("start", "POST", "/desk/console", {"csrf": self.csrf, "state": "ready"})
        while not stop.is_set():
            await asyncio.sleep(random.uniform(*self.pace))  # an operator's pace, not a measured wait
            if stop.is_set():
                break
            roll = random.random()
            if roll < 0.25:
                await self.timed("console", "GET", "/desk/console")
            elif roll < 0.5:
                query = urlencode({"status": random.choice(STATUSES), "page": random.randint(1, 3)})
                await self.timed("list", "GET", f"/desk/tickets?{query}")
            elif roll < 0.75:
                await self.timed("ticket", "GET", f"/desk/tickets/{random.choice(self.seeded['tickets'])}")
            elif roll < 0.9:
                await self.file_ticket()
            else:
                await self.timed("state", "POST", "/desk/console", {"csrf": self.csrf, "state": "pause", "reason": "break"})
                await self.timed("state", "POST", "/desk/console", {"csrf": self.csrf, "state": "ready"})


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))] if ordered else float("nan")


def clients(args: argparse.Namespace) -> None:
    """The browsers: run until stdin closes, then write what they measured to `--out`."""
    seeded = json.loads(Path(args.seeded).read_text())

    async def run() -> dict[str, Any]:
        latencies: dict[str, list[float]] = {kind: [] for kind in (*KINDS, START)}
        pops: dict[int, float] = {}
        errors: list[str] = []
        operators = [Operator(args.port, i, seeded, latencies, pops, errors) for i in range(args.operators)]
        stop = asyncio.Event()
        streams = [asyncio.create_task(o.stream(stop)) for o in operators]
        workers = [asyncio.create_task(o.work(stop)) for o in operators]
        started = time.monotonic()
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        stop.set()
        seconds = time.monotonic() - started
        await asyncio.gather(*workers, return_exceptions=True)
        for task in streams:
            task.cancel()
        await asyncio.gather(*streams, return_exceptions=True)
        return {"seconds": seconds, "latencies": latencies, "pops": pops, "errors": errors}

    Path(args.out).write_text(json.dumps(asyncio.run(run())))


# -- the run (this process)


def ms(values: list[float]) -> dict[str, float]:
    return {p: round(percentile(values, q) * 1000, 1) for p, q in (("p50", 50), ("p95", 95), ("p99", 99))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--operators", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=30.0, help="the operators' run, at least (it lasts as long as the IVR's calls)")
    parser.add_argument(
        "--pace", type=float, nargs=2, default=(1.0, 3.0), metavar=("MIN", "MAX"), help="seconds between an operator's actions (uniform): 1-3 s is a stress pace, several times an operator's"
    )
    parser.add_argument("--ring-every", type=float, default=0.1, help="seconds between calls popped at ready seats")
    parser.add_argument("--tickets", type=int, default=2000, help="tickets in the database before the run")
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite", help="postgresql: a server of its own (tests/pgserver.py)")
    parser.add_argument("--ivr-calls", type=int, default=200, help="silent calls held on the IVR role meanwhile (bench/ivr_calls.py's held mode; 0: no IVR)")
    from hotline.config import RolesConfig

    parser.add_argument("--desk-nice", type=int, default=RolesConfig().desk_nice, help="the desk's niceness (default: the desk role's, roles.desk_nice)")
    parser.add_argument("--ivr-options", default="", help="diagnosis: the IVR role through bench/ivr_calls.py's child wrapper with these options (JSON, e.g. '{\"skip_calllog\": true}')")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--clients", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--database-url", default="", help=argparse.SUPPRESS)
    parser.add_argument("--rings", default="", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--seeded", default="", help=argparse.SUPPRESS)
    parser.add_argument("--out", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args)
        return
    if args.clients:
        clients(args)
        return

    import ivr_calls  # bench/ivr_calls.py: its installation, IVR server and call generator

    tmp = Path(tempfile.mkdtemp(prefix="hotline-desk-bench-"))
    pg = None
    desk: subprocess.Popen[str] | None = None
    browsers: subprocess.Popen[str] | None = None
    ivr: Any = None
    ivr_row: dict[str, Any] | None = None
    try:
        if args.database == "postgresql":
            from tests.pgserver import PostgresServer

            pg = PostgresServer()
            pg.start()
        setup = ivr_calls.Setup(tmp, pg)
        setup.prepare()
        db = setup.database("desk-operators")
        url = db if isinstance(db, str) else f"sqlite:///{db}"
        rings_file, seeded_file, out_file = tmp / "rings.json", tmp / "seeded.json", tmp / "clients.json"
        env = os.environ | {"PYTHONPATH": str(ROOT)}
        command = [
            "nice",
            "-n",
            str(args.desk_nice),
            sys.executable,
            __file__,
            "--serve",
            "--operators",
            str(args.operators),
            "--tickets",
            str(args.tickets),
            "--ring-every",
            str(args.ring_every),
            "--database-url",
            url,
            "--rings",
            str(rings_file),
        ]
        desk = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
        ready = json.loads(desk.stdout.readline())  # type: ignore[union-attr]
        seeded_file.write_text(json.dumps({"categories": ready["categories"], "tickets": ready["tickets"], "pace": args.pace}))
        if args.ivr_calls:
            ivr, ctx = ivr_calls.start_hotline(setup, "ivr", db=db, options=json.loads(args.ivr_options) if args.ivr_options else None)
            ivr_calls.run_load(ctx, name="warm-up", n=20, mode="burst", paths="silent", pace=ivr_calls.Pace(), procs=1, tickets=setup.tickets)
        command = ["nice", "-n", "10", sys.executable, __file__, "--clients", "--operators", str(args.operators), "--port", str(ready["port"]), "--seeded", str(seeded_file), "--out", str(out_file)]
        browsers = subprocess.Popen(command, stdin=subprocess.PIPE, text=True, env=env)
        started = time.monotonic()
        time.sleep(5)  # every stream open and every seat ready before the IVR's calls
        if args.ivr_calls:
            held = ivr_calls.Pace(prompt_ms=1000, press_ms=400, keying_ms=1500, waits=True, hold=True)
            ivr_row = ivr_calls.run_load(ctx, name="IVR held, desk busy", n=args.ivr_calls, mode="held", paths="silent", pace=held, procs=1, tickets=setup.tickets, rate=10.0, steady=100)
        time.sleep(max(0.0, args.seconds - (time.monotonic() - started)))  # the run's length
        browsers.communicate("\n", timeout=120)
        desk.communicate("\n", timeout=60)
        measured = json.loads(out_file.read_text())
        data = json.loads(rings_file.read_text())
    finally:
        for child in (browsers, desk):
            if child is not None and child.poll() is None:
                child.kill()
                child.wait(10)
        if ivr is not None:
            ivr.stop()
        if pg is not None:
            pg.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    pops = {int(k): v for k, v in measured["pops"].items()}
    sent = {int(i): float(t) for i, t in data["rings"]}
    delivered = [pops[i] - sent[i] for i in sent if i in pops]
    latencies: dict[str, list[float]] = measured["latencies"]
    every = [x for kind, values in latencies.items() if kind != START for x in values]
    seconds = measured["seconds"]
    result: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "load_average_at_end": ivr_calls.load_average(),
        "backend": args.database,
        "operators": args.operators,
        "pace_seconds": list(args.pace),
        "tickets_before": args.tickets,
        "seconds": round(seconds, 1),
        "requests": len(every),
        "requests_per_second": round(len(every) / seconds, 1),
        "request_ms": ms(every),
        "request_ms_by_kind": {kind: {"n": len(values), **ms(values)} for kind, values in latencies.items()},
        "errors": len(measured["errors"]),
        "first_errors": measured["errors"][:5],
        "pops_sent": len(sent),
        "pops_delivered": len(delivered),
        "pop_ms": ms(delivered),
        "server_pop_ms_p50": round(statistics.median(data["server_pop_seconds"]) * 1000, 1) if data["server_pop_seconds"] else None,
        "server_pop_ms": ms(data["server_pop_seconds"]),
        "reactor_lag_ms": ms(data["reactor_lag_seconds"]) | {"max": round(max(data["reactor_lag_seconds"], default=0.0) * 1000, 1)},
        "gc_pauses": {f"gen{g}": {"n": len(v), "max_ms": round(max(v, default=0.0) * 1000, 1), "total_ms": round(sum(v) * 1000, 1)} for g, v in data["gc_pauses"].items()},
    }
    if ivr_row is not None:
        result["ivr"] = {
            "calls": ivr_row["n"],
            "completed": ivr_row["calls_completed"],
            "turnaround_ms": ivr_row["turnaround_ms"],
            "turnaround_socket_ms": ivr_row.get("turnaround_socket_ms"),
            "turnaround_socket_at_90pct_open_ms": ivr_row.get("turnaround_socket_at_90pct_open_ms"),
            "server_cpu_ms_per_call": ivr_row.get("server_cpu_ms_per_call"),
        }
    print(json.dumps(result, ensure_ascii=False, indent=2))
    out = ROOT / "bench" / "out"
    out.mkdir(exist_ok=True)
    (out / f"desk_operators{'-postgresql' if args.database == 'postgresql' else ''}.json").write_text(json.dumps(result, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
