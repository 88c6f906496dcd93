"""Demo mode, `hotline serve --demo`: the whole service on its embedded defaults, with the
simulated Asterisk (hotline.simulator) placing calls, in a data directory of its own.

What demo mode changes, and nothing else (docs/demo.md):

- the data directory becomes `<service.data_dir>/demo` and the database the SQLite file in it,
  whatever `[database] url` or HOTLINE_DATABASE_URL say: a demo never touches real cases;
- the database is marked as the demo's (an audit entry, `demo.database`) when the demo
  creates it, and demo mode refuses any database without that mark;
- `[ami]` points at the simulated AMI server on loopback (`ami.port` of the config), with
  the demo's own credentials; `[[seats]]`, when the config has none, are two demo seats;
- `service.demo` is true, which puts the 演示模式 / DEMO banner on every desk page;
- demo accounts (one per role) and a few demo tickets are created; their names and
  passwords are printed at start.

The supervisor's parent process runs the simulated Asterisk (`companion`); every role runs
as usual, with `--demo` on its command line so that it derives the same configuration.
"""

from __future__ import annotations

import dataclasses
import logging
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from hotline.config import Config, SeatConfig

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from hotline.storage.db import Database
    from hotline.supervisor import Supervisor

log = logging.getLogger(__name__)

#: The audit action that marks a database as the demo's.
DEMO_MARK = "demo.database"
#: Credentials of the simulated AMI server (loopback only; nothing real behind them).
AMI_USERNAME = "demo"
AMI_SECRET = "demo-simulated-asterisk"
DEMO_SEATS = (
    SeatConfig(extension="8001", name="演示坐席 Demo seat 8001", queues=("general", "emergency")),
    SeatConfig(extension="8002", name="演示坐席 Demo seat 8002", queues=("general",)),
)


class DemoError(Exception):
    """Demo mode cannot start; the message says why."""


@dataclass(frozen=True)
class Account:
    username: str
    password: str
    roles: tuple[str, ...]
    display_name: str
    extension: str | None = None
    #: Department staff: the code of their department.
    department: str | None = None


ACCOUNTS = (
    Account("demo-operator", "operator-12319", ("operator",), "演示话务员 Demo operator", extension="8001"),
    Account("demo-operator2", "operator2-12319", ("operator",), "演示话务员二 Demo operator 2", extension="8002"),
    Account("demo-supervisor", "supervisor-12319", ("supervisor",), "演示班长 Demo supervisor"),
    Account("demo-department", "department-12319", ("department",), "演示处置单位 Demo department staff", department="MUNI"),
    Account("demo-callback", "callback-12319", ("callback",), "演示回访员 Demo callback staff"),
    Account("demo-admin", "admin-12319", ("admin",), "演示管理员 Demo admin"),
)


def demo_config(config: Config) -> Config:
    """The configuration demo mode runs on, derived from `config` (the file or the defaults)."""
    if config.fastagi.port == 0:
        raise DemoError("demo mode places its calls on fastagi.port: set a port, not 0")
    home = config.data_path("demo").resolve()
    return dataclasses.replace(
        config,
        service=dataclasses.replace(config.service, data_dir=str(home), demo=True),
        database=dataclasses.replace(config.database, url=f"sqlite:///{home / 'hotline.db'}"),
        ami=dataclasses.replace(config.ami, enabled=True, host="127.0.0.1", username=AMI_USERNAME, password=AMI_SECRET, password_file=""),
        asterisk=dataclasses.replace(config.asterisk, recordings_dir=str(home / "recordings"), voicemail_dir=str(home / "voicemail"), agi_hosts=(f"{config.fastagi.bind}:{config.fastagi.port}",)),
        seats=config.seats or DEMO_SEATS,
    )


def _database(config: Config) -> Database:
    from hotline.storage.db import Database

    return Database.from_url(config.database_url())


def check_database(config: Config, real: Config | None = None) -> bool:
    """Refuse a database that is not the demo's (DemoError). True if it exists, False if it
    is still to be created. `real`: the configuration without demo mode, whose database the
    demo must never be."""
    from hotline.storage import db
    from hotline.storage.models import AuditEntry

    if not config.service.demo or not config.database_url().startswith("sqlite:///"):
        raise DemoError("demo mode runs only on its own SQLite database (hotline.demo.demo_config)")
    if real is not None and real.database_url() == config.database_url():
        raise DemoError(f"the demo database would be the service's own ({config.database_url()}); set another service.data_dir")
    path = Path(config.database_url().removeprefix("sqlite:///"))
    if not path.exists():
        return False
    database = _database(config)
    try:
        if db.current_revision(database.engine) is None:
            return False
        with database.transaction() as session:
            marked = session.scalars(select(AuditEntry.id).where(AuditEntry.action == DEMO_MARK).limit(1)).first() is not None
    finally:
        database.dispose()
    if not marked:
        raise DemoError(f"{path} is not a demo database (no {DEMO_MARK} mark): demo mode refuses to run on it")
    return True


def prepare(config: Config, real: Config | None = None) -> list[Account]:
    """Create (or upgrade) the demo database with the taxonomy, the demo accounts and tickets;
    returns the accounts to print. Refuses a database that is not the demo's."""
    from hotline import audit
    from hotline.storage import db
    from hotline.tickets import taxonomy

    existed = check_database(config, real)
    Path(config.service.data_dir).mkdir(parents=True, exist_ok=True)
    db.upgrade(config.database_url())
    database = _database(config)
    try:
        with database.transaction() as session:
            if not existed:
                audit.record(session, DEMO_MARK, username="demo", target=config.database_url(), detail={"what": "created by hotline serve --demo"})
                taxonomy.load_departments(session)
                taxonomy.load_taxonomy(session)
            _accounts(session)
            if not existed:
                _tickets(session, config)
    finally:
        database.dispose()
    return list(ACCOUNTS)


def _accounts(session: Session) -> None:
    """Every demo account exists with its printed password (a demo run resets them)."""
    from hotline import audit, users
    from hotline.storage.models import Department, User

    for account in ACCOUNTS:
        user = session.scalars(select(User).where(User.username == account.username)).first()
        if user is not None:
            user.password_hash = users.hash_password(account.password)
            user.active = True
            continue
        department_id = None
        if account.department:
            department_id = session.scalars(select(Department.id).where(Department.code == account.department)).first()
        users.create_user(session, account.username, account.password, account.roles, display_name=account.display_name, department_id=department_id, extension=account.extension)
        audit.record(session, "user.create", username="demo", target=account.username, detail={"roles": list(account.roles), "demo": True})


#: Demo tickets: (description, location, caller, category code, moves to make). The ones
#: dispatched go to the demo department staff's department (MUNI: manholes, bridges).
DEMO_TICKETS = (
    ("人行道井盖缺失，有行人差点踩空", "解放路与人民路交叉口东南角", "13912345678", "100114", ("register", "dispatch")),
    ("过街天桥台阶破损，老人上下不便", "火车站广场过街天桥南侧", "13800138000", "100205", ("register", "dispatch", "handle")),
    ("小区门口垃圾桶满溢，气味很大", "学院路 88 号", "15057712319", "100315", ("register",)),
    ("商铺占道经营，堵塞盲道", "百货大楼西侧人行道", "18657700001", "", ()),
    ("路灯连续三晚不亮，夜间行走不安全", "滨江小区北门外", "13700001111", "100118", ("register", "dispatch", "handle", "verify", "close")),
)


def _tickets(session: Session, config: Config) -> list[str]:
    """A few tickets at different steps of the workflow, so every page has something to show."""
    from hotline.storage.models import Category, TicketSource, utcnow
    from hotline.tickets import services as tickets
    from hotline.tickets.services import Actor, TicketPolicy

    policy = TicketPolicy.from_config(config)
    actor = Actor("demo")
    now = utcnow()
    numbers = []
    for index, (description, location, caller, code, moves) in enumerate(DEMO_TICKETS):
        category = session.scalars(select(Category).where(Category.code == code)).first() if code else None
        at = now - timedelta(days=len(DEMO_TICKETS) - index, hours=index)
        ticket = tickets.open_ticket(
            session, policy, source=TicketSource.HOTLINE, actor=actor, caller_number=caller, description=description, location=location, category_id=category.id if category else None, at=at
        )
        for step, move in enumerate(moves, 1):
            if move == "dispatch" and ticket.category_id is None:
                break
            kwargs: dict[str, Any] = {"reason": "演示处置完毕 done (demo)"} if move == "handle" else {}
            tickets.apply(session, policy, ticket, move, actor=actor, at=at + timedelta(hours=step), **kwargs)
        numbers.append(ticket.number)
    return numbers


def ticket_numbers(config: Config) -> list[str]:
    """The demo database's ticket numbers, for callers who ask for a case's status."""
    from hotline.storage.models import Ticket

    database = _database(config)
    try:
        with database.transaction() as session:
            return list(session.scalars(select(Ticket.number).order_by(Ticket.id).limit(20)))
    finally:
        database.dispose()


def describe(config: Config, accounts: Sequence[Account]) -> str:
    """What a newcomer needs, printed at start."""
    host = "127.0.0.1" if config.http.bind in ("0.0.0.0", "::", "") else config.http.bind
    lines = [
        "",
        "演示模式 DEMO MODE: simulated Asterisk and calls; demo database " + config.database_url().removeprefix("sqlite:///"),
        f"  desk:  http://{host}:{config.http.port}/desk/" if config.http.port else "  desk:  /desk/ on the HTTP address logged below",
        f"  simulated AMI on 127.0.0.1:{config.ami.port}; calls go to FastAGI {config.fastagi.bind}:{config.fastagi.port}",
        "  demo accounts (username / password / role):",
    ]
    for account in accounts:
        extra = f", seat {account.extension}" if account.extension else (f", department {account.department}" if account.department else "")
        lines.append(f"    {account.username:<17} {account.password:<18} {', '.join(account.roles)}{extra}")
    lines.append("  Sign in as demo-operator and go ready: the next caller in the queue pops on your screen.")
    lines.append("")
    return "\n".join(lines)


def companion(config: Config, *, rng: random.Random | None = None) -> Callable[[Any, Supervisor], Any]:
    """What the supervisor's parent runs beside the roles: the simulated Asterisk. Its AMI
    server listens at once (the roles' AMI clients connect to it); calls start once the ivr
    role is ready. Returns the SimulatedAsterisk."""
    from twisted.internet.error import CannotListenError

    from hotline.simulator.asterisk import SimulatedAsterisk, demo_caller

    rng = rng or random.Random()
    numbers = ticket_numbers(config)

    def start(reactor: Any, supervisor: Supervisor) -> SimulatedAsterisk:
        simulator = SimulatedAsterisk(
            reactor, username=AMI_USERNAME, secret=AMI_SECRET, queues=[(q.name, q.wrapup_seconds) for q in config.queues], rng=rng, recordings_dir=config.asterisk.recordings_dir
        )
        try:
            port = reactor.listenTCP(config.ami.port, simulator.factory(), interface="127.0.0.1")
        except CannotListenError as exc:
            raise DemoError(f"the simulated AMI cannot listen on 127.0.0.1:{config.ami.port} (ami.port): {exc.socketError}") from None
        log.info("simulated Asterisk: AMI on 127.0.0.1:%d", port.getHost().port)

        def ivr_ready(address: tuple[str, int] | None) -> None:
            if address is None or simulator.stopping.is_set():
                return
            log.info("simulated Asterisk: placing calls into FastAGI %s:%d", config.fastagi.bind, config.fastagi.port)
            simulator.run_stream(config.fastagi.bind, config.fastagi.port, lambda n: demo_caller(n, rng, numbers))

        supervisor.address("ivr").addCallback(ivr_ready)
        reactor.addSystemEventTrigger("before", "shutdown", simulator.stopping.set)
        reactor.addSystemEventTrigger("before", "shutdown", port.stopListening)
        return simulator

    return start
