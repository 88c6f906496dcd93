"""Intake pages: the new-ticket form (opened from a call with `?call=<uniqueid>`), the category
search it asks as the operator types, likely duplicates offered before a second case is
opened, adding the caller to an existing case, finding a case by number or phone while on the
call, and who reported a case (on the ticket page).

The logic is `hotline.tickets.intake` and `hotline.tickets.category_search`; this module reads
the request, hands the work to the database pool and renders. Fragments (`partial=1`, the
duplicates and reporters panels) are the same templates the full pages include, so a page
without JavaScript shows the same thing after a reload.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any
from urllib.parse import urlencode

from prometheus_client import Counter

from agent_desk.base import DeskBase, DeskContext, HttpError, Req
from agent_desk.i18n import N_
from hotline.calllog.records import link_ticket
from hotline.tickets import category_search, desk, intake
from hotline.tickets.services import TicketNotFound
from hotline.tickets.workflow import InvalidValue
from hotline.users import SignedIn

#: Message ids of `hotline.tickets.intake`'s field errors, for extraction (the templates translate them).
_MESSAGES = (
    N_("Not a phone number: digits only, e.g. 13812345678 or 0532 12345678."), N_("Choose a category from the list."),
    N_("Choose whether to open a ticket or answer directly."), N_("Choose an urgency from the list."),
    N_("Describe the problem or the question in the caller's words."), N_("Say where the problem is: road and number, or a landmark."),
    N_("Write the answer given to the caller."), N_("Too long: shorten this field."),
    N_("There is no record of this call; the ticket can be opened without it."),
    N_("Say why this is not the same problem as the cases offered, or add the caller to one of them."),
    N_("This case is already finished; open a new ticket instead."), N_("Type a ticket number or the caller's phone number."),
)  # fmt: skip


class IntakePages(DeskBase):
    """The intake form, duplicates, adding a caller to a case, and finding a case on the phone."""

    def __init__(self, context: DeskContext) -> None:
        super().__init__(context)
        self.intake_outcomes: Counter | None = None
        if context.metrics is not None:
            self.intake_outcomes = Counter(
                "hotline_intake", "Intake outcomes: ticket, answered (直接答复), duplicates_offered, duplicate_linked (重复件 joined), despite_duplicates",
                ["outcome"], registry=context.metrics.registry,
            )  # fmt: skip

    @property
    def duplicate_days(self) -> int:
        config = self.context.config
        return config.tickets.duplicate_days if config is not None else intake.DUPLICATE_DAYS

    def _count(self, outcome: str) -> None:
        if self.intake_outcomes is not None:
            self.intake_outcomes.labels(outcome).inc()

    def _intake_form(self, request: Req) -> intake.IntakeForm:
        return intake.IntakeForm.from_fields(lambda name: self.form(request, name))

    # -- the form

    async def on_new_ticket(self, request: Req, who: SignedIn, *, form: intake.IntakeForm | None = None, errors: dict[str, str] | None = None, notice: str = "", status: int = 200) -> bytes:
        first_open = form is None
        typed = form or self._intake_form(request)
        days, tz, now = self.duplicate_days, self.tz, self.context.now()

        def work(s: Any) -> dict[str, Any]:
            call = intake.call_info(s, who, typed.call) if typed.call.strip() else None
            category_id = int(typed.category) if typed.category.isdigit() else None
            duplicates = intake.find_duplicates(s, who, category_id=category_id, location=typed.location, days=days, now=now)
            caller_cases: list[intake.Found] = []
            number = typed.caller or (call.caller if call else "")
            if call is not None and number:
                try:
                    caller_cases = intake.find_cases(s, who, number, tz=tz, now=now)
                except InvalidValue:
                    caller_cases = []
            return {"call": call, "duplicates": duplicates, "caller_cases": caller_cases}

        data, pickers = await self.read_with_pickers(who, work)
        errors = dict(errors or {})
        call = data["call"]
        if typed.call.strip() and call is None:
            errors.setdefault("call", "There is no record of this call; the ticket can be opened without it.")
        if first_open and call is not None:
            typed = dataclasses.replace(typed, caller=typed.caller or call.caller, caller_name=typed.caller_name or call.caller_name)
        typed = dataclasses.replace(typed, offered=",".join(d.row.number for d in data["duplicates"]))
        return self.render(request, "new_ticket.html", who, status, values=typed, errors=errors, notice=notice, days=days, query=typed.caller or (call.caller if call else ""), pickers=pickers, **data)

    async def on_create_ticket(self, request: Req, who: SignedIn) -> bytes:
        form = self._intake_form(request)
        policy, address, days, now = self.context.policy, self.address(request), self.duplicate_days, self.context.now()
        try:
            number: str = await self.db(lambda s: intake.open_case(s, policy, who, form, address=address, link_call=link_ticket, duplicate_days=days, now=now).number)
        except desk.Forbidden as exc:
            raise HttpError(403, N_("Not allowed"), str(exc)) from None
        except intake.DuplicatesFound:
            self._count("duplicates_offered")
            return await self.on_new_ticket(
                request, who, form=form, notice=N_("Likely duplicates found: nothing was saved yet. Add the caller to one of them, or say why this is a new problem."), status=409
            )
        except intake.IntakeInvalid as exc:
            return await self.on_new_ticket(request, who, form=form, errors=exc.errors, status=400)
        self._count("answered" if form.outcome == "answer" else "despite_duplicates" if form.offered_numbers else "ticket")
        return self.redirect(request, f"/tickets/{number}")

    # -- what the form asks while the operator types

    async def on_intake_categories(self, request: Req, who: SignedIn) -> bytes:
        query = self.form(request, "q")
        request.setHeader(b"content-type", b"application/json; charset=utf-8")
        request.setHeader(b"cache-control", b"no-store")
        if len(query) > category_search.MAX_QUERY:
            request.setResponseCode(400)
            return json.dumps({"error": f"q: at most {category_search.MAX_QUERY} characters"}).encode()
        index: category_search.CategoryIndex = await self.context.pool.read(category_search.index_for)
        return json.dumps({"query": query, "results": [h.as_json() for h in index.search(query)]}, ensure_ascii=False).encode()

    async def on_intake_duplicates(self, request: Req, who: SignedIn) -> bytes:
        category, location = self.form(request, "category"), self.form(request, "location")
        if category and not category.isdigit():
            raise HttpError(400, N_("Bad request"), N_("Choose a category from the list."))
        days, now = self.duplicate_days, self.context.now()
        duplicates = await self.context.pool.read(
            lambda s: intake.find_duplicates(s, who, category_id=int(category) if category else None, location=location[: intake.LIMITS["location"]], days=days, now=now)
        )
        return self.render(request, "intake_duplicates.html", who, duplicates=duplicates, days=days, values=intake.IntakeForm(), errors={})

    # -- the caller joins an existing case

    async def on_intake_link(self, request: Req, who: SignedIn) -> bytes:
        form, number = self._intake_form(request), self.form(request, "ticket")
        policy, address, now = self.context.policy, self.address(request), self.context.now()
        if not number.strip():
            return await self.on_new_ticket(request, who, form=form, errors={"ticket": N_("Choose the case to add the caller to.")}, status=400)
        try:
            await self.db(lambda s: intake.link_reporter(s, policy, who, number, form, address=address, link_call=link_ticket, now=now))
        except desk.Forbidden as exc:
            raise HttpError(403, N_("Not allowed"), str(exc)) from None
        except TicketNotFound:
            return await self.on_new_ticket(request, who, form=form, errors={"ticket": N_("There is no such ticket, or it is not your department's.")}, status=404)
        except intake.IntakeInvalid as exc:
            return await self.on_new_ticket(request, who, form=form, errors=exc.errors, status=400)
        self._count("duplicate_linked")
        return self.redirect(request, "/intake/find?" + urlencode({"q": number, "linked": number}))

    # -- finding a case on the phone

    async def on_intake_find(self, request: Req, who: SignedIn) -> bytes:
        query, partial, linked = self.form(request, "q").strip(), self.form(request, "partial") == "1", self.form(request, "linked")
        tz, now = self.tz, self.context.now()
        found: list[intake.Found] = []
        error, status = "", 200
        if query:
            try:
                found = await self.context.pool.read(lambda s: intake.find_cases(s, who, query, tz=tz, now=now))
            except InvalidValue as exc:
                error, status = str(exc), 400
        template = "intake_found.html" if partial else "intake_find.html"
        return self.render(request, template, who, status, query=query, found=found, error=error, linked=linked if linked.isdigit() else "", language_first=self.form(request, "lang"))

    async def on_ticket_reporters(self, request: Req, who: SignedIn, number: str) -> bytes:
        try:
            people = await self.context.pool.read(lambda s: intake.reporters(s, who, number))
        except TicketNotFound:
            raise HttpError(404, N_("Not found"), N_("There is no such ticket, or it is not your department's.")) from None
        return self.render(request, "intake_reporters_list.html", who, people=people)
