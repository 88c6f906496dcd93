"""The 12319 menu as data: a TOML file of named nodes, checked in full when it is loaded.

An administrator edits the menu without touching code, so every mistake must be caught
before a caller meets it, with a message naming the file, the node and the problem:
unknown node types and keys, targets that do not exist, queues the config does not declare,
prompts the catalogue does not have, loops a caller cannot leave without pressing a key,
nodes nothing leads to, and — the rule GB/T 33358 sets for a government hotline — a caller
who presses nothing must reach the general operators' queue, within the menu's time limit.

Node types (the file format is documented with both shipped menus in docs/ivr.md):

``prompt``        play prompts, then go on (a key pressed meanwhile is kept for the next menu)
``menu``          play prompts and take one key: options per key, a default when no key comes
``caller_ticket`` branch on whether the caller's number has an open ticket (repeat callers)
``hours``         branch on whether a queue is open now (after hours: say so first)
``ticket_status`` key in a ticket number (or use the caller's / the last one) and hear its status
``queue``         join a queue, checking its hours and length; closed or full → overflow
``voicemail``     record a message that becomes a ticket draft with the recording attached
``language``      switch the call to zh, en, or the other one
``hangup``        play prompts and end the call (a caller served by the IVR alone)

A submenu is a ``menu`` node reached from another menu's option; ``ivr/menus/skills.toml``
shows one routing to skill queues.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, ClassVar

from hotline.config import Config
from hotline.dialplan import GENERAL_QUEUE
from hotline.prompts import LANGUAGES, Prompt
from hotline.prompts import catalogue as shipped_catalogue

MENUS_DIR = Path(__file__).parent / "menus"
SHIPPED = ("default", "skills")
#: The keys a caller can press (A–D exist on no phone a citizen owns).
DTMF = "0123456789*#"
_NODE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
_MENU_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
#: GB/T 33358 asks that calls be answered within 15 s; no menu may promise more.
MAX_SECONDS_TO_QUEUE = 15.0


class MenuError(Exception):
    """A menu is unusable. The message names the file, the node (when one is at fault) and
    the problem, for an administrator at a terminal."""

    def __init__(self, source: str, node: str | None, problem: str) -> None:
        self.source, self.node, self.problem = source, node, problem
        where = f"{source}: node {node!r}" if node else source
        super().__init__(f"{where}: {problem}")


# -- nodes


@dataclass(frozen=True)
class Node:
    name: str
    kind: ClassVar[str] = ""

    def keyed(self) -> Mapping[str, str]:
        """Targets the caller chooses by a key."""
        return {}

    def automatic(self) -> Mapping[str, str]:
        """Targets reached without a key (timeouts, lookups, overflow): these may not loop."""
        return {}

    def silent(self) -> tuple[str, ...]:
        """Where a caller who presses nothing goes next (several for a branch)."""
        return ()

    def prompt_names(self) -> tuple[str, ...]:
        return ()

    @property
    def terminal(self) -> bool:
        return not self.automatic()


@dataclass(frozen=True)
class PromptNode(Node):
    """Prompts in a row, e.g. the welcome. Interruptible: a key is carried to the next menu."""

    prompts: tuple[str, ...] = ()
    next: str = ""
    interruptible: bool = True
    kind: ClassVar[str] = "prompt"

    def automatic(self) -> Mapping[str, str]:
        return {"next": self.next}

    def silent(self) -> tuple[str, ...]:
        return (self.next,)

    def prompt_names(self) -> tuple[str, ...]:
        return self.prompts


@dataclass(frozen=True)
class MenuNode(Node):
    """One key chooses; no key → `default`. A key with no option: `invalid_prompt` and the
    menu again, `retries` times; then `transfer_prompt` (if any) and `invalid`.
    `language_offer` plays after the prompts to a caller whose language is not known."""

    prompts: tuple[str, ...] = ()
    options: Mapping[str, str] = field(default_factory=dict)
    timeout_seconds: float = 1.0
    default: str = ""
    invalid: str = ""
    retries: int = 0
    invalid_prompt: str = "invalid_key"
    transfer_prompt: str = ""
    language_offer: str = ""
    kind: ClassVar[str] = "menu"

    def keyed(self) -> Mapping[str, str]:
        return {**self.options, "invalid": self.invalid}

    def automatic(self) -> Mapping[str, str]:
        return {"default": self.default}

    def silent(self) -> tuple[str, ...]:
        return (self.default,)

    def prompt_names(self) -> tuple[str, ...]:
        extra = tuple(p for p in (self.transfer_prompt, self.language_offer) if p)
        return (*self.prompts, self.invalid_prompt, *extra) if self.retries else (*self.prompts, *extra)

    def playlist(self, language_known: bool) -> tuple[str, ...]:
        """What the menu plays: its prompts, and the language offer unless it is known."""
        return self.prompts if language_known or not self.language_offer else (*self.prompts, self.language_offer)


@dataclass(frozen=True)
class CallerTicketNode(Node):
    """A repeat caller (open ticket under their number) goes to `found`, others `otherwise`."""

    found: str = ""
    otherwise: str = ""
    kind: ClassVar[str] = "caller_ticket"

    def automatic(self) -> Mapping[str, str]:
        return {"found": self.found, "otherwise": self.otherwise}

    def silent(self) -> tuple[str, ...]:
        return (self.found, self.otherwise)


@dataclass(frozen=True)
class HoursNode(Node):
    """`open` while `queue` is open (its hours and the working calendar), `closed` otherwise:
    after hours the caller hears so first, with what they can still do, instead of a menu
    that ends in 人工服务请稍候 and then "we are closed"."""

    queue: str = ""
    open: str = ""
    closed: str = ""
    kind: ClassVar[str] = "hours"

    def automatic(self) -> Mapping[str, str]:
        return {"open": self.open, "closed": self.closed}

    def silent(self) -> tuple[str, ...]:
        return (self.open, self.closed)


LOOKUPS = ("keyed", "caller", "last")


@dataclass(frozen=True)
class TicketStatusNode(Node):
    """Say a ticket's number and status. `lookup`: keyed in by the caller, the caller's own
    open ticket, or the last one heard (for "press 1 to hear it again")."""

    lookup: str = "keyed"
    prompt: str = "enter_ticket_number"
    attempts: int = 2
    timeout_seconds: float = 8.0
    next: str = ""
    not_found: str = ""
    no_input: str = ""
    unavailable: str = ""
    kind: ClassVar[str] = "ticket_status"

    def automatic(self) -> Mapping[str, str]:
        return {"next": self.next, "not_found": self.not_found, "no_input": self.no_input, "unavailable": self.unavailable}

    def silent(self) -> tuple[str, ...]:
        return (self.no_input,) if self.lookup == "keyed" else (self.next, self.not_found)

    def prompt_names(self) -> tuple[str, ...]:
        return ("ticket_number_is", "ticket_not_found", "system_busy", self.prompt)


@dataclass(frozen=True)
class QueueNode(Node):
    """Join `queue` unless it is closed (hours, holidays) or full; then `overflow`."""

    queue: str = ""
    prompts: tuple[str, ...] = ()
    overflow: str = ""
    closed_prompt: str = "queue_closed"
    busy_prompt: str = "queue_busy"
    kind: ClassVar[str] = "queue"

    def automatic(self) -> Mapping[str, str]:
        return {"overflow": self.overflow}

    def prompt_names(self) -> tuple[str, ...]:
        return (*self.prompts, self.closed_prompt, self.busy_prompt)

    @property
    def terminal(self) -> bool:
        return True


@dataclass(frozen=True)
class VoicemailNode(Node):
    """RECORD FILE after the prompts; the message becomes a ticket draft. Ends the call.
    A recording shorter than `min_seconds` (a hang-up at the beep) is no message: no ticket."""

    prompts: tuple[str, ...] = ("leave_message",)
    thanks: str = "message_recorded"
    max_seconds: int = 120
    silence_seconds: int = 5
    min_seconds: float = 1.0
    kind: ClassVar[str] = "voicemail"

    def prompt_names(self) -> tuple[str, ...]:
        # goodbye: what a caller hears who left no message after all.
        return (*self.prompts, self.thanks, "goodbye")


@dataclass(frozen=True)
class LanguageNode(Node):
    lang: str = "toggle"
    next: str = ""
    kind: ClassVar[str] = "language"

    def automatic(self) -> Mapping[str, str]:
        return {"next": self.next}

    def silent(self) -> tuple[str, ...]:
        return (self.next,)


@dataclass(frozen=True)
class HangupNode(Node):
    """The IVR served the caller (e.g. they heard their case's status): say goodbye, hang up."""

    prompts: tuple[str, ...] = ("goodbye",)
    kind: ClassVar[str] = "hangup"

    def prompt_names(self) -> tuple[str, ...]:
        return self.prompts


NODE_TYPES: dict[str, type[Node]] = {t.kind: t for t in (PromptNode, MenuNode, CallerTicketNode, HoursNode, TicketStatusNode, QueueNode, VoicemailNode, LanguageNode, HangupNode)}


@dataclass(frozen=True)
class Caller:
    """A kind of caller, for the paths of a caller who presses nothing.

    `language_known`: the dialplan told the language (a number of its own), so no language
    offer plays. `repeat`: has an open ticket (None: either). `open`: the queues are open
    (False: after hours, when a queue node says it is closed and sends the caller on to its
    overflow; None: either, at an `hours` branch)."""

    lang: str = "zh"
    language_known: bool = False
    repeat: bool | None = None
    open: bool | None = True


@dataclass(frozen=True)
class SilentPath:
    """Where a caller who presses nothing ends up, through which nodes, and how soon."""

    nodes: tuple[str, ...]
    seconds: float
    #: Seconds spent in each node on the way (prompts and waits).
    steps: tuple[tuple[str, float], ...]
    #: The language the caller hears at the end (a language node may switch it).
    lang: str = "zh"

    @property
    def end(self) -> str:
        return self.nodes[-1]


@dataclass(frozen=True)
class Menu:
    name: str
    source: str
    start: str
    #: The node that puts a caller in the general queue: invalid keys, errors and lookups
    #: that fail all end here.
    general: str
    nodes: Mapping[str, Node]
    #: A caller who presses nothing must be queued within this many seconds of answer.
    max_seconds_to_queue: float = 10.0
    #: Time Asterisk takes to answer and bring up media, counted in that budget.
    answer_seconds: float = 0.5

    def node(self, name: str) -> Node:
        return self.nodes[name]

    def prompts_used(self) -> set[str]:
        return {p for node in self.nodes.values() for p in node.prompt_names()}

    def queues_used(self) -> set[str]:
        return {n.queue for n in self.nodes.values() if isinstance(n, QueueNode)}

    def silent_paths(self, catalogue: Mapping[str, Prompt], lang: str = "zh", caller: Caller | None = None) -> list[SilentPath]:
        """Every path a silent caller can take from the start (branches on what the database
        says), with its estimated time to the end node: the queue, or after hours the start
        of the message. `caller` narrows the branches (default: any caller of `lang`
        whose language is not known, while the queues are open)."""
        return list(_silent_paths(self, self.start, catalogue, caller or Caller(lang=lang)))


# -- loading


def load_menu(config: Config, catalogue: Mapping[str, Prompt] | None = None) -> Menu:
    """The menu config.ivr.menu names: a shipped one ("default", "skills") or a file path
    (relative to the config file's directory)."""
    return load_menu_file(resolve_menu_path(config), config, catalogue)


def resolve_menu_path(config: Config, value: str | None = None) -> Path:
    value = value if value is not None else config.ivr.menu
    if _MENU_NAME.match(value) and (MENUS_DIR / f"{value}.toml").is_file():
        return MENUS_DIR / f"{value}.toml"
    path = Path(value)
    if not path.is_absolute():
        path = config.base_dir / path
    if not path.is_file():
        shipped = ", ".join(sorted(p.stem for p in MENUS_DIR.glob("*.toml")))
        raise MenuError(config.source, None, f"ivr.menu: {value!r} is neither a shipped menu ({shipped}) nor a file ({path} does not exist)")
    return path


def load_menu_file(path: Path, config: Config, catalogue: Mapping[str, Prompt] | None = None) -> Menu:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise MenuError(str(path), None, f"cannot read it ({exc.strerror})") from None
    except UnicodeDecodeError as exc:
        raise MenuError(str(path), None, f"not UTF-8 text (byte {exc.start})") from None
    return parse_menu(text, config, catalogue, source=_display(path))


def parse_menu(text: str, config: Config, catalogue: Mapping[str, Prompt] | None = None, *, source: str = "<menu>") -> Menu:
    """Parse and validate; raises MenuError naming the file, the node and the problem."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise MenuError(source, None, f"not valid TOML: {exc}") from None
    return _Validator(source, config, catalogue if catalogue is not None else shipped_catalogue()).menu(raw)


def _display(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


# -- validation


def _strings(value: Any) -> tuple[str, ...] | None:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    return None


_MENU_KEYS = {"name", "start", "general", "overflow", "max_seconds_to_queue", "answer_seconds", "description"}


class _Validator:
    def __init__(self, source: str, config: Config, catalogue: Mapping[str, Prompt]) -> None:
        self.source, self.config, self.catalogue = source, config, catalogue
        self.queues = {q.name for q in config.queues}

    def fail(self, node: str | None, problem: str) -> MenuError:
        return MenuError(self.source, node, problem)

    def menu(self, raw: dict[str, Any]) -> Menu:
        unknown = sorted(set(raw) - {"menu", "nodes"})
        if unknown:
            raise self.fail(None, f"unknown table [{unknown[0]}] (a menu has [menu] and [nodes.<name>] tables)")
        head = raw.get("menu")
        if not isinstance(head, dict):
            raise self.fail(None, "no [menu] table (it names the start node and the general-queue node)")
        bad = sorted(set(head) - _MENU_KEYS)
        if bad:
            raise self.fail(None, f"[menu]: unknown key {bad[0]!r} (known: {', '.join(sorted(_MENU_KEYS))})")
        nodes_raw = raw.get("nodes")
        if not isinstance(nodes_raw, dict) or not nodes_raw:
            raise self.fail(None, "no [nodes.<name>] tables")
        for key in ("start", "general"):
            if not isinstance(head.get(key), str) or not head[key]:
                raise self.fail(None, f"[menu]: {key} must name a node")
        overflow = head.get("overflow", "")
        if not isinstance(overflow, str):
            raise self.fail(None, "[menu]: overflow must name a node")
        name = head.get("name", "menu")
        if not isinstance(name, str) or not _MENU_NAME.match(name):
            raise self.fail(None, "[menu]: name must be a short lower-case name")
        limit = self.number(None, "[menu] max_seconds_to_queue", head.get("max_seconds_to_queue", 10.0), 1.0, MAX_SECONDS_TO_QUEUE)
        answer = self.number(None, "[menu] answer_seconds", head.get("answer_seconds", 0.5), 0.0, 5.0)
        names = set(nodes_raw)
        for ref, key in ((head["start"], "start"), (head["general"], "general")):
            if ref not in names:
                raise self.fail(None, f"[menu]: {key} {ref!r} is not a node ({_listing(names)})")
        if overflow and overflow not in names:
            raise self.fail(None, f"[menu]: overflow {overflow!r} is not a node ({_listing(names)})")
        defaults = {"general": head["general"], "overflow": overflow}
        nodes = {n: self.node(n, spec, defaults) for n, spec in nodes_raw.items()}
        menu = Menu(
            name=name,
            source=self.source,
            start=head["start"],
            general=head["general"],
            nodes=MappingProxyType(nodes),
            max_seconds_to_queue=limit,
            answer_seconds=answer,
        )
        self.check_graph(menu)
        return menu

    def number(self, node: str | None, key: str, value: Any, low: float, high: float) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
            raise self.fail(node, f"{key} must be a number from {low:g} to {high:g}, found {value!r}")
        return float(value)

    def integer(self, node: str, key: str, value: Any, low: int, high: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise self.fail(node, f"{key} must be a whole number from {low} to {high}, found {value!r}")
        return value

    def node(self, name: str, spec: Any, defaults: dict[str, str]) -> Node:
        if not _NODE_NAME.match(name):
            raise self.fail(name, "node names are lower-case letters, digits and '_', starting with a letter (at most 32)")
        if not isinstance(spec, dict):
            raise self.fail(name, "expected a table [nodes.<name>] with a type")
        kind = spec.get("type")
        if kind not in NODE_TYPES:
            raise self.fail(name, f"unknown type {kind!r} (known: {', '.join(NODE_TYPES)})")
        builder: Callable[[str, dict[str, Any], dict[str, str]], Node] = getattr(self, f"_{kind}")
        return builder(name, spec, defaults)

    # one builder per type: it names the keys it knows, so any other key is an error

    def keys(self, name: str, spec: dict[str, Any], known: set[str], required: frozenset[str] | set[str] = frozenset()) -> None:
        kind = spec["type"]
        unknown = sorted(set(spec) - known - {"type", "description"})
        if unknown:
            raise self.fail(name, f"unknown key {unknown[0]!r} for a {kind} node (known: {', '.join(sorted(known))})")
        for key in sorted(required):
            if key not in spec:
                raise self.fail(name, f"a {kind} node needs {key!r}")

    def prompts(self, name: str, key: str, value: Any, *, empty_ok: bool = True) -> tuple[str, ...]:
        names = _strings(value)
        if names is None:
            raise self.fail(name, f"{key} must be a prompt name or a list of them")
        if not names and not empty_ok:
            raise self.fail(name, f"{key} must name at least one prompt")
        for prompt in names:
            self.prompt(name, key, prompt)
        return names

    def prompt(self, name: str, key: str, prompt: Any) -> str:
        if not isinstance(prompt, str) or prompt not in self.catalogue:
            raise self.fail(name, f"{key}: unknown prompt {prompt!r} (not in the prompt catalogue, hotline/data/prompts.toml)")
        return prompt

    def declared_queue(self, name: str, queue: Any) -> str:
        if queue not in self.queues:
            raise self.fail(name, f"queue {queue!r} is not declared in the config's [[queues]] (declared: {', '.join(sorted(self.queues))}; config: {self.config.source})")
        return str(queue)

    def target(self, name: str, key: str, spec: dict[str, Any], fallback: str | None = None) -> str:
        value = spec.get(key, fallback)
        if not isinstance(value, str) or not value:
            raise self.fail(name, f"{key} must name a node")
        return value

    def _prompt(self, name: str, spec: dict[str, Any], defaults: dict[str, str]) -> Node:
        self.keys(name, spec, {"prompts", "next", "interruptible"}, {"prompts", "next"})
        interruptible = spec.get("interruptible", True)
        if not isinstance(interruptible, bool):
            raise self.fail(name, "interruptible must be true or false")
        return PromptNode(name=name, prompts=self.prompts(name, "prompts", spec["prompts"], empty_ok=False), next=self.target(name, "next", spec), interruptible=interruptible)

    def _menu(self, name: str, spec: dict[str, Any], defaults: dict[str, str]) -> Node:
        self.keys(name, spec, {"prompts", "options", "timeout_seconds", "default", "invalid", "retries", "invalid_prompt", "transfer_prompt", "language_offer"}, {"prompts", "options"})
        options = spec["options"]
        if not isinstance(options, dict) or not options:
            raise self.fail(name, 'options must be a table of key = "node", e.g. { "1" = "status", "0" = "operators" }')
        for key, target in options.items():
            if len(key) != 1 or key not in DTMF:
                raise self.fail(name, f"option key {key!r} is not one phone key (0-9, *, #)")
            if not isinstance(target, str) or not target:
                raise self.fail(name, f"option {key!r} must name a node")
        return MenuNode(
            name=name,
            prompts=self.prompts(name, "prompts", spec["prompts"], empty_ok=False),
            options=MappingProxyType(dict(options)),
            timeout_seconds=self.number(name, "timeout_seconds", spec.get("timeout_seconds", 1.0), 0.0, 30.0),
            default=self.target(name, "default", spec, defaults["general"]),
            invalid=self.target(name, "invalid", spec, defaults["general"]),
            retries=self.integer(name, "retries", spec.get("retries", 0), 0, 3),
            invalid_prompt=self.prompt(name, "invalid_prompt", spec.get("invalid_prompt", "invalid_key")),
            transfer_prompt=self.prompt(name, "transfer_prompt", spec["transfer_prompt"]) if "transfer_prompt" in spec else "",
            language_offer=self.prompt(name, "language_offer", spec["language_offer"]) if "language_offer" in spec else "",
        )

    def _caller_ticket(self, name: str, spec: dict[str, Any], defaults: dict[str, str]) -> Node:
        self.keys(name, spec, {"found", "otherwise"}, {"found", "otherwise"})
        return CallerTicketNode(name=name, found=self.target(name, "found", spec), otherwise=self.target(name, "otherwise", spec))

    def _hours(self, name: str, spec: dict[str, Any], defaults: dict[str, str]) -> Node:
        self.keys(name, spec, {"queue", "open", "closed"}, {"queue", "open", "closed"})
        return HoursNode(name=name, queue=self.declared_queue(name, spec["queue"]), open=self.target(name, "open", spec), closed=self.target(name, "closed", spec))

    def _ticket_status(self, name: str, spec: dict[str, Any], defaults: dict[str, str]) -> Node:
        self.keys(name, spec, {"lookup", "prompt", "attempts", "timeout_seconds", "next", "not_found", "no_input", "unavailable"}, {"next"})
        lookup = spec.get("lookup", "keyed")
        if lookup not in LOOKUPS:
            raise self.fail(name, f"lookup must be one of {', '.join(LOOKUPS)}, found {lookup!r}")
        return TicketStatusNode(
            name=name,
            lookup=lookup,
            prompt=self.prompt(name, "prompt", spec.get("prompt", "enter_ticket_number")),
            attempts=self.integer(name, "attempts", spec.get("attempts", 2), 1, 5),
            timeout_seconds=self.number(name, "timeout_seconds", spec.get("timeout_seconds", 8.0), 1.0, 30.0),
            next=self.target(name, "next", spec),
            not_found=self.target(name, "not_found", spec, defaults["general"]),
            no_input=self.target(name, "no_input", spec, defaults["general"]),
            unavailable=self.target(name, "unavailable", spec, defaults["general"]),
        )

    def _queue(self, name: str, spec: dict[str, Any], defaults: dict[str, str]) -> Node:
        self.keys(name, spec, {"queue", "prompts", "overflow", "closed_prompt", "busy_prompt"}, {"queue"})
        queue = self.declared_queue(name, spec["queue"])
        overflow = spec.get("overflow", defaults["overflow"])
        if not overflow:
            raise self.fail(name, "no overflow: set overflow here or in [menu] (where a caller goes when the queue is closed or full)")
        return QueueNode(
            name=name,
            queue=queue,
            prompts=self.prompts(name, "prompts", spec.get("prompts", [])),
            overflow=self.target(name, "overflow", {"overflow": overflow}),
            closed_prompt=self.prompt(name, "closed_prompt", spec.get("closed_prompt", "queue_closed")),
            busy_prompt=self.prompt(name, "busy_prompt", spec.get("busy_prompt", "queue_busy")),
        )

    def _voicemail(self, name: str, spec: dict[str, Any], defaults: dict[str, str]) -> Node:
        self.keys(name, spec, {"prompts", "thanks", "max_seconds", "silence_seconds", "min_seconds"})
        return VoicemailNode(
            name=name,
            prompts=self.prompts(name, "prompts", spec.get("prompts", ["leave_message"])),
            thanks=self.prompt(name, "thanks", spec.get("thanks", "message_recorded")),
            max_seconds=self.integer(name, "max_seconds", spec.get("max_seconds", 120), 10, 600),
            silence_seconds=self.integer(name, "silence_seconds", spec.get("silence_seconds", 5), 0, 30),
            min_seconds=self.number(name, "min_seconds", spec.get("min_seconds", 1.0), 0.0, 10.0),
        )

    def _language(self, name: str, spec: dict[str, Any], defaults: dict[str, str]) -> Node:
        self.keys(name, spec, {"lang", "next"}, {"lang", "next"})
        lang = spec["lang"]
        if lang not in (*LANGUAGES, "toggle"):
            raise self.fail(name, f"lang must be one of {', '.join((*LANGUAGES, 'toggle'))}, found {lang!r}")
        return LanguageNode(name=name, lang=lang, next=self.target(name, "next", spec))

    def _hangup(self, name: str, spec: dict[str, Any], defaults: dict[str, str]) -> Node:
        self.keys(name, spec, {"prompts"})
        return HangupNode(name=name, prompts=self.prompts(name, "prompts", spec.get("prompts", ["goodbye"])))

    # -- the graph

    def check_graph(self, menu: Menu) -> None:
        nodes = menu.nodes
        for node in nodes.values():
            for label, target in (*node.keyed().items(), *node.automatic().items()):
                if target not in nodes:
                    what = f"option {label!r}" if label in DTMF else label
                    raise self.fail(node.name, f"{what} goes to {target!r}, which is not a node ({_listing(nodes)})")
        general = nodes[menu.general]
        if not isinstance(general, QueueNode) or general.queue != GENERAL_QUEUE:
            raise self.fail(menu.general, f"[menu] general must be a queue node for the {GENERAL_QUEUE!r} queue: invalid keys, failed lookups and errors send callers there")
        self.check_loops(menu)
        reached = _reachable(menu)
        for name in nodes:
            if name not in reached and name != menu.general:
                raise self.fail(name, f"nothing leads here from the start node {menu.start!r} (a typo in a target?)")
        # In both languages: the configuration's default may be either, and a number of its own
        # may give callers the other one. The language offer counts (worst case).
        paths = [path for lang in LANGUAGES for path in menu.silent_paths(self.catalogue, lang)]
        for path in paths:
            end = nodes[path.end]
            if not isinstance(end, QueueNode) or end.queue != GENERAL_QUEUE:
                raise self.fail(path.end, f"a caller who presses nothing ends here ({' → '.join(path.nodes)}), not in the {GENERAL_QUEUE!r} queue: every default path must reach an operator")
            if path.seconds > menu.max_seconds_to_queue:
                slowest = max(path.steps, key=lambda s: s[1])
                steps = ", ".join(f"{n} {s:.1f} s" for n, s in path.steps if s)
                raise self.fail(
                    slowest[0],
                    f"a caller who presses nothing reaches the {GENERAL_QUEUE!r} queue after about {path.seconds:.1f} s in {path.lang} "
                    f"(answer {menu.answer_seconds:.1f} s, {steps}), over the menu's limit of {menu.max_seconds_to_queue:g} s "
                    f"(max_seconds_to_queue); this node takes longest: shorten its prompts or its wait",
                )

    def check_loops(self, menu: Menu) -> None:
        """Automatic edges must not loop: a caller would go round for ever without a key."""
        state: dict[str, int] = {}
        stack: list[str] = []

        def visit(name: str) -> None:
            state[name] = 1
            stack.append(name)
            for target in dict.fromkeys(menu.nodes[name].automatic().values()):
                if state.get(target) == 1:
                    loop = [*stack[stack.index(target) :], target]
                    raise self.fail(target, f"{' → '.join(loop)} is a loop a caller cannot leave without pressing a key (a cycle with no exit)")
                if target not in state:
                    visit(target)
            stack.pop()
            state[name] = 2

        for name in menu.nodes:
            if name not in state:
                visit(name)


def _listing(names: Any) -> str:
    names = sorted(names)
    shown = ", ".join(names[:12]) + (" …" if len(names) > 12 else "")
    return f"nodes: {shown}"


def _reachable(menu: Menu) -> set[str]:
    seen, todo = set(), [menu.start]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        node = menu.nodes[name]
        todo.extend((*node.keyed().values(), *node.automatic().values()))
    return seen


def _node_seconds(node: Node, lang: str, catalogue: Mapping[str, Prompt], caller: Caller) -> float:
    def play(names: tuple[str, ...]) -> float:
        return sum(catalogue[n].seconds(lang) for n in names)

    if isinstance(node, PromptNode):
        return play(node.prompts)
    if isinstance(node, MenuNode):
        return play(node.playlist(caller.language_known)) + node.timeout_seconds
    if isinstance(node, TicketStatusNode):
        return play((node.prompt,)) + node.timeout_seconds if node.lookup == "keyed" else 0.0
    if isinstance(node, QueueNode):
        return play((node.closed_prompt,)) if caller.open is False else play(node.prompts)
    if isinstance(node, VoicemailNode):
        return play(node.prompts)  # to the beep: from then on the caller is heard
    return 0.0


def _silent_targets(node: Node, caller: Caller) -> tuple[str, ...]:
    """Where a silent caller of this kind goes from `node`."""
    if isinstance(node, CallerTicketNode) and caller.repeat is not None:
        return (node.found if caller.repeat else node.otherwise,)
    if isinstance(node, HoursNode) and caller.open is not None:
        return (node.open if caller.open else node.closed,)
    if isinstance(node, QueueNode) and caller.open is False:
        return (node.overflow,)  # closed: the closed prompt, then the overflow
    return node.silent()


def _silent_paths(menu: Menu, start: str, catalogue: Mapping[str, Prompt], caller: Caller) -> Iterator[SilentPath]:
    """Depth-first over silent edges. Terminates because automatic edges (a superset of
    silent ones) were checked acyclic first."""

    def walk(name: str, lang: str, nodes: tuple[str, ...], steps: tuple[tuple[str, float], ...]) -> Iterator[SilentPath]:
        node = menu.nodes[name]
        if isinstance(node, LanguageNode):
            lang = _switch(lang, node.lang)
        nodes, steps = (*nodes, name), (*steps, (name, _node_seconds(node, lang, catalogue, caller)))
        following = _silent_targets(node, caller)
        if not following:
            yield SilentPath(nodes=nodes, seconds=round(menu.answer_seconds + sum(s for _, s in steps), 2), steps=steps, lang=lang)
            return
        for target in dict.fromkeys(following):
            yield from walk(target, lang, nodes, steps)

    yield from walk(start, caller.lang, (), ())


def _switch(current: str, wanted: str) -> str:
    if wanted == "toggle":
        return "en" if current == "zh" else "zh"
    return wanted
