"""The desk's HTTP side: a Klein app over the routes table, mounted by the composition root.

Klein because it routes on Twisted itself (werkzeug patterns, handlers that return Deferreds or
coroutines, an IResource to `putChild` under the node's site), with nothing to run beside the
reactor; everything else here (sessions, CSRF, templates) is ours, because Klein's session
machinery assumes its own store and would hide what the audit must see.

`Desk` is every page module's class together (`agent_desk.base.DeskBase` holds the plumbing);
this module keeps the sign-in, ticket and account pages.
"""

from __future__ import annotations

import hmac
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from twisted.logger import Logger
from twisted.web.resource import IResource

from agent_desk import errors
from agent_desk.admin_pages import AdminPages
from agent_desk.api_keys import ApiKeyPages
from agent_desk.base import COOKIE, PRELOGIN_COOKIE, STATIC_TYPES, DeskBase, DeskContext, DeskSettings, HttpError, Req
from agent_desk.i18n import N_
from agent_desk.intake import IntakePages
from agent_desk.knowledge import KnowledgePages
from agent_desk.live import LivePages
from agent_desk.media import MediaPages
from agent_desk.oversight import OversightPages
from agent_desk.reports import ReportPages
from agent_desk.wallboard import WallboardPages
from hotline import audit, users
from hotline.config import Config
from hotline.storage.models import Role
from hotline.tickets import desk, oversight
from hotline.tickets.services import TicketNotFound, TicketPolicy
from hotline.tickets.workflow import WorkflowError
from hotline.users import SignedIn
from hotline.web import accounts, sessions

log = Logger()


def mount(node: Any) -> IResource:
    """The desk role's entry point (`hotline.web`): the desk under /desk/ of the node's site.
    `node` is the role's `hotline.service.Service`."""
    config: Config = node.config
    context = DeskContext(pool=node.pool, policy=TicketPolicy.from_config(config), settings=DeskSettings(base_path="/desk"), metrics=node.metrics, config=config, ami=node.ami, reactor=node.reactor)
    return build_desk(context)


def build_desk(context: DeskContext) -> IResource:
    """The desk as one resource for the composition root to mount at `settings.base_path`."""
    resource: IResource = Desk(context).app.resource()
    return resource


class Desk(KnowledgePages, IntakePages, LivePages, AdminPages, ApiKeyPages, MediaPages, OversightPages, ReportPages, WallboardPages, DeskBase):
    """Every page of the desk."""

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
        policy, now = self.settings.sessions, self.context.now()

        def work(s: Any) -> sessions.LeftSeat | None:
            sessions.logout(s, token, address=address)
            return sessions.left_seat(s, who.user_id, policy=policy, now=now)

        seat = await self.db(work)
        self._set_cookie(request, COOKIE, "", expire=True)
        if seat is not None:  # nobody is at the seat now: it leaves the queues (docs/desk.md)
            try:
                await self.sign_out_seat(seat, "logout", address)
            except Exception:  # noqa: BLE001 - signed out already: a failed audit of the seat leaving is logged, not shown
                log.failure("seat {extension} not signed out of its queues at logout", extension=seat.extension)
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

        page, pickers = await self.read_with_pickers(who, lambda s: desk.search(s, who, filters, tz=tz, now=now))
        query = {k: v for k, v in args.items() if k != "page" and v}
        return self.render(request, "tickets.html", who, page=page, filters=filters, args=args, query=urlencode(query), pickers=pickers, scoped=desk.scope(who) is not None)

    async def on_ticket(self, request: Req, who: SignedIn, number: str) -> bytes:
        policy, now = self.context.policy, self.context.now()

        media_of = self.media_reader(who, number)

        def work(s: Any) -> tuple[desk.Case, oversight.Panel, Any]:
            return desk.case(s, who, number, policy=policy, now=now), oversight.panel(s, who, number, policy=policy, now=now), media_of(s)

        try:
            (case, panel, found), pickers = await self.read_with_pickers(who, work)
        except TicketNotFound:
            raise HttpError(404, N_("Not found"), N_("There is no such ticket, or it is not your department's.")) from None
        part = self.media_part(found)
        return self.render(
            request,
            "ticket.html",
            who,
            case=case,
            pickers=pickers,
            error=self.form(request, "error"),
            satisfaction=policy.satisfaction_levels,
            oversight=panel,
            media=part,
        )

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
            raise HttpError(403, N_("Not allowed"), errors.explain(exc, who.language)) from None
        except TicketNotFound:
            raise HttpError(404, N_("Not found"), N_("There is no such ticket, or it is not your department's.")) from None
        except (WorkflowError, ValueError) as exc:
            text = errors.explain(exc, who.language) if isinstance(exc, WorkflowError) else str(exc)
            return self.redirect(request, f"/tickets/{number}?" + urlencode({"error": text}))
        return self.redirect(request, f"/tickets/{number}")

    # -- admin

    async def on_users(self, request: Req, who: SignedIn, *, error: str = "", status: int = 200) -> bytes:
        def work(s: Any) -> tuple[list[accounts.Account], Any]:
            return accounts.accounts(s), accounts.departments(s)

        rows, departments = await self.read(work)
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
        entries = await self.read(lambda s: audit.recent(s, limit=100, offset=(page - 1) * 100))
        return self.render(request, "audit.html", who, entries=entries, page=page)
