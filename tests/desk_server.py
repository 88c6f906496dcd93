"""A real desk over real HTTP for the tests: the desk mounted under the node's root resource
(as the composition root mounts it), on a private reactor running in a thread, with a
cookie-keeping client that speaks plain HTTP/1.1 to it."""

from __future__ import annotations

import html
import http.client
import re
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from agent_desk.app import Desk, DeskContext, DeskSettings
from hotline.config import Config
from hotline.metrics import Metrics
from hotline.storage.db import Database
from hotline.storage.dbpool import DatabasePool
from hotline.storage.models import Category, CategoryKind, Department, Role, utcnow
from hotline.tickets import media
from hotline.tickets.services import TicketPolicy
from hotline.users import create_user
from hotline.web.site import build_root, make_site
from hotline.worktime import WorkingCalendar

PASSWORD = "correct-horse-42"
POLICY = TicketPolicy(calendar=WorkingCalendar(tz=ZoneInfo("Asia/Shanghai")))
#: One account per role; `dept` belongs to department 1, `dept2` to department 2.
ACCOUNTS = {
    "operator": [Role.OPERATOR],
    "supervisor": [Role.SUPERVISOR],
    "callback": [Role.CALLBACK],
    "dept": [Role.DEPARTMENT],
    "admin": [Role.ADMIN],
    "dept2": [Role.DEPARTMENT],
}


def seed(database: Database) -> dict[str, int]:
    """Two departments, one category, and one user per role; returns their ids."""

    def work(s: Any) -> dict[str, int]:
        roads = Department(code="roads", name_zh="市政道路处", name_en="Roads")
        parks = Department(code="parks", name_zh="园林绿化处", name_en="Parks")
        s.add_all([roads, parks])
        s.flush()
        s.add(Category(code="0101", kind=CategoryKind.COMPONENT, name_zh="井盖破损", name_en="Broken manhole cover", default_department_id=roads.id))
        ids = {"roads": roads.id, "parks": parks.id}
        for name, roles in ACCOUNTS.items():
            dept = roads.id if name == "dept" else parks.id if name == "dept2" else None
            ids[name] = create_user(s, name, PASSWORD, roles, display_name=f"{name} 用户", department_id=dept, extension="1001" if name == "operator" else None).id
        return ids

    return database.run(work)


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    cookies: list[str]
    body: str

    def csrf(self) -> str:
        found = re.search(r'name="csrf" value="([^"]+)"', self.body)
        assert found, self.body[:500]
        return html.unescape(found.group(1))


@dataclass
class Client:
    port: int
    jar: dict[str, str] = field(default_factory=dict)

    def request(self, method: str, path: str, form: dict[str, Any] | None = None) -> Response:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        headers = {"cookie": "; ".join(f"{k}={v}" for k, v in self.jar.items())} if self.jar else {}
        body = None
        if form is not None:
            body = urlencode(form, doseq=True).encode()
            headers["content-type"] = "application/x-www-form-urlencoded"
        try:
            conn.request(method, path, body=body, headers=headers)
            raw = conn.getresponse()
            text = raw.read().decode("utf-8")
            cookies = raw.headers.get_all("set-cookie") or []
            for line in cookies:
                for name, morsel in SimpleCookie(line).items():
                    if morsel["max-age"] == "0":
                        self.jar.pop(name, None)
                    else:
                        self.jar[name] = morsel.value
            return Response(raw.status, {k.lower(): v for k, v in raw.headers.items()}, cookies, text)
        finally:
            conn.close()

    def get(self, path: str) -> Response:
        return self.request("GET", path)

    def post(self, path: str, form: dict[str, Any]) -> Response:
        return self.request("POST", path, form)

    def login(self, username: str, password: str = PASSWORD) -> Response:
        page = self.get("/desk/login")
        return self.post("/desk/login", {"csrf": page.csrf(), "username": username, "password": password})

    def csrf(self, path: str = "/desk/password") -> str:
        return self.get(path).csrf()


@contextmanager
def running_desk(
    database: Database,
    settings: DeskSettings | None = None,
    now: Callable[[], datetime] = utcnow,
    metrics: Metrics | None = None,
    mounts: Mapping[bytes, Callable[[DatabasePool], Any]] | None = None,
    config: Config | None = None,
    context: Callable[[Any], dict[str, Any]] | None = None,
    desks: list[Desk] | None = None,
) -> Iterator[int]:
    """The port of a desk serving `database`, on a reactor in a thread, stopped afterwards;
    `mounts` are other web applications beside it (name: build(pool) → resource). `config`
    (recording and attachment directories, upload limits) bounds the site's request bodies as
    the composition root does. `context(reactor)` gives more DeskContext fields (an AMI
    service on that reactor, a config); `desks` receives the Desk object, for tests that
    reach into it."""
    from twisted.internet.pollreactor import PollReactor

    reactor = PollReactor()
    pool = DatabasePool(reactor, database, size=2)
    pool.threads.start()
    pool.readers.start()
    metrics = metrics or Metrics()
    root = build_root(pool, metrics)
    extra = context(reactor) if context else {}
    config = extra.pop("config", config)
    desk = Desk(DeskContext(pool=pool, policy=POLICY, settings=settings or DeskSettings(), metrics=metrics, now=now, config=config, reactor=reactor, **extra))
    if desks is not None:
        desks.append(desk)
    root.putChild(b"desk", desk.app.resource())
    for name, build in (mounts or {}).items():
        root.putChild(name, build(pool))
    site = make_site(root) if config is None else make_site(root, max_body_bytes=media.max_request_bytes(config))
    port = reactor.listenTCP(0, site, interface="127.0.0.1")
    thread = threading.Thread(target=reactor.run, kwargs={"installSignalHandlers": False}, daemon=True)
    thread.start()
    try:
        yield port.getHost().port
    finally:
        reactor.callFromThread(reactor.stop)
        thread.join(30)
        for threads in (pool.threads, pool.readers):
            threads.stop()
        with suppress(Exception):
            reactor.waker.connectionLost(None)
