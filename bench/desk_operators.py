"""200 operators on one desk process: each with its live stream open, loading the console and
changing state, while queue calls pop at their seats. Prints request latency (p50/p95/p99)
and screen-pop delivery latency (from the AMI event leaving Asterisk to the pop arriving on
the operator's stream).

The desk runs in a child process as the desk role runs it (the Klein app on Twisted, the
database pool, an AMI service connected over TCP), against a scripted Asterisk in that child
(hotline.simulator.asterisk, as tests/seat_peer.py sets it up: the lab capture's
QueueAdd/QueuePause replies and call events). The
operators are this process: asyncio, plain HTTP/1.0 sockets, one stream and one request loop
per operator. The child rings a seat that has gone ready every `--ring-every` seconds and
notes when each AgentCalled left (CLOCK_MONOTONIC, shared by both processes); the caller
number carries the call's index, so the pop's arrival is matched to it.

    .venv/bin/python bench/desk_operators.py [--operators 200] [--seconds 30] [--database-url URL]

Writes bench/out/desk_operators.json; copy the figures into bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PASSWORD = "correct-horse-42"
FIRST_EXTENSION = 3000


def token(i: int) -> str:
    """Operator i's session cookie (the child seeds the sessions)."""
    return f"bench-session-{i:03d}-0123456789abcdef"


# -- the desk (child process)


def serve(args: argparse.Namespace) -> None:
    """The desk and the scripted Asterisk; prints the port, rings seats, writes ring times."""
    import threading

    from argon2 import PasswordHasher
    from prometheus_client import CollectorRegistry
    from twisted.internet import reactor
    from twisted.internet.task import LoopingCall
    from twisted.logger import FilteringLogObserver, LogLevel, LogLevelFilterPredicate, globalLogBeginner, textFileLogObserver

    from agent_desk.app import Desk
    from agent_desk.base import DeskContext, DeskSettings
    from hotline.ami.service import start_ami
    from hotline.config import AmiConfig, Config, DeskConfig
    from hotline.metrics import Metrics
    from hotline.storage import db as dbmod
    from hotline.storage.dbpool import DatabasePool
    from hotline.storage.models import DeskSession, Role, User, UserRole, utcnow
    from hotline.tickets.services import TicketPolicy
    from hotline.web.sessions import token_hash
    from hotline.web.site import build_root, make_site
    from tests.seat_peer import seat_asterisk

    globalLogBeginner.beginLoggingTo([FilteringLogObserver(textFileLogObserver(sys.stderr), [LogLevelFilterPredicate(LogLevel.warn)])], redirectStandardIO=False)
    dbmod.upgrade(args.database_url)
    database = dbmod.Database.from_url(args.database_url, pool_size=8)
    hashed = PasswordHasher().hash(PASSWORD)  # one hash for all: seeding 200 argon2 hashes is not what is measured

    def seed(s: Any) -> None:
        now = utcnow()
        for i in range(args.operators):
            user = User(username=f"op{i:03d}", display_name=f"话务员 {i}", password_hash=hashed, extension=str(FIRST_EXTENSION + i))
            user.roles = [UserRole(role=Role.OPERATOR)]
            s.add(user)
            s.flush()
            # Signed in already: 200 argon2 verifications are not what is measured.
            s.add(DeskSession(token_hash=token_hash(token(i)), user_id=user.id, csrf_token=f"csrf-{i}", created_at=now, last_seen_at=now, address="127.0.0.1"))

    database.run(seed)
    pool = DatabasePool(reactor, database, size=8)
    pool.threads.start()
    pool.readers.start()
    simulator = seat_asterisk(reactor)
    listening = reactor.listenTCP(0, simulator.factory(), interface="127.0.0.1")
    ami_config = AmiConfig(enabled=True, host="127.0.0.1", port=listening.getHost().port, username="labuser", password="labsecret")
    metrics = Metrics()
    ami = start_ami(reactor, ami_config, CollectorRegistry(), None)
    config = Config(ami=ami_config, desk=DeskConfig(wrapup_seconds=0))
    policy = TicketPolicy.from_config(config)
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

    def stop_on_stdin() -> None:
        sys.stdin.readline()
        reactor.callFromThread(reactor.stop)

    threading.Thread(target=stop_on_stdin, daemon=True).start()
    print(port.getHost().port, flush=True)
    reactor.run()
    Path(args.rings).write_text(json.dumps({"rings": rings, "server_pop_seconds": desk.pop_latencies}))
    pool.threads.stop()
    pool.readers.stop()


# -- the operators (this process)


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


CSRF = re.compile(r'name="csrf" value="([^"]+)"')


class Operator:
    def __init__(self, port: int, index: int, latencies: list[float], pops: dict[int, float]) -> None:
        self.port, self.index, self.latencies, self.pops = port, index, latencies, pops
        self.cookies: dict[str, str] = {"hotline_desk": token(index)}
        self.csrf = f"csrf-{index}"

    async def timed(self, method: str, path: str, form: dict[str, str] | None = None) -> tuple[int, str]:
        started = time.perf_counter()
        status, _, body = await http(self.port, method, path, self.cookies, form)
        self.latencies.append(time.perf_counter() - started)
        if status >= 400:
            raise RuntimeError(f"{method} {path}: {status}")
        return status, body

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
                self.pops[int(data["caller"][3:])] = arrived
        writer.close()

    async def work(self, stop: asyncio.Event) -> None:
        await self.timed("GET", "/desk/console")
        await self.timed("POST", "/desk/console", {"csrf": self.csrf, "state": "ready"})
        while not stop.is_set():
            await asyncio.sleep(random.uniform(1.0, 3.0))  # an operator's pace, not a measured wait
            await self.timed("GET", "/desk/console")
            if random.random() < 0.2:
                await self.timed("POST", "/desk/console", {"csrf": self.csrf, "state": "pause", "reason": "break"})
                await self.timed("POST", "/desk/console", {"csrf": self.csrf, "state": "ready"})


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))] if ordered else float("nan")


async def run_operators(port: int, args: argparse.Namespace) -> tuple[list[float], dict[int, float]]:
    latencies: list[float] = []
    pops: dict[int, float] = {}
    operators = [Operator(port, i, latencies, pops) for i in range(args.operators)]
    stop = asyncio.Event()
    streams = [asyncio.create_task(o.stream(stop)) for o in operators]
    workers = [asyncio.create_task(o.work(stop)) for o in operators]
    await asyncio.sleep(args.seconds)  # the run's length
    stop.set()
    await asyncio.gather(*workers, return_exceptions=True)
    for task in streams:
        task.cancel()
    await asyncio.gather(*streams, return_exceptions=True)
    return latencies, pops


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--operators", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--ring-every", type=float, default=0.1, help="seconds between calls popped at ready seats")
    parser.add_argument("--database-url", default="", help="default: a fresh SQLite file")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--rings", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args)
        return
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{tmp}/bench.db"
        rings_file = f"{tmp}/rings.json"
        command = [sys.executable, __file__, "--serve", "--operators", str(args.operators), "--ring-every", str(args.ring_every), "--database-url", url, "--rings", rings_file]
        child = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=os.environ | {"PYTHONPATH": str(ROOT)})
        try:
            port = int(child.stdout.readline())  # type: ignore[union-attr]
            latencies, pops = asyncio.run(run_operators(port, args))
        finally:
            child.stdin.write("\n")  # type: ignore[union-attr]
            child.stdin.flush()  # type: ignore[union-attr]
            child.wait(60)
        data = json.loads(Path(rings_file).read_text())
    sent = {int(i): float(t) for i, t in data["rings"]}
    delivered = [pops[i] - sent[i] for i in sent if i in pops]
    result = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "backend": url.split(":", 1)[0],
        "operators": args.operators,
        "seconds": args.seconds,
        "requests": len(latencies),
        "requests_per_second": round(len(latencies) / args.seconds, 1),
        "request_ms": {p: round(percentile(latencies, q) * 1000, 1) for p, q in (("p50", 50), ("p95", 95), ("p99", 99))},
        "pops_sent": len(sent),
        "pops_delivered": len(delivered),
        "pop_ms": {p: round(percentile(delivered, q) * 1000, 1) for p, q in (("p50", 50), ("p95", 95), ("p99", 99))},
        "server_pop_ms_p50": round(statistics.median(data["server_pop_seconds"]) * 1000, 1) if data["server_pop_seconds"] else None,
    }
    print(json.dumps(result, ensure_ascii=False, indent=2))
    out = ROOT / "bench" / "out"
    out.mkdir(exist_ok=True)
    (out / "desk_operators.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
