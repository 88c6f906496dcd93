"""The service's configuration: one TOML file, typed, layered and validated at start.

Layers, lowest first: the defaults written below, the TOML file, then the environment
(secrets only, so that they never need to be committed). Every error names the file, the
key path, what was expected and what was found, because the person reading it is an
administrator at a terminal, not a developer in a debugger.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from hotline.worktime import OfficeHours, TimeLimit, WorkingCalendar, YearOverride

#: Environment variables that override secrets and deployment addresses.
ENVIRONMENT = {
    "HOTLINE_DATABASE_URL": ("database", "url"),
    "HOTLINE_AMI_PASSWORD": ("ami", "password"),
}
DEFAULT_CONFIG_ENV = "HOTLINE_CONFIG"
DEFAULT_CONFIG_NAME = "hotline.toml"


class ConfigError(Exception):
    """A configuration value is missing, malformed or out of range."""

    def __init__(self, source: str, key: str, expected: str, found: object) -> None:
        self.source, self.key, self.expected, self.found = source, key, expected, found
        super().__init__(f"{source}: {key}: expected {expected}, found {_describe(found)}")

    @classmethod
    def file_problem(cls, source: str, problem: str) -> ConfigError:
        """The file as a whole is unusable (missing, unreadable, not TOML)."""
        error = cls.__new__(cls)
        error.source, error.key, error.expected, error.found = source, "", "", problem
        Exception.__init__(error, f"{source}: {problem}")
        return error


class _Missing:
    def __repr__(self) -> str:
        return "nothing"


MISSING = _Missing()


def _describe(value: object) -> str:
    if value is MISSING:
        return "nothing"
    text = repr(value)
    if len(text) > 80:
        text = text[:77] + "..."
    return f"{text} ({type(value).__name__})"


# -- field checkers: each takes the raw TOML value and returns the typed one, or raises
#    _Invalid(expected) which the loader turns into a ConfigError with the key path.


class _Invalid(Exception):
    def __init__(self, expected: str) -> None:
        super().__init__(expected)
        self.expected = expected


def _string(value: Any) -> str:
    if not isinstance(value, str):
        raise _Invalid("a string")
    return value


def _non_empty_string(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _Invalid("a non-empty string")
    return value


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise _Invalid("true or false")
    return value


def _integer(low: int, high: int) -> Callable[[Any], int]:
    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise _Invalid(f"an integer from {low} to {high}")
        return value

    return check


def _seconds(low: float, high: float) -> Callable[[Any], float]:
    def check(value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
            raise _Invalid(f"a number of seconds from {low:g} to {high:g}")
        return float(value)

    return check


def _choice(*options: str) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        for option in options:
            if value == option:
                return option
        raise _Invalid("one of " + ", ".join(repr(o) for o in options))

    return check


def _host(value: Any) -> str:
    """A listening address: an IP literal, or 'localhost'. Names other than that are refused,
    so that a typo can never silently bind a public interface."""
    expected = "an IP address such as '127.0.0.1' or '::1', or 'localhost'"
    if not isinstance(value, str):
        raise _Invalid(expected)
    if value == "localhost":
        return value
    try:
        ipaddress.ip_address(value)
    except ValueError:
        raise _Invalid(expected) from None
    return value


def _timezone(value: Any) -> str:
    name = _string(value)
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise _Invalid("an IANA time zone name such as 'Asia/Shanghai'") from None
    return name


def _database_url(value: Any) -> str:
    text = _non_empty_string(value)
    if not text.startswith(("sqlite://", "postgresql://", "postgresql+psycopg://")):
        raise _Invalid("a URL starting sqlite:/// or postgresql+psycopg://")
    if text.startswith("postgresql://"):
        # psycopg 3 is the driver we ship; SQLAlchemy would otherwise look for psycopg2.
        text = "postgresql+psycopg://" + text[len("postgresql://") :]
    return text


def _time_limit(value: Any) -> str:
    try:
        return str(TimeLimit.parse(_string(value)))
    except ValueError as exc:
        raise _Invalid(f"a time limit ({exc})") from None


def _office_hours(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _Invalid('a list of periods such as ["08:30-12:00", "13:30-17:30"]')
    try:
        OfficeHours.parse(value)
    except ValueError as exc:
        raise _Invalid(f"valid office periods ({exc})") from None
    return tuple(value)


def _date_list(value: Any) -> tuple[date, ...]:
    if not isinstance(value, list):
        raise _Invalid('a list of dates such as ["2027-01-01"]')
    out = []
    for item in value:
        if isinstance(item, date):
            out.append(item)
            continue
        try:
            out.append(date.fromisoformat(item))
        except (TypeError, ValueError):
            raise _Invalid(f"a list of ISO dates; {item!r} is not one") from None
    return tuple(out)


def _string_list(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise _Invalid("a list of non-empty strings")
    return tuple(value)


_NAME = __import__("re").compile(r"^[a-z][a-z0-9_-]{0,31}$")
_EXTENSION = __import__("re").compile(r"^[0-9]{2,8}$")


def _identifier(value: Any) -> str:
    """A name that goes into Asterisk files and AGI commands: nothing that could break out."""
    if not isinstance(value, str) or not _NAME.match(value):
        raise _Invalid("a lower-case name of letters, digits, '_' or '-' starting with a letter (at most 32)")
    return value


def _extension(value: Any) -> str:
    if not isinstance(value, str) or not _EXTENSION.match(value):
        raise _Invalid("an extension of 2 to 8 digits, as a string")
    return value


def _digits(value: Any) -> str:
    if not isinstance(value, str) or not value.isdigit() or len(value) > 20:
        raise _Invalid("a string of digits")
    return value


def _optional_digits(value: Any) -> str:
    return "" if value == "" else _digits(value)


def _hours(value: Any) -> tuple[str, ...]:
    from hotline.business_hours import BusinessHours

    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _Invalid('a list such as ["24x7"] or ["workdays 08:30-17:30"]')
    try:
        BusinessHours.parse(value)
    except ValueError as exc:
        raise _Invalid(f"valid hours ({exc})") from None
    return tuple(value)


def _host_port(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not value:
        raise _Invalid('a non-empty list such as ["127.0.0.1:4573"]')
    for item in value:
        host, sep, port = str(item).rpartition(":")
        try:
            ok = sep == ":" and 1 <= int(port) <= 65535
            _host(host.strip("[]"))
        except (ValueError, _Invalid):
            ok = False
        if not ok:
            raise _Invalid(f'a list of "ip:port" entries; {item!r} is not one')
    return tuple(value)


def _identifier_list(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise _Invalid("a list of queue names")
    return tuple(_identifier(v) for v in value)


#: Asterisk's queue strategies ([[queues]] strategy).
QUEUE_STRATEGIES = ("ringall", "leastrecent", "fewestcalls", "random", "rrmemory", "linear", "wrandom", "rrordered")


def _strategy(value: Any) -> str:
    return _choice(*QUEUE_STRATEGIES)(value)


def _check(checker: Callable[[Any], Any], **kw: Any) -> Any:
    return field(metadata={"check": checker}, **kw)


# -- sections


@dataclass(frozen=True)
class ServiceConfig:
    """Who we are and where we keep our files."""

    name: str = _check(_non_empty_string, default="12319")
    language: str = _check(_choice("zh", "en"), default="zh")
    timezone: str = _check(_timezone, default="Asia/Shanghai")
    data_dir: str = _check(_non_empty_string, default="var")
    log_level: str = _check(_choice("DEBUG", "INFO", "WARNING", "ERROR"), default="INFO")
    #: Set by `hotline serve --demo` (hotline.demo): a demo database, simulated calls, and a
    #: banner on every desk page.
    demo: bool = _check(_boolean, default=False)


@dataclass(frozen=True)
class DatabaseConfig:
    url: str = _check(_database_url, default="sqlite:///var/hotline.db")
    pool_size: int = _check(_integer(1, 200), default=5)
    echo: bool = _check(_boolean, default=False)
    #: Seconds after which the service gives up on any database operation (hotline.storage.dbpool):
    #: the call log journals it, a lookup counts as unavailable.
    timeout: int = _check(_integer(1, 300), default=5)


@dataclass(frozen=True)
class HttpConfig:
    bind: str = _check(_host, default="127.0.0.1")
    port: int = _check(_integer(0, 65535), default=8080)


@dataclass(frozen=True)
class FastAgiConfig:
    bind: str = _check(_host, default="127.0.0.1")
    port: int = _check(_integer(0, 65535), default=4573)


@dataclass(frozen=True)
class AmiConfig:
    enabled: bool = _check(_boolean, default=False)
    host: str = _check(_host, default="127.0.0.1")
    port: int = _check(_integer(1, 65535), default=5038)
    username: str = _check(_non_empty_string, default="hotline")
    password: str = _check(_string, default="", repr=False)
    password_file: str = _check(_string, default="")


@dataclass(frozen=True)
class AsteriskConfig:
    """What the Asterisk side needs; rendered by `asterisk_conf` and used by the IVR."""

    #: The number citizens dial (and the trunk delivers as DNID).
    hotline_number: str = _check(_digits, default="12319")
    #: A second number whose callers hear English from the first word (no language offer);
    #: empty: none.
    english_number: str = _check(_optional_digits, default="")
    #: FastAGI servers the dialplan tries in order; defaults to this node's listener.
    agi_hosts: tuple[str, ...] = _check(_host_port, default=("127.0.0.1:4573",))
    #: Asterisk's address for SIP (PJSIP transport).
    sip_bind: str = _check(_host, default="127.0.0.1")
    sip_port: int = _check(_integer(1, 65535), default=5060)
    #: The SIP provider delivering 12319 calls; empty: no trunk is rendered.
    trunk_host: str = _check(_string, default="")
    trunk_username: str = _check(_string, default="")
    #: Where our prompts are installed for Asterisk (see hotline.prompts for the layout).
    sounds_dir: str = _check(_non_empty_string, default="/var/lib/asterisk/sounds/hotline")
    #: MixMonitor recordings of answered calls; the service reads them from here.
    recordings_dir: str = _check(_non_empty_string, default="/var/spool/asterisk/monitor/hotline")
    #: Messages callers leave when a queue is closed or full (RECORD FILE).
    voicemail_dir: str = _check(_non_empty_string, default="/var/spool/asterisk/hotline-voicemail")
    #: TOML file with seat and trunk passwords; never committed (see docs/deploying.md).
    secrets_file: str = _check(_string, default="")
    #: Where the desk writes hotline-*.conf again after an administrator changes the queues
    #: (the directory Asterisk #includes them from); empty: the page says what to run instead.
    conf_dir: str = _check(_string, default="")


@dataclass(frozen=True)
class QueueConfig:
    """One Asterisk queue = one skill. Declared once; the dialplan and the IVR both use it."""

    #: The skill's name; its Asterisk queue is "hotline-<name>" (hotline.dialplan.asterisk_queue).
    name: str = _check(_identifier, default="general")
    label_zh: str = _check(_non_empty_string, default="人工服务")
    label_en: str = _check(_non_empty_string, default="Operators")
    strategy: str = _check(_strategy, default="rrmemory")
    #: Seconds an agent's phone rings before the next agent is tried.
    ring_seconds: int = _check(_integer(5, 120), default=15)
    wrapup_seconds: int = _check(_integer(0, 600), default=10)
    #: Higher weight is served first when agents are in several queues (emergencies).
    weight: int = _check(_integer(0, 100), default=0)
    announce_position: bool = _check(_boolean, default=True)
    hours: tuple[str, ...] = _check(_hours, default=("24x7",))
    #: Callers beyond this many waiting are offered a message instead (0: no limit).
    max_callers: int = _check(_integer(0, 1000), default=30)
    #: After this long in the queue the caller is offered a message (0: wait for ever).
    max_wait_seconds: int = _check(_integer(0, 7200), default=600)
    #: The wallboard's service level: the share of calls answered within this many seconds
    #: (GB/T 33358-2016: 15 s).
    service_level_seconds: int = _check(_integer(1, 600), default=15)


@dataclass(frozen=True)
class SeatConfig:
    """An agent seat: a PJSIP endpoint operators log in at, and the queues it serves."""

    extension: str = _check(_extension, default="")
    name: str = _check(_string, default="")
    queues: tuple[str, ...] = _check(_identifier_list, default=("general",))


@dataclass(frozen=True)
class IvrConfig:
    #: A shipped menu by name ("default", "skills") or the path of a menu TOML file.
    menu: str = _check(_non_empty_string, default="default")
    #: Call records that could not reach the database wait here until it is back; relative to
    #: service.data_dir, so one writable directory holds everything the service writes.
    journal_dir: str = _check(_non_empty_string, default="journal")
    #: `hotline prompts check` fails when a caller who presses no key would wait longer than
    #: this for a person (after hours: for the message's beep), with the real recordings.
    #: GB/T 33358 asks for an answer within 15 s.
    zero_key_seconds: float = _check(_seconds(1, 15), default=10.0)


@dataclass(frozen=True)
class DeskConfig:
    """The agent desk (docs/desk.md)."""

    #: After each queue call the seat stays paused (reason wrapup) this long for after-call
    #: work, then the desk unpauses it; 0: no wrap-up pause.
    wrapup_seconds: int = _check(_integer(0, 3600), default=30)
    #: Supervisors may listen in on an operator's calls from the wallboard (Asterisk's ChanSpy,
    #: started by an AMI Originate that rings the supervisor's own seat). Off by default: when
    #: on, the rendered manager.conf also grants the AMI user the `originate` write class.
    listen_in: bool = _check(_boolean, default=False)


DEFAULT_QUEUES = (
    QueueConfig(),
    QueueConfig(name="emergency", label_zh="抢险抢修", label_en="Emergency repairs", weight=10, strategy="ringall", max_wait_seconds=0),
)


@dataclass(frozen=True)
class YearCalendarConfig:
    holidays: tuple[date, ...] = _check(_date_list, default=())
    workdays: tuple[date, ...] = _check(_date_list, default=())


@dataclass(frozen=True)
class CalendarConfig:
    office_hours: tuple[str, ...] = _check(_office_hours, default=("08:30-12:00", "13:30-17:30"))
    years: Mapping[int, YearCalendarConfig] = field(default_factory=dict)


@dataclass(frozen=True)
class TicketsConfig:
    sequence_digits: int = _check(_integer(3, 6), default=4)
    default_time_limit: str = _check(_time_limit, default="5 working_days")
    urgent_time_limit: str = _check(_time_limit, default="4 hours")
    #: Intake offers open cases of the same category at a nearby address opened within this many days as likely duplicates (重复件).
    duplicate_days: int = _check(_integer(1, 90), default=7)
    #: Photos department staff send with a report (处置反馈): at most this many per report …
    photo_max_count: int = _check(_integer(1, 20), default=6)
    #: … each at most this many bytes (JPEG, PNG or WebP; checked by content, not by name).
    photo_max_bytes: int = _check(_integer(10_000, 50_000_000), default=10_000_000)
    #: Where the photos are kept, relative to service.data_dir (or absolute).
    attachments_dir: str = _check(_non_empty_string, default="attachments")


@dataclass(frozen=True)
class SatisfactionConfig:
    """The callback scale. Seeds use three levels; the national 好差评 scheme uses five."""

    levels: tuple[str, ...] = _check(_string_list, default=("满意", "基本满意", "不满意"))
    satisfied: tuple[str, ...] = _check(_string_list, default=("满意", "基本满意"))


@dataclass(frozen=True)
class RolesConfig:
    """Scheduling niceness per role (os.nice, 0-19: higher yields the CPU sooner). The IVR
    answers callers within milliseconds; a busy desk or a speech recogniser on the same
    machine must wait for it, not the other way round (bench/RESULTS.md, "another role busy")."""

    ivr_nice: int = _check(_integer(0, 19), default=0)
    desk_nice: int = _check(_integer(0, 19), default=5)
    workers_nice: int = _check(_integer(0, 19), default=10)


@dataclass(frozen=True)
class Open311Config:
    """The Open311 GeoReport v2 API (docs/open311.md)."""

    #: The jurisdiction this endpoint serves; a request naming another gets 404. Empty: any.
    jurisdiction_id: str = _check(_string, default="")
    #: Requests per minute one API key may make (POST and GET); 0: no limit.
    rate_limit_per_key: int = _check(_integer(0, 100000), default=60)
    #: Requests per minute one address may make without a key (GET only); 0: no limit.
    rate_limit_per_address: int = _check(_integer(0, 100000), default=30)
    #: GET /requests shows tickets filed through Open311 only; true: every ticket (descriptions
    #: of phoned-in cases may hold what a caller said about themselves).
    publish_all_tickets: bool = _check(_boolean, default=False)
    #: The discovery document's contact and where integrators ask for a key.
    contact: str = _check(_string, default="")
    key_service: str = _check(_string, default="")


@dataclass(frozen=True)
class CallbacksConfig:
    """When the centre may call citizens back (回访, queue callbacks): rules written as queue
    hours are ("workdays 09:00-12:00"), so public holidays are skipped and 调休 days count."""

    calling_hours: tuple[str, ...] = _check(_hours, default=("workdays 09:00-12:00", "workdays 14:00-18:00"))


@dataclass(frozen=True)
class Config:
    service: ServiceConfig = field(default_factory=ServiceConfig)
    roles: RolesConfig = field(default_factory=RolesConfig)
    database: DatabaseConfig = field(default_factory=DatabaseConfig)
    http: HttpConfig = field(default_factory=HttpConfig)
    fastagi: FastAgiConfig = field(default_factory=FastAgiConfig)
    ami: AmiConfig = field(default_factory=AmiConfig)
    calendar: CalendarConfig = field(default_factory=CalendarConfig)
    tickets: TicketsConfig = field(default_factory=TicketsConfig)
    satisfaction: SatisfactionConfig = field(default_factory=SatisfactionConfig)
    callbacks: CallbacksConfig = field(default_factory=CallbacksConfig)
    asterisk: AsteriskConfig = field(default_factory=AsteriskConfig)
    ivr: IvrConfig = field(default_factory=IvrConfig)
    open311: Open311Config = field(default_factory=Open311Config)
    desk: DeskConfig = field(default_factory=DeskConfig)
    queues: tuple[QueueConfig, ...] = DEFAULT_QUEUES
    seats: tuple[SeatConfig, ...] = ()
    #: Where the values came from, for messages; not a setting.
    source: str = "defaults"
    #: Directory relative paths in the file are resolved against.
    base_dir: Path = field(default_factory=Path.cwd)
    #: The working calendar kept current from the database's admin settings (hotline.settings),
    #: set by the composition root; None: `working_calendar()` builds one from [calendar].
    live_calendar: WorkingCalendar | None = field(default=None, compare=False, repr=False)

    def data_path(self, *parts: str) -> Path:
        return (self.base_dir / self.service.data_dir).joinpath(*parts)

    def database_url(self) -> str:
        """The URL with a relative SQLite path made absolute against the config's directory."""
        url = self.database.url
        prefix = "sqlite:///"
        if url.startswith(prefix) and not url.startswith("sqlite:////") and url != "sqlite:///:memory:":
            return prefix + str(self.base_dir / url[len(prefix) :])
        return url

    def queue(self, name: str) -> QueueConfig:
        for q in self.queues:
            if q.name == name:
                return q
        raise KeyError(name)

    def working_calendar(self) -> WorkingCalendar:
        if self.live_calendar is not None:
            return self.live_calendar
        return calendar_of(self.calendar, self.service.timezone)


def calendar_of(calendar: CalendarConfig, timezone: str) -> WorkingCalendar:
    """The working calendar a [calendar] section describes."""
    overrides = {year: YearOverride(holidays=frozenset(y.holidays), workdays=frozenset(y.workdays)) for year, y in calendar.years.items()}
    return WorkingCalendar(office_hours=OfficeHours.parse(list(calendar.office_hours)), tz=ZoneInfo(timezone), overrides=overrides)


_SECTION_TYPES = {
    "service": ServiceConfig,
    "roles": RolesConfig,
    "database": DatabaseConfig,
    "http": HttpConfig,
    "fastagi": FastAgiConfig,
    "ami": AmiConfig,
    "calendar": CalendarConfig,
    "tickets": TicketsConfig,
    "satisfaction": SatisfactionConfig,
    "callbacks": CallbacksConfig,
    "asterisk": AsteriskConfig,
    "ivr": IvrConfig,
    "open311": Open311Config,
    "desk": DeskConfig,
}
#: Arrays of tables ([[queues]], [[seats]]): their type and the key that must be unique.
_LIST_TYPES: dict[str, tuple[type, str]] = {"queues": (QueueConfig, "name"), "seats": (SeatConfig, "extension")}


def _build(kind: type, raw: Any, source: str, path: str) -> Any:
    """Check every key of one table against the dataclass; unknown keys are errors,
    because a misspelt key silently ignored is a setting silently not applied."""
    if not isinstance(raw, dict):
        raise ConfigError(source, path, "a table", raw)
    known = {f.name: f for f in dataclasses.fields(kind)}
    values: dict[str, Any] = {}
    for key, value in raw.items():
        key_path = f"{path}.{key}"
        if kind is CalendarConfig and key == "years":
            values["years"] = _build_years(value, source, key_path)
            continue
        spec = known.get(key)
        if spec is None or "check" not in spec.metadata:
            raise ConfigError(source, key_path, "no such key (known: " + ", ".join(sorted(known)) + ")", value)
        try:
            values[key] = spec.metadata["check"](value)
        except _Invalid as exc:
            raise ConfigError(source, key_path, exc.expected, value) from None
    return kind(**values)


def _build_years(raw: Any, source: str, path: str) -> dict[int, YearCalendarConfig]:
    if not isinstance(raw, dict):
        raise ConfigError(source, path, "a table of years such as [calendar.years.2027]", raw)
    years = {}
    for key, value in raw.items():
        if not (key.isdigit() and 2000 <= int(key) <= 2100):
            raise ConfigError(source, f"{path}.{key}", "a year from 2000 to 2100", key)
        year = _build(YearCalendarConfig, value, source, f"{path}.{key}")
        for d in year.holidays + year.workdays:
            if d.year != int(key):
                raise ConfigError(source, f"{path}.{key}", f"dates in {key}", d.isoformat())
        both = sorted(set(year.holidays) & set(year.workdays))
        if both:
            raise ConfigError(source, f"{path}.{key}", "each date either a holiday or a workday, not both", both[0].isoformat())
        years[int(key)] = year
    return years


def _build_list(name: str, raw: Any, source: str) -> tuple[Any, ...]:
    kind, unique = _LIST_TYPES[name]
    if not isinstance(raw, list):
        raise ConfigError(source, name, f"an array of tables ([[{name}]])", raw)
    items, seen = [], set()
    for index, entry in enumerate(raw):
        path = f"{name}[{index}]"
        if isinstance(entry, dict) and unique not in entry:
            raise ConfigError(source, f"{path}.{unique}", "a value (required)", MISSING)
        item = _build(kind, entry, source, path)
        key = getattr(item, unique)
        if key in seen:
            raise ConfigError(source, f"{path}.{unique}", f"a {unique} not used by another entry", key)
        seen.add(key)
        items.append(item)
    return tuple(items)


def _cross_check(config: Config) -> None:
    source = config.source
    if not config.queues:
        raise ConfigError(source, "queues", "at least one [[queues]] entry", [])
    names = {q.name for q in config.queues}
    for index, seat in enumerate(config.seats):
        for queue in seat.queues:
            if queue not in names:
                raise ConfigError(source, f"seats[{index}].queues", "names of declared [[queues]] (" + ", ".join(sorted(names)) + ")", queue)
    unknown = [s for s in config.satisfaction.satisfied if s not in config.satisfaction.levels]
    if unknown:
        raise ConfigError(source, "satisfaction.satisfied", "a subset of satisfaction.levels", unknown[0])
    if config.http.port and config.http.port == config.fastagi.port and config.http.bind == config.fastagi.bind:
        raise ConfigError(source, "fastagi.port", "a port different from http.port", config.fastagi.port)


def check_section(name: str, raw: Any, source: str) -> Any:
    """Validate one section (or [[queues]]/[[seats]] array) exactly as the loader does, for the
    admin pages: the same checkers and the same ConfigError message, never a second copy of
    the rules. Returns the typed section."""
    if name in _LIST_TYPES:
        return _build_list(name, raw, source)
    if name not in _SECTION_TYPES:
        raise ConfigError(source, name, "a section (known: " + ", ".join([*_SECTION_TYPES, *_LIST_TYPES]) + ")", raw)
    return _build(_SECTION_TYPES[name], raw, source, name)


def check_config(config: Config) -> None:
    """The loader's checks across sections (seats name declared queues …), for the admin pages
    after they replaced a section. Raises ConfigError."""
    _cross_check(config)


def parse(text: str, source: str = "<string>", base_dir: Path | None = None, environ: Mapping[str, str] | None = None) -> Config:
    """Parse TOML text into a validated Config. `environ` overrides secrets (default: os.environ)."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError.file_problem(source, f"not valid TOML: {exc}") from None
    return from_mapping(raw, source=source, base_dir=base_dir, environ=environ)


def from_mapping(raw: Mapping[str, Any], source: str = "<mapping>", base_dir: Path | None = None, environ: Mapping[str, str] | None = None) -> Config:
    environ = os.environ if environ is None else environ
    merged: dict[str, dict[str, Any]] = {}
    lists: dict[str, tuple[Any, ...]] = {}
    for name, value in raw.items():
        if name in _LIST_TYPES:
            lists[name] = _build_list(name, value, source)
            continue
        if name not in _SECTION_TYPES:
            raise ConfigError(source, name, "a section (known: " + ", ".join([*_SECTION_TYPES, *_LIST_TYPES]) + ")", value)
        if not isinstance(value, dict):
            raise ConfigError(source, name, "a table", value)
        merged[name] = dict(value)
    sections: dict[str, Any] = {}
    for name, kind in _SECTION_TYPES.items():
        sections[name] = _build(kind, merged.get(name, {}), source, name)
    sections.update(lists)
    # Environment last: secrets never need to be in the file.
    for variable, (section, key) in ENVIRONMENT.items():
        if variable in environ:
            check = {f.name: f for f in dataclasses.fields(_SECTION_TYPES[section])}[key].metadata["check"]
            try:
                value = check(environ[variable])
            except _Invalid as exc:
                raise ConfigError(f"environment {variable}", f"{section}.{key}", exc.expected, "(hidden)" if "password" in key else environ[variable]) from None
            sections[section] = dataclasses.replace(sections[section], **{key: value})
    ami = sections["ami"]
    if ami.password_file and not ami.password:
        path = (base_dir or Path.cwd()) / ami.password_file
        try:
            sections["ami"] = dataclasses.replace(ami, password=path.read_text(encoding="utf-8").strip())
        except OSError as exc:
            raise ConfigError(source, "ami.password_file", "a readable file", f"{path} ({exc.strerror})") from None
    if sections["ami"].enabled and not sections["ami"].password:
        raise ConfigError(source, "ami.password", "a password (set HOTLINE_AMI_PASSWORD or ami.password_file) when ami.enabled is true", MISSING)
    config = Config(**sections, source=source, base_dir=base_dir or Path.cwd())
    _cross_check(config)
    return config


def load(path: str | os.PathLike[str] | None = None, environ: Mapping[str, str] | None = None) -> Config:
    """Load the config file; with no path, $HOTLINE_CONFIG, then ./hotline.toml, then defaults."""
    environ = os.environ if environ is None else environ
    if path is None:
        path = environ.get(DEFAULT_CONFIG_ENV) or (DEFAULT_CONFIG_NAME if Path(DEFAULT_CONFIG_NAME).exists() else None)
    if path is None:
        return from_mapping({}, source="defaults", environ=environ)
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError.file_problem(str(file), "no such file") from None
    except UnicodeDecodeError as exc:
        raise ConfigError.file_problem(str(file), f"not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise ConfigError.file_problem(str(file), f"cannot read it ({exc.strerror})") from None
    return parse(text, source=str(file), base_dir=file.resolve().parent, environ=environ)


def sample_path() -> Path:
    """The commented sample shipped with the package."""
    return Path(__file__).parent / "data" / "hotline.sample.toml"
