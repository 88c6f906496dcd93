"""The IVR flows through the scripted channel, on SQLite and PostgreSQL: every branch of the
default and the skills menu leaves the expected call record; a silent caller is in the
general queue within 10 s of answer (measured on the virtual clock); a hangup at any step
leaves a closed record; closed, full and timed-out queues take a message that becomes a
ticket draft; the top-level guard queues the caller after an unexpected error."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import func, select
from twisted.internet.defer import Deferred, fail
from twisted.internet.task import Clock

from hotline import config as configmod
from hotline.agi.channel import CallInfo, CommandRejected
from hotline.agi.scripted import ScriptedChannel, ScriptedLine, catalogue_durations, drive, hang_up, in_queue, press, silence, speak
from hotline.calllog import records as calls
from hotline.config import Config
from hotline.dialplan import VAR_OUTCOME, VAR_QUEUE, VAR_RECORDING, skill_of
from hotline.prompts import catalogue, parse_sound_name
from hotline.storage.db import Database
from hotline.storage.models import Call, CallDisposition, Category, CategoryKind, Department, Recording, RecordingKind, Ticket, TicketSource, TicketStatus
from hotline.tickets import services as tickets
from hotline.tickets.services import SYSTEM, TicketPolicy
from hotline.tickets.workflow import Action
from ivr.flows import FLOWS, QUEUEING
from ivr.runner import CallRunner

CST = ZoneInfo("Asia/Shanghai")
#: A Monday that is a working day, mid-morning.
MONDAY = datetime(2026, 11, 23, 10, 0, tzinfo=CST)
REPEAT_CALLER = "13900001111"
NEW_CALLER = "13812345678"
SKILL_QUEUES = ("roads", "sanitation", "street_order")


def make_config(tmp_path: Path, *, menu: str = "default", general: dict[str, Any] | None = None, extra_queues: tuple[str, ...] = (), **sections: Any) -> Config:
    """The defaults, with the IVR's directories under tmp_path and the queues a test needs."""
    queues = [
        {"name": "general", "hours": ["24x7"], "max_callers": 5, "max_wait_seconds": 300, **(general or {})},
        {"name": "emergency", "weight": 10, "strategy": "ringall", "max_wait_seconds": 0},
        *({"name": q, "hours": ["workdays 08:30-17:30"]} for q in extra_queues),
    ]
    raw = {
        "ivr": {"menu": menu, "journal_dir": "journal"},
        "asterisk": {"voicemail_dir": str(tmp_path / "voicemail"), "sounds_dir": "/var/lib/asterisk/sounds/hotline"},
        "queues": queues,
        **sections,
    }
    return configmod.from_mapping(raw, source="test.toml", base_dir=tmp_path)


def skills_config(tmp_path: Path, **kw: Any) -> Config:
    return make_config(tmp_path, menu="skills", extra_queues=SKILL_QUEUES, **kw)


def make_line(config: Config, database: Database, clock: Clock, registry: CollectorRegistry | None = None) -> tuple[ScriptedLine, CallRunner]:
    """The real composition (CallRunner.from_config, inline database mode) on a virtual clock."""
    runner = CallRunner.from_config(config, database, registry or CollectorRegistry(), clock=clock)
    return ScriptedLine(runner, clock, catalogue_durations(config.asterisk.sounds_dir, runner.catalogue)), runner


def clock_at(moment: datetime) -> Clock:
    clock = Clock()
    clock.advance(moment.timestamp())
    return clock


def record(database: Database, uniqueid: str) -> tuple[Call, list[tuple[str, dict[str, Any]]]]:
    with database.transaction() as s:
        call = calls.get(s, uniqueid)
        assert call is not None, f"no call record for {uniqueid}"
        return call, [(e.kind, e.detail) for e in calls.timeline(s, uniqueid)]


def kinds(events: list[tuple[str, dict[str, Any]]]) -> list[str]:
    return [k for k, _ in events]


def prompts_played(channel: ScriptedChannel) -> list[str]:
    return [parse_sound_name(c.args[0], "/var/lib/asterisk/sounds/hotline")[1] for c in channel.commands if c.verb in ("stream_file", "get_data")]


def queued_to(channel: ScriptedChannel) -> list[str]:
    """The skills of the queues the call entered (Asterisk's queue names without the prefix)."""
    return [skill_of(c.args[1].split(",")[0]) or "?" for c in channel.queue_entries()]


@pytest.fixture
def clock() -> Clock:
    return clock_at(MONDAY)


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return make_config(tmp_path)


@pytest.fixture
def line(config: Config, database: Database, clock: Clock) -> Iterator[ScriptedLine]:
    made, runner = make_line(config, database, clock)
    yield made
    runner.close()


@pytest.fixture
def cases(database: Database) -> dict[str, str]:
    """Tickets to ask about: a dispatched one of the repeat caller (open), an answered one
    of another caller (finished), numbers by name."""
    policy = TicketPolicy(calendar=configmod.from_mapping({}).working_calendar())
    with database.transaction() as s:
        department = Department(code="MUN", name_zh="市政工程")
        s.add(department)
        s.flush()
        category = Category(code="100101", kind=CategoryKind.COMPONENT, name_zh="上水井盖", default_department_id=department.id)
        s.add(category)
        s.flush()
        at = MONDAY.replace(day=20)
        open_case = tickets.open_ticket(s, policy, source=TicketSource.HOTLINE, actor=SYSTEM, caller_number=REPEAT_CALLER, at=at)
        tickets.apply(s, policy, open_case, Action.REGISTER, actor=SYSTEM, category_id=category.id, at=at)
        tickets.apply(s, policy, open_case, Action.DISPATCH, actor=SYSTEM, at=at)
        done = tickets.open_ticket(s, policy, source=TicketSource.HOTLINE, actor=SYSTEM, caller_number="13700002222", at=at)
        tickets.apply(s, policy, done, Action.ANSWER, actor=SYSTEM, reason="咨询已答复", at=at)
        return {"open": open_case.number, "done": done.number}


# -- the default menu


def test_silent_caller_is_queued_within_ten_seconds(line, database):
    """A caller who presses nothing hears the welcome and options and is in the general
    queue ≤ 10 s after answer, measured on the virtual clock; the record says answered (the
    scripted queue's agent takes the call)."""
    channel = line.call()
    assert channel.seconds_to_queue() <= 10.0
    assert queued_to(channel) == ["general"]
    assert prompts_played(channel) == ["welcome", "main_menu", "language_offer"]
    call, events = record(database, channel.info.uniqueid)
    assert call.disposition is CallDisposition.ANSWERED and call.queue == "general"
    assert call.caller_number == "+8613812345678" and call.dnid == "12319" and call.ended_at is not None
    assert kinds(events)[:2] == ["start", "answer"] and kinds(events)[-1] == "end"
    assert ("key", {"node": "main", "key": None, "target": "operators"}) in events
    assert channel.variables[VAR_OUTCOME] == QUEUEING and channel.variables[VAR_QUEUE] == "general"
    channel.assert_script_done()


def test_silent_repeat_caller_is_queued_within_ten_seconds(line, database, cases):
    """A repeat caller hears the offer of their case's status instead of the plain menu and,
    pressing nothing, is still queued within 10 s."""
    channel = line.call(callerid=REPEAT_CALLER)
    assert channel.seconds_to_queue() <= 10.0
    assert prompts_played(channel) == ["welcome", "main_menu_repeat", "language_offer"]
    _, events = record(database, channel.info.uniqueid)
    assert ("caller_ticket", {"found": True, "status": "dispatched"}) in events


def test_key_during_welcome_reaches_the_operators_at_once(line, database):
    """0 pressed during the welcome skips the options: the key is carried to the menu."""
    channel = line.call(press("0", after=1.0))
    assert channel.seconds_to_queue() < 2.0
    assert queued_to(channel) == ["general"]
    _call, events = record(database, channel.info.uniqueid)
    assert ("key", {"node": "main", "key": "0", "target": "operators"}) in events
    channel.assert_script_done()


@pytest.mark.parametrize("key", ["3", "7", "*", "#"])
def test_invalid_key_is_said_and_the_menu_offered_again(line, database, key):
    """A key the menu has no option for is not a silent transfer: 按键无效, the menu again
    (with the language offer), and a caller who then presses nothing is queued."""
    channel = line.call(press(key, after=4.0))
    assert prompts_played(channel) == ["welcome", "main_menu", "invalid_key", "main_menu", "language_offer"]
    assert queued_to(channel) == ["general"]
    call, events = record(database, channel.info.uniqueid)
    assert call.disposition is CallDisposition.ANSWERED
    assert ("key", {"node": "main", "key": key, "target": None, "retry": 1}) in events
    assert ("key", {"node": "main", "key": None, "target": "operators"}) in events


def test_invalid_keys_past_the_retries_are_transferred_with_an_announcement(line, database):
    """A second invalid key (the default menu allows one retry): 为您转接人工服务, then the
    general queue — the caller hears where they go."""
    channel = line.call(press("7", after=4.0), press("#", after=3.0))
    assert prompts_played(channel) == ["welcome", "main_menu", "invalid_key", "main_menu", "invalid_transfer"]
    assert queued_to(channel) == ["general"]
    _, events = record(database, channel.info.uniqueid)
    assert ("key", {"node": "main", "key": "#", "target": "operators"}) in events


def test_valid_key_after_an_invalid_one_is_taken(line, database):
    """The menu offered again takes a valid key: 7, then 2 → the emergency queue."""
    channel = line.call(press("7", after=4.0), press("2", after=1.0))
    assert queued_to(channel) == ["emergency"]


def test_key_2_goes_to_the_emergency_queue(line, database):
    """2 (抢险抢修) announces the transfer and joins the priority queue."""
    channel = line.call(press("2", after=3.0))
    assert queued_to(channel) == ["emergency"]
    assert prompts_played(channel)[-1] == "emergency_transfer"
    assert channel.queue_entries()[0].args[1] == "hotline-emergency,,,,,,hotline-agent-answered"
    call, _ = record(database, channel.info.uniqueid)
    assert call.queue == "emergency" and call.disposition is CallDisposition.ANSWERED


def test_status_by_number_then_goodbye_is_self_service(line, database, cases):
    """1, the ticket number and #: the caller hears 案件编号 <digits> and the status phrase,
    presses nothing more, hears goodbye; the IVR served them (self_service)."""
    number = cases["open"]
    channel = line.call(press("1", after=3.0), press(number + "#", after=1.0))
    assert [c.args[0] for c in channel.commands if c.verb == "say_digits"] == [number]
    assert prompts_played(channel)[-3:] == ["status_dispatched", "after_status_menu", "goodbye"]
    assert channel.verbs()[-1] == "hangup" and not channel.queue_entries()
    call, events = record(database, channel.info.uniqueid)
    assert call.disposition is CallDisposition.SELF_SERVICE and call.queue == ""
    assert ("ticket_lookup", {"node": "status", "result": "found", "status": "dispatched", "attempt": 1}) in events
    assert events[-2][1]["choices"] == ["main:1", "after_status:-"]
    channel.assert_script_done()


def test_status_then_operator_on_request(line, database, cases):
    """After the status, 0 puts the caller in the general queue: queued, not self-service."""
    channel = line.call(press("1", after=3.0), press(cases["open"] + "#"), press("0", after=0.5))
    assert queued_to(channel) == ["general"]
    call, _ = record(database, channel.info.uniqueid)
    assert call.disposition is CallDisposition.ANSWERED


def test_status_then_operator_then_hangup_before_the_queue_is_not_self_service(line, database, cases):
    """Issue 11.3: a caller who heard a status, asked for an operator (0) and hung up before
    Queue() kept them was not served by the IVR: abandoned in the IVR (docs/ivr.md), not
    self-service."""
    script = (press("1", after=3.0), press(cases["open"] + "#"), press("0", after=0.5))
    full = line.call(*script)
    queue_step = full.queue_entries()[0].step
    channel = line.call(*script, hangup_at_step=queue_step)
    call, events = record(database, channel.info.uniqueid)
    assert "status_dispatched" in prompts_played(channel) and events[-2][1]["outcome"] == "ivr_abandoned"
    assert (call.disposition, call.queued_at) == (CallDisposition.IVR_ABANDONED, None)


def test_status_heard_again_on_1(line, database, cases):
    """1 after the status repeats it without asking for the number again."""
    channel = line.call(press("1", after=3.0), press(cases["open"] + "#"), press("1", after=0.5))
    assert [c.args[0] for c in channel.commands if c.verb == "say_digits"] == [cases["open"]] * 2
    assert [c.verb for c in channel.commands].count("get_data") == 1
    assert record(database, channel.info.uniqueid)[0].disposition is CallDisposition.SELF_SERVICE


def test_status_of_a_finished_case(line, database, cases):
    """Any ticket can be looked up by number: a directly answered one says 已直接答复."""
    channel = line.call(press("1", after=3.0), press(cases["done"] + "#"))
    assert "status_answered" in prompts_played(channel)


def test_unknown_number_twice_goes_to_the_operators(line, database, cases):
    """Two numbers that match nothing: ticket_not_found each time, then the operators."""
    channel = line.call(press("1", after=3.0), press("1234#"), press("99999#"))
    assert prompts_played(channel).count("ticket_not_found") == 2
    assert queued_to(channel) == ["general"]
    _, events = record(database, channel.info.uniqueid)
    assert [d["result"] for k, d in events if k == "ticket_lookup"] == ["not_found", "not_found"]


def test_no_number_keyed_goes_to_the_operators(line, database):
    """Asked for a number, the caller types nothing: the operators, not a second prompt."""
    channel = line.call(press("1", after=3.0), silence())
    assert queued_to(channel) == ["general"]
    assert prompts_played(channel).count("enter_ticket_number") == 1


def test_repeat_caller_hears_their_case_first(line, database, cases):
    """A caller with an open ticket presses 1 and hears that ticket, without keying it in."""
    channel = line.call(press("1", after=1.0), callerid="+86 139 0000 1111")
    assert "get_data" not in channel.verbs()
    assert [c.args[0] for c in channel.commands if c.verb == "say_digits"] == [cases["open"]]
    assert record(database, channel.info.uniqueid)[0].disposition is CallDisposition.SELF_SERVICE


def test_finished_case_is_no_repeat_offer(line, database, cases):
    """A caller whose only ticket is finished hears the ordinary menu."""
    channel = line.call(callerid="13700002222")
    assert "main_menu" in prompts_played(channel) and "main_menu_repeat" not in prompts_played(channel)


def test_withheld_number_is_no_repeat_caller(line, database, cases):
    """No caller ID: no lookup, the ordinary menu, an empty caller number on the record."""
    channel = line.call(callerid="anonymous")
    assert "main_menu" in prompts_played(channel)
    call, _ = record(database, channel.info.uniqueid)
    assert call.caller_number == "" and call.disposition is CallDisposition.ANSWERED


def test_english_on_9_and_back(line, database):
    """9 switches the call to English (prompts and CHANNEL(language)); 9 again back to Mandarin."""
    channel = line.call(press("9", after=8.0), press("9", after=1.0))
    sounds = [c.args[0] for c in channel.commands if c.verb == "stream_file"]
    assert any("/en/main_menu" in s for s in sounds)
    languages = [c.args[1] for c in channel.commands if c.verb == "set_variable" and c.args[0] == "CHANNEL(language)"]
    assert languages == ["zh", "en", "zh"]
    assert queued_to(channel) == ["general"]
    _, events = record(database, channel.info.uniqueid)
    assert [d["lang"] for k, d in events if k == "language"] == ["en", "zh"]


def test_lang_parameter_starts_in_english(line, database):
    """agi://…/ivr?lang=en starts the call in English."""
    channel = line.call(params={"lang": "en"})
    assert all("/en/" in c.args[0] for c in channel.commands if c.verb == "stream_file")


# -- queues: hours, length, QUEUESTATUS → a message


def _ticket_of(database: Database, uniqueid: str) -> tuple[Ticket, Recording]:
    with database.transaction() as s:
        call = calls.get(s, uniqueid)
        assert call is not None and call.ticket_id is not None
        ticket = s.get(Ticket, call.ticket_id)
        recording = s.scalars(select(Recording).where(Recording.ticket_id == call.ticket_id)).one()
        return ticket, recording


def test_closed_queue_takes_a_message_that_becomes_a_ticket_draft(tmp_path, database):
    """Outside the general queue's hours the caller hears 非工作时间, leaves a message by
    RECORD FILE into voicemail_dir/<uniqueid>, and a voicemail ticket with the recording
    attached and the call linked is opened."""
    config = make_config(tmp_path, general={"hours": ["workdays 08:30-17:30"]})
    line, runner = make_line(config, database, clock_at(MONDAY.replace(hour=20)))
    channel = line.call(speak(14))
    assert not channel.queue_entries()
    assert prompts_played(channel) == ["closed_menu", "language_offer", "message_recorded"]
    record_command = next(c for c in channel.commands if c.verb == "record_file")
    assert record_command.args[0] == f"{tmp_path}/voicemail/{channel.info.uniqueid}"
    ticket, recording = _ticket_of(database, channel.info.uniqueid)
    assert ticket.source is TicketSource.VOICEMAIL and ticket.status is TicketStatus.RECEIVED
    assert ticket.caller_number == "+8613812345678" and "非工作时间" in ticket.description
    assert recording.kind is RecordingKind.VOICEMAIL and recording.path.endswith(f"{channel.info.uniqueid}.wav") and recording.duration_seconds == 14
    call, events = record(database, channel.info.uniqueid)
    assert call.disposition is CallDisposition.VOICEMAIL and call.queue == "" and ticket.call_id == call.id
    assert channel.variables[VAR_RECORDING] == recording.path
    assert "queue_closed" in kinds(events)
    runner.close()


def test_public_holiday_is_closed(tmp_path, database):
    """National Day at 10:00 is closed for a 'workdays' queue: the caller leaves a message."""
    config = make_config(tmp_path, general={"hours": ["workdays 08:30-17:30"]})
    line, runner = make_line(config, database, clock_at(datetime(2026, 10, 1, 10, 0, tzinfo=CST)))
    channel = line.call(speak(5))
    assert not channel.queue_entries() and prompts_played(channel)[0] == "closed_menu"
    assert record(database, channel.info.uniqueid)[0].disposition is CallDisposition.VOICEMAIL
    runner.close()


def test_full_queue_takes_a_message(line, database):
    """QUEUE_WAITING_COUNT(hotline-general) at max_callers (5): 坐席全忙 and a message, no Queue()."""
    channel = line.call(speak(6), variables={"QUEUE_WAITING_COUNT(hotline-general)": "5"})
    assert not channel.queue_entries()
    assert "queue_busy" in prompts_played(channel)
    call, events = record(database, channel.info.uniqueid)
    assert call.disposition is CallDisposition.VOICEMAIL
    assert ("queue_full", {"queue": "general", "waiting": 5, "max_callers": 5}) in events
    assert "坐席全忙" in _ticket_of(database, channel.info.uniqueid)[0].description


def test_queue_position_is_logged(line, database):
    """The record keeps the place the caller took: waiting count + 1."""
    channel = line.call(variables={"QUEUE_WAITING_COUNT(hotline-general)": "3"})
    _, events = record(database, channel.info.uniqueid)
    assert ("queue_join", {"queue": "general", "position": 4, "source": "ivr"}) in events


@pytest.mark.parametrize("status, reason", [("TIMEOUT", "timeout"), ("FULL", "full"), ("JOINEMPTY", "empty"), ("LEAVEEMPTY", "empty")])
def test_queue_status_after_queue_leads_to_a_message(line, database, status, reason):
    """Queue() ending with TIMEOUT, FULL, JOINEMPTY or LEAVEEMPTY sends the caller to leave a
    message; the record keeps the queue and why it let the caller go, and ends as voicemail.
    Only a caller Asterisk kept (TIMEOUT) has a queued time: a refusal is no join."""
    channel = line.call(in_queue(status, wait=300 if status == "TIMEOUT" else 0), speak(8))
    assert queued_to(channel) == ["general"] and "record_file" in channel.verbs()
    call, events = record(database, channel.info.uniqueid)
    assert call.disposition is CallDisposition.VOICEMAIL and call.queue == "general" and call.queue_result == status.lower()
    assert (call.queued_at is not None) == (status == "TIMEOUT") and (call.wait_seconds == 300) == (status == "TIMEOUT")
    assert ("queue_exit", {"queue": "general", "result": 0, "status": status}) in events
    assert [d["reason"] for k, d in events if k == "voicemail"] == [reason]
    assert ("queue_join" in kinds(events)) == (status == "TIMEOUT")


@pytest.mark.parametrize("status", ["FULL", "JOINEMPTY", "LEAVEEMPTY", "JOINUNAVAIL", "LEAVEUNAVAIL"])
def test_a_refused_caller_who_hangs_up_is_refused_not_queued(line, database, status):
    """Issue 11.1: a Queue() that would not keep the caller is recorded as a refusal with its
    reason and no queued time; the dialplan sees HOTLINE_OUTCOME=refused, never "queued"."""
    channel = line.call(in_queue(status, wait=0), hang_up(after=0.2))
    call, events = record(database, channel.info.uniqueid)
    assert (call.disposition, call.queue, call.queue_result, call.queued_at) == (CallDisposition.REFUSED, "general", status.lower(), None)
    assert channel.variables[VAR_OUTCOME] == "refused" and "queue_join" not in kinds(events)
    assert [d["source"] for k, d in events if k == "queue_refused"] == ["ivr"]


def test_hangup_during_the_queue_announcement_is_not_queued(line, database):
    """Issue 11.1: a caller who hangs up while the emergency announcement plays, before
    Queue() runs, was never in a queue: no join, no queued time, abandoned in the IVR."""
    channel = line.call(press("2", after=3.0), hang_up(after=1.0))
    assert not channel.queue_entries()
    call, events = record(database, channel.info.uniqueid)
    assert (call.disposition, call.queued_at) == (CallDisposition.IVR_ABANDONED, None) and "queue_join" not in kinds(events)
    assert VAR_OUTCOME not in channel.variables


def test_hangup_while_recording_still_leaves_the_message(line, database):
    """Most callers hang up instead of pressing #: the message still becomes a ticket, with
    its length from RECORD FILE's `(hangup) endpos=` (it had none)."""
    channel = line.call(in_queue("TIMEOUT", wait=300), speak(20, end="hangup"))
    ticket, recording = _ticket_of(database, channel.info.uniqueid)
    assert ticket.source is TicketSource.VOICEMAIL and recording.duration_seconds == 20
    call, _ = record(database, channel.info.uniqueid)
    assert call.disposition is CallDisposition.VOICEMAIL and call.ended_at is not None


def test_silence_after_the_beep_is_no_message(line, database):
    """Nothing said: no ticket, goodbye; the record stays as the queue left it."""
    channel = line.call(in_queue("TIMEOUT", wait=300), silence())
    assert prompts_played(channel)[-1] == "goodbye"
    with database.transaction() as s:
        assert s.scalar(select(func.count()).select_from(Ticket)) == 0
    call, events = record(database, channel.info.uniqueid)
    assert "no_message" in kinds(events) and call.ticket_id is None


def test_agent_answered_queue_ends_the_flow_without_hangup(line, database):
    """Queue() returning -1 (an agent took the call, which has ended): the flow reads what
    Queue() left (ANSWEREDTIME, QUEUEWAIT, MEMBERINTERFACE), sends nothing else, and the
    dialplan finishes the call. The record says who answered after how long."""
    channel = line.call(in_queue("ANSWERED", wait=12, talk=200))
    queue_at = channel.verbs().index("exec")
    assert set(channel.verbs()[queue_at + 1 :]) == {"get_variable"} and not channel.flow_hung_up
    call, _ = record(database, channel.info.uniqueid)
    assert (call.disposition, call.agent_interface, call.wait_seconds) == (CallDisposition.ANSWERED, "PJSIP/8001", 12)


# -- a hangup at every step


SCRIPTS: dict[str, Callable[[dict[str, str]], list[Any]]] = {
    "silent": lambda cases: [],
    "status": lambda cases: [press("1", after=3.0), press(cases["open"] + "#"), silence()],
    "emergency": lambda cases: [press("2", after=3.0)],
    "voicemail": lambda cases: [in_queue("TIMEOUT", wait=30), speak(10)],
    "english": lambda cases: [press("9", after=8.0)],
}


def _expected_outcome(full: ScriptedChannel, step: int) -> str:
    """What the record must say when the caller hung up at command `step` of the path that
    `full` took without a hangup (the same commands up to that step)."""
    hung_up = step

    def first(test: Callable[[Any], bool]) -> int | None:
        return next((c.step for c in full.commands if test(c)), None)

    # Variable commands work on a dead channel: the flow notices at the next media command.
    step = first(lambda c: c.step >= hung_up and c.verb not in ("get_variable", "set_variable", "verbose")) or step
    recording = first(lambda c: c.verb == "record_file")
    queue_decided = first(lambda c: c.verb == "set_variable" and c.args[0] == VAR_QUEUE)
    status_heard = first(lambda c: c.verb == "stream_file" and "/status_" in c.args[0])
    if recording is not None and step >= recording:
        return "voicemail"  # a hangup during RECORD FILE still leaves the message
    queue_ran = first(lambda c: c.verb == "exec")
    if queue_ran is not None and step > queue_ran:
        # What Queue() left is read on a dead channel too: the scripted agent answered
        # (-1), or the queue timed out and no message was left yet.
        return "answered" if full.commands[queue_ran - 1].result == -1 else "timed_out"
    if queue_decided is not None and step >= queue_decided:
        return "ivr_abandoned"  # hung up before Queue() kept them: never in a queue
    if status_heard is not None and step > status_heard:
        return "self_service"
    return "ivr_abandoned"


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_hangup_at_every_step_leaves_a_complete_record(line, database, cases, name):
    """For each path, a caller hanging up at command 1, 2, … n leaves a record with its end
    time, one end event and the outcome that applies (abandoned in the IVR before Queue()
    kept them, answered after the scripted queue's agent took the call, voicemail once
    recording started, self-service after a status)."""
    full = line.call(*SCRIPTS[name](cases), callerid=NEW_CALLER)
    steps = len(full.commands)
    assert steps >= 5
    for step in range(1, steps + 1):
        channel = line.call(*SCRIPTS[name](cases), callerid=NEW_CALLER, hangup_at_step=step)
        call, events = record(database, channel.info.uniqueid)
        assert call.ended_at is not None, (name, step)
        assert kinds(events).count("end") == 1 and kinds(events).count("start") == 1
        assert call.disposition.value == _expected_outcome(full, step), (name, step, channel.verbs())
        assert not channel.flow_hung_up or channel.caller_gone_at is None


def test_hangup_in_the_queue_is_abandoned(line, database):
    """Issue 11.2: a caller who hangs up while waiting (Queue() returns -1, QUEUEWAIT set,
    ANSWEREDTIME 0) is abandoned after 40 s, and the IVR says the session ended by hangup,
    not "completed"; one join, one end."""
    channel = line.call(in_queue("CALLER_HANGUP", wait=40))
    call, events = record(database, channel.info.uniqueid)
    assert (call.disposition, call.wait_seconds, call.queue_result) == (CallDisposition.ABANDONED, 40, "abandoned")
    assert events[-2][1]["ended"] == "hangup" and kinds(events).count("queue_join") == kinds(events).count("end") == 1


def test_hangup_at_a_moment_during_the_welcome(line, database):
    """hangup_at on the clock: 1.5 s in, the welcome is cut, the call was abandoned in the IVR."""
    channel = line.call(hangup_at=1.5)
    assert channel.commands[-1].result == "HANGUP" and channel.commands[-1].ended == pytest.approx(1.5)
    call, _ = record(database, channel.info.uniqueid)
    assert call.disposition is CallDisposition.IVR_ABANDONED
    assert (call.ended_at - call.started_at).total_seconds() == pytest.approx(1.5, abs=0.01)


# -- the runner's guard, unknown flows, store trouble, metrics


class FailingChannel(ScriptedChannel):
    """Asterisk rejects the Nth STREAM FILE (a 510: our bug, not the caller's)."""

    def __init__(self, *args: Any, fail_at: int = 1, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.fail_at, self.streams = fail_at, 0

    async def stream_file(self, name: str, escape_digits: str = "") -> str | None:
        self.streams += 1
        if self.streams == self.fail_at:
            self._begin("stream_file", name, escape_digits)
            raise CommandRejected(510, "STREAM FILE", "Invalid or unknown command")
        return await super().stream_file(name, escape_digits)


def test_guard_sends_the_caller_to_the_general_queue(config, database, clock):
    """An unexpected exception in a flow is logged with the uniqueid, counted, and the caller
    goes to the general queue: never dead air."""
    registry = CollectorRegistry()
    line, runner = make_line(config, database, clock, registry)
    channel = FailingChannel(CallInfo(uniqueid="1.1", callerid=NEW_CALLER, flow="ivr"), [], clock=clock, durations=line.durations, fail_at=2)
    drive(runner(channel))
    assert queued_to(channel) == ["general"]
    assert registry.get_sample_value("hotline_ivr_flow_errors_total", {"flow": "ivr"}) == 1
    assert registry.get_sample_value("hotline_ivr_calls_total", {"outcome": "queued"}) == 1
    call, events = record(database, "1.1")
    assert call.disposition is CallDisposition.ANSWERED and ("error", {"flow": "ivr", "error": "CommandRejected", "message": "510 for 'STREAM FILE': Invalid or unknown command"}) in events
    runner.close()


def test_unknown_flow_is_failed_and_hung_up(line, database):
    """A flow name the dialplan should never send: logged, HOTLINE_OUTCOME=failed, hung up."""
    channel = line.call(flow="no_such_flow", answered=True)
    assert channel.verbs() == ["set_variable", "hangup"] and channel.variables[VAR_OUTCOME] == "failed"
    call, _ = record(database, channel.info.uniqueid)
    assert call.disposition is CallDisposition.FAILED and call.ended_at is not None


class BrokenStore:
    """A store whose database refuses every read."""

    def open_ticket_for(self, caller_number: str) -> Any:
        return fail(ConnectionRefusedError("database down"))

    def ticket(self, number: str) -> Any:
        return self.open_ticket_for(number)


def test_failed_reads_never_stop_the_caller(config, database, clock, cases):
    """With reads failing, a repeat caller gets the ordinary menu, and a status lookup says
    'system busy' and hands the caller to the operators."""
    line, runner = make_line(config, database, clock)
    runner.store = BrokenStore()
    first = line.call(callerid=REPEAT_CALLER)
    assert "main_menu" in prompts_played(first) and first.seconds_to_queue() <= 10
    second = line.call(press("1", after=3.0), press(cases["open"] + "#"))
    assert "system_busy" in prompts_played(second) and queued_to(second) == ["general"]
    runner.close()


def test_slow_read_is_bounded(config, database, clock):
    """A repeat-caller lookup that never answers times out while the welcome plays (it
    started at answer): the caller hears the ordinary menu and is queued in time."""

    class Hanging:
        def open_ticket_for(self, caller_number: str) -> Deferred[Any]:
            return Deferred()

        ticket = open_ticket_for

    line, runner = make_line(config, database, clock)
    runner.store = Hanging()
    channel = line.call(callerid=REPEAT_CALLER)
    assert "main_menu" in prompts_played(channel) and channel.seconds_to_queue() <= 10.0
    _, events = record(database, channel.info.uniqueid)
    assert ("caller_ticket", {"found": False, "status": None}) in events
    runner.close()


def test_the_repeat_caller_lookup_starts_after_the_welcome_is_sent(config, database, clock, cases):
    """With `soon` (the service: the reactor's next turn), the caller's open-case lookup goes
    to its thread after the welcome prompt is on the wire, not while the reactor writes it;
    the menu still finds the case."""
    line, runner = make_line(config, database, clock)
    runner.soon = lambda work: clock.callLater(0, work)
    channel_of: list[ScriptedChannel] = []
    started_after: list[list[str]] = []
    store = runner.store

    class Spying:
        def open_ticket_for(self, caller_number: str) -> Any:
            started_after.append(channel_of[0].verbs())
            return store.open_ticket_for(caller_number)

        def ticket(self, number: str) -> Any:
            return store.ticket(number)

    runner.store = Spying()

    def remembering(channel: ScriptedChannel) -> Any:
        channel_of.append(channel)
        return runner(channel)

    line.runner = remembering
    channel = line.call(callerid=REPEAT_CALLER)
    assert len(started_after) == 1 and started_after[0][-1] == "stream_file"
    assert prompts_played(channel)[:2] == ["welcome", "main_menu_repeat"]
    _, events = record(database, channel.info.uniqueid)
    assert ("caller_ticket", {"found": True, "status": "dispatched"}) in events
    runner.close()


def test_metrics_count_outcomes_and_choices(config, database, clock, cases):
    """hotline_ivr_calls_total{outcome} and hotline_ivr_menu_choices_total{node,key}."""
    registry = CollectorRegistry()
    line, runner = make_line(config, database, clock, registry)
    line.call()
    line.call(press("2", after=3.0))
    line.call(press("1", after=3.0), press(cases["open"] + "#"))
    line.call(hangup_at=2.0)
    value = registry.get_sample_value
    assert value("hotline_ivr_calls_total", {"outcome": "queued"}) == 2
    assert value("hotline_ivr_calls_total", {"outcome": "self_service"}) == 1
    assert value("hotline_ivr_calls_total", {"outcome": "ivr_abandoned"}) == 1
    assert value("hotline_ivr_calls_total", {"outcome": "voicemail"}) == 0
    assert value("hotline_ivr_menu_choices_total", {"node": "main", "key": "none"}) == 1
    assert value("hotline_ivr_menu_choices_total", {"node": "main", "key": "2"}) == 1
    assert value("hotline_ivr_menu_choices_total", {"node": "after_status", "key": "none"}) == 1
    runner.close()


def test_flows_are_registered_by_dialplan_names():
    """The flows served are exactly the names the dialplan calls."""
    from hotline.dialplan import FLOWS as DIALPLAN

    assert set(FLOWS) == set(DIALPLAN)


# -- the skills menu


@pytest.fixture
def skills_line(tmp_path, database, clock) -> Iterator[ScriptedLine]:
    made, runner = make_line(skills_config(tmp_path), database, clock)
    yield made
    runner.close()


def test_skills_silent_caller_within_ten_seconds(skills_line, database):
    """The deeper menu keeps the promise: silence → general queue ≤ 10 s."""
    channel = skills_line.call()
    assert channel.seconds_to_queue() <= 10.0 and queued_to(channel) == ["general"]


@pytest.mark.parametrize("key, queue", [("1", "roads"), ("2", "sanitation"), ("3", "street_order")])
def test_skills_category_submenu_routes_to_skill_queues(skills_line, database, key, queue):
    """3 opens the category submenu; 1/2/3 there join the roads, sanitation, street-order queues."""
    channel = skills_line.call(press("3", after=2.0), press(key, after=1.0))
    assert queued_to(channel) == [queue]
    call, events = record(database, channel.info.uniqueid)
    assert call.queue == queue and call.disposition is CallDisposition.ANSWERED
    assert [(d["node"], d["key"]) for k, d in events if k == "key"] == [("main", "3"), ("categories", key)]


def test_skills_star_goes_back(skills_line, database):
    """* in the submenu returns to the main menu, which plays again."""
    channel = skills_line.call(press("3", after=3.0), press("*", after=1.0), press("2", after=1.0))
    assert prompts_played(channel).count("skills_menu") == 2 and queued_to(channel) == ["emergency"]


def test_skills_one_retry_then_operators(skills_line, database):
    """A wrong key in the submenu gets one 'invalid key' and another chance; a second wrong
    key goes to the operators."""
    retried = skills_line.call(press("3", after=2.0), press("8", after=1.0), press("2", after=0.2))
    assert "invalid_key" in prompts_played(retried) and queued_to(retried) == ["sanitation"]
    twice = skills_line.call(press("3", after=2.0), press("8", after=1.0), press("9", after=0.2))
    assert queued_to(twice) == ["general"]


def test_skills_silence_in_submenu_goes_to_operators(skills_line, database):
    """Pressing nothing in the submenu is no dead end either."""
    channel = skills_line.call(press("3", after=2.0))
    assert queued_to(channel) == ["general"]


def test_skills_closed_skill_queue_overflows_to_general(tmp_path, database):
    """A skill queue outside its hours hands the caller to the general queue (24x7)."""
    line, runner = make_line(skills_config(tmp_path), database, clock_at(MONDAY.replace(hour=19)))
    channel = line.call(press("3", after=2.0), press("1", after=1.0))
    assert queued_to(channel) == ["general"] and "queue_closed" in prompts_played(channel)
    runner.close()


def test_skills_repeat_caller_and_status(skills_line, database, cases):
    """The skills menu offers a repeat caller their case too."""
    channel = skills_line.call(press("1", after=1.0), callerid=REPEAT_CALLER)
    assert [c.args[0] for c in channel.commands if c.verb == "say_digits"] == [cases["open"]]
    assert record(database, channel.info.uniqueid)[0].disposition is CallDisposition.SELF_SERVICE


def test_skills_status_by_number(skills_line, database, cases):
    """1 and a number in the skills menu: the same status lookup."""
    channel = skills_line.call(press("1", after=2.0), press(cases["done"] + "#"))
    assert "status_answered" in prompts_played(channel)


def test_every_catalogue_status_prompt_is_playable():
    """A status prompt exists for every ticket status the lookup can find."""
    names = catalogue()
    assert all(f"status_{s.value}" in names for s in TicketStatus)


def test_batches_go_to_the_database_after_the_command_that_made_them_due(config, database, clock):
    """With `soon` (the service: the reactor's next turn), a call's steps are submitted
    in a few batches, each after the command at its flush point is already sent: the first
    prompt, Queue(), the end. Nothing is lost on the way: the record is complete."""
    line, runner = make_line(config, database, clock)
    runner.soon = lambda submit: clock.callLater(0, submit)
    batches: list[tuple[int, list[str]]] = []
    channel_of: list[ScriptedChannel] = []
    submit_batch = runner.calllog.submit_batch

    def spy(uniqueid: str, operations: Any) -> Any:
        batches.append((len(channel_of[0].commands), [name for name, _ in operations]))
        return submit_batch(uniqueid, operations)

    runner.calllog.submit_batch = spy  # type: ignore[method-assign]

    def remembering(channel: ScriptedChannel) -> Any:
        channel_of.append(channel)
        return runner(channel)

    line.runner = remembering
    channel = line.call(in_queue("ANSWERED", wait=5, talk=30))
    clock.advance(0)
    verbs = [c.verb for c in channel.commands]
    first_prompt, queue = verbs.index("stream_file"), verbs.index("exec")
    assert [count for count, _ in batches] == [first_prompt + 1, queue + 1, len(verbs)]
    assert batches[0][1][:2] == ["start_call", "mark_answered"] and batches[1][1][-1] == "add_event"
    assert "queue_joined" not in batches[1][1] and {"queue_joined", "queue_answered"} <= set(batches[-1][1])
    assert batches[-1][1][-1] == "call_ended"
    call, events = record(database, channel.info.uniqueid)
    assert call.disposition is CallDisposition.ANSWERED and call.ended_at is not None
    assert kinds(events)[:2] == ["start", "answer"] and kinds(events)[-1] == "end"


# -- after hours, the language, the answer, short messages


def test_after_hours_the_closed_message_comes_first(tmp_path, database):
    """After hours the caller hears that the hotline is closed and what they can do before
    anything else: no welcome, no 人工服务请稍候, no Queue(); pressing nothing, the beep for
    a message within 10 s of answer."""
    config = make_config(tmp_path, general={"hours": ["workdays 08:30-17:30"]})
    line, runner = make_line(config, database, clock_at(MONDAY.replace(hour=20)))
    channel = line.call(speak(6))
    played = prompts_played(channel)
    assert played[0] == "closed_menu" and "main_menu" not in played and "queue_closed" not in played
    record_command = next(c for c in channel.commands if c.verb == "record_file")
    assert record_command.at - channel.answered_at <= 10.0
    _, events = record(database, channel.info.uniqueid)
    assert ("queue_closed", {"queue": "general", "node": "hours"}) in events
    runner.close()


def test_after_hours_a_case_status_is_still_self_service(tmp_path, database, cases):
    """After hours, 1 still tells a case's status (the closed message says so)."""
    config = make_config(tmp_path, general={"hours": ["workdays 08:30-17:30"]})
    line, runner = make_line(config, database, clock_at(MONDAY.replace(hour=20)))
    channel = line.call(press("1", after=2.0), press(cases["open"] + "#"), silence())
    assert [c.args[0] for c in channel.commands if c.verb == "say_digits"] == [cases["open"]]
    assert record(database, channel.info.uniqueid)[0].disposition is CallDisposition.SELF_SERVICE
    runner.close()


def test_known_language_never_hears_the_offer(line, database):
    """?lang=en from the dialplan (the English number): English from the first word, no
    language offer, CHANNEL(language) set once; the caller is queued sooner."""
    channel = line.call(params={"lang": "en"})
    assert prompts_played(channel) == ["welcome", "main_menu"]
    assert all("/en/" in c.args[0] for c in channel.commands if c.verb == "stream_file")
    assert [c.args for c in channel.commands if c.verb == "set_variable" and c.args[0] == "CHANNEL(language)"] == [("CHANNEL(language)", "en")]
    assert channel.seconds_to_queue() <= 10.0


def test_empty_lang_parameter_is_the_configured_default(tmp_path, database, clock):
    """The rendered dialplan passes lang= empty on the main number: the configuration's
    default language (here English), with the offer of the other one."""
    config = make_config(tmp_path, service={"language": "en"})
    line, runner = make_line(config, database, clock)
    channel = line.call(params={"lang": ""})
    assert prompts_played(channel) == ["welcome", "main_menu", "language_offer"]
    assert all("/en/" in c.args[0] for c in channel.commands if c.verb == "stream_file")
    assert channel.seconds_to_queue() <= 10.0
    runner.close()


def test_channel_already_in_the_language_gets_no_set_variable(line, database):
    """agi_language already the call's language (the dialplan set it): no SET VARIABLE
    CHANNEL(language) round trip before the first prompt."""
    channel = line.call(params={"lang": "zh"}, language="zh")
    assert not [c for c in channel.commands if c.verb == "set_variable" and c.args[0] == "CHANNEL(language)"]
    assert channel.verbs()[:2] == ["answer", "stream_file"]


def test_no_answer_when_the_dialplan_answered(line, database):
    """state=Up (the dialplan's CHANNEL(state) after its Answer()): the flow sends no ANSWER;
    the record still says answered."""
    channel = line.call(params={"state": "Up"}, answered=True)
    assert "answer" not in channel.verbs() and channel.verbs()[0] == "set_variable"
    _, events = record(database, channel.info.uniqueid)
    assert kinds(events)[:2] == ["start", "answer"]


def test_answer_when_the_channel_is_not_up(line, database):
    """No state, or another one (Ring): the flow answers first."""
    for params in ({}, {"state": "Ring"}):
        channel = line.call(params=params)
        assert channel.verbs()[0] == "answer"


@pytest.mark.parametrize("talk", [0.0, 0.5])
def test_hangup_at_the_beep_is_no_message(line, database, talk):
    """A caller who hangs up at the beep (endpos 0) or a moment after (under the node's
    min_seconds, 1 s): no ticket, "no message" on the call record."""
    channel = line.call(in_queue("TIMEOUT", wait=300), speak(talk, end="hangup"))
    with database.transaction() as s:
        assert s.scalar(select(func.count()).select_from(Ticket)) == 0
    call, events = record(database, channel.info.uniqueid)
    assert call.ticket_id is None and call.ended_at is not None
    assert [d for k, d in events if k == "no_message"] == [{"path": f"{call_voicemail(channel)}", "seconds": talk, "ended": "hangup"}]


def call_voicemail(channel: ScriptedChannel) -> str:
    return next(c for c in channel.commands if c.verb == "record_file").args[0] + ".wav"
