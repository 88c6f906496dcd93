"""Which manager.conf classes the service's AMI user needs, and a check of a user's grant.

Asterisk lets an action run when the user's `write` classes share *any* class with the ones
the action is registered with, and delivers an event only when the user may `read` its
class (the event's `Privilege` header). A user without the class gets
`Response: Error` / `Message: Permission denied` for the action (CoreShowChannels with
`write = call,agent,originate`: every resync after a reconnect failed so, and stale channels
survived it), or silently no event at all.

The tables hold Asterisk 22's registrations (manager.c, app_queue.c, app_mixmonitor.c; the
lab's transcripts show the event classes) for what we send and what we read. `ACTIONS` must
name every action `hotline.ami.actions` builds and `EVENTS` every event the live model
applies; tests/test_ami_client.py checks both. docs/ami.md is the reader's version.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping

#: Every class manager.conf knows; `all` stands for them all.
CLASSES = ("system", "call", "log", "verbose", "command", "agent", "user", "config", "dtmf", "reporting", "cdr", "dialplan", "originate", "agi", "cc", "aoc", "test", "security", "message")

#: Action → the classes Asterisk registers it with (any one lets it run); () for none.
ACTIONS: Mapping[str, tuple[str, ...]] = {
    "Login": (),
    "Logoff": (),
    "Ping": (),
    "QueueStatus": (),
    "QueueSummary": (),
    "CoreShowChannels": ("system", "reporting"),
    "Status": ("system", "call", "reporting"),
    "Originate": ("originate",),
    "QueueAdd": ("agent",),
    "QueueRemove": ("agent",),
    "QueuePause": ("agent",),
    "Redirect": ("call",),
    "Hangup": ("system", "call"),
    "Setvar": ("call",),
    "Getvar": ("call", "reporting"),
}

#: Event → its class. VarSet (`dialplan`) is applied when it comes but is not needed:
#: MixMonitorStart says the recording started and its file name is derived from the
#: caller's uniqueid; `dialplan` would flood the connection with every Newexten and VarSet.
EVENTS: Mapping[str, str] = {
    **dict.fromkeys(("QueueCallerJoin", "QueueCallerLeave", "QueueCallerAbandon", "AgentCalled", "AgentConnect", "AgentComplete"), "agent"),
    **dict.fromkeys(("QueueMemberAdded", "QueueMemberStatus", "QueueMemberPause", "QueueMemberPaused", "QueueMemberPenalty", "QueueMemberRinginuse", "QueueMemberRemoved"), "agent"),
    **dict.fromkeys(("Newchannel", "Newstate", "NewCallerid", "NewConnectedLine", "Hangup", "MixMonitorStart", "OriginateResponse"), "call"),
    **dict.fromkeys(("BridgeCreate", "BridgeEnter", "BridgeLeave", "BridgeDestroy"), "call"),
    "VarSet": "dialplan",
}
#: Events we read but do not need (see EVENTS).
OPTIONAL_EVENTS = frozenset({"VarSet"})

#: The class granted for an action registered with several: the narrowest. `system` would
#: also allow reload, shutdown and module loading.
_PREFERRED = ("agent", "call", "originate", "reporting")


def _grant(classes: tuple[str, ...]) -> str:
    return next(c for c in _PREFERRED if c in classes)


#: Actions sent only when a setting turns their feature on (action → the setting): the grant
#: follows the configuration, so an Asterisk without listen-in never lets us originate calls.
OPTIONAL_ACTIONS: Mapping[str, str] = {"Originate": "desk.listen_in"}


def used_actions(*, listen_in: bool = False) -> tuple[str, ...]:
    """The actions the service sends with this configuration."""
    return tuple(a for a in ACTIONS if a not in OPTIONAL_ACTIONS or listen_in)


def write_classes(actions: Iterable[str]) -> tuple[str, ...]:
    """The write classes that let exactly `actions` run (the narrowest class of each)."""
    granted = {_grant(ACTIONS[a]) for a in actions if ACTIONS[a]}
    return tuple(c for c in CLASSES if c in granted)


#: What hotline-manager.conf grants by default: exactly these, nothing more (listen-in adds
#: `originate`: `write_classes(used_actions(listen_in=True))`).
WRITE = write_classes(used_actions())
READ = tuple(c for c in CLASSES if c in {cls for event, cls in EVENTS.items() if event not in OPTIONAL_EVENTS})


def parse_classes(value: str) -> frozenset[str]:
    """A manager.conf `read`/`write` value (`call,agent` …) as a set; `all` is every class."""
    names = {part.strip().lower() for part in value.split(",") if part.strip()}
    return frozenset(CLASSES) if "all" in names else frozenset(names)


def missing(read: Collection[str], write: Collection[str], actions: Iterable[str] | None = None, events: Iterable[str] = EVENTS) -> list[str]:
    """What a user with these classes cannot do, one line each; [] when nothing is missing.
    `actions` defaults to `used_actions()` (listen-in off)."""
    problems = []
    for action in used_actions() if actions is None else actions:
        needed = ACTIONS[action]
        if needed and not set(needed) & set(write):
            setting = f" ({OPTIONAL_ACTIONS[action]} is on)" if action in OPTIONAL_ACTIONS else ""
            problems.append(f"write lacks {' or '.join(needed)}: action {action}{setting} answers 'Permission denied'")
    for event in events:
        if event in OPTIONAL_EVENTS:
            continue
        cls = EVENTS[event]
        if cls not in read:
            problems.append(f"read lacks {cls}: event {event} is never delivered")
    return _merge(problems)


def _merge(problems: list[str]) -> list[str]:
    """One line per missing class, naming everything it stops."""
    by_class: dict[str, list[str]] = {}
    for line in problems:
        head, _, what = line.partition(": ")
        by_class.setdefault(head, []).append(what)
    return [f"{head}: {'; '.join(whats)}" for head, whats in by_class.items()]
