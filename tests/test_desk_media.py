"""The ticket page's media over real HTTP on both backends: recordings with byte ranges and
their scope, traversal attempts, report photos good and bad, the request-size bound, workflow
refusals in both languages, and every filter of the ticket list."""

from __future__ import annotations

import http.client
import io
import os
import secrets
import socket
import struct
import wave
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import pytest
from sqlalchemy import select, text

from hotline.calllog import records
from hotline.config import AsteriskConfig, Config, ServiceConfig, TicketsConfig
from hotline.storage.db import Database
from hotline.storage.models import Attachment, AuditEntry, Category, CategoryKind, Recording, RecordingKind, Ticket, TicketEvent, TicketSource, Transcript, Urgency, utcnow
from hotline.tickets import voicemail
from hotline.tickets.services import SYSTEM, open_ticket
from hotline.web import files
from tests.desk_server import POLICY, Client, running_desk, seed
from tests.test_desk import act, new_ticket, signed_in

MAX_BYTES = 200_000
MAX_COUNT = 3


@dataclass
class Desk:
    port: int
    ids: dict[str, int]
    database: Database
    config: Config
    recordings: Path
    voicemail: Path
    attachments: Path


@pytest.fixture
def media_desk(database: Database, tmp_path: Path) -> Iterator[Desk]:
    ids = seed(database)
    config = Config(
        service=ServiceConfig(data_dir="data"),
        asterisk=AsteriskConfig(recordings_dir=str(tmp_path / "monitor"), voicemail_dir=str(tmp_path / "voicemail")),
        tickets=TicketsConfig(photo_max_count=MAX_COUNT, photo_max_bytes=MAX_BYTES),
        base_dir=tmp_path,
    )
    for d in ("monitor", "voicemail"):
        (tmp_path / d).mkdir()
    with running_desk(database, config=config) as port:
        yield Desk(port, ids, database, config, tmp_path / "monitor", tmp_path / "voicemail", tmp_path / "data" / "attachments")


# -- helpers


@dataclass
class Raw:
    status: int
    headers: dict[str, str]
    body: bytes


def raw(client: Client, path: str, headers: dict[str, str] | None = None, method: str = "GET", body: bytes | None = None) -> Raw:
    """A request whose answer is bytes (the shared client decodes text)."""
    conn = http.client.HTTPConnection("127.0.0.1", client.port, timeout=30)
    sent = {"cookie": "; ".join(f"{k}={v}" for k, v in client.jar.items())} | (headers or {})
    try:
        conn.request(method, path, body=body, headers=sent)
        answer = conn.getresponse()
        return Raw(answer.status, {k.lower(): v for k, v in answer.headers.items()}, answer.read())
    finally:
        conn.close()


def multipart(fields: dict[str, str], photos: list[tuple[str, str, bytes]]) -> tuple[bytes, str]:
    boundary = "----hotline" + secrets.token_hex(8)
    out = io.BytesIO()
    for name, value in fields.items():
        out.write(f'--{boundary}\r\ncontent-disposition: form-data; name="{name}"\r\n\r\n'.encode() + value.encode() + b"\r\n")
    for filename, declared, data in photos:
        out.write(f'--{boundary}\r\ncontent-disposition: form-data; name="photos"; filename="{filename}"\r\ncontent-type: {declared}\r\n\r\n'.encode() + data + b"\r\n")
    out.write(f"--{boundary}--\r\n".encode())
    return out.getvalue(), f"multipart/form-data; boundary={boundary}"


def report(client: Client, number: str, note: str, photos: list[tuple[str, str, bytes]]) -> Raw:
    body, ctype = multipart({"csrf": client.csrf(f"/desk/tickets/{number}"), "reason": note}, photos)
    return raw(client, f"/desk/tickets/{number}/handle/report", {"content-type": ctype}, "POST", body)


def wav_bytes(seconds: float = 1.0) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\x00\x10" * int(8000 * seconds))
    return out.getvalue()


def png_bytes() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)) + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00")) + chunk(b"IEND", b"")


JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + b"\x00" * 200 + b"\xff\xd9"
WEBP = b"RIFF\x24\x00\x00\x00WEBPVP8 " + b"\x00" * 24


def dispatched(operator: Client, desk: Desk, **fields: str) -> str:
    number = new_ticket(operator, **fields)
    assert act(operator, number, "register", category="1").status == 303
    assert act(operator, number, "dispatch", department=str(desk.ids["roads"])).status == 303
    return number


def error_of(client: Client, location: str) -> str:
    return unquote(location.split("error=", 1)[1].replace("+", " ")) if "error=" in location else ""


# -- recordings


def test_recordings_play_with_ranges_in_scope_and_nothing_else_is_served(media_desk: Desk) -> None:
    d = media_desk
    sound = wav_bytes()
    (d.voicemail / "1700000000.11.wav").write_bytes(sound)
    (d.recordings / "1700000000.22.wav").write_bytes(sound[:-1000])
    (d.recordings.parent / "secret.wav").write_bytes(b"RIFF secret")
    os.symlink(d.recordings.parent / "secret.wav", d.recordings / "link.wav")

    def setup(s: Any) -> dict[str, Any]:
        message = voicemail.leave_message(s, POLICY, uniqueid="1700000000.11", caller_number="13812345678", path=str(d.voicemail / "1700000000.11.wav"), duration_seconds=12.5, reason="closed")
        s.add(Transcript(recording_id=message.recording_id, status="done", text="你好，香港中路的路灯坏了"))
        records.start_call(s, uniqueid="1700000000.22", caller_number="13912345678")
        call = records.link_ticket(s, uniqueid="1700000000.22", ticket_id=message.ticket_id)
        call.recording_path = str(d.recordings / "1700000000.22.wav")
        other = open_ticket(s, POLICY, source=TicketSource.WEB, actor=SYSTEM, description="另一件")
        outside = Recording(kind=RecordingKind.CALL, ticket_id=message.ticket_id, path=str(d.recordings / ".." / "secret.wav"))
        linked = Recording(kind=RecordingKind.CALL, ticket_id=message.ticket_id, path=str(d.recordings / "link.wav"))
        foreign = Recording(kind=RecordingKind.CALL, ticket_id=other.id, path=str(d.recordings / "1700000000.22.wav") + ".x")
        gone = Recording(kind=RecordingKind.VOICEMAIL, ticket_id=message.ticket_id, path=str(d.voicemail / "gone.wav"))
        s.add_all([outside, linked, foreign, gone])
        s.flush()
        return {
            "number": message.ticket_number,
            "rec": message.recording_id,
            "call": call.id,
            "outside": outside.id,
            "linked": linked.id,
            "foreign": foreign.id,
            "other": other.number,
            "gone": gone.id,
        }

    made = d.database.run(setup)
    number = made["number"]
    supervisor = signed_in(d.port, "supervisor")
    page = supervisor.get(f"/desk/tickets/{number}").body
    url = f"/desk/tickets/{number}/recordings"
    assert f'<audio controls preload="metadata" src="{url}/r{made["rec"]}"' in page and f'src="{url}/c{made["call"]}"' in page
    assert "你好，香港中路的路灯坏了" in page and "语音留言" in page and "通话录音" in page
    # The rows that name files outside the directories, through a link or not at all: the page says so.
    assert page.count("服务器上找不到该录音文件") == 3

    whole = raw(supervisor, f"{url}/r{made['rec']}")
    assert whole.status == 200 and whole.body == sound
    assert whole.headers["content-type"] == "audio/wav" and whole.headers["accept-ranges"] == "bytes"
    assert whole.headers["x-content-type-options"] == "nosniff" and whole.headers["content-disposition"].startswith("inline; filename=")
    size = len(sound)
    for header, start, end in (("bytes=0-99", 0, 99), ("bytes=100-", 100, size - 1), ("bytes=-50", size - 50, size - 1), (f"bytes=10-{size + 500}", 10, size - 1)):
        part = raw(supervisor, f"{url}/r{made['rec']}", {"range": header})
        assert part.status == 206, header
        assert part.headers["content-range"] == f"bytes {start}-{end}/{size}", header
        assert part.body == sound[start : end + 1], header
    for header in (f"bytes={size}-", f"bytes={size + 10}-{size + 20}", "bytes=9-3", "bytes=abc", "bytes=-0", "bytes=-"):
        refused = raw(supervisor, f"{url}/r{made['rec']}", {"range": header})
        assert refused.status == 416 and refused.headers["content-range"] == f"bytes */{size}", header
    for header in ("items=0-5", "bytes=0-1,5-6"):  # another unit is ignored; several ranges get the whole file
        assert raw(supervisor, f"{url}/r{made['rec']}", {"range": header}).body == sound, header
    queue_call = raw(supervisor, f"{url}/c{made['call']}", {"range": "bytes=0-3"})
    assert queue_call.status == 206 and queue_call.body == b"RIFF"

    # Only files the database names, inside the configured directories; and only this ticket's.
    for name in (f"r{made['outside']}", f"r{made['linked']}", f"r{made['foreign']}", "r999999", "x1", "r", "..%2F..%2Fsecret.wav", "..%2Fsecret.wav", "%2Fetc%2Fpasswd", quote("r1\x00")):
        refused = raw(supervisor, f"{url}/{name}")
        assert refused.status == 404 and b"secret" not in refused.body, name
    assert raw(supervisor, f"/desk/tickets/{made['other']}/recordings/r{made['rec']}").status == 404
    assert raw(supervisor, f"{url}/../../../secret.wav").status == 404
    missing = supervisor.get(f"{url}/r{made['gone']}")
    assert missing.status == 404 and "服务器上找不到该录音文件" in missing.body

    # Department staff: their department's tickets only, the same 404 as for no ticket at all.
    assert act(supervisor, number, "register", category="1").status == 303
    assert act(supervisor, number, "dispatch", department=str(d.ids["roads"])).status == 303
    assert raw(signed_in(d.port, "dept"), f"{url}/r{made['rec']}", {"range": "bytes=0-9"}).status == 206
    other_department = signed_in(d.port, "dept2")
    assert raw(other_department, f"{url}/r{made['rec']}").status == 404
    assert raw(other_department, f"{url}/c{made['call']}").status == 404
    # The file disappears after the page was built: a clear 404, the server keeps serving.
    (d.voicemail / "1700000000.11.wav").unlink()
    assert "服务器上找不到该录音文件" in supervisor.get(f"{url}/r{made['rec']}").body
    assert supervisor.get(f"/desk/tickets/{number}").status == 200


def test_a_long_recording_is_streamed_and_a_browser_leaving_midway_harms_nothing(media_desk: Desk) -> None:
    d = media_desk
    big = os.urandom(3 * files.MAX_SPAN + 12345)
    (d.recordings / "1700000000.33.wav").write_bytes(big)

    def setup(s: Any) -> tuple[str, int]:
        t = open_ticket(s, POLICY, source=TicketSource.HOTLINE, actor=SYSTEM, description="长时间通话")
        records.start_call(s, uniqueid="1700000000.33", caller_number="13812345678")
        call = records.link_ticket(s, uniqueid="1700000000.33", ticket_id=t.id)
        call.recording_path = str(d.recordings / "1700000000.33.wav")
        s.flush()
        return t.number, call.id

    number, call_id = d.database.run(setup)
    supervisor = signed_in(d.port, "supervisor")
    url = f"/desk/tickets/{number}/recordings/c{call_id}"
    whole = raw(supervisor, url)
    assert whole.status == 200 and whole.headers["content-length"] == str(len(big)) and whole.body == big
    first = raw(supervisor, url, {"range": "bytes=0-"})
    assert first.status == 206 and first.headers["content-range"] == f"bytes 0-{files.MAX_SPAN - 1}/{len(big)}" and first.body == big[: files.MAX_SPAN]
    middle = raw(supervisor, url, {"range": f"bytes=1000-{len(big) - 1000}"})
    assert middle.status == 206 and middle.body == big[1000 : len(big) - 999]
    cookie = "; ".join(f"{k}={v}" for k, v in supervisor.jar.items())
    for _ in range(3):
        with socket.create_connection(("127.0.0.1", d.port), timeout=30) as conn:
            conn.sendall(f"GET {url} HTTP/1.1\r\nhost: x\r\ncookie: {cookie}\r\n\r\n".encode())
            assert conn.recv(65536).startswith(b"HTTP/1.1 200 ")
    assert raw(supervisor, url, {"range": "bytes=-10"}).body == big[-10:]
    assert supervisor.get(f"/desk/tickets/{number}").status == 200


def test_range_parsing_edges() -> None:
    assert files.parse_range(None, 100) is None
    assert files.parse_range("bytes=0-", 10 * files.MAX_SPAN) == files.Span(0, files.MAX_SPAN - 1, 10 * files.MAX_SPAN)
    assert files.parse_range("bytes = 5 - 9", 100) == files.Span(5, 9, 100)
    assert files.parse_range("bytes=-500", 100) == files.Span(0, 99, 100)
    with pytest.raises(files.Unsatisfiable):
        files.parse_range("bytes=0-0", 0)


# -- photos


def test_department_reports_handled_with_photos_and_only_allowed_people_see_them(media_desk: Desk) -> None:
    d = media_desk
    operator, dept = signed_in(d.port, "operator"), signed_in(d.port, "dept")
    number = dispatched(operator, d)
    png = png_bytes()
    sent = report(dept, number, "已更换井盖，现场照片见附件", [("现场 1.jpg", "image/jpeg", JPEG), ("../../相册/after.png", "image/png", png), ("", "application/octet-stream", b"")])
    assert sent.status == 303 and "error" not in sent.headers["location"], sent.body
    page = operator.get(f"/desk/tickets/{number}").body
    assert "已处置" in page and "已更换井盖，现场照片见附件" in page
    rows = d.database.read(lambda s: [(a.id, a.original_name, a.content_type, a.size_bytes, a.event_id, a.stored_name) for a in s.scalars(select(Attachment).order_by(Attachment.id))])
    assert [(r[1], r[2], r[3]) for r in rows] == [("现场 1.jpg", "image/jpeg", len(JPEG)), ("after.png", "image/png", len(png))]
    event = d.database.read(lambda s: s.get(TicketEvent, rows[0][4]))
    assert event.action == "handle" and event.note == "已更换井盖，现场照片见附件"
    assert sorted(p.name for p in d.attachments.iterdir()) == sorted(r[5] for r in rows)
    assert all(len(r[5]) == 36 and "现场" not in r[5] for r in rows)  # random names, never the browser's
    for photo_id, _, ctype, _, _, _ in rows:
        assert f'<img class="thumb" src="/desk/tickets/{number}/photos/{photo_id}"' in page
        served = raw(operator, f"/desk/tickets/{number}/photos/{photo_id}")
        assert served.status == 200 and served.headers["content-type"] == ctype
        assert served.headers["x-content-type-options"] == "nosniff" and "sandbox" in served.headers["content-security-policy"]
        assert served.headers["content-disposition"] == f'inline; filename="{number}-photo-{photo_id}.{"jpg" if ctype == "image/jpeg" else "png"}"'
    assert raw(operator, f"/desk/tickets/{number}/photos/{rows[0][0]}").body == JPEG
    assert raw(dept, f"/desk/tickets/{number}/photos/{rows[1][0]}").body == png
    other = signed_in(d.port, "dept2")
    assert raw(other, f"/desk/tickets/{number}/photos/{rows[0][0]}").status == 404
    elsewhere = new_ticket(operator)
    for name in (f"{rows[0][0]}", "abc", "..%2F..%2Fhotline.db", "999999"):
        assert raw(operator, f"/desk/tickets/{elsewhere}/photos/{name}").status == 404, name
    audit = d.database.read(lambda s: [(e.action, e.detail.get("count")) for e in s.scalars(select(AuditEntry).where(AuditEntry.target == f"ticket:{number}").order_by(AuditEntry.id))])
    assert ("ticket_handle", None) in audit and ("ticket_photos_added", 2) in audit
    # A photo whose file was removed: the page says so, the photo route answers 404.
    (d.attachments / rows[0][5]).unlink()
    assert "服务器上找不到照片 现场 1.jpg" in operator.get(f"/desk/tickets/{number}").body
    assert raw(operator, f"/desk/tickets/{number}/photos/{rows[0][0]}").status == 404


def test_bad_photos_are_refused_one_by_one_and_nothing_is_saved(media_desk: Desk) -> None:
    d = media_desk
    operator, dept = signed_in(d.port, "operator"), signed_in(d.port, "dept")
    number = dispatched(operator, d)
    html = b"<html><script>alert(1)</script></html>"
    cases = [
        ([("invoice.jpg", "image/jpeg", html)], ["invoice.jpg：不是 JPEG、PNG 或 WebP 照片"]),
        ([("big.jpg", "image/jpeg", JPEG[:4] + b"\x00" * MAX_BYTES)], ["big.jpg：超过 0.2 MB"]),
        ([(f"p{i}.webp", "image/webp", WEBP) for i in range(MAX_COUNT + 1)], [f"每次反馈最多 {MAX_COUNT} 张照片"]),
        ([("ok.jpg", "image/jpeg", JPEG), ("empty.png", "image/png", b""), ("x.gif", "image/gif", b"GIF89a....")], ["empty.png：文件为空", "x.gif：不是 JPEG"]),
    ]
    for photos, messages in cases:
        answer = report(dept, number, "已处置", photos)
        assert answer.status == 303
        error = error_of(dept, answer.headers["location"])
        for message in messages:
            assert message in error, (message, error)
        assert message in dept.get(answer.headers["location"].replace(f"http://127.0.0.1:{d.port}", "")).body
    assert d.database.read(lambda s: (s.scalars(select(Ticket.status)).one(), s.scalar(select(text("count(*)")).select_from(Attachment)))) == ("dispatched", 0)
    assert not d.attachments.exists() or list(d.attachments.iterdir()) == []
    # In English for a user who chose English.
    dept.post("/desk/language", {"csrf": dept.csrf(), "language": "en"})
    answer = report(dept, number, "done", [("invoice.jpg", "image/jpeg", html)])
    assert error_of(dept, answer.headers["location"]) == "invoice.jpg: not a JPEG, PNG or WebP photo (checked by its content, not its name)."
    # A refused move stores nothing either: the ticket is handled already, the files are removed.
    assert report(dept, number, "已处置", [("ok.jpg", "image/jpeg", JPEG)]).status == 303
    again = report(dept, number, "again", [("ok2.jpg", "image/jpeg", JPEG)])
    assert "is handled now" in error_of(dept, again.headers["location"])
    assert len(list(d.attachments.iterdir())) == 1
    # Only department staff report handled.
    assert report(operator, number, "x", []).status == 403


def test_request_bodies_are_bounded_and_malformed_forms_refused(media_desk: Desk) -> None:
    d = media_desk
    dept = signed_in(d.port, "dept")
    number = dispatched(signed_in(d.port, "operator"), d)
    bound = MAX_COUNT * MAX_BYTES + 1_000_000
    with socket.create_connection(("127.0.0.1", d.port), timeout=30) as conn:
        # Refused on its length alone, before a byte of the body is read.
        conn.sendall(f"POST /desk/tickets/{number}/handle/report HTTP/1.1\r\nhost: x\r\ncontent-type: multipart/form-data; boundary=b\r\ncontent-length: {bound + 1}\r\n\r\n".encode())
        answer = conn.makefile("rb").read()
    assert answer.startswith(b"HTTP/1.1 413 ") and "请求内容过大".encode() in answer
    with socket.create_connection(("127.0.0.1", d.port), timeout=30) as conn:
        # Chunked: refused once it passes the bound.
        conn.sendall(f"POST /desk/tickets/{number}/handle/report HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n".encode())
        chunk = b"x" * 1_000_000
        answer, cut_off = b"", False
        try:
            for _ in range(bound // len(chunk) + 3):
                conn.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            conn.sendall(b"0\r\n\r\n")
            answer = conn.makefile("rb").read()
        except (BrokenPipeError, ConnectionResetError):
            cut_off = True  # the server closed the connection while the body was still coming
        assert answer.startswith(b"HTTP/1.1 413 ") or cut_off
    body, ctype = multipart({"csrf": dept.csrf(), "reason": "x"}, [("a.jpg", "image/jpeg", JPEG)])
    for broken in (body[: len(body) // 2], body.replace(b"--\r\n", b"")):
        answer = raw(dept, f"/desk/tickets/{number}/handle/report", {"content-type": ctype}, "POST", broken)
        assert answer.status == 400 and "表单内容无法解析".encode() in answer.body
    assert raw(dept, f"/desk/tickets/{number}/handle/report", {"content-type": "multipart/form-data"}, "POST", b"x").status == 400
    # The server kept serving, and nothing changed.
    assert "已派遣" in dept.get(f"/desk/tickets/{number}").body


def test_a_multipart_body_is_parsed_as_it_arrives_and_kept_whole_for_a_proxy() -> None:
    """What the supervisor's aggregate port relies on: the raw body stays in request.content."""
    import json
    import threading

    from twisted.internet.pollreactor import PollReactor
    from twisted.web import resource

    from hotline.web.site import make_site

    class Echo(resource.Resource):
        isLeaf = True

        def render_POST(self, request: Any) -> bytes:
            request.content.seek(0)
            fields = {k.decode(): [v.decode() for v in vs] for k, vs in request.args.items()}
            uploads = {n: [(u.filename, u.content_type, u.data.hex()) for u in us] for n, us in request.files.items()}
            return json.dumps({"raw": request.content.read().hex(), "fields": fields, "files": uploads}).encode()

    reactor = PollReactor()
    port = reactor.listenTCP(0, make_site(Echo(), max_body_bytes=1_000_000), interface="127.0.0.1")
    thread = threading.Thread(target=reactor.run, kwargs={"installSignalHandlers": False}, daemon=True)
    thread.start()
    try:
        body, ctype = multipart({"csrf": "令牌", "reason": "已处置"}, [("a.jpg", "image/jpeg", JPEG), ("b.png", "image/png", png_bytes())])
        answer = raw(Client(port.getHost().port), "/?q=1", {"content-type": ctype}, "POST", body)
        seen = json.loads(answer.body)
        assert bytes.fromhex(seen["raw"]) == body
        assert seen["fields"] == {"q": ["1"], "csrf": ["令牌"], "reason": ["已处置"]}
        assert seen["files"] == {"photos": [["a.jpg", "image/jpeg", JPEG.hex()], ["b.png", "image/png", png_bytes().hex()]]}
    finally:
        reactor.callFromThread(reactor.stop)
        thread.join(30)
        reactor.waker.connectionLost(None)


# -- workflow refusals in the user's language


def test_workflow_refusals_are_said_in_the_users_language(media_desk: Desk) -> None:
    d = media_desk
    supervisor = signed_in(d.port, "supervisor")
    number = new_ticket(supervisor)
    said = {
        "close": "当前为“受理”，不能“结案”；工单为“已核查”时才可以。",
        "dispatch": "当前为“受理”，不能“派遣”；工单为“立案”时才可以。",
        "reject": "“不予立案”需要填写说明或原因。",
    }
    for action, message in said.items():
        answer = act(supervisor, number, action)
        assert message in error_of(supervisor, answer.headers["location"]), action
        assert message in supervisor.get(f"/desk/tickets/{number}?error=" + quote(error_of(supervisor, answer.headers["location"]))).body
    stale = supervisor.post(f"/desk/tickets/{number}/register", {"csrf": supervisor.csrf(), "version": "99", "category": "1"})
    assert f"工单 {number} 刚被他人修改，本次操作未保存" in error_of(supervisor, stale.headers["location"])
    refused = act(signed_in(d.port, "callback"), number, "verify")
    assert refused.status == 403 and "您的角色不能对工单执行“核查通过”" in refused.body
    supervisor.post("/desk/language", {"csrf": supervisor.csrf(), "language": "en"})
    answer = act(supervisor, number, "close")
    assert error_of(supervisor, answer.headers["location"]) == f"Ticket {number} is received now, so “Close” is not possible; it is possible when the ticket is verified."
    answer = act(supervisor, number, "reject")
    assert error_of(supervisor, answer.headers["location"]) == f"Ticket {number}: “Reject” needs a note or reason."
    answer = supervisor.post(f"/desk/tickets/{number}/register", {"csrf": supervisor.csrf(), "category": "999"})
    assert error_of(supervisor, answer.headers["location"]) == "The chosen category does not exist any more; choose another from the list."


# -- the ticket list's filters


def test_each_filter_of_the_ticket_list(media_desk: Desk) -> None:
    d = media_desk
    operator = signed_in(d.port, "operator")
    plain = dispatched(operator, d, description="井盖破损", location="香港中路 1 号", caller_name="张先生")
    late = dispatched(operator, d, description="路面塌陷", location="延安三路 9 号", caller_name="李女士", urgency="urgent")
    soon = dispatched(operator, d, description="护栏倒伏", location="东海西路", caller_name="王先生")
    received = new_ticket(operator, description="噪音扰民", location="台东一路", caller_name="赵先生")
    now = utcnow()

    def arrange(s: Any) -> tuple[str, str]:
        lamps = Category(code="0202", kind=CategoryKind.COMPONENT, name_zh="路灯", name_en="Street lamp")
        s.add(lamps)
        s.flush()
        by_number = {t.number: t for t in s.scalars(select(Ticket))}
        by_number[late].deadline_at = now - timedelta(hours=2)
        by_number[soon].deadline_at = now + timedelta(hours=3)
        by_number[plain].deadline_at = now + timedelta(days=4)
        by_number[plain].department_id = d.ids["parks"]
        by_number[received].category_id = lamps.id
        by_number[received].created_at = now - timedelta(days=40)
        message = voicemail.leave_message(s, POLICY, uniqueid="1700000000.77", caller_number="13700000000", path=str(d.voicemail / "m.wav"))
        return message.ticket_number, str(lamps.id)

    spoken, lamps = d.database.run(arrange)
    everyone = {plain, late, soon, received, spoken}

    def listed(query: str, client: Client = operator) -> set[str]:
        page = client.get("/desk/tickets?" + query)
        assert page.status == 200, query
        return {n for n in everyone if f">{n}</a>" in page.body}

    today = (now + timedelta(hours=8)).date()
    assert listed("") == everyone
    assert listed("status=received") == {received, spoken}
    assert listed("status=dispatched") == {plain, late, soon}
    assert listed(f"department={d.ids['parks']}") == {plain}
    assert listed(f"department={d.ids['roads']}") == {late, soon}
    assert listed(f"category={lamps}") == {received}
    assert listed("category=1") == {plain, late, soon}
    assert listed("source=voicemail") == {spoken}
    assert listed("source=hotline") == {plain, late, soon, received}
    assert listed("urgency=urgent") == {late}
    assert listed("overdue=1") == {late}
    assert listed("due_soon=1") == {soon}
    assert listed(f"since={today}") == everyone - {received}
    assert listed(f"until={today - timedelta(days=30)}") == {received}
    assert listed(f"since={today - timedelta(days=41)}&until={today - timedelta(days=39)}") == {received}
    assert listed("period=today") == listed("period=7d") == listed("period=30d") == listed("period=month") == everyone - {received}
    assert listed(f"period=30d&until={today - timedelta(days=1)}") == set()
    assert operator.get("/desk/tickets?period=forever").status == 400
    # Full text: the number, the description, the address, the caller's name; Chinese substrings.
    assert listed("q=" + quote("塌陷")) == {late}
    assert listed("q=" + quote("香港中路")) == {plain}
    assert listed("q=" + quote("王先")) == {soon}
    assert listed("q=" + quote(received)) == {received}
    assert listed("q=" + quote(late[-6:])) == {late}
    assert listed("q=" + quote("语音留言")) == {spoken}
    assert listed("q=" + quote("塌陷") + "&status=received") == set()
    # Combined, and for department staff within their department only.
    assert listed(f"status=dispatched&department={d.ids['roads']}&urgency=urgent") == {late}
    assert listed("", signed_in(d.port, "dept")) == {late, soon}
    assert listed(f"department={d.ids['parks']}", signed_in(d.port, "dept")) == set()


def test_the_ticket_search_has_a_trigram_index_on_postgresql(database: Database) -> None:
    """On PostgreSQL the substring search is served by a pg_trgm GIN index (postgresql-15 contrib);
    SQLite keeps an empty partial index of the same name, so both schemas match the models."""
    if database.dialect == "postgresql":
        definition = database.read(lambda s: s.execute(text("SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_tickets_text_trgm'")).scalar())
        assert "USING gin" in definition and "description gin_trgm_ops" in definition and "caller_name gin_trgm_ops" in definition

        def plan(s: Any) -> str:
            s.execute(text("SET LOCAL enable_seqscan = off"))
            rows = s.execute(text("EXPLAIN SELECT id FROM tickets WHERE description LIKE '%2026120%' OR number LIKE '%2026120%'")).scalars()
            return "\n".join(rows)

        assert "ix_tickets_text_trgm" in database.read(plan)
    else:
        definition = database.read(lambda s: s.execute(text("SELECT sql FROM sqlite_master WHERE name = 'ix_tickets_text_trgm'")).scalar())
        assert "WHERE 0" in definition
    database.run(lambda s: open_ticket(s, POLICY, source=TicketSource.WEB, actor=SYSTEM, description="人行道井盖破损", urgency=Urgency.NORMAL))
    assert database.read(lambda s: s.scalars(select(Ticket.number).where(Ticket.description.like("%井盖破%"))).all())
