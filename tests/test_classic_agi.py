"""Classic AGI: each pyst2 defect measured in reference/dependencies.md, shown on pyst2 itself
and fixed by `ClassicAgiChannel`; `main()` with an injected handler; and agi_scripts/hotline-agi
run as a child process under hotline/simulator/agi.py the way Asterisk runs it (SIGHUP mid-command,
AGISIGHUP=no, an unsolicited HANGUP line).

The flows at the bottom of this module are the test flows the child process runs: the script
loads them through the test-only HOTLINE_AGI_TEST_HANDLER=tests.test_classic_agi:<name>.
"""

from __future__ import annotations

import io
import logging
import os
import signal
import sys
import threading
import types
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any

import pytest
from asterisk.agi import AGI, AGIAppError, AGISIGHUPHangup, AGIUnknownError

from hotline.agi import classic
from hotline.agi.channel import Channel, Hangup, RecordResult
from hotline.agi.classic import ClassicAgiChannel, main
from hotline.agi.codec import ProtocolError
from hotline.agi.driver import run_to_end
from hotline.simulator.agi import AsteriskPeer, HangUp, HangupAtCommand, Press, RawReply, parse_args

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "agi_scripts" / "hotline-agi"

#: A classic header shaped like the stdin transcript's (12329), for AGI(hotline-agi,ivr).
HEADER = (
    b"agi_request: /var/lib/asterisk/agi-bin/hotline-agi\n"
    b"agi_channel: Local/12329@hotline-00000004;2\n"
    b"agi_language: en\n"
    b"agi_type: Local\n"
    b"agi_uniqueid: asterisk-lab-1795234925.9\n"
    b"agi_version: 22.10.1\n"
    b"agi_callerid: unknown\n"
    b"agi_calleridname: unknown\n"
    b"agi_context: hotline\n"
    b"agi_extension: 12329\n"
    b"agi_priority: 2\n"
    b"agi_accountcode: \n"
    b"agi_arg_1: ivr\n"
    b"\n"
)


def run(coroutine: Coroutine[Any, Any, Any]) -> Any:
    return run_to_end(coroutine)


class Close:
    """A scripted reply after which Asterisk closes the pipe (EOF)."""

    def __init__(self, data: bytes = b"") -> None:
        self.data = data


class Asterisk:
    """Asterisk's end of the pipes, in process: its bytes go into the channel's stdin (a real
    OS pipe, so select() sees them), and each command line the channel writes to `stdout`
    (this object) releases the next scripted reply, as a real Asterisk answers one command
    at a time."""

    def __init__(self) -> None:
        read_end, self._write_end = os.pipe()
        self.stdin = open(read_end, "rb", buffering=0)
        self.stdout = self
        self.replies: list[bytes | Close] = []
        self.written = bytearray()

    def send(self, data: bytes) -> None:
        os.write(self._write_end, data)

    def script(self, *replies: bytes | Close) -> None:
        self.replies.extend(replies)

    def write(self, data: bytes) -> int:
        self.written += data
        for _ in range(data.count(b"\n")):
            if self.replies:
                reply = self.replies.pop(0)
                if isinstance(reply, Close):
                    self.send(reply.data)
                    self.hang_up_the_pipe()
                else:
                    self.send(reply)
        return len(data)

    def flush(self) -> None:
        pass

    def hang_up_the_pipe(self) -> None:
        os.close(self._write_end)
        self._write_end = -1

    def commands(self) -> bytes:
        return bytes(self.written)

    def close(self) -> None:
        self.stdin.close()
        if self._write_end >= 0:
            os.close(self._write_end)


@pytest.fixture
def asterisk() -> Iterator[Asterisk]:
    pipes = Asterisk()
    yield pipes
    pipes.close()


@pytest.fixture
def sighup_restored() -> Iterator[None]:
    """pyst2's AGI() and our channel install a SIGHUP handler: put pytest's back afterwards."""
    previous = signal.getsignal(signal.SIGHUP)
    yield
    signal.signal(signal.SIGHUP, previous)


def open_channel(asterisk: Asterisk, *replies: bytes | Close, flow: str | None = "ivr", before: bytes = b"") -> ClassicAgiChannel:
    """The header (plus `before`: what Asterisk sends while we are idle), then `replies`, one
    per command."""
    asterisk.send(HEADER + before)
    asterisk.script(*replies)
    return ClassicAgiChannel.open(asterisk.stdin, asterisk.stdout, flow=flow)  # type: ignore[arg-type]


def pyst2(text: str) -> tuple[AGI, io.StringIO, io.StringIO]:
    """pyst2's AGI on in-memory text streams, as its own tests would use it."""
    stdout, stderr = io.StringIO(), io.StringIO()
    return AGI(stdin=io.StringIO(text), stdout=stdout, stderr=stderr), stdout, stderr


# -- the defects, one by one


def test_unsolicited_hangup_line(asterisk: Asterisk, sighup_restored: None) -> None:
    """pyst2 reads an unsolicited HANGUP as a reply and raises ValueError; the adapter raises
    Hangup before writing the command."""
    agi, _out, _err = pyst2(HEADER.decode() + "HANGUP\n")
    with pytest.raises(ValueError, match="invalid literal for int"):
        agi.answer()
    channel = open_channel(asterisk, before=b"HANGUP\n")
    with pytest.raises(Hangup):
        run(channel.answer())
    assert asterisk.commands() == b""
    channel.close()


def test_hangup_line_where_the_reply_should_be(asterisk: Asterisk) -> None:
    """A HANGUP line read while waiting for a reply is a Hangup too."""
    channel = open_channel(asterisk, b"200 result=0\n", b"HANGUP\n")
    run(channel.answer())
    with pytest.raises(Hangup):
        run(channel.stream_file("beep"))
    assert asterisk.commands() == b'ANSWER\nSTREAM FILE beep ""\n'
    channel.close()


def test_hangup_line_without_a_descriptor() -> None:
    """On a stream without a file descriptor (no select), a HANGUP waiting in the buffer
    still ends the call before the next command is written."""
    stdout = io.BytesIO()
    channel = ClassicAgiChannel.open(io.BytesIO(HEADER + b"HANGUP\n"), stdout)
    try:
        with pytest.raises(Hangup):
            run(channel.answer())
        assert stdout.getvalue() == b""
    finally:
        channel.close()


def test_eof(asterisk: Asterisk, sighup_restored: None) -> None:
    """pyst2 turns EOF into ValueError; the adapter into Hangup, also in the middle of a reply."""
    agi, _out, _err = pyst2(HEADER.decode())
    with pytest.raises(ValueError):
        agi.answer()
    channel = open_channel(asterisk, b"200 result=0\n", Close(b"200 res"))
    run(channel.answer())
    with pytest.raises(Hangup):
        run(channel.verbose("x"))
    with pytest.raises(Hangup):
        run(channel.verbose("y"))
    assert asterisk.commands() == b'ANSWER\nVERBOSE "x" 1\n'
    channel.close()


def test_eof_while_idle(asterisk: Asterisk) -> None:
    """Asterisk closing the pipe while we are idle ends the call before the next command."""
    channel = open_channel(asterisk, Close(b"200 result=0\n"))
    run(channel.answer())
    with pytest.raises(Hangup, match="EOF"):
        run(channel.answer())
    assert asterisk.commands() == b"ANSWER\n"
    channel.close()


def test_511_is_a_hangup(asterisk: Asterisk, sighup_restored: None) -> None:
    """pyst2 raises AGIUnknownError for 511; the adapter raises Hangup and sends nothing more."""
    dead = "511 Command Not Permitted on a dead channel or intercept routine\n"
    agi, _out, _err = pyst2(HEADER.decode() + dead)
    with pytest.raises(AGIUnknownError):
        agi.stream_file("beep")
    channel = open_channel(asterisk, dead.encode())
    with pytest.raises(Hangup):
        run(channel.stream_file("beep"))
    with pytest.raises(Hangup):
        run(channel.set_variable("X", "y"))
    assert asterisk.commands() == b'STREAM FILE beep ""\n'
    channel.close()


def test_sighup_is_a_hangup(asterisk: Asterisk, sighup_restored: None) -> None:
    """After SIGHUP pyst2 raises AGISIGHUPHangup (not our type); the adapter raises Hangup
    at the next command, without writing it."""
    agi, _out, _err = pyst2(HEADER.decode())
    os.kill(os.getpid(), signal.SIGHUP)
    with pytest.raises(AGISIGHUPHangup) as pyst2_error:
        agi.answer()
    assert not isinstance(pyst2_error.value, Hangup)
    channel = open_channel(asterisk)
    assert channel.sighup_installed
    os.kill(os.getpid(), signal.SIGHUP)
    with pytest.raises(Hangup, match="SIGHUP"):
        run(channel.answer())
    assert asterisk.commands() == b""
    channel.close()


def test_sighup_handler_is_restored(asterisk: Asterisk, sighup_restored: None) -> None:
    """close() gives SIGHUP back to whoever had it before the call."""
    before = signal.getsignal(signal.SIGHUP)
    channel = open_channel(asterisk)
    assert signal.getsignal(signal.SIGHUP) is not before
    channel.close()
    assert signal.getsignal(signal.SIGHUP) is before


def test_off_the_main_thread(asterisk: Asterisk) -> None:
    """pyst2's AGI() fails off the main thread (signal.signal); the adapter works there and
    leaves SIGHUP alone."""
    before = signal.getsignal(signal.SIGHUP)
    outcome: dict[str, Any] = {}

    def worker() -> None:
        try:
            AGI(stdin=io.StringIO(HEADER.decode()), stdout=io.StringIO(), stderr=io.StringIO())
        except ValueError as exc:
            outcome["pyst2"] = exc
        channel = open_channel(asterisk, b"200 result=1 (yes)\n")
        outcome["installed"] = channel.sighup_installed
        outcome["value"] = run(channel.get_variable("X"))
        channel.close()

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join(timeout=10)
    assert "main thread" in str(outcome["pyst2"])
    assert outcome["installed"] is False and outcome["value"] == "yes"
    assert signal.getsignal(signal.SIGHUP) is before


def test_quotes_are_escaped(asterisk: Asterisk, sighup_restored: None) -> None:
    """pyst2's _quote lets a `"` end the argument early; the adapter's line reads back exactly."""
    value = 'say "hi" \\ bye'
    agi, out, _err = pyst2(HEADER.decode() + "200 result=1\n")
    agi.set_variable("X", value)
    assert parse_args(out.getvalue().rstrip("\n"))[3] != value
    channel = open_channel(asterisk, b"200 result=1\n")
    run(channel.set_variable("X", value))
    assert asterisk.commands() == b'SET VARIABLE X "say \\"hi\\" \\\\ bye"\n'
    assert parse_args(asterisk.commands().decode().rstrip("\n")) == ["SET", "VARIABLE", "X", value]
    channel.close()


def test_no_debug_lines_on_stderr(asterisk: Asterisk, sighup_restored: None, capfd: pytest.CaptureFixture[str]) -> None:
    """pyst2 writes ARGS/ENV LINE/COMMAND/RESULT lines to stderr; the adapter writes nothing."""
    agi, _out, err = pyst2(HEADER.decode() + "200 result=0\n")
    agi.answer()
    assert "ENV LINE" in err.getvalue() and "COMMAND: ANSWER" in err.getvalue()
    capfd.readouterr()
    channel = open_channel(asterisk, b"200 result=0\n", b"200 result=1 (x)\n")
    run(channel.answer())
    run(channel.get_variable("X"))
    channel.close()
    assert capfd.readouterr().err == ""


def test_get_data_keeps_the_timeout_flag(asterisk: Asterisk, sighup_restored: None) -> None:
    """pyst2's get_data returns '9' for `9 (timeout)`; the adapter returns ('9', True)."""
    agi, _out, _err = pyst2(HEADER.decode() + "200 result=9 (timeout)\n")
    assert agi.get_data("beep", 2500, 4) == "9"
    channel = open_channel(asterisk, b"200 result=9 (timeout)\n", b"200 result=42\n", b"200 result= (timeout)\n")
    assert run(channel.get_data("beep", 2500, 4)) == ("9", True)
    assert run(channel.get_data("beep", 6000, 4)) == ("42", False)
    assert run(channel.get_data("beep", 6000, 4)) == ("", True)
    channel.close()


def test_record_file_returns_a_record_result(asterisk: Asterisk, sighup_restored: None) -> None:
    """pyst2's record_file returns chr(35); the adapter returns RecordResult with the endpos."""
    agi, _out, _err = pyst2(HEADER.decode() + "200 result=35 (dtmf) endpos=22480\n")
    assert agi.record_file("probe-ivr", "wav") == "#"
    channel = open_channel(asterisk, b"200 result=35 (dtmf) endpos=22480\n", b"200 result=0 (timeout) endpos=40000\n")
    assert run(channel.record_file("/var/spool/asterisk/recording/probe-ivr", "wav", "#", 15000, True, 5)) == RecordResult("#", False, 22480)
    assert run(channel.record_file("vm/1")) == RecordResult(None, True, 40000)
    assert asterisk.commands().startswith(b'RECORD FILE /var/spool/asterisk/recording/probe-ivr wav "#" 15000 0 BEEP s=5\n')
    channel.close()


def test_minus_one_is_a_hangup_but_exec_keeps_it(asterisk: Asterisk, sighup_restored: None) -> None:
    """pyst2 raises the generic AGIAppError for -1; the adapter raises Hangup, except for EXEC
    (Queue after the agent hung up), which returns -1."""
    agi, _out, _err = pyst2(HEADER.decode() + "200 result=-1\n")
    with pytest.raises(AGIAppError) as pyst2_error:
        agi.appexec("Queue", "general")
    assert type(pyst2_error.value) is AGIAppError
    channel = open_channel(asterisk, b"200 result=-1\n", b"200 result=-1 endpos=20000\n")
    assert run(channel.exec("Queue", "general")) == -1
    with pytest.raises(Hangup):
        run(channel.stream_file("demo-congrats"))
    channel.close()


# -- the rest of the adapter


def test_header_becomes_call_info(asterisk: Asterisk, sighup_restored: None) -> None:
    """The flow comes from the command line; uniqueid, channel and args from the header."""
    channel = open_channel(asterisk, flow="survey?lang=en")
    assert channel.info.flow == "survey" and channel.info.params == {"lang": "en"}
    assert channel.info.uniqueid == "asterisk-lab-1795234925.9" and channel.info.args == ("ivr",)
    assert channel._agi.env["agi_channel"] == "Local/12329@hotline-00000004;2"
    channel.close()


def test_bad_headers(asterisk: Asterisk, sighup_restored: None) -> None:
    """EOF before the header ends is a Hangup; garbage is a ProtocolError; SIGHUP is restored."""
    before = signal.getsignal(signal.SIGHUP)
    asterisk.send(b"agi_request: x\n")
    asterisk.hang_up_the_pipe()
    with pytest.raises(Hangup):
        ClassicAgiChannel.open(asterisk.stdin, asterisk.stdout)
    with pytest.raises(ProtocolError):
        ClassicAgiChannel.open(io.BytesIO(b"hello\n\n"), io.BytesIO())
    with pytest.raises(ProtocolError):
        ClassicAgiChannel.open(io.BytesIO(b"agi_x: " + b"y" * 9000 + b"\n\n"), io.BytesIO())
    assert signal.getsignal(signal.SIGHUP) is before


def test_every_operation_writes_the_codec_line(asterisk: Asterisk, sighup_restored: None) -> None:
    """Each Channel operation of the adapter writes the codec's line and reads its result."""
    channel = open_channel(
        asterisk,
        b"200 result=0\n",
        b"200 result=49 endpos=13280\n",
        b"200 result=55\n",
        b"200 result=35\n",
        b"200 result=0\n",
        b"200 result=1\n",
        b"200 result=0\n",
        b"200 result=1\n",
        b"200 result=1\n",
    )
    assert run(channel.answer()) is None
    assert run(channel.stream_file("demo-congrats", "12#")) == "1"
    assert run(channel.wait_for_digit(5000)) == "7"
    assert run(channel.say_digits("4567", "#")) == "#"
    assert run(channel.say_number(42)) is None
    assert run(channel.set_variable("LABVAR", "hello world")) is None
    assert run(channel.get_variable("NOSUCHVAR")) is None
    assert run(channel.verbose("probe ivr done")) is None
    run(channel.hangup())
    with pytest.raises(Hangup):
        run(channel.answer())
    assert asterisk.commands() == (
        b'ANSWER\nSTREAM FILE demo-congrats "12#"\nWAIT FOR DIGIT 5000\nSAY DIGITS 4567 "#"\nSAY NUMBER 42 ""\n'
        b'SET VARIABLE LABVAR "hello world"\nGET VARIABLE NOSUCHVAR\nVERBOSE "probe ivr done" 1\nHANGUP\n'
    )
    channel.close()


def test_garbage_reply_is_a_protocol_error(asterisk: Asterisk, sighup_restored: None) -> None:
    """A reply that is not AGI raises ProtocolError, and the channel stays unusable."""
    channel = open_channel(asterisk, b"I am not Asterisk\n")
    with pytest.raises(ProtocolError):
        run(channel.answer())
    with pytest.raises(ProtocolError):
        run(channel.answer())
    channel.close()


def test_reply_while_idle_is_a_protocol_error(asterisk: Asterisk) -> None:
    """A reply nobody asked for means the stream is out of step: the next command refuses."""
    channel = open_channel(asterisk, before=b"200 result=0\n")
    with pytest.raises(ProtocolError, match="no command outstanding"):
        run(channel.answer())
    assert asterisk.commands() == b""
    channel.close()


# -- main()


def _header_without_flow() -> bytes:
    return b"agi_network: yes\nagi_network_script: survey?lang=en\nagi_uniqueid: u.7\n\n"


def test_main_runs_the_injected_handler(asterisk: Asterisk, sighup_restored: None) -> None:
    """main() reads the header, names the flow from argv[1], runs the handler, exits 0 and
    gives SIGHUP back."""
    seen: list[Channel] = []
    before = signal.getsignal(signal.SIGHUP)

    async def handler(channel: Channel) -> None:
        seen.append(channel)
        await channel.answer()

    asterisk.send(HEADER)
    asterisk.script(b"200 result=0\n")
    assert main(["hotline-agi", "ivr"], handler=handler, stdin=asterisk.stdin, stdout=asterisk.stdout) == 0  # type: ignore[arg-type]
    assert seen[0].info.flow == "ivr" and asterisk.commands() == b"ANSWER\n"
    assert signal.getsignal(signal.SIGHUP) is before


def test_main_takes_the_flow_from_the_header_without_argv(asterisk: Asterisk, sighup_restored: None) -> None:
    """Without argv[1] the flow is agi_network_script's."""
    flows: list[str] = []

    async def handler(channel: Channel) -> None:
        flows.append(channel.info.flow)

    asterisk.send(_header_without_flow())
    asterisk.script(b"200 result=0\n")
    assert main(["hotline-agi"], handler=handler, stdin=asterisk.stdin, stdout=asterisk.stdout) == 0
    assert flows == ["survey"]


def test_main_exit_status(asterisk: Asterisk, sighup_restored: None, caplog: pytest.LogCaptureFixture) -> None:
    """A hangup exits 0; a failing flow exits 1 (AGISTATUS=FAILURE) and is logged with the
    uniqueid; no header exits 0; a garbage header exits 1."""

    async def hung_up(channel: Channel) -> None:
        raise Hangup("caller gone")

    async def broken(channel: Channel) -> None:
        raise RuntimeError("menu broken")

    asterisk.send(HEADER)
    asterisk.script(b"200 result=0\n", b"200 result=0\n")
    assert main(["x", "ivr"], handler=hung_up, stdin=asterisk.stdin, stdout=asterisk.stdout) == 0
    asterisk.send(HEADER)
    with caplog.at_level(logging.ERROR, logger="hotline.agi.classic"):
        assert main(["x", "ivr"], handler=broken, stdin=asterisk.stdin, stdout=asterisk.stdout) == 1
    assert "asterisk-lab-1795234925.9" in caplog.text and "menu broken" in caplog.text
    assert main(["x"], handler=hung_up, stdin=io.BytesIO(b""), stdout=io.BytesIO()) == 0
    assert main(["x"], handler=hung_up, stdin=io.BytesIO(b"GET / HTTP/1.0\r\n\r\n"), stdout=io.BytesIO()) == 1


def test_main_loads_the_test_handler_from_the_environment(asterisk: Asterisk, sighup_restored: None) -> None:
    """HOTLINE_AGI_TEST_HANDLER=module:attribute replaces the IVR runner (tests only)."""
    asterisk.send(HEADER)
    asterisk.script(b"200 result=0\n", b"200 result=1\n")
    environ = {classic.TEST_HANDLER_ENV: "tests.test_classic_agi:flow_flow_name"}
    assert main(["x", "ivr"], stdin=asterisk.stdin, stdout=asterisk.stdout, environ=environ) == 0  # type: ignore[arg-type]
    assert asterisk.commands() == b'ANSWER\nSET VARIABLE FLOW "ivr"\n'


def test_main_builds_the_call_runner_from_the_config(asterisk: Asterisk, sighup_restored: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a test handler, main() builds the installed call handler (entry point
    hotline.call_handlers, the one the ivr role runs) without a reactor, with the config named
    by $HOTLINE_CONFIG and the installed flows."""
    from hotline import plugins

    configured: list[tuple[Any, str, Any, Any, list[str]]] = []

    class CallRunner:
        def __init__(self, name: str) -> None:
            self.name = name

        async def __call__(self, channel: Channel) -> None:
            await channel.set_variable("RUNNER", self.name)

    def factory(reactor: Any, config: Any, pool: Any, registry: Any, flows: Any) -> CallRunner:
        configured.append((reactor, config.service.name, pool, registry, sorted(flows)))
        return CallRunner(config.service.name)

    monkeypatch.setattr(plugins, "call_handler_factory", lambda: factory)
    config = tmp_path / "hotline.toml"
    config.write_text('[service]\nname = "12319-test"\n', encoding="utf-8")
    asterisk.send(HEADER)
    asterisk.script(b"200 result=0\n", b"200 result=1\n")
    assert main(["x", "ivr"], stdin=asterisk.stdin, stdout=asterisk.stdout, environ={"HOTLINE_CONFIG": str(config)}) == 0  # type: ignore[arg-type]
    assert configured == [(None, "12319-test", None, None, ["ivr", "queue_callback"])]
    assert asterisk.commands() == b'ANSWER\nSET VARIABLE RUNNER "12319-test"\n'


def test_main_fails_the_agi_when_the_config_is_broken(asterisk: Asterisk, sighup_restored: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A config that does not load exits 1 after the call was answered (nothing else is sent):
    the dialplan routes on FAILURE."""
    built: list[Any] = []
    fake = types.ModuleType("ivr.runner")
    fake.CallRunner = types.SimpleNamespace(from_config=built.append)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "ivr.runner", fake)
    config = tmp_path / "hotline.toml"
    config.write_text("[service\n", encoding="utf-8")
    asterisk.send(HEADER)
    asterisk.script(b"200 result=0\n")
    assert main(["x", "ivr"], stdin=asterisk.stdin, stdout=asterisk.stdout, environ={"HOTLINE_CONFIG": str(config)}) == 1
    assert asterisk.commands() == b"ANSWER\n" and built == []


# -- the executable under our Asterisk peer


def _run_script(peer: AsteriskPeer, flow: str, tmp_path: Path, handler: str = "flow_basic", **env: str) -> Any:
    marker = tmp_path / "marker"
    environment = {classic.TEST_HANDLER_ENV: f"tests.test_classic_agi:{handler}", "HOTLINE_TEST_MARKER": str(marker), "PATH": "/usr/bin:/bin", **env}
    call = peer.run_classic([str(SCRIPT), flow], env=environment, cwd="/")
    return call, (marker.read_text() if marker.exists() else "")


def test_script_is_executable() -> None:
    """Asterisk executes the file itself: it must carry the x bit and a shebang."""
    assert os.access(SCRIPT, os.X_OK) and SCRIPT.read_bytes().startswith(b"#!/usr/bin/env python3\n")


def test_script_serves_a_call(tmp_path: Path) -> None:
    """Run as Asterisk runs it (system python3 first on PATH, cwd /): the script re-execs under
    the project's .venv, serves the flow, writes nothing to stderr and exits 0."""
    call, _marker = _run_script(AsteriskPeer([Press("1"), Press("42#")], callerid="13800138000"), "ivr", tmp_path)
    assert call.verbs == ["ANSWER", "SET VARIABLE", "STREAM FILE", "GET DATA", "SET VARIABLE"]
    assert call.variables["FLOW"] == "ivr|ivr|13800138000"
    assert call.variables["RESULT"] == "1|42|False|" + str((ROOT / ".venv").resolve())
    assert call.exit_status == 0 and call.stderr == b"" and call.agistatus == "SUCCESS" and call.problems == []


def test_sighup_mid_command(tmp_path: Path) -> None:
    """The caller hangs up during WAIT FOR DIGIT: SIGHUP, then -1. The flow sees Hangup, its
    next command is never written, and the script exits 0 instead of dying of SIGHUP."""
    call, marker = _run_script(AsteriskPeer([Press("1"), Press("42#"), HangUp()]), "ivr", tmp_path, handler="flow_until_hangup")
    assert call.signals == [signal.SIGHUP]
    assert call.verbs[-1] == "WAIT FOR DIGIT" and call.commands[-1].reply == b"200 result=-1\n"
    assert marker == "hangup,hangup"
    assert call.exit_status == 0 and call.agistatus == "HANGUP" and call.closed_after_hangup and call.stderr == b""


def test_sighup_between_commands(tmp_path: Path) -> None:
    """SIGHUP arriving while the script is between commands: the next command raises Hangup
    before anything is written."""
    call, marker = _run_script(AsteriskPeer([HangupAtCommand(2)]), "ivr", tmp_path, handler="flow_until_hangup")
    assert call.signals == [signal.SIGHUP]
    assert call.verbs == ["ANSWER", "SET VARIABLE"] and call.commands[1].dead
    assert marker == "hangup,hangup" and call.exit_status == 0


def test_agisighup_no(tmp_path: Path) -> None:
    """With AGISIGHUP=no there is no signal: the -1 reply alone ends the call as Hangup."""
    peer = AsteriskPeer([Press("1"), Press("42#"), HangUp()], variables={"AGISIGHUP": "no"})
    call, marker = _run_script(peer, "ivr", tmp_path, handler="flow_until_hangup")
    assert call.signals == [] and marker == "hangup,hangup"
    assert call.verbs[-1] == "WAIT FOR DIGIT" and call.exit_status == 0 and call.agistatus == "HANGUP"


def test_agisighup_no_with_a_hangup_line(tmp_path: Path) -> None:
    """AGISIGHUP=no and an unsolicited HANGUP line where a reply should be: Hangup, exit 0
    (pyst2 would die of ValueError here)."""
    peer = AsteriskPeer([RawReply(b"200 result=0\n"), RawReply(b"HANGUP\n")], variables={"AGISIGHUP": "no"})
    call, marker = _run_script(peer, "ivr", tmp_path, handler="flow_until_hangup")
    assert call.signals == [] and call.verbs == ["ANSWER", "SET VARIABLE"]
    assert marker == "hangup,hangup" and call.exit_status == 0 and call.stderr == b""


def test_failing_flow_exits_non_zero(tmp_path: Path) -> None:
    """A flow that raises makes the script exit 1, so Asterisk sets AGISTATUS=FAILURE; the
    error (with the uniqueid) goes to stderr, which Asterisk logs."""
    peer = AsteriskPeer(uniqueid="asterisk-lab-1795234925.9")
    call, _marker = _run_script(peer, "ivr", tmp_path, handler="flow_broken")
    assert call.exit_status == 1 and call.agistatus == "FAILURE"
    assert b"asterisk-lab-1795234925.9" in call.stderr and b"menu broken" in call.stderr


#: Modules that take the script's time at start (tenths of a second between them): none may
#: be loaded when the first command goes out.
HEAVY_MODULES = ("sqlalchemy", "twisted", "prometheus_client", "asyncio", "ivr", "ivr.runner", "hotline.storage.db", "hotline.config")


def test_first_command_goes_out_before_the_heavy_imports(database_url: str, tmp_path: Path) -> None:
    """Asterisk runs the script with the real IVR (no test handler): the first line on its
    stdout is ANSWER, written while none of the slow modules is loaded; the IVR is built
    meanwhile and serves the menu (a key, a ticket number asked for), the call's record is
    written, and ANSWER is on the wire once."""
    from hotline.storage.db import Database
    from tests.test_ivr_e2e import CALLER, the_call, write_config

    config = write_config(tmp_path, database_url)
    probe = tmp_path / "modules.txt"
    peer = AsteriskPeer([Press("1"), Press("4242#")], callerid=CALLER, dnid="12319")
    call = peer.run_classic([str(SCRIPT), "ivr"], env={"HOTLINE_CONFIG": str(config), classic.TEST_MODULES_ENV: str(probe), "PATH": "/usr/bin:/bin"}, cwd="/")
    loaded = set(probe.read_text().split())
    assert "hotline.agi.classic" in loaded and "asterisk.agi" in loaded
    assert [name for name in HEAVY_MODULES if name in loaded] == []
    assert call.verbs[0] == "ANSWER" and call.verbs.count("ANSWER") == 1
    assert "GET DATA" in call.verbs and call.exit_status == 0 and call.stderr == b"" and call.problems == [], call.stderr
    database = Database.from_url(database_url)
    try:
        record = the_call(database, peer.uniqueid)
        assert record.disposition is not None and record.ended_at is not None
    finally:
        database.dispose()


def test_the_flow_runs_under_the_fastagi_driver(asterisk: Asterisk, sighup_restored: None) -> None:
    """One driver on both transports: a classic flow may await a read that already has its
    result (the inline database), and one that has none fails the AGI with a clear log line
    instead of hanging a process nothing will wake."""
    from twisted.internet.defer import Deferred, succeed

    async def reads(channel: Channel) -> None:
        value = await succeed("ready")
        await channel.set_variable("READ", value)

    asterisk.send(HEADER)
    asterisk.script(b"200 result=0\n", b"200 result=1\n")
    assert main(["x", "ivr"], handler=reads, stdin=asterisk.stdin, stdout=asterisk.stdout) == 0  # type: ignore[arg-type]
    assert asterisk.commands() == b'ANSWER\nSET VARIABLE READ "ready"\n'

    async def waits(channel: Channel) -> None:
        await Deferred()

    asterisk.send(HEADER)
    asterisk.script(b"200 result=0\n")
    assert main(["x", "ivr"], handler=waits, stdin=asterisk.stdin, stdout=asterisk.stdout) == 1  # type: ignore[arg-type]


def test_answer_after_answer_first_writes_nothing_but_sees_a_hangup(asterisk: Asterisk, sighup_restored: None) -> None:
    """The flow's answer() after the script's own ANSWER sends nothing; if the caller hung
    up meanwhile it raises Hangup as the command would have."""
    channel = open_channel(asterisk, b"200 result=0\n")
    started: list[bool] = []
    channel.answer_first(meanwhile=lambda: started.append(True))
    run(channel.answer())
    assert started == [True] and asterisk.commands() == b"ANSWER\n"
    os.kill(os.getpid(), signal.SIGHUP)
    with pytest.raises(Hangup, match="SIGHUP"):
        run(channel.answer())
    assert asterisk.commands() == b"ANSWER\n"
    channel.close()


# -- the flows the child process runs (loaded through HOTLINE_AGI_TEST_HANDLER)


async def flow_flow_name(channel: Channel) -> None:
    """Tells the caller which flow it was started for."""
    await channel.set_variable("FLOW", channel.info.flow)


async def flow_basic(channel: Channel) -> None:
    """Answer, read a key and some digits, report them with the interpreter's prefix."""
    await channel.answer()
    await channel.set_variable("FLOW", f"{channel.info.flow}|{','.join(channel.info.args)}|{channel.info.callerid}")
    key = await channel.stream_file("demo-congrats", "12#")
    digits, timed_out = await channel.get_data("beep", 6000, 4)
    await channel.set_variable("RESULT", f"{key}|{digits}|{timed_out}|{Path(sys.prefix).resolve()}")


async def flow_until_hangup(channel: Channel) -> None:
    """Runs until the caller hangs up; records each Hangup it sees in the marker file."""
    seen: list[str] = []

    def mark() -> None:
        seen.append("hangup")
        Path(os.environ["HOTLINE_TEST_MARKER"]).write_text(",".join(seen))

    try:
        await channel.answer()
        await channel.set_variable("STAGE", "menu")
        await channel.stream_file("demo-congrats", "12#")
        await channel.get_data("beep", 6000, 4)
        await channel.wait_for_digit(10000)
        await channel.set_variable("STAGE", "never")
    except Hangup:
        mark()
    try:
        await channel.verbose("after hangup")
    except Hangup:
        mark()
        raise


async def flow_broken(channel: Channel) -> None:
    """Fails the way a bug would."""
    raise RuntimeError("menu broken")
