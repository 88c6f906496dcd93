"""The desk over real HTTP on both backends: every route against every role (from the one
routes table), CSRF, session fixation, cookies, throttling, idle timeout, escaping, filters
with SQL metacharacters, and a ticket's whole loop through the roles."""

from __future__ import annotations

import re
import types
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import quote

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from agent_desk import i18n
from agent_desk.app import DeskSettings
from agent_desk.routes import ROUTES, Route
from hotline.storage.db import Database
from hotline.storage.models import AuditEntry, Role, utcnow
from tests.desk_server import ACCOUNTS, PASSWORD, Client, running_desk, seed

XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'
SQL = "' OR 1=1; DROP TABLE tickets; --"
ROLE_USERS = {Role.OPERATOR: "operator", Role.SUPERVISOR: "supervisor", Role.CALLBACK: "callback", Role.DEPARTMENT: "dept", Role.ADMIN: "admin"}


@pytest.fixture
def desk(database: Database) -> Iterator[tuple[int, dict[str, int], Database]]:
    ids = seed(database)
    with running_desk(database) as port:
        yield port, ids, database


def signed_in(port: int, username: str) -> Client:
    client = Client(port)
    assert client.login(username).status == 303
    return client


def new_ticket(client: Client, **fields: str) -> str:
    form = {"caller": "13812345678", "caller_name": "张先生", "description": "井盖破了", "location": "香港中路 1 号", "category": "1", "urgency": "normal"} | fields
    response = client.post("/desk/tickets/new", {"csrf": client.csrf("/desk/tickets/new"), **form})
    if response.status == 409:  # an open case of the same category at this address (重复件): the test wants a case of its own
        offered = re.search(r'name="offered" value="([^"]*)"', response.body)
        assert offered, response.body
        response = client.post("/desk/tickets/new", {"csrf": client.csrf("/desk/tickets/new"), **form, "offered": offered.group(1), "duplicate_reason": "另一件 / a separate case"})
    assert response.status == 303, response.body
    return response.headers["location"].rsplit("/", 1)[1]


def act(client: Client, number: str, action: str, **fields: str) -> Any:
    return client.post(f"/desk/tickets/{number}/{action}", {"csrf": client.csrf(f"/desk/tickets/{number}"), **fields})


def url(route: Route, number: str, ids: dict[str, int]) -> str:
    path = route.path.replace("<number>", number).replace("<action>", "note").replace("<int:user_id>", str(ids["operator"])).replace("<name>", "desk.css")
    return "/desk" + path


def test_every_route_against_every_role(desk: tuple[int, dict[str, int], Database]) -> None:
    """Generated from agent_desk.routes.ROUTES: allowed roles get past the guard (never 401/403),
    the others get 403; nobody signed in is sent to the login page (GET) or refused (POST)."""
    port, ids, _ = desk
    number = new_ticket(signed_in(port, "operator"))
    # One sign-in per role, kept until a route ends it (logout): an argon2 check per request
    # would make this the slowest test of the suite and tell nothing more.
    clients: dict[Role, Client] = {}
    checked = 0
    for route in ROUTES:
        if route.roles is None:
            continue
        anonymous = Client(port).request(route.method, url(route, number, ids), {"csrf": "x"} if route.changes_state else None)
        if route.changes_state:
            assert anonymous.status == 401, route
        else:
            assert anonymous.status == 303 and "/desk/login" in anonymous.headers["location"], route
        for role, username in ROLE_USERS.items():
            client = clients.get(role) or clients.setdefault(role, signed_in(port, username))
            form = {"csrf": client.csrf()} if route.changes_state else None
            response = client.request(route.method, url(route, number, ids), form)
            if route.name == "logout":
                del clients[role]
            if role in route.roles:
                assert response.status not in (401, 403), (route, role, response.status)
            else:
                assert response.status == 403, (route, role, response.status)
                assert "无权" in response.body
            checked += 1
    assert checked == sum(len(ROLE_USERS) for r in ROUTES if r.roles is not None)


def test_state_changing_routes_refuse_a_missing_or_wrong_csrf_token(desk: tuple[int, dict[str, int], Database]) -> None:
    port, ids, _ = desk
    number = new_ticket(signed_in(port, "operator"))
    # Refused requests change nothing, a sign-out included: one sign-in per user serves all.
    clients: dict[str, Client] = {}
    for route in (r for r in ROUTES if r.changes_state and r.roles is not None):
        username = ROLE_USERS[sorted(route.roles)[0]] if route.roles != frozenset(Role) else "supervisor"
        client = clients.get(username) or clients.setdefault(username, signed_in(port, username))
        for form in ({}, {"csrf": "forged"}):
            response = client.request("POST", url(route, number, ids), form | {"reason": "x", "language": "en", "description": "x"})
            assert response.status == 403, (route, form)
            assert "安全令牌" in response.body
    # Nothing was changed: the ticket still has only its creation, nobody switched language.
    client = signed_in(port, "supervisor")
    assert "受理" in client.get(f"/desk/tickets/{number}").body
    assert client.get("/desk/tickets").body.count('lang="zh-Hans"') == 1
    # The login form too: a post without the pre-login cookie's token is refused.
    assert Client(port).post("/desk/login", {"username": "admin", "password": PASSWORD, "csrf": "x"}).status == 403


def test_session_fixed_before_login_is_worthless_after_it(desk: tuple[int, dict[str, int], Database]) -> None:
    port, _, _ = desk
    attacker = signed_in(port, "callback")
    planted = attacker.jar["hotline_desk"]
    victim = Client(port)
    victim.jar["hotline_desk"] = planted  # the attacker's token, planted in the victim's browser
    assert victim.login("supervisor").status == 303
    assert victim.jar["hotline_desk"] != planted
    assert victim.get("/desk/tickets").status == 200
    replay = Client(port)
    replay.jar["hotline_desk"] = planted
    response = replay.get("/desk/tickets")
    assert response.status == 303 and "/desk/login" in response.headers["location"]


def test_cookie_flags(database: Database) -> None:
    seed(database)
    for secure in (False, True):
        with running_desk(database, DeskSettings(secure_cookies=secure)) as port:
            client = Client(port)
            page = client.get("/desk/login")
            response = client.post("/desk/login", {"csrf": page.csrf(), "username": "operator", "password": PASSWORD})
            cookie = next(c for c in response.cookies if c.startswith("hotline_desk="))
            assert "HttpOnly" in cookie and "SameSite=lax" in cookie.replace("SameSite=Lax", "SameSite=lax")
            assert ("Secure" in cookie) is secure
            assert "default-src 'self'" in response.headers["content-security-policy"]


def test_login_is_throttled_per_account_and_per_address(desk: tuple[int, dict[str, int], Database]) -> None:
    port, _, database = desk
    client = Client(port)
    for _ in range(5):
        assert client.login("operator", "wrong-password-1").status == 401
    refused = client.login("operator")  # the right password, but too late
    assert refused.status == 429 and "15 分钟" in refused.body
    assert client.login("supervisor").status == 303  # another account from the same address still may
    for i in range(15):
        client.login(f"nobody{i}", "wrong-password-1")
    assert client.login("admin").status == 429  # 20 failures from this address
    actions = database.read(lambda s: [e.action for e in s.query(AuditEntry).order_by(AuditEntry.id)])
    assert actions.count("login_failed") == 20 and actions.count("login_throttled") == 2


def test_idle_session_ends(database: Database) -> None:
    seed(database)
    clock = [utcnow()]
    with running_desk(database, now=lambda: clock[0]) as port:
        client = signed_in(port, "operator")
        clock[0] += timedelta(minutes=29)
        assert client.get("/desk/tickets").status == 200
        clock[0] += timedelta(minutes=31)
        response = client.get("/desk/tickets")
        assert response.status == 303 and "/desk/login" in response.headers["location"]


def test_password_change_signs_out_other_sessions(desk: tuple[int, dict[str, int], Database]) -> None:
    port, _, _ = desk
    here, elsewhere = signed_in(port, "operator"), signed_in(port, "operator")
    wrong = here.post("/desk/password", {"csrf": here.csrf(), "old": "nope-nope-1", "new": "new-secret-99", "again": "new-secret-99"})
    assert wrong.status == 400 and "当前密码错误" in wrong.body
    weak = here.post("/desk/password", {"csrf": here.csrf(), "old": PASSWORD, "new": "short", "again": "short"})
    assert weak.status == 400 and "密码太短" in weak.body
    assert here.post("/desk/password", {"csrf": here.csrf(), "old": PASSWORD, "new": "new-secret-99", "again": "new-secret-99"}).status == 303
    assert here.get("/desk/tickets").status == 200
    assert elsewhere.get("/desk/tickets").status == 303
    assert Client(port).login("operator").status == 401
    assert Client(port).login("operator", "new-secret-99").status == 303


def test_audit_log_is_append_only_in_the_database(desk: tuple[int, dict[str, int], Database]) -> None:
    port, _, database = desk
    signed_in(port, "admin")
    for statement in ("UPDATE audit_log SET action = 'nothing'", "DELETE FROM audit_log"):
        with pytest.raises(DBAPIError), database.transaction() as session:
            session.execute(text(statement))
    entry = database.read(lambda s: s.query(AuditEntry).filter_by(action="login").one())
    assert entry.username == "admin" and entry.address == "127.0.0.1"


def test_free_text_comes_back_escaped(desk: tuple[int, dict[str, int], Database]) -> None:
    port, _, _ = desk
    operator = signed_in(port, "operator")
    number = new_ticket(operator, caller_name=XSS, description=XSS, location=XSS)
    assert act(operator, number, "note", reason=XSS).status == 303
    admin = signed_in(port, "admin")
    assert admin.post("/desk/admin/users", {"csrf": admin.csrf(), "username": "xss.user", "password": PASSWORD, "display_name": XSS, "roles": ["operator"], "queues": ""}).status == 303
    pages = [operator.get(f"/desk/tickets/{number}").body, operator.get("/desk/tickets").body, operator.get("/desk/tickets?q=" + quote(XSS)).body, admin.get("/desk/admin/users").body]
    pages.append(operator.get(f"/desk/tickets/{number}?error=" + quote(XSS)).body)
    for body in pages:
        assert "<script>" not in body and "<img src=x" not in body
        assert "&lt;script&gt;" in body


def test_filters_with_sql_metacharacters(desk: tuple[int, dict[str, int], Database]) -> None:
    port, _, database = desk
    operator = signed_in(port, "operator")
    new_ticket(operator)
    for name in ("status", "department", "category", "source", "urgency", "since", "until", "page"):
        response = operator.get(f"/desk/tickets?{name}=" + quote(SQL))
        assert response.status == 400 and name in response.body, name
    for value in (SQL, "%", "_", "\\", "'"):
        response = operator.get("/desk/tickets?q=" + quote(value))
        assert response.status == 200 and "没有符合条件的工单" in response.body, value
    assert "井盖" in operator.get("/desk/tickets?q=" + quote("井盖")).body
    assert database.read(lambda s: s.execute(text("SELECT count(*) FROM tickets")).scalar()) == 1


def test_a_ticket_round_the_loop_with_each_role(desk: tuple[int, dict[str, int], Database]) -> None:
    port, ids, database = desk
    operator = signed_in(port, "operator")
    number = new_ticket(operator)
    assert act(operator, number, "register", category="1").status == 303
    page = operator.get(f"/desk/tickets/{number}").body
    assert "现在派遣的处置时限" in page and "13812345678" in page
    assert act(operator, number, "verify").status == 403  # not an operator's move
    assert act(operator, number, "dispatch", department=str(ids["roads"])).status == 303
    dept, other = signed_in(port, "dept"), signed_in(port, "dept2")
    assert other.get(f"/desk/tickets/{number}").status == 404
    assert number not in other.get("/desk/tickets").body
    mine = dept.get(f"/desk/tickets/{number}").body
    assert "138****5678" in mine and "13812345678" not in mine
    extension = {"csrf": dept.csrf(f"/desk/tickets/{number}"), "amount": "2", "unit": "working_days", "reason": "需要更换井座"}
    assert dept.post(f"/desk/oversight/cases/{number}/extension", extension).status == 303
    assert act(dept, number, "handle", reason="已更换井盖").status == 303
    supervisor = signed_in(port, "supervisor")
    assert act(supervisor, number, "verify").status == 303
    assert act(supervisor, number, "close").status == 303
    final = supervisor.get(f"/desk/tickets/{number}").body
    assert "已结案" in final and "已更换井盖" in final and "申请延期" in final and "(5个工作日)" in final
    stale = supervisor.post(f"/desk/tickets/{number}/reopen", {"csrf": supervisor.csrf(), "version": "1", "reason": "x"})
    assert "error=" in stale.headers["location"]
    actions = database.read(lambda s: [(e.username, e.action) for e in s.query(AuditEntry).filter(AuditEntry.target == f"ticket:{number}").order_by(AuditEntry.id)])
    assert actions == [
        ("operator", "ticket_created"), ("operator", "ticket_register"), ("operator", "ticket_dispatch"),
        ("dept", "extension_requested"), ("dept", "ticket_handle"), ("supervisor", "ticket_verify"), ("supervisor", "ticket_close"),
    ]  # fmt: skip


def test_language_is_per_user(desk: tuple[int, dict[str, int], Database]) -> None:
    port, _, _ = desk
    operator = signed_in(port, "operator")
    assert "工单" in operator.get("/desk/tickets").body
    assert operator.post("/desk/language", {"csrf": operator.csrf(), "language": "en", "next": "/desk/tickets"}).status == 303
    assert re.search(r"<h1>Tickets", operator.get("/desk/tickets").body)
    assert "<h1>工单" in signed_in(port, "supervisor").get("/desk/tickets").body
    assert operator.post("/desk/language", {"csrf": operator.csrf(), "language": "xx"}).status == 400


def test_admin_sets_role_department_seat_and_queues(desk: tuple[int, dict[str, int], Database]) -> None:
    port, ids, _ = desk
    admin = signed_in(port, "admin")
    form = {"csrf": admin.csrf(), "display_name": "王芳", "roles": ["operator", "supervisor"], "department": "", "extension": "PJSIP-1002", "queues": "hotline-general, skill-roads", "active": "1"}
    assert admin.post(f"/desk/admin/users/{ids['operator']}", form).status == 303
    page = admin.get("/desk/admin/users").body
    assert "hotline-general skill-roads" in page and "PJSIP-1002" in page
    refused = admin.post(f"/desk/admin/users/{ids['dept']}", form | {"roles": ["department"]})
    assert refused.status == 400 and "部门人员必须属于一个部门" in refused.body
    assert "user_updated" in admin.get("/desk/admin/audit").body


def test_every_message_has_a_chinese_translation() -> None:
    assert i18n.untranslated("zh_Hans") == []
    assert set(ACCOUNTS) >= set(ROLE_USERS.values())


def test_unknown_pages_wrong_methods_and_foreign_redirects(desk: tuple[int, dict[str, int], Database]) -> None:
    port, _, _ = desk
    client = Client(port)
    assert client.get("/desk/nope").status == 404 and "没有这个页面" in client.get("/desk/nope").body
    assert client.request("PUT", "/desk/tickets").status == 405
    assert client.get("/desk/static/..%2Fapp.py").status == 404
    assert client.get("/desk/static/desk.css").headers["content-type"].startswith("text/css")
    for target, lands in (("//evil.example/x", "/desk/tickets"), ("https://evil.example/", "/desk/tickets"), ("/desk/tickets?status=closed", "/desk/tickets?status=closed")):
        page = client.get("/desk/login?next=" + quote(target))
        response = client.post("/desk/login", {"csrf": page.csrf(), "username": "operator", "password": PASSWORD, "next": target})
        assert response.headers["location"] == lands, target


def test_refusals_are_audited_and_a_deactivated_account_is_signed_out(desk: tuple[int, dict[str, int], Database]) -> None:
    port, ids, database = desk
    operator = signed_in(port, "operator")
    assert operator.get("/desk/admin/audit").status == 403
    assert operator.post("/desk/password", {"old": "x"}).status == 403
    refused = database.read(lambda s: [(e.username, e.detail["route"], e.detail["reason"]) for e in s.query(AuditEntry).filter_by(action="refused").order_by(AuditEntry.id)])
    assert refused == [("operator", "audit", "Not allowed"), ("operator", "password", "Form expired")]
    admin = signed_in(port, "admin")
    form = {"csrf": admin.csrf(), "display_name": "operator", "roles": ["operator"], "department": "", "extension": "", "queues": ""}  # no "active": deactivate
    assert admin.post(f"/desk/admin/users/{ids['operator']}", form).status == 303
    assert operator.get("/desk/tickets").status == 303
    assert Client(port).login("operator").status == 401


def test_list_pages_through_many_tickets(desk: tuple[int, dict[str, int], Database]) -> None:
    from hotline.storage.models import TicketSource
    from hotline.tickets.services import SYSTEM, open_ticket
    from tests.desk_server import POLICY

    port, _, database = desk
    database.run(lambda s: [open_ticket(s, POLICY, source=TicketSource.WEB, actor=SYSTEM, description=f"路灯不亮 {i}") for i in range(30)])
    operator = signed_in(port, "operator")
    first, second = operator.get("/desk/tickets?source=web"), operator.get("/desk/tickets?source=web&page=2")
    assert "共 30 件" in first.body and "第 1 页，共 2 页" in first.body and 'rel="next"' in first.body
    assert second.body.count("路灯不亮") == 5 and 'rel="prev"' in second.body
    assert "第 2 页，共 2 页" in operator.get("/desk/tickets?source=web&page=99").body


def test_requests_are_measured_per_route_on_the_nodes_metrics(database: Database) -> None:
    from prometheus_client import generate_latest

    from hotline.metrics import Metrics

    seed(database)
    metrics = Metrics()
    with running_desk(database, metrics=metrics) as port:
        operator = signed_in(port, "operator")
        operator.get("/desk/tickets")
        operator.get("/desk/admin/users")
    exposed = generate_latest(metrics.registry).decode()
    assert 'hotline_desk_request_seconds_count{route="tickets",status="200"} 1.0' in exposed
    assert 'hotline_desk_request_seconds_count{route="users",status="403"} 1.0' in exposed
    assert 'hotline_desk_request_seconds_count{route="login",status="303"} 1.0' in exposed


class _Peer:
    def __init__(self, host: str, forwarded: bytes | None) -> None:
        self.host, self.forwarded = host, forwarded

    def getClientAddress(self) -> object:
        return types.SimpleNamespace(host=self.host)

    def getHeader(self, name: bytes) -> bytes | None:
        return self.forwarded if name == b"x-forwarded-for" else None


def test_the_browser_address_comes_from_x_forwarded_for_only_behind_a_loopback_proxy():
    """Behind the supervisor's port (or nginx on this machine) the audit log and the login
    throttle see the browser, not 127.0.0.1; a browser talking to the desk directly cannot
    choose the address it is throttled by."""
    from agent_desk.app import Desk

    assert Desk.address(_Peer("127.0.0.1", b"203.0.113.9")) == "203.0.113.9"
    assert Desk.address(_Peer("::1", b"10.1.1.1, 198.51.100.7")) == "198.51.100.7"
    assert Desk.address(_Peer("198.51.100.20", b"127.0.0.1")) == "198.51.100.20"
    assert Desk.address(_Peer("127.0.0.1", None)) == "127.0.0.1"


def test_a_database_that_is_away_gets_a_clear_503_not_a_server_error(unused_tcp_port_database: Database) -> None:
    """Signing in while the database cannot be reached: 503 with Retry-After and a page that
    says nothing was saved (Chinese first), instead of "something went wrong"."""
    with running_desk(unused_tcp_port_database) as port:
        client = Client(port)
        page = client.get("/desk/login")
        assert page.status == 200
        answer = client.post("/desk/login", {"csrf": page.csrf(), "username": "op1", "password": PASSWORD})
        assert answer.status == 503, answer.body[:500]
        assert answer.headers.get("retry-after") == "10"
        assert "数据库暂时无法访问" in answer.body and "未保存" in answer.body


@pytest.fixture
def unused_tcp_port_database() -> Iterator[Database]:
    """A PostgreSQL URL on a loopback port nobody listens on: every connection is refused."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    database = Database.from_url(f"postgresql+psycopg://nobody@127.0.0.1:{port}/none")
    try:
        yield database
    finally:
        database.dispose()
