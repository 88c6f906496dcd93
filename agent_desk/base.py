"""The desk's plumbing, shared by every page module: the route guard (signed in, role, CSRF),
templates, forms, cookies, error pages and the database hand-off.

Every route goes through `_guard`: signed in (else to the login page), the route's roles
(else 403), and for POST the CSRF token (else a 403 page that says so). Database work runs in
the pool's threads through the core's services; templates render on the reactor thread.

Pages live in modules of their own, each a `DeskBase` subclass that `agent_desk.app.Desk`
inherits; a handler is the method `on_NAME` for the route NAME of `agent_desk.routes.ROUTES`.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, select_autoescape
from klein import Klein
from prometheus_client import Histogram
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.iweb import IRequest

from agent_desk import i18n
from agent_desk.i18n import N_
from agent_desk.pickers import PickerCache, Pickers
from agent_desk.routes import ROUTES, Route
from hotline import audit
from hotline.config import Config
from hotline.metrics import Metrics
from hotline.storage.dbpool import DatabasePool, is_unreachable
from hotline.storage.models import Role, utcnow
from hotline.tickets import desk
from hotline.tickets.services import TicketPolicy
from hotline.tickets.workflow import STATUS_LABELS
from hotline.users import SignedIn
from hotline.web import sessions
from hotline.web.addresses import client_address
from hotline.web.sessions import SessionPolicy

HERE = Path(__file__).parent
T = TypeVar("T")
log = Logger()
COOKIE = b"hotline_desk"
#: Before login there is no session to hold a CSRF token: the login form's token is also in
#: this cookie (double submit), so another site cannot post a login (login CSRF).
PRELOGIN_COOKIE = b"hotline_prelogin"
STATIC_TYPES = {".css": b"text/css; charset=utf-8", ".js": b"text/javascript; charset=utf-8"}
SECURITY_HEADERS = {
    b"content-security-policy": b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    b"x-content-type-options": b"nosniff",
    b"referrer-policy": b"same-origin",
    b"x-frame-options": b"DENY",
}


@dataclass(frozen=True)
class DeskSettings:
    #: Where the composition root mounts the desk (`root.putChild(b"desk", …)`).
    base_path: str = "/desk"
    #: True when browsers reach the desk over TLS (directly or through a proxy): cookies get Secure.
    secure_cookies: bool = False
    sessions: SessionPolicy = field(default_factory=SessionPolicy)


@dataclass(frozen=True)
class DeskContext:
    """What the desk needs from the node; the composition root builds one."""

    pool: DatabasePool
    policy: TicketPolicy
    settings: DeskSettings = field(default_factory=DeskSettings)
    metrics: Metrics | None = None
    now: Callable[[], datetime] = utcnow
    #: The node's configuration (None in tests that build a bare desk).
    config: Config | None = None
    #: The node's AMI service (`hotline.ami.service.AmiService`): live model and actions; None without Asterisk.
    ami: Any = None
    #: The node's reactor, for timers and calls from threads (None: the global one).
    reactor: Any = None


class HttpError(Exception):
    def __init__(self, code: int, title: str, message: str) -> None:
        super().__init__(message)
        self.code, self.title, self.message = code, title, message


#: twisted.web.server.Request; Any because its methods carry no annotations for mypy --strict.
Req = Any
Handler = Callable[..., Awaitable[bytes | str | None]]


class DeskBase:
    """The plumbing; `agent_desk.app.Desk` adds the pages."""

    def __init__(self, context: DeskContext) -> None:
        self.context = context
        self.settings = context.settings
        self.base = context.settings.base_path.rstrip("/")
        self.tz: ZoneInfo = context.policy.tz
        self.envs = {language: self._environment(language) for language in i18n.LANGUAGES}
        self.static = {p.name: p.read_bytes() for p in (HERE / "static").iterdir() if p.suffix in STATIC_TYPES}
        self.pickers = PickerCache(time.monotonic)
        self.requests: Histogram | None = None
        if context.metrics is not None:
            self.requests = Histogram(
                "hotline_desk_request_seconds", "Desk requests by route and status, from routing to the response body", ["route", "status"],
                registry=context.metrics.registry, buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
            )  # fmt: skip
        self.app = Klein()
        for route in ROUTES:
            handler: Handler = getattr(self, f"on_{route.name}")
            self.app.route(route.path, methods=[route.method], endpoint=route.name)(self._guard(route, handler))
        self.app.handle_errors(Exception)(self._error)  # type: ignore[arg-type]  # Klein's protocol names its parameter `request`  # unknown path, wrong method, anything unexpected

    # -- plumbing

    def _environment(self, language: str) -> Environment:
        env = Environment(
            loader=FileSystemLoader(HERE / "templates"), auto_reload=False, autoescape=select_autoescape(default=True), extensions=["jinja2.ext.i18n"], trim_blocks=True, lstrip_blocks=True
        )
        env.install_gettext_translations(i18n.catalogue(language), newstyle=True)  # type: ignore[attr-defined]
        env.filters["local"] = self._local
        env.globals.update(base=self.base, languages=i18n.LANGUAGES, language=language, statuses=STATUS_LABELS, zh=language == "zh_Hans")
        env.globals["demo"] = self.context.config is not None and self.context.config.service.demo  # the demo banner (docs/demo.md)
        return env

    def _local(self, moment: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
        return "" if moment is None else moment.astimezone(self.tz).strftime(fmt)

    def render(self, request: Req, template: str, who: SignedIn | None, status: int = 200, **values: Any) -> bytes:
        language = who.language if who is not None else i18n.DEFAULT
        env = self.envs.get(language, self.envs[i18n.DEFAULT])
        request.setResponseCode(status)
        request.setHeader(b"content-type", b"text/html; charset=utf-8")
        request.setHeader(b"cache-control", b"no-store")
        return env.get_template(template).render(who=who, roles=Role, **values).encode()

    def _headers(self, request: Req) -> None:
        for name, value in SECURITY_HEADERS.items():
            request.setHeader(name, value)

    @staticmethod
    def address(request: Req) -> str:
        """The browser's address, for the audit log and login throttling (`hotline.web.addresses`)."""
        return client_address(request)

    @staticmethod
    def form(request: Req, name: str) -> str:
        values = (request.args or {}).get(name.encode()) or [b""]
        try:
            return str(values[0].decode("utf-8"))
        except UnicodeDecodeError:
            raise HttpError(400, "Bad request", f"{name}: not UTF-8 text") from None

    def redirect(self, request: Req, path: str) -> bytes:
        request.setResponseCode(303)
        request.setHeader(b"location", (self.base + path).encode())
        return b""

    def _safe_next(self, value: str) -> str:
        """A path inside the desk to go back to; anything else (another site) becomes the list."""
        if value.startswith(self.base + "/") and not value.startswith("//") and "\\" not in value:
            return value[len(self.base) :]
        return "/tickets"

    def _set_cookie(self, request: Req, name: bytes, value: str, *, expire: bool = False) -> None:
        request.addCookie(
            name,
            value.encode(),
            path=(self.base or "/").encode(),
            httpOnly=True,
            secure=self.settings.secure_cookies,
            sameSite="lax",
            **({"max_age": b"0", "expires": b"Thu, 01 Jan 1970 00:00:00 GMT"} if expire else {}),
        )

    def _guard(self, route: Route, handler: Handler) -> Callable[..., Awaitable[bytes]]:
        async def guarded(klein_request: IRequest, **kw: Any) -> bytes:
            request: Req = klein_request
            started = time.perf_counter()
            try:
                return await checked(request, **kw)
            finally:
                if self.requests is not None:
                    self.requests.labels(route.name, str(request.code)).observe(time.perf_counter() - started)

        async def checked(request: Req, **kw: Any) -> bytes:
            self._headers(request)
            who: SignedIn | None = None
            try:
                if route.roles is not None:
                    token = (request.getCookie(COOKIE) or b"").decode("ascii", "replace")
                    policy, now = self.settings.sessions, self.context.now()
                    who, due = await self.context.pool.read(lambda s: sessions.look_up(s, token, policy=policy, now=now))
                    if due and who is not None:
                        self._touch(who.token_hash, now)
                    elif due:
                        who = await self.context.pool.run(lambda s: sessions.resolve(s, token, policy=policy, now=now))
                    if who is None:
                        if route.changes_state:
                            raise HttpError(401, N_("Signed out"), N_("Your session has ended. Sign in again; nothing was changed."))
                        return self.redirect(request, "/login?" + urlencode({"next": request.uri.decode("utf-8", "replace")}))
                    if not who.roles & route.roles:
                        raise HttpError(403, N_("Not allowed"), N_("Your role may not open this page or do this."))
                    if route.changes_state and not hmac.compare_digest(self.form(request, "csrf").encode(), who.csrf_token.encode()):
                        raise HttpError(403, N_("Form expired"), N_("This form is missing its security token or it has expired. Reload the page and try again; nothing was changed."))
                result = await handler(request, who, **kw)
                if result is None:
                    return b""
                return result.encode() if isinstance(result, str) else result
            except HttpError as exc:
                if exc.code == 403:
                    await self._audit_refusal(request, who, route, exc)
                return self.render(request, "error.html", who, exc.code, title=exc.title, message=exc.message)

        guarded.__name__ = route.name
        return guarded

    def _touch(self, hashed: str, now: datetime) -> None:
        """The session's last_seen_at moves on in the next batched write: the request does not
        wait for it (before, each operator's request every 30 s waited for a transaction of
        its own). Lost only if the database is away, when the session may end sooner."""
        written = self.context.pool.write(lambda s: sessions.touch(s, hashed, now))
        written.addErrback(lambda f: log.warn("desk session not touched: {error}", error=f.getErrorMessage()))

    async def _audit_refusal(self, request: Req, who: SignedIn | None, route: Route, exc: HttpError) -> None:
        """A refused request (role, CSRF) is a security event: kept in the audit log. Its own
        transaction, since the refused work (if any) was rolled back."""
        user_id, username = (who.user_id, who.username) if who is not None else (None, "")
        address, target, detail = self.address(request), request.path.decode("utf-8", "replace")[:128], {"route": route.name, "reason": exc.title}
        try:
            await self.db(lambda s: audit.record(s, "refused", user_id=user_id, username=username, target=target, address=address, detail=detail))
        except Exception:  # noqa: BLE001 - the refusal page is shown even when the database is away
            log.failure("could not audit a refused request")

    def _error(self, klein_request: IRequest, failure: Failure) -> bytes:
        from werkzeug.exceptions import HTTPException

        request: Req = klein_request
        self._headers(request)
        exc = failure.value
        if isinstance(exc, HTTPException):
            code = exc.code or 500
            return self.render(
                request, "error.html", None, code, title=N_("Not found") if code == 404 else N_("Bad request"), message=N_("There is no such page.") if code == 404 else str(exc.description)
            )
        if exc is not None and is_unreachable(exc):
            # The database is away (or did not answer in time): say so; nothing was saved, and
            # the browser still has the form. One line in the log, not a traceback per request.
            log.warn("desk request {path}: database unreachable ({error})", path=request.path, error=type(exc).__name__)
            request.setHeader(b"retry-after", b"10")
            return self.render(
                request,
                "error.html",
                None,
                503,
                title=N_("Database unavailable"),
                message=N_("The database cannot be reached just now, so nothing was saved. Go back, and try again in a moment; your form is still in the browser."),
            )
        log.failure("desk request failed", failure)
        return self.render(request, "error.html", None, 500, title=N_("Server error"), message=N_("Something went wrong on our side. Try again; if it keeps happening, tell your administrator."))

    async def db(self, work: Callable[[Any], Any]) -> Any:
        return await self.context.pool.run(work)

    async def read(self, work: Callable[[Any], Any]) -> Any:
        """A page's reads on a reader thread: they do not queue behind writes (one writer
        on SQLite), and every desk process reads at once."""
        return await self.context.pool.read(work)

    async def read_with_pickers(self, who: SignedIn, work: Callable[[Any], T]) -> tuple[T, Pickers]:
        """`work` on a reader thread, and the category and department pickers in `who`'s
        language (`agent_desk.pickers`): the choices are read in the same transaction only
        when the kept ones are due."""
        fresh = self.pickers.due()
        result, choices = await self.context.pool.read(lambda s: (work(s), desk.choices(s) if fresh else None))
        if choices is not None:
            self.pickers.update(choices)
        return result, self.pickers.get(who.language if who.language in self.envs else i18n.DEFAULT)
