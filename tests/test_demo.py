"""`hotline serve --demo` as a newcomer runs it: a real process that prints the demo accounts,
whose simulated Asterisk places calls that end up as call records and a message ticket in
the demo's own database, whose desk lets a demo account in and marks the page as a demo, and
that stops on SIGTERM with exit 0. Demo mode refuses a database that is not the demo's.

The simulator's own behaviour (AGI and AMI wire format) is covered by the tests that drive
the service with it (test_fastagi, test_ivr_e2e, test_ami_*, test_queue_events)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import wave
from pathlib import Path

from sqlalchemy import select

from hotline.storage.db import Database
from hotline.storage.models import Call, Recording, Ticket, TicketSource
from tests.desk_server import Client
from tests.test_roles import Node, until

HOTLINE = [sys.executable, "-m", "hotline"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def demo_dir(path: Path, fastagi_port: int | None = None) -> Path:
    """A working directory with a config that leaves every default alone but the ports."""
    fastagi = free_port() if fastagi_port is None else fastagi_port
    (path / "hotline.toml").write_text(f"[http]\nport = 0\n[fastagi]\nport = {fastagi}\n[ami]\nport = {free_port()}\n", encoding="utf-8")
    return path


#: A real database in the environment: demo mode must ignore it.
ELSEWHERE = {"HOTLINE_DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/not-the-demo"}


def wait_for_rows(database: Database, what: str, query: object, timeout: float = 90) -> list[object]:
    """Rows of `query` once there are some (the roles, other processes, write them as calls end)."""
    rows: list[object] = []

    def found() -> bool:
        with database.transaction() as session:
            rows[:] = list(session.execute(query))
        return bool(rows)

    until(found, timeout=timeout, what=f"no {what} in the demo database within {timeout} s")
    return rows


def test_demo_serves_simulated_calls_demo_accounts_and_a_marked_desk(tmp_path):
    cwd = demo_dir(tmp_path)
    demo = Node(cwd, "--demo", env=ELSEWHERE, stdout_too=True)
    try:
        password = demo.wait_for(r"^\s+demo-operator\s+(\S+)\s+operator")[1]
        for account in ("demo-supervisor", "demo-department", "demo-callback", "demo-admin"):
            demo.wait_for(rf"^\s+{account}\s+\S+")
        port = int(demo.wait_for(r"HTTP on http://127\.0\.0\.1:(\d+) ")[1])
        demo.wait_for(r"simulated Asterisk: placing calls")

        database = Database.from_url(f"sqlite:///{cwd / 'var' / 'demo' / 'hotline.db'}")
        try:
            # The first caller of the stream finds nobody on duty and leaves a message.
            messages = wait_for_rows(database, "message ticket", select(Ticket.id, Ticket.caller_number).where(Ticket.source == TicketSource.VOICEMAIL))
            assert messages[0][1].startswith("+86")
            # Its recording is where the IVR said, with the caller's audio (written as the call ends).
            demo.wait_for(r"simulated call demo-\S+ from \d+ \(night_message\)")
            with database.transaction() as session:
                path = session.scalars(select(Recording.path).where(Recording.ticket_id == messages[0][0])).one()
            assert path.startswith(str(cwd / "var" / "demo" / "voicemail"))
            with wave.open(path) as audio:
                assert audio.getframerate() == 8000 and audio.getnframes() >= 8000 * 10
            calls = wait_for_rows(database, "call records", select(Call.uniqueid, Call.disposition).where(Call.disposition.is_not(None)))
            assert all(str(uniqueid).startswith("demo-") for uniqueid, _ in calls)
            with database.transaction() as session:
                seeded = list(session.scalars(select(Ticket.description).where(Ticket.source == TicketSource.HOTLINE)))
            assert "人行道井盖缺失，有行人差点踩空" in seeded

            # An operator's seat goes ready (QueueAdd over AMI, as the desk's console sends
            # it): the next queued caller is offered to that seat and answered there.
            seat = cwd / "seat.toml"
            seat.write_text(
                (cwd / "hotline.toml").read_text(encoding="utf-8").replace("[ami]\n", '[ami]\nenabled = true\nusername = "demo"\npassword = "demo-simulated-asterisk"\n')
                + '[[seats]]\nextension = "8001"\nqueues = ["general", "emergency"]\n',
                encoding="utf-8",
            )
            env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
            added = subprocess.run([*HOTLINE, "-c", str(seat), "queue", "add", "8001"], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
            assert added.returncode == 0 and "seat 8001 added to hotline-general" in added.stdout, added.stderr
            demo.wait_for(r"simulated call demo-\S+ from \d+ offered to PJSIP/8001", timeout=90)
            wait_for_rows(database, "call answered at seat 8001", select(Call.uniqueid).where(Call.agent_interface == "PJSIP/8001"))
        finally:
            database.dispose()

        client = Client(port)
        assert client.login("demo-operator", "wrong-password-1").status != 303  # refused
        signed_in = client.login("demo-operator", password)
        assert signed_in.status == 303, signed_in.body[:500]
        page = client.get("/desk/tickets")
        assert page.status == 200
        assert 'class="demo-banner"' in page.body and "演示模式" in page.body and "DEMO" in page.body
        assert "人行道井盖缺失" in page.body
    finally:
        code = demo.stop()
    assert code == 0, demo.log
    assert "Traceback" not in demo.log
    assert "demo mode ignores HOTLINE_DATABASE_URL" in demo.log
    for role in ("ivr", "desk", "workers"):
        assert f"role {role} stopped (exit status 0)" in demo.log
    assert not (cwd / "var" / "hotline.db").exists()  # the real database was never touched


def test_demo_refuses_a_database_that_is_not_the_demos(tmp_path):
    """A service database where the demo's would be: demo mode stops with one line, touching nothing."""
    cwd = demo_dir(tmp_path)
    config = cwd / "real.toml"
    config.write_text('[database]\nurl = "sqlite:///var/demo/hotline.db"\n', encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
    subprocess.run([*HOTLINE, "-c", str(config), "init", "--no-input"], cwd=cwd, env=env, check=True, capture_output=True, timeout=120)
    before = (cwd / "var" / "demo" / "hotline.db").read_bytes()
    result = subprocess.run([*HOTLINE, "serve", "--demo"], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert result.stderr.startswith("hotline: ") and "is not a demo database" in result.stderr and "refuses" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert (cwd / "var" / "demo" / "hotline.db").read_bytes() == before


def test_demo_needs_a_fixed_fastagi_port(tmp_path):
    cwd = demo_dir(tmp_path, fastagi_port=0)
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
    result = subprocess.run([*HOTLINE, "serve", "--demo"], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1 and "fastagi.port" in result.stderr and "Traceback" not in result.stderr
    assert not (cwd / "var").exists()
