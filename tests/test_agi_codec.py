"""The sans-IO AGI codec against the bytes a real Asterisk 22 sent (reference/asterisk/raw)
and against hostile input; command formatting against the transcript's lines and against
injection attempts."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hotline.agi import codec
from hotline.agi.channel import CallInfo, CommandRejected, Hangup, RecordResult, UnsafeArgument
from hotline.agi.codec import MAX_COMMAND_BYTES, MAX_HEADER_LINES, MAX_LINE_BYTES, AgiDecoder, HangupNotice, ProtocolError, Reply
from hotline.simulator.agi import iter_transcript, parse_args

REFERENCE = Path(__file__).parent / "fixtures" / "asterisk"
RAW = REFERENCE / "raw"
CAPTURES = sorted(RAW.glob("fastagi-*.rx.bin"))


def _one_byte_at_a_time(data: bytes) -> list[codec.Message]:
    decoder = AgiDecoder()
    messages: list[codec.Message] = []
    for i in range(len(data)):
        messages += decoder.feed(data[i : i + 1])
    assert decoder.buffered == b""
    return messages


def _header() -> bytes:
    data = (RAW / "fastagi-001-ivr.rx.bin").read_bytes()
    return data[: data.index(b"\n\n") + 2]


# -- decoding the captured streams


def test_captures_exist() -> None:
    """The four captured FastAGI streams are where the tests expect them."""
    assert len(CAPTURES) == 4


@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: p.name)
def test_capture_decodes_the_same_in_one_chunk_and_byte_by_byte(path: Path) -> None:
    """A real capture gives the same messages whether it arrives whole or one byte at a time."""
    data = path.read_bytes()
    whole = AgiDecoder().feed(data)
    assert _one_byte_at_a_time(data) == whole
    assert isinstance(whole[0], CallInfo)
    assert isinstance(whole[-1], HangupNotice)


def test_header_of_session_001_becomes_call_info() -> None:
    """The ivr?lang=zh header gives the flow, its parameters and every field verbatim."""
    [info] = AgiDecoder().feed(_header())
    assert isinstance(info, CallInfo)
    assert info.flow == "ivr" and info.params == {"lang": "zh"}
    assert info.uniqueid == "asterisk-lab-1795234841.1"
    assert info.channel == "Local/12319@hotline-00000000;2"
    assert (info.callerid, info.calleridname, info.dnid) == ("unknown", "unknown", "unknown")
    assert (info.context, info.extension, info.language) == ("hotline", "12319", "en")
    assert info.headers["accountcode"] == "" and info.headers["request"] == "agi://127.0.0.1:4573/ivr?lang=zh"
    assert len(info.headers) == 22 and info.args == ()
    assert info.linkedid == info.uniqueid


def test_capture_001_replies_in_order() -> None:
    """Every reply of session 001 decodes to its code, result, data and endpos."""
    messages = AgiDecoder().feed((RAW / "fastagi-001-ivr.rx.bin").read_bytes())[1:]
    summary = [(m.code, m.result, m.data, m.endpos) if isinstance(m, Reply) else "HANGUP" for m in messages]
    assert summary[:7] == [
        (200, "0", None, None),
        (200, "1", None, None),
        (200, "1", None, None),
        (200, "1", "hello world", None),
        (200, "0", None, None),
        (200, "1", "hello world|Local/12319@hotline-00000000;2||12319", None),
        (200, "1", "", None),
    ]
    assert (200, "1", "你好 世界", None) in summary
    assert summary[10:13] == [(200, "6", None, None), (510, None, None, None), (520, None, None, None)]
    assert summary[13:17] == [(200, "49", None, 13280), (200, "42", None, None), (200, "9", "timeout", None), (200, "55", None, None)]
    assert (200, "35", "dtmf", 22480) in summary and (200, "-2", None, None) in summary
    assert summary[-1] == "HANGUP"


def test_520_block_is_one_reply_with_its_usage() -> None:
    """The multi-line 520 block, fed byte by byte, is one reply carrying the usage text."""
    data = (RAW / "fastagi-001-ivr.rx.bin").read_bytes()
    start = data.index(b"520-")
    end = data.index(b"520 End of proper usage.\n") + len(b"520 End of proper usage.\n")
    decoder = AgiDecoder(expect_header=False)
    messages = []
    for i in range(start, end):
        messages += decoder.feed(data[i : i + 1])
    [reply] = messages
    assert reply.code == 520 and reply.line == "520-Invalid command syntax.  Proper usage follows:"
    assert reply.text.startswith("Waits up to <replaceable>timeout</replaceable> milliseconds")


def test_520_usage_without_final_newline() -> None:
    """A usage text that runs into the closing line still ends the block."""
    [reply] = AgiDecoder(expect_header=False).feed(b"520-Invalid command syntax.  Proper usage follows:\nUsage: X520 End of proper usage.\n")
    assert reply.code == 520 and reply.text == "Usage: X"


def test_520_without_usage_is_one_line() -> None:
    """`520 Invalid command syntax.  Proper usage not available.` is a complete reply."""
    [reply] = AgiDecoder(expect_header=False).feed(b"520 Invalid command syntax.  Proper usage not available.\n")
    assert reply.code == 520 and "not available" in reply.text


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (b"200 result=0", (200, "0", None, None, "")),
        (b"200 result=49 endpos=13280", (200, "49", None, 13280, "")),
        (b"200 result=9 (timeout)", (200, "9", "timeout", None, "")),
        (b"200 result= (timeout)", (200, "", "timeout", None, "")),
        (b"200 result=042", (200, "042", None, None, "")),
        (b"200 result=35 (dtmf) endpos=22480", (200, "35", "dtmf", 22480, "")),
        (b"200 result=-1 endpos=20000", (200, "-1", None, 20000, "")),
        (b"200 result=-1 (hangup) endpos=0", (200, "-1", "hangup", 0, "")),
        (b"200 result=1 ()", (200, "1", "", None, "")),
        (b"200 result=1 (a (b) c) d)", (200, "1", "a (b) c) d", None, "")),
        (b"200 result=-2", (200, "-2", None, None, "")),
        (b"100 result=0 Trying...", (100, "0", None, None, "Trying...")),
        (b"200 result=0 Gosub complete", (200, "0", None, None, "Gosub complete")),
        (b"510 Invalid or unknown command", (510, None, None, None, "Invalid or unknown command")),
        (b"511 Command Not Permitted on a dead channel or intercept routine", (511, None, None, None, "Command Not Permitted on a dead channel or intercept routine")),
    ],
)
def test_reply_forms(line: bytes, expected: tuple[object, ...]) -> None:
    """Every reply form Asterisk sends parses into code, result, data, endpos and text."""
    [reply] = AgiDecoder(expect_header=False).feed(line + b"\n")
    assert (reply.code, reply.result, reply.data, reply.endpos, reply.text) == expected
    assert reply.line == line.decode()


def test_unsolicited_hangup_lines() -> None:
    """HANGUP is a message of its own, also twice in a row (AGIEXITONHANGUP=yes)."""
    assert AgiDecoder(expect_header=False).feed(b"200 result=-1 endpos=20000\nHANGUP\nHANGUP\n")[1:] == [HangupNotice(), HangupNotice()]


def test_leftover_is_kept_until_the_line_completes() -> None:
    """An incomplete line stays buffered and completes with the next bytes."""
    decoder = AgiDecoder()
    messages = decoder.feed(_header() + b"200 res")
    assert len(messages) == 1 and decoder.buffered == b"200 res"
    assert decoder.feed(b"ult=1 (x)\nHANG") == [Reply(code=200, result="1", data="x", line="200 result=1 (x)")]
    assert decoder.feed(b"UP\n") == [HangupNotice()]


def test_classic_header_takes_the_flow_from_the_command_line() -> None:
    """Classic AGI: the flow comes from argv, agi_arg_N become args in order."""
    received = [data for direction, data in iter_transcript(str(REFERENCE / "agi_stdin.txt"), "12329:") if direction == "A>S"]
    header = b"".join(received[: received.index(b"\n") + 1])
    [info] = AgiDecoder(flow="ivr?lang=en").feed(header)
    assert info.flow == "ivr" and info.params == {"lang": "en"} and info.args == ("arg1", "arg two")
    assert info.headers["request"] == "/var/lib/asterisk/agi-bin/stdin_agi.py" and "network" not in info.headers


def test_script_path_and_query() -> None:
    """The flow is the first path segment; the query gives parameters (linkedid too)."""
    assert codec.parse_script("/ivr/sub?lang=zh&linkedid=abc.1&empty=") == ("ivr", {"lang": "zh", "linkedid": "abc.1", "empty": ""})
    info = codec.call_info({"uniqueid": "u.1", "network_script": "survey?linkedid=root.7"})
    assert info.flow == "survey" and info.linkedid == "root.7"


def test_invalid_utf8_is_replaced_not_refused() -> None:
    """A GBK caller name and broken UTF-8 decode with U+FFFD instead of failing the call."""
    gbk_name = "张三".encode("gbk")
    [info] = AgiDecoder().feed(b"agi_uniqueid: u.1\nagi_calleridname: " + gbk_name + b"\nagi_callerid: \xff\xfe1\n\n")
    assert "\ufffd" in info.calleridname and info.callerid == "\ufffd\ufffd1"


def test_crlf_header_is_tolerated() -> None:
    """A peer ending lines with CR LF does not leave CRs in the values."""
    [info, reply] = AgiDecoder().feed(b"agi_uniqueid: u.1\r\nagi_network_script: ivr\r\n\r\n200 result=1 (x)\r\n")
    assert info.uniqueid == "u.1" and info.flow == "ivr" and reply.data == "x"


# -- hostile input


def test_over_long_line_without_newline_is_refused_early() -> None:
    """A line beyond 8 KiB is refused as soon as the buffer passes the limit, not at 1 MiB."""
    decoder = AgiDecoder()
    decoder.feed(b"agi_network: yes\n")
    chunk = b"x" * 1024
    with pytest.raises(ProtocolError, match="longer than"):
        for _ in range(1024):
            decoder.feed(chunk)
    assert len(decoder.buffered) <= MAX_LINE_BYTES + len(chunk)


def test_over_long_line_with_newline_is_refused() -> None:
    """A complete line of 8193 bytes is refused in the header and among replies."""
    with pytest.raises(ProtocolError):
        AgiDecoder().feed(b"agi_x: " + b"y" * MAX_LINE_BYTES + b"\n")
    with pytest.raises(ProtocolError):
        AgiDecoder(expect_header=False).feed(b"200 result=1 (" + b"y" * MAX_LINE_BYTES + b")\n")


def test_line_of_exactly_the_limit_is_accepted() -> None:
    """8192 bytes before the LF is still a line."""
    line = b"agi_x: " + b"y" * (MAX_LINE_BYTES - 7)
    assert len(line) == MAX_LINE_BYTES
    [info] = AgiDecoder().feed(line + b"\n\n")
    assert len(info.headers["x"]) == MAX_LINE_BYTES - 7


def test_header_line_limit() -> None:
    """64 header lines are a header; 65 are an attack."""
    ok = b"".join(b"agi_arg_%d: a\n" % i for i in range(1, MAX_HEADER_LINES + 1)) + b"\n"
    [info] = AgiDecoder().feed(ok)
    assert len(info.args) == MAX_HEADER_LINES
    too_many = b"".join(b"agi_arg_%d: a\n" % i for i in range(1, MAX_HEADER_LINES + 2)) + b"\n"
    with pytest.raises(ProtocolError, match="longer than 64 lines"):
        AgiDecoder().feed(too_many)


@pytest.mark.parametrize("garbage", [b"hello world\n", b"agi_x no colon\n", b"GET / HTTP/1.1\r\n", b"\n", b"x-agi: 1\n", b"\x00\x01\x02\n"])
def test_malformed_header_is_a_protocol_error(garbage: bytes) -> None:
    """Anything but agi_<name>: lines (or an empty header) is refused."""
    with pytest.raises(ProtocolError):
        AgiDecoder().feed(garbage)


@pytest.mark.parametrize("garbage", [b"hello\n", b"200\n", b"200 ok\n", b"20 result=1\n", b"\n", b"HANGUP now\n", b"2000 result=1\n"])
def test_malformed_reply_is_a_protocol_error(garbage: bytes) -> None:
    """Lines that are neither replies nor HANGUP are refused."""
    with pytest.raises(ProtocolError):
        AgiDecoder(expect_header=False).feed(garbage)


def test_protocol_error_is_sticky() -> None:
    """After a protocol error the decoder refuses everything: no resynchronisation."""
    decoder = AgiDecoder(expect_header=False)
    with pytest.raises(ProtocolError):
        decoder.feed(b"garbage\n")
    with pytest.raises(ProtocolError):
        decoder.feed(b"200 result=0\n")


def test_messages_before_an_error_are_delivered() -> None:
    """next_message() hands out the good reply before raising for the bad line after it."""
    decoder = AgiDecoder(expect_header=False)
    decoder.receive_data(b"200 result=0\nnonsense\n")
    assert decoder.next_message() == Reply(code=200, result="0", line="200 result=0")
    with pytest.raises(ProtocolError):
        decoder.next_message()


def test_endless_usage_block_is_refused() -> None:
    """A 520 block that never ends cannot grow without limit."""
    with pytest.raises(ProtocolError):
        AgiDecoder(expect_header=False).feed(b"520-x\n" + b"usage\n" * 300)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000), st.booleans())
def test_arbitrary_bytes_never_crash_the_decoder(data: bytes, header: bool) -> None:
    """Whatever arrives, the decoder returns messages or raises ProtocolError, nothing else."""
    try:
        AgiDecoder(expect_header=header).feed(data)
    except ProtocolError:
        pass


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=1571), max_size=20))
def test_chunking_never_changes_the_messages(cuts: list[int]) -> None:
    """The captured stream split at arbitrary points decodes to the same messages."""
    data = (RAW / "fastagi-001-ivr.rx.bin").read_bytes()
    points = sorted({min(c, len(data)) for c in cuts})
    decoder = AgiDecoder()
    messages: list[codec.Message] = []
    start = 0
    for point in [*points, len(data)]:
        messages += decoder.feed(data[start:point])
        start = point
    assert messages == AgiDecoder().feed(data)


# -- replies → results


def test_check_reply_maps_hangups_and_rejections() -> None:
    """result=-1 and 511 are Hangup, 510 and 520 CommandRejected; EXEC keeps its -1."""
    with pytest.raises(Hangup):
        codec.check_reply(Reply(code=200, result="-1", endpos=20000), 'STREAM FILE x ""\n')
    with pytest.raises(Hangup):
        codec.check_reply(Reply(code=511, text="Command Not Permitted on a dead channel or intercept routine"), "WAIT FOR DIGIT 1000\n")
    with pytest.raises(CommandRejected) as rejected:
        codec.check_reply(Reply(code=510, text="Invalid or unknown command"), "FOO BAR\n")
    assert (rejected.value.code, rejected.value.command) == (510, "FOO BAR")
    with pytest.raises(CommandRejected) as usage:
        codec.check_reply(Reply(code=520, text="Waits up to …"), "WAIT FOR DIGIT\n")
    assert usage.value.code == 520 and usage.value.text == "Waits up to …"
    assert codec.check_reply(Reply(code=200, result="-1"), "EXEC Queue general\n", minus_one_is_hangup=False).result == "-1"


def test_result_helpers() -> None:
    """Keys, digit strings, recordings and variables come out typed."""
    assert codec.digit_result(Reply(code=200, result="49", endpos=13280)) == "1"
    assert codec.digit_result(Reply(code=200, result="0")) is None
    with pytest.raises(ProtocolError):
        codec.digit_result(Reply(code=200, result="9999", line="200 result=9999"))
    with pytest.raises(ProtocolError):
        codec.digit_result(Reply(code=200, result="x", line="200 result=x"))
    assert codec.get_data_result(Reply(code=200, result="42")) == ("42", False)
    assert codec.get_data_result(Reply(code=200, result="9", data="timeout")) == ("9", True)
    assert codec.get_data_result(Reply(code=200, result="", data="timeout")) == ("", True)
    assert codec.get_data_result(Reply(code=200, result="007")) == ("007", False)
    with pytest.raises(ProtocolError):
        codec.get_data_result(Reply(code=200, result="4;2", line="200 result=4;2"))
    assert codec.record_result(Reply(code=200, result="35", data="dtmf", endpos=22480)) == RecordResult("#", False, 22480)
    assert codec.record_result(Reply(code=200, result="0", data="timeout", endpos=40000)) == RecordResult(None, True, 40000)
    assert codec.record_result(Reply(code=200, result="35", data="randomerror", endpos=0)) == RecordResult("#", False, 0)
    assert codec.variable_result(Reply(code=200, result="0")) is None
    assert codec.variable_result(Reply(code=200, result="1", data="")) == ""
    assert codec.variable_result(Reply(code=200, result="1", data="hangup")) == "hangup"


# -- commands, byte for byte as the transcript has them


def _sent_lines() -> set[bytes]:
    return {data for session in ("Session 001", "Session 002", "Session 003", "Session 004") for direction, data in iter_transcript(str(REFERENCE / "agi_fastagi.txt"), session) if direction == "S>A"}


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (codec.format_answer, b"ANSWER\n"),
        (lambda: codec.format_verbose("probe ivr start lang=zh", 1), b'VERBOSE "probe ivr start lang=zh" 1\n'),
        (lambda: codec.format_set_variable("LABVAR", "hello world"), b'SET VARIABLE LABVAR "hello world"\n'),
        (lambda: codec.format_get_variable("LABVAR"), b"GET VARIABLE LABVAR\n"),
        (lambda: codec.format_get_variable("NOSUCHVAR"), b"GET VARIABLE NOSUCHVAR\n"),
        (lambda: codec.format_set_variable("GREETING", "你好 世界"), 'SET VARIABLE GREETING "你好 世界"\n'.encode()),
        (lambda: codec.format_stream_file("demo-congrats", "12#"), b'STREAM FILE demo-congrats "12#"\n'),
        (lambda: codec.format_stream_file("beep"), b'STREAM FILE beep ""\n'),
        (lambda: codec.format_get_data("beep", 6000, 4), b"GET DATA beep 6000 4\n"),
        (lambda: codec.format_get_data("beep", 2500, 4), b"GET DATA beep 2500 4\n"),
        (lambda: codec.format_wait_for_digit(5000), b"WAIT FOR DIGIT 5000\n"),
        (lambda: codec.format_wait_for_digit(1000), b"WAIT FOR DIGIT 1000\n"),
        (lambda: codec.format_say_digits("123"), b'SAY DIGITS 123 ""\n'),
        (lambda: codec.format_say_digits("4567", "#"), b'SAY DIGITS 4567 "#"\n'),
        (lambda: codec.format_say_number(42), b'SAY NUMBER 42 ""\n'),
        (lambda: codec.format_record_file("/var/spool/asterisk/recording/probe-ivr", "wav", "#", 15000, True, 5), b'RECORD FILE /var/spool/asterisk/recording/probe-ivr wav "#" 15000 0 BEEP s=5\n'),
        (lambda: codec.format_exec("Playback", "beep"), b'EXEC Playback "beep"\n'),
        (lambda: codec.format_exec("Set", "EXECSET=via exec"), b'EXEC Set "EXECSET=via exec"\n'),
        (lambda: codec.format_exec("NoSuchApplication", "x"), b'EXEC NoSuchApplication "x"\n'),
        (lambda: codec.format_verbose("after hangup", 1), b'VERBOSE "after hangup" 1\n'),
        (lambda: codec.format_set_variable("AFTERHUP", "yes"), b'SET VARIABLE AFTERHUP "yes"\n'),
        (codec.format_hangup, b"HANGUP\n"),
    ],
)
def test_commands_match_the_transcript(line: object, expected: bytes) -> None:
    """Each Channel operation writes exactly the line the lab's probe sent a real Asterisk."""
    assert line() == expected  # type: ignore[operator]
    assert expected in _sent_lines()


def test_record_file_variants() -> None:
    """Without beep or silence the optional words are left out; the offset stays."""
    assert codec.format_record_file("vm/1", "wav", "#", 60000, False, None) == b'RECORD FILE vm/1 wav "#" 60000 0\n'
    assert codec.format_record_file("vm/1", "gsm", "#*", -1, False, 3) == b'RECORD FILE vm/1 gsm "#*" -1 0 s=3\n'
    assert codec.format_exec("Answer") == b"EXEC Answer\n"


def test_every_command_ends_in_a_bare_lf() -> None:
    """No command carries a CR: Asterisk would keep it in the last argument."""
    for line in (codec.format_answer(), codec.format_verbose("x"), codec.format_exec("Queue", "general,,,,60")):
        assert line.endswith(b"\n") and b"\r" not in line and line.count(b"\n") == 1


# -- injection


@pytest.mark.parametrize(
    "value",
    ['say "hi"', "back\\slash", "trailing\\", '"', '\\"', "tab\there", "  spaces  ", "${EVIL}", "a;b|c,d", '13800138000" EXEC System "rm', "你好 世界", ""],
)
def test_quoted_value_round_trips_through_res_agi_parsing(value: str) -> None:
    """Quotes and backslashes are escaped so res_agi's parser gives back exactly the value."""
    line = codec.format_set_variable("X", value)
    assert line.count(b"\n") == 1
    assert parse_args(line.decode().rstrip("\n")) == ["SET", "VARIABLE", "X", value]


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00\r\n"), max_size=200))
def test_any_value_round_trips(value: str) -> None:
    """For any text without NUL, CR or LF, the quoted argument is read back verbatim."""
    assert parse_args(codec.format_verbose(value, 1).decode().rstrip("\n")) == ["VERBOSE", value, "1"]
    assert parse_args(codec.format_exec("Set", f"X={value}").decode().rstrip("\n")) == ["EXEC", "Set", f"X={value}"]


@pytest.mark.parametrize("evil", ["13800138000\nEXEC System reboot", "x\r", "nul\x00byte", "\n", "a\r\nHANGUP"])
def test_line_breaks_and_nul_are_refused_everywhere(evil: str) -> None:
    """A caller ID or value with CR, LF or NUL cannot reach the wire through any argument."""
    for attempt in (
        lambda: codec.format_set_variable("CALLER", evil),
        lambda: codec.format_verbose(evil),
        lambda: codec.format_exec("Playback", evil),
        lambda: codec.format_get_variable(evil),
        lambda: codec.format_stream_file(evil),
        lambda: codec.format_stream_file("beep", evil),
        lambda: codec.format_say_digits(evil),
        lambda: codec.format_record_file(evil),
        lambda: codec.format_exec(evil),
    ):
        with pytest.raises(UnsafeArgument):
            attempt()


@pytest.mark.parametrize("digits", ["1a", "1 2", '1"', "12\\", "A", "１", "#\n"])
def test_escape_digits_are_dtmf_only(digits: str) -> None:
    """Escape digits are 0-9, * and #: nothing else reaches the quoted argument."""
    with pytest.raises(UnsafeArgument):
        codec.format_stream_file("beep", digits)


@pytest.mark.parametrize("digits", ["", "#", "*1", "12 34", '12"', "1;HANGUP"])
def test_say_digits_refuses_what_asterisk_would_not_say(digits: str) -> None:
    """SAY DIGITS takes a digit string (res_agi scans a number first), unquoted, so it is checked."""
    with pytest.raises(UnsafeArgument):
        codec.format_say_digits(digits)


@pytest.mark.parametrize("name", ["beep beep", 'a"b', "../../etc/passwd", "hotline/../../x", "-x", "", "a\\b", "a$b", "x" * 300])
def test_sound_names_are_a_safe_charset(name: str) -> None:
    """Sound and recording names are letters, digits, _ - . / without climbing out."""
    with pytest.raises(UnsafeArgument):
        codec.format_stream_file(name)


def test_sound_names_that_are_fine() -> None:
    """Nested prompt names and absolute recording paths pass unquoted."""
    assert codec.format_stream_file("hotline/zh/welcome") == b'STREAM FILE hotline/zh/welcome ""\n'
    assert codec.format_get_data("hotline/zh/menu_v2.1", 5000, 1) == b"GET DATA hotline/zh/menu_v2.1 5000 1\n"


@pytest.mark.parametrize("name", ["X Y", 'X"', "A(b c)", "1X", "X)", "", "A(b)(c)"])
def test_variable_names_are_checked(name: str) -> None:
    """Variable names cannot carry blanks or quotes (they are not quoted on the wire)."""
    with pytest.raises(UnsafeArgument):
        codec.format_get_variable(name)


def test_variable_names_that_are_fine() -> None:
    """Plain, inherited and function-style names pass."""
    assert codec.format_set_variable("CDR(userfield)", "x") == b'SET VARIABLE CDR(userfield) "x"\n'
    assert codec.format_get_variable("__HOTLINE_TICKET") == b"GET VARIABLE __HOTLINE_TICKET\n"
    assert codec.format_get_variable("CALLERID(num)") == b"GET VARIABLE CALLERID(num)\n"


@pytest.mark.parametrize("app", ['Playback "x"', "Play back", "Set;System", "", "9app"])
def test_application_names_are_checked(app: str) -> None:
    """EXEC's application is a bare name: no way to add arguments through it."""
    with pytest.raises(UnsafeArgument):
        codec.format_exec(app, "x")


@pytest.mark.parametrize(
    "attempt",
    [
        lambda: codec.format_wait_for_digit(True),  # type: ignore[arg-type]
        lambda: codec.format_wait_for_digit("5000"),  # type: ignore[arg-type]
        lambda: codec.format_get_data("beep", -5, 4),
        lambda: codec.format_get_data("beep", 5000, 0),
        lambda: codec.format_verbose("x", 5),
        lambda: codec.format_say_number(2**31),
        lambda: codec.format_record_file("x", "w a v"),
        lambda: codec.format_set_variable("X", 5),  # type: ignore[arg-type]
        lambda: codec.format_set_variable("X", "lone \ud800 surrogate"),
    ],
)
def test_numbers_and_types_are_checked(attempt: object) -> None:
    """Numbers must be integers in range and texts must be text that UTF-8 can carry."""
    with pytest.raises(UnsafeArgument):
        attempt()  # type: ignore[operator]


def test_command_length_limit() -> None:
    """A command of 8190 bytes (LF included) is sent; one byte more is refused."""
    overhead = len(codec.format_set_variable("X", ""))
    assert len(codec.format_set_variable("X", "v" * (MAX_COMMAND_BYTES - overhead))) == MAX_COMMAND_BYTES
    with pytest.raises(UnsafeArgument, match="longer than 8190"):
        codec.format_set_variable("X", "v" * (MAX_COMMAND_BYTES - overhead + 1))
    with pytest.raises(UnsafeArgument):
        codec.format_set_variable("X", "你" * 3000)  # 9000 bytes in UTF-8, 3000 characters


def test_unsafe_argument_is_a_value_error() -> None:
    """Callers that validate input with `except ValueError` also catch unsafe arguments."""
    with pytest.raises(ValueError):
        codec.format_verbose("a\nb")


def test_remembered_lines_are_checked_like_new_ones() -> None:
    """Formatting remembers lines it built (hotline.agi.codec._memoised): a bool where an int was
    remembered, a float, a str subclass or a bad value is still checked, every time."""
    assert codec.format_wait_for_digit(1) == b"WAIT FOR DIGIT 1\n"
    assert codec.format_wait_for_digit(1) is codec.format_wait_for_digit(1)
    with pytest.raises(UnsafeArgument):
        codec.format_wait_for_digit(True)  # type: ignore[arg-type]  # True == 1, but refused
    with pytest.raises(UnsafeArgument):
        codec.format_wait_for_digit(1.0)  # type: ignore[arg-type]
    for _ in range(2):
        with pytest.raises(UnsafeArgument):
            codec.format_stream_file("../../etc/passwd", "")
    assert codec.format_stream_file("hotline/zh/welcome", "12") == b'STREAM FILE hotline/zh/welcome "12"\n'

    class Sneaky(str):
        pass

    with pytest.raises(UnsafeArgument):
        codec.format_set_variable("X", Sneaky("a\nHANGUP"))
    assert codec.format_get_data("beep", timeout_ms=3000, max_digits=4) == codec.format_get_data("beep", 3000, 4)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                b"200 result=0\n",
                b"200 result=49 endpos=13280\n",
                b"200 result= (timeout)\n",
                b"200 result=1 (zh)\n",
                b"HANGUP\n",
                b"511 Command Not Permitted on a dead channel or intercept routine\n",
                b"520-Invalid command syntax.  Proper usage follows:\n",
                b"Usage: WAIT FOR DIGIT <timeout>\n",
                b"520 End of proper usage.\n",
                b"200 result=0\r\n",
            ]
        ),
        max_size=12,
    ),
    st.lists(st.integers(min_value=0, max_value=400), max_size=6),
)
def test_one_line_reads_and_known_replies_decode_as_the_general_path(lines: list[bytes], cuts: list[int]) -> None:
    """A read that is exactly one line takes a shorter path, and short replies are parsed
    once per process. Lines one per read, cut anywhere, or all in one read (the general
    path) decode to what the general path gives with no remembered replies."""
    data = b"".join(lines)
    points = sorted({min(c, len(data)) for c in cuts})
    remembered, limit = dict(codec._KNOWN_REPLIES), codec._KNOWN_REPLY_LIMIT
    codec._KNOWN_REPLIES.clear()
    codec._KNOWN_REPLY_LIMIT = 0
    try:
        expected = decode_chunks([data])
    finally:
        codec._KNOWN_REPLIES.update(remembered)
        codec._KNOWN_REPLY_LIMIT = limit
    assert decode_chunks(lines) == expected
    assert decode_chunks([data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=False)]) == expected
    assert decode_chunks([data]) == expected


def decode_chunks(chunks: list[bytes], header: bool = False) -> tuple[list[codec.Message], str | None]:
    """Messages until the end or the first ProtocolError, and that error."""
    decoder = AgiDecoder(expect_header=header)
    messages: list[codec.Message] = []
    try:
        for chunk in chunks:
            decoder.receive_data(chunk)
            while (message := decoder.next_message()) is not None:
                messages.append(message)
    except ProtocolError as exc:
        return messages, str(exc)
    return messages, None


_HEADER_LINE = st.one_of(
    st.builds(
        lambda key, space, value: f"agi_{key}:{space}{value}",
        st.from_regex(r"[A-Za-z0-9_]{1,12}", fullmatch=True),
        st.sampled_from(["", " ", "  "]),
        st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\n\r"), max_size=20),
    ),
    st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\n"), max_size=20),
    st.sampled_from(["agi_request:", "agi_ x: y", "agi_a:b:c", "AGI_x: y", "agi_x : y", "agi_é: y", "agi_x:\x00", " agi_x: y"]),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_HEADER_LINE, min_size=1, max_size=30))
def test_a_header_read_whole_decodes_as_line_by_line(lines: list[str]) -> None:
    """A header block that arrives in one read is matched by one regex; any block, well
    formed or not, gives the same CallInfo or the same error as one byte at a time."""
    data = ("\n".join(lines) + "\n\n200 result=0\n").encode("utf-8")
    whole = decode_chunks([data], header=True)
    assert whole == decode_chunks([data[i : i + 1] for i in range(len(data))], header=True)
