"""The `hotline` command as an administrator runs it: a real process, real exit codes,
messages instead of tracebacks; and `hotline serve` answering /healthz and /metrics and
stopping cleanly on SIGTERM."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from hotline.storage.db import head_revision

HOTLINE = [sys.executable, "-m", "hotline"]


def run(*args: str, cwd: Path, env: dict[str, str] | None = None, input: str | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
    full_env.update(env or {})
    return subprocess.run([*HOTLINE, *args], cwd=cwd, env=full_env, capture_output=True, text=True, timeout=120, input=input)


def _config(tmp_path: Path, url: str | None = None, port: int = 0) -> Path:
    f = tmp_path / "hotline.toml"
    db = f'url = "{url}"' if url else 'url = "sqlite:///var/hotline.db"'
    f.write_text(f"[database]\n{db}\n[http]\nport = {port}\n[fastagi]\nport = 0\n", encoding="utf-8")
    return f


@pytest.mark.parametrize(
    "args, message",
    [
        ([], "the following arguments are required: COMMAND"),
        (["bogus"], "invalid choice: 'bogus'"),
        (["db"], "the following arguments are required: ACTION"),
        (["db", "downgrade"], "invalid choice: 'downgrade'"),
        (["config", "check"], "the following arguments are required: FILE"),
        (["user", "add", "alice", "--role", "king"], "invalid choice: 'king'"),
        (["serve", "--port"], "unrecognized arguments: --port"),
    ],
)
def test_bad_arguments_give_usage_not_traceback(tmp_path, args, message):
    """Wrong arguments print usage and a reason, exit 2, and show no traceback."""
    result = run(*args, cwd=tmp_path)
    assert result.returncode == 2
    assert "usage: hotline" in result.stderr and message in result.stderr
    assert "Traceback" not in result.stderr


def test_broken_config_is_reported_by_check_and_by_serve(tmp_path):
    """`config check` and `serve` both refuse a bad file with one line naming the key."""
    bad = tmp_path / "bad.toml"
    bad.write_text('[http]\nport = "eighty"\n', encoding="utf-8")
    for args in (["config", "check", str(bad)], ["-c", str(bad), "serve"]):
        result = run(*args, cwd=tmp_path)
        assert result.returncode == 2
        assert result.stderr.strip() == f"hotline: config error: {bad}: http.port: expected an integer from 0 to 65535, found 'eighty' (str)"


def test_config_check_accepts_the_sample_and_sample_prints_it(tmp_path):
    """The shipped sample passes `config check`; `config sample` prints it for copying."""
    sample = run("config", "sample", cwd=tmp_path)
    assert sample.returncode == 0 and "[database]" in sample.stdout
    (tmp_path / "hotline.toml").write_text(sample.stdout, encoding="utf-8")
    check = run("config", "check", "hotline.toml", cwd=tmp_path)
    assert check.returncode == 0 and check.stdout.startswith("hotline.toml: OK")


def test_init_is_idempotent_and_never_prints_the_password(tmp_path):
    """`init --no-input` migrates, loads reference data and writes a generated admin password
    to a private file; running it again changes nothing."""
    _config(tmp_path)
    first = run("init", "--no-input", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    secret_file = tmp_path / "var" / "initial-admin-password"
    password = secret_file.read_text().strip()
    assert len(password) >= 20 and oct(secret_file.stat().st_mode & 0o777) == "0o600"
    assert password not in first.stdout + first.stderr
    second = run("init", "--no-input", cwd=tmp_path)
    assert second.returncode == 0 and "admin account exists" in second.stdout
    assert run("db", "current", cwd=tmp_path).stdout.strip() == head_revision()


def test_user_add_checks_its_input(tmp_path):
    """Creating a user refuses weak passwords and unknown departments with a message."""
    _config(tmp_path)
    assert run("init", "--no-input", cwd=tmp_path).returncode == 0
    pw = tmp_path / "pw"
    pw.write_text("short\n")
    weak = run("user", "add", "alice", "--role", "operator", "--password-file", str(pw), cwd=tmp_path)
    assert weak.returncode == 1 and weak.stderr.strip() == "hotline: password too short: at least 10 characters"
    pw.write_text("a-long-passphrase-9\n")
    nodep = run("user", "add", "bob", "--role", "department", "--department", "NOPE", "--password-file", str(pw), cwd=tmp_path)
    assert nodep.returncode == 1 and "no department with code 'NOPE'" in nodep.stderr
    ok = run("user", "add", "alice", "--role", "operator", "--role", "callback", "--password-file", str(pw), cwd=tmp_path)
    assert ok.returncode == 0 and "callback, operator" in ok.stdout
    again = run("user", "add", "alice", "--role", "operator", "--password-file", str(pw), cwd=tmp_path)
    assert again.returncode == 1 and "taken" in again.stderr


def test_serve_refuses_an_uninitialised_database(tmp_path):
    """`serve` on an empty database says to run `hotline init` instead of failing later."""
    _config(tmp_path)
    result = run("serve", cwd=tmp_path)
    assert result.returncode == 1 and result.stderr.strip() == "hotline: the database is empty: run `hotline init` first"


def test_unreachable_database_is_one_line(tmp_path):
    """A database that cannot be reached gives a one-line error, not a traceback."""
    _config(tmp_path, url="postgresql+psycopg://nobody@127.0.0.1:1/none")
    result = run("db", "upgrade", cwd=tmp_path)
    assert result.returncode == 1 and result.stderr.startswith("hotline: database error (OperationalError)")
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


class Served:
    """A `hotline serve` subprocess and the address it reported."""

    def __init__(self, cwd: Path, env: dict[str, str] | None = None) -> None:
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
        full_env.update(env or {})
        self.proc = subprocess.Popen([*HOTLINE, "serve"], cwd=cwd, env=full_env, stderr=subprocess.PIPE, text=True)
        self.log: list[str] = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = self.proc.stderr.readline()
            if not line:
                break
            self.log.append(line)
            found = re.search(r"HTTP on http://([\d.]+):(\d+)", line)
            if found:
                self.base = f"http://{found.group(1)}:{found.group(2)}"
                return
        self.proc.kill()
        raise AssertionError("serve did not report its address:\n" + "".join(self.log))

    def get(self, path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(self.base + path, timeout=10) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=30)
        finally:
            self.log += self.proc.stderr.readlines()


def test_serve_health_metrics_and_clean_stop(tmp_path):
    """A served node answers /healthz and /metrics on loopback and exits 0 on SIGTERM."""
    _config(tmp_path)
    assert run("init", "--no-input", cwd=tmp_path).returncode == 0
    node = Served(tmp_path)
    try:
        assert node.base.startswith("http://127.0.0.1:")
        status, body = node.get("/healthz")
        ok = {"status": "ok", "database": "ok"}
        assert status == 200 and json.loads(body) == {**ok, "roles": {"ivr": ok, "desk": ok, "workers": ok}}
        status, body = node.get("/metrics")
        assert status == 200
        assert re.search(r'^hotline_tickets_open\{role="workers",status="received"\} 0\.0$', body, re.M)
        for role in ("ivr", "desk", "workers"):
            assert re.search(rf'^hotline_db_up\{{role="{role}"\}} 1\.0$', body, re.M), body
        assert node.get("/nope")[0] == 404
    finally:
        code = node.stop()
    assert code == 0, "".join(node.log)
    assert "Traceback" not in "".join(node.log)
    frozen = re.search(r"start-up done: (\d+) objects kept out of garbage collection", "".join(node.log))
    assert frozen and int(frozen[1]) > 10_000, "".join(node.log)


@pytest.mark.postgres
def test_health_follows_the_database_and_the_node_keeps_serving(tmp_path):
    """With its PostgreSQL stopped the node reports 503 and keeps serving; it recovers after."""
    from tests.pgserver import PostgresServer

    pg = PostgresServer()
    pg.start()
    try:
        url = pg.createdb("hotline")
        _config(tmp_path, url=url)
        assert run("init", "--no-input", cwd=tmp_path).returncode == 0
        node = Served(tmp_path)
        try:
            assert node.get("/healthz")[0] == 200
            pg._run(str(pg.bindir / "pg_ctl"), "-D", str(pg.datadir), "-m", "fast", "-w", "stop")
            status, body = node.get("/healthz")
            assert status == 503 and json.loads(body)["database"] == "unreachable"
            assert node.get("/metrics")[0] == 200
            pg._run(str(pg.bindir / "pg_ctl"), "-D", str(pg.datadir), "-o", f"-c listen_addresses=127.0.0.1 -p {pg.port} -k {pg.sockdir}", "-l", str(pg.root / "log"), "-w", "start")
            assert node.get("/healthz")[0] == 200
        finally:
            assert node.stop() == 0
    finally:
        pg.stop()
