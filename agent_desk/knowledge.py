"""Knowledge base pages (知识库): the list with search, the editor for supervisors and
administrators, a supervisor's review, the JSON search the intake form asks while the caller
is on the line, and "use this answer" (counted; with a ticket, the consultation is closed as
answered directly).

The logic is `hotline.tickets.knowledge`; this module reads the request, hands the work to the
database pool (jieba's dictionary loads there at the first search) and renders.
"""

from __future__ import annotations

import json
from urllib.parse import urlencode

from agent_desk.base import DeskBase, HttpError, Req
from agent_desk.i18n import N_
from hotline.tickets import desk, knowledge
from hotline.tickets.services import TicketNotFound
from hotline.tickets.workflow import InvalidValue, WorkflowError
from hotline.users import SignedIn

#: Message ids of `hotline.tickets.knowledge`'s field errors, for extraction (the templates translate them).
_MESSAGES = (N_("Write the question as a caller would ask it."), N_("Write the answer to read out to the caller."))


class KnowledgePages(DeskBase):
    """The knowledge base: list, search, edit, review, use."""

    def _answer_id(self, request: Req, *, required: bool = True) -> int | None:
        value = self.form(request, "id").strip()
        if not value and not required:
            return None
        if not value.isdigit() or len(value) > 12:
            raise HttpError(400, N_("Bad request"), N_("Choose an answer from the knowledge base."))
        return int(value)

    async def on_knowledge(self, request: Req, who: SignedIn) -> bytes:
        query, done = self.form(request, "q").strip(), self.form(request, "done")
        editor = bool(who.roles & knowledge.EDITORS)
        entries: list[knowledge.Entry] = []
        error, status = "", 200
        try:
            entries = await self.context.pool.read(lambda s: knowledge.search(s, query, include_inactive=editor, limit=0 if not query else knowledge.MAX_RESULTS))
        except InvalidValue:
            error, status = N_("The search is too long: at most 200 characters."), 400
        return self.render(
            request, "knowledge.html", who, status, query=query, entries=entries, error=error, editor=editor,
            reviewer=bool(who.roles & knowledge.REVIEWERS), done=done if done in ("saved", "reviewed", "used") else "",
        )  # fmt: skip

    async def on_knowledge_search(self, request: Req, who: SignedIn) -> bytes:
        query = self.form(request, "q")
        request.setHeader(b"content-type", b"application/json; charset=utf-8")
        request.setHeader(b"cache-control", b"no-store")
        try:
            entries: list[knowledge.Entry] = await self.context.pool.read(lambda s: knowledge.search(s, query))
        except InvalidValue:
            request.setResponseCode(400)
            return json.dumps({"error": f"q: at most {knowledge.MAX_QUERY} characters"}).encode()
        return json.dumps({"query": query, "results": [e.as_json() for e in entries]}, ensure_ascii=False).encode()

    async def on_knowledge_form(self, request: Req, who: SignedIn, *, form: knowledge.AnswerForm | None = None, errors: dict[str, str] | None = None, status: int = 200) -> bytes:
        answer_id = self._answer_id(request, required=False)

        try:
            entry, pickers = await self.read_with_pickers(who, lambda s: knowledge.get(s, answer_id) if answer_id is not None else None)
        except knowledge.AnswerNotFound:
            raise HttpError(404, N_("Not found"), N_("There is no such answer in the knowledge base.")) from None
        values = form or (knowledge.AnswerForm.of(entry) if entry else knowledge.AnswerForm())
        return self.render(request, "knowledge_form.html", who, status, values=values, errors=errors or {}, answer_id=answer_id, entry=entry, pickers=pickers)

    async def on_knowledge_save(self, request: Req, who: SignedIn) -> bytes:
        answer_id = self._answer_id(request, required=False)
        form = knowledge.AnswerForm.from_fields(lambda name: self.form(request, name))
        address = self.address(request)
        try:
            await self.db(lambda s: knowledge.save(s, who, form, answer_id=answer_id, address=address).id)
        except knowledge.KnowledgeInvalid as exc:
            return await self.on_knowledge_form(request, who, form=form, errors=exc.errors, status=400)
        except knowledge.AnswerNotFound:
            raise HttpError(404, N_("Not found"), N_("There is no such answer in the knowledge base.")) from None
        return self.redirect(request, "/knowledge?" + urlencode({"done": "saved"}))

    async def on_knowledge_review(self, request: Req, who: SignedIn) -> bytes:
        answer_id = self._answer_id(request)
        assert answer_id is not None
        address = self.address(request)
        try:
            await self.db(lambda s: knowledge.review(s, who, answer_id, address=address).id)
        except knowledge.AnswerNotFound:
            raise HttpError(404, N_("Not found"), N_("There is no such answer in the knowledge base.")) from None
        return self.redirect(request, "/knowledge?" + urlencode({"done": "reviewed"}))

    async def on_knowledge_use(self, request: Req, who: SignedIn) -> bytes:
        """With `ticket`: close that consultation with the answer and go to it. Without: only
        count the use (the intake form copied the answer) and answer 204."""
        answer_id = self._answer_id(request)
        assert answer_id is not None
        number, policy, address = self.form(request, "ticket").strip(), self.context.policy, self.address(request)
        if len(number) > 32:
            raise HttpError(400, N_("Bad request"), N_("There is no such ticket, or it is not your department's."))
        try:
            await self.db(lambda s: knowledge.use(s, policy, who, answer_id, number=number, address=address))
        except knowledge.AnswerNotFound:
            raise HttpError(404, N_("Not found"), N_("There is no such answer in the knowledge base.")) from None
        except TicketNotFound:
            raise HttpError(404, N_("Not found"), N_("There is no such ticket, or it is not your department's.")) from None
        except desk.Forbidden as exc:
            raise HttpError(403, N_("Not allowed"), str(exc)) from None
        except WorkflowError:
            raise HttpError(409, N_("Not possible"), N_("Only a consultation just received can be answered directly; this case has moved on.")) from None
        if not number:
            request.setResponseCode(204)
            return b""
        return self.redirect(request, f"/tickets/{number}")
