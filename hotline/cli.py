"""The `hotline` command: init, serve, db, config, taxonomy, user.

Every failure an administrator can cause (bad arguments, a broken config, an unreachable
database) ends in one line saying what is wrong and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import getpass
import os
import secrets
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.exc import SQLAlchemyError

from hotline import __version__
from hotline import config as configmod
from hotline.config import Config, ConfigError

if TYPE_CHECKING:
    from hotline.storage.db import Database

EXIT_USAGE = 2
EXIT_FAILURE = 1

#: Features add their own subcommands through the `hotline.commands` entry points
#: (hotline.plugins): `register(subparsers) -> dict[command_name, handler]`, a handler being
#: `handler(args) -> int` that loads the config itself with `load_config(args)`.
ROLE_NAMES = ("ivr", "desk", "workers")  # hotline.service.ROLES, without importing Twisted here


class CommandError(Exception):
    """Expected failure of a command; printed as `hotline: <message>`."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hotline", description="12319 city-management hotline service")
    parser.add_argument("--version", action="version", version=f"hotline {__version__}")
    parser.add_argument("-c", "--config", metavar="FILE", help="config file (default: $HOTLINE_CONFIG, ./hotline.toml, or built-in defaults)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("init", help="create or upgrade the database, load departments and taxonomy, create the first admin")
    p.add_argument("--admin-user", default="admin", metavar="NAME", help="username of the first admin (default: admin)")
    p.add_argument("--admin-password-file", metavar="FILE", help="read the admin password from FILE (or set HOTLINE_ADMIN_PASSWORD)")
    p.add_argument("--no-input", action="store_true", help="never prompt; without a password, generate one into the data directory")
    p.add_argument("--departments", metavar="FILE", help="departments JSON (default: the shipped list)")
    p.add_argument("--taxonomy", metavar="FILE", help="taxonomy JSON (default: the shipped table)")

    p = sub.add_parser("serve", help="run the service until SIGINT/SIGTERM: every role, each in its own process")
    p.add_argument("--role", choices=ROLE_NAMES, help="run this one role alone, in the foreground (systemd units, several machines)")
    p.add_argument("--http-bind", metavar="ADDRESS", help="with --role: the role's HTTP address instead of [http] bind")
    p.add_argument("--http-port", type=int, metavar="PORT", help="with --role: the role's HTTP port instead of [http] port (0: any free port)")
    p.add_argument("--demo", action="store_true", help="a demo: its own database, demo accounts and a simulated Asterisk placing calls (docs/demo.md)")
    p.add_argument("--report-fd", type=int, help=argparse.SUPPRESS)  # the supervisor's pipe
    p.add_argument("--calllog-writer", action="store_true", help=argparse.SUPPRESS)  # the ivr role's child (hotline.calllog.child)

    p = sub.add_parser("db", help="database schema")
    dbsub = p.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    p2 = dbsub.add_parser("upgrade", help="migrate the schema to the newest revision")
    p2.add_argument("--revision", default="head", help="target revision (default: head)")
    dbsub.add_parser("current", help="print the schema revision")

    p = sub.add_parser("config", help="configuration")
    csub = p.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    p2 = csub.add_parser("check", help="validate a config file")
    p2.add_argument("file", metavar="FILE")
    csub.add_parser("sample", help="print the commented sample config")

    p = sub.add_parser("taxonomy", help="部件/事件 classes")
    tsub = p.add_subparsers(dest="taxonomy_command", metavar="ACTION", required=True)
    p2 = tsub.add_parser("load", help="load or update departments and classes from JSON")
    p2.add_argument("file", nargs="?", metavar="FILE", help="taxonomy JSON (default: the shipped table)")
    p2.add_argument("--departments", metavar="FILE", help="departments JSON to load first")

    p = sub.add_parser("user", help="desk accounts")
    usub = p.add_subparsers(dest="user_command", metavar="ACTION", required=True)
    p2 = usub.add_parser("add", help="create a desk user (password prompted, or from --password-file)")
    p2.add_argument("username")
    p2.add_argument("--role", action="append", required=True, choices=["operator", "supervisor", "callback", "department", "admin"], help="repeat for several roles")
    p2.add_argument("--name", default="", help="display name")
    p2.add_argument("--department", metavar="CODE", help="department code (required for department staff)")
    p2.add_argument("--extension", help="the seat's extension, for operators")
    p2.add_argument("--password-file", metavar="FILE")
    return parser


def _extensions(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> dict[str, object]:
    from hotline import plugins

    handlers: dict[str, object] = {}
    for register in plugins.load(plugins.COMMANDS).values():
        handlers.update(register(sub))
    return handlers


def load_config(args: argparse.Namespace) -> Config:
    """The config named by -c, $HOTLINE_CONFIG, ./hotline.toml, or the defaults."""
    return configmod.load(args.config)


def main(argv: Sequence[str] | None = None) -> int:
    try:
        code = _main(argv)
        sys.stdout.flush()
        return code
    except BrokenPipeError:
        # The reader went away (`hotline config check | head -1`): stop quietly, as cat does.
        # Python would flush stdout again at exit and complain, so point it at /dev/null.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 128 + signal.SIGPIPE


def _main(argv: Sequence[str] | None) -> int:
    parser = _parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    extra = _extensions(sub)
    args = parser.parse_args(argv)
    try:
        if args.command in extra:
            return int(extra[args.command](args))  # type: ignore[operator]
        return _dispatch(args)
    except ConfigError as exc:
        print(f"hotline: config error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except CommandError as exc:
        print(f"hotline: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except SQLAlchemyError as exc:
        first = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        print(f"hotline: database error ({exc.__class__.__name__}): {first}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        print("hotline: interrupted", file=sys.stderr)
        return 130


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "config":
        if args.config_command == "sample":
            sys.stdout.write(configmod.sample_path().read_text(encoding="utf-8"))
            return 0
        return _config_check(args.file)
    config = load_config(args)
    if args.command == "serve":
        return _serve(config, args)
    if args.command == "db":
        return _db(config, args)
    if args.command == "init":
        return _init(config, args)
    if args.command == "taxonomy":
        return _taxonomy_load(config, args.file, args.departments)
    if args.command == "user":
        return _user_add(config, args)
    raise CommandError(f"unknown command {args.command}")


def _config_check(file: str) -> int:
    config = configmod.load(file)
    print(f"{file}: OK")
    print(f"  database   {_redact(config.database_url())}")
    print(f"  http       {config.http.bind}:{config.http.port}")
    print(f"  fastagi    {config.fastagi.bind}:{config.fastagi.port}")
    print(f"  ami        {'enabled, ' + config.ami.host + ':' + str(config.ami.port) if config.ami.enabled else 'disabled'}")
    calendar = config.working_calendar()
    from hotline.storage.models import utcnow

    this_year = utcnow().year
    for year in (this_year, this_year + 1):
        if not calendar.is_year_known(year):
            print(f"  warning: no holiday data for {year}: set [calendar.years.{year}] or upgrade chinesecalendar; Monday-Friday is assumed")
    return 0


def _redact(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def _database(config: Config) -> Database:
    from hotline.storage.db import Database

    return Database.from_url(config.database_url(), pool_size=config.database.pool_size)


def _serve(config: Config, args: argparse.Namespace) -> int:
    from hotline.service import ServiceError, serve

    if args.role is None and (args.http_bind is not None or args.http_port is not None):
        raise CommandError("--http-bind and --http-port go with --role; all roles share [http] bind/port")
    if args.calllog_writer:  # the ivr role's child, on its role's configuration
        from hotline import demo
        from hotline.calllog.child import run_writer

        try:
            return run_writer(demo.demo_config(config) if args.demo else config)
        except demo.DemoError as exc:
            raise CommandError(str(exc)) from None
    if args.demo:
        return _serve_demo(config, args)
    try:
        if args.role is None:
            from hotline import supervisor

            return supervisor.run(config)
        if args.report_fd is not None:
            from hotline.supervisor import become_supervised_child

            become_supervised_child()
        return serve(config, args.role, http_bind=args.http_bind, http_port=args.http_port, report_fd=args.report_fd)
    except ServiceError as exc:
        raise CommandError(str(exc)) from None


def _serve_demo(real: Config, args: argparse.Namespace) -> int:
    """`serve --demo`: the parent prepares the demo database and runs the simulated Asterisk
    beside the roles; each role (`--demo --role NAME`) derives the same configuration."""
    from hotline import demo
    from hotline.service import ServiceError, serve

    try:
        config = demo.demo_config(real)
        if args.role is not None:
            if not demo.check_database(config, real):
                raise demo.DemoError("no demo database yet: run `hotline serve --demo` (every role) once to create it")
            if args.report_fd is not None:
                from hotline.supervisor import become_supervised_child

                become_supervised_child()
            return serve(config, args.role, http_bind=args.http_bind, http_port=args.http_port, report_fd=args.report_fd)
        from hotline import supervisor

        if "HOTLINE_DATABASE_URL" in os.environ:
            print("hotline: demo mode ignores HOTLINE_DATABASE_URL and uses its own database", file=sys.stderr)
        accounts = demo.prepare(config, real)
        print(demo.describe(config, accounts), flush=True)
        return supervisor.run(config, child_args=["--demo"], companion=demo.companion(config))
    except (ServiceError, demo.DemoError) as exc:
        raise CommandError(str(exc)) from None


def _db(config: Config, args: argparse.Namespace) -> int:
    from hotline.storage import db

    if args.db_command == "upgrade":
        db.upgrade(config.database_url(), args.revision)
        print(f"database at {args.revision if args.revision != 'head' else db.head_revision()}")
        return 0
    database = _database(config)
    try:
        print(db.current_revision(database.engine) or "empty")
    finally:
        database.dispose()
    return 0


def _read_secret_file(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise CommandError(f"cannot read {path}: {exc.strerror}") from None


def _init(config: Config, args: argparse.Namespace) -> int:
    from hotline import users
    from hotline.storage import db

    db.upgrade(config.database_url())
    print(f"database ready at revision {db.head_revision()}: {_redact(config.database_url())}")
    _taxonomy_load(config, args.taxonomy, args.departments, default_departments=True)
    database = _database(config)
    try:
        with database.transaction() as session:
            if users.has_admin(session):
                print("admin account exists; not creating another")
                return 0
        password, generated = _admin_password(args)
        try:
            with database.transaction() as session:
                users.create_user(session, args.admin_user, password, ["admin"], display_name="Administrator")
        except users.UserError as exc:
            raise CommandError(f"first admin not created: {exc}") from None
        if generated:
            target = config.data_path("initial-admin-password")
            target.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(password + "\n")
            print(f"admin {args.admin_user!r} created; its generated password is in {target} (readable by this user only): change it after the first login")
        else:
            print(f"admin {args.admin_user!r} created")
    finally:
        database.dispose()
    return 0


def _generated_password() -> str:
    """A random password that passes the desk's own strength rule (about 1 in 140 random
    url-safe strings of this length has no digit or symbol)."""
    from hotline import users

    while True:
        password = secrets.token_urlsafe(18)
        try:
            users.check_password_strength(password)
        except users.UserError:
            continue
        return password


def _admin_password(args: argparse.Namespace) -> tuple[str, bool]:
    if args.admin_password_file:
        return _read_secret_file(args.admin_password_file), False
    if os.environ.get("HOTLINE_ADMIN_PASSWORD"):
        return os.environ["HOTLINE_ADMIN_PASSWORD"], False
    if args.no_input or not sys.stdin.isatty():
        return _generated_password(), True
    first = getpass.getpass(f"password for {args.admin_user}: ")
    if first != getpass.getpass("again: "):
        raise CommandError("passwords differ; nothing created")
    return first, False


def _taxonomy_load(config: Config, taxonomy_file: str | None, departments_file: str | None, default_departments: bool = False) -> int:
    """Departments first (classes name them). A departments file is the complete list, so the
    shipped one is loaded only by `init`: reloading it later would deactivate a city's own."""
    from hotline.tickets import taxonomy

    database = _database(config)
    deps = None
    try:
        with database.transaction() as session:
            if departments_file or default_departments:
                deps = taxonomy.load_departments(session, Path(departments_file) if departments_file else None)
            classes = taxonomy.load_taxonomy(session, Path(taxonomy_file) if taxonomy_file else None)
    except taxonomy.TaxonomyError as exc:
        raise CommandError(str(exc)) from None
    finally:
        database.dispose()
    if deps is not None:
        print(f"departments: {deps}")
    print(f"categories:  {classes}")
    return 0


def _user_add(config: Config, args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from hotline import users
    from hotline.storage.models import Department

    if args.password_file:
        password = _read_secret_file(args.password_file)
    elif sys.stdin.isatty():
        password = getpass.getpass(f"password for {args.username}: ")
        if password != getpass.getpass("again: "):
            raise CommandError("passwords differ; nothing created")
    else:
        raise CommandError("no terminal to ask for a password: use --password-file")
    database = _database(config)
    try:
        with database.transaction() as session:
            department_id = None
            if args.department:
                department = session.scalars(select(Department).where(Department.code == args.department)).first()
                if department is None:
                    raise CommandError(f"no department with code {args.department!r}")
                department_id = department.id
            users.create_user(session, args.username, password, args.role, display_name=args.name, department_id=department_id, extension=args.extension)
    except users.UserError as exc:
        raise CommandError(str(exc)) from None
    finally:
        database.dispose()
    print(f"user {args.username!r} created with roles {', '.join(sorted(set(args.role)))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
