"""`hotline serve` as roles: the supervisor's restarts and backoff, a role killed and brought
back, a clean stop, each role alone (`--role`), /healthz and /metrics per role and gathered,
and several nodes of a role on one real PostgreSQL writing each record once."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import func, select
from twisted.internet.error import ProcessDone, ProcessTerminated
from twisted.internet.protocol import Factory
from twisted.internet.task import Clock
from twisted.python.failure import Failure

from hotline import plugins
from hotline.supervisor import REPORT_FD, Supervisor, backoff
from hotline.web.aggregate import merge_expositions

HOTLINE = [sys.executable, "-m", "hotline"]


# -- the supervisor on a clock, with processes that exist only as protocol objects


class FakeTransport:
    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.signals: list[str] = []

    def signalProcess(self, name: str) -> None:
        self.signals.append(name)


class ProcessClock(Clock):
    """A clock that spawns nothing: it records what the supervisor asked for."""

    def __init__(self) -> None:
        super().__init__()
        self.spawned: list[Any] = []
        self.stopped = False

    def spawnProcess(
        self,
        proto: Any,
        executable: str,
        args: list[str],
        env: Any = None,
        childFDs: Any = None,
        **kw: Any,
    ) -> FakeTransport:
        transport = FakeTransport(len(self.spawned) + 100)
        proto.makeConnection(transport)
        self.spawned.append((proto, args, childFDs))
        return transport

    def stop(self) -> None:
        self.stopped = True


def supervised(
    roles: tuple[str, ...] = ("ivr", "desk"),
) -> tuple[ProcessClock, Supervisor]:
    clock = ProcessClock()
    supervisor = Supervisor(
        clock,
        roles,
        lambda role: ["hotline", "serve", "--role", role],
        CollectorRegistry(),
    )
    supervisor.start()
    for proto, _, _ in clock.spawned:
        proto.childDataReceived(REPORT_FD, f"ready {proto.role} 127.0.0.1 1\n".encode())
    return clock, supervisor


def killed(proto: Any) -> None:
    proto.processEnded(Failure(ProcessTerminated(signal=signal.SIGKILL)))


def test_backoff_doubles_from_one_second_to_sixty():
    assert [backoff(n) for n in range(9)] == [1, 2, 4, 8, 16, 32, 60, 60, 60]


def test_a_dying_role_is_restarted_with_backoff_reset_once_it_stayed_up():
    clock, supervisor = supervised()
    waits = []
    for _ in range(8):
        killed(supervisor.current["ivr"])
        (restart,) = clock.getDelayedCalls()
        waits.append(restart.getTime() - clock.seconds())
        clock.advance(waits[-1])
        assert supervisor.current["ivr"].role == "ivr" and "desk" in supervisor.current
    assert waits == [1, 2, 4, 8, 16, 32, 60, 60]
    assert supervisor.metrics.restarts.labels("ivr")._value.get() == 8
    clock.advance(supervisor.stable_seconds)  # this run stayed up: the next wait is short again
    killed(supervisor.current["ivr"])
    (restart,) = clock.getDelayedCalls()
    assert restart.getTime() - clock.seconds() == 1
    assert len(clock.spawned) == 2 + 8 and not clock.stopped


def test_a_role_that_never_started_stops_the_service():
    """A port taken or a menu refused would fail again at every restart: stop, say which."""
    clock = ProcessClock()
    supervisor = Supervisor(clock, ("ivr", "desk"), lambda role: [role], CollectorRegistry())
    supervisor.start()
    ivr = supervisor.current["ivr"]
    ivr.processEnded(Failure(ProcessTerminated(exitCode=1)))
    assert clock.stopped and supervisor.failed == "ivr" and clock.getDelayedCalls() == []


def test_stop_terms_every_child_cancels_restarts_and_kills_the_stubborn():
    clock, supervisor = supervised(("ivr", "desk", "workers"))
    killed(supervisor.current["workers"])  # a restart is pending
    ivr, desk = supervisor.current["ivr"], supervisor.current["desk"]
    done = supervisor.stop()
    assert ivr.transport.signals == ["TERM"] and desk.transport.signals == ["TERM"]
    ivr.processEnded(Failure(ProcessDone(0)))
    assert not done.called
    clock.advance(20)  # desk ignored TERM
    assert desk.transport.signals == ["TERM", "KILL"]
    killed(desk)
    assert done.called and clock.getDelayedCalls() == [] and len(clock.spawned) == 3


def test_gathered_metrics_label_every_child_sample_with_its_role():
    own = CollectorRegistry()
    text = '# HELP hotline_db_up up\n# TYPE hotline_db_up gauge\nhotline_db_up 1.0\n# HELP x_total c\n# TYPE x_total counter\nx_total{k="v"} 2.0\n'
    merged = merge_expositions(own, [("ivr", text), ("desk", text.replace("1.0", "0.0"))]).decode()
    assert merged.count("# TYPE hotline_db_up gauge") == 1
    assert 'hotline_db_up{role="ivr"} 1.0' in merged and 'hotline_db_up{role="desk"} 0.0' in merged
    assert 'x_total{k="v",role="ivr"} 2.0' in merged


def test_the_command_line_offers_the_roles_the_composition_root_builds():
    from hotline import cli, service

    assert cli.ROLE_NAMES == service.ROLES


def test_features_plug_in_through_entry_points():
    """Flows by their dialplan name, commands and the call handler: none named in the core."""
    from hotline import dialplan

    assert set(plugins.load(plugins.FLOWS)) == set(dialplan.FLOWS) == {"ivr", "queue_callback"}  # every name the dialplan calls
    assert set(plugins.load(plugins.COMMANDS)) == {"ivr", "asterisk_conf", "admin", "open311"}
    assert set(plugins.load(plugins.WEB)) == {"desk", "open311"}
    assert list(plugins.load(plugins.CALL_HANDLERS)) == ["ivr"]


# -- real processes


#: Run a command the way a shell starts a foreground job: SIGINT at its default. A test run
#: started as a background job of a non-interactive shell inherits SIGINT ignored (POSIX),
#: and a process that starts with SIGINT ignored is meant to stay deaf to Ctrl-C.
_AS_A_TERMINAL_JOB = [
    sys.executable,
    "-c",
    "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); os.execv(sys.argv[1], sys.argv[1:])",
]


class Node:
    """A `hotline serve [...]` process; its stderr (and stdout with `stdout_too`) is read on a
    thread, lines waited for. `env`: added to the environment, which has no HOTLINE_* else."""

    def __init__(self, cwd: Path, *args: str, session: bool = False, env: dict[str, str] | None = None, stdout_too: bool = False) -> None:
        env = {**{k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}, **(env or {})}
        self.proc = subprocess.Popen(
            [*_AS_A_TERMINAL_JOB, *HOTLINE, "serve", *args],
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE if stdout_too else None,
            stderr=subprocess.STDOUT if stdout_too else subprocess.PIPE,
            text=True,
            start_new_session=session,
        )
        self.lines: list[str] = []
        self.changed = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        output = self.proc.stdout or self.proc.stderr
        assert output is not None
        for line in output:
            with self.changed:
                self.lines.append(line)
                self.changed.notify_all()
        with self.changed:
            self.lines.append("")  # EOF
            self.changed.notify_all()

    def wait_for(self, pattern: str, after: int = 0, timeout: float = 60) -> re.Match[str]:
        """The first line from index `after` on that matches; fails at EOF or after `timeout`."""
        deadline = time.monotonic() + timeout
        seen = after
        with self.changed:
            while True:
                for line in self.lines[seen:]:
                    if line == "":
                        raise AssertionError(f"process ended before {pattern!r}:\n{self.log}")
                    found = re.search(pattern, line)
                    if found:
                        return found
                seen = len(self.lines)
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no {pattern!r} within {timeout} s:\n{self.log}")
                self.changed.wait(left)

    @property
    def log(self) -> str:
        return "".join(self.lines)

    def base(self) -> str:
        found = self.wait_for(r"HTTP on http://([\d.]+):(\d+)")
        return f"http://{found[1]}:{found[2]}"

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def node_dir(path: Path, url: str | None = None, extra: str = "") -> Path:
    path.mkdir(parents=True, exist_ok=True)
    db = f'url = "{url}"' if url else 'url = "sqlite:///var/hotline.db"'
    (path / "hotline.toml").write_text(
        f'[database]\n{db}\n[http]\nport = 0\n[fastagi]\nport = 0\n[asterisk]\nvoicemail_dir = "{path / "voicemail"}"\n{extra}',
        encoding="utf-8",
    )
    return path


def init(cwd: Path) -> None:
    result = subprocess.run(
        [*HOTLINE, "init", "--no-input"],
        check=False,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_killed_role_comes_back_and_term_stops_everything(tmp_path):
    """kill -9 of the ivr child: logged, started again, healthy again; then SIGTERM: every
    child gone and the parent exits 0."""
    cwd = node_dir(tmp_path)
    init(cwd)
    node = Node(cwd)
    try:
        base = node.base()
        status, body = get(base + "/healthz")
        assert status == 200 and set(json.loads(body)["roles"]) == {
            "ivr",
            "desk",
            "workers",
        }
        pids = {role: int(node.wait_for(rf"role {role} started \(pid (\d+)\)")[1]) for role in ("ivr", "desk", "workers")}
        mark = len(node.lines)
        os.kill(pids["ivr"], signal.SIGKILL)
        node.wait_for(
            r"role ivr exited \(killed by SIGKILL\); starting it again in 1 s",
            after=mark,
        )
        again = int(node.wait_for(r"role ivr started \(pid (\d+)\)", after=mark)[1])
        assert again != pids["ivr"]
        node.wait_for(r"role ivr ready \(HTTP", after=mark)
        status, body = get(base + "/healthz")
        assert status == 200 and json.loads(body)["roles"]["ivr"] == {
            "status": "ok",
            "database": "ok",
        }
        status, body = get(base + "/metrics")
        assert re.search(r'^hotline_role_restarts_total\{role="ivr"\} 1\.0$', body, re.MULTILINE), body
        assert re.search(
            r'^hotline_ivr_calls_total\{outcome="queued",role="ivr"\} 0\.0$',
            body,
            re.MULTILINE,
        ), body
        pids["ivr"] = again
        # The parent's one port also serves the desk, proxied to the desk role's own port.
        status, body = get(base + "/desk/login?next=/desk/")
        assert status == 200 and "12319" in body and 'name="csrf' in body, body[:300]
        status, body = get(base + "/no-such-page")
        assert status == 404, body[:300]
    finally:
        code = node.stop()
    assert code == 0, node.log
    assert not [role for role, pid in pids.items() if alive(pid)]
    assert "Traceback" not in node.log


@pytest.mark.parametrize("args", [(), ("--role", "desk", "--http-port", "0")], ids=["supervisor", "role"])
def test_ctrl_c_stops_cleanly(tmp_path, args):
    """Ctrl-C in a terminal: SIGINT to the foreground process group. Every process stops and
    `hotline serve` exits 0."""
    cwd = node_dir(tmp_path)
    init(cwd)
    node = Node(cwd, *args, session=True)  # its own process group, as a shell's foreground job
    base = node.base()
    assert get(base + "/healthz")[0] == 200
    children = [int(m) for m in re.findall(r"role \w+ started \(pid (\d+)\)", node.log)]
    os.killpg(node.proc.pid, signal.SIGINT)
    try:
        code = node.proc.wait(timeout=60)
    finally:
        node.stop()
    assert code == 0, node.log
    assert "Traceback" not in node.log and not [pid for pid in children if alive(pid)]


class StallingProxy:
    """A TCP proxy to PostgreSQL that runs `on_first()` when the first connection arrives,
    before it forwards anything: the client is then surely still starting, waiting for it."""

    def __init__(self, target_port: int, on_first: Callable[[], None]) -> None:
        self.target_port, self.on_first = target_port, on_first
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        first = True
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            if first:
                first = False
                self.on_first()
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        with suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        with suppress(OSError):
            sink.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        self.server.close()


@pytest.mark.postgres
@pytest.mark.parametrize("args", [(), ("--role", "workers", "--http-port", "0")], ids=["supervisor", "role"])
def test_term_during_start_up_still_exits_0(tmp_path, pg_server, pg_template, args):
    """A launcher that sends SIGTERM while the service is still starting (here: while it waits
    for its database) gets a clean exit 0, not 143 from the signal's default action."""
    name = f"hotline_early_{os.getpid()}_{len(args)}"
    url = pg_server.createdb(name, template=pg_template)
    started = threading.Event()
    holder: list[Node] = []

    def terminate() -> None:
        started.wait(30)
        holder[0].proc.send_signal(signal.SIGTERM)

    proxy = StallingProxy(pg_server.port, terminate)
    try:
        cwd = node_dir(
            tmp_path,
            url.replace(f":{pg_server.port}/", f":{proxy.port}/"),
        )
        holder.append(Node(cwd, *args))
        started.set()
        code = holder[0].proc.wait(timeout=60)
        holder[0].wait_for("a stop was asked for during start-up")
        assert code == 0, holder[0].log
        assert "Traceback" not in holder[0].log and "role ivr started" not in holder[0].log
    finally:
        proxy.close()
        pg_server.dropdb(name)


@pytest.mark.parametrize(
    "role, has, lacks",
    [
        (
            "ivr",
            r"^hotline_ivr_calls_total\{outcome=\"queued\"\} 0\.0$",
            "hotline_tickets_open",
        ),
        ("desk", r"^hotline_ami_connected 0\.0$", "hotline_ivr_calls_total"),
        (
            "workers",
            r"^hotline_tickets_open\{status=\"received\"\} 0\.0$",
            "hotline_ivr_calls_total",
        ),
    ],
)
def test_one_role_alone_serves_its_own_health_and_metrics(tmp_path, role, has, lacks):
    cwd = node_dir(tmp_path)
    init(cwd)
    node = Node(cwd, "--role", role, "--http-port", "0")
    try:
        base = node.base()
        assert base.startswith("http://127.0.0.1:")
        status, body = get(base + "/healthz")
        assert status == 200 and json.loads(body) == {"status": "ok", "database": "ok"}
        status, body = get(base + "/metrics")
        assert re.search(has, body, re.MULTILINE), body
        assert lacks not in body
        assert ("FastAGI on agi://" in node.log) == (role == "ivr")
        # The desk (entry point hotline.web) is mounted by the desk role only.
        status, body = get(base + "/desk/login")
        assert (status, "12319" in body) == ((200, True) if role == "desk" else (404, False)), body[:300]
        # So is the Open311 API (hotline.web open311), with the role's configuration and pool.
        status, body = get(base + "/open311/v2/services.xml")
        assert (status, "<services" in body) == ((200, True) if role == "desk" else (404, False)), body[:300]
    finally:
        assert node.stop() == 0, node.log


def test_config_check_into_a_closed_pipe_exits_quietly(tmp_path):
    """`hotline config check FILE | head -0`: no BrokenPipeError traceback."""
    config = node_dir(tmp_path) / "hotline.toml"
    read, write = os.pipe()
    os.close(read)  # the reader is gone before anything is written
    try:
        result = subprocess.run(
            [*HOTLINE, "config", "check", str(config)],
            check=False,
            stdout=write,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
        )
    finally:
        os.close(write)
    assert result.stderr == "" and result.returncode == 128 + signal.SIGPIPE


# -- several nodes on one PostgreSQL


@contextmanager
def ami_server() -> Iterator[tuple[int, list[Any], Any]]:
    """Our AMI peer on a real socket, its reactor on a thread: (port, peers, reactor)."""
    from hotline.simulator.ami import AmiPeer, private_reactor

    peers: list[Any] = []

    def make() -> Any:
        peer = AmiPeer()
        peers.append(peer)
        return peer

    with private_reactor() as reactor:
        listening = reactor.listenTCP(0, Factory.forProtocol(make), interface="127.0.0.1")
        thread = threading.Thread(target=reactor.run, kwargs={"installSignalHandlers": False}, daemon=True)
        thread.start()
        try:
            yield listening.getHost().port, peers, reactor
        finally:
            reactor.callFromThread(reactor.stop)
            thread.join(30)


def until(condition: Callable[[], bool], timeout: float = 60, what: str = "condition not met") -> None:
    """Poll what has no event to wait on: rows another process writes (no notification
    crosses the process boundary on SQLite). The one polling loop of these tests."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


@pytest.mark.postgres
def test_two_ivr_and_two_workers_nodes_on_one_postgresql_write_each_record_once(tmp_path, pg_server, pg_template):
    """Two ivr and two workers processes, one PostgreSQL, one Asterisk (our AMI peer): calls
    through both FastAGI servers each leave one record, and the queue events both ivr nodes
    receive from AMI are written by the one that holds the writer's lease, once."""
    from hotline.calllog import records as calls
    from hotline.simulator import ami as ami_peer
    from hotline.simulator.agi import AsteriskPeer
    from hotline.storage.db import Database
    from hotline.storage.models import Call, CallEvent

    name = f"hotline_roles_{os.getpid()}"
    url = pg_server.createdb(name, template=pg_template)
    database = Database.from_url(url)
    nodes: list[Node] = []
    uniqueids = [ami_peer.CALLER] + [f"roles-{i}.1" for i in range(1, 6)]
    with ami_server() as (port, amis, reactor):
        ami = f'[ami]\nenabled = true\nport = {port}\nusername = "labuser"\npassword = "labsecret"\n'
        try:
            ivrs = []
            for i in range(2):
                ivrs.append(
                    Node(
                        node_dir(tmp_path / f"ivr{i}", url, ami),
                        "--role",
                        "ivr",
                        "--http-port",
                        "0",
                    )
                )
                nodes.append(ivrs[-1])
                # The first node takes the writer's lease; the second, started after, stands by.
                ivrs[-1].wait_for("lease 'ami-writer' taken" if i == 0 else "lease 'ami-writer' held by another process")
                ivrs[-1].wait_for("AMI: logged in to")
                nodes.append(
                    Node(
                        node_dir(tmp_path / f"workers{i}", url),
                        "--role",
                        "workers",
                        "--http-port",
                        "0",
                    )
                )
            fastagi = [int(n.wait_for(r"FastAGI on agi://[\d.]+:(\d+)/")[1]) for n in ivrs]
            for n in nodes:
                assert get(n.base() + "/healthz")[0] == 200
            for i, uniqueid in enumerate(uniqueids):
                record = AsteriskPeer([], callerid="13812345678", uniqueid=uniqueid).call_fastagi("127.0.0.1", fastagi[i % 2], "ivr")
                assert record.problems == [], record.problems
            # Asterisk tells every connected client about the queue call: both ivr nodes hear it.
            assert len(amis) == 2
            for peer in amis:
                reactor.callFromThread(peer.send, ami_peer.CALL_ANSWERED)

            def written() -> bool:
                with database.transaction() as s:
                    ended = s.scalar(select(func.count()).select_from(Call).where(Call.uniqueid.in_(uniqueids), Call.ended_at.is_not(None)))
                    complete = s.scalar(select(func.count()).select_from(CallEvent).where(CallEvent.kind == "queue_complete"))
                return ended == len(uniqueids) and bool(complete)

            until(written)
            # The writer's node dies: the other takes the lease over (PostgreSQL dropped it).
            ivrs[0].proc.kill()
            ivrs[1].wait_for("lease 'ami-writer' taken")
        finally:
            codes = [n.stop() for n in nodes]
    try:
        assert codes == [-signal.SIGKILL, 0, 0, 0], "\n".join(n.log for n in nodes)
        with database.transaction() as s:
            per_call = dict(s.execute(select(Call.uniqueid, func.count()).where(Call.uniqueid.in_(uniqueids)).group_by(Call.uniqueid)).all())
            assert per_call == dict.fromkeys(uniqueids, 1)
            call = calls.get(s, ami_peer.CALLER)
            assert call is not None
            kinds = list(s.scalars(select(CallEvent.kind).where(CallEvent.call_id == call.id)))
            assert kinds.count("queue_complete") == 1, kinds
    finally:
        database.dispose()
        pg_server.dropdb(name)


def test_a_role_that_cannot_start_stops_the_service_with_its_reason(tmp_path):
    """The FastAGI port is taken: the ivr child says so in one line, the parent stops the
    other roles and exits 1 naming the role, without restarting it for ever."""
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        cwd = node_dir(tmp_path)
        init(cwd)
        (cwd / "hotline.toml").write_text((cwd / "hotline.toml").read_text().replace("[fastagi]\nport = 0", f"[fastagi]\nport = {port}"))
        node = Node(cwd)
        code = node.proc.wait(timeout=60)
        node.wait_for(r"role ivr could not start")
    assert code == 1, node.log
    assert f"hotline: cannot listen on 127.0.0.1:{port} (fastagi.bind/fastagi.port)" in node.log
    assert node.log.rstrip().endswith("hotline: role ivr could not start (its message is above)")
    assert "Traceback" not in node.log and "starting it again" not in node.log


def test_http_options_without_a_role_are_refused(tmp_path):
    """All roles under the supervisor share [http]; a per-role port alone makes no sense."""
    cwd = node_dir(tmp_path)
    result = subprocess.run([*HOTLINE, "serve", "--http-port", "8081"], check=False, cwd=cwd, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert result.stderr.strip() == "hotline: --http-bind and --http-port go with --role; all roles share [http] bind/port"
