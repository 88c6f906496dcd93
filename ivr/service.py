"""The IVR's side of the composition root: where its database work runs and how its call
handler is built. `hotline.service` finds this module through the `hotline.call_handlers`
entry point, so the core never imports the IVR."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hotline.config import Config
from hotline.storage import db


@dataclass
class IvrDatabase:
    """Where the IVR's database work runs (`[database] process`); children not yet started.
    None everywhere: in the service's database threads, as before the processes existed."""

    writes: Any = None
    lookups: Any = None
    store: Any = None

    @property
    def children(self) -> list[Any]:
        return [p for p in (self.writes, self.lookups) if p is not None]


def ivr_database(reactor: Any, config: Config, database: db.Database) -> IvrDatabase:
    """The call log's writes go to a child process of their own, under SCHED_IDLE: nobody
    waits for them, and in a thread they would hold the reactor's GIL for milliseconds.

    The lookups a caller waits for: on SQLite one costs 0.1 ms on a DB-API connection, less
    than the hop to another process, so it runs on the reactor thread, giving up on a lock
    after 100 ms rather than hold every call up; across a network (PostgreSQL) they go to a
    second child, on its threads."""
    if not config.database.process:
        return IvrDatabase()
    from hotline.storage.dbprocess import DatabaseProcess

    source = config.source if config.source != "defaults" else None
    writes = DatabaseProcess(reactor, source, readers=1, idle=True, niceness=10)
    if database.dialect == "sqlite":
        from hotline.storage.prepared import DirectReader
        from ivr.flows import DirectStore

        return IvrDatabase(writes=writes, store=DirectStore(DirectReader(database.engine, sqlite_busy_ms=100)))
    from ivr.flows import ProcessStore

    lookups = DatabaseProcess(reactor, source, readers=config.database.pool_size)
    return IvrDatabase(writes=writes, lookups=lookups, store=ProcessStore(lookups))


def build_call_handler(reactor: Any, config: Config, pool: Any, registry: Any, flows: Mapping[str, Any]) -> Any:
    """The ivr role's FastAGI call handler (entry point `hotline.call_handlers`): a CallRunner
    routing to `flows` by dialplan name, its database children started and stopped with the
    reactor. Raises ServiceError for a menu the validator refuses."""
    from hotline.service import ServiceError
    from ivr.menu import MenuError
    from ivr.runner import CallRunner

    where = ivr_database(reactor, config, pool.database)
    for process in where.children:
        process.start()
        # "before": ahead of the reactor's own disconnectAll ("during"), which would cut
        # the child's socket; the reactor waits until the child has answered what it was
        # given. The call log's close ("after") journals anything still unwritten.
        reactor.addSystemEventTrigger("before", "shutdown", process.stop)
    try:
        runner = CallRunner.from_config(config, database=pool, registry=registry, reactor=reactor, process=where.writes, store=where.store)
    except MenuError as exc:
        raise ServiceError(f"menu refused: {exc}") from None
    runner.flows = dict(flows)
    reactor.addSystemEventTrigger("after", "shutdown", runner.close)
    return runner
