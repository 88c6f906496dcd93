"""100, 500 and 1,000 simultaneous scripted calls through the whole 12319 menu over FastAGI,
next to the classic AGI script spawned per call and panoramisk 1.4's FastAGI server.

Every party is its own process and talks over loopback only:

- **the server**: `hotline serve` itself (`python -m hotline -c <tmp>/hotline.toml serve`) on
  a SQLite database made by `hotline init --no-input`, with a few tickets to ask about; a fresh
  server on a fresh copy of that database per N, so CPU (utime + stime) and VmRSS are read
  from /proc/<pid> of that process alone;
- **the load generator**: `--procs` asyncio processes playing Asterisk 22's side of FastAGI:
  the header block of `hotline/simulator/agi.py`, replies as res_agi writes them
  (tests/fixtures/asterisk/README.md), one command in flight, one more `HANGUP` when the
  server closes; Queue() answered as by an agent who talked and hung up (`200 result=-1`);
- **baselines, same run, same generator**: our FastAGI layer alone (`hotline.agi.fastagi.listen`
  with a handler sending the silent caller's commands: no runner, no call log, no database),
  panoramisk 1.4's `fast_agi.Application` sending the same command lines, and the classic
  script `agi_scripts/hotline-agi` spawned per call with the generator on its stdin/stdout
  (started through its shebang, as Asterisk does, on its own copy of the database).

Callers take the default menu (`ivr/menus/default.toml`): 50 % silent → general queue; 30 %
press 1 during the main menu, key in a ticket number and `#`, hear its status, stay silent
→ goodbye (the IVR hangs up); 20 % press 2 → emergency queue.

Modes, for each N:

- **held**: calls start at `--held-rate` a second (default 10, about a quarter of what the
  service sustains) and run at Asterisk's pace (a prompt plays `--prompt-ms`, a key comes
  `--press-ms` into it, keying a number takes `--keying-ms`, a silent wait lasts its timeout);
  each call is then held where it waits longest — in Queue() or at "press 1 to hear it
  again" — so the open sessions pile up to N. Then a steady phase: `--steady-calls` more
  calls come at the same rate, and each one that starts lets an agent take the longest-held
  caller (released), so N calls stay open while calls come and go. With all calls held or
  done, the server's RSS is read (RSS per open session = (RSS then − idle RSS) / held, on a
  server's first held run only), then the held are released at 4× the start rate. The
  per-command turnaround of this mode is the one the target speaks of; `at ≥ 90 % open`
  keeps the samples taken while at least 0.9 N sessions were open (the last tenth of the
  pile-up and the whole steady phase: ~4,000 commands at N = 500).
- **burst**: N calls started together, every command answered at once: call set-up rate
  (calls completed per second), time to the first command, CPU per call. Its turnaround is
  a set-up storm (queueing), reported but not the target's.
- **ramp**: the same, started evenly over `--ramp` s.

Turnaround = our reply written → the server's next command line in, two ways: **at the
socket**, when the kernel queued it on the generator's socket (SO_TIMESTAMPNS receive
timestamps; what Asterisk, a thread blocked in read() per channel, would see), and **as the
loop saw it**, when the generator's one asyncio loop got round to it (that adds the loop's
own lag, reported as `lag p99`: one Python thread plays 500 Asterisk channels). The target
is judged at the socket; both are printed and stored.
CPU per call counts until the server is idle again (the call log's writes included).

    .venv/bin/python bench/ivr_calls.py [--calls 100,500,1000] [--procs 1] [--profile 500]

`--diagnose N` repeats the held and burst runs at N with one thing changed or recorded each:
GC pauses recorded; the database pool at 1 thread; the GIL switch interval at 0.1 ms instead
of the service's 0.5 ms; gc.freeze() after start-up; and, as a counterfactual for diagnosis
only, every call-log write skipped (a bench-only patch in the server process, see
`child_serve`); and the call log on the pool's writer thread in the ivr process, as before
its writer process. `--variants` picks some of them by label.
`--profile N` runs bursts of N calls under cProfile (every thread; CPU time and wall time;
`hotline serve` and our FastAGI layer alone) and writes bench/out/ivr_calls_profile_*.txt. Prints a table and writes
bench/out/ivr_calls.json; copy the figures into bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import multiprocessing
import os
import platform
import resource
import shutil
import signal
import socket
import sqlite3
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import deque
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from multiprocessing.connection import Connection
from multiprocessing.connection import wait as wait_connections
from pathlib import Path
from typing import Any, cast

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hotline.simulator.agi import AST_ENVIRONMENT, AsteriskPeer, parse_args

HOST = "127.0.0.1"
SCRIPT = ROOT / "agi_scripts" / "hotline-agi"
OUT = ROOT / "bench" / "out"
CLK_TCK = os.sysconf("SC_CLK_TCK")
TICKETS = 20
#: (path, weight): 5 silent, 3 status, 2 emergency of every 10 calls.
MIX = (("silent", 5), ("status", 3), ("emergency", 2))
EXPECTED_OUTCOME = {"silent": "queue:hotline-general", "status": "status", "emergency": "queue:hotline-emergency"}
#: The silent caller's command lines as `hotline serve` sends them with the default config
#: (checked against the server in every run): the baselines send exactly these.
SOUNDS = "/var/lib/asterisk/sounds/hotline/zh"
ESCAPES = "0123456789*#"
SILENT_FLOW = (
    "ANSWER",
    'SET VARIABLE CHANNEL(language) "zh"',
    f'STREAM FILE {SOUNDS}/welcome "{ESCAPES}"',
    f'STREAM FILE {SOUNDS}/main_menu "{ESCAPES}"',
    f'STREAM FILE {SOUNDS}/language_offer "{ESCAPES}"',
    "WAIT FOR DIGIT 500",
    "GET VARIABLE QUEUE_WAITING_COUNT(hotline-general)",
    'SET VARIABLE HOTLINE_QUEUE "general"',
    'SET VARIABLE HOTLINE_OUTCOME "queueing"',
    'EXEC Queue "hotline-general,,,,600,,hotline-agent-answered"',
    # What Queue() left: who answered after how long (the call record's answer).
    "GET VARIABLE ANSWEREDTIME",
    "GET VARIABLE QUEUEWAIT",
    "GET VARIABLE MEMBERINTERFACE",
)

# ============================================================================================
# /proc


def proc_cpu(pid: int) -> float:
    """utime + stime of the whole process (all threads) and of its live child processes
    (the call-log writer; the database server's CPU is measured apart), seconds."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    total = (int(fields[11]) + int(fields[12])) / CLK_TCK
    for child in child_pids(pid):
        try:
            with open(f"/proc/{child}/stat", encoding="ascii") as fh:
                child_fields = fh.read().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += (int(child_fields[11]) + int(child_fields[12])) / CLK_TCK
    return total


def database_cpu(pid: int) -> float:
    """The PostgreSQL server's CPU: the postmaster, its live backends, and the backends that
    ended (cutime + cstime: a pooled connection closed in mid-run takes its CPU with it)."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return proc_cpu(pid) + (int(fields[13]) + int(fields[14])) / CLK_TCK


def child_pids(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            found += [int(x) for x in task.read_text().split()]
        except (FileNotFoundError, ValueError):
            continue
    return found


def thread_cpu(pid: int, tid: int) -> float:
    try:
        with open(f"/proc/{pid}/task/{tid}/stat", encoding="ascii") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def proc_status(pid: int, key: str) -> int:
    """A kB (or count) field of /proc/<pid>/status: VmRSS, VmHWM, Threads."""
    with open(f"/proc/{pid}/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise KeyError(key)


def wait_idle(pid: int, timeout: float = 120.0, quiet: float = 0.6, threshold: float = 0.02) -> float:
    """Seconds until the process used under `threshold` of a core over `quiet` seconds."""
    started = time.monotonic()
    last = proc_cpu(pid)
    while time.monotonic() - started < timeout:
        time.sleep(quiet)
        now = proc_cpu(pid)
        if now - last <= threshold * quiet:
            return time.monotonic() - started - quiet
        last = now
    return time.monotonic() - started


def machine_ticks() -> list[int]:
    """/proc/stat's first line: user nice system idle iowait irq softirq steal (ticks)."""
    with open("/proc/stat", encoding="ascii") as fh:
        return [int(x) for x in fh.readline().split()[1:9]]


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


# ============================================================================================
# Asterisk's side of one call, sans I/O


@dataclass(frozen=True)
class Pace:
    """How long the channel takes before each reply (0: Asterisk answers at once)."""

    prompt_ms: int = 0
    press_ms: int = 0
    keying_ms: int = 0
    #: WAIT FOR DIGIT / GET DATA with nobody pressing last their timeout.
    waits: bool = False
    #: Hold each call at its queue or its "hear it again?" wait until released.
    hold: bool = False


VERBS = (
    ("WAIT", "FOR", "DIGIT"),
    ("GET", "FULL", "VARIABLE"),
    ("STREAM", "FILE"),
    ("GET", "DATA"),
    ("SAY", "DIGITS"),
    ("SAY", "NUMBER"),
    ("SET", "VARIABLE"),
    ("GET", "VARIABLE"),
    ("RECORD", "FILE"),
    ("CHANNEL", "STATUS"),
    ("ANSWER",),
    ("EXEC",),
    ("VERBOSE",),
    ("HANGUP",),
    ("NOOP",),
)
KNOWN_APPS = {"queue", "dial", "playback", "set", "noop", "verbose", "userevent", "goto", "gosub", "answer", "wait"}


def caller_actions(path: str, ticket: str) -> list[tuple[str, str]]:
    """The caller's actions, used in order by the DTMF-reading commands (as hotline/simulator/agi.py)."""
    if path == "silent":
        return []
    if path == "status":
        return [("silence", ""), ("press", "1"), ("press", ticket + "#")]
    if path == "emergency":
        return [("silence", ""), ("press", "2")]
    raise ValueError(path)


@dataclass
class Reply:
    data: bytes
    delay: float = 0.0
    hold: bool = False
    #: The server hung the channel up (HANGUP): FastAGI sends a HANGUP line, classic a SIGHUP.
    server_hangup: bool = False


class Caller:
    """One call as Asterisk 22 answers it: a command line in, its reply (and the channel time
    before it) out. Reply formats from the lab transcripts: `200 result=<n>[ (<data>)][ endpos=<n>]`,
    STREAM FILE interrupted by a key → its code and endpos, GET DATA ended by `#` → the digits
    (`#` not included), nothing keyed → `200 result= (timeout)`, WAIT FOR DIGIT timeout →
    `200 result=0`, Queue answered by an agent who then hung up → `200 result=-1`."""

    def __init__(self, path: str, actions: list[tuple[str, str]], pace: Pace, channel: str, uniqueid: str) -> None:
        self.path = path
        self.actions = deque(actions)
        self.pace = pace
        self.variables = {"CHANNEL": channel, "UNIQUEID": uniqueid}
        self.lines: list[str] = []
        self.execs: list[tuple[str, str]] = []
        self.said: list[str] = []
        self.problems: list[str] = []
        self.held = False
        self.released = False
        self.hung_up = False

    def outcome(self) -> str:
        for app, data in self.execs:
            if app.lower() == "queue":
                return "queue:" + data.split(",", 1)[0]
        if self.said and self.hung_up:
            return "status"
        return "other"

    def label(self, argv: list[str], verb: str) -> str:
        """Bounded name of a command for the turnaround breakdown."""
        if verb in ("STREAM FILE", "GET DATA") and len(argv) > 2:
            return f"{verb} {argv[2].rsplit('/', 1)[-1]}"
        if verb == "EXEC" and len(argv) > 1:
            return f"EXEC {argv[1]}"
        if verb in ("SET VARIABLE", "GET VARIABLE") and len(argv) > 2:
            return f"{verb} {argv[2].split('(', 1)[0]}"
        return verb

    def _action(self) -> tuple[str, str] | None:
        return self.actions.popleft() if self.actions else None

    def _ms(self, ms: int) -> float:
        return ms / 1000.0

    def command(self, raw: bytes) -> tuple[str, Reply]:
        text = raw.decode("utf-8", "replace")
        if text.endswith("\r"):
            self.problems.append("CR LF line end")
        self.lines.append(text)
        argv = parse_args(text)
        upper = [a.upper() for a in argv]
        verb = next((" ".join(v) for v in VERBS if tuple(upper[: len(v)]) == v), None)
        if verb is None:
            self.problems.append(f"510 for {text[:60]!r}")
            return text[:20], Reply(b"510 Invalid or unknown command\n")
        label = self.label(argv, verb)
        pace = self.pace
        if self.hung_up and verb not in ("GET VARIABLE", "SET VARIABLE", "GET FULL VARIABLE", "VERBOSE", "EXEC", "NOOP"):
            return label, Reply(b"511 Command Not Permitted on a dead channel or intercept routine\n")
        if verb == "ANSWER":
            return label, Reply(b"200 result=0\n")
        if verb == "SET VARIABLE":
            self.variables[argv[2]] = argv[3] if len(argv) > 3 else ""
            return label, Reply(b"200 result=1\n")
        if verb == "GET VARIABLE":
            name = argv[2]
            if name.upper().startswith("QUEUE_WAITING_COUNT("):
                return label, Reply(b"200 result=1 (0)\n")  # res_agi evaluates the function
            value = self.variables.get(name)
            return label, Reply(b"200 result=0\n" if value is None else f"200 result=1 ({value})\n".encode())
        if verb == "GET FULL VARIABLE":
            return label, Reply(b"200 result=1 ()\n")
        if verb in ("VERBOSE", "NOOP"):
            return label, Reply(b"200 result=1\n" if verb == "VERBOSE" else b"200 result=0\n")
        if verb == "CHANNEL STATUS":
            return label, Reply(b"200 result=6\n")
        if verb == "STREAM FILE":
            escapes = argv[3] if len(argv) > 3 else ""
            action = self._action()
            if action and action[0] == "press":
                key = next((k for k in action[1] if k in escapes), None)
                if key is not None:
                    return label, Reply(f"200 result={ord(key)} endpos={8 * pace.press_ms}\n".encode(), self._ms(pace.press_ms))
            return label, Reply(f"200 result=0 endpos={8 * 2500}\n".encode(), self._ms(pace.prompt_ms))
        if verb == "WAIT FOR DIGIT":
            timeout = int(argv[3]) if len(argv) > 3 and argv[3].lstrip("-").isdigit() else 0
            if pace.hold and self.said and not self.held:
                self.held = True
                return label, Reply(b"200 result=0\n", hold=True)
            action = self._action()
            if action and action[0] == "press" and action[1]:
                return label, Reply(f"200 result={ord(action[1][0])}\n".encode(), self._ms(pace.press_ms))
            return label, Reply(b"200 result=0\n", self._ms(timeout) if pace.waits else 0.0)
        if verb == "GET DATA":
            timeout = int(argv[3]) if len(argv) > 3 and argv[3].isdigit() else 5000
            action = self._action()
            if action and action[0] == "press":
                digits = ""
                for key in action[1]:
                    if key == "#":
                        return label, Reply(f"200 result={digits}\n".encode(), self._ms(pace.keying_ms))
                    digits += key
                return label, Reply(f"200 result={digits} (timeout)\n".encode(), self._ms(pace.keying_ms + timeout if pace.waits else 0))
            return label, Reply(b"200 result= (timeout)\n", self._ms(timeout) if pace.waits else 0.0)
        if verb in ("SAY DIGITS", "SAY NUMBER"):
            self.said.append(argv[2])
            return label, Reply(b"200 result=0\n", self._ms(pace.prompt_ms))
        if verb == "RECORD FILE":
            return label, Reply(b"200 result=35 (dtmf) endpos=16000\n", self._ms(2 * pace.prompt_ms))
        if verb == "EXEC":
            app, data = argv[1], (argv[2] if len(argv) > 2 else "")
            self.execs.append((app, data))
            if app.lower() in ("queue", "dial"):
                hold = pace.hold and not self.held
                self.held = self.held or hold
                if app.lower() == "queue":  # what app_queue leaves after an agent's answer
                    self.variables.update(QUEUEWAIT="0", ANSWEREDTIME="5", MEMBERINTERFACE="Local/agent1@agents/n")
                return label, Reply(b"200 result=-1\n", hold=hold)
            return label, Reply(b"200 result=0\n" if app.lower() in KNOWN_APPS else b"200 result=-2\n")
        if verb == "HANGUP":
            self.hung_up = True
            return label, Reply(b"200 result=1\n", server_hangup=True)
        return label, Reply(b"510 Invalid or unknown command\n")


# ============================================================================================
# The generator: one process, many calls


class CallRun:
    """Measurements of one call, and the transport-independent half of its loop."""

    def __init__(self, generator: Generator, spec: dict[str, Any]) -> None:
        self.generator = generator
        self.spec = spec
        self.caller = Caller(spec["path"], caller_actions(spec["path"], spec["ticket"]), generator.pace, spec["channel"], spec["uniqueid"])
        self.buffer = bytearray()
        self.busy = False  # a reply is still to come (prompt playing, or held)
        self.label = "header"
        self.t_start = 0
        self.t_sent = 0
        self.t_sent_wall = 0
        self.t_end = 0
        self.first_us: float | None = None
        #: (command label, µs as the loop saw it, True when ≥ 90 % of this generator's calls
        #: were open then and none had been released yet, µs at the socket or None)
        self.samples: list[tuple[str, float, bool, float | None]] = []
        self.close_us: float | None = None
        self.error: str | None = None
        self.server_closed = False
        self.done: asyncio.Future[None] = generator.loop.create_future()
        self.pending: Reply | None = None

    # transport hooks
    def write(self, data: bytes) -> None:
        raise NotImplementedError

    def signal_hangup(self) -> None:
        pass

    def abort(self) -> None:
        pass

    def sent_header(self, header: bytes) -> None:
        self.write(header)
        self.t_sent = time.perf_counter_ns()
        self.t_sent_wall = time.time_ns()

    def received(self, data: bytes, stamp_ns: int | None = None) -> None:
        """`stamp_ns`: when the kernel queued `data` on our socket (SO_TIMESTAMPNS, the
        realtime clock), which the loop's own lag does not delay."""
        now = time.perf_counter_ns()
        self.buffer += data
        while (end := self.buffer.find(b"\n")) >= 0:
            raw = bytes(self.buffer[:end])
            del self.buffer[: end + 1]
            if self.busy:
                # Asterisk would abort the running prompt without a reply.
                self.caller.problems.append(f"command sent while {self.label} was still running")
            elapsed = (now - self.t_sent) / 1000.0
            at_socket = (stamp_ns - self.t_sent_wall) / 1000.0 if stamp_ns is not None else None
            if self.first_us is None:
                self.first_us = elapsed
            else:
                self.samples.append((self.label, elapsed, self.generator.open >= self.generator.full and not self.generator.released, at_socket))
            self.label, reply = self.caller.command(raw)
            self.busy = True
            if reply.hold:
                self.pending = reply
                self.generator.held(self)
            elif reply.delay > 0:
                self.generator.loop.call_later(reply.delay, self.send, reply)
            else:
                self.send(reply)

    def release(self) -> None:
        if self.pending is not None:
            reply, self.pending = self.pending, None
            self.caller.released = True
            self.send(reply)

    def send(self, reply: Reply) -> None:
        if self.done.done() or self.server_closed:
            return
        self.busy = False
        self.write(reply.data)
        self.t_sent = time.perf_counter_ns()
        self.t_sent_wall = time.time_ns()
        if reply.server_hangup:
            self.signal_hangup()

    def closed_by_server(self) -> None:
        if not self.server_closed:
            self.server_closed = True
            self.close_us = (time.perf_counter_ns() - self.t_sent) / 1000.0
            if self.buffer:
                self.caller.problems.append("closed in the middle of a command line")

    def finish(self, error: str | None = None) -> None:
        if self.done.done():
            return
        self.t_end = time.perf_counter_ns()
        self.error = self.error or error
        self.done.set_result(None)

    def result(self, with_lines: bool) -> dict[str, Any]:
        caller = self.caller
        outcome = caller.outcome()
        completed = self.error is None and self.server_closed and not caller.problems
        return {
            "i": self.spec["i"],
            "path": caller.path,
            #: the call ran to its end, the server closed it, no protocol misconduct
            "completed": completed,
            #: … and took the path its caller scripted (a status lookup that timed out sends
            #: the caller to the operators instead)
            "ok": completed and outcome == EXPECTED_OUTCOME[caller.path],
            "outcome": outcome,
            "error": self.error,
            "problems": caller.problems,
            "start_ns": self.t_start,
            "end_ns": self.t_end,
            "first_us": self.first_us,
            "close_us": self.close_us,
            "samples": self.samples,
            "commands": len(caller.lines),
            "lines": caller.lines if with_lines else None,
        }


#: Linux's SO_TIMESTAMPNS (= SCM_TIMESTAMPNS; Python 3.11 does not name it): the kernel stamps
#: each segment with the time it reached our socket, a struct timespec.
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)
STAMP_SPACE = socket.CMSG_SPACE(16)


class FastAgiCall(CallRun):
    """One FastAGI call on a non-blocking socket read with recvmsg(), for the kernel's
    receive timestamp of each command (asyncio's transports read with recv(), which gives
    none). Everything else as an asyncio transport would do it: TCP_NODELAY, the loop's
    reader callback."""

    sock: socket.socket | None = None
    stamps = False

    async def connect(self, host: str, port: int) -> None:
        loop = self.generator.loop
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
            self.stamps = True
        except OSError:
            self.stamps = False  # not Linux: the loop-side figure only
        try:
            await loop.sock_connect(sock, (host, port))
        except BaseException:
            sock.close()
            raise
        self.sock = sock
        loop.add_reader(sock.fileno(), self._readable)
        peer = AsteriskPeer(callerid=self.spec["callerid"], dnid="12319", channel=self.spec["channel"], uniqueid=self.spec["uniqueid"])
        self.sent_header(peer.header(script=self.spec["script"], host=HOST, port=self.generator.port))

    def write(self, data: bytes) -> None:
        sock = self.sock
        if sock is None:
            return
        try:
            sent = sock.send(data)
        except BlockingIOError:
            sent = 0
        except OSError as exc:
            self._lost(exc)
            return
        if sent < len(data):  # a few bytes on loopback: not seen, but never dropped either
            sock.setblocking(True)
            try:
                sock.sendall(data[sent:])
            except OSError as exc:
                self._lost(exc)
                return
            finally:
                if self.sock is not None:
                    sock.setblocking(False)

    def signal_hangup(self) -> None:
        self.write(b"HANGUP\n")  # FastAGI hears of a hangup through this line

    def _readable(self) -> None:
        sock = self.sock
        if sock is None:
            return
        try:
            data, ancillary, _, _ = sock.recvmsg(65536, STAMP_SPACE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self._lost(exc)
            return
        if not data:
            # Asterisk, once the server shut its side: one more HANGUP, then close.
            self.closed_by_server()
            try:
                sock.send(b"HANGUP\n")
            except OSError:
                pass
            self._close()
            self.finish()
            return
        stamp = None
        for level, kind, payload in ancillary:
            if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(payload) >= 16:
                seconds, nanoseconds = struct.unpack("qq", payload[:16])
                stamp = seconds * 1_000_000_000 + nanoseconds
        self.received(data, stamp)

    def _lost(self, exc: BaseException) -> None:
        if not self.server_closed:
            self.error = f"{type(exc).__name__}: {exc}"
        self._close()
        self.finish()

    def _close(self) -> None:
        sock, self.sock = self.sock, None
        if sock is not None:
            self.generator.loop.remove_reader(sock.fileno())
            sock.close()

    def abort(self) -> None:
        if self.sock is not None:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self._close()


class ClassicCall(CallRun, asyncio.SubprocessProtocol):
    transport: asyncio.SubprocessTransport

    def __init__(self, generator: Generator, spec: dict[str, Any]) -> None:
        super().__init__(generator, spec)
        self.stderr = bytearray()
        self.exited = False
        self.stdout_closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        peer = AsteriskPeer(callerid=self.spec["callerid"], dnid="12319", channel=self.spec["channel"], uniqueid=self.spec["uniqueid"])
        self.sent_header(peer.header(request=str(SCRIPT), args=["ivr"]))

    def write(self, data: bytes) -> None:
        stdin = self.transport.get_pipe_transport(0)
        if stdin is not None and not stdin.is_closing():
            stdin.write(data)  # type: ignore[attr-defined]

    def signal_hangup(self) -> None:
        try:
            self.transport.send_signal(signal.SIGHUP)  # classic AGI: SIGHUP, never a HANGUP line
        except ProcessLookupError:
            pass

    def pipe_data_received(self, fd: int, data: bytes) -> None:
        if fd == 1:
            self.received(data)
        else:
            self.stderr += data

    def pipe_connection_lost(self, fd: int, exc: Exception | None) -> None:
        if fd == 1:
            self.stdout_closed = True
            self.closed_by_server()
            stdin = self.transport.get_pipe_transport(0)
            if stdin is not None:
                stdin.close()

    def process_exited(self) -> None:
        self.exited = True
        code = self.transport.get_returncode()
        self.closed_by_server()
        if code != 0:
            self.error = f"exit status {code}: {bytes(self.stderr[-300:])!r}"
        elif self.stderr:
            self.caller.problems.append(f"stderr: {bytes(self.stderr[:200])!r}")
        self.finish()

    def abort(self) -> None:
        transport = getattr(self, "transport", None)
        if transport is not None:
            try:
                transport.kill()
            except ProcessLookupError:
                pass


class Generator:
    def __init__(self, conn: Connection, params: dict[str, Any], loop: asyncio.AbstractEventLoop) -> None:
        self.conn = conn
        self.params = params
        self.loop = loop
        self.port = params.get("port", 0)
        self.pace = Pace(**params["pace"])
        self.calls: list[CallRun] = []
        self.holding: list[CallRun] = []
        self.released = False
        self.reported_held = -1
        self.lags: list[float] = []
        #: Calls connected (or spawned) and not finished; `full`: 90 % of this process's calls.
        self.open = 0
        #: Held mode's steady phase: once this many calls are open, each new call releases
        #: the longest-held one, so N stay open while calls come and go (0: no steady phase).
        self.open_target = params.get("open_target", 0)
        self.full = max(1, math.ceil(0.9 * (self.open_target or len(params["calls"]))))

    def held(self, call: CallRun) -> None:
        if self.released:
            call.release()
            return
        self.holding.append(call)
        self.report_held()

    def report_held(self) -> None:
        if self.released:
            return
        settled = len(self.holding) + sum(1 for c in self.calls if c.done.done() and c.pending is None)
        if settled >= len(self.params["calls"]) and self.reported_held != len(self.holding):
            self.reported_held = len(self.holding)
            self.conn.send(("held", len(self.holding)))

    def on_message(self) -> None:
        while self.conn.poll():
            message = self.conn.recv()
            if message == "release":
                self.released = True
                holding, self.holding = self.holding, []
                # Released at a steady rate, as callers reach agents one by one: releasing all
                # at once would make a burst of the calls' last commands.
                rate = self.params.get("release_rate") or 0
                for k, call in enumerate(holding):
                    if rate:
                        self.loop.call_later(k / rate, call.release)
                    else:
                        call.release()

    async def lag_monitor(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            before = time.perf_counter()
            await asyncio.sleep(0.01)
            self.lags.append((time.perf_counter() - before - 0.01) * 1e6)

    async def one(self, spec: dict[str, Any], t0: float, semaphore: asyncio.Semaphore | None) -> None:
        delay = t0 + spec["at"] - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        if semaphore is not None:
            await semaphore.acquire()
        try:
            call: CallRun
            if self.params["kind"] == "classic":
                script = call = ClassicCall(self, spec)
                self.calls.append(call)
                call.t_start = time.perf_counter_ns()
                environment = {**AST_ENVIRONMENT, "PATH": "/usr/bin:/bin", "HOTLINE_CONFIG": self.params["config"]}
                try:
                    await self.loop.subprocess_exec(lambda: script, str(SCRIPT), "ivr", stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=environment, cwd="/")
                except OSError as exc:
                    call.finish(f"spawn: {exc}")
            else:
                connection = call = FastAgiCall(self, spec)
                self.calls.append(call)
                call.t_start = time.perf_counter_ns()
                try:
                    await connection.connect(HOST, self.port)
                except OSError as exc:
                    call.finish(f"connect: {type(exc).__name__}: {exc}")
            self.open += 1
            if self.open_target and self.open > self.open_target and self.holding:
                self.holding.pop(0).release()  # an agent takes the longest-waiting caller
            try:
                await call.done
            finally:
                self.open -= 1
        finally:
            if semaphore is not None:
                semaphore.release()
            self.report_held()

    async def run(self) -> dict[str, Any]:
        params = self.params
        self.loop.add_reader(self.conn.fileno(), self.on_message)
        stop = asyncio.Event()
        monitor = asyncio.ensure_future(self.lag_monitor(stop))
        semaphore = asyncio.Semaphore(params["concurrency"]) if params.get("concurrency") else None
        usage0 = resource.getrusage(resource.RUSAGE_SELF)
        children0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = params["t0"]
        tasks = [asyncio.ensure_future(self.one(spec, t0, semaphore)) for spec in params["calls"]]
        remaining = t0 + params["deadline"] - time.monotonic()
        _done, pending = await asyncio.wait(tasks, timeout=max(1.0, remaining))
        timed_out = 0
        for call in self.calls:
            if not call.done.done():
                timed_out += 1
                call.abort()
                call.finish("timeout")
        for task in pending:
            task.cancel()
        stop.set()
        await monitor
        usage1 = resource.getrusage(resource.RUSAGE_SELF)
        children1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        self.loop.remove_reader(self.conn.fileno())
        seen: set[str] = set()
        results = []
        for call in self.calls:
            first_of_path = call.caller.path not in seen
            seen.add(call.caller.path)
            results.append(call.result(with_lines=first_of_path))
        started = len(self.calls)
        return {
            "calls": results,
            "not_started": len(params["calls"]) - started,
            "timed_out": timed_out,
            "cpu_s": (usage1.ru_utime + usage1.ru_stime) - (usage0.ru_utime + usage0.ru_stime),
            "children_cpu_s": (children1.ru_utime + children1.ru_stime) - (children0.ru_utime + children0.ru_stime),
            "lag_us": self.lags,
        }


def generator_main(conn: Connection, params: dict[str, Any]) -> None:
    async def main() -> dict[str, Any]:
        return await Generator(conn, params, asyncio.get_running_loop()).run()

    try:
        result = asyncio.run(main())
    except BaseException as exc:
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
        raise
    conn.send(("result", result))
    conn.close()


# ============================================================================================
# Servers (child processes of this script)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


class Server:
    """A server process we started; stopped with SIGTERM to its own pid."""

    def __init__(self, kind: str, argv: list[str], port: int, log: Path, http_port: int | None = None) -> None:
        self.kind, self.argv, self.port, self.log, self.http_port = kind, argv, port, log, http_port
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self, timeout: float = 60.0) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        log = open(self.log, "ab")
        self.proc = subprocess.Popen(self.argv, cwd=ROOT, stdout=subprocess.PIPE if self.http_port is None else log, stderr=log, env=env)
        deadline = time.monotonic() + timeout
        if self.http_port is not None:
            # `hotline serve` listens on FastAGI before HTTP: /healthz answering means both are up.
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"{self.kind} exited with {self.proc.returncode}; see {self.log}")
                try:
                    with urllib.request.urlopen(f"http://{HOST}:{self.http_port}/healthz", timeout=2) as response:
                        if response.status == 200:
                            return
                except OSError:
                    time.sleep(0.2)
            raise RuntimeError(f"{self.kind} not ready within {timeout} s; see {self.log}")
        # The baselines say "ready" on stdout. No probe connection: panoramisk spins for ever
        # on a connection closed before its header ends.
        assert self.proc.stdout is not None
        ready = wait_connections([self.proc.stdout], timeout)  # type: ignore[list-item]
        line = self.proc.stdout.readline() if ready else b""
        if not line.startswith(b"ready"):
            raise RuntimeError(f"{self.kind} not ready ({line!r}); see {self.log}")

    def stop(self, timeout: float = 30.0) -> int | None:
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(10)


def child_bare(port: int, options: dict[str, Any]) -> int:
    """Our FastAGI layer alone: hotline.agi.fastagi with a handler sending the silent caller's lines."""
    from twisted.internet import reactor

    from hotline.agi.fastagi import listen
    from hotline.config import FastAgiConfig

    async def flow(channel: Any) -> None:
        await channel.answer()
        await channel.set_variable("CHANNEL(language)", "zh")
        key = None
        for prompt in ("welcome", "main_menu", "language_offer"):
            key = await channel.stream_file(f"{SOUNDS}/{prompt}", ESCAPES)
            if key:
                break
        if key is None:
            key = await channel.wait_for_digit(500)
        await channel.get_variable("QUEUE_WAITING_COUNT(hotline-general)")
        await channel.set_variable("HOTLINE_QUEUE", "general")
        await channel.set_variable("HOTLINE_OUTCOME", "queueing")
        await channel.exec("Queue", "hotline-general,,,,600,,hotline-agent-answered")
        for variable in ("ANSWEREDTIME", "QUEUEWAIT", "MEMBERINTERFACE"):
            await channel.get_variable(variable)

    listen(reactor, FastAgiConfig(bind=HOST, port=port), flow)
    reactor.callWhenRunning(lambda: print("ready", flush=True))
    return under_options(reactor.run, options)


def child_panoramisk(port: int) -> int:
    """panoramisk 1.4's FastAGI server running the silent caller's command lines."""
    from panoramisk.fast_agi import Application

    async def flow(request: Any) -> None:
        await request.send_command(SILENT_FLOW[0])
        await request.send_command(SILENT_FLOW[1])
        key = None
        for line in SILENT_FLOW[2:5]:
            result = await request.send_command(line)
            value = result.get("result", ("0", ""))[0]
            if value not in ("0", "", "-1"):
                key = chr(int(value))
                break
        if key is None:
            await request.send_command(SILENT_FLOW[5])
        for line in SILENT_FLOW[6:]:
            await request.send_command(line)

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    app = Application(loop=loop)
    app.add_route("ivr", flow)
    # Same listen backlog as hotline.agi.fastagi (start_server's default of 100 drops SYNs in a burst).
    server = loop.run_until_complete(asyncio.start_server(app.handler, HOST, port, backlog=1024))
    loop.add_signal_handler(signal.SIGTERM, loop.stop)
    print("ready", flush=True)
    loop.run_forever()
    server.close()
    return 0


def under_options(run: Any, options: dict[str, Any]) -> int:
    """Run `run()` with the diagnostic options of a server child: `switchinterval` (seconds,
    sys.setswitchinterval), `profile` (a file: cProfile of every thread, the database pool's
    too) with `timer` "cpu" (each thread's CPU time) or "wall"."""
    import cProfile
    import pstats
    import threading

    if options.get("switchinterval"):
        sys.setswitchinterval(float(options["switchinterval"]))
    if options.get("gc_log"):
        return record_gc_pauses(run, options["gc_log"])
    out = options.get("profile")
    if not out:
        return int(run() or 0)
    timer = time.thread_time if options.get("timer", "cpu") == "cpu" else time.perf_counter
    profiles: list[cProfile.Profile] = []
    lock = threading.Lock()

    def on_thread_start(*_: Any) -> None:
        profile = cProfile.Profile(timer)
        with lock:
            profiles.append(profile)
        profile.enable()  # replaces this hook for the thread

    threading.setprofile(on_thread_start)
    main = cProfile.Profile(timer)
    main.enable()
    try:
        return int(run() or 0)
    finally:
        main.disable()
        stats = pstats.Stats(main)
        for profile in profiles:
            profile.create_stats()
            if getattr(profile, "stats", None):
                stats.add(profile)
        stats.dump_stats(out)


def record_gc_pauses(run: Any, out: str) -> int:
    """Run `run()` noting every cyclic-GC pause (it holds the GIL: every thread waits)."""
    import gc

    pauses: dict[int, list[float]] = {0: [], 1: [], 2: []}
    #: (monotonic time at the start, generation, µs) of every pause over a millisecond
    long: list[tuple[float, int, float]] = []
    started: list[float] = []

    def callback(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            started.append(time.perf_counter())
        elif started:
            begun = started.pop()
            pause = (time.perf_counter() - begun) * 1e6
            pauses[info["generation"]].append(pause)
            if pause > 1000:
                long.append((begun, info["generation"], round(pause)))

    gc.callbacks.append(callback)
    try:
        return int(run() or 0)
    finally:
        gc.callbacks.remove(callback)
        report: dict[str, Any] = {f"gen{g}": {"count": len(v), "total_ms": round(sum(v) / 1000, 1), **{k: v2 for k, v2 in summary(v).items() if k != "n"}} for g, v in pauses.items()}
        report["over_1ms"] = long
        Path(out).write_text(json.dumps(report), encoding="utf-8")


def child_serve(config: str, options: dict[str, Any]) -> int:
    """`hotline serve` under the diagnostic options. Two are counterfactuals, for diagnosis
    only, applied in this process and nowhere else: `skip_calllog` makes every call-log
    operation a no-op that reports success (no database write, no journal), `calllog_thread`
    writes the call log on the pool's writer thread in this process (no writer process), `gc_freeze`
    calls gc.freeze() once the reactor runs (start-up objects leave the collector's scans)."""
    from hotline.cli import main as hotline_main

    if options.get("skip_calllog"):
        from twisted.internet.defer import succeed

        from hotline.calllog import journal

        def submit(self: Any, operation: str, arguments: Any) -> Any:
            return succeed(journal.Submitted(journal.Outcome.WRITTEN))

        def submit_batch(self: Any, uniqueid: str, operations: Any) -> Any:
            return succeed(journal.Submitted(journal.Outcome.WRITTEN))

        from hotline.calllog import child

        for writer in (journal.CallLog, child.ChildCallLog):
            writer.submit = submit  # type: ignore[method-assign]
            writer.submit_batch = submit_batch  # type: ignore[method-assign]
    if options.get("calllog_thread"):
        # The call log written by the pool's writer thread in the ivr process, as before the
        # writer process (the same CallLog, without the child).
        from ivr.runner import CallRunner

        original = CallRunner.from_config.__func__  # type: ignore[attr-defined]

        def from_config(cls: Any, *args: Any, writer: Any = None, **kwargs: Any) -> Any:
            return original(cls, *args, **kwargs)

        CallRunner.from_config = classmethod(from_config)  # type: ignore[method-assign,assignment]
    if options.get("gc_freeze"):
        import gc

        from twisted.internet import reactor

        reactor.callWhenRunning(gc.freeze)

    return under_options(lambda: hotline_main(["-c", config, "serve", "--role", "ivr"]), options)


# ============================================================================================
# One load run


def make_calls(n: int, mode: str, paths: str, tickets: list[str], ramp: float, script: str = "ivr", offset: int = 0, rate: float = 0.0) -> list[dict[str, Any]]:
    cycle = [path for path, weight in MIX for _ in range(weight)] if paths == "mixed" else [paths]
    calls = []
    for index in range(n):
        i = offset + index
        path = cycle[index % len(cycle)]
        calls.append(
            {
                "i": i,
                "path": path,
                "ticket": tickets[i % len(tickets)] if tickets else "",
                "callerid": f"139{i:08d}",
                "channel": f"Local/12319@hotline-{i:08x};2",
                "uniqueid": f"bench-{os.getpid()}-{i}",
                "script": script,
                "at": index / rate if rate else (0.0 if mode == "burst" or n <= 1 else ramp * index / n),
            }
        )
    return calls


def percentile(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(p / 100 * len(ordered)) - 1))]


def summary(values: list[float], scale: float = 1000.0) -> dict[str, float | None]:
    """p50/p99/max of µs values, in ms (scale 1000)."""
    if not values:
        return {"n": 0, "p50": None, "p99": None, "max": None}
    return {"n": len(values), "p50": round(percentile(values, 50) / scale, 3), "p99": round(percentile(values, 99) / scale, 3), "max": round(max(values) / scale, 3)}  # type: ignore[operator]


class RunContext:
    """What a load run needs to know about the server."""

    def __init__(self, server: Server | None, kind: str, port: int = 0, config: str = "", db_path: Path | str | None = None, journal: Path | None = None, db_pid: int | None = None) -> None:
        self.server, self.kind, self.port, self.config, self.db_path, self.journal = server, kind, port, config, db_path, journal
        #: The PostgreSQL server's postmaster (its backends are its children): its CPU counts too.
        self.db_pid = db_pid
        self.calls_started = 0
        #: No measured run yet: RSS per session is only read on a server's first held run
        #: (later runs find the allocator's arenas already grown).
        self.fresh = True


def call_records(db_path: Path | str) -> tuple[int, int, int]:
    """(calls, calls with ended_at, call_events) in the server's database (a SQLite file or
    a PostgreSQL URL)."""
    if isinstance(db_path, str):
        from sqlalchemy import create_engine, text

        engine = create_engine(db_path)
        try:
            with engine.connect() as pg:
                row = pg.execute(text("SELECT count(*), count(ended_at), (SELECT count(*) FROM call_events) FROM calls")).one()
        finally:
            engine.dispose()
        return int(row[0]), int(row[1]), int(row[2])
    connection = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=30)
    try:
        calls = connection.execute("SELECT count(*), count(ended_at) FROM calls").fetchone()
        events = connection.execute("SELECT count(*) FROM call_events").fetchone()[0]
    finally:
        connection.close()
    return int(calls[0]), int(calls[1]), int(events)


def journalled(journal: Path | None) -> int:
    if journal is None or not journal.is_dir():
        return 0
    return sum(p.read_bytes().count(b"\n") for p in journal.glob("*.jsonl"))


def run_load(
    ctx: RunContext,
    *,
    name: str,
    n: int,
    mode: str,
    paths: str,
    pace: Pace,
    procs: int,
    tickets: list[str],
    ramp: float = 0.0,
    deadline: float = 180.0,
    concurrency: int = 0,
    rate: float = 0.0,
    steady: int = 0,
) -> dict[str, Any]:
    """Start the generator processes, play the calls, read the server's /proc; one result row.

    `rate` (held mode): calls start at this many a second and, once all are held, are
    released at 4× that rate."""
    release_rate = 4 * rate if rate else 0.0
    steady = steady if mode == "held" and rate else 0
    if rate:
        deadline = max(deadline, (n + steady) / rate + n / release_rate + 120)
    calls = make_calls(n + steady, mode, paths, tickets, ramp, offset=ctx.calls_started, rate=rate)
    ctx.calls_started += n + steady
    fresh = ctx.fresh
    if name != "warm-up":
        ctx.fresh = False
    server = ctx.server
    pid = server.pid if server is not None else None
    procs = max(1, min(procs, n))
    shares = [calls[k::procs] for k in range(procs)]
    context = multiprocessing.get_context("fork")
    if pid is not None:
        wait_idle(pid, timeout=60)
        cpu0, main0 = proc_cpu(pid), thread_cpu(pid, pid)
        rss0 = proc_status(pid, "VmRSS")
        records0 = call_records(ctx.db_path) if ctx.db_path else None
        db_cpu0 = database_cpu(ctx.db_pid) if ctx.db_pid else 0.0
    t0 = time.monotonic() + 0.3 + 0.05 * procs
    workers: list[tuple[Any, Connection]] = []
    for share in shares:
        parent_end, child_end = context.Pipe()
        params = {
            "kind": ctx.kind,
            "port": ctx.port,
            "config": ctx.config,
            "calls": share,
            "t0": t0,
            "deadline": deadline,
            "pace": asdict(pace),
            "concurrency": max(1, concurrency // procs) if concurrency else 0,
            "release_rate": release_rate / procs,
            "open_target": math.ceil(n / procs) if steady else 0,
        }
        process = context.Process(target=generator_main, args=(child_end, params), daemon=True)
        process.start()
        child_end.close()
        workers.append((process, parent_end))
    machine0 = machine_ticks()
    held_counts: dict[int, int] = {}
    results: dict[int, dict[str, Any]] = {}
    payload: Any
    rss_held = None
    held_total = None
    idle_at_hold = None
    released = not pace.hold
    end_by = time.monotonic() + deadline + 30
    gen_cpu = {}
    while len(results) < len(workers) and time.monotonic() < end_by:
        ready = wait_connections([c for _, c in workers], timeout=1.0)
        for conn in ready:
            index = next(k for k, (_, c) in enumerate(workers) if c is conn)
            try:
                kind, payload = cast(Connection, conn).recv()
            except EOFError:
                results.setdefault(index, {"calls": [], "error": "generator died", "cpu_s": 0, "children_cpu_s": 0, "lag_us": [], "not_started": len(shares[index]), "timed_out": 0})
                continue
            if kind == "held":
                held_counts[index] = payload
            elif kind == "result":
                results[index] = payload
                gen_cpu[index] = payload["cpu_s"]
            else:
                raise RuntimeError(f"generator failed: {payload}")
        if not released and len(held_counts) == len(workers):
            held_total = sum(held_counts.values())
            if pid is not None:
                idle_at_hold = wait_idle(pid, timeout=60)
                rss_held = proc_status(pid, "VmRSS")
            for _, conn in workers:
                conn.send("release")
            released = True
    for process, conn in workers:
        process.join(10)
        if process.is_alive():
            process.kill()
            process.join(5)
        conn.close()
    machine1 = machine_ticks()
    all_calls = [c for k in sorted(results) for c in results[k]["calls"]]
    drain = None
    if pid is not None:
        drain = wait_idle(pid, timeout=180)
        cpu1, main1 = proc_cpu(pid), thread_cpu(pid, pid)
        rss1 = proc_status(pid, "VmRSS")
        db_cpu1 = database_cpu(ctx.db_pid) if ctx.db_pid else 0.0
    ok = [c for c in all_calls if c["ok"]]
    completed = [c for c in all_calls if c["completed"]]
    samples = [us for c in all_calls for _, us, _, _ in c["samples"]]
    at_full = [us for c in all_calls for _, us, full, _ in c["samples"] if full]
    at_socket = [s for c in all_calls for _, _, _, s in c["samples"] if s is not None]
    at_socket_full = [s for c in all_calls for _, _, full, s in c["samples"] if full and s is not None]
    by_label: dict[str, list[float]] = {}
    by_label_socket: dict[str, list[float]] = {}
    for c in all_calls:
        for label, us, _, socket_us in c["samples"]:
            by_label.setdefault(label, []).append(us)
            if socket_us is not None:
                by_label_socket.setdefault(label, []).append(socket_us)
    starts = [c["start_ns"] for c in all_calls if c["start_ns"]]
    ends = [c["end_ns"] for c in completed]
    wall = (max(ends) - min(starts)) / 1e9 if ends and starts else None
    lines = {}
    for c in all_calls:
        if c["lines"] and c["path"] not in lines:
            lines[c["path"]] = c["lines"]
    failures: dict[str, int] = {}
    for c in all_calls:
        if not c["ok"]:
            why = c["error"] or (c["problems"][0] if c["problems"] else f"{c['path']} caller ended in {c['outcome']}")
            why = why.split(":")[0] if c["error"] else why
            failures[why] = failures.get(why, 0) + 1
    row: dict[str, Any] = {
        "name": name,
        "server": ctx.kind if ctx.kind == "classic" else (server.kind if server else "?"),
        "mode": mode,
        "paths": paths,
        "n": n,
        "steady_calls": steady or None,
        "procs": procs,
        "concurrency": concurrency or None,
        "ramp_s": ramp if mode != "burst" else 0,
        "pace": asdict(pace),
        "calls_completed": len(completed),
        "calls_ok": len(ok),
        "failures": failures,
        "not_started": sum(r.get("not_started", 0) for r in results.values()),
        "wall_s": round(wall, 3) if wall else None,
        #: calls completed per second, from the first start to the last completion
        "calls_per_s": round(len(completed) / wall, 1) if wall else None,
        "first_command_ms": summary([c["first_us"] for c in all_calls if c["first_us"] is not None]),
        "turnaround_ms": summary(samples),
        "turnaround_at_90pct_open_ms": summary(at_full),
        "arrival_rate": rate or None,
        "turnaround_by_command_ms": {label: summary(v) for label, v in sorted(by_label.items())},
        #: the same, ending when the command reached the generator's socket (kernel receive
        #: timestamp) rather than when the generator's loop got to it
        "turnaround_socket_ms": summary(at_socket) if at_socket else None,
        "turnaround_socket_at_90pct_open_ms": summary(at_socket_full) if at_socket_full else None,
        "turnaround_socket_by_command_ms": {label: summary(v) for label, v in sorted(by_label_socket.items())},
        "close_ms": summary([c["close_us"] for c in all_calls if c["close_us"] is not None]),
        "call_ms": summary([(c["end_ns"] - c["start_ns"]) / 1000 for c in ok]),
        "commands": sum(c["commands"] for c in all_calls),
        "generator_cpu_s": round(sum(r["cpu_s"] for r in results.values()), 3),
        "generator_children_cpu_s": round(sum(r["children_cpu_s"] for r in results.values()), 3),
        "generator_lag_ms": summary([x for r in results.values() for x in r["lag_us"]]),
        "lines": lines,
    }
    if wall:
        row["generator_cpu_share"] = round(row["generator_cpu_s"] / (wall * procs), 3)
    total = sum(machine1) - sum(machine0)
    if total > 0:
        busy = sum(machine1[:3]) - sum(machine0[:3])  # user, nice, system: process context
        row["machine"] = {
            "busy_share": round(busy / total, 3),
            "softirq_share": round((machine1[6] - machine0[6]) / total, 3),
            "steal_share": round((machine1[7] - machine0[7]) / total, 3),
            "busy_core_s": round(busy / CLK_TCK, 2),
        }
    if ctx.kind == "classic" and ok:
        row["cpu_ms_per_call"] = round(row["generator_children_cpu_s"] * 1000 / len(all_calls), 1)
    if pid is not None:
        cpu = cpu1 - cpu0
        row.update(
            {
                "server_cpu_s": round(cpu, 2),
                "server_cpu_ms_per_call": round(cpu * 1000 / max(1, len(all_calls)), 2),
                "server_reactor_thread_share": round((main1 - main0) / cpu, 2) if cpu > 0 else None,
                "server_drain_s": round(drain, 2) if drain is not None else None,
                # Calls per second counting until the server is idle again: every call's
                # record written, not just the call over for the caller.
                "recorded_per_s": round(len(completed) / (wall + (drain or 0)), 1) if wall else None,
                "rss_idle_kib": rss0,
                "rss_after_kib": rss1,
                "threads": proc_status(pid, "Threads"),
            }
        )
        if wall:
            row["server_cpu_share"] = round(cpu / (wall + (drain or 0)), 2)
        if ctx.db_pid:
            row["database_cpu_ms_per_call"] = round((db_cpu1 - db_cpu0) * 1000 / max(1, len(all_calls)), 2)
        if "machine" in row:
            # What other processes of the machine used meanwhile (ours: server + generators);
            # the generator's window is a little shorter than the server's, so this is an
            # upper bound.
            row["machine"]["others_core_s"] = round(max(0.0, row["machine"]["busy_core_s"] - cpu - row["generator_cpu_s"]), 2)
        if rss_held is not None:
            row.update({"rss_held_kib": rss_held, "sessions_held": held_total, "idle_wait_at_hold_s": round(idle_at_hold or 0, 2)})
            if fresh and held_total:
                row["rss_per_session_kib"] = round((rss_held - rss0) / held_total, 1)
        if ctx.db_path is not None and records0 is not None:
            records1 = call_records(ctx.db_path)
            row["call_records"] = {"new_calls": records1[0] - records0[0], "new_ended": records1[1] - records0[1], "new_events": records1[2] - records0[2], "journalled_ops": journalled(ctx.journal)}
            row["call_log_writes_per_call"] = round(row["call_records"]["new_events"] / max(1, n), 1)
    return row


# ============================================================================================
# The run as a whole


class Setup:
    """A temporary installation: config, a database made by `hotline init`, seeded tickets."""

    def __init__(self, tmp: Path, pg: Any = None) -> None:
        self.tmp = tmp
        #: A tests.pgserver.PostgresServer: every database is a PostgreSQL database on it.
        self.pg = pg
        self.template: Path | str = tmp / "template.db" if pg is None else pg.url("bench_template")
        self.tickets: list[str] = []

    @property
    def db_pid(self) -> int | None:
        if self.pg is None:
            return None
        return int((self.pg.datadir / "postmaster.pid").read_text().split()[0])

    def config(self, name: str, db: Path | str, fastagi_port: int, http_port: int, pool_size: int | None = None) -> Path:
        path = self.tmp / f"{name}.toml"
        path.write_text(
            "\n".join(
                [
                    "[service]",
                    f'data_dir = "{self.tmp / "var"}"',
                    'log_level = "WARNING"',
                    "[database]",
                    f'url = "{db}"' if isinstance(db, str) else f'url = "sqlite:///{db}"',
                    *([f"pool_size = {pool_size}"] if pool_size else []),
                    "[http]",
                    f'bind = "{HOST}"',
                    f"port = {http_port}",
                    "[fastagi]",
                    f'bind = "{HOST}"',
                    f"port = {fastagi_port}",
                    "[ivr]",
                    f'journal_dir = "{self.tmp / name / "journal"}"',
                    "[asterisk]",
                    f'voicemail_dir = "{self.tmp / "voicemail"}"',
                    "",
                ]
            ),
            encoding="utf-8",
        )
        return path

    def prepare(self) -> None:
        if self.pg is not None:
            self.pg.createdb("bench_template")
        config = self.config("init", self.template, free_port(), free_port())
        done = subprocess.run([sys.executable, "-m", "hotline", "-c", str(config), "init", "--no-input"], cwd=ROOT, capture_output=True, text=True, timeout=300)
        if done.returncode != 0:
            raise RuntimeError(f"hotline init failed: {done.stdout}{done.stderr}")
        from hotline import config as configmod
        from hotline.storage.db import Database
        from hotline.storage.models import TicketSource
        from hotline.tickets import services as tickets
        from hotline.tickets.services import SYSTEM, TicketPolicy

        loaded = configmod.load(config, environ={})
        policy = TicketPolicy.from_config(loaded)
        database = Database.from_url(loaded.database_url())
        try:
            with database.transaction() as session:
                for k in range(TICKETS):
                    ticket = tickets.open_ticket(session, policy, source=TicketSource.HOTLINE, actor=SYSTEM, caller_number=f"1370000{k:04d}")
                    self.tickets.append(ticket.number)
        finally:
            database.dispose()

    def database(self, name: str) -> Path | str:
        if self.pg is not None:
            dbname = name.replace("-", "_")
            self.pg._run(str(self.pg.bindir / "createdb"), "-h", "127.0.0.1", "-p", str(self.pg.port), "-U", "postgres", "-T", "bench_template", dbname)
            return str(self.pg.url(dbname))
        assert isinstance(self.template, Path)
        path = self.tmp / f"{name}.db"
        shutil.copyfile(self.template, path)
        return path


def start_hotline(setup: Setup, name: str, *, pool_size: int | None = None, options: dict[str, Any] | None = None, db: Path | str | None = None) -> tuple[Server, RunContext]:
    """A fresh `hotline serve` on a fresh copy of the database (or on `db`, shared with
    another role). With `options` it runs through this script's `_child serve` wrapper
    (profile, switch interval), unchanged."""
    db = db if db is not None else setup.database(name)
    port, http_port = free_port(), free_port()
    config = setup.config(name, db, port, http_port, pool_size=pool_size)
    if not options:
        # The ivr role alone: the process (and its database children) this bench measures;
        # plain `hotline serve` would put a supervisor and two other roles around it.
        argv = [sys.executable, "-m", "hotline", "-c", str(config), "serve", "--role", "ivr"]
    else:
        argv = [sys.executable, str(Path(__file__).resolve()), "_child", "serve", str(config), json.dumps(options)]
    server = Server("hotline serve", argv, port, setup.tmp / f"{name}.log", http_port=http_port)
    server.start()
    return server, RunContext(server, "fastagi", port=port, config=str(config), db_path=db, journal=setup.tmp / name / "journal", db_pid=setup.db_pid)


class DeskLoad:
    """The desk role of the same configuration and database, and a process hammering its HTTP
    side: what "another role on the same machine kept busy" means in issue 10's figures."""

    def __init__(self, desk: Server, load: subprocess.Popen[bytes], out: Path) -> None:
        self.desk, self.load, self.out = desk, load, out
        self.cpu0 = proc_cpu(desk.pid)
        self.started = time.monotonic()

    def figures(self) -> dict[str, Any]:
        """Requests answered per second and the desk role's CPU share, so far."""
        wall = time.monotonic() - self.started
        done = int(self.out.read_text() or 0) if self.out.exists() else 0
        return {"requests_per_s": round(done / wall, 1), "desk_cpu_share": round((proc_cpu(self.desk.pid) - self.cpu0) / wall, 3), "wall_s": round(wall, 1)}


@contextlib.contextmanager
def busy_desk(setup: Setup, ctx: RunContext, connections: int = 8) -> Iterator[DeskLoad]:
    http_port = free_port()
    desk = Server(
        "hotline desk role",
        [sys.executable, "-m", "hotline", "-c", str(ctx.config), "serve", "--role", "desk", "--http-port", str(http_port)],
        0,
        setup.tmp / f"desk-{http_port}.log",
        http_port=http_port,
    )
    desk.start()
    out = setup.tmp / f"deskload-{http_port}.count"
    # The browsers would be elsewhere: the load generator yields the CPU (nice 10) so that it
    # stands in for the desk's work, not for a third competitor of the IVR.
    load = subprocess.Popen(["nice", "-n", "10", sys.executable, str(Path(__file__).resolve()), "_child", "deskload", str(http_port), str(connections), str(out)], cwd=ROOT)
    try:
        time.sleep(2)  # the desk at full load before the calls start
        yield DeskLoad(desk, load, out)
    finally:
        load.send_signal(signal.SIGTERM)
        load.wait(timeout=30)
        desk.stop()


def child_deskload(port: int, connections: int, out: str) -> int:
    """GET /desk/login (a rendered page) and /healthz over `connections` keep-alive
    connections as fast as the desk answers; the count of answers goes to `out`."""
    import http.client
    import threading

    done = [0]
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())

    def hammer() -> None:
        conn = http.client.HTTPConnection(HOST, port, timeout=10)
        paths = ("/desk/login", "/desk/login", "/healthz")
        k = 0
        while not stop.is_set():
            try:
                conn.request("GET", paths[k % 3])
                conn.getresponse().read()
                done[0] += 1
                k += 1
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection(HOST, port, timeout=10)

    threads = [threading.Thread(target=hammer, daemon=True) for _ in range(connections)]
    for thread in threads:
        thread.start()
    while not stop.wait(0.5):
        Path(out).write_text(str(done[0]))
    Path(out).write_text(str(done[0]))
    return 0


def start_baseline(setup: Setup, kind: str, options: dict[str, Any] | None = None) -> tuple[Server, RunContext]:
    port = free_port()
    label = {"bare": "hotline.agi.fastagi alone", "panoramisk": "panoramisk 1.4"}[kind]
    argv = [sys.executable, str(Path(__file__).resolve()), "_child", kind, str(port), json.dumps(options or {})]
    server = Server(label, argv, port, setup.tmp / f"{kind}-{port}.log")
    server.start()
    return server, RunContext(server, "fastagi", port=port)


def cross_check(ctx: RunContext, tickets: list[str], generator_lines: dict[str, list[str]]) -> dict[str, Any]:
    """The project's Asterisk peer (hotline/simulator/agi.py) plays each path once against the same
    server: the server must send it the same command lines as to the load generator."""
    from hotline.simulator.agi import Action, Press, Silence

    scripts: dict[str, list[Action]] = {"silent": [], "status": [Silence(), Press("1"), Press(tickets[0] + "#")], "emergency": [Silence(), Press("2")]}
    out: dict[str, Any] = {}
    for path, actions in scripts.items():
        record = AsteriskPeer(actions, callerid="13900000000", dnid="12319").call_fastagi(HOST, ctx.port, "ivr")
        peer_lines = [c.raw.decode("utf-8") for c in record.commands]
        mine = generator_lines.get(path)
        if path == "status" and mine is not None:
            # Generator calls key in other tickets: compare with the number masked.
            peer_lines = [line.replace(tickets[0], "<ticket>") for line in peer_lines]
            mine = [next((line.replace(t, "<ticket>") for t in tickets if t in line), line) for line in mine]
        out[path] = {"same_lines": peer_lines == mine, "peer_problems": record.problems, "server_closed": record.server_closed, "commands": len(peer_lines)}
    return out


def shared_tool(ctx: RunContext, n: int) -> dict[str, Any] | None:
    """../shared/tools/asterisk_peer.py --load N, run (never imported) as a cross-check."""
    tool = ROOT.parent / "shared" / "tools" / "asterisk_peer.py"
    if not tool.exists():
        return None
    done = subprocess.run(
        ["python3", str(tool), "--host", HOST, "--port", str(ctx.port), "--script", "ivr", "--caller", "[]", "--callerid", "13912345678", "--load", str(n), "--json"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    try:
        data = json.loads(done.stdout)
    except ValueError:
        return {"error": (done.stdout + done.stderr)[-400:]}
    keep = ("sessions", "sessions_per_s", "wall_s", "think_ms", "connect_ms", "session_ms", "errors", "sessions_with_problems", "agistatus", "peer_cpu_s")
    return {k: data.get(k) for k in keep}


def profile_summary(path: Path, top: int = 30) -> tuple[str, dict[str, float]]:
    """Top functions by own time, idle waits left out, and own time grouped by package."""
    import io
    import pstats

    stats = pstats.Stats(str(path))
    idle = ("poll", "acquire", "wait", "select", "sleep", "epoll")
    groups: dict[str, float] = {}
    busy_total = 0.0
    rows = []
    for (file, line, func), (cc, nc, tt, ct, callers) in stats.stats.items():  # type: ignore[attr-defined]
        if file == "~" and any(word in func for word in idle):
            continue
        busy_total += tt
        rows.append((tt, ct, nc, f"{file}:{line}({func})"))
        if "sqlalchemy" in file:
            group = "sqlalchemy"
        elif file == "~" and "sqlite3" in func:
            group = "sqlite3 (C)"
        elif "twisted" in file:
            group = "twisted"
        elif "/ivr/" in file:
            group = "ivr (ours)"
        elif "/hotline/" in file:
            group = "hotline (ours)"
        elif "prometheus_client" in file:
            group = "prometheus_client"
        elif "json" in file or "json" in func:
            group = "json"
        elif file == "~":
            group = "other builtins"
        else:
            group = "other python (stdlib …)"
        groups[group] = groups.get(group, 0.0) + tt
    rows.sort(reverse=True)
    out = io.StringIO()
    out.write(f"busy own time (idle waits excluded): {busy_total:.2f} s\n\nby package:\n")
    for group, seconds in sorted(groups.items(), key=lambda kv: -kv[1]):
        out.write(f"  {group:<28}{seconds:8.2f} s  {100 * seconds / busy_total:5.1f} %\n")
    out.write(f"\ntop {top} functions by own time:\n  {'own s':>8} {'cum s':>8} {'calls':>9}  function\n")
    for tt, ct, nc, where in rows[:top]:
        out.write(f"  {tt:8.3f} {ct:8.3f} {nc:9d}  {where.replace(str(ROOT) + '/', '')}\n")
    cumulative = io.StringIO()
    pstats.Stats(str(path), stream=cumulative).sort_stats("cumulative").print_stats(40)
    text = out.getvalue() + "\n\nby cumulative time (all threads merged):\n" + cumulative.getvalue().replace(str(ROOT) + "/", "")
    return text, {g: round(100 * s / busy_total, 1) for g, s in groups.items()}


def fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return str(value)


def socket_figures(row: dict[str, Any]) -> str:
    """Turnaround at the generator's socket: p50 / p99 (p99 at ≥ 90 % open, held runs)."""
    turn = row.get("turnaround_socket_ms")
    if not turn:
        return "–"
    full = row.get("turnaround_socket_at_90pct_open_ms") if row["mode"] == "held" else None
    return f"{fmt(turn['p50'], 3)} / {fmt(turn['p99'], 3)}" + (f" ({fmt(full['p99'], 3)})" if full else "")


def print_table(rows: list[dict[str, Any]]) -> None:
    header = f"{'run':<44}{'N':>5}{'done':>6}{'as scr.':>8}{'calls/s':>9}{'rec./s':>8}{'1st cmd p50/p99 ms':>21}{'turnaround p50/p99 ms':>24}{'p99 ≥90% open':>14}{'at socket p50/p99 (≥90%)':>27}{'CPU ms/call':>12}{'RSS KiB/sess':>13}{'gen CPU':>9}{'others':>8}"
    print("\n" + header)
    print("-" * len(header))
    for row in rows:
        first, turn = row["first_command_ms"], row["turnaround_ms"]
        cpu = row.get("server_cpu_ms_per_call", row.get("cpu_ms_per_call"))
        print(
            f"{row['name']:<44}{row['n']:>5}{row['calls_completed']:>6}{row['calls_ok']:>8}{fmt(row['calls_per_s'] if row['mode'] != 'held' else None):>9}{fmt(row.get('recorded_per_s') if row['mode'] != 'held' else None):>8}"
            f"{fmt(first['p50'], 2) + ' / ' + fmt(first['p99'], 2):>21}{fmt(turn['p50'], 3) + ' / ' + fmt(turn['p99'], 3):>24}"
            f"{fmt(row['turnaround_at_90pct_open_ms']['p99'] if row['mode'] == 'held' else None, 3):>14}"
            f"{socket_figures(row):>27}"
            f"{fmt(cpu, 2):>12}{fmt(row.get('rss_per_session_kib')):>13}{fmt(row.get('generator_cpu_share', 0) * 100, 0) + ' %':>9}{fmt(row.get('machine', {}).get('others_core_s'), 1) + ' s':>8}"
        )
        if row["failures"]:
            print(f"{'':<6}not ok: {row['failures']}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", default="100,500,1000", help="the N values")
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite", help="postgresql: a server of its own (tests/pgserver.py), its CPU reported as database_cpu_ms_per_call")
    parser.add_argument("--procs", type=int, default=1, help="load generator processes")
    parser.add_argument("--ramp", type=float, default=5.0, help="seconds over which the ramp mode starts its N calls")
    parser.add_argument("--held-rate", type=float, default=10.0, help="held mode: calls started per second (released at 4× that)")
    parser.add_argument("--steady-calls", type=int, default=300, help="held mode: calls that come and go while N stay open")
    parser.add_argument("--prompt-ms", type=int, default=1000)
    parser.add_argument("--press-ms", type=int, default=400)
    parser.add_argument("--keying-ms", type=int, default=1500)
    parser.add_argument("--classic-calls", type=int, default=20, help="classic script: calls one after another")
    parser.add_argument("--classic-concurrent-calls", type=int, default=40)
    parser.add_argument("--classic-concurrency", type=int, default=4)
    parser.add_argument("--profile", type=int, default=500, help="N of the cProfile runs (0: none)")
    parser.add_argument("--busy-desk", action="store_true", help="repeat each held run with the desk role on the same config kept busy by an HTTP load (`_child deskload`)")
    parser.add_argument("--profile-mode", choices=("burst", "held"), default="burst", help="the mode of the cProfile runs")
    parser.add_argument("--diagnose", type=int, default=500, help="N of the runs with pool_size=1 and a 0.5 ms switch interval (0: none)")
    parser.add_argument("--variants", default="", help="--diagnose: only these variants, by label, comma-separated (default: all)")
    parser.add_argument("--shared-tool", type=int, default=500, help="N for the ../shared/tools cross-check (0: none)")
    parser.add_argument("--no-baselines", action="store_true", help="only `hotline serve`: no FastAGI-alone, panoramisk or classic-script runs")
    parser.add_argument("--out", default="ivr_calls", help="name of the JSON written to bench/out/")
    parser.add_argument("--runs", default="mixed-held,mixed-burst,mixed-ramp,silent-held,silent-burst", help="which runs of `hotline serve` per N (paths-mode)")
    args = parser.parse_args()
    runs = [tuple(item.split("-", 1)) for item in args.runs.split(",") if item]
    sizes = [int(x) for x in args.calls.split(",") if x]
    held = Pace(prompt_ms=args.prompt_ms, press_ms=args.press_ms, keying_ms=args.keying_ms, waits=True, hold=True)
    instant = Pace()
    OUT.mkdir(exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="hotline-ivr-bench-"))
    results: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.processor() or platform.platform()}",
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "load_average_at_start": load_average(),
        "args": vars(args),
        "mix": dict(MIX),
        "runs": [],
    }
    rows: list[dict[str, Any]] = results["runs"]
    servers: list[Server] = []

    def record(row: dict[str, Any]) -> dict[str, Any]:
        row["load_average"] = load_average()
        rows.append(row)
        turn = row["turnaround_ms"]
        print(
            f"  {row['name']:<34} N={row['n']:<5} done {row['calls_completed']}/{row['n']} (as scripted {row['calls_ok']})  {fmt(row['calls_per_s'])} calls/s  turnaround p50 {fmt(turn['p50'], 3)} p99 {fmt(turn['p99'], 3)} ms (at socket {socket_figures(row)})  srv CPU {fmt(row.get('server_cpu_ms_per_call', row.get('cpu_ms_per_call')), 2)} ms/call"
            + (f"  RSS {fmt(row.get('rss_per_session_kib'))} KiB/session" if row.get("rss_per_session_kib") is not None else "")
            + (f"  database CPU {row['database_cpu_ms_per_call']} ms/call" if row.get("database_cpu_ms_per_call") is not None else "")
            + (f"  not ok {row['failures']}" if row["failures"] else "")
            + f"  steal {row.get('machine', {}).get('steal_share', 0) * 100:.0f} %",
            flush=True,
        )
        return row

    pg = None
    try:
        if args.database == "postgresql":
            from tests.pgserver import PostgresServer

            pg = PostgresServer()
            pg.start()
        setup = Setup(tmp, pg)
        print(f"setup in {tmp}: hotline init --no-input, {TICKETS} tickets", flush=True)
        setup.prepare()
        for n in sizes:
            print(f"\nN = {n}", flush=True)
            server, ctx = start_hotline(setup, f"hotline-{n}")
            servers.append(server)
            warm = run_load(ctx, name="warm-up", n=20, mode="burst", paths="mixed", pace=instant, procs=1, tickets=setup.tickets)
            if "cross_check" not in results:
                results["cross_check"] = {"hotline/simulator/agi.py": cross_check(ctx, setup.tickets, warm["lines"])}
                results["silent_lines_match_baselines"] = warm["lines"].get("silent") == list(SILENT_FLOW)
                print(
                    f"  cross-check with hotline/simulator/agi.py: {results['cross_check']['hotline/simulator/agi.py']}; baselines send the same lines: {results['silent_lines_match_baselines']}",
                    flush=True,
                )

            def our_run(paths: str, mode: str, suffix: str = "") -> dict[str, Any]:
                return record(
                    run_load(
                        ctx,
                        name=f"hotline serve, {paths}, {mode}{suffix}",
                        n=n,
                        mode=mode,
                        paths=paths,
                        pace=held if mode == "held" else instant,
                        procs=args.procs,
                        tickets=setup.tickets,
                        rate=args.held_rate if mode == "held" else 0.0,
                        ramp=args.ramp if mode == "ramp" else 0.0,
                        steady=args.steady_calls,
                    )
                )

            for paths, mode in runs:
                our_run(paths, mode)
            for paths, mode in runs if args.busy_desk else ():
                if mode == "held":
                    with busy_desk(setup, ctx) as load:
                        row = our_run(paths, mode, ", desk busy")
                        row["desk_load"] = load.figures()
                        print(f"  desk role kept busy meanwhile: {row['desk_load']}", flush=True)
            server.stop()
            if not args.no_baselines:
                for kind in ("bare", "panoramisk"):
                    server, ctx = start_baseline(setup, kind)
                    servers.append(server)
                    run_load(ctx, name="warm-up", n=20, mode="burst", paths="silent", pace=instant, procs=1, tickets=setup.tickets)
                    record(
                        run_load(
                            ctx,
                            name=f"{server.kind}, silent, held",
                            n=n,
                            mode="held",
                            paths="silent",
                            pace=held,
                            procs=args.procs,
                            tickets=setup.tickets,
                            rate=args.held_rate,
                            steady=args.steady_calls,
                        )
                    )
                    record(run_load(ctx, name=f"{server.kind}, silent, burst", n=n, mode="burst", paths="silent", pace=instant, procs=args.procs, tickets=setup.tickets))
                    server.stop()

        if not args.no_baselines and (args.classic_calls or args.classic_concurrent_calls):
            print("\nclassic AGI script, spawned per call", flush=True)
            db = setup.database("classic")
            config = setup.config("classic", db, free_port(), free_port())
            classic = RunContext(None, "classic", config=str(config))
            if args.classic_calls:
                record(
                    run_load(
                        classic, name="classic script, mixed, 1 at a time", n=args.classic_calls, mode="burst", paths="mixed", pace=instant, procs=1, tickets=setup.tickets, concurrency=1, deadline=600
                    )
                )
            if args.classic_concurrent_calls:
                record(
                    run_load(
                        classic,
                        name=f"classic script, mixed, {args.classic_concurrency} at a time",
                        n=args.classic_concurrent_calls,
                        mode="burst",
                        paths="mixed",
                        pace=instant,
                        procs=1,
                        tickets=setup.tickets,
                        concurrency=args.classic_concurrency,
                        deadline=600,
                    )
                )

        if args.shared_tool:
            server, ctx = start_hotline(setup, "hotline-shared-tool")
            servers.append(server)
            run_load(ctx, name="warm-up", n=20, mode="burst", paths="mixed", pace=instant, procs=1, tickets=setup.tickets)
            wait_idle(server.pid)
            results["shared_tool_cross_check"] = {"n": args.shared_tool, "caller": "silent", "result": shared_tool(ctx, args.shared_tool)}
            print(f"\n../shared/tools/asterisk_peer.py --load {args.shared_tool} (silent): {results['shared_tool_cross_check']['result']}", flush=True)
            server.stop()

        if args.diagnose:
            n = args.diagnose
            print(f"\ndiagnostics at N = {n}: the same `hotline serve`, one thing changed or recorded", flush=True)
            gc_log = tmp / "gc-pauses.json"
            variants: list[tuple[str, dict[str, Any]]] = [
                ("no change", {}),
                ("GC pauses recorded", {"options": {"gc_log": str(gc_log)}}),
                ("pool_size=1", {"pool_size": 1}),
                # The service sets 0.5 ms itself (hotline.storage.dbpool.SWITCH_INTERVAL).
                ("switch interval 0.1 ms", {"options": {"switchinterval": 0.0001}}),
                ("gc.freeze() after start", {"options": {"gc_freeze": True}}),
                ("call-log writes skipped", {"options": {"skip_calllog": True}}),
                ("call log on a thread", {"options": {"calllog_thread": True}}),
            ]
            if args.variants:
                wanted = {v.strip() for v in args.variants.split(",")}
                variants = [v for v in variants if v[0] in wanted]
            for label, kwargs in variants:
                server, ctx = start_hotline(setup, "hotline-" + "".join(c if c.isalnum() else "-" for c in label), **kwargs)
                servers.append(server)
                run_load(ctx, name="warm-up", n=20, mode="burst", paths="mixed", pace=instant, procs=1, tickets=setup.tickets)
                held_row = record(
                    run_load(
                        ctx,
                        name=f"hotline serve, {label}, mixed, held",
                        n=n,
                        mode="held",
                        paths="mixed",
                        pace=held,
                        procs=args.procs,
                        tickets=setup.tickets,
                        rate=args.held_rate,
                        steady=args.steady_calls,
                    )
                )
                burst_row = record(run_load(ctx, name=f"hotline serve, {label}, mixed, burst", n=n, mode="burst", paths="mixed", pace=instant, procs=args.procs, tickets=setup.tickets))
                server.stop()
                if "gc_log" in kwargs.get("options", {}) and gc_log.exists():
                    results["gc_pauses"] = {"runs": [held_row["name"], burst_row["name"], "warm-up"], "pauses": json.loads(gc_log.read_text())}
                    print(f"  GC pauses over these runs: {results['gc_pauses']['pauses']}", flush=True)

        if args.profile:
            n = args.profile
            results["profiles"] = {}
            for label, timer, kind in (("hotline-cpu", "cpu", "hotline"), ("hotline-wall", "wall", "hotline"), ("bare-cpu", "cpu", "bare")):
                path = OUT / f"ivr_calls_{label}.prof"
                options = {"profile": str(path), "timer": timer}
                if kind == "hotline":
                    server, ctx = start_hotline(setup, f"profiled-{label}", options=options)
                else:
                    server, ctx = start_baseline(setup, "bare", options)
                servers.append(server)
                paths = "mixed" if kind == "hotline" else "silent"
                run_load(ctx, name="warm-up", n=20, mode="burst", paths=paths, pace=instant, procs=1, tickets=setup.tickets)
                mode = args.profile_mode
                extra: dict[str, Any] = {"rate": args.held_rate, "steady": args.steady_calls} if mode == "held" else {}
                row = run_load(
                    ctx,
                    name=f"{server.kind} under cProfile ({timer}), {paths}, {mode}",
                    n=n,
                    mode=mode,
                    paths=paths,
                    pace=held if mode == "held" else instant,
                    procs=args.procs,
                    tickets=setup.tickets,
                    **extra,
                )
                server.stop(timeout=180)
                entry: dict[str, Any] = {k: row.get(k) for k in ("n", "calls_ok", "calls_per_s", "server_cpu_ms_per_call", "server_reactor_thread_share", "turnaround_ms", "failures")}
                if path.exists():
                    text, shares = profile_summary(path)
                    (OUT / f"ivr_calls_profile_{label}.txt").write_text(text, encoding="utf-8")
                    entry["shares_percent"] = shares
                    print(f"\ncProfile ({timer} time, every thread) of {server.kind}, {mode} {n} {paths} calls:\n" + text.split("\n\nby cumulative")[0][:2500], flush=True)
                results["profiles"][label] = entry
    finally:
        for server in servers:
            server.stop()
        if pg is not None:
            pg.stop()
        results["load_average_at_end"] = load_average()
        (OUT / f"{args.out}.json").write_text(json.dumps(results, indent=2, ensure_ascii=False), encoding="utf-8")
        logs = OUT / f"{args.out}-server-logs"
        shutil.rmtree(logs, ignore_errors=True)
        for server_log in tmp.rglob("*.log"):
            logs.mkdir(exist_ok=True)
            shutil.copyfile(server_log, logs / server_log.name)
        shutil.rmtree(tmp, ignore_errors=True)

    print_table(rows)
    verdicts = targets(rows, sizes)
    results["targets"] = verdicts
    (OUT / f"{args.out}.json").write_text(json.dumps(results, indent=2, ensure_ascii=False), encoding="utf-8")
    print()
    for line in verdicts["lines"]:
        print(line)
    return 0


def targets(rows: list[dict[str, Any]], sizes: list[int]) -> dict[str, Any]:
    def find(name: str, n: int | None = None) -> dict[str, Any] | None:
        return next((r for r in rows if r["name"] == name and (n is None or r["n"] == n)), None)

    out: dict[str, Any] = {"lines": []}
    lines = out["lines"]
    held500 = find("hotline serve, mixed, held", 500)
    if held500:
        # The server's turnaround ends when its command reaches the caller's socket: what
        # Asterisk, a thread blocked in read() per channel, would see. The generator's loop
        # serves 500 calls in one thread and gets to a line later (its lag is reported);
        # that figure is kept alongside, as seen by the loop.
        socket_full = held500.get("turnaround_socket_at_90pct_open_ms") or {}
        socket_all = held500.get("turnaround_socket_ms") or {}
        p99 = socket_full.get("p99")
        loop_full = held500["turnaround_at_90pct_open_ms"]["p99"]
        loop_all = held500["turnaround_ms"]["p99"]
        out["p99_turnaround_500_ms"] = p99
        out["p99_turnaround_500_all_samples_ms"] = socket_all.get("p99")
        out["p99_turnaround_500_loop_ms"] = loop_full
        out["p99_turnaround_500_loop_all_samples_ms"] = loop_all
        lines.append(
            f"target: p99 turnaround under 2 ms at 500 simultaneous calls (held, mixed, ≥ 450 open) — at the socket p99 {fmt(p99, 3)} ms "
            f"(all samples {fmt(socket_all.get('p99'), 3)} ms; as the generator's loop saw it {fmt(loop_full, 3)} / {fmt(loop_all, 3)} ms, loop lag p99 {fmt(held500['generator_lag_ms']['p99'], 3)} ms): "
            f"{'met' if p99 is not None and p99 < 2 else 'NOT met'}"
        )
    classic = [r for r in rows if r["server"] == "classic" and r["calls_per_s"]]
    if classic:
        best = max(r["calls_per_s"] for r in classic)
        out["classic_best_calls_per_s"] = best
        for n in sizes:
            row = find("hotline serve, mixed, burst", n)
            if row and row["calls_per_s"]:
                ratio = row["calls_per_s"] / best
                out[f"setup_ratio_burst_{n}"] = round(ratio, 1)
                lines.append(
                    f"target: set-up rate ≥ 20× the classic script — N={n} burst: {row['calls_per_s']:.1f} vs {best:.2f} calls/s (classic, best of its runs) = {ratio:.0f}×: {'met' if ratio >= 20 else 'NOT met'}"
                )
                if row.get("recorded_per_s"):
                    out[f"recorded_ratio_burst_{n}"] = round(row["recorded_per_s"] / best, 1)
                    lines.append(
                        f"  (counting until every call record is written: {row['recorded_per_s']:.1f} calls/s = {row['recorded_per_s'] / best:.0f}×; the classic script writes its record before it exits)"
                    )
            ramp = find("hotline serve, mixed, ramp", n)
            if ramp and ramp["calls_per_s"]:
                lines.append(f"  (ramp at N={n}: {n / ramp['ramp_s']:.0f} calls/s offered, {ramp['calls_per_s']:.1f} completed per second)")
    # "Not slower than panoramisk": like for like, our FastAGI server and panoramisk's running
    # the same small flow (the wording); the whole service, which also keeps the call
    # record in a database, is compared with the same panoramisk run for context.
    for label, server in (("FastAGI layer, same small flow", "hotline.agi.fastagi alone"), ("whole service, the silent caller", "hotline serve")):
        for n in sizes:
            ours, theirs = find(f"{server}, silent, burst", n), find("panoramisk 1.4, silent, burst", n)
            ours_held, theirs_held = find(f"{server}, silent, held", n), find("panoramisk 1.4, silent, held", n)
            if ours and theirs and ours["calls_per_s"] and theirs["calls_per_s"]:
                lines.append(
                    f"target: not slower than panoramisk ({label}) — N={n} burst calls/s {ours['calls_per_s']:.1f} vs {theirs['calls_per_s']:.1f}: {'met' if ours['calls_per_s'] >= theirs['calls_per_s'] else 'NOT met'}"
                )
            if ours_held and theirs_held:
                for where, key in (("at the socket", "turnaround_socket_ms"), ("as the loop saw it", "turnaround_ms")):
                    a, b = ours_held.get(key), theirs_held.get(key)
                    if not a or not b:
                        continue
                    verdict = "met" if (a["p50"] or 0) <= (b["p50"] or 0) and (a["p99"] or 0) <= (b["p99"] or 0) else "NOT met"
                    lines.append(
                        f"target: not slower than panoramisk ({label}) — N={n} held turnaround {where} p50/p99 {fmt(a['p50'], 3)}/{fmt(a['p99'], 3)} vs {fmt(b['p50'], 3)}/{fmt(b['p99'], 3)} ms: {verdict}"
                    )
    return out


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "_child":
        kind = sys.argv[2]
        if kind == "bare":
            raise SystemExit(child_bare(int(sys.argv[3]), json.loads(sys.argv[4])))
        if kind == "panoramisk":
            raise SystemExit(child_panoramisk(int(sys.argv[3])))
        if kind == "serve":
            raise SystemExit(child_serve(sys.argv[3], json.loads(sys.argv[4])))
        if kind == "deskload":
            raise SystemExit(child_deskload(int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]))
        raise SystemExit(f"unknown child {kind!r}")
    raise SystemExit(main())
