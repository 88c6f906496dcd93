"""Oversight pages: the overdue and due-soon board, 督办, extension requests and their
decisions, reworked cases and the printable daily summary. The logic and the queries are
`hotline.tickets.oversight`; these handlers parse the request, call it through the pool and
render."""

from __future__ import annotations

from datetime import date
from typing import Any
from urllib.parse import urlencode

from agent_desk.base import DeskBase, HttpError, Req
from agent_desk.i18n import N_
from hotline.tickets import desk, oversight
from hotline.tickets.services import TicketNotFound
from hotline.tickets.workflow import WorkflowError
from hotline.users import SignedIn

_NOT_FOUND = (404, N_("Not found"), N_("There is no such ticket, or it is not your department's."))


class OversightPages(DeskBase):
    """督办 and the supervisor's view of deadlines."""

    def _args(self, request: Req) -> dict[str, str]:
        return {k.decode("utf-8", "replace"): v[0].decode("utf-8", "replace") for k, v in (request.args or {}).items() if v}

    async def on_oversight_board(self, request: Req, who: SignedIn) -> bytes:
        args = self._args(request)
        try:
            filters = oversight.BoardFilters.parse(args)
        except ValueError as exc:
            raise HttpError(400, N_("Bad filter"), str(exc)) from None
        policy, now = self.context.policy, self.context.now()

        board, pickers = await self.read_with_pickers(who, lambda s: oversight.board(s, who, filters, policy=policy, now=now))
        query = {k: v for k, v in args.items() if k != "sort" and v}
        return self.render(
            request, "oversight_board.html", who, board=board, filters=filters, args=args, query=urlencode(query), pickers=pickers,
            scoped=desk.scope(who) is not None, sorts=oversight.SORTS,
        )  # fmt: skip

    async def _case_move(self, request: Req, number: str, work: Any) -> bytes:
        """Run one oversight change on a case and go back to the case (with the error, if any)."""
        try:
            await self.db(work)
        except desk.Forbidden as exc:
            raise HttpError(403, N_("Not allowed"), str(exc)) from None
        except TicketNotFound:
            raise HttpError(*_NOT_FOUND) from None
        except (WorkflowError, ValueError) as exc:
            return self.redirect(request, f"/tickets/{number}?" + urlencode({"error": str(exc)}) + "#oversight")
        return self.redirect(request, f"/tickets/{number}#oversight")

    async def on_oversight_urge(self, request: Req, who: SignedIn, number: str) -> bytes:
        note, address, policy, now = self.form(request, "note"), self.address(request), self.context.policy, self.context.now()
        return await self._case_move(request, number, lambda s: oversight.urge(s, policy, who, number, note=note, address=address, now=now))

    async def on_oversight_request_extension(self, request: Req, who: SignedIn, number: str) -> bytes:
        try:
            extra = oversight.parse_extra(self.form(request, "amount"), self.form(request, "unit"))
        except ValueError as exc:
            raise HttpError(400, N_("Bad request"), str(exc)) from None
        reason, address, policy, now = self.form(request, "reason"), self.address(request), self.context.policy, self.context.now()
        return await self._case_move(request, number, lambda s: oversight.request_extension(s, policy, who, number, extra=extra, reason=reason, address=address, now=now))

    async def on_oversight_decide_extension(self, request: Req, who: SignedIn, number: str) -> bytes:
        decision = self.form(request, "decision")
        try:
            request_id = int(self.form(request, "request"))
        except ValueError:
            raise HttpError(400, N_("Bad request"), N_("request: not a number")) from None
        if decision not in ("approve", "refuse"):
            raise HttpError(400, N_("Bad request"), N_("decision: approve or refuse"))
        note, address, policy, now = self.form(request, "note"), self.address(request), self.context.policy, self.context.now()
        return await self._case_move(request, number, lambda s: oversight.decide_extension(s, policy, who, number, request_id, approve=decision == "approve", note=note, address=address, now=now))

    async def on_oversight_reworked(self, request: Req, who: SignedIn) -> bytes:
        args = self._args(request)
        try:
            department_id = int(args["department"]) if args.get("department") else None
            category_id = int(args["category"]) if args.get("category") else None
            since = date.fromisoformat(args["since"]) if args.get("since") else None
            until = date.fromisoformat(args["until"]) if args.get("until") else None
        except ValueError:
            raise HttpError(400, N_("Bad filter"), N_("department and category are numbers; since and until are dates (YYYY-MM-DD)")) from None
        tz = self.tz

        rows, pickers = await self.read_with_pickers(who, lambda s: oversight.reworked(s, who, tz=tz, department_id=department_id, category_id=category_id, since=since, until=until))
        return self.render(request, "oversight_reworked.html", who, rows=rows, args=args, pickers=pickers, scoped=desk.scope(who) is not None)

    async def on_oversight_daily(self, request: Req, who: SignedIn) -> bytes:
        now, tz = self.context.now(), self.tz
        text = self.form(request, "date").strip()
        try:
            day = date.fromisoformat(text) if text else now.astimezone(tz).date()
        except ValueError:
            raise HttpError(400, N_("Bad filter"), N_("date: a day as YYYY-MM-DD")) from None
        summary = await self.read(lambda s: oversight.daily_summary(s, who, day, tz=tz, now=now))
        return self.render(request, "oversight_daily.html", who, summary=summary, figures=oversight.DAILY_FIGURES, names={k: (zh, en) for k, zh, en in oversight.DAILY_FIGURES}, printed_at=now)


#: Message ids the oversight templates look up by value, listed so extraction finds them.
LOOKED_UP = (
    N_("extension:pending"), N_("extension:approved"), N_("extension:refused"), N_("extension:lapsed"),
    N_("working_hours"), N_("working_days"),
)  # fmt: skip
