"""`hotline open311 key add|list|revoke`: API keys from the shell, the same as the desk's
admin page (`hotline.apikeys`), audited as `cli:USER`. Registered through the `hotline.commands`
entry point; every expected failure is one `hotline: …` line and exit 1."""

from __future__ import annotations

import argparse
import getpass
from collections.abc import Callable
from typing import Any

from hotline.cli import CommandError, load_config


def register(subparsers: Any) -> dict[str, Callable[[argparse.Namespace], int]]:
    p = subparsers.add_parser("open311", help="the Open311 API: its clients' keys")
    sub = p.add_subparsers(dest="open311_command", metavar="WHAT", required=True)
    keys = sub.add_parser("key", help="API keys of city apps and mini-programs")
    ksub = keys.add_subparsers(dest="key_command", metavar="ACTION", required=True)
    add = ksub.add_parser("add", help="a new key for a client; printed once, never stored")
    add.add_argument("name", metavar="NAME", help="the client, e.g. 城管通 app")
    add.add_argument("--note", default="", help="who to contact about it, what it is for")
    ksub.add_parser("list", help="every key: prefix, client, created, last used, revoked")
    revoke = ksub.add_parser("revoke", help="stop a key at once (its tickets stay)")
    revoke.add_argument("key", metavar="ID|PREFIX", help="the id or prefix `list` shows")
    return {"open311": _open311}


def _open311(args: argparse.Namespace) -> int:
    from hotline import apikeys
    from hotline.storage.db import Database

    config = load_config(args)
    tz = config.working_calendar().tz
    who = apikeys.Who(f"cli:{getpass.getuser()}")
    database = Database.from_url(config.database_url(), pool_size=config.database.pool_size)
    try:
        with database.transaction() as session:
            if args.key_command == "add":
                info, key = apikeys.create(session, who, args.name, args.note)
                print(f"API key {info.id} for {info.name}:\n{key}\nGive it to the client now: it is not stored and cannot be shown again.")
            elif args.key_command == "revoke":
                info = apikeys.revoke(session, who, apikeys.find(session, args.key).id)
                print(f"API key {info.id} ({info.prefix}…, {info.name}) revoked")
            else:
                rows = apikeys.keys(session)
                for k in rows:
                    used = f"last used {k.last_used_at.astimezone(tz):%Y-%m-%d %H:%M} from {k.last_used_address} ({k.request_count} requests)" if k.last_used_at else "never used"
                    state = f"revoked {k.revoked_at.astimezone(tz):%Y-%m-%d %H:%M} by {k.revoked_by}" if k.revoked_at else "active"
                    print(f"{k.id:4} {k.prefix}…  {k.name}  created {k.created_at.astimezone(tz):%Y-%m-%d} by {k.created_by}; {used}; {state}")
                if not rows:
                    print("no API keys: hotline open311 key add NAME")
    except apikeys.ApiKeyError as exc:
        raise CommandError(str(exc)) from None
    finally:
        database.dispose()
    return 0
