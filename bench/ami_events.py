"""AMI events parsed and applied per second on one core: the captured queue calls, replayed.

The stream is the lab capture's two queue calls (one answered, one abandoned, every event
including the VarSet/Newexten noise), multiplied with distinct uniqueids, linkedids and bridge
ids and interleaved `--concurrent` calls at a time, cut into `--chunk`-byte reads. Measured,
best of `--repeat`, in one process pinned to one core:

- our codec alone (`AmiDecoder.feed`);
- codec + live model (`LiveModel.apply`);
- codec + live model + call log (`QueueCallLog` with an in-memory writer) — the target,
  ≥ 50,000 events/s;
- baselines in the same run: pyst2-style parsing (line by line from a file object into a dict,
  as `asterisk.manager` does) and, when installed, panoramisk 1.4's parser (its
  `data_received` split plus `Message.from_line`).

    .venv/bin/python bench/ami_events.py [--calls 4000] [--concurrent 20] [--chunk 4096] [--repeat 5]

Prints a table and writes bench/out/ami_events.json; copy the figures into bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hotline.ami.codec import AmiDecoder, Event
from hotline.ami.live import LiveModel
from hotline.calllog.queue_events import QueueCallLog
from hotline.simulator import ami as ami_peer

TARGET = 50_000


class MemoryWriter:
    """The call-log writer interface, appending to a list."""

    def __init__(self) -> None:
        self.operations: list[tuple[str, dict[str, Any]]] = []

    def submit(self, operation: str, arguments: dict[str, Any]) -> None:
        self.operations.append((operation, arguments))


class FixedClock:
    def __init__(self, now: float) -> None:
        self.now = now

    def seconds(self) -> float:
        return self.now


def build_stream(calls: int, concurrent: int) -> tuple[bytes, int, int]:
    """Bytes of `calls` captured calls (alternately answered and abandoned), interleaved."""
    answered = list(ami_peer.CALL_ANSWERED)
    abandoned = list(ami_peer.CALL_WAITING) + list(ami_peer.CALL_ABANDONED)
    frames: list[bytes] = []
    answered_count = 0
    for group in range(0, calls, concurrent):
        lists = []
        for index in range(group, min(group + concurrent, calls)):
            template = answered if index % 2 == 0 else abandoned
            answered_count += index % 2 == 0
            lists.append(ami_peer.renumber(template, f"-{index}"))
        for position in range(max(len(x) for x in lists)):
            for frames_of_call in lists:
                if position < len(frames_of_call):
                    frames.append(frames_of_call[position])
    return b"".join(frames), len(frames), answered_count


def chunks(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def run_ours(reads: list[bytes], with_model: bool, with_call_log: bool) -> tuple[int, float, Any]:
    decoder = AmiDecoder(expect_banner=False)
    model = LiveModel(FixedClock(1795235026.0))
    writer = MemoryWriter()
    if with_call_log:
        model.subscribe(QueueCallLog(writer, recordings_dir="/var/spool/asterisk/monitor/hotline"))
    apply = model.apply
    count = 0
    started = time.perf_counter()
    for data in reads:
        for frame in decoder.feed(data):
            if type(frame) is Event:
                count += 1
                if with_model:
                    apply(frame)
    elapsed = time.perf_counter() - started
    return count, elapsed, (model, writer, decoder)


def run_pyst2_style(reads: list[bytes]) -> tuple[int, float, Any]:
    """asterisk.manager reads the socket file line by line and fills a dict per message."""
    data = b"".join(reads)
    count = 0
    started = time.perf_counter()
    lines = io.BytesIO(data)
    message: dict[str, str] = {}
    for raw in lines:
        line = raw.decode("utf-8", "replace")
        if line == "\r\n":
            if message:
                count += 1
                message = {}
            continue
        if ":" in line:
            key, value = line.split(":", 1)
            message[key.strip()] = value.strip()
    elapsed = time.perf_counter() - started
    return count, elapsed, None


def panoramisk_runner() -> Callable[[list[bytes]], tuple[int, float, Any]] | None:
    try:
        from panoramisk.message import Message  # only here, only for the baseline
    except ImportError:
        return None

    def run(reads: list[bytes]) -> tuple[int, float, Any]:
        count = 0
        queue: list[str] = []
        started = time.perf_counter()
        for chunk in reads:  # panoramisk's AMIProtocol.data_received, minus logging
            data = chunk.decode("ascii", "ignore")
            if queue:
                data = queue.pop() + data
            blocks = data.split("\r\n\r\n")
            queue.append(blocks.pop(-1))
            for block in blocks:
                message = Message.from_line(block.strip())
                if message is not None:
                    count += 1
        elapsed = time.perf_counter() - started
        return count, elapsed, None

    return run


def best(runner: Callable[[], tuple[int, float, Any]], repeat: int) -> tuple[float, int, Any]:
    rates, last = [], None
    count = 0
    for _ in range(repeat):
        count, elapsed, last = runner()
        rates.append(count / elapsed)
    return max(rates), count, last


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=4000)
    parser.add_argument("--concurrent", type=int, default=20)
    parser.add_argument("--chunk", type=int, default=4096)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    data, events, answered = build_stream(args.calls, args.concurrent)
    reads = chunks(data, args.chunk)
    print(f"stream: {args.calls} calls ({answered} answered), {events:,} events, {len(data) / 1e6:.1f} MB, {len(reads):,} reads of {args.chunk} B", flush=True)

    results: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.processor() or platform.platform()}",
        "python": platform.python_version(),
        "calls": args.calls,
        "concurrent": args.concurrent,
        "events": events,
        "bytes": len(data),
        "chunk": args.chunk,
        "repeat": args.repeat,
        "events_per_second": {},
    }
    rows: list[tuple[str, float]] = []
    candidates: list[tuple[str, Callable[[], tuple[int, float, Any]]]] = [
        ("baseline: pyst2-style line parsing", lambda: run_pyst2_style(reads)),
    ]
    pano = panoramisk_runner()
    if pano is not None:
        candidates.append(("baseline: panoramisk 1.4 parser", lambda: pano(reads)))
    candidates += [
        ("hotline codec", lambda: run_ours(reads, False, False)),
        ("hotline codec + live model", lambda: run_ours(reads, True, False)),
        ("hotline codec + live model + call log", lambda: run_ours(reads, True, True)),
    ]
    state = None
    for name, runner in candidates:
        rate, count, last = best(runner, args.repeat)
        if count != events:
            print(f"{name}: parsed {count} messages, expected {events}", file=sys.stderr)
            return 1
        rows.append((name, rate))
        results["events_per_second"][name] = round(rate)
        state = last if last is not None else state
        print(f"{name:<42}{rate:>12,.0f} events/s", flush=True)

    model, writer, decoder = state
    operations: dict[str, int] = {}
    for operation, _ in writer.operations:
        operations[operation] = operations.get(operation, 0) + 1
    results["call_log_operations"] = operations
    results["protocol_errors"] = decoder.errors
    results["model_after"] = {
        "channels": len(model.channels),
        "callers_waiting": sum(len(q.callers) for q in model.queues.values()),
        "answered": sum(q.answered for q in model.queues.values()),
        "abandoned": sum(q.abandoned for q in model.queues.values()),
    }
    abandoned = args.calls - answered
    expected = {"queue_joined": args.calls, "queue_answered": answered, "add_event": answered, "queue_abandoned": abandoned, "call_ended": args.calls}
    if operations != expected or decoder.errors or model.channels:
        print(f"replay check failed: operations {operations} (expected {expected}), errors {decoder.errors}, channels left {len(model.channels)}", file=sys.stderr)
        return 1

    full = results["events_per_second"]["hotline codec + live model + call log"]
    baseline = max(v for k, v in results["events_per_second"].items() if k.startswith("baseline"))
    results["target_events_per_second"] = TARGET
    results["target_met"] = full >= TARGET
    results["codec_vs_best_baseline"] = round(results["events_per_second"]["hotline codec"] / baseline, 2)
    print(f"\ncall log: {operations}; protocol errors: {decoder.errors}; channels left: {len(model.channels)}")
    print(f"codec vs best baseline parser: {results['codec_vs_best_baseline']:.2f}x")
    print(f"target: ≥ {TARGET:,} events/s parsed and applied (codec + live model + call log) — {full:,.0f}: {'met' if full >= TARGET else 'NOT met'}")
    out = ROOT / "bench" / "out"
    out.mkdir(exist_ok=True)
    (out / "ami_events.json").write_text(json.dumps(results, indent=2, ensure_ascii=False))
    return 0 if full >= TARGET else 2


if __name__ == "__main__":
    raise SystemExit(main())
