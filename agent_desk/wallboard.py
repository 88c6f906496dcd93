"""The wallboard for supervisors: per queue what is happening now and today's and the last
hour's figures, agents by state. The figures are the core's pure function
(`hotline.reports.wallboard.wallboard`); this module gathers its inputs and serves the page and
its JSON snapshot, which static/wallboard.js fetches when the desk's event stream says queues
or agents changed (agent_desk/live.py's `queues` event), and every few seconds as a fallback."""

from __future__ import annotations

import functools
import gettext
import json
from typing import Any

from agent_desk import i18n
from agent_desk.base import DeskBase, Req
from agent_desk.i18n import N_
from hotline.reports import wallboard as board
from hotline.tickets import kpi
from hotline.users import SignedIn

#: Agent states and what the board calls them.
STATE_LABELS = {
    "ready": N_("Ready"),
    "ringing": N_("Ringing"),
    "on_call": N_("On a call"),
    "wrapup": N_("Wrap-up"),
    "paused": N_("Paused"),
    "unavailable": N_("Logged off"),
    "unknown": N_("Unknown"),
}
#: How often the page asks for a new snapshot.
REFRESH_SECONDS = 5


class WallboardPages(DeskBase):
    """/wallboard and /wallboard/data."""

    def _queue_settings(self) -> list[board.QueueSetting]:
        config = self.context.config
        if config is None:
            return []
        return [board.QueueSetting(q.name, q.label_zh, q.label_en, q.service_level_seconds, q.wrapup_seconds) for q in config.queues]

    async def wallboard_now(self) -> board.Wallboard:
        """The board as of now: the call records' figures from a pool thread, the live
        model's snapshot on the reactor thread (where the model lives)."""
        settings, tz, now = self._queue_settings(), self.tz, self.context.now()
        thresholds = {q.service_level_seconds for q in settings} or {kpi.CALL_SERVICE_LEVEL_SECONDS}
        figures: board.DatabaseFigures = await self.context.pool.read(lambda s: board.database_figures(s, now, tz, thresholds))
        snapshot = self.context.ami.snapshot() if self.context.ami is not None else None
        return board.wallboard(snapshot, figures, self.context.now(), settings)

    def wallboard_json(self, data: board.Wallboard, language: str) -> dict[str, Any]:
        """The snapshot the page renders, with the state names in the reader's language."""
        catalogue = _catalogue(language if language in i18n.LANGUAGES else i18n.DEFAULT)
        return data.as_json() | {"state_labels": {state: catalogue.gettext(label) for state, label in STATE_LABELS.items()}, "refresh_seconds": REFRESH_SECONDS}

    async def on_wallboard(self, request: Req, who: SignedIn) -> bytes:
        data = await self.wallboard_now()
        dark = self.form(request, "theme") == "dark"
        initial = self.wallboard_json(data, who.language)
        return self.render(request, "wallboard.html", who, board=data, initial=initial, dark=dark, target=board.ANSWER_RATE_TARGET, refresh=REFRESH_SECONDS)

    async def on_wallboard_data(self, request: Req, who: SignedIn) -> bytes:
        payload = self.wallboard_json(await self.wallboard_now(), who.language)
        request.setHeader(b"content-type", b"application/json; charset=utf-8")
        request.setHeader(b"cache-control", b"no-store")
        return json.dumps(payload, ensure_ascii=False).encode()


@functools.cache
def _catalogue(language: str) -> gettext.NullTranslations:
    return i18n.catalogue(language)
