"""The administrators' pages for what hotline.toml and the taxonomy files set: departments,
categories with their default department and time limits per urgency, and the working
calendar (office hours, holidays, adjusted working days 调休).

Nothing here decides what is valid: the core (`hotline.administration`, `hotline.settings`)
checks each change with the loaders' own rules and audits it; a refusal comes back as the
loader's message on the same page, with the form as typed (status 400).
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from twisted.internet.threads import deferToThreadPool

from agent_desk.base import DeskBase, HttpError, Req
from agent_desk.i18n import N_
from hotline import administration, audit, prompts, settings
from hotline.config import QUEUE_STRATEGIES, Config, ConfigError, calendar_of
from hotline.storage.models import CategoryKind
from hotline.tickets.taxonomy import TaxonomyError
from hotline.users import SignedIn

DEPARTMENT_FIELDS = ("code", "name_zh", "name_en", "phone")
CATEGORY_FIELDS = ("code", "kind", "parent", "name_zh", "name_en", "department", "time_limit", "urgent_time_limit")


class AdminPages(DeskBase):
    """Departments, categories and the working calendar, for administrators."""

    def _id(self, request: Req, name: str = "id") -> int | None:
        text = self.form(request, name)
        if not text:
            return None
        try:
            return int(text)
        except ValueError:
            raise HttpError(400, N_("Bad request"), N_("Choose an entry from the list.")) from None

    def _refusal(self, exc: Exception) -> list[str]:
        if isinstance(exc, TaxonomyError):
            return administration.problems_of(exc)
        return [str(exc)]

    # -- departments

    async def on_admin_departments(self, request: Req, who: SignedIn, *, errors: list[str] | None = None, values: dict[str, str] | None = None, editing: int | None = None, status: int = 200) -> bytes:
        rows = await self.read(administration.departments)
        return self.render(request, "admin_departments.html", who, status, rows=rows, errors=errors or [], values=values or {}, editing=editing, saved=self.form(request, "saved"))

    async def on_admin_save_department(self, request: Req, who: SignedIn) -> bytes:
        return await self._save(request, who, administration.save_department, DEPARTMENT_FIELDS, self.on_admin_departments, "/admin/departments?saved={code}")

    async def on_admin_department_active(self, request: Req, who: SignedIn) -> bytes:
        return await self._activate(request, who, administration.set_department_active, self.on_admin_departments, "/admin/departments?saved={code}")

    # -- categories

    async def on_admin_categories(self, request: Req, who: SignedIn, *, errors: list[str] | None = None, values: dict[str, str] | None = None, editing: int | None = None, status: int = 200) -> bytes:
        def work(s: Any) -> tuple[Any, Any]:
            return administration.categories(s), administration.departments(s)

        rows, departments = await self.read(work)
        return self.render(
            request, "admin_categories.html", who, status,
            rows=rows, departments=[d for d in departments if d.active], kinds=list(CategoryKind), defaults=(str(self.context.policy.default_time_limit), str(self.context.policy.urgent_time_limit)), errors=errors or [], values=values or {}, editing=editing, saved=self.form(request, "saved"),
        )  # fmt: skip

    async def on_admin_save_category(self, request: Req, who: SignedIn) -> bytes:
        return await self._save(request, who, administration.save_category, CATEGORY_FIELDS, self.on_admin_categories, "/admin/categories?saved={code}#c-{code}")

    async def on_admin_category_active(self, request: Req, who: SignedIn) -> bytes:
        return await self._activate(request, who, administration.set_category_active, self.on_admin_categories, "/admin/categories?saved={code}#c-{code}")

    # -- shared by both lists

    async def _save(self, request: Req, who: SignedIn, save: Callable[..., Any], names: tuple[str, ...], page: Callable[..., Awaitable[bytes]], done: str) -> bytes:
        """Create (no id) or change one entry; a refusal shows the list again with the form as typed."""
        item_id = self._id(request)
        fields = {k: self.form(request, k) for k in names}
        address = self.address(request)
        try:
            code = await self.db(lambda s: save(s, who, item_id, fields, address=address).code)
        except (TaxonomyError, administration.AdminError) as exc:
            return await page(request, who, errors=self._refusal(exc), values=fields, editing=item_id, status=400)
        self.pickers.drop()
        return self.redirect(request, done.format(code=code))

    async def _activate(self, request: Req, who: SignedIn, activate: Callable[..., Any], page: Callable[..., Awaitable[bytes]], done: str) -> bytes:
        item_id = self._id(request)
        if item_id is None:
            raise HttpError(400, N_("Bad request"), N_("Choose an entry from the list."))
        active, address = self.form(request, "active") == "1", self.address(request)
        try:
            code = await self.db(lambda s: activate(s, who, item_id, active, address=address).code)
        except administration.AdminError as exc:
            return await page(request, who, errors=[str(exc)], status=400)
        self.pickers.drop()
        return self.redirect(request, done.format(code=code))

    # -- the working calendar

    @property
    def _file_config(self) -> Config:
        return self.context.config if self.context.config is not None else Config()

    def _month(self, request: Req) -> tuple[int, int]:
        text = self.form(request, "month")
        if not text:
            today = self.context.now().astimezone(self.tz).date()
            return today.year, today.month
        try:
            year, month = (int(part) for part in text.split("-"))
            date(year, month, 1)
        except ValueError:
            raise HttpError(400, N_("Bad request"), N_("month: expected YYYY-MM, e.g. 2027-02")) from None
        return year, month

    async def on_admin_calendar(self, request: Req, who: SignedIn, *, errors: list[str] | None = None, values: dict[str, str] | None = None, status: int = 200) -> bytes:
        year, month = self._month(request)
        base = self._file_config

        def work(s: Any) -> tuple[Config, int]:
            return settings.current(s, base), settings.revision(s)

        config, revision = await self.db(work)
        calendar = calendar_of(config.calendar, config.service.timezone)
        weeks = settings.month(calendar, year, month)
        override = config.calendar.years.get(year)
        if values is None:
            values = {
                "office_hours": "\n".join(config.calendar.office_hours),
                "year": str(year),
                "holidays": "\n".join(d.isoformat() for d in sorted(override.holidays)) if override else "",
                "workdays": "\n".join(d.isoformat() for d in sorted(override.workdays)) if override else "",
            }
        previous = date(year - (month == 1), 12 if month == 1 else month - 1, 1)
        following = date(year + (month == 12), 1 if month == 12 else month + 1, 1)
        return self.render(
            request, "admin_calendar.html", who, status,
            weeks=weeks, year=year, month=month, previous=f"{previous:%Y-%m}", following=f"{following:%Y-%m}", known=calendar.is_year_known(year),
            values=values, errors=errors or [], revision=revision, years=sorted(config.calendar.years), saved=self.form(request, "saved") == "1",
            poll_seconds=int(settings.POLL_SECONDS),
        )  # fmt: skip

    async def on_admin_save_calendar(self, request: Req, who: SignedIn) -> bytes:
        values = {k: self.form(request, k) for k in ("office_hours", "year", "holidays", "workdays", "month")}
        lines = {k: [line.strip() for line in values[k].splitlines() if line.strip()] for k in ("office_hours", "holidays", "workdays")}
        base, address = self._file_config, self.address(request)

        def work(s: Any) -> None:
            raw = settings.calendar_edit(settings.current(s, base).calendar, office_hours=lines["office_hours"], year=values["year"].strip(), holidays=lines["holidays"], workdays=lines["workdays"])
            settings.save(s, "calendar", raw, user_id=who.user_id, username=who.username, address=address)

        try:
            await self.db(work)
        except (ConfigError, settings.SettingsConflict) as exc:
            return await self.on_admin_calendar(request, who, errors=[str(exc)], values=values, status=400)
        return self.redirect(request, f"/admin/calendar?saved=1&month={values['month'] or ''}")

    # -- calling windows for callbacks

    async def on_admin_callbacks(self, request: Req, who: SignedIn, *, errors: list[str] | None = None, values: dict[str, str] | None = None, status: int = 200) -> bytes:
        base, today = self._file_config, self.context.now().astimezone(self.tz).date()

        def work(s: Any) -> tuple[Config, int]:
            return settings.current(s, base), settings.revision(s)

        config, revision = await self.db(work)
        if values is None:
            values = {"calling_hours": "\n".join(config.callbacks.calling_hours)}
        return self.render(
            request, "admin_callbacks.html", who, status,
            days=settings.calling_windows(config, today), values=values, errors=errors or [], revision=revision, saved=self.form(request, "saved") == "1", poll_seconds=int(settings.POLL_SECONDS),
        )  # fmt: skip

    async def on_admin_save_callbacks(self, request: Req, who: SignedIn) -> bytes:
        values = {"calling_hours": self.form(request, "calling_hours")}
        rules = [line.strip() for line in values["calling_hours"].splitlines() if line.strip()]
        address = self.address(request)
        try:
            await self.db(lambda s: settings.save(s, "callbacks", {"calling_hours": rules}, user_id=who.user_id, username=who.username, address=address))
        except (ConfigError, settings.SettingsConflict) as exc:
            return await self.on_admin_callbacks(request, who, errors=[str(exc)], values=values, status=400)
        return self.redirect(request, "/admin/callbacks?saved=1")

    # -- the IVR's announcements

    def _files(self, fn: Callable[..., Any], *args: Any) -> Any:
        """File work (recordings, the zero-key timing) off the reactor thread, on the reactor's
        own pool: the database pool's file thread is the journal's."""
        reactor = self.context.pool.reactor
        return deferToThreadPool(reactor, reactor.getThreadPool(), fn, *args)

    def _sounds_dir(self) -> Path:
        return Path(self._file_config.asterisk.sounds_dir)

    async def on_admin_prompts(self, request: Req, who: SignedIn, *, errors: list[str] | None = None, notice: str = "", uploaded: str = "", status: int = 200) -> bytes:
        base, directory = self._file_config, self._sounds_dir()
        config: Config = await self.db(lambda s: settings.current(s, base))  # the queues as the IVR now runs them

        def survey() -> tuple[list[dict[str, Any]], list[prompts.ZeroKeyLine] | None, str]:
            rows = []
            for name, prompt in sorted(prompts.catalogue().items()):
                files = {lang: prompts.wav_seconds(prompts.sound_file(directory, lang, name)) for lang in prompts.LANGUAGES}
                rows.append({"name": name, "prompt": prompt, "seconds": files})
            try:
                return rows, prompts.zero_key(config, directory), ""
            except ValueError as exc:
                return rows, None, str(exc)

        rows, zero_key, menu_error = await self._files(survey)
        return self.render(
            request, "admin_prompts.html", who, status,
            rows=rows, zero_key=zero_key, menu_error=menu_error, budget=config.ivr.zero_key_seconds, directory=str(directory), sound_languages=prompts.LANGUAGES,
            errors=errors or [], notice=notice, uploaded=uploaded or self.form(request, "uploaded"), max_mb=prompts.MAX_RECORDING_BYTES // 1048576,
        )  # fmt: skip

    async def on_admin_upload_prompt(self, request: Req, who: SignedIn) -> bytes:
        name, lang, address = self.form(request, "name"), self.form(request, "lang"), self.address(request)
        # A site whose requests parse multipart bodies as they arrive keeps files in `request.files`
        # (hotline.web.bodies); plain twisted.web puts them in `request.args`.
        uploads = (getattr(request, "files", None) or {}).get("file") or []
        data = uploads[0].data if uploads else ((request.args or {}).get(b"file") or [b""])[0]
        if not data:
            return await self.on_admin_prompts(request, who, notice=N_("Choose a WAV file to upload."), status=400)
        directory = self._sounds_dir()
        try:
            path, seconds = await self._files(prompts.install_recording, directory, lang, name, data)
        except prompts.RecordingError as exc:
            return await self.on_admin_prompts(request, who, errors=[str(exc)], status=400)
        except OSError as exc:
            return await self.on_admin_prompts(request, who, errors=[f"cannot write {directory}: {exc.strerror or exc}"], status=500)
        detail = {"lang": lang, "name": name, "file": str(path), "seconds": round(seconds, 2), "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
        await self.db(lambda s: audit.record(s, "prompt.upload", user_id=who.user_id, username=who.username, target=f"prompt:{lang}/{name}", address=address, detail=detail))
        return self.redirect(request, "/admin/prompts?" + urlencode({"uploaded": f"{lang}/{name}"}) + f"#p-{name}")

    async def on_admin_prompt_sound(self, request: Req, who: SignedIn) -> bytes:
        name, lang = self.form(request, "name"), self.form(request, "lang")
        if lang not in prompts.LANGUAGES or name not in prompts.catalogue():
            raise HttpError(404, N_("Not found"), N_("There is no such page."))
        path = prompts.sound_file(self._sounds_dir(), lang, name)
        try:
            body: bytes = await self._files(path.read_bytes)
        except OSError:
            raise HttpError(404, N_("Not found"), N_("There is no such page.")) from None
        request.setHeader(b"content-type", b"audio/wav")
        request.setHeader(b"cache-control", b"no-store")
        return body

    # -- queues and skills

    async def on_admin_queues(
        self, request: Req, who: SignedIn, *, errors: list[str] | None = None, values: dict[str, str] | None = None, editing: str = "", rendered: Any = None, status: int = 200
    ) -> bytes:
        base = self._file_config

        def work(s: Any) -> tuple[Config, dict[str, int]]:
            return settings.current(s, base), administration.queue_members(s)

        config, members = await self.db(work)
        seats = {q.name: [seat.extension for seat in config.seats if q.name in seat.queues] for q in config.queues}
        return self.render(
            request, "admin_queues.html", who, status,
            queues=config.queues, members=members, seats=seats, strategies=QUEUE_STRATEGIES, errors=errors or [], values=values or {}, editing=editing,
            rendered=rendered, saved=self.form(request, "saved"),
        )  # fmt: skip

    async def on_admin_save_queue(self, request: Req, who: SignedIn) -> bytes:
        names = ("name", "label_zh", "label_en", "strategy", "ring_seconds", "wrapup_seconds", "weight", "announce_position", "hours", "max_callers", "max_wait_seconds")
        values = {k: self.form(request, k) for k in names}
        new, base, address = self.form(request, "new") == "1", self._file_config, self.address(request)

        def work(s: Any) -> Config:
            raw = settings.queues_edit(settings.current(s, base), values, new=new)
            settings.save(s, "queues", raw, user_id=who.user_id, username=who.username, address=address, config=base)
            return settings.current(s, base)

        try:
            config = await self.db(work)
        except (ConfigError, settings.SettingsConflict) as exc:
            return await self.on_admin_queues(request, who, errors=[str(exc)], values=values, editing="" if new else values["name"], status=400)
        rendered = await self._files(settings.render_asterisk, config, "queues")
        return await self.on_admin_queues(request, who, rendered=rendered, editing="")
