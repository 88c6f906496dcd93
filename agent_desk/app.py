"""The desk's HTTP side: a Klein app over the routes table, mounted by the composition root.

Klein because it routes on Twisted itself (werkzeug patterns, handlers that return Deferreds or
coroutines, an IResource to `putChild` under the node's site), with nothing to run beside the
reactor; everything else here (sessions, CSRF, templates) is ours, because Klein's session
machinery assumes its own store and would hide what the audit must see.

Every route goes through `_guard`: signed in (else to the login page), the route's roles
(else 403), and for POST the CSRF token (else a 403 page that says so). Database work runs in
the pool's threads through the core's services; templates render on the reactor thread.
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, select_autoescape
from klein import Klein
from prometheus_client import Histogram
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.iweb import IRequest
from twisted.web.resource import IResource

from agent_desk import i18n
from agent_desk.i18n import N_
from agent_desk.routes import ROUTES, Route
from hotline import audit, users
from hotline.config import Config
from hotline.metrics import Metrics
from hotline.storage.dbpool import DatabasePool, is_unreachable
from hotline.storage.models import Role, Urgency, utcnow
from hotline.tickets import desk
from hotline.tickets.services import TicketNotFound, TicketPolicy
from hotline.tickets.workflow import STATUS_LABELS, WorkflowError
from hotline.users import SignedIn
from hotline.web import accounts, sessions
from hotline.web.sessions import SessionPolicy

HERE = Path(__file__).parent
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


class HttpError(Exception):
    def __init__(self, code: int, title: str, message: str) -> None:
        super().__init__(message)
        self.code, self.title, self.message = code, title, message


#: twisted.web.server.Request; Any because its methods carry no annotations for mypy --strict.
Req = Any
Handler = Callable[..., Awaitable[bytes | str | None]]


def mount(reactor: object, config: Config, pool: DatabasePool, metrics: Metrics) -> IResource:
    """The desk role's entry point (`hotline.web`): the desk under /desk/ of the node's site."""
    return build_desk(DeskContext(pool=pool, policy=TicketPolicy.from_config(config), settings=DeskSettings(base_path="/desk"), metrics=metrics))


def build_desk(context: DeskContext) -> IResource:
    """The desk as one resource for the composition root to mount at `settings.base_path`."""
    resource: IResource = Desk(context).app.resource()
    return resource


class Desk:
    def __init__(self, context: DeskContext) -> None:
        self.context = context
        self.settings = context.settings
        self.base = context.settings.base_path.rstrip("/")
        self.tz: ZoneInfo = context.policy.tz
        self.envs = {language: self._environment(language) for language in i18n.LANGUAGES}
        self.static = {p.name: p.read_bytes() for p in (HERE / "static").iterdir() if p.suffix in STATIC_TYPES}
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
        env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(default=True), extensions=["jinja2.ext.i18n"], trim_blocks=True, lstrip_blocks=True)
        env.install_gettext_translations(i18n.catalogue(language), newstyle=True)  # type: ignore[attr-defined]
        env.filters["local"] = self._local
        env.globals.update(base=self.base, languages=i18n.LANGUAGES, language=language, statuses=STATUS_LABELS, zh=language == "zh_Hans")
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
        """The browser's address, for the audit log and login throttling. Behind the
        supervisor's port or a reverse proxy on this machine the peer is loopback and the
        browser's address is the last X-Forwarded-For entry; from anyone else that header is
        ignored, so a browser cannot choose the address it is throttled by."""
        host = str(getattr(request.getClientAddress(), "host", "") or "unknown")
        forwarded = request.getHeader(b"x-forwarded-for")
        if forwarded and _is_loopback(host):
            last = forwarded.decode("latin-1").split(",")[-1].strip()
            if last:
                return str(last[:64])
        return host

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
                    if due:
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

    # -- public

    async def on_static(self, request: Req, who: None, name: str) -> bytes:
        body = self.static.get(name)
        if body is None:
            raise HttpError(404, N_("Not found"), N_("There is no such page."))
        request.setHeader(b"content-type", STATIC_TYPES[Path(name).suffix])
        request.setHeader(b"cache-control", b"public, max-age=3600")
        return body

    async def on_login_form(self, request: Req, who: None, *, error: str = "", status: int = 200) -> bytes:
        token = secrets.token_urlsafe(32)
        self._set_cookie(request, PRELOGIN_COOKIE, token)
        return self.render(request, "login.html", None, status, prelogin=token, next=self.form(request, "next"), error=error)

    async def on_login(self, request: Req, who: None) -> bytes:
        cookie = (request.getCookie(PRELOGIN_COOKIE) or b"").decode("ascii", "replace")
        if not cookie or not hmac.compare_digest(self.form(request, "csrf").encode(), cookie.encode()):
            raise HttpError(403, N_("Form expired"), N_("This form is missing its security token or it has expired. Reload the page and try again; nothing was changed."))
        username, password = self.form(request, "username"), self.form(request, "password")
        previous = (request.getCookie(COOKIE) or b"").decode("ascii", "replace") or None
        address, policy, now = self.address(request), self.settings.sessions, self.context.now()
        result: sessions.LoginResult = await self.db(lambda s: sessions.login(s, username, password, address=address, policy=policy, previous_token=previous, now=now))
        if result.token is None:
            if result.reason == "throttled":
                return await self.on_login_form(request, None, error="throttled", status=429)
            return await self.on_login_form(request, None, error="invalid", status=401)
        self._set_cookie(request, PRELOGIN_COOKIE, "", expire=True)
        self._set_cookie(request, COOKIE, result.token)
        return self.redirect(request, self._safe_next(self.form(request, "next")))

    # -- every signed-in user

    async def on_home(self, request: Req, who: SignedIn) -> bytes:
        return self.redirect(request, "/tickets")

    async def on_logout(self, request: Req, who: SignedIn) -> bytes:
        token, address = (request.getCookie(COOKIE) or b"").decode("ascii", "replace"), self.address(request)
        await self.db(lambda s: sessions.logout(s, token, address=address))
        self._set_cookie(request, COOKIE, "", expire=True)
        return self.redirect(request, "/login")

    async def on_password_form(self, request: Req, who: SignedIn, *, error: str = "", done: bool = False, status: int = 200) -> bytes:
        return self.render(request, "password.html", who, status, error=error, done=done or self.form(request, "done") == "1")

    async def on_password(self, request: Req, who: SignedIn) -> bytes:
        old, new, again, address = self.form(request, "old"), self.form(request, "new"), self.form(request, "again"), self.address(request)
        if new != again:
            return await self.on_password_form(request, who, error=N_("The two new passwords differ."), status=400)
        try:
            await self.db(lambda s: sessions.change_password(s, who, old, new, address=address))
        except users.UserError as exc:
            return await self.on_password_form(request, who, error=str(exc), status=400)
        return self.redirect(request, "/password?done=1")

    async def on_language(self, request: Req, who: SignedIn) -> bytes:
        language, address = self.form(request, "language"), self.address(request)
        try:
            await self.db(lambda s: sessions.set_language(s, who, language, address=address))
        except users.UserError as exc:
            raise HttpError(400, "Bad request", str(exc)) from None
        return self.redirect(request, self._safe_next(self.form(request, "next")))

    # -- tickets

    async def on_tickets(self, request: Req, who: SignedIn) -> bytes:
        args = {k.decode("utf-8", "replace"): v[0].decode("utf-8", "replace") for k, v in (request.args or {}).items() if v}
        try:
            filters = desk.Filters.parse(args)
        except ValueError as exc:
            raise HttpError(400, "Bad filter", str(exc)) from None
        tz, now = self.tz, self.context.now()

        def work(s: Any) -> tuple[desk.Page, Any, Any]:
            return (desk.search(s, who, filters, tz=tz, now=now), *desk.choices(s))

        page, categories, departments = await self.db(work)
        query = {k: v for k, v in args.items() if k != "page" and v}
        return self.render(
            request, "tickets.html", who, page=page, filters=filters, args=args, query=urlencode(query), categories=categories, departments=departments, scoped=desk.scope(who) is not None
        )

    async def on_ticket(self, request: Req, who: SignedIn, number: str) -> bytes:
        policy, now = self.context.policy, self.context.now()

        def work(s: Any) -> tuple[desk.Case, Any, Any]:
            return (desk.case(s, who, number, policy=policy, now=now), *desk.choices(s))

        try:
            case, categories, departments = await self.db(work)
        except TicketNotFound:
            raise HttpError(404, N_("Not found"), N_("There is no such ticket, or it is not your department's.")) from None
        return self.render(request, "ticket.html", who, case=case, categories=categories, departments=departments, error=self.form(request, "error"), satisfaction=policy.satisfaction_levels)

    async def on_ticket_action(self, request: Req, who: SignedIn, number: str, action: str) -> bytes:
        f = self.form
        reason, extra, satisfaction, address = f(request, "reason"), f(request, "extra"), f(request, "satisfaction"), self.address(request)
        try:
            department_id = int(f(request, "department")) if f(request, "department") else None
            category_id = int(f(request, "category")) if f(request, "category") else None
            version = int(f(request, "version")) if f(request, "version") else None
        except ValueError:
            raise HttpError(400, N_("Bad request"), N_("department, category and version are numbers")) from None
        policy = self.context.policy
        try:
            await self.db(
                lambda s: desk.move(
                    s,
                    policy,
                    who,
                    number,
                    action,
                    address=address,
                    reason=reason,
                    department_id=department_id,
                    category_id=category_id,
                    extra=extra,
                    satisfaction=satisfaction,
                    expected_version=version,
                )
            )
        except desk.Forbidden as exc:
            raise HttpError(403, "Not allowed", str(exc)) from None
        except TicketNotFound:
            raise HttpError(404, N_("Not found"), N_("There is no such ticket, or it is not your department's.")) from None
        except (WorkflowError, ValueError) as exc:
            return self.redirect(request, f"/tickets/{number}?" + urlencode({"error": str(exc)}))
        return self.redirect(request, f"/tickets/{number}")

    async def on_new_ticket(self, request: Req, who: SignedIn, *, error: str = "", status: int = 200) -> bytes:
        categories, departments = await self.db(desk.choices)
        values = {k: self.form(request, k) for k in ("caller", "caller_name", "location", "description", "category", "urgency")}
        return self.render(request, "new_ticket.html", who, status, categories=categories, departments=departments, error=error, values=values)

    async def on_create_ticket(self, request: Req, who: SignedIn) -> bytes:
        f = self.form
        try:
            category_id = int(f(request, "category")) if f(request, "category") else None
            urgency = Urgency(f(request, "urgency") or "normal")
        except ValueError:
            return await self.on_new_ticket(request, who, error=N_("Choose a category and an urgency from the lists."), status=400)
        policy, address = self.context.policy, self.address(request)
        try:
            number: str = await self.db(
                lambda s: (
                    desk.create(
                        s,
                        policy,
                        who,
                        address=address,
                        caller_number=f(request, "caller"),
                        caller_name=f(request, "caller_name"),
                        description=f(request, "description"),
                        location=f(request, "location"),
                        category_id=category_id,
                        urgency=urgency,
                    ).number
                )
            )
        except WorkflowError as exc:
            return await self.on_new_ticket(request, who, error=str(exc), status=400)
        return self.redirect(request, f"/tickets/{number}")

    # -- admin

    async def on_users(self, request: Req, who: SignedIn, *, error: str = "", status: int = 200) -> bytes:
        def work(s: Any) -> tuple[list[accounts.Account], Any]:
            return accounts.accounts(s), accounts.departments(s)

        rows, departments = await self.db(work)
        return self.render(request, "users.html", who, status, accounts=rows, departments=departments, error=error, all_roles=list(Role))

    def _account_fields(self, request: Req) -> dict[str, Any]:
        department = self.form(request, "department")
        try:
            department_id = int(department) if department else None
        except ValueError:
            raise users.UserError("choose a department from the list") from None
        return {
            "display_name": self.form(request, "display_name"),
            "roles": [v.decode("utf-8", "replace") for v in (request.args or {}).get(b"roles", [])],
            "department_id": department_id,
            "extension": self.form(request, "extension"),
            "queues": accounts.parse_queues(self.form(request, "queues")),
            "address": self.address(request),
        }

    async def on_create_user(self, request: Req, who: SignedIn) -> bytes:
        try:
            fields = self._account_fields(request)
            username, password = self.form(request, "username"), self.form(request, "password")
            await self.db(lambda s: accounts.create(s, who, username=username, password=password, **fields))
        except users.UserError as exc:
            return await self.on_users(request, who, error=str(exc), status=400)
        return self.redirect(request, "/admin/users")

    async def on_update_user(self, request: Req, who: SignedIn, user_id: int) -> bytes:
        try:
            fields = self._account_fields(request)
            active = self.form(request, "active") == "1"
            await self.db(lambda s: accounts.update(s, who, user_id, active=active, **fields))
        except users.UserError as exc:
            return await self.on_users(request, who, error=str(exc), status=400)
        return self.redirect(request, "/admin/users")

    async def on_audit(self, request: Req, who: SignedIn) -> bytes:
        try:
            page = max(1, int(self.form(request, "page") or "1"))
        except ValueError:
            raise HttpError(400, N_("Bad filter"), N_("page: not a number")) from None
        entries = await self.db(lambda s: audit.recent(s, limit=100, offset=(page - 1) * 100))
        return self.render(request, "audit.html", who, entries=entries, page=page)


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
