"""The call-log journal: call records survive a database that is briefly away.

`CallLog.submit(operation, arguments)` runs one named operation (`hotline.calllog.records.OPERATIONS`,
plus what the composition root adds, e.g. a voicemail ticket) through the injected session
runner (`DatabasePool.write` in the service, inline in the classic script and tests). When the
database is unreachable or does not answer in time (`hotline.storage.dbpool.is_unreachable`),
the operation is appended as one fsync'd JSON line to this process's file in `ivr.journal_dir`
and replayed when the database answers again (every `retry_seconds` on the injected clock).

Ordering: operations of one `uniqueid` run one after another; once anything is journalled,
everything is until the replay has caught up, so the journal never overtakes itself. File work
runs through the injected `disk` runner (the pool's one journal thread in the service: in
order, and never an fsync on the reactor).

`submit_batch(uniqueid, operations)` writes one call's operations in one transaction, or
journals them as one line; a batch that fails for a reason of its own is written again one
operation at a time, so one bad operation costs only itself.

Delivery is at least once: the replay records each group's end offset (fsync'd) in a `.done`
file, so a restart resumes where it stopped, and a crash between a commit and that record
replays the group. That costs nothing: every operation carries its own id, which its timeline
event keeps (`call_events.op_id`), and the others (a message's ticket, a callback request)
find what the first run made. Several processes may share the directory: each locks its own
file; a file whose lock is free belongs to a process that has gone, and the next replay
adopts it.
"""

from __future__ import annotations

import enum
import fcntl
import inspect
import json
import logging
import os
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Protocol, TypeVar

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from sqlalchemy.orm import Session
from twisted.internet.defer import Deferred, DeferredList, DeferredLock, maybeDeferred, succeed
from twisted.python.failure import Failure

from hotline.calllog import records as calls
from hotline.storage.db import Database
from hotline.storage.dbpool import Keyed, is_unreachable

__all__ = ["CallLog", "CallLogWriter", "Entries", "Outcome", "Submitted", "SyncCallLog", "encode", "is_unreachable", "journal_families", "journal_path", "operations_for", "spill", "sync_run"]

log = logging.getLogger(__name__)
T = TypeVar("T")

#: `run(work)` runs `work(session)` in one transaction and returns a Deferred of its result.
SessionRun = Callable[[Callable[[Session], Any]], "Deferred[Any]"]

JOURNAL_PREFIX = "calllog-"
#: The entry name of a batch: {"uniqueid": …, "operations": [{"id", "op", "args"}, …]}.
BATCH = "batch"
REJECTED_NAME = "rejected.jsonl"


def sync_run(database: Database) -> SessionRun:
    """A session runner for code without a reactor (classic AGI, tests): runs at once."""

    def run(work: Callable[[Session], T]) -> Deferred[T]:
        return maybeDeferred(database.run, work)

    return run


def operations_for(config: Any) -> dict[str, Callable[..., Any]]:
    """The call log's operations: the call record's, and the two the IVR adds (a message's
    ticket, a queue-callback request), whose rules come from the config."""
    from hotline.calllog import callbacks
    from hotline.tickets import voicemail as messages
    from hotline.tickets.services import TicketPolicy

    return {**calls.OPERATIONS, **callbacks.OPERATIONS, **messages.operations(TicketPolicy.from_config(config))}


def apply_entry(session: Session, operations: Mapping[str, Callable[..., Any]], entry: Mapping[str, Any]) -> Any:
    """Apply one journal entry (an operation, or a batch of them) in `session`."""
    operation = entry["op"]
    if operation == BATCH:
        return [apply_entry(session, operations, item) for item in entry["args"]["operations"]]
    if operations[operation] is calls.OPERATIONS.get(operation):
        return calls.apply(session, operation, entry["args"], op_id=entry.get("id"))
    return operations[operation](session, **entry["args"])


def entries_work(operations: Mapping[str, Callable[..., Any]], entries: list[dict[str, Any]]) -> Keyed:
    """One transaction's work for journal entries: applies them in order, and names their
    calls so that a batch of such works reads all its calls' rows at once (`Keyed`)."""
    keys = tuple({uniqueid for entry in entries if (uniqueid := _uniqueid_of(entry))})
    return Keyed(lambda session: [apply_entry(session, operations, entry) for entry in entries], keys, calls.preload)


def _uniqueid_of(entry: Mapping[str, Any]) -> str | None:
    uniqueid = entry.get("args", {}).get("uniqueid")
    return uniqueid if isinstance(uniqueid, str) else None


def _operations_in(entry: Mapping[str, Any] | None) -> int:
    """How many call-log operations a journal entry carries (a batch: its items; anything
    else, an unreadable line included, counts as one)."""
    if entry is not None and entry["op"] == BATCH and isinstance(entry["args"].get("operations"), list):
        return len(entry["args"]["operations"])
    return 1


#: `disk(fn, *args)` runs file work and returns a Deferred of its result.
DiskRun = Callable[..., "Deferred[Any]"]


def journal_path(config: Any) -> Path:
    """config.ivr.journal_dir, relative to service.data_dir (itself relative to the config file)."""
    path = Path(config.ivr.journal_dir)
    return path if path.is_absolute() else config.data_path(config.ivr.journal_dir)


class Outcome(enum.Enum):
    WRITTEN = "written"
    JOURNALLED = "journalled"
    #: The operation itself failed (not the database): logged, counted, not retried.
    FAILED = "failed"


@dataclass(frozen=True)
class Submitted:
    outcome: Outcome
    #: What the operation returned, when it was written at once.
    value: Any = None


class CallLogWriter(Protocol):
    """What the IVR and the AMI side write call records through: a `CallLog` in this process,
    or `hotline.calllog.child.ChildCallLog`, which hands them to the writer process."""

    def submit(self, operation: str, arguments: Mapping[str, Any]) -> Deferred[Submitted]: ...

    def submit_batch(self, uniqueid: str, operations: Sequence[tuple[str, Mapping[str, Any]]]) -> Deferred[Submitted]: ...

    def start(self) -> None: ...

    def close(self) -> Deferred[Any]: ...

    def register_metrics(self, registry: CollectorRegistry) -> None: ...


def _plain(value: Any) -> Any:
    """`value` as its journal line will read back (what json.loads(json.dumps(value)) gives),
    so a live write and a replay apply the same thing. Built directly: the round trip through
    text cost four times as much, on the reactor, for every operation of every call."""
    kind = type(value)
    if kind is str or kind is int or kind is float or kind is bool or value is None:
        return value  # json writes a float as its repr and reads it back equal (nan and inf too)
    if kind is dict:
        if all(type(k) is str for k in value):
            return {k: _plain(v) for k, v in value.items()}
        return json.loads(json.dumps(value, default=_json_default, ensure_ascii=False))  # keys json turns into text
    if kind is list or kind is tuple:
        return [_plain(v) for v in value]
    return _plain(_json_default(value))


def encode(entry: Mapping[str, Any]) -> bytes:
    """An entry as its journal line: compact JSON and a newline (aware datetimes, dates and
    enums as `_plain` makes them)."""
    return (json.dumps(entry, ensure_ascii=False, separators=(",", ":"), default=_json_default) + "\n").encode("utf-8")


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: call-log times must be aware")
        return value.astimezone(UTC).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    raise TypeError(f"{type(value).__name__} is not JSON-serialisable")


class _JournalFile:
    """One append-only JSON-lines file, locked by its owner, with its replay progress."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path, self.fd = path, fd
        self.done_path = path.with_name(path.name + ".done")
        self._done_fd: int | None = None

    @classmethod
    def create(cls, directory: Path) -> _JournalFile:
        directory.mkdir(parents=True, exist_ok=True)
        # Wall time in the name so adopted files replay oldest first; pid so names never clash.
        path = directory / f"{JOURNAL_PREFIX}{time.time_ns():020d}-{os.getpid()}.jsonl"
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_EXCL, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        _fsync_dir(directory)
        return cls(path, fd)

    @classmethod
    def adopt(cls, path: Path) -> _JournalFile | None:
        """The file, locked, if no live process holds it; None if one does or it is gone."""
        try:
            fd = os.open(path, os.O_RDWR | os.O_APPEND)
        except FileNotFoundError:
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            # Its owner may have finished and deleted it while we waited for the lock.
            if os.stat(path).st_ino != os.fstat(fd).st_ino:
                raise FileNotFoundError(path)
        except (BlockingIOError, FileNotFoundError):
            os.close(fd)
            return None
        return cls(path, fd)

    def append(self, entry: Mapping[str, Any]) -> None:
        self.append_raw(encode(entry))

    def append_raw(self, data: bytes) -> None:
        written = os.write(self.fd, data)
        if written != len(data):
            raise OSError(f"short write to {self.path} ({written} of {len(data)} bytes)")
        os.fsync(self.fd)

    def done_offset(self) -> int:
        try:
            return int(self.done_path.read_text(encoding="ascii").strip() or 0)
        except (FileNotFoundError, ValueError):
            return 0

    def mark_done(self, offset: int) -> None:
        if self._done_fd is None:
            self._done_fd = os.open(self.done_path, os.O_RDWR | os.O_CREAT, 0o600)
        os.pwrite(self._done_fd, f"{offset:020d}\n".encode("ascii"), 0)
        os.fsync(self._done_fd)

    def entries_from(self, offset: int) -> list[tuple[int, dict[str, Any] | None, str]]:
        """(end offset, entry or None if unreadable, raw line) for every complete line."""
        size = os.fstat(self.fd).st_size
        if size <= offset:
            return []
        data = os.pread(self.fd, size - offset, offset)
        out = []
        position = offset
        for raw in data.split(b"\n")[:-1]:  # the part after the last newline is incomplete
            position += len(raw) + 1
            text = raw.decode("utf-8", errors="replace")
            try:
                entry = json.loads(text)
                if not isinstance(entry, dict) or not isinstance(entry.get("op"), str) or not isinstance(entry.get("args"), dict):
                    entry = None
            except ValueError:
                entry = None
            out.append((position, entry, text))
        return out

    def size(self) -> int:
        return os.fstat(self.fd).st_size

    def tail(self, offset: int) -> str:
        size = self.size()
        return os.pread(self.fd, max(0, size - offset), offset).decode("utf-8", errors="replace")

    def remove(self) -> None:
        """Delete the replayed file, then let go of it (unlink first, so nobody adopts it)."""
        for path in (self.done_path, self.path):
            try:
                path.unlink()
            except FileNotFoundError:
                pass
        self.release()

    def release(self) -> None:
        for fd in (self._done_fd, self.fd):
            if fd is not None:
                os.close(fd)
        self._done_fd = None
        self.fd = -1


def spill(directory: Path, lines: Sequence[bytes]) -> None:
    """Append journal lines (each a JSON entry and its newline) to a new journal file,
    fsync'd, and let go of it: the next replay of any process adopts it."""
    journal = _JournalFile.create(directory)
    try:
        journal.append_raw(b"".join(lines))
    finally:
        journal.release()


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Entries:
    """Journal entries of named operations, the one format a live write, a replay and the
    call-log writer's child process all read: an id unique across processes and restarts
    (its timeline event keeps it), the operation, its arguments as plain JSON values, and
    when it was submitted. `plain=False` leaves the arguments as given, for a caller that
    encodes the entry at once (`encode`: the same text either way)."""

    def __init__(self, operations: Mapping[str, Callable[..., Any]], clock: Any = None, *, plain: bool = True) -> None:
        self.operations = operations
        self.clock = clock
        self.plain = plain
        self._timed = {name for name, fn in operations.items() if _takes_at(fn)}
        self._id_prefix, self._ids = uuid.uuid4().hex[:16], 0

    def entry(self, operation: str, arguments: Mapping[str, Any], *, stamped: bool = True) -> dict[str, Any]:
        """The entry of one operation; unstamped inside a batch, whose operations share the
        batch's submission time. An operation that takes `at` and was given none is stamped now."""
        if operation not in self.operations:
            raise ValueError(f"unknown call-log operation {operation!r} (known: {', '.join(sorted(self.operations))})")
        args = dict(arguments)
        if operation in self._timed and args.get("at") is None:
            args["at"] = self.now()
        entry = {"id": self.next_id(), "op": operation, "args": _plain(args) if self.plain else args}
        if stamped:
            entry["submitted"] = self.now().isoformat()
        return entry

    def batch(self, uniqueid: str, operations: Sequence[tuple[str, Mapping[str, Any]]]) -> dict[str, Any]:
        """One entry carrying several operations of one call (one transaction, one line)."""
        inner = [self.entry(operation, arguments, stamped=False) for operation, arguments in operations]
        return {"id": self.next_id(), "op": BATCH, "args": {"uniqueid": uniqueid, "operations": inner}, "submitted": self.now().isoformat()}

    def next_id(self) -> str:
        """This maker's random prefix and a counter, 32 hex digits like a uuid4's, without a
        system call each."""
        self._ids += 1
        return f"{self._id_prefix}{self._ids:016x}"

    def seconds(self) -> float:
        return float(self.clock.seconds()) if self.clock is not None else time.time()

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.seconds(), UTC)


class CallLog:
    """Writes call-log operations to the database, or to the journal while it is away.

    Args:
        run: session runner (`DatabasePool.write`, or `sync_run(database)`).
        journal_dir: where journal files live (shared by every process of the installation).
        clock: `IReactorTime` for the retry timer and for the time of operations that were
            submitted without one; None for a process without a reactor (no timer: call
            `replay()` or `close()` yourself).
        operations: name → function(session, **arguments); default `hotline.calllog.records.OPERATIONS`.
        retry_seconds: how often to try the database again while journalling.
        disk: runs file work, `disk(fn, *args)` → Deferred (`DatabasePool.disk`); default inline.
    """

    def __init__(
        self,
        run: SessionRun,
        journal_dir: Path,
        *,
        clock: Any = None,
        operations: Mapping[str, Callable[..., Any]] | None = None,
        retry_seconds: float = 15.0,
        disk: DiskRun | None = None,
    ) -> None:
        self._run = run
        self._disk: DiskRun = disk if disk is not None else maybeDeferred
        self.journal_dir = Path(journal_dir)
        self.clock = clock
        self.operations = dict(operations if operations is not None else calls.OPERATIONS)
        if BATCH in self.operations:
            raise ValueError(f"{BATCH!r} is the journal's own entry name, not an operation name")
        self.retry_seconds = retry_seconds
        self.entries = Entries(self.operations, clock)
        self._locks: dict[str, DeferredLock] = {}
        self._in_flight: set[Deferred[Submitted]] = set()
        #: Touched only by file work (on the journal thread in the service).
        self._own: _JournalFile | None = None
        self._journalling = False
        self._appending = 0
        self._replaying: Deferred[int] | None = None
        self._timer: Any = None
        self.failed_operations = 0
        self.replayed_operations = 0
        #: (when submitted, operations) per line not yet written: of our journal, and of the
        #: adopted one being replayed; oldest first.
        self._waiting: deque[tuple[float, int]] = deque()
        self._adopted: deque[tuple[float, int]] = deque()

    # -- lifecycle

    def start(self) -> None:
        """Arm the periodic retry (which also adopts journals left by processes that ended)."""
        if self.clock is not None and self._timer is None:
            self._timer = self.clock.callLater(0, self._tick)

    def stop(self) -> None:
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None

    def close(self) -> Deferred[Any]:
        """Stop the timer, wait for what was submitted, try once more to write what is
        journalled, and let go of the file: what is still there is adopted by the next
        process that replays."""
        self.stop()
        d: Deferred[Any] = DeferredList(list(self._in_flight), consumeErrors=True)
        d.addCallback(lambda _: self.replay() if self._journalling else None)
        d.addBoth(lambda _: self._disk(self._release))
        return d

    def _release(self) -> None:
        if self._own is not None:
            self._own.release()
            self._own = None

    @property
    def journalling(self) -> bool:
        return self._journalling

    def pending(self) -> int:
        """Operations journalled (by us, or in the adopted file being replayed) and not yet written."""
        return sum(n for _, n in self._waiting) + sum(n for _, n in self._adopted)

    def oldest_pending_age(self) -> float:
        """Seconds since the oldest operation still in the journal was submitted; 0 if none."""
        firsts = [queue[0][0] for queue in (self._waiting, self._adopted) if queue]
        return max(0.0, self._seconds() - min(firsts)) if firsts else 0.0

    def journal_state(self) -> dict[str, Any]:
        """What /metrics shows of the journal, as plain values (the writer process sends it)."""
        return {"pending": self.pending(), "oldest": round(self.oldest_pending_age(), 3), "replayed": self.replayed_operations, "failed": self.failed_operations, "journalling": self.journalling}

    def register_metrics(self, registry: CollectorRegistry) -> None:
        """The journal's counters in `registry` (the service's /metrics)."""
        registry.register(_JournalMetrics(self))

    # -- submitting

    def submit(self, operation: str, arguments: Mapping[str, Any]) -> Deferred[Submitted]:
        """Write one operation, or journal it; the Deferred never fails for database trouble.

        Arguments must be JSON-friendly (aware datetimes become ISO text); an operation that
        takes `at` and was given none is stamped now, so a replay keeps the real time."""
        entry = self.entries.entry(operation, arguments)
        return self._in_order(str(entry["args"].get("uniqueid") or ""), entry)

    def submit_batch(self, uniqueid: str, operations: Sequence[tuple[str, Mapping[str, Any]]]) -> Deferred[Submitted]:
        """Write several operations of one call in one transaction, or journal them as one
        line; in order with everything else submitted for `uniqueid`. The Submitted's value
        is the list of the operations' results when written."""
        if not operations:
            return succeed(Submitted(Outcome.WRITTEN, []))
        return self._in_order(uniqueid, self.entries.batch(uniqueid, operations))

    def deliver(self, entry: dict[str, Any]) -> Deferred[Submitted]:
        """Write (or journal) an entry another process built (`Entries`), in order with
        everything else for its call; one that can never be applied is set aside at once."""
        problem = self._readable(entry)
        if problem is not None:
            self.failed_operations += 1
            return self._disk(self._reject, encode(entry).decode("utf-8").rstrip("\n"), problem).addCallback(lambda _: Submitted(Outcome.FAILED))
        return self._in_order(str(_uniqueid_of(entry) or ""), entry)

    def _in_order(self, key: str, entry: dict[str, Any]) -> Deferred[Submitted]:
        """Deliver after everything submitted earlier for the same call."""
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = DeferredLock()
        d: Deferred[Submitted] = lock.run(self._deliver, entry)
        self._in_flight.add(d)

        def forget(result: Any) -> Any:
            self._in_flight.discard(d)
            if not lock.locked and not lock.waiting and self._locks.get(key) is lock:
                del self._locks[key]
            return result

        return d.addBoth(forget)

    def _deliver(self, entry: dict[str, Any]) -> Deferred[Submitted]:
        if self._journalling:
            return self._journal(entry)
        d = self._write([entry])
        return d.addCallbacks(lambda values: Submitted(Outcome.WRITTEN, values[0]), self._not_written, errbackArgs=(entry,))

    def _write(self, entries: list[dict[str, Any]]) -> Deferred[list[Any]]:
        """Entries in one transaction; their results."""
        return self._run(entries_work(self.operations, entries))

    def _not_written(self, failure: Failure, entry: dict[str, Any]) -> Submitted | Deferred[Submitted]:
        error = failure.value
        assert error is not None  # a Failure always carries its exception; Twisted types it optional
        if is_unreachable(error):
            if not self._journalling:
                self._journalling = True
                log.warning("call log: database unreachable (%s: %s); journalling to %s", type(error).__name__, _first_line(error), self.journal_dir)
                self._arm_retry()
            return self._journal(entry)
        if entry["op"] == BATCH:
            log.warning("call log: batch for uniqueid %s failed (%s: %s); writing its operations one by one", entry["args"]["uniqueid"], type(error).__name__, _first_line(error))
            return Deferred.fromCoroutine(self._deliver_each(entry))
        self.failed_operations += 1
        log.error("call log: %s for uniqueid %s failed and is dropped: %s: %s", entry["op"], entry["args"].get("uniqueid", "?"), type(error).__name__, _first_line(error))
        return Submitted(Outcome.FAILED)

    async def _deliver_each(self, batch: dict[str, Any]) -> Submitted:
        """A failed batch's operations in their own transactions; the worst outcome wins."""
        outcomes = []
        for item in batch["args"]["operations"]:
            outcomes.append(await self._deliver({**item, "submitted": batch["submitted"]}))
        kinds = {o.outcome for o in outcomes}
        worst = Outcome.FAILED if Outcome.FAILED in kinds else Outcome.JOURNALLED if Outcome.JOURNALLED in kinds else Outcome.WRITTEN
        return Submitted(worst, [o.value for o in outcomes])

    def _readable(self, entry: dict[str, Any] | None) -> str | None:
        """Why a journalled entry can never be applied, or None if it can."""
        if entry is None:
            return "unreadable line"
        if entry["op"] == BATCH:
            items = entry["args"].get("operations")
            if not isinstance(entry["args"].get("uniqueid"), str) or not isinstance(items, list) or not items:
                return "malformed batch"
            for item in items:
                if not isinstance(item, dict) or not isinstance(item.get("op"), str) or not isinstance(item.get("args"), dict):
                    return "malformed batch"
                if item["op"] not in self.operations:
                    return f"unknown operation {item['op']!r} in a batch"
            return None
        if entry["op"] not in self.operations:
            return f"unknown operation {entry['op']!r}"
        return None

    def _journal(self, entry: dict[str, Any]) -> Deferred[Submitted]:
        """Append `entry` to our journal (file work: off the reactor in the service)."""
        self._journalling = True
        self._appending += 1
        submitted = self._seconds()

        def appended(_: Any) -> Submitted:
            self._waiting.append((submitted, _operations_in(entry)))
            return Submitted(Outcome.JOURNALLED)

        def lost(failure: Failure) -> Submitted | Failure:
            if not isinstance(failure.value, OSError):
                return failure
            # Disk full, directory not writable: the call goes on, this operation is lost.
            self.failed_operations += 1
            log.error("call log: cannot journal %s for uniqueid %s to %s: %s", entry["op"], entry["args"].get("uniqueid", "?"), self.journal_dir, failure.value)
            return Submitted(Outcome.FAILED)

        def done(result: Any) -> Any:
            self._appending -= 1
            return result

        return self._disk(self._append, entry).addCallbacks(appended, lost).addBoth(done)

    def _append(self, entry: Mapping[str, Any]) -> None:
        if self._own is None:
            self._own = _JournalFile.create(self.journal_dir)
        self._own.append(entry)

    # -- replay

    def replay(self) -> Deferred[int]:
        """Write journalled operations (adopted files first, then ours) until the database
        fails again or all are written; the number written."""
        if self._replaying is not None:
            return self._replaying
        d = Deferred.fromCoroutine(self._replay())

        def done(result: Any) -> Any:
            self._replaying = None
            return result

        d.addBoth(done)
        if not d.called:
            self._replaying = d
        return d

    async def _replay(self) -> int:
        written = 0
        for path in await self._disk(self._orphans):
            orphan = await self._disk(_JournalFile.adopt, path)
            if orphan is None:
                continue
            count, finished = await self._replay_file(orphan, self._adopted, adopted=True)
            written += count
            self._adopted.clear()
            if not finished:
                await self._disk(orphan.release)
                return written
            await self._disk(orphan.remove)
            log.info("call log: adopted journal %s written (%d operations)", path.name, count)
        while self._journalling:
            own = await self._disk(lambda: self._own)
            if own is not None:
                count, finished = await self._replay_file(own, self._waiting)
                written += count
                if not finished:
                    return written
            # Appends are file work too, in order: one asked for before this finds it has
            # more to read; one asked for after it is still counted in _appending.
            if await self._disk(self._retire, own) and self._appending == 0:
                self._journalling = False
                log.info("call log: database back; journal written (%d operations)", written)
        return written

    def _retire(self, journal: _JournalFile | None) -> bool:
        """Remove our journal if everything in it is written; False if more came."""
        if self._own is not journal:
            return False
        if journal is not None:
            if journal.size() > journal.done_offset():
                return False
            journal.remove()
            self._own = None
        return True

    async def _replay_file(self, journal: _JournalFile, waiting: deque[tuple[float, int]], *, adopted: bool = False) -> tuple[int, bool]:
        """Write the journal's lines, consecutive readable ones together in one transaction
        (up to REPLAY_LINES); (operations written, whether everything was)."""
        written = 0
        while True:
            lines = await self._disk(journal.entries_from, await self._disk(journal.done_offset))
            if adopted:
                waiting.clear()
                waiting.extend((_submitted_at(entry, self._seconds()), _operations_in(entry)) for _, entry, _ in lines)
            if not lines:
                if await self._disk(lambda: journal.size() > journal.done_offset()):
                    # Its writer died (or an append failed) in the middle of a line; appends
                    # and this read are both file work, so it is no append in progress.
                    # Keep the fragment for a person.
                    await self._disk(self._reject, await self._disk(lambda: journal.tail(journal.done_offset())), "incomplete last line")
                    await self._disk(journal.mark_done, await self._disk(journal.size))
                return written, True
            group: list[tuple[int, dict[str, Any], str]] = []
            for index, (end, entry, raw) in enumerate(lines):
                problem = self._readable(entry)
                if problem is None:
                    assert entry is not None
                    group.append((end, entry, raw))
                last = index == len(lines) - 1
                if group and (problem is not None or last or len(group) >= REPLAY_LINES):
                    try:
                        written += await self._replay_group(group)
                    except Exception as error:  # noqa: BLE001 - only an unreachable database gets here
                        assert is_unreachable(error)
                        return written, False
                    await self._disk(journal.mark_done, group[-1][0])
                    for _ in group:
                        if waiting:
                            waiting.popleft()
                    group = []
                if problem is not None:
                    await self._disk(self._reject, raw, problem)
                    await self._disk(journal.mark_done, end)
                    if waiting:
                        waiting.popleft()

    async def _replay_group(self, group: list[tuple[int, dict[str, Any], str]]) -> int:
        """Lines in one transaction; if that fails for a reason of their own, line by line,
        a batch operation by operation, and what still fails is set aside. Raises only when
        the database is unreachable."""
        try:
            await self._write([entry for _, entry, _ in group])
        except Exception as error:
            if is_unreachable(error):
                raise
            if len(group) > 1:
                return sum([await self._replay_group([line]) for line in group])
            _, entry, raw = group[0]
            if entry["op"] == BATCH:
                return sum([await self._replay_group([(0, item, json.dumps(item, ensure_ascii=False, separators=(",", ":")))]) for item in entry["args"]["operations"]])
            self.failed_operations += 1
            await self._disk(self._reject, raw, f"{type(error).__name__}: {_first_line(error)}")
            return 0
        count = sum(_operations_in(entry) for _, entry, _ in group)
        self.replayed_operations += count
        return count

    def _orphans(self) -> list[Path]:
        if not self.journal_dir.is_dir():
            return []
        own = self._own.path if self._own is not None else None
        return sorted(p for p in self.journal_dir.glob(f"{JOURNAL_PREFIX}*.jsonl") if p != own)

    def _reject(self, raw: str, reason: str) -> None:
        """Keep an operation that can never be written where a person can look at it."""
        log.error("call log: journalled operation rejected (%s): %s", reason, raw[:200])
        self.journal_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.journal_dir / REJECTED_NAME, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            os.write(fd, (json.dumps({"reason": reason, "line": raw}, ensure_ascii=False) + "\n").encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)

    # -- timer

    def _arm_retry(self) -> None:
        if self.clock is not None and self._timer is None:
            self._timer = self.clock.callLater(self.retry_seconds, self._tick)

    def _tick(self) -> None:
        self._timer = None

        def again(result: Any) -> Any:
            if isinstance(result, Failure):
                log.error("call log: replay failed: %s", result.getErrorMessage())
            if self.clock is not None and self._timer is None:
                self._timer = self.clock.callLater(self.retry_seconds, self._tick)

        self.replay().addBoth(again)

    def _seconds(self) -> float:
        return self.entries.seconds()


#: Journal lines written together in one transaction by a replay.
REPLAY_LINES = 200


class _JournalMetrics:
    """The journal's state for /metrics: what waits, how old, what was replayed or lost."""

    def __init__(self, calllog: CallLog) -> None:
        self.calllog = calllog

    def collect(self) -> Iterator[Any]:
        return journal_families(self.calllog.journal_state())


def journal_families(state: Mapping[str, Any]) -> Iterator[Any]:
    """The journal's metric families from its state (`CallLog.journal_state`: in this
    process, or as the call-log writer process reported it)."""
    yield GaugeMetricFamily("hotline_calllog_journal_pending_operations", "Call-log operations in the journal, not yet written to the database", value=float(state["pending"]))
    yield GaugeMetricFamily("hotline_calllog_journal_oldest_pending_seconds", "Age of the oldest call-log operation waiting in the journal (0: none)", value=float(state["oldest"]))
    yield CounterMetricFamily("hotline_calllog_journal_replayed_operations", "Call-log operations written to the database from the journal", value=float(state["replayed"]))
    yield CounterMetricFamily("hotline_calllog_failed_operations", "Call-log operations dropped: refused by the database for a reason of their own, or not journalled", value=float(state["failed"]))


def _submitted_at(entry: Mapping[str, Any] | None, default: float) -> float:
    try:
        return datetime.fromisoformat(str(entry["submitted"])).timestamp()  # type: ignore[index]
    except (TypeError, KeyError, ValueError):
        return default


class SyncCallLog(CallLog):
    """The same call log for a process with no reactor (the classic AGI script): every
    operation is written (or journalled) before `submit` returns; no retry timer — the
    script's journal is left for the service to adopt if the database is still away."""

    def __init__(self, database: Database, journal_dir: Path, *, operations: Mapping[str, Callable[..., Any]] | None = None, clock: Any = None) -> None:
        # The clock only stamps operations here (tests pass a virtual one); it arms no timer.
        super().__init__(sync_run(database), journal_dir, clock=clock, operations=operations)

    def start(self) -> None:
        """No timer without a reactor: `replay()` and `close()` are called explicitly."""

    def _arm_retry(self) -> None:
        pass

    def submit_now(self, operation: str, arguments: Mapping[str, Any]) -> Submitted:
        results: list[Submitted | Failure] = []
        self.submit(operation, arguments).addBoth(results.append)
        if not results:
            raise RuntimeError("SyncCallLog used with an asynchronous session runner")
        result = results[0]
        if isinstance(result, Failure):
            result.raiseException()
        return result


def _takes_at(fn: Callable[..., Any]) -> bool:
    try:
        return "at" in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


def _first_line(error: BaseException) -> str:
    original = getattr(error, "orig", None) or error
    text = str(original).strip().splitlines()
    return text[0] if text else ""
