"""`hotline queue …` against our AMI peer over real TCP (the bytes of a real Asterisk 22), and
`hotline ticket …` against a real database on both backends: what goes on the wire, what the
administrator reads, and one clear line for each way it can fail."""

from __future__ import annotations

import socket
import threading
from pathlib import Path
from typing import Any

import pytest
from twisted.internet.protocol import Factory

from hotline import cli
from hotline.simulator import ami as peer
from hotline.simulator.ami import AmiPeer, iterate_until

PASSWORD = "labsecret"
SEAT = "8001"


def queue_config(tmp_path: Path, port: int, *, enabled: bool = True) -> Path:
    path = tmp_path / "hotline.toml"
    path.write_text(
        f'[ami]\nenabled = {"true" if enabled else "false"}\nhost = "127.0.0.1"\nport = {port}\nusername = "labuser"\n[[seats]]\nextension = "{SEAT}"\nname = "一号席位"\nqueues = ["general"]\n',
        encoding="utf-8",
    )
    return path


def run_cli(argv: list[str], reactor: Any = None) -> int:
    """cli.main in a thread (the command blocks on its socket) while the test's reactor serves
    the peer."""
    outcome: list[int] = []
    thread = threading.Thread(target=lambda: outcome.append(cli.main(argv)))
    thread.start()
    if reactor is not None:
        iterate_until(reactor, lambda: not thread.is_alive(), timeout=15)
    thread.join(timeout=15)
    assert outcome, "the command did not finish"
    return outcome[0]


def with_peer(tmp_path: Path, argv: list[str], **options: Any) -> tuple[int, list[AmiPeer]]:
    peers: list[AmiPeer] = []

    def build() -> AmiPeer:
        peers.append(AmiPeer(**options))
        return peers[-1]

    with peer.private_reactor() as reactor:
        listening = reactor.listenTCP(0, Factory.forProtocol(build), interface="127.0.0.1")
        try:
            config = queue_config(tmp_path, listening.getHost().port)
            status = run_cli(["-c", str(config), *argv], reactor)
        finally:
            listening.stopListening()
    return status, peers


@pytest.fixture(autouse=True)
def ami_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOTLINE_AMI_PASSWORD", PASSWORD)


def sent(ami: AmiPeer) -> list[dict[str, str]]:
    return [{k: v for k, v in action if k != "ActionID"} for action in ami.actions]


def test_queue_commands_send_the_desks_actions(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """add, pause with a reason, unpause, remove: each logs in, sends the action for the
    seat's PJSIP interface in its Asterisk queue, logs off, and says what it did."""
    status, [ami] = with_peer(tmp_path, ["queue", "add", SEAT])
    assert status == 0 and "seat 8001 added to hotline-general" in capsys.readouterr().out
    assert sent(ami) == [
        {"Action": "Login", "Username": "labuser", "Secret": PASSWORD},
        {"Action": "QueueAdd", "Queue": "hotline-general", "Interface": "PJSIP/8001", "MemberName": "8001", "StateInterface": "PJSIP/8001"},
        {"Action": "Logoff"},
    ]
    status, [ami] = with_peer(tmp_path, ["queue", "pause", SEAT, "--reason", "培训 training"])
    assert status == 0 and "seat 8001 paused in hotline-general (培训 training)" in capsys.readouterr().out
    assert sent(ami)[1] == {"Action": "QueuePause", "Queue": "hotline-general", "Interface": "PJSIP/8001", "Paused": "true", "Reason": "培训 training"}
    status, [ami] = with_peer(tmp_path, ["queue", "unpause", SEAT, "--queue", "general"])
    assert status == 0 and "unpaused" in capsys.readouterr().out
    assert sent(ami)[1] == {"Action": "QueuePause", "Queue": "hotline-general", "Interface": "PJSIP/8001", "Paused": "false"}
    status, [ami] = with_peer(tmp_path, ["queue", "remove", SEAT])
    assert status == 0 and sent(ami)[1] == {"Action": "QueueRemove", "Queue": "hotline-general", "Interface": "PJSIP/8001"}


def test_queue_command_when_asterisk_refuses(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Asterisk's own reason, in one line; a refusal for lack of a class points at
    check-manager; a refused login names the user, never the secret."""
    status, _ = with_peer(tmp_path, ["queue", "add", SEAT], refuse={"QueueAdd": "Unable to add interface: Already there"})
    assert status == 1
    assert capsys.readouterr().err == "hotline: Asterisk refused to add PJSIP/8001 to hotline-general: Unable to add interface: Already there\n"
    status, _ = with_peer(tmp_path, ["queue", "pause", SEAT, "--reason", "lunch"], write=["call", "originate"])
    assert status == 1 and "Permission denied (the AMI user lacks a class: hotline asterisk-config check-manager)" in capsys.readouterr().err
    status, _ = with_peer(tmp_path, ["queue", "add", SEAT], secret="another-secret")
    err = capsys.readouterr().err
    assert status == 1 and "refused the AMI login of 'labuser'" in err and PASSWORD not in err


def test_queue_command_when_asterisk_is_away(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Nothing listening: one line naming the address; bad arguments never connect."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    config = str(queue_config(tmp_path, port))
    assert run_cli(["-c", config, "queue", "add", SEAT]) == 1
    assert f"cannot reach Asterisk's AMI at 127.0.0.1:{port}" in capsys.readouterr().err
    assert run_cli(["-c", config, "queue", "add", "8999"]) == 1
    assert "no seat '8999' in [[seats]] (declared: 8001)" in capsys.readouterr().err
    assert run_cli(["-c", config, "queue", "add", SEAT, "--queue", "nosuch"]) == 1
    assert "no queue 'nosuch' in the config" in capsys.readouterr().err
    assert run_cli(["-c", config, "queue", "pause", SEAT, "--reason", "two\nlines"]) == 1
    assert "--reason" in capsys.readouterr().err
    assert run_cli(["-c", str(queue_config(tmp_path, port, enabled=False)), "queue", "add", SEAT]) == 1
    assert "the AMI is not enabled" in capsys.readouterr().err


# -- tickets


def ticket_config(tmp_path: Path, database_url: str) -> str:
    path = tmp_path / "hotline.toml"
    path.write_text(f'[database]\nurl = "{database_url}"\n', encoding="utf-8")
    return str(path)


def test_ticket_create_show_list(database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """create files a ticket through hotline.tickets.services (received, by cli:<user>); show
    prints it with its history; list masks phone numbers and filters by status."""
    config = ticket_config(tmp_path, database_url)
    assert cli.main(["-c", config, "ticket", "create", "--caller", "13812345678", "--name", "王先生", "--description", "路灯不亮 street light out", "--location", "人民路12号"]) == 0
    number = capsys.readouterr().out.split()[1]
    assert cli.main(["-c", config, "ticket", "create", "--description", "噪音 noise at night", "--urgent"]) == 0
    capsys.readouterr()
    assert cli.main(["-c", config, "ticket", "show", number]) == 0
    shown = capsys.readouterr().out
    assert f"number       {number}" in shown and "status       received" in shown and "13812345678 王先生" in shown
    assert "receive" in shown and "cli:" in shown
    assert cli.main(["-c", config, "ticket", "list"]) == 0
    listed = capsys.readouterr().out
    assert number in listed and "138****5678" in listed and "13812345678" not in listed and "噪音" in listed
    assert listed.index("噪音") < listed.index(number)  # newest first
    assert cli.main(["-c", config, "ticket", "list", "--status", "received", "--limit", "1"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 1
    assert cli.main(["-c", config, "ticket", "list", "--status", "closed"]) == 0
    assert capsys.readouterr().out == "no tickets in status closed\n"


def test_ticket_command_errors(database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An unknown ticket, a number that is not a phone number, an unknown status: one line, exit 1."""
    config = ticket_config(tmp_path, database_url)
    assert cli.main(["-c", config, "ticket", "show", "2099010199"]) == 1
    assert capsys.readouterr().err == "hotline: no ticket '2099010199'\n"
    assert cli.main(["-c", config, "ticket", "create", "--caller", "not-a-number", "--description", "x"]) == 1
    assert "--caller 'not-a-number' is not a phone number" in capsys.readouterr().err
    assert cli.main(["-c", config, "ticket", "list", "--status", "lost"]) == 1
    assert "--status must be one of received" in capsys.readouterr().err
    assert cli.main(["-c", config, "ticket", "list"]) == 0
    assert capsys.readouterr().out == "no tickets\n"
