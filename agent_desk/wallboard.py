"""The wallboard for supervisors: per queue what is happening now and today's and the last
hour's figures, agents by state. The figures are the core's pure function
(`hotline.reports.wallboard.wallboard`); this module gathers its inputs and serves the page and
its JSON snapshot, which static/wallboard.js fetches when the desk's event stream says queues
or agents changed (agent_desk/live.py's `queues` event), and every few seconds as a fallback.

From an agent's row a supervisor (or admin) pauses, unpauses or logs off the operator's seat —
the same QueuePause/QueueRemove the console and `hotline queue` send (`hotline.ami.seats`) —
or listens in (ChanSpy, when `desk.listen_in` is on). The board shows what Asterisk reports
back, never what was clicked; the operator is told on their own stream."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlencode

from twisted.logger import Logger

from agent_desk import i18n
from agent_desk.base import DeskBase, Req
from agent_desk.i18n import N_
from agent_desk.live import ACTION_TIMEOUT, REASON_LABELS
from agent_desk.reports import explainer
from hotline import audit, users
from hotline.ami import seats
from hotline.ami.actions import ActionValueError, OriginateResult
from hotline.ami.client import AmiActionError, AmiError
from hotline.dialplan import skill_of
from hotline.reports import wallboard as board
from hotline.reports.report import Language
from hotline.tickets import kpi
from hotline.users import SignedIn
from hotline.web.hub import Hub

log = Logger()

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


def figure_docs(language: str) -> dict[str, str]:
    """Each figure's name and formula for its hover text: the reports' one definition
    (`Column.doc`, docs/kpi.md) through the catalogues, as the reports page shows it."""
    lang: Language = "zh" if language == "zh_Hans" else "en"
    explain = explainer(language)
    separator = "：" if lang == "zh" else ": "
    return {attr: f"{column.title(lang)}{separator}{explain(column.doc)}" for attr, column in (*board.RECORDED_FIGURES, *board.LIVE_FIGURES)}


#: How often the page asks for a new snapshot.
REFRESH_SECONDS = 5
#: A seat as a form sends it: a PJSIP endpoint name.
_SEAT = re.compile(r"^[A-Za-z0-9_.\-]{1,32}$")
#: The seat commands of the wallboard: route → (the console's state name, audit action, what
#: the supervisor is told after it, what the operator is told).
_COMMANDS = {
    "pause": ("pause", "supervisor_pause", N_("Asked Asterisk to pause seat %(seat)s; the agent list shows what it reports."), N_("Supervisor %(who)s paused your seat %(seat)s (%(reason)s).")),
    "unpause": (
        "ready",
        "supervisor_unpause",
        N_("Asked Asterisk to unpause seat %(seat)s; the agent list shows what it reports."),
        N_("Supervisor %(who)s unpaused your seat %(seat)s: calls can reach you again."),
    ),
    "logoff": (
        "logoff",
        "supervisor_logoff",
        N_("Asked Asterisk to log seat %(seat)s off every queue; the agent list shows what it reports."),
        N_("Supervisor %(who)s logged your seat %(seat)s off every queue."),
    ),
}
_LISTENING = N_("Calling your phone %(phone)s: answer it to listen in on seat %(seat)s.")
#: OriginateResult.reason_text → why the supervisor's phone did not take the listen-in call.
_ORIGINATE_WHY = {"busy": N_("busy"), "no_answer": N_("no answer"), "congestion": N_("congestion"), "hangup": N_("hung up"), "failed": N_("the call failed")}


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
        catalogue = i18n.catalogue(language)
        return data.as_json() | {
            "state_labels": {state: catalogue.gettext(label) for state, label in STATE_LABELS.items()},
            "reason_labels": {code: catalogue.gettext(label) for code, label in REASON_LABELS.items()},
            # Each figure's name and formula (the reports' and docs/kpi.md's), for the hover texts.
            "figure_docs": figure_docs(language),
            "refresh_seconds": REFRESH_SECONDS,
        }

    async def on_wallboard(self, request: Req, who: SignedIn, *, error: str = "", details: tuple[str, ...] = (), status: int = 200) -> bytes:
        data = await self.wallboard_now()
        dark = self.form(request, "theme") == "dark"
        initial = self.wallboard_json(data, who.language)
        done, seat = self.form(request, "done"), self.form(request, "seat")
        notice = ""
        if not error and _SEAT.match(seat) and (done in _COMMANDS or done == "listen"):
            notice = self._text(who.language, _COMMANDS[done][2] if done in _COMMANDS else _LISTENING, seat=seat, phone=who.extension or "")
        config = self.context.config
        return self.render(
            request,
            "wallboard.html",
            who,
            status,
            board=data,
            initial=initial,
            dark=dark,
            target=board.ANSWER_RATE_TARGET,
            refresh=REFRESH_SECONDS,
            recorded=board.RECORDED_FIGURES,
            figure_docs=initial["figure_docs"],
            live_figures=dict(board.LIVE_FIGURES),
            reasons={code: REASON_LABELS[code] for code in seats.SUPERVISOR_REASONS},
            listen=config is not None and config.desk.listen_in and bool(who.extension),
            error=error,
            details=details,
            notice=notice,
        )

    # -- seat control

    #: The desk's event fan-out (agent_desk.live.LivePages; `Desk` has both).
    hub: Hub
    _originates: seats.OriginateWatch | None = None

    async def on_wallboard_pause(self, request: Req, who: SignedIn) -> bytes:
        return await self._seat_command(request, who, "pause")

    async def on_wallboard_unpause(self, request: Req, who: SignedIn) -> bytes:
        return await self._seat_command(request, who, "unpause")

    async def on_wallboard_logoff(self, request: Req, who: SignedIn) -> bytes:
        return await self._seat_command(request, who, "logoff")

    @staticmethod
    def _text(language: str, message: str, **values: str) -> str:
        """`message` in `language`, with its values filled in."""
        return i18n.catalogue(language).gettext(message) % values

    async def _refuse(self, request: Req, who: SignedIn, status: int, message: str, details: tuple[str, ...] = (), **values: str) -> bytes:
        return await self.on_wallboard(request, who, error=self._text(who.language, message, **values), details=details, status=status)

    async def _target(self, request: Req, who: SignedIn) -> tuple[str, seats.SeatState | None, bytes | None]:
        """The seat the form names and Asterisk's view of it, or the page refusing it: no seat,
        Asterisk away, the seat in no queue."""
        extension = self.form(request, "seat")
        if not _SEAT.match(extension):
            return extension, None, await self._refuse(request, who, 400, N_("Choose an operator's seat from the agent list."))
        ami = self.context.ami
        if ami is None or not ami.enabled or not ami.client.connected:
            message = N_("Not connected to the phone system (Asterisk): seat %(seat)s cannot be changed just now. Try again in a moment.")
            return extension, None, await self._refuse(request, who, 503, message, seat=extension)
        snapshot = ami.snapshot()
        skills = tuple(s for s in (skill_of(q.name) for q in snapshot.queues) if s)
        state = seats.seat_state(snapshot, extension, skills)
        if not state.joined:
            return extension, None, await self._refuse(request, who, 409, N_("Seat %(seat)s is in no queue (logged off): there is nothing to change."), seat=extension)
        return extension, state, None

    async def _seat_command(self, request: Req, who: SignedIn, command: str) -> bytes:
        wanted, action, _, told = _COMMANDS[command]
        reason = self.form(request, "reason") if command == "pause" else ""
        if command == "pause" and reason not in seats.SUPERVISOR_REASONS:
            return await self._refuse(request, who, 400, N_("Choose why the seat is paused."))
        extension, state, refused = await self._target(request, who)
        if refused is not None or state is None:
            return refused or b""
        steps = seats.plan(wanted, state.joined, state.joined)
        try:
            errors = await seats.send_steps(self.context.ami.client, extension, steps, reason or None, ACTION_TIMEOUT)
        except ActionValueError as exc:
            return await self._refuse(request, who, 400, N_("Asterisk would misread this: %(problem)s"), problem=str(exc))
        address = self.address(request)
        detail: dict[str, Any] = {"extension": extension, "queues": [s for _, s in steps], **({"reason": reason} if reason else {}), **({"errors": errors} if errors else {})}

        def work(s: Any) -> list[users.SeatHolder]:
            holders = users.seat_holders(s, extension)
            detail["operators"] = [h.username for h in holders]
            audit.record(s, action, user_id=who.user_id, username=who.username, target=f"seat:{extension}", address=address, detail=detail)
            return holders

        holders: list[users.SeatHolder] = await self.db(work)
        if len(errors) < len(steps):
            for holder in holders:
                reason_label = self._text(holder.language, REASON_LABELS[reason]) if reason else ""
                self.hub.publish("notice", {"text": self._text(holder.language, told, who=who.display_name, seat=extension, reason=reason_label)}, user_id=holder.user_id)
        if errors:
            return await self._refuse(request, who, 502, N_("Asterisk refused the change to seat %(seat)s; the agent list shows what it reports."), details=tuple(errors), seat=extension)
        return self.redirect(request, "/wallboard?" + urlencode({"done": command, "seat": extension}))

    async def on_wallboard_listen(self, request: Req, who: SignedIn) -> bytes:
        config = self.context.config
        if config is None or not config.desk.listen_in:
            return await self._refuse(request, who, 409, N_("Listening in is off: an administrator turns it on with [desk] listen_in = true, which also grants the AMI user the originate class."))
        if not who.extension:
            return await self._refuse(request, who, 409, N_("Your account has no seat (extension) to ring; an administrator sets it on the users page."))
        extension, state, refused = await self._target(request, who)
        if refused is not None or state is None:
            return refused or b""
        if extension == who.extension:
            return await self._refuse(request, who, 400, N_("That is your own seat."))
        listener, errors = who.extension, []
        try:
            response = await self.context.ami.client.send(seats.listen_action(listener, extension), timeout=ACTION_TIMEOUT)
        except AmiActionError as exc:
            errors.append(exc.message)
        except AmiError as exc:
            errors.append(f"{type(exc).__name__}: {exc}")
        else:
            if self._originates is None:
                self._originates = seats.OriginateWatch(self.context.ami.client)
            self._originates.expect(response, lambda result: self._listen_outcome(who, extension, result))
        address = self.address(request)
        detail: dict[str, Any] = {"extension": extension, "listener": listener, "options": seats.LISTEN_OPTIONS, **({"errors": errors} if errors else {})}

        def work(s: Any) -> None:
            detail["operators"] = [h.username for h in users.seat_holders(s, extension)]
            audit.record(s, "supervisor_listen", user_id=who.user_id, username=who.username, target=f"seat:{extension}", address=address, detail=detail)

        await self.db(work)
        if errors:
            hint = N_("Asterisk refused to call your phone %(phone)s (a 'Permission denied' means the AMI user lacks the originate class: hotline asterisk-config check-manager).")
            return await self._refuse(request, who, 502, hint, details=tuple(errors), phone=listener)
        return self.redirect(request, "/wallboard?" + urlencode({"done": "listen", "seat": extension}))

    def _listen_outcome(self, who: SignedIn, extension: str, result: OriginateResult) -> None:
        """Tell the supervisor, on their own stream, whether their phone took the call."""
        if result.answered:
            text = self._text(who.language, N_("Listening in on seat %(seat)s: hang up your phone to stop."), seat=extension)
        else:
            why = self._text(who.language, _ORIGINATE_WHY.get(result.reason_text, N_("the call failed")))
            text = self._text(who.language, N_("Your phone %(phone)s did not take the call (%(why)s): not listening in on seat %(seat)s."), phone=who.extension or "", why=why, seat=extension)
        self.hub.publish("notice", {"text": text}, user_id=who.user_id)

    async def on_wallboard_data(self, request: Req, who: SignedIn) -> bytes:
        payload = self.wallboard_json(await self.wallboard_now(), who.language)
        request.setHeader(b"content-type", b"application/json; charset=utf-8")
        request.setHeader(b"cache-control", b"no-store")
        return json.dumps(payload, ensure_ascii=False).encode()
