"""Shared fixtures. Every test that takes `database` runs twice: on SQLite and on a real
PostgreSQL server started for the session (see tests/pgserver.py).

Set HOTLINE_TEST_DATABASES=sqlite to run only SQLite while iterating locally; CI runs both,
and a missing PostgreSQL is an error there, never a skip.
"""

from __future__ import annotations

import itertools
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from hotline.storage import db as dbmod
from hotline.storage.db import Database

BACKENDS = [b for b in os.environ.get("HOTLINE_TEST_DATABASES", "sqlite,postgresql").split(",") if b]
_counter = itertools.count()


@pytest.fixture(scope="session")
def pg_server() -> Iterator[object]:
    from tests.pgserver import PostgresServer

    server = PostgresServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def pg_template(pg_server: object) -> str:
    """A database migrated once; each test clones it (CREATE DATABASE … TEMPLATE)."""
    url = pg_server.createdb("hotline_template")  # type: ignore[attr-defined]
    dbmod.upgrade(url)
    return "hotline_template"


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    dbmod.upgrade(f"sqlite:///{path}")
    return path


def _sqlite_url(template: Path, tmp_path: Path) -> str:
    path = tmp_path / f"hotline-{next(_counter)}.db"
    shutil.copyfile(template, path)
    return f"sqlite:///{path}"


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty, migrated database of each backend."""
    if request.param == "sqlite":
        yield _sqlite_url(request.getfixturevalue("sqlite_template"), tmp_path)
        return
    server = request.getfixturevalue("pg_server")
    template = request.getfixturevalue("pg_template")
    name = f"hotline_test_{os.getpid()}_{next(_counter)}"
    url = server.createdb(name, template=template)
    try:
        yield url
    finally:
        server.dropdb(name)


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    database = Database.from_url(database_url)
    try:
        yield database
    finally:
        database.dispose()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked `postgres` need their own server: leave them out only when a developer
    explicitly chose HOTLINE_TEST_DATABASES without postgresql (CI never does)."""
    if "postgresql" in BACKENDS:
        return
    kept = [item for item in items if item.get_closest_marker("postgres") is None]
    config.hook.pytest_deselected(items=[item for item in items if item not in kept])
    items[:] = kept


_LEAK_GRACE_SECONDS = 5.0


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """A test that leaves a non-daemon thread running (a database pool never stopped) would
    keep the interpreter from exiting, and CI would hang until its time limit. Name the
    threads and fail the run instead; pytest_unconfigure then exits without waiting for them."""
    import threading
    import time

    deadline = time.monotonic() + _LEAK_GRACE_SECONDS
    leaked = []
    for thread in threading.enumerate():
        if thread is threading.main_thread() or thread.daemon:
            continue
        thread.join(max(0.0, deadline - time.monotonic()))
        if thread.is_alive():
            leaked.append(thread.name)
    if leaked:
        session.config._hotline_leaked_threads = leaked  # type: ignore[attr-defined]
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        message = f"threads left running by the tests (a pool or service never stopped): {', '.join(sorted(leaked))}"
        if reporter is not None:
            reporter.write_line(message, red=True)
        else:
            print(message)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_unconfigure(config: pytest.Config) -> None:
    if getattr(config, "_hotline_leaked_threads", None):
        import os
        import sys

        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(int(pytest.ExitCode.TESTS_FAILED))
