"""The AMI codec without I/O: framing of the captured Asterisk 22 streams, split anywhere,
hostile input, limits, and action encoding checked against the bytes the lab sent."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hotline.ami import actions
from hotline.ami.actions import ActionValueError
from hotline.ami.codec import (
    ActionEncodingError,
    AmiDecoder,
    AmiProtocolError,
    Banner,
    Event,
    Response,
    encode_action,
    parse_message,
)
from hotline.simulator import ami as peer

#: The lab's queue session as Asterisk sent it: banner, login, lists, two calls, pause, logoff.
QUEUE_SESSION = peer.stream(
    peer.BANNER,
    peer.LOGIN_OK,
    peer.FULLY_BOOTED,
    peer.SUCCESSFUL_AUTH,
    peer.PONG,
    peer.QUEUE_STATUS_IDLE,
    peer.QUEUE_SUMMARY_IDLE,
    peer.QUEUE_ADD_OK,
    peer.CALL_ANSWERED,
    peer.QUEUE_PAUSE_OK,
    peer.CALL_WAITING,
    peer.QUEUE_STATUS_WITH_CALLER,
    peer.CALL_ABANDONED,
    peer.GOODBYE,
)
#: Messages in it (the banner aside).
MESSAGES_IN_SESSION = 4 + 4 + 3 + 4 + len(peer.CALL_ANSWERED) + 4 + len(peer.CALL_WAITING) + 5 + len(peer.CALL_ABANDONED) + 1


def decode_all(data: bytes, **kw: int) -> list[object]:
    return AmiDecoder(**kw).feed(data)


def messages(frames: list[object]) -> list[object]:
    return [f for f in frames if isinstance(f, (Event, Response))]


def test_decodes_the_captured_session_without_errors() -> None:
    """Every captured frame decodes into a typed message, in order, with no protocol error."""
    decoder = AmiDecoder()
    frames = decoder.feed(QUEUE_SESSION)
    assert frames[0] == Banner("11.0.0")
    decoded = messages(frames)
    assert len(decoded) == MESSAGES_IN_SESSION
    assert decoder.errors == 0 and decoder.pending == b""
    login = decoded[0]
    assert isinstance(login, Response) and login.ok and login.action_id == "login-1" and login.message == "Authentication accepted"
    assert isinstance(decoded[1], Event) and decoded[1].name == "FullyBooted"
    assert isinstance(decoded[-1], Response) and decoded[-1].status == "Goodbye"


def test_one_byte_at_a_time_equals_one_read() -> None:
    """Feeding the captured stream byte by byte yields exactly what one read yields."""
    whole = decode_all(QUEUE_SESSION)
    decoder = AmiDecoder()
    pieces: list[object] = []
    for byte in peer.split_every_byte(QUEUE_SESSION):
        pieces.extend(decoder.feed(byte))
    assert pieces == whole and decoder.pending == b""


def test_every_two_way_split_of_a_list_response() -> None:
    """A QueueStatus list cut at any single byte decodes the same."""
    data = peer.stream(peer.BANNER, peer.QUEUE_STATUS_WITH_CALLER)
    whole = decode_all(data)
    for cut in range(1, len(data)):
        decoder = AmiDecoder()
        assert decoder.feed(data[:cut]) + decoder.feed(data[cut:]) == whole, cut


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=2000), min_size=1, max_size=200))
def test_any_read_sizes_give_the_same_frames(sizes: list[int]) -> None:
    """Reads of arbitrary sizes (as TCP may deliver them) never change the decoded frames."""
    data = peer.stream(peer.BANNER, peer.CALL_WAITING, peer.CALL_ABANDONED)
    expected = decode_all(data)
    decoder, got, position, index = AmiDecoder(), [], 0, 0
    while position < len(data):
        size = sizes[index % len(sizes)]
        got.extend(decoder.feed(data[position : position + size]))
        position, index = position + size, index + 1
    assert got == expected


def test_headers_keep_order_and_repeated_keys() -> None:
    """Repeated keys (ChanVariable) are all kept, in order, and the first wins for get()."""
    frame = peer.CALLER_HANGUP[:-2] + b"ChanVariable: HOTLINE_TICKET=2027-0001\r\nChanVariable: HOTLINE_OUTCOME=queued\r\n\r\n"
    [event] = messages(decode_all(frame, expect_banner=False))
    assert isinstance(event, Event)
    assert event.get_all("ChanVariable") == ["HOTLINE_TICKET=2027-0001", "HOTLINE_OUTCOME=queued"]
    assert event.get("ChanVariable") == "HOTLINE_TICKET=2027-0001"
    assert [k for k, _ in event.headers][:3] == ["Event", "Privilege", "SystemName"]
    assert event.headers[-1] == ("ChanVariable", "HOTLINE_OUTCOME=queued")


def test_lookups_fall_back_to_any_case() -> None:
    """Asterisk's inconsistent spellings (Holdtime, UniqueID) are found under either case."""
    params = peer.QUEUE_STATUS_IDLE[1]
    [event] = messages(decode_all(params, expect_banner=False))
    assert event.get("Holdtime") == "0" and event.get("HoldTime") == "0"
    cdr = peer.event_named(peer.CALL_ANSWERED, "Cdr")
    [event] = messages(decode_all(cdr, expect_banner=False))
    assert event.get("Uniqueid") == event.get("UniqueID") == "asterisk-lab-1795235026.19"
    assert "uniqueid" in event and "NoSuchHeader" not in event
    with pytest.raises(KeyError):
        event["NoSuchHeader"]


def test_empty_values_are_empty_strings() -> None:
    """`PausedReason: ` and `AccountCode: ` decode to empty values, not missing keys."""
    [event] = messages(decode_all(peer.MEMBER_IN_CALL, expect_banner=False))
    assert "PausedReason" in event and event.get("PausedReason", "x") == ""


def test_garbage_between_messages_is_skipped_and_counted() -> None:
    """Binary junk, an HTTP request and a colon-less line cost no following event."""
    decoder = AmiDecoder()
    frames = decoder.feed(peer.BANNER + peer.GARBAGE + peer.CALLER_JOIN)
    errors = [f for f in frames if isinstance(f, AmiProtocolError)]
    assert [m.name for m in messages(frames)] == ["QueueCallerJoin"]  # type: ignore[attr-defined]
    assert errors and all(e.kind == "not_a_message" for e in errors)
    assert decoder.errors == len(errors)


def test_garbage_glued_before_a_message_resynchronises() -> None:
    """Junk lines with no blank line after them are dropped up to the next Event line."""
    frames = decode_all(peer.BANNER + b"\x00junk\r\nmore junk\r\n" + peer.CALLER_JOIN)
    [message] = messages(frames)
    assert message.get("Uniqueid") == peer.CALLER
    assert [f.kind for f in frames if isinstance(f, AmiProtocolError)] == ["not_a_message"]


def test_header_line_without_colon_is_dropped_not_the_message() -> None:
    """A broken header line inside a message is dropped and counted; the message stays."""
    frame = peer.CALLER_LEAVE.replace(b"Count: 0\r\n", b"Count: 0\r\nthis line is broken\r\nEmpty:\r\n")
    message, error = parse_message(frame[:-4])
    assert message is not None and message.get("Queue") == "hotline-general" and message.get("Empty", "x") == ""
    assert error is not None and error.kind == "bad_header"


def test_stray_blank_lines_between_messages_are_harmless() -> None:
    """Extra CR LF pairs between messages produce neither an error nor an empty message."""
    decoder = AmiDecoder()
    frames = decoder.feed(peer.BANNER + b"\r\n\r\n" + peer.CALLER_JOIN + b"\r\n" + peer.CALLER_LEAVE)
    assert [m.name for m in messages(frames)] == ["QueueCallerJoin", "QueueCallerLeave"]  # type: ignore[attr-defined]
    assert decoder.errors == 0


def test_an_over_long_line_drops_its_message_only() -> None:
    """A complete message with a line over the limit is dropped; the next one is decoded."""
    long_frame = b"Event: UserEvent\r\nUserEvent: Flood\r\nData: " + b"x" * 10_000 + b"\r\n\r\n"
    decoder = AmiDecoder(max_line=8192)
    frames = decoder.feed(peer.BANNER + long_frame + peer.CALLER_JOIN)
    assert [m.name for m in messages(frames)] == ["QueueCallerJoin"]  # type: ignore[attr-defined]
    assert [f.kind for f in frames if isinstance(f, AmiProtocolError)] == ["line_too_long"]


def test_an_endless_line_is_not_buffered_for_ever() -> None:
    """A line that never ends is discarded as it streams in; decoding resumes after its message."""
    decoder = AmiDecoder(max_line=1024, max_message=4096)
    frames = decoder.feed(peer.BANNER + b"Event: UserEvent\r\nData: ")
    for _ in range(100):
        frames += decoder.feed(b"y" * 1000)
    assert len(decoder.pending) == 0  # nothing of the flood is kept
    frames += decoder.feed(b"\r\n\r\n" + peer.CALLER_JOIN)
    assert [m.name for m in messages(frames)] == ["QueueCallerJoin"]  # type: ignore[attr-defined]
    assert [f.kind for f in frames if isinstance(f, AmiProtocolError)] == ["line_too_long"]


def test_an_over_long_message_is_dropped() -> None:
    """A message of many short lines past max_message is dropped, complete or not."""
    big = b"Event: UserEvent\r\n" + b"Line: 0123456789\r\n" * 2000 + b"\r\n"
    decoder = AmiDecoder(max_message=16 * 1024)
    frames = decoder.feed(peer.BANNER + big + peer.CALLER_JOIN)
    assert [m.name for m in messages(frames)] == ["QueueCallerJoin"]  # type: ignore[attr-defined]
    assert [f.kind for f in frames if isinstance(f, AmiProtocolError)] == ["message_too_long"]
    pieces = AmiDecoder(max_message=16 * 1024)
    streamed: list[object] = []
    for start in range(0, len(big), 100):
        streamed += pieces.feed((peer.BANNER if start == 0 else b"") + big[start : start + 100])
    streamed += pieces.feed(peer.CALLER_JOIN)
    assert [m.name for m in messages(streamed)] == ["QueueCallerJoin"]  # type: ignore[attr-defined]


def test_no_banner_is_reported_but_messages_still_decode() -> None:
    """A peer that starts with a message (a proxy) gets one banner error, not a lost message."""
    frames = decode_all(peer.CALLER_JOIN)
    assert [f.kind for f in frames if isinstance(f, AmiProtocolError)] == ["banner"]
    assert [m.name for m in messages(frames)] == ["QueueCallerJoin"]  # type: ignore[attr-defined]


def test_banner_split_across_reads() -> None:
    """The banner may arrive a few bytes at a time."""
    decoder = AmiDecoder()
    assert decoder.feed(b"Asterisk Call") == []
    assert decoder.feed(b" Manager/11.0.0\r") == []
    assert decoder.feed(b"\n") == [Banner("11.0.0")]


def test_undecodable_bytes_keep_the_event() -> None:
    """A GBK caller name (not UTF-8) becomes U+FFFD; the event and its other values survive."""
    frame = peer.CALLER_JOIN.replace(b"CallerIDName: <unknown>", "CallerIDName: 张三".encode("gbk"))
    [message] = messages(decode_all(frame, expect_banner=False))
    assert "\ufffd" in message.get("CallerIDName") and message.get("Uniqueid") == peer.CALLER
    utf8 = peer.CALLER_JOIN.replace(b"CallerIDName: <unknown>", "CallerIDName: 张三".encode())
    [message] = messages(decode_all(utf8, expect_banner=False))
    assert message.get("CallerIDName") == "张三"


def test_closing_inside_a_message_reports_truncation() -> None:
    """At EOF the unfinished frame is reported as truncated, and nothing else is lost."""
    decoder = AmiDecoder()
    frames = decoder.feed(peer.BANNER + peer.CALLER_JOIN + peer.CALLER_LEAVE[:40])
    assert len(messages(frames)) == 1 and decoder.pending == peer.CALLER_LEAVE[:40]
    error = decoder.close()
    assert error is not None and error.kind == "truncated"
    assert decoder.close() is None


def test_encoding_matches_the_bytes_sent_to_the_lab_asterisk() -> None:
    """Our actions serialise byte for byte as the transcripts' client did."""
    assert encode_action("Login", actions.login("labuser", "labsecret").fields, "login-1") == peer.SENT_LOGIN
    add = actions.queue_add("hotline-general", "Local/agent2@agents/n", member_name="Agent Two", penalty=1, paused=False, state_interface="Local/agent2@agents")
    assert encode_action(add.name, add.fields, "qadd-1") == peer.SENT_QUEUE_ADD
    pause = actions.queue_pause("Local/agent1@agents/n", True, queue="hotline-general", reason="lunch")
    assert encode_action(pause.name, pause.fields, "qpause-1") == peer.SENT_QUEUE_PAUSE
    unpause = actions.queue_pause("Local/agent1@agents/n", False, queue="hotline-general")
    assert encode_action(unpause.name, unpause.fields, "qunpause-1") == peer.SENT_QUEUE_UNPAUSE
    status = actions.queue_status("hotline-general")
    assert encode_action(status.name, status.fields, "qstatus-1") == peer.SENT_QUEUE_STATUS
    originate = actions.originate(
        "Local/5550001@survey-phone",
        context="survey",
        exten="s",
        caller_id='"Hotline Survey" <12319>',
        timeout_ms=15000,
        variables={"SURVEY_ID": "42", "CAMPAIGN": "satisfaction"},
        channel_id="survey-42-a",
        other_channel_id="survey-42-b",
    )
    assert encode_action(originate.name, originate.fields, "orig-ok") == peer.SENT_ORIGINATE
    hangup = actions.hangup("Local/noanswer@survey-phone-00000013;1", cause=16)
    assert encode_action(hangup.name, hangup.fields, "hangup-1") == peer.SENT_HANGUP


@pytest.mark.parametrize("value", ["lunch\r\nAction: Hangup", "x\nChannel: PJSIP/1", "nul\x00", "cr\r"])
def test_header_injection_is_refused(value: str) -> None:
    """CR, LF and NUL in a value never reach the wire: the encoder refuses them."""
    with pytest.raises(ActionEncodingError):
        encode_action("QueuePause", [("Interface", "PJSIP/1001"), ("Reason", value)], "id-1")


@pytest.mark.parametrize("key", ["Bad Key", "X:Y", "", "Action", "actionid", "Key\r\n"])
def test_invalid_or_reserved_keys_are_refused(key: str) -> None:
    """Header names must be plain tokens, and Action/ActionID belong to the client."""
    with pytest.raises(ActionEncodingError):
        encode_action("Ping", [(key, "v")], "id-1")


def test_action_values_are_validated_by_name() -> None:
    """Typed builders name the field that is wrong, before anything is encoded."""
    with pytest.raises(ActionValueError, match="Reason"):
        actions.queue_pause("PJSIP/1001", True, reason="lunch\r\nAction: Hangup")
    with pytest.raises(ActionValueError, match="Interface"):
        actions.queue_add("general", "not an interface")
    with pytest.raises(ActionValueError, match="Queue"):
        actions.queue_remove("bad queue", "PJSIP/1001")
    with pytest.raises(ActionValueError, match="Application"):
        actions.originate("PJSIP/1001", context="survey", exten="s", application="Playback")
    with pytest.raises(ActionValueError, match="Context"):
        actions.originate("PJSIP/1001")
    with pytest.raises(ActionValueError, match="Timeout"):
        actions.originate("PJSIP/1001", context="survey", exten="s", timeout_ms=10)
    with pytest.raises(ActionValueError, match="Variable"):
        actions.setvar("BAD NAME", "x")
    with pytest.raises(ActionValueError, match="Cause"):
        actions.hangup("PJSIP/1001-00000001", cause=999)
    with pytest.raises(ActionValueError, match="Channel"):
        actions.redirect("nonsense", "hotline-inbound", "s")


def test_chinese_pause_reason_is_sent_as_utf8() -> None:
    """A pause reason such as 午休 goes out as UTF-8, the way Asterisk passes it through."""
    pause = actions.queue_pause("PJSIP/1001", True, queue="general", reason="午休")
    assert "Reason: 午休\r\n".encode() in encode_action(pause.name, pause.fields, "p-1")


def test_login_secret_is_masked_in_descriptions() -> None:
    """An action's repr and description never show the Login secret."""
    login = actions.login("hotline", "s3cr3t-value")
    assert "s3cr3t-value" not in repr(login) and "s3cr3t-value" not in login.describe()
    assert "Secret='***'" in login.describe()


def test_list_and_originate_actions_declare_how_they_complete() -> None:
    """QueueStatus-like actions end on their Complete event, Originate on its OriginateResponse."""
    assert actions.queue_status().completion == actions.LIST
    assert actions.queue_summary().completion == actions.LIST
    assert actions.core_show_channels().completion == actions.LIST
    assert actions.status().completion == actions.LIST
    originate = actions.originate("PJSIP/1001", application="Playback", data="beep", timeout_ms=20_000)
    assert originate.completion == actions.ORIGINATE and originate.timeout == 50.0
    assert dict(originate.fields)["Async"] == "true"
    assert actions.getvar("X", channel="PJSIP/1001-00000001").completion == actions.RESPONSE
    redirect = actions.redirect("PJSIP/1001-00000001", "hotline-inbound", "s", extra_channel="PJSIP/1002-00000002")
    assert dict(redirect.fields)["ExtraContext"] == "hotline-inbound"
