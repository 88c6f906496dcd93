"""Render the hotline's Asterisk files from the service configuration.

Four files, each meant to be ``#include``d at the end of the matching Asterisk file, so
that an existing Asterisk keeps its own configuration (docs/asterisk.md):

* ``hotline-pjsip.conf``: the transport, agent seats (endpoint + auth + aor), the trunk;
* ``hotline-extensions.conf``: the contexts named in `hotline.dialplan` and our own;
* ``hotline-queues.conf``: one queue per skill, with the seats serving it;
* ``hotline-manager.conf``: the AMI user of the service, and where the AMI listens.

Templates are Jinja2 with autoescape off (these are not HTML). Instead, every value a
template prints must be a `Safe` string — made by a validator here or by the ``text``
filter that strips whatever could end a line, start a comment or open a section. A plain
string reaching the output is a render error, so a template cannot forget to escape.
"""

from __future__ import annotations

import ipaddress
import os
import re
import unicodedata
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2

from asterisk_conf import secrets as secretsmod
from asterisk_conf.addresses import host_port as _host_port
from hotline import __version__, dialplan
from hotline import prompts as promptsmod
from hotline.ami import permissions
from hotline.config import Config

TEMPLATES_DIR = Path(__file__).parent / "templates"

#: Asterisk's name of the queue for a skill. queues.conf reserves ``[general]`` for its
#: global settings, so the skill "general" cannot be an Asterisk queue of that name.
QUEUE_PREFIX = dialplan.QUEUE_PREFIX
#: Our contexts beyond the contract of `hotline.dialplan`.
CONTEXT_QUEUES = "hotline-queues"  # exten <skill>: Queue() without the IVR (fallback, AMI Redirect)
CONTEXT_MESSAGE = "hotline-message"  # exten s: record a message when no agent answered
#: PJSIP object names.
TRANSPORT = "hotline-transport"
TRUNK = "hotline-trunk"
#: Set on the caller's channel before anything else, inherited (``__``) by the queue member
#: channel: the recording gosub names the file after the caller's uniqueid with it.
VAR_CALLER_UNIQUEID = "HOTLINE_CALLER_UNIQUEID"
#: AMI classes of the service's user: exactly what hotline.ami.permissions says our actions and
#: events need (docs/ami.md says why each is needed).
AMI_READ = permissions.READ
AMI_WRITE = permissions.WRITE


def ami_write(config: Config) -> tuple[str, ...]:
    """The write classes for this configuration: `AMI_WRITE`, plus `originate` when
    desk.listen_in is on (docs/ami.md)."""
    return permissions.write_classes(permissions.used_actions(listen_in=config.desk.listen_in))


#: Numbers the outbound context dials, in the national form `hotline.phone.national` gives:
#: mobiles, and landlines with their area code (10 to 12 digits).
OUTBOUND_PATTERNS = ("_1[3-9]XXXXXXXXX", "_0[1-9]XXXXXXXX", "_0[1-9]XXXXXXXXX", "_0[1-9]XXXXXXXXXX")

#: The prompts the dialplan itself plays (everything else is the IVR's), from the catalogue
#: of `hotline.prompts`, played as <asterisk.sounds_dir>/<service.language>/<name>.
PROMPT_SYSTEM_BUSY = "system_busy"  # no FastAGI node answered: "busy, connecting you to an operator"
PROMPT_LEAVE_MESSAGE = "leave_message"  # before Record() when no agent answered
PROMPT_MESSAGE_RECORDED = "message_recorded"  # after the caller ended the message with #
DIALPLAN_PROMPTS = (PROMPT_SYSTEM_BUSY, PROMPT_LEAVE_MESSAGE, PROMPT_MESSAGE_RECORDED)
#: Queues announce the callback key with this prompt (periodic-announce) when the catalogue
#: has it; without it they don't, and the render warns.
PROMPT_CALLBACK_OFFER = "queue_callback_offer"
VAR_QUEUE = dialplan.VAR_QUEUE

#: Asterisk gives these extension names a meaning of their own.
RESERVED_EXTENSIONS = frozenset({"a", "e", "h", "i", "o", "s", "t", "fax", "talk"})
SECRET_MODE = 0o640
PLAIN_MODE = 0o644

_PATH = re.compile(r"^/[A-Za-z0-9._/-]*$")
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOSTNAME = re.compile(rf"^{_LABEL}(?:\.{_LABEL})*$")
_SIP_USER = re.compile(r"^[A-Za-z0-9._+-]{1,64}$")
_AMI_USER = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
#: Characters free text never keeps: ';' starts a comment, '\\' escapes, quotes and angle
#: brackets delimit a caller ID, brackets look like a section, '$' starts a substitution.
_UNSAFE_TEXT = set(';\\"<>[]$')
_TEXT_LIMIT = 80


class Safe(str):
    """A value checked to be harmless in an Asterisk config line."""


class Secret(Safe):
    """A checked password; a file that prints one is written 0640."""


class RenderError(Exception):
    """The configuration cannot be rendered; `problems` says each reason, naming the key."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("cannot render the Asterisk files: " + "; ".join(self.problems))


@dataclass(frozen=True)
class RenderedFile:
    name: str
    text: str
    #: Whether a password was printed into it (then it is written 0640).
    has_secrets: bool

    @property
    def mode(self) -> int:
        return SECRET_MODE if self.has_secrets else PLAIN_MODE


@dataclass(frozen=True)
class Rendering:
    files: tuple[RenderedFile, ...]
    warnings: tuple[str, ...]

    def file(self, name: str) -> RenderedFile:
        for f in self.files:
            if f.name == name:
                return f
        raise KeyError(name)


#: Shared with the service side; defined in hotline.dialplan.
asterisk_queue = dialplan.asterisk_queue
message_path = dialplan.message_path


def text(value: object, limit: int = _TEXT_LIMIT) -> Safe:
    """Free text (labels, seat names, file names) made fit for a comment or a caller ID
    display name: one line, no comment, escape, quote, bracket or substitution character."""
    out: list[str] = []
    for ch in str(value):
        category = unicodedata.category(ch)
        if category[0] in "CZ":  # controls, format characters, line/paragraph separators, spaces
            out.append(" ")
        elif ch not in _UNSAFE_TEXT:
            out.append(ch)
    cleaned = " ".join("".join(out).split())
    return Safe(cleaned[:limit].rstrip())


def yesno(value: bool) -> Safe:
    return Safe("yes" if value else "no")


# -- validation of what goes into the files


class _Problems(list[str]):
    def need(self, ok: bool, key: str, expected: str, found: object) -> bool:
        if not ok:
            self.append(f"{key}: expected {expected}, found {found!r}")
        return ok


def _bind_address(host: str) -> str:
    """An address Asterisk can bind: 'localhost' means the IPv4 loopback."""
    return "127.0.0.1" if host == "localhost" else str(ipaddress.ip_address(host))


def _socket(host: str, port: int) -> str:
    address = ipaddress.ip_address(host)
    return f"[{address}]:{port}" if address.version == 6 else f"{address}:{port}"


def _trunk_host(value: str) -> tuple[str, str] | None:
    """(host[:port] for URIs, host alone for identify), or None when malformed."""
    v6 = re.match(r"^\[([0-9A-Fa-f:.]+)\](?::(\d{1,5}))?$", value)
    if v6:
        try:
            ipaddress.IPv6Address(v6.group(1))
        except ValueError:
            return None
        return value, v6.group(1)
    host, sep, port = value.partition(":")
    if sep and not (port.isdigit() and 1 <= int(port) <= 65535):
        return None
    if not _HOSTNAME.match(host) or len(host) > 253:
        return None
    return value, host


def _validate(config: Config) -> tuple[_Problems, list[str]]:
    problems, warnings = _Problems(), []
    a = config.asterisk
    for key in ("sounds_dir", "recordings_dir", "voicemail_dir"):
        value = getattr(a, key)
        problems.need(bool(_PATH.match(value)) and "/../" not in value + "/", f"asterisk.{key}", "an absolute path of letters, digits, '.', '_', '-' and '/'", value)
    if a.trunk_host:
        problems.need(_trunk_host(a.trunk_host) is not None, "asterisk.trunk_host", "a host name or IP address, optionally with :port", a.trunk_host)
    if a.trunk_username:
        problems.need(bool(a.trunk_host), "asterisk.trunk_host", "the trunk's host when asterisk.trunk_username is set", a.trunk_host)
        problems.need(bool(_SIP_USER.match(a.trunk_username)), "asterisk.trunk_username", "a SIP user name of letters, digits, '.', '_', '+' or '-'", a.trunk_username)
    problems.need(
        bool(_AMI_USER.match(config.ami.username)) and config.ami.username.lower() != "general",
        "ami.username",
        "a user name of letters, digits, '.', '_' or '-' other than 'general' (manager.conf's settings section)",
        config.ami.username,
    )
    if a.english_number:
        problems.need(a.english_number != a.hotline_number, "asterisk.english_number", "a number other than asterisk.hotline_number", a.english_number)
    if len(set(a.agi_hosts)) != len(a.agi_hosts):
        warnings.append("asterisk.agi_hosts lists a host twice; it is tried twice")
    names = [q.name for q in config.queues]
    if dialplan.GENERAL_QUEUE not in names:
        problems.append(f"queues: expected a queue named {dialplan.GENERAL_QUEUE!r} (the fallback target), found {sorted(names)}")
    seen: dict[str, str] = {}
    for index, name in enumerate(names):
        problems.need(name not in RESERVED_EXTENSIONS, f"queues[{index}].name", "a name Asterisk does not reserve (" + ", ".join(sorted(RESERVED_EXTENSIONS)) + ")", name)
        # Asterisk ignores '-' when it matches extension names: "a-b" and "ab" are one.
        folded = name.replace("-", "")
        if folded in seen:
            problems.append(f"queues[{index}].name: {name!r} and {seen[folded]!r} are the same dialplan extension once '-' is ignored")
        seen[folded] = name
    if config.ami.enabled:
        service = {addr for entry in a.agi_hosts for addr in _host_port(entry).addresses}
        loopback = ipaddress.ip_address(_bind_address(config.ami.host)).is_loopback
        remote = sorted(addr for addr in service if not ipaddress.ip_address(addr).is_loopback)
        if loopback and remote:
            warnings.append(f"ami.host {config.ami.host} is a loopback address but asterisk.agi_hosts lists other nodes ({', '.join(remote)}): they cannot reach the AMI")
    return problems, warnings


# -- the view the templates see


def _view(config: Config, secrets: secretsmod.Secrets, callback_offer: bool) -> dict[str, Any]:
    a = config.asterisk
    lang = config.service.language
    hosts = [_host_port(entry) for entry in a.agi_hosts]
    agi = [Safe(f"agi://{h.host}:{h.port}") for h in hosts]
    linkedid = "linkedid=${CHANNEL(linkedid)}"
    cut = len(QUEUE_PREFIX)
    queues = []
    for q in config.queues:
        members = [{"interface": Safe(f"PJSIP/{s.extension}"), "name": Safe(s.extension), "label": s.name} for s in config.seats if q.name in s.queues]
        queues.append(
            {
                "name": Safe(q.name),
                "asterisk_name": Safe(asterisk_queue(q.name)),
                "label_zh": q.label_zh,
                "label_en": q.label_en,
                "strategy": Safe(q.strategy),
                "ring_seconds": q.ring_seconds,
                "wrapup_seconds": q.wrapup_seconds,
                "weight": q.weight,
                "maxlen": q.max_callers,
                "announce_position": yesno(q.announce_position),
                "announce_frequency": 60 if q.announce_position else 0,
                "application_data": Safe(dialplan.queue_application_data(q.name, q.max_wait_seconds)),
                "members": members,
            }
        )
    seats = [
        {
            "extension": Safe(s.extension),
            "name": s.name or s.extension,
            "auth": Safe(f"{s.extension}-auth"),
            "password": Secret(secrets.seats[s.extension]),
            "queues": Safe(",".join(s.queues)),
        }
        for s in config.seats
    ]
    trunk = None
    if a.trunk_host:
        uri_host, match_host = _trunk_host(a.trunk_host) or ("", "")
        trunk = {
            "name": Safe(TRUNK),
            "uri_host": Safe(uri_host),
            "match": Safe(match_host),
            "username": Safe(a.trunk_username),
            "password": Secret(secrets.trunk_password) if a.trunk_username else None,
            "auth": Safe(f"{TRUNK}-auth"),
            "identify": Safe(f"{TRUNK}-identify"),
            "registration": Safe(f"{TRUNK}-registration"),
        }
    permits = []
    for address in sorted({addr for h in hosts for addr in h.addresses} | _wildcard_free(config.fastagi.bind), key=_address_order):
        ip = ipaddress.ip_address(address)
        permits.append(Safe(f"{ip}/255.255.255.255" if ip.version == 4 else f"{ip}/128"))
    # A recording named after the caller: recording_path() validates its uniqueid, so
    # render it for a placeholder and put the dialplan variable in its place.
    placeholder = "HOTLINEUNIQUEIDPLACEHOLDER"
    recording = dialplan.recording_path(a.recordings_dir, placeholder)
    head, _, tail = recording.rpartition(placeholder)
    message = message_path(a.voicemail_dir, placeholder)
    mhead, _, mtail = message.rpartition(placeholder)
    variables = {
        "caller": VAR_CALLER_UNIQUEID,
        "outcome": dialplan.VAR_OUTCOME,
        "queue": VAR_QUEUE,
        "recording_id": "HOTLINE_RECORDING_ID",
        "message_file": "HOTLINE_MESSAGE_FILE",
        "language": "HOTLINE_LANGUAGE",
    }
    return {
        "source": config.source,
        "version": Safe(__version__),
        "language": Safe(lang),
        "number": Safe(a.hotline_number),
        "english_number": Safe(a.english_number),
        "ctx": {
            "inbound": Safe(dialplan.CONTEXT_INBOUND),
            "queue_exit": Safe(dialplan.CONTEXT_QUEUE_EXIT),
            "agent_answered": Safe(dialplan.CONTEXT_AGENT_ANSWERED),
            "seats": Safe(dialplan.CONTEXT_SEATS),
            "outbound": Safe(dialplan.CONTEXT_OUTBOUND),
            "fallback": Safe(dialplan.CONTEXT_FALLBACK),
            "queues": Safe(CONTEXT_QUEUES),
            "message": Safe(CONTEXT_MESSAGE),
        },
        "var": {name: Safe(value) for name, value in variables.items()},
        "ref": {name: Safe("${" + value + "}") for name, value in variables.items()},
        # state: the IVR skips ANSWER on an answered channel; lang: empty unless a number of
        # its own set the language (ivr.flows.run_ivr, ivr.runner.CallRunner.session).
        "ivr_urls": [Safe(f"{base}/{dialplan.FLOW_IVR}?{linkedid}&state=${{CHANNEL(state)}}&lang=${{{variables['language']}}}") for base in agi],
        "callback_urls": [Safe(f"{base}/{dialplan.FLOW_QUEUE_CALLBACK}?queue=${{{VAR_QUEUE}}}&{linkedid}") for base in agi],
        "callback_key": Safe(dialplan.QUEUE_CALLBACK_KEY),
        "general": Safe(dialplan.GENERAL_QUEUE),
        "prefix": Safe(QUEUE_PREFIX),
        "prefix_length": cut,
        "recording_file": Safe(f"{head}${{{variables['recording_id']}}}{tail}"),
        "message_file": Safe(f"{mhead}${{{VAR_CALLER_UNIQUEID}}}{mtail}"),
        "sound": {name: Safe(promptsmod.sound_name(name, lang, a.sounds_dir)) for name in DIALPLAN_PROMPTS},
        "callback_offer": Safe(promptsmod.sound_name(PROMPT_CALLBACK_OFFER, lang, a.sounds_dir)) if callback_offer else None,
        "queues": queues,
        "seats": seats,
        "trunk": trunk,
        "outbound_patterns": [Safe(p) for p in OUTBOUND_PATTERNS],
        "transport": {"name": Safe(TRANSPORT), "bind": Safe(_socket(_bind_address(a.sip_bind), a.sip_port))},
        "ami": {
            "enabled": config.ami.enabled,
            "username": Safe(config.ami.username),
            "secret": Secret(secrets.ami_password) if config.ami.enabled else None,
            "bindaddr": Safe(_bind_address(config.ami.host)),
            "port": config.ami.port,
            "permits": permits,
            "read": Safe(",".join(AMI_READ)),
            "write": Safe(",".join(ami_write(config))),
        },
    }


def _wildcard_free(bind: str) -> set[str]:
    """The FastAGI listener's address, unless it listens on every interface."""
    address = _bind_address(bind)
    return set() if ipaddress.ip_address(address).is_unspecified else {address}


def _address_order(address: str) -> tuple[int, int]:
    ip = ipaddress.ip_address(address)
    return (ip.version, int(ip))


# -- rendering


class _OutputGuard:
    """Jinja's `finalize` for one template: lets only checked values through, and notes
    whether a password was printed (the file's mode depends on it)."""

    def __init__(self) -> None:
        self.printed = False

    def finalize(self, value: object) -> object:
        """Only checked values reach the output (see the module docstring)."""
        if isinstance(value, Secret):
            self.printed = True
            return value
        if isinstance(value, Safe) or (isinstance(value, int) and not isinstance(value, bool)):
            return value
        raise RenderError([f"a template printed an unchecked value {str(value)[:40]!r}; pass it through the text filter"])


def _environment(guard: _OutputGuard) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=guard.finalize,
    )
    env.filters["text"] = text
    env.filters["yesno"] = yesno
    return env


FILES = ("hotline-pjsip.conf", "hotline-extensions.conf", "hotline-queues.conf", "hotline-manager.conf")


def render(config: Config, *, prompts: Collection[str] | None, environ: Mapping[str, str] | None = None, secrets: secretsmod.Secrets | None = None) -> Rendering:
    """Render and check every file. `prompts` is the set of prompt names the catalogue
    offers (None: not known, prompts are not checked and a warning says so).

    Raises RenderError (a value cannot go into a file, or the check failed) or
    secrets.SecretsError (a needed secret is missing or unusable).
    """
    problems, warnings = _validate(config)
    if problems:
        raise RenderError(problems)
    if secrets is None:
        secrets = secretsmod.load(config, environ)
    secretsmod.require(config, secrets)
    warnings.extend(secrets.warnings)
    if not config.ami.enabled:
        warnings.append("ami.enabled is false: hotline-manager.conf defines no AMI user")
        if config.desk.listen_in:
            warnings.append("desk.listen_in is on but ami.enabled is false: supervisors cannot listen in without the AMI")
    callback_offer = prompts is not None and PROMPT_CALLBACK_OFFER in prompts
    if not callback_offer:
        warnings.append(f"the prompt catalogue has no {PROMPT_CALLBACK_OFFER!r}: queues do not announce that key {dialplan.QUEUE_CALLBACK_KEY} asks for a callback")
    view = _view(config, secrets, callback_offer)
    files = []
    for name in FILES:
        guard = _OutputGuard()
        body = _environment(guard).get_template(name + ".j2").render(view)
        files.append(RenderedFile(name=name, text=body, has_secrets=guard.printed))
    from asterisk_conf.check import check

    if prompts is None:
        warnings.append("the prompt catalogue is not available: prompts played by the dialplan were not checked (" + ", ".join(DIALPLAN_PROMPTS) + ")")
    inconsistencies = check({f.name: f.text for f in files}, config, prompts)
    if inconsistencies:
        raise RenderError(inconsistencies)
    return Rendering(files=tuple(files), warnings=tuple(warnings))


def write(rendering: Rendering, out_dir: Path) -> list[Path]:
    """Write each file atomically (Asterisk may reload at any moment) with its mode:
    0640 when it holds a password, 0644 otherwise, whatever the umask."""
    out_dir.mkdir(parents=True, exist_ok=True, mode=0o750)
    written = []
    for f in rendering.files:
        target = out_dir / f.name
        temporary = out_dir / f".{f.name}.{os.getpid()}.tmp"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
                fh.write(f.text)
                fh.flush()
                os.fchmod(fh.fileno(), f.mode)
                os.fsync(fh.fileno())
            os.replace(temporary, target)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        written.append(target)
    return written
