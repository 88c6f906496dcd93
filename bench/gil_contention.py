"""How much a database thread in the reactor's process delays the reactor, and how much the
same database work in a process of its own does.

Why this exists: after the call log was batched, `hotline serve`'s p99 command turnaround at
500 held calls was still several milliseconds while our FastAGI layer alone stayed near
panoramisk's. This isolates the cause. A loop like the reactor's (one thread, `select` on a
socket) receives a timestamp every 2 ms from another process and records how late each one
is handled, while call-log batches (`hotline.calllog.records`, SQLAlchemy, SQLite, the shape the IVR
writes) are written at a fixed pace:

- **none**: no database work at all (the floor: scheduling, loopback);
- **thread**: in a thread of the same process, as the service's `DatabasePool` does;
- **process**: in a child process, the same work and pace;
- **threadxN**, **processxN**: the same, N calls' batches in one transaction (the call-log
  writer's cross-call batching: one transaction per N/pace seconds).

    .venv/bin/python bench/gil_contention.py [--seconds 8] [--rounds 2] [--batches-per-s 30] [--variants none,thread,threadx8,process]

Prints p50 / p99 / max lateness per variant, and the host's steal time during each run (on a
shared VM a run with much steal is not a measurement).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import selectors
import socket
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def steal_ticks() -> tuple[int, int]:
    with open("/proc/stat", encoding="ascii") as fh:
        values = [int(x) for x in fh.readline().split()[1:9]]
    return values[7], sum(values)


def write_batches(url: str, per_second: float, stop: object, per_transaction: int = 1) -> None:
    """Call-log batches as the IVR submits them (start, answer, three steps), paced;
    `per_transaction` calls' batches share one transaction (the writer's cross-call batching)."""
    from hotline.calllog import records as calls
    from hotline.storage.db import Database

    database = Database.from_url(url)
    period = per_transaction / per_second
    index = 0
    next_at = time.monotonic()
    while not stop.is_set():  # type: ignore[attr-defined]
        uniqueids = [f"{os.getpid()}.{index + k}" for k in range(per_transaction)]
        index += per_transaction
        now = datetime.now(UTC)

        def work(session: object) -> None:
            for uniqueid in uniqueids:
                calls.start_call(session, uniqueid=uniqueid, at=now, caller_number="13812345678", dnid="12319", op_id=uuid.uuid4().hex)  # type: ignore[arg-type]
                calls.mark_answered(session, uniqueid=uniqueid, at=now, op_id=uuid.uuid4().hex)  # type: ignore[arg-type]
                for step in range(3):
                    calls.add_event(session, uniqueid=uniqueid, kind="key", detail={"node": "main", "step": step}, at=now, op_id=uuid.uuid4().hex)  # type: ignore[arg-type]

        database.run(work)
        next_at += period
        time.sleep(max(0.0, next_at - time.monotonic()))
    database.dispose()


def ping(address: socket.socket, every: float, seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        time.sleep(every)
        address.send(f"{time.perf_counter()}\n".encode())


def measure(variant: str, url: str, seconds: float, per_second: float) -> dict[str, float]:
    ours, theirs = socket.socketpair()
    context = multiprocessing.get_context("fork")
    pinger = context.Process(target=ping, args=(theirs, 0.002, seconds))
    stop_thread = threading.Event()
    stop_process = context.Event()
    writer: threading.Thread | multiprocessing.process.BaseProcess | None = None
    kind, _, grouped = variant.partition("x")
    per_transaction = int(grouped or 1)
    if kind == "thread":
        writer = threading.Thread(target=write_batches, args=(url, per_second, stop_thread, per_transaction))
    elif kind == "process":
        writer = context.Process(target=write_batches, args=(url, per_second, stop_process, per_transaction))
    if writer is not None:
        writer.start()
    time.sleep(0.5)
    steal0, total0 = steal_ticks()
    pinger.start()
    selector = selectors.DefaultSelector()
    selector.register(ours, selectors.EVENT_READ)
    late: list[float] = []
    buffer = b""
    end = time.monotonic() + seconds + 0.2
    while time.monotonic() < end:
        for _key, _events in selector.select(0.05):
            buffer += ours.recv(65536)
            now = time.perf_counter()
            *lines, buffer = buffer.split(b"\n")
            late.extend((now - float(line)) * 1000 for line in lines)
    steal1, total1 = steal_ticks()
    pinger.join()
    stop_thread.set()
    stop_process.set()
    if writer is not None:
        writer.join()
    ours.close()
    theirs.close()
    late.sort()
    return {
        "n": len(late),
        "p50": late[len(late) // 2],
        "p99": late[int(len(late) * 0.99)],
        "max": late[-1],
        "steal": (steal1 - steal0) / max(1, total1 - total0),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--batches-per-s", type=float, default=30.0, help="call-log batches written per second (500 held calls at 10 calls/s ≈ 30)")
    parser.add_argument("--variants", default="none,thread,process", help="none, thread, process; threadxN / processxN: N calls' batches per transaction")
    args = parser.parse_args()
    from hotline.storage.db import Database
    from hotline.storage.models import Base

    directory = Path(tempfile.mkdtemp(prefix="hotline-gil-"))
    url = f"sqlite:///{directory / 'calls.db'}"
    setup = Database.from_url(url)
    Base.metadata.create_all(setup.engine)
    setup.dispose()
    print(f"{time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores, Python {sys.version.split()[0]}; lateness of a 2 ms ping, {args.batches_per_s:.0f} call-log batches/s")
    print(f"{'database work':<16}{'n':>7}{'p50 ms':>10}{'p99 ms':>10}{'max ms':>10}{'steal':>8}")
    for _ in range(args.rounds):
        for variant in args.variants.split(","):
            r = measure(variant, url, args.seconds, args.batches_per_s)
            print(f"{variant:<16}{r['n']:>7}{r['p50']:>10.3f}{r['p99']:>10.3f}{r['max']:>10.2f}{r['steal'] * 100:>7.0f}%", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
