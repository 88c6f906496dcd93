"""A ticket's media: the recordings of its calls (voicemail and answered queue calls) with their
transcripts, and the photos department staff send when they report a case handled (处置反馈).

Only files the database names are ever served, and only from inside the directories the
configuration gives them (`asterisk.recordings_dir`, `asterisk.voicemail_dir`,
`tickets.attachments_dir`), so neither a forged URL nor a row pointing elsewhere reaches any
other file. Whoever may not see the ticket (department staff: another department's) gets
`TicketNotFound`, the same answer as for a ticket that does not exist.

Photos are checked by their first bytes (JPEG, PNG, WebP), never by name or declared type, and
stored under random names; the browser's file name is kept for people only.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from hotline import audit
from hotline.config import Config
from hotline.storage.models import Attachment, Call, Recording, Ticket, TicketEvent, Transcript
from hotline.tickets import desk
from hotline.tickets.services import TicketPolicy
from hotline.tickets.workflow import Action
from hotline.users import SignedIn

AUDIO_TYPES = {
    "wav": "audio/wav", "wav49": "audio/wav", "mp3": "audio/mpeg", "ogg": "audio/ogg", "opus": "audio/ogg",
    "oga": "audio/ogg", "webm": "audio/webm", "flac": "audio/flac", "gsm": "audio/x-gsm",
}  # fmt: skip
#: The photo types accepted, by their first bytes: content type and the stored file's extension.
PHOTO_TYPES = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp"}


class MediaNotFound(LookupError):
    """The ticket is visible but names no such recording or photo, or its file is gone."""


# -- where files live


@dataclass(frozen=True)
class Places:
    """The directories media may be served from, resolved against the configuration's directory."""

    recordings: list[Path]
    attachments: Path

    @classmethod
    def from_config(cls, config: Config) -> Places:
        def place(value: str) -> Path:
            path = Path(value)
            return path if path.is_absolute() else config.base_dir / path

        attachments = Path(config.tickets.attachments_dir)
        return cls(
            recordings=[place(config.asterisk.recordings_dir), place(config.asterisk.voicemail_dir)],
            attachments=attachments if attachments.is_absolute() else config.data_path(config.tickets.attachments_dir),
        )


def max_request_bytes(config: Config) -> int:
    """The site's bound on a request body: a report's photos at their limits, plus the form."""
    return config.tickets.photo_max_count * config.tickets.photo_max_bytes + 1_000_000


def confined(path: str, roots: list[Path]) -> Path | None:
    """`path` with every link resolved, if it is a file inside one of `roots` (also resolved);
    None otherwise. Blocking (it asks the file system): call it off the reactor."""
    if not path or "\x00" in path:
        return None
    real = Path(os.path.realpath(path))
    for root in roots:
        top = Path(os.path.realpath(root))
        if real.is_relative_to(top) and real != top:
            return real if real.is_file() else None
    return None


# -- the ticket page


@dataclass(frozen=True)
class RecordingView:
    #: What the recording route takes: 'r<id>' for a recordings row, 'c<id>' for a call's MixMonitor file.
    name: str
    kind: str
    at: datetime | None
    duration_seconds: float | None
    content_type: str
    #: The file was there when the page was built.
    available: bool
    transcript: str
    #: '' (no transcription asked for), pending, done or failed.
    transcript_status: str


@dataclass(frozen=True)
class PhotoView:
    id: int
    original_name: str
    content_type: str
    size_bytes: int
    #: The file was there when the page was built.
    available: bool


@dataclass(frozen=True)
class Report:
    """A timeline entry that came with photos: when, who, what they wrote, and the photos."""

    at: datetime
    action: str
    actor: str
    note: str
    photos: list[PhotoView]


@dataclass(frozen=True)
class TicketMedia:
    recordings: list[RecordingView]
    #: The ticket's own transcript (what a voicemail said), when there is one.
    transcript: str
    reports: list[Report]


def ticket_media(session: Session, who: SignedIn, number: str, places: Places) -> TicketMedia:
    """What the ticket page shows of the recordings and photos. Checks each file exists, so the
    page can say one is missing instead of offering a player that stays silent."""
    t = desk.visible_ticket(session, who, number)
    recordings = []
    calls = _calls(session, t)
    rows = list(session.scalars(select(Recording).where(or_(Recording.ticket_id == t.id, Recording.call_id.in_([c.id for c in calls]))).order_by(Recording.created_at, Recording.id)))
    texts = _transcripts(session, [r.id for r in rows])
    recorded_calls = {r.call_id for r in rows}
    for r in rows:
        status, text = texts.get(r.id, ("", ""))
        recordings.append(RecordingView(f"r{r.id}", r.kind.value, r.created_at, r.duration_seconds, _audio_type(r.path, r.format), _exists(r.path, places), text, status))
    for c in calls:
        if c.recording_path and c.id not in recorded_calls:
            recordings.append(RecordingView(f"c{c.id}", "call", c.answered_at or c.started_at, c.talk_seconds, _audio_type(c.recording_path, ""), _exists(c.recording_path, places), "", ""))
    photos: dict[int | None, list[PhotoView]] = {}
    for a in session.scalars(select(Attachment).where(Attachment.ticket_id == t.id).order_by(Attachment.id)):
        available = confined(str(places.attachments / a.stored_name), [places.attachments]) is not None
        photos.setdefault(a.event_id, []).append(PhotoView(a.id, a.original_name, a.content_type, a.size_bytes, available))
    reports = []
    if photos:
        names = desk.Names(session)
        for e in session.scalars(select(TicketEvent).where(TicketEvent.id.in_([k for k in photos if k is not None])).order_by(TicketEvent.seq)):
            reports.append(Report(e.at, e.action, names.users.get(e.actor_user_id or 0, e.actor), e.note, photos[e.id]))
    return TicketMedia(recordings, t.transcript, reports)


def _calls(session: Session, t: Ticket) -> list[Call]:
    linked = Call.ticket_id == t.id if t.call_id is None else or_(Call.ticket_id == t.id, Call.id == t.call_id)
    return list(session.scalars(select(Call).where(linked).order_by(Call.started_at)))


def _transcripts(session: Session, recording_ids: list[int]) -> dict[int, tuple[str, str]]:
    """The latest transcript of each recording: (status, text)."""
    found: dict[int, tuple[str, str]] = {}
    if recording_ids:
        for tr in session.scalars(select(Transcript).where(Transcript.recording_id.in_(recording_ids)).order_by(Transcript.id)):
            found[tr.recording_id] = (tr.status, tr.text if tr.status == "done" else "")
    return found


def _exists(path: str, places: Places) -> bool:
    return confined(path, places.recordings) is not None


def _audio_type(path: str, fmt: str) -> str:
    extension = (fmt or Path(path).suffix.lstrip(".")).lower()
    return AUDIO_TYPES.get(extension, "application/octet-stream")


# -- serving


@dataclass(frozen=True)
class ServedFile:
    path: Path
    content_type: str
    #: The name offered in Content-Disposition: ASCII, ours, never the browser's.
    download_name: str


def recording_file(session: Session, who: SignedIn, number: str, name: str, places: Places) -> ServedFile:
    """The file behind the ticket's recording `name` ('r<id>' or 'c<id>'), confined to the
    recording directories. TicketNotFound or MediaNotFound otherwise."""
    t = desk.visible_ticket(session, who, number)
    ident = name[1:]
    if len(name) < 2 or not ident.isdigit() or len(ident) > 12:
        raise MediaNotFound(name[:32])
    calls = {c.id: c for c in _calls(session, t)}
    if name[0] == "r":
        r = session.get(Recording, int(ident))
        if r is None or not (r.ticket_id == t.id or r.call_id in calls):
            raise MediaNotFound(name)
        path, content_type = r.path, _audio_type(r.path, r.format)
    elif name[0] == "c":
        c = calls.get(int(ident))
        if c is None or not c.recording_path:
            raise MediaNotFound(name)
        path, content_type = c.recording_path, _audio_type(c.recording_path, "")
    else:
        raise MediaNotFound(name[:32])
    real = confined(path, places.recordings)
    if real is None:
        raise MediaNotFound(name)
    return ServedFile(real, content_type, f"{t.number}-{name}{real.suffix}")


def photo_file(session: Session, who: SignedIn, number: str, attachment_id: int, places: Places) -> ServedFile:
    t = desk.visible_ticket(session, who, number)
    a = session.get(Attachment, attachment_id)
    if a is None or a.ticket_id != t.id:
        raise MediaNotFound(str(attachment_id))
    real = confined(str(places.attachments / a.stored_name), [places.attachments])
    if real is None:
        raise MediaNotFound(str(attachment_id))
    return ServedFile(real, a.content_type, f"{t.number}-photo-{a.id}.{PHOTO_TYPES.get(a.content_type, 'bin')}")


# -- photos sent with a report


def photo_type(data: bytes) -> str | None:
    """The photo's content type by its first bytes, or None if it is none of ours."""
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


@dataclass(frozen=True)
class Problem:
    """Why one file was refused: `code` (not_image, too_big, empty, too_many) for the desk to say
    in the user's language, about the file `filename`."""

    code: str
    filename: str
    limit: int = 0


@dataclass(frozen=True)
class Photo:
    filename: str
    content_type: str
    data: bytes


def check_photos(uploads: list[tuple[str, bytes]], *, max_count: int, max_bytes: int) -> tuple[list[Photo], list[Problem]]:
    """The acceptable photos among (file name, bytes) pairs and a problem for each other one.
    A file input left empty sends a nameless empty part: that is no photo and no problem."""
    photos, problems = [], []
    for filename, data in uploads:
        name = _display_name(filename)
        if not data:
            if filename:
                problems.append(Problem("empty", name))
            continue
        if len(data) > max_bytes:
            problems.append(Problem("too_big", name, max_bytes))
            continue
        kind = photo_type(data)
        if kind is None:
            problems.append(Problem("not_image", name))
            continue
        photos.append(Photo(name, kind, data))
    if len(photos) > max_count:
        problems.append(Problem("too_many", "", max_count))
    return photos, problems


def _display_name(filename: str) -> str:
    """The browser's file name without any directory part or control characters, for people."""
    base = filename.replace("\\", "/").rsplit("/", 1)[-1]
    return "".join(ch for ch in base if ch.isprintable())[:200]


@dataclass(frozen=True)
class Stored:
    photo: Photo
    stored_name: str
    sha256: str


def store(directory: Path, photos: list[Photo]) -> list[Stored]:
    """Write the photos under random names (new files only, never over one). Blocking."""
    directory.mkdir(parents=True, exist_ok=True)
    stored = []
    try:
        for photo in photos:
            name = f"{secrets.token_hex(16)}.{PHOTO_TYPES[photo.content_type]}"
            fd = os.open(directory / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
            with os.fdopen(fd, "wb") as f:
                f.write(photo.data)
            stored.append(Stored(photo, name, hashlib.sha256(photo.data).hexdigest()))
    except BaseException:
        discard(directory, stored)
        raise
    return stored


def discard(directory: Path, stored: list[Stored]) -> None:
    """Remove files whose rows were never written (the move was refused). Blocking."""
    for s in stored:
        (directory / s.stored_name).unlink(missing_ok=True)


def report_handled(session: Session, policy: TicketPolicy, who: SignedIn, number: str, *, note: str, photos: list[Stored], address: str, expected_version: int | None = None) -> Any:
    """处置反馈: the workflow's HANDLE move with the department's note, and the photos attached to
    the ticket and to that timeline entry, in one transaction; audited."""
    t = desk.move(session, policy, who, number, Action.HANDLE.value, address=address, reason=note, expected_version=expected_version)
    session.flush()
    event = session.scalars(select(TicketEvent).where(TicketEvent.ticket_id == t.id).order_by(TicketEvent.seq.desc()).limit(1)).one()
    for s in photos:
        session.add(
            Attachment(
                ticket_id=t.id, event_id=event.id, stored_name=s.stored_name, original_name=s.photo.filename, content_type=s.photo.content_type,
                size_bytes=len(s.photo.data), sha256=s.sha256, uploaded_by_user_id=who.user_id,
            )
        )  # fmt: skip
    if photos:
        detail = {"count": len(photos), "files": [s.stored_name for s in photos]}
        audit.record(session, "ticket_photos_added", user_id=who.user_id, username=who.username, target=f"ticket:{t.number}", address=address, detail=detail)
    return t
