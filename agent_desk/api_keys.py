"""Admin page: the Open311 API's keys (one per city app or mini-program). Created with a name,
shown once on the page that creates it, revoked at once; every change audited (hotline.apikeys).
The desk knows keys only through the core; the API itself is the `open311` feature."""

from __future__ import annotations

from typing import Any

from agent_desk.base import DeskBase, HttpError, Req
from agent_desk.i18n import N_
from hotline import apikeys
from hotline.users import SignedIn

#: Fixed texts of hotline.apikeys and values the page looks up, for extraction.
LOOKED_UP = (N_("open311"), N_("name the client the key is for (e.g. 城管通 app)"))


class ApiKeyPages(DeskBase):
    async def on_api_keys(self, request: Req, who: SignedIn, *, created: Any = None, error: str = "", status: int = 200) -> bytes:
        rows = await self.read(apikeys.keys)
        return self.render(request, "api_keys.html", who, status, keys=rows, created=created, error=error, values={"name": self.form(request, "name"), "note": self.form(request, "note")})

    def _who(self, request: Req, who: SignedIn) -> apikeys.Who:
        return apikeys.Who(who.username, who.user_id, self.address(request))

    async def on_create_api_key(self, request: Req, who: SignedIn) -> bytes:
        name, note, actor = self.form(request, "name"), self.form(request, "note"), self._who(request, who)
        try:
            info, key = await self.db(lambda s: apikeys.create(s, actor, name, note))
        except apikeys.ApiKeyError as exc:
            return await self.on_api_keys(request, who, error=str(exc), status=400)
        # The key is on this page only: it is not stored, and the answer is not cached (render sets no-store).
        return await self.on_api_keys(request, who, created={"info": info, "key": key})

    async def on_revoke_api_key(self, request: Req, who: SignedIn) -> bytes:
        try:
            key_id = int(self.form(request, "key_id"))
        except ValueError:
            raise HttpError(400, N_("Bad request"), N_("Choose a key from the list.")) from None
        actor = self._who(request, who)
        try:
            await self.db(lambda s: apikeys.revoke(s, actor, key_id))
        except apikeys.ApiKeyError as exc:
            return await self.on_api_keys(request, who, error=str(exc), status=400)
        return self.redirect(request, "/admin/api-keys")
