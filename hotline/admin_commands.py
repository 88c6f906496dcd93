"""`hotline queue add|pause|unpause|remove SEAT` and `hotline ticket create|show|list`.

Until the operators' desk arrives, an administrator puts a seat in its queues, pauses it
with a reason, or files and reads tickets from the shell. The commands call what the desk
will call: AMI QueueAdd/QueuePause/QueueRemove (`hotline.ami.actions`, through the service's
own AMI protocol) and `hotline.tickets.services`. Registered through
the `hotline.commands` entry point (setup.cfg); every expected failure is one `hotline: …` line and exit 1.
Imports beyond the argument parser wait for the command that needs them: every `hotline`
invocation imports this module to build its parser.
"""

from __future__ import annotations

import argparse
import getpass
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from hotline.cli import CommandError, load_config
from hotline.config import Config
from hotline.dialplan import asterisk_queue

#: What a listed ticket's description is cut to.
DESCRIPTION_WIDTH = 40


def register(subparsers: Any) -> dict[str, Callable[[argparse.Namespace], int]]:
    p = subparsers.add_parser("queue", help="an operator's seat in the Asterisk queues (AMI)")
    qsub = p.add_subparsers(dest="queue_command", metavar="ACTION", required=True)
    for name, text in (
        ("add", "add the seat to its queues"),
        ("remove", "take the seat out of its queues"),
        ("pause", "pause the seat (no calls), with a reason"),
        ("unpause", "the seat takes calls again"),
    ):
        p2 = qsub.add_parser(name, help=text)
        p2.add_argument("seat", metavar="SEAT", help="the seat's extension, as in [[seats]]")
        p2.add_argument("--queue", action="append", metavar="SKILL", help="only this skill (repeatable; default: the seat's queues)")
        if name == "pause":
            p2.add_argument("--reason", required=True, help="why (shown to supervisors), e.g. 培训 / training")

    p = subparsers.add_parser("ticket", help="tickets (工单), as the desk will file and read them")
    tsub = p.add_subparsers(dest="ticket_command", metavar="ACTION", required=True)
    p2 = tsub.add_parser("create", help="file a ticket (受理)")
    p2.add_argument("--caller", default="", metavar="NUMBER", help="the caller's phone number")
    p2.add_argument("--name", default="", help="the caller's name")
    p2.add_argument("--description", required=True, help="what the caller reported")
    p2.add_argument("--location", default="", help="where")
    p2.add_argument("--urgent", action="store_true", help="urgent time limit")
    p2 = tsub.add_parser("show", help="one ticket and its history")
    p2.add_argument("number", metavar="NUMBER")
    p2 = tsub.add_parser("list", help="the newest tickets (phone numbers masked)")
    p2.add_argument("--status", action="append", metavar="STATUS", help="only this status (repeatable): received, registered, dispatched, …")
    p2.add_argument("--limit", type=int, default=20, help="how many (default 20)")
    return {"queue": _queue, "ticket": _ticket}


# -- queue


def _queue(args: argparse.Namespace) -> int:
    from hotline.ami import actions
    from hotline.ami.seats import seat_action

    config = load_config(args)
    seat = _seat(config, args.seat)
    skills = args.queue or list(seat.queues)
    for skill in skills:
        if skill not in {q.name for q in config.queues}:
            raise CommandError(f"no queue {skill!r} in the config (queues: {', '.join(q.name for q in config.queues)})")
    interface = f"PJSIP/{seat.extension}"
    reason = getattr(args, "reason", None)
    if reason is not None:
        try:
            actions.queue_pause(interface, True, reason=reason)  # checked before connecting
        except actions.ActionValueError as exc:
            raise CommandError(f"--reason: {exc}") from None
    with _ami(config) as run:
        for skill in skills:
            queue, command = asterisk_queue(skill), args.queue_command
            what = {"add": f"add {interface} to {queue}", "remove": f"remove {interface} from {queue}"}.get(command, f"{command} {interface} in {queue}")
            run(seat_action(command, skill, seat.extension, reason), what)
            done = {"add": "added to", "remove": "removed from", "pause": "paused in", "unpause": "unpaused in"}[command]
            print(f"seat {seat.extension} {done} {queue}" + (f" ({reason})" if command == "pause" else ""))
    return 0


def _seat(config: Config, extension: str) -> Any:
    for seat in config.seats:
        if seat.extension == extension:
            return seat
    declared = ", ".join(s.extension for s in config.seats) or "none"
    raise CommandError(f"no seat {extension!r} in [[seats]] (declared: {declared})")


@contextmanager
def _ami(config: Config) -> Iterator[Callable[[Any, str], Any]]:
    """A logged-in AMI session; yields run(action, what) with every AMI failure as one line."""
    from hotline.ami.blocking import AmiUnreachable, BlockingAmi
    from hotline.ami.client import (
        AmiActionError,
        AmiDisconnected,
        AmiLoginFailed,
        AmiTimeout,
    )

    ami = config.ami
    if not ami.enabled:
        raise CommandError("the AMI is not enabled in the config ([ami] enabled = false)")

    def run(action: Any, what: str) -> Any:
        try:
            return session.run(action)
        except AmiActionError as exc:
            hint = " (the AMI user lacks a class: hotline asterisk-config check-manager)" if exc.message == "Permission denied" else ""
            raise CommandError(f"Asterisk refused to {what}: {exc.message}{hint}") from None
        except AmiTimeout:
            raise CommandError(f"Asterisk did not answer ({what}) within {session.timeout:g} s") from None
        except AmiDisconnected:
            raise CommandError(f"Asterisk closed the AMI connection ({what})") from None

    try:
        with BlockingAmi(ami.host, ami.port, ami.username, ami.password) as session:
            yield run
    except AmiUnreachable as exc:
        raise CommandError(f"{exc} (is Asterisk running, and [ami] host/port right?)") from None
    except AmiLoginFailed:
        raise CommandError(f"Asterisk refused the AMI login of {ami.username!r} at {ami.host}:{ami.port}: check the password and manager.conf") from None
    except (AmiTimeout, AmiDisconnected) as exc:
        raise CommandError(f"AMI at {ami.host}:{ami.port}: {exc}") from None


# -- ticket


def _ticket(args: argparse.Namespace) -> int:
    from hotline.storage.db import Database

    config = load_config(args)
    database = Database.from_url(config.database_url(), pool_size=config.database.pool_size)
    try:
        with database.transaction() as session:
            if args.ticket_command == "create":
                return _create(session, config, args)
            if args.ticket_command == "show":
                return _show(session, config, args.number)
            return _list(session, config, args.status or [], args.limit)
    finally:
        database.dispose()


def _create(session: Any, config: Config, args: argparse.Namespace) -> int:
    from hotline import phone
    from hotline.storage.models import TicketSource, Urgency
    from hotline.tickets import services

    policy = services.TicketPolicy.from_config(config)
    try:
        ticket = services.open_ticket(
            session,
            policy,
            source=TicketSource.HOTLINE,
            actor=services.Actor(f"cli:{getpass.getuser()}"),
            caller_number=args.caller,
            caller_name=args.name,
            description=args.description,
            location=args.location,
            urgency=Urgency.URGENT if args.urgent else Urgency.NORMAL,
        )
    except phone.InvalidPhoneNumber as exc:
        raise CommandError(f"--caller {args.caller!r} is not a phone number: {exc}") from None
    print(f"ticket {ticket.number} created ({ticket.status.value})")
    return 0


def _show(session: Any, config: Config, number: str) -> int:
    from hotline import phone
    from hotline.tickets import services

    try:
        ticket = services.get(session, number)
    except services.TicketNotFound:
        raise CommandError(f"no ticket {number!r}") from None
    tz = config.working_calendar().tz
    rows = [
        ("number", ticket.number),
        ("status", ticket.status.value),
        ("source", ticket.source.value),
        ("urgency", ticket.urgency.value),
        ("created", _local(ticket.created_at, tz)),
        ("deadline", _local(ticket.deadline_at, tz)),
        ("caller", f"{phone.national(ticket.caller_number) if ticket.caller_number else '-'} {ticket.caller_name}".rstrip()),
        ("location", ticket.location or "-"),
        ("description", ticket.description or "-"),
    ]
    for label, value in rows:
        print(f"{label:12} {value}")
    print("history")
    for event in services.history(session, ticket):
        note = f"  {event.note}" if event.note else ""
        print(f"  {_local(event.at, tz)}  {event.action:10} {event.to_status.value:10} {event.actor}{note}")
    return 0


def _list(session: Any, config: Config, statuses: list[str], limit: int) -> int:
    from hotline import phone
    from hotline.storage.models import TicketStatus
    from hotline.tickets import services

    try:
        wanted = [TicketStatus(s) for s in statuses]
    except ValueError:
        raise CommandError(f"--status must be one of {', '.join(s.value for s in TicketStatus)}") from None
    if not 1 <= limit <= 1000:
        raise CommandError("--limit must be between 1 and 1000")
    tz = config.working_calendar().tz
    tickets = services.recent(session, statuses=wanted, limit=limit)
    for ticket in tickets:
        caller = phone.mask(ticket.caller_number) if ticket.caller_number else "-"
        text = ticket.description.replace("\n", " ")
        text = text if len(text) <= DESCRIPTION_WIDTH else text[: DESCRIPTION_WIDTH - 1] + "…"
        print(f"{ticket.number:14} {ticket.status.value:10} {_local(ticket.created_at, tz)}  {caller:13} {text}")
    if not tickets:
        print("no tickets" + (f" in status {', '.join(statuses)}" if statuses else ""))
    return 0


def _local(at: datetime | None, tz: Any) -> str:
    if at is None:
        return "-"
    from hotline.timestamps import utc

    return utc(at).astimezone(tz).strftime("%Y-%m-%d %H:%M")
