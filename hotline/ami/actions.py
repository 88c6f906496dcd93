"""Typed AMI actions: one builder per action we send, values checked before they hit the wire.

Each builder returns an `Action[T]` that tells the client how the action completes (one
response, a list of events closed by `…Complete`, or an Originate's `OriginateResponse`
event) and how to turn what came back into a `T`. Header order follows what the lab's real
Asterisk 22 was sent in the reference transcripts, so our bytes match them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from hotline.ami.codec import Event, Response

T = TypeVar("T")

RESPONSE = "response"  # done at the Response line
LIST = "list"  # Response (EventList: start), items, then an event with EventList: Complete
ORIGINATE = "originate"  # Response, then the OriginateResponse event with our ActionID

#: Why an Originate ended, from OriginateResponse's Reason (the last AST_CONTROL_* seen).
ORIGINATE_REASONS = {0: "failed", 1: "hangup", 3: "no_answer", 4: "answered", 5: "busy", 8: "congestion"}


class ActionValueError(ValueError):
    """A value that Asterisk would misread or that could break the framing; names the field."""

    def __init__(self, field_name: str, problem: str) -> None:
        self.field = field_name
        super().__init__(f"{field_name}: {problem}")


@dataclass(frozen=True, slots=True)
class ListResult:
    """A list action's outcome: the opening response and the items, closing event excluded."""

    response: Response
    events: tuple[Event, ...]
    complete: Event | None = None


@dataclass(frozen=True, slots=True)
class OriginateResult:
    """What became of an Async Originate (a delivered outcome, answered or not)."""

    action_id: str
    answered: bool
    reason: int
    reason_text: str
    channel: str
    uniqueid: str | None
    response: Response
    event: Event


def _raw(result: Any) -> Any:
    return result


@dataclass(frozen=True)
class Action(Generic[T]):
    """One action to send. `fields` keep their order; repeated keys are allowed."""

    name: str
    fields: tuple[tuple[str, str], ...] = ()
    completion: str = RESPONSE
    #: Seconds to wait for completion; None: the client's default.
    timeout: float | None = None
    #: Header names whose values are never logged or shown (Login's Secret).
    secret: frozenset[str] = frozenset()
    #: Takes a Response, ListResult or OriginateResult as `completion` says (hence Any).
    parse: Callable[[Any], T] = field(default=_raw, repr=False, compare=False)

    def describe(self) -> str:
        """For logs: the action with secrets masked."""
        shown = ", ".join(f"{k}={'***' if k in self.secret else v!r}" for k, v in self.fields)
        return f"{self.name}({shown})"

    def __repr__(self) -> str:
        return f"<Action {self.describe()}>"


# -- value checks

_QUEUE = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")
_INTERFACE = re.compile(r"^[A-Za-z][A-Za-z0-9]*/[^\s,|]{1,200}$")
_CHANNEL = re.compile(r"^[A-Za-z][A-Za-z0-9]*/[^\s]{1,200}$")
_CONTEXT = re.compile(r"^[A-Za-z0-9_.\-]{1,79}$")
_EXTEN = re.compile(r"^[A-Za-z0-9_.+*#\-]{1,79}$")
_VARIABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,79}(\([A-Za-z0-9_,.\-]{0,79}\))?$")
_APPLICATION = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,79}$")
_CHANNEL_ID = re.compile(r"^[A-Za-z0-9_.\-]{1,128}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _check(name: str, value: object, pattern: re.Pattern[str], what: str) -> str:
    if not isinstance(value, str) or not pattern.match(value):
        raise ActionValueError(name, f"expected {what}, got {value!r}")
    return value


def _text(name: str, value: object, limit: int) -> str:
    if not isinstance(value, str):
        raise ActionValueError(name, f"expected text, got {type(value).__name__}")
    if _CONTROL.search(value):
        raise ActionValueError(name, "control characters (CR, LF, NUL …) are not allowed")
    if len(value) > limit:
        raise ActionValueError(name, f"at most {limit} characters")
    return value


def _int(name: str, value: object, low: int, high: int) -> str:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ActionValueError(name, f"expected an integer from {low} to {high}, got {value!r}")
    return str(value)


def _bool(value: bool) -> str:
    return "true" if value else "false"


def queue_name(value: object) -> str:
    return _check("Queue", value, _QUEUE, "a queue name (letters, digits, '_', '.', '-')")


def interface_name(value: object) -> str:
    return _check("Interface", value, _INTERFACE, "an interface such as 'PJSIP/1001' or 'Local/agent1@agents/n'")


def channel_name(value: object, field_name: str = "Channel") -> str:
    return _check(field_name, value, _CHANNEL, "a channel such as 'PJSIP/1001-00000003'")


# -- result shapers


def _response(result: Response) -> Response:
    return result


def _list(result: ListResult) -> ListResult:
    return result


def _getvar(result: Response) -> str | None:
    """Getvar's value; None when Asterisk answers without a Value header (unset)."""
    return result.get("Value") if "Value" in result else None


def originate_result(response: Response, event: Event) -> OriginateResult:
    try:
        reason = int(event.get("Reason", "0"))
    except ValueError:
        reason = 0
    uniqueid = event.get("Uniqueid")
    return OriginateResult(
        action_id=event.action_id,
        answered=event.get("Response") == "Success",
        reason=reason,
        reason_text=ORIGINATE_REASONS.get(reason, f"reason_{reason}"),
        channel=event.get("Channel"),
        uniqueid=None if uniqueid in ("", "<unknown>") else uniqueid,
        response=response,
        event=event,
    )


# -- the actions


def login(username: str, secret: str) -> Action[Response]:
    """Login without an `Events:` filter: we read every class the manager user may read."""
    _text("Username", username, 80)
    if not username:
        raise ActionValueError("Username", "must not be empty")
    _text("Secret", secret, 256)
    return Action("Login", (("Username", username), ("Secret", secret)), secret=frozenset({"Secret"}), parse=_response)


def logoff() -> Action[Response]:
    return Action("Logoff", parse=_response)


def ping(timeout: float | None = None) -> Action[Response]:
    return Action("Ping", timeout=timeout, parse=_response)


def originate(
    channel: str,
    *,
    context: str | None = None,
    exten: str | None = None,
    priority: int = 1,
    application: str | None = None,
    data: str | None = None,
    caller_id: str | None = None,
    timeout_ms: int = 30_000,
    variables: Mapping[str, str] | None = None,
    channel_id: str | None = None,
    other_channel_id: str | None = None,
    account: str | None = None,
    wait_seconds: float | None = None,
) -> Action[OriginateResult]:
    """Async Originate: completes with the OriginateResponse event, answered or not.

    Exactly one of (context, exten) or application. `channel_id` fixes the new channel's
    uniqueid (so a retried callback is recognisable); `wait_seconds` bounds how long we wait
    for the outcome (default: the ring timeout plus 30 s).
    """
    fields: list[tuple[str, str]] = [("Channel", channel_name(channel))]
    if application is not None:
        if context is not None or exten is not None:
            raise ActionValueError("Application", "give either an application or context/exten, not both")
        fields.append(("Application", _check("Application", application, _APPLICATION, "an application name")))
        if data is not None:
            fields.append(("Data", _text("Data", data, 1024)))
    else:
        if context is None or exten is None:
            raise ActionValueError("Context", "context and exten are required without an application")
        fields.append(("Context", _check("Context", context, _CONTEXT, "a dialplan context")))
        fields.append(("Exten", _check("Exten", exten, _EXTEN, "an extension")))
        fields.append(("Priority", _int("Priority", priority, 1, 100_000)))
    if caller_id is not None:
        fields.append(("CallerID", _text("CallerID", caller_id, 128)))
    fields.append(("Timeout", _int("Timeout", timeout_ms, 1_000, 600_000)))
    for name, value in (variables or {}).items():
        _check("Variable", name, _VARIABLE, "a variable name")
        fields.append(("Variable", f"{name}={_text(f'Variable {name}', value, 1024)}"))
    if account is not None:
        fields.append(("Account", _text("Account", account, 80)))
    fields.append(("Async", "true"))
    if channel_id is not None:
        fields.append(("ChannelId", _check("ChannelId", channel_id, _CHANNEL_ID, "a channel id")))
    if other_channel_id is not None:
        fields.append(("OtherChannelId", _check("OtherChannelId", other_channel_id, _CHANNEL_ID, "a channel id")))
    if wait_seconds is None:
        wait_seconds = timeout_ms / 1000 + 30
    return Action("Originate", tuple(fields), completion=ORIGINATE, timeout=wait_seconds, parse=_identity_originate)


def _identity_originate(result: OriginateResult) -> OriginateResult:
    return result


def queue_add(
    queue: str,
    interface: str,
    *,
    member_name: str | None = None,
    penalty: int | None = None,
    paused: bool | None = None,
    state_interface: str | None = None,
    reason: str | None = None,
) -> Action[Response]:
    fields = [("Queue", queue_name(queue)), ("Interface", interface_name(interface))]
    if member_name is not None:
        fields.append(("MemberName", _text("MemberName", member_name, 80)))
    if penalty is not None:
        fields.append(("Penalty", _int("Penalty", penalty, 0, 1000)))
    if paused is not None:
        fields.append(("Paused", _bool(paused)))
    if state_interface is not None:
        fields.append(("StateInterface", _check("StateInterface", state_interface, _INTERFACE, "an interface")))
    if reason is not None:
        fields.append(("Reason", _text("Reason", reason, 80)))
    return Action("QueueAdd", tuple(fields), parse=_response)


def queue_remove(queue: str, interface: str) -> Action[Response]:
    return Action("QueueRemove", (("Queue", queue_name(queue)), ("Interface", interface_name(interface))), parse=_response)


def queue_pause(interface: str, paused: bool = True, *, queue: str | None = None, reason: str | None = None) -> Action[Response]:
    """Pause (or unpause) a member in one queue, or in all its queues when `queue` is None.

    The reason (午休, 培训, after-call work …) shows in QueueStatus and QueueMemberPause.
    """
    fields = []
    if queue is not None:
        fields.append(("Queue", queue_name(queue)))
    fields.append(("Interface", interface_name(interface)))
    fields.append(("Paused", _bool(paused)))
    if reason is not None:
        fields.append(("Reason", _text("Reason", reason, 80)))
    return Action("QueuePause", tuple(fields), parse=_response)


def queue_status(queue: str | None = None, member: str | None = None, timeout: float | None = None) -> Action[ListResult]:
    """QueueParams, QueueMember and QueueEntry items, closed by QueueStatusComplete."""
    fields = []
    if queue is not None:
        fields.append(("Queue", queue_name(queue)))
    if member is not None:
        fields.append(("Member", interface_name(member)))
    return Action("QueueStatus", tuple(fields), completion=LIST, timeout=timeout, parse=_list)


def queue_summary(queue: str | None = None) -> Action[ListResult]:
    fields = (("Queue", queue_name(queue)),) if queue is not None else ()
    return Action("QueueSummary", fields, completion=LIST, parse=_list)


def core_show_channels(timeout: float | None = None) -> Action[ListResult]:
    """Every channel with its uniqueid, linkedid and bridge: the resync's view of calls."""
    return Action("CoreShowChannels", completion=LIST, timeout=timeout, parse=_list)


def status(channel: str | None = None) -> Action[ListResult]:
    fields = (("Channel", channel_name(channel)),) if channel is not None else ()
    return Action("Status", fields, completion=LIST, parse=_list)


def redirect(
    channel: str,
    context: str,
    exten: str,
    priority: int = 1,
    *,
    extra_channel: str | None = None,
    extra_context: str | None = None,
    extra_exten: str | None = None,
    extra_priority: int | None = None,
) -> Action[Response]:
    """Send a channel (and optionally its peer) to another place in the dialplan."""
    fields = [
        ("Channel", channel_name(channel)),
        ("Context", _check("Context", context, _CONTEXT, "a dialplan context")),
        ("Exten", _check("Exten", exten, _EXTEN, "an extension")),
        ("Priority", _int("Priority", priority, 1, 100_000)),
    ]
    if extra_channel is not None:
        fields.append(("ExtraChannel", channel_name(extra_channel, "ExtraChannel")))
        fields.append(("ExtraContext", _check("ExtraContext", extra_context or context, _CONTEXT, "a dialplan context")))
        fields.append(("ExtraExten", _check("ExtraExten", extra_exten or exten, _EXTEN, "an extension")))
        fields.append(("ExtraPriority", _int("ExtraPriority", extra_priority or priority, 1, 100_000)))
    return Action("Redirect", tuple(fields), parse=_response)


def hangup(channel: str, cause: int | None = None) -> Action[Response]:
    fields = [("Channel", channel_name(channel))]
    if cause is not None:
        fields.append(("Cause", _int("Cause", cause, 0, 127)))
    return Action("Hangup", tuple(fields), parse=_response)


def setvar(variable: str, value: str, channel: str | None = None) -> Action[Response]:
    """Set a channel variable (or a global one without `channel`)."""
    fields = []
    if channel is not None:
        fields.append(("Channel", channel_name(channel)))
    fields.append(("Variable", _check("Variable", variable, _VARIABLE, "a variable name")))
    fields.append(("Value", _text("Value", value, 1024)))
    return Action("Setvar", tuple(fields), parse=_response)


def getvar(variable: str, channel: str | None = None) -> Action[str | None]:
    """A channel (or global) variable's value; None if Asterisk reports none."""
    fields = []
    if channel is not None:
        fields.append(("Channel", channel_name(channel)))
    fields.append(("Variable", _check("Variable", variable, _VARIABLE, "a variable name")))
    return Action("Getvar", tuple(fields), parse=_getvar)
