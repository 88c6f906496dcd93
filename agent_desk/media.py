"""The ticket page's media: recordings (with byte ranges, for the audio player to seek) and the
photos department staff send when they report a case handled (处置反馈).

Which file, and whether this user may have it, is the core's (`hotline.tickets.media`); here
are HTTP and the files' bytes, read and written on the database pool's reader threads, never on
the reactor. A photo is served as the image type its first bytes showed, with nosniff, a
Content-Disposition and a sandboxing CSP, so no upload is ever rendered as a page.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IPushProducer
from twisted.internet.threads import deferToThreadPool
from zope.interface import implementer

from agent_desk import errors, i18n
from agent_desk.base import DeskBase, HttpError, Req
from agent_desk.i18n import N_
from hotline.config import Config
from hotline.tickets import media
from hotline.tickets.services import TicketNotFound
from hotline.tickets.workflow import WorkflowError
from hotline.users import SignedIn
from hotline.web import files

#: Served files are never documents: no scripts, no plugins, no framing, even if opened directly.
FILE_CSP = b"default-src 'none'; img-src 'self'; media-src 'self'; sandbox"
#: What a refused photo's code means, in the catalogue's words.
PROBLEMS = {
    "not_image": N_("%(name)s: not a JPEG, PNG or WebP photo (checked by its content, not its name)."),
    "too_big": N_("%(name)s: larger than %(limit)s MB."),
    "empty": N_("%(name)s: the file is empty."),
    "too_many": N_("At most %(limit)s photos per report."),
}


@dataclass(frozen=True)
class MediaPart:
    media: media.TicketMedia | None
    photo_max_count: int
    photo_max_bytes: int

    @property
    def photo_max_mb(self) -> str:
        return f"{self.photo_max_bytes / 1_000_000:g}"


class MediaPages(DeskBase):
    """Recordings and photos of a ticket."""

    @property
    def places(self) -> media.Places:
        return media.Places.from_config(self._config)

    @property
    def _config(self) -> Config:
        return self.context.config if self.context.config is not None else Config()

    def in_thread(self, fn: Any, *args: Any) -> Any:
        """Blocking file work on the pool's reader threads (the reactor the pool answers on)."""
        pool = self.context.pool
        return deferToThreadPool(pool.reactor, pool.readers, fn, *args)

    def media_reader(self, who: SignedIn, number: str) -> Callable[[Any], media.TicketMedia | None]:
        """The ticket's media as a read on the pool's thread (None: no such ticket for `who`):
        the ticket page reads it in its own transaction (one round of the pool fewer)."""
        places = self.places

        def work(s: Any) -> media.TicketMedia | None:
            try:
                return media.ticket_media(s, who, number, places)
            except TicketNotFound:
                return None

        return work

    def media_part(self, found: media.TicketMedia | None) -> MediaPart:
        limits = self._config.tickets
        return MediaPart(found, limits.photo_max_count, limits.photo_max_bytes)

    # -- recordings

    async def on_recording(self, request: Req, who: SignedIn, number: str, name: str) -> bytes:
        places = self.places
        served = await self._find(lambda s: media.recording_file(s, who, number, name, places), N_("This recording's file is missing on the server."))
        return await self._send(request, served, inline=True)

    # -- photos

    async def on_photo(self, request: Req, who: SignedIn, number: str, name: str) -> bytes:
        stem = name.split(".", 1)[0]
        if not stem.isdigit() or len(stem) > 12:
            raise HttpError(404, N_("Not found"), N_("There is no such photo."))
        places, ident = self.places, int(stem)
        served = await self._find(lambda s: media.photo_file(s, who, number, ident, places), N_("There is no such photo."))
        request.setHeader(b"cache-control", b"private, max-age=3600")
        return await self._send(request, served, inline=True)

    async def on_report_handled(self, request: Req, who: SignedIn, number: str) -> bytes:
        """处置反馈 with a note and photos (a multipart form, parsed as it arrived by
        hotline.web.bodies). Each refused file is named in the message; nothing is saved then."""
        config = self._config.tickets
        uploads = [(u.filename, u.data) for u in getattr(request, "files", {}).get("photos", [])]
        photos, problems = media.check_photos(uploads, max_count=config.photo_max_count, max_bytes=config.photo_max_bytes)
        if problems:
            _ = i18n.catalogue(who.language).gettext
            # Named one by one, but within what a redirect's URL can carry.
            text = " ".join(_(PROBLEMS[p.code]) % {"name": p.filename[:80], "limit": _limit(p)} for p in problems[:10]) + (" …" if len(problems) > 10 else "")
            return self.redirect(request, f"/tickets/{quote(number)}?" + urlencode({"error": text}))
        note, address = self.form(request, "reason"), self.address(request)
        try:
            version = int(self.form(request, "version")) if self.form(request, "version") else None
        except ValueError:
            raise HttpError(400, N_("Bad request"), N_("department, category and version are numbers")) from None
        directory, policy = self.places.attachments, self.context.policy
        stored: list[media.Stored] = await self.in_thread(media.store, directory, photos)
        try:
            await self.db(lambda s: media.report_handled(s, policy, who, number, note=note, photos=stored, address=address, expected_version=version))
        except BaseException as exc:
            await self.in_thread(media.discard, directory, stored)
            if isinstance(exc, TicketNotFound):
                raise HttpError(404, N_("Not found"), N_("There is no such ticket, or it is not your department's.")) from None
            if isinstance(exc, WorkflowError):
                return self.redirect(request, f"/tickets/{quote(number)}?" + urlencode({"error": errors.explain(exc, who.language)}))
            raise
        return self.redirect(request, f"/tickets/{quote(number)}")

    # -- shared

    async def _find(self, work: Any, missing: str) -> media.ServedFile:
        try:
            served: media.ServedFile = await self.context.pool.read(work)
        except TicketNotFound:
            raise HttpError(404, N_("Not found"), N_("There is no such ticket, or it is not your department's.")) from None
        except media.MediaNotFound:
            raise HttpError(404, N_("Not found"), missing) from None
        return served

    async def _send(self, request: Req, served: media.ServedFile, *, inline: bool) -> bytes:
        """The file or the range asked for. Up to `files.MAX_SPAN` is read at once; more (a long
        recording downloaded whole) is streamed in chunks, each read on a thread, and paused
        while the browser is slower than the disk."""
        header = request.getHeader(b"range")
        wanted = header.decode("latin-1") if header else None
        try:
            span, partial = await self.in_thread(files.plan, served.path, wanted)
            body = await self.in_thread(files.read_at, served.path, span.start, span.length) if span.length <= files.MAX_SPAN else None
        except files.Unsatisfiable:
            size = await self.in_thread(files.file_size, served.path)
            request.setResponseCode(416)
            request.setHeader(b"content-range", f"bytes */{size}".encode())
            request.setHeader(b"content-type", b"text/plain; charset=utf-8")
            return "请求的范围无效 / The requested range is not satisfiable.\n".encode()
        except OSError:
            raise HttpError(404, N_("Not found"), N_("This recording's file is missing on the server.")) from None
        request.setResponseCode(206 if partial else 200)
        if partial:
            request.setHeader(b"content-range", span.content_range().encode())
        request.setHeader(b"content-type", served.content_type.encode())
        request.setHeader(b"accept-ranges", b"bytes")
        request.setHeader(b"content-disposition", f'{"inline" if inline else "attachment"}; filename="{served.download_name}"'.encode())
        request.setHeader(b"content-security-policy", FILE_CSP)
        if not request.responseHeaders.hasHeader(b"cache-control"):
            request.setHeader(b"cache-control", b"private, no-cache")
        if body is not None:
            request.setHeader(b"content-length", str(len(body)).encode())
            return bytes(body)
        request.setHeader(b"content-length", str(span.length).encode())
        await self._stream(request, served.path, span)
        return b""

    async def _stream(self, request: Req, path: Path, span: files.Span) -> None:
        gate = _Gate()
        lost: list[Any] = []
        request.notifyFinish().addErrback(lost.append)
        request.registerProducer(gate, True)
        try:
            position, end = span.start, span.end + 1
            while position < end and not lost and not gate.stopped:
                await gate.ready()
                chunk: bytes = await self.in_thread(files.read_at, path, position, min(STREAM_CHUNK, end - position))
                if not chunk or lost or gate.stopped:
                    break  # the file shrank, or the browser went away
                request.write(chunk)
                position += len(chunk)
        finally:
            request.unregisterProducer()
        if position < end and not lost:
            # The file was cut short under us: the promised length cannot be kept, so close.
            request.channel.transport.abortConnection()


STREAM_CHUNK = 1024 * 1024


@implementer(IPushProducer)
class _Gate:
    """Backpressure for `_stream`: twisted.web pauses it while the connection's buffer is full."""

    def __init__(self) -> None:
        self.stopped = False
        self._paused: Deferred[None] | None = None

    def ready(self) -> Deferred[None]:
        return self._paused if self._paused is not None else succeed(None)

    def pauseProducing(self) -> None:
        if self._paused is None:
            self._paused = Deferred()

    def resumeProducing(self) -> None:
        paused, self._paused = self._paused, None
        if paused is not None:
            paused.callback(None)

    def stopProducing(self) -> None:
        self.stopped = True
        self.resumeProducing()


def _limit(problem: media.Problem) -> str:
    return f"{problem.limit / 1_000_000:g}" if problem.code == "too_big" else str(problem.limit)
