"""Database models: calls, tickets and their history, taxonomy, departments, users, callbacks,
recordings and transcripts.

One schema for SQLite and PostgreSQL. Timestamps are timezone-aware and stored in UTC; every
constraint and index is named so migrations can refer to it. Ticket history is append-only:
the ORM refuses to update or delete a history row (see `_forbid_history_rewrite`).
"""

from __future__ import annotations

import enum
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Connection,
    Date,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    event,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, Mapper, mapped_column, relationship

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, on both databases.

    SQLite has no time zone type and hands back naive values; normalising here means no
    caller ever compares a naive with an aware datetime.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: store aware datetimes only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON()}  # noqa: RUF012 - read once by SQLAlchemy, never changed


def _enum(kind: type[enum.Enum], name: str) -> Enum:
    # Stored as the value strings, checked by a named CHECK constraint rather than a
    # PostgreSQL ENUM type: adding a value later is then a constraint swap, not a type migration.
    return Enum(kind, name=name, native_enum=False, create_constraint=True, values_callable=lambda k: [m.value for m in k], length=24, validate_strings=True)


# -- enumerations


class Role(enum.StrEnum):
    OPERATOR = "operator"
    SUPERVISOR = "supervisor"
    CALLBACK = "callback"
    DEPARTMENT = "department"
    ADMIN = "admin"


class TicketStatus(enum.StrEnum):
    RECEIVED = "received"  # 受理
    REGISTERED = "registered"  # 立案
    REJECTED = "rejected"  # 不予立案
    ANSWERED = "answered"  # 直接答复 (consultation)
    DISPATCHED = "dispatched"  # 派遣
    HANDLED = "handled"  # 处置 (department reported back)
    VERIFIED = "verified"  # 核查 passed
    CLOSED = "closed"  # 结案


class TicketSource(enum.StrEnum):
    HOTLINE = "hotline"
    VOICEMAIL = "voicemail"
    CALLBACK = "callback"
    WEB = "web"  # web form or Open311
    INSPECTOR = "inspector"  # field supervisor 监督员
    OPEN311 = "open311"  # a city app or mini-program through the Open311 GeoReport v2 API


class Urgency(enum.StrEnum):
    NORMAL = "normal"
    URGENT = "urgent"


class CategoryKind(enum.StrEnum):
    COMPONENT = "component"  # 部件
    EVENT = "event"  # 事件


class CallbackKind(enum.StrEnum):
    SATISFACTION = "satisfaction"  # 回访
    QUEUE = "queue"  # caller asked to be called back instead of waiting


class CallbackStatus(enum.StrEnum):
    PENDING = "pending"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    FAILED = "failed"  # attempts exhausted
    CANCELLED = "cancelled"


class CallDisposition(enum.StrEnum):
    """Decided in one place, `hotline.calllog.records.decide`, from what the IVR and the queue said."""

    IN_PROGRESS = "in_progress"  # in the IVR
    QUEUED = "queued"  # waiting in a queue now (Asterisk confirmed the join)
    ANSWERED = "answered"
    ABANDONED = "abandoned"  # hung up while waiting in a queue
    IVR_ABANDONED = "ivr_abandoned"  # hung up in the menu before reaching a queue
    VOICEMAIL = "voicemail"
    CALLBACK_REQUESTED = "callback_requested"
    SELF_SERVICE = "self_service"  # e.g. heard a ticket's status and hung up
    FAILED = "failed"
    REFUSED = "refused"  # the queue would not take the caller (full, no operators) and no message was left
    TIMED_OUT = "timed_out"  # waited the queue's maximum and left no message
    SERVICE_DOWN = "service_down"  # ended while the service was down: how is unknown


class RecordingKind(enum.StrEnum):
    VOICEMAIL = "voicemail"
    CALL = "call"


# -- reference data


class Department(Base):
    """A unit tickets are dispatched to (处置单位)."""

    __tablename__ = "departments"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name_zh: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(100), default="")
    phone: Mapped[str] = mapped_column(String(32), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Category(Base):
    """A 部件 or 事件 class, major or minor, with its routing defaults.

    `code_origin` says whether the code was seen in a real deployment ('deployment') or had to
    be assigned by us ('assigned'), because no authoritative code table could be obtained.
    """

    __tablename__ = "categories"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    kind: Mapped[CategoryKind] = mapped_column(_enum(CategoryKind, "category_kind"))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("categories.id"), index=True)
    name_zh: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(100), default="")
    default_department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    #: Canonical `TimeLimit` text, e.g. "4 working_days"; None means inherit from the parent.
    time_limit: Mapped[str | None] = mapped_column(String(32))
    urgent_time_limit: Mapped[str | None] = mapped_column(String(32))
    code_origin: Mapped[str] = mapped_column(String(16), default="deployment")
    note: Mapped[str] = mapped_column(Text, default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    parent: Mapped[Category | None] = relationship(remote_side=[id])
    default_department: Mapped[Department | None] = relationship()

    __table_args__ = (CheckConstraint("code_origin IN ('deployment', 'assigned', 'local')", name="code_origin"),)


# -- people


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(100), default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    #: The seat's extension, for operators (PJSIP endpoint name).
    extension: Mapped[str | None] = mapped_column(String(32))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column()

    roles: Mapped[list[UserRole]] = relationship(cascade="all, delete-orphan", lazy="selectin")
    department: Mapped[Department | None] = relationship()

    def has_role(self, role: Role) -> bool:
        return any(r.role == role for r in self.roles)


class UserRole(Base):
    """A user may hold several roles (a supervisor who also takes calls)."""

    __tablename__ = "user_roles"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    role: Mapped[Role] = mapped_column(_enum(Role, "role"), primary_key=True)


# -- calls


class Call(Base):
    """One inbound or outbound call as Asterisk saw it, keyed by its uniqueid."""

    __tablename__ = "calls"

    id: Mapped[int] = mapped_column(primary_key=True)
    uniqueid: Mapped[str] = mapped_column(String(64), unique=True)
    linkedid: Mapped[str] = mapped_column(String(64), default="", index=True)
    direction: Mapped[str] = mapped_column(String(8), default="in")
    channel: Mapped[str] = mapped_column(String(128), default="")
    caller_number: Mapped[str] = mapped_column(String(32), default="", index=True)
    caller_name: Mapped[str] = mapped_column(String(100), default="")
    dnid: Mapped[str] = mapped_column(String(32), default="")
    started_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    answered_at: Mapped[datetime | None] = mapped_column()
    ended_at: Mapped[datetime | None] = mapped_column()
    disposition: Mapped[CallDisposition] = mapped_column(_enum(CallDisposition, "call_disposition"), default=CallDisposition.IN_PROGRESS)
    queue: Mapped[str] = mapped_column(String(64), default="")
    agent_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    agent_interface: Mapped[str] = mapped_column(String(128), default="")
    queued_at: Mapped[datetime | None] = mapped_column()
    wait_seconds: Mapped[int | None] = mapped_column(Integer)
    talk_seconds: Mapped[int | None] = mapped_column(Integer)
    recording_path: Mapped[str] = mapped_column(String(255), default="")
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", use_alter=True), index=True)
    #: Why the queue let the caller go: answered, abandoned, timeout, or a refusal (full, joinempty …).
    queue_result: Mapped[str] = mapped_column(String(16), default="", server_default="")
    #: What each source reported (IVR, AMI, reconciliation), merged order-independently; the
    #: columns above are derived from it (`hotline.calllog.records.decide`).
    facts: Mapped[dict[str, Any]] = mapped_column(default=dict, server_default=text("'{}'"))

    events: Mapped[list[CallEvent]] = relationship(order_by="CallEvent.id", cascade="all, delete-orphan")


class CallEvent(Base):
    """The call's timeline: IVR steps, keys pressed, queue events, hangup."""

    __tablename__ = "call_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    kind: Mapped[str] = mapped_column(String(32))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: The journal entry that wrote it, so a replayed operation adds no second event.
    op_id: Mapped[str | None] = mapped_column(String(32))

    __table_args__ = (Index("ix_call_events_call_id_at", "call_id", "at"), UniqueConstraint("call_id", "op_id"))


#: The timeline event the IVR writes as it hands the caller to Queue(), in the batch that
#: carries the rest of the caller's menu path: a record that has it holds the whole path.
QUEUE_ENTER = "queue_enter"


# -- tickets


class Ticket(Base):
    """A case (工单/案卷). Status and deadline columns are the current state; `history` is
    the record of how it got there and is never rewritten."""

    __tablename__ = "tickets"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(16), unique=True)
    source: Mapped[TicketSource] = mapped_column(_enum(TicketSource, "ticket_source"))
    status: Mapped[TicketStatus] = mapped_column(_enum(TicketStatus, "ticket_status"), default=TicketStatus.RECEIVED)
    caller_number: Mapped[str] = mapped_column(String(32), default="")
    caller_name: Mapped[str] = mapped_column(String(100), default="")
    location: Mapped[str] = mapped_column(Text, default="")
    latitude: Mapped[float | None] = mapped_column(Numeric(9, 6, asdecimal=False))
    longitude: Mapped[float | None] = mapped_column(Numeric(9, 6, asdecimal=False))
    category_id: Mapped[int | None] = mapped_column(ForeignKey("categories.id"))
    description: Mapped[str] = mapped_column(Text, default="")
    transcript: Mapped[str] = mapped_column(Text, default="")
    urgency: Mapped[Urgency] = mapped_column(_enum(Urgency, "urgency"), default=Urgency.NORMAL)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    #: The limit applied at the latest dispatch, as canonical `TimeLimit` text.
    time_limit: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    registered_at: Mapped[datetime | None] = mapped_column()
    first_dispatched_at: Mapped[datetime | None] = mapped_column()
    dispatched_at: Mapped[datetime | None] = mapped_column()
    #: The deadline in force: the latest dispatch's, moved by approved extensions.
    deadline_at: Mapped[datetime | None] = mapped_column()
    handled_at: Mapped[datetime | None] = mapped_column()
    verified_at: Mapped[datetime | None] = mapped_column()
    closed_at: Mapped[datetime | None] = mapped_column()
    #: Set when the ticket leaves the process for good (closed, rejected, answered).
    closed_on_time: Mapped[bool | None] = mapped_column(Boolean)
    handled_on_time: Mapped[bool | None] = mapped_column(Boolean)
    dispatch_count: Mapped[int] = mapped_column(Integer, default=0)
    rework_count: Mapped[int] = mapped_column(Integer, default=0)
    extension_count: Mapped[int] = mapped_column(Integer, default=0)
    reopen_count: Mapped[int] = mapped_column(Integer, default=0)
    #: Latest callback answer, one of the configured satisfaction levels.
    satisfaction: Mapped[str | None] = mapped_column(String(16))
    satisfied: Mapped[bool | None] = mapped_column(Boolean)
    callback_at: Mapped[datetime | None] = mapped_column()
    resolution: Mapped[str] = mapped_column(Text, default="")
    call_id: Mapped[int | None] = mapped_column(ForeignKey("calls.id"))
    #: The desk user of the first intake move in the history (`INTAKE_WHERE`), whom the reports
    #: per operator count the ticket for. Written only by the database (migration 0015's
    #: trigger on ticket_events); an object loaded before that move still shows the old value.
    intake_user_id: Mapped[int | None] = mapped_column(Integer)
    #: Optimistic lock: two operators moving the same ticket cannot both win.
    version: Mapped[int] = mapped_column(Integer, default=1)

    history: Mapped[list[TicketEvent]] = relationship(order_by="TicketEvent.seq", cascade="save-update, merge", passive_deletes="all")
    assignments: Mapped[list[Assignment]] = relationship(order_by="Assignment.round", cascade="save-update, merge")
    category: Mapped[Category | None] = relationship()
    department: Mapped[Department | None] = relationship()

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - read once by SQLAlchemy, never changed
    __table_args__ = (
        Index("ix_tickets_status_deadline_at", "status", "deadline_at"),
        Index("ix_tickets_caller_number_created_at", "caller_number", "created_at"),
        Index("ix_tickets_created_at", "created_at"),
        Index("ix_tickets_closed_at", "closed_at"),
        Index("ix_tickets_deadline_at", "deadline_at"),
        # The KPI report selects by each of these timestamps; without them it scans the table.
        Index("ix_tickets_handled_at", "handled_at"),
        Index("ix_tickets_first_dispatched_at", "first_dispatched_at"),
        Index("ix_tickets_callback_at", "callback_at"),
        Index("ix_tickets_department_id_status", "department_id", "status"),
        CheckConstraint("dispatch_count >= 0 AND rework_count >= 0 AND extension_count >= 0 AND reopen_count >= 0", name="counts"),
    )


class TicketEvent(Base):
    """One checked, timestamped, attributed step in a ticket's life. Append-only."""

    __tablename__ = "ticket_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"))
    seq: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    action: Mapped[str] = mapped_column(String(24))
    from_status: Mapped[TicketStatus | None] = mapped_column(_enum(TicketStatus, "from_status"))
    to_status: Mapped[TicketStatus] = mapped_column(_enum(TicketStatus, "to_status"))
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: Who did it when no user did: 'ivr', 'system', 'open311', 'callback'.
    actor: Mapped[str] = mapped_column(String(64), default="")
    note: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)

    __table_args__ = (UniqueConstraint("ticket_id", "seq"),)


class Assignment(Base):
    """One dispatch round (派遣) to a department, with the deadline it started and how it ended.

    A rework (返工), a return (退回) or a reopen after an unsatisfied callback starts a new
    round; earlier rounds stay as they were.
    """

    __tablename__ = "assignments"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"))
    round: Mapped[int] = mapped_column(Integer)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"))
    reason: Mapped[str] = mapped_column(String(16))  # dispatch, rework, redispatch, reopen
    dispatched_at: Mapped[datetime] = mapped_column()
    time_limit: Mapped[str] = mapped_column(String(32))
    deadline_at: Mapped[datetime] = mapped_column()
    #: Deadline after approved extensions; equals deadline_at until one is granted.
    extended_deadline_at: Mapped[datetime] = mapped_column()
    ended_at: Mapped[datetime | None] = mapped_column()
    outcome: Mapped[str | None] = mapped_column(String(16))  # handled, returned

    extensions: Mapped[list[Extension]] = relationship(order_by="Extension.id", cascade="save-update, merge")

    __table_args__ = (UniqueConstraint("ticket_id", "round"),)


class Extension(Base):
    """An approved extension (延期) of one dispatch round's deadline."""

    __tablename__ = "extensions"

    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    old_deadline_at: Mapped[datetime] = mapped_column()
    new_deadline_at: Mapped[datetime] = mapped_column()
    added: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text)
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class TicketSequence(Base):
    """The last sequence number handed out per day, for readable ticket numbers."""

    __tablename__ = "ticket_sequences"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    last: Mapped[int] = mapped_column(Integer)


# -- callbacks, recordings, transcripts


class Callback(Base):
    __tablename__ = "callbacks"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[CallbackKind] = mapped_column(_enum(CallbackKind, "callback_kind"))
    status: Mapped[CallbackStatus] = mapped_column(_enum(CallbackStatus, "callback_status"), default=CallbackStatus.PENDING)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), index=True)
    call_id: Mapped[int | None] = mapped_column(ForeignKey("calls.id"))
    phone: Mapped[str] = mapped_column(String(32))
    queue: Mapped[str] = mapped_column(String(64), default="")
    #: Place the caller held in the queue when they asked to be called back.
    position: Mapped[int | None] = mapped_column(Integer)
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    due_at: Mapped[datetime] = mapped_column()
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_attempt_at: Mapped[datetime | None] = mapped_column()
    completed_at: Mapped[datetime | None] = mapped_column()
    result: Mapped[str | None] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(Text, default="")
    by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    __table_args__ = (
        Index("ix_callbacks_status_due_at", "status", "due_at"),
        # A queued caller's callback request is placed once per call, however often it is sent.
        Index("uq_callbacks_queue_call_id", "call_id", unique=True, sqlite_where=text("kind = 'queue'"), postgresql_where=text("kind = 'queue'")),
    )


class Recording(Base):
    __tablename__ = "recordings"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[RecordingKind] = mapped_column(_enum(RecordingKind, "recording_kind"))
    call_id: Mapped[int | None] = mapped_column(ForeignKey("calls.id"), index=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), index=True)
    #: Unique: a message file becomes one ticket even when several nodes sweep at once.
    path: Mapped[str] = mapped_column(String(255), unique=True)
    format: Mapped[str] = mapped_column(String(16), default="wav")
    duration_seconds: Mapped[float | None] = mapped_column(Numeric(10, 2, asdecimal=False))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Transcript(Base):
    __tablename__ = "transcripts"

    id: Mapped[int] = mapped_column(primary_key=True)
    recording_id: Mapped[int] = mapped_column(ForeignKey("recordings.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending, done, failed
    text: Mapped[str] = mapped_column(Text, default="")
    engine: Mapped[str] = mapped_column(String(32), default="vosk")
    model: Mapped[str] = mapped_column(String(128), default="")
    confidence: Mapped[float | None] = mapped_column(Numeric(5, 4, asdecimal=False))
    words: Mapped[dict[str, Any]] = mapped_column(default=dict)
    error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column()


# -- append-only history, enforced in the ORM (and by migration triggers on PostgreSQL)


class HistoryRewriteError(RuntimeError):
    """Something tried to change or delete a ticket's history."""


@event.listens_for(TicketEvent, "before_update")
@event.listens_for(TicketEvent, "before_delete")
def _forbid_history_rewrite(mapper: Mapper[TicketEvent], connection: Connection, target: TicketEvent) -> None:
    raise HistoryRewriteError(f"ticket history is append-only (event {target.id} of ticket {target.ticket_id})")


@event.listens_for(Extension, "before_update")
@event.listens_for(Extension, "before_delete")
def _forbid_extension_rewrite(mapper: Mapper[Extension], connection: Connection, target: Extension) -> None:
    raise HistoryRewriteError(f"extensions are append-only (extension {target.id})")


# -- the desk: sessions, login throttling, the audit log, user settings


class DeskSession(Base):
    """A signed-in browser. Only the SHA-256 of the cookie's token is stored, so a copy of the
    table does not let anyone sign in."""

    __tablename__ = "desk_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    address: Mapped[str] = mapped_column(String(64), default="")


class LoginFailure(Base):
    """One refused login; counted per account and per address to throttle guessing, in the
    database so every desk process sees the same count."""

    __tablename__ = "login_failures"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    username: Mapped[str] = mapped_column(String(64), index=True)
    address: Mapped[str] = mapped_column(String(64), index=True)


class AuditEntry(Base):
    """Who did what, when, from where. Append-only (ORM listener and database triggers)."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    #: The username as typed or as it was then: kept when the account is renamed or unknown.
    username: Mapped[str] = mapped_column(String(64), default="")
    action: Mapped[str] = mapped_column(String(48))
    target: Mapped[str] = mapped_column(String(128), default="")
    address: Mapped[str] = mapped_column(String(64), default="")
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)


class UserQueue(Base):
    """A queue (skill) an operator's seat joins when they go ready."""

    __tablename__ = "user_queues"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    queue: Mapped[str] = mapped_column(String(64), primary_key=True)


class UserSetting(Base):
    """Per-user desk preferences (the interface language)."""

    __tablename__ = "user_settings"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    language: Mapped[str] = mapped_column(String(16), default="zh_Hans")


@event.listens_for(AuditEntry, "before_update")
@event.listens_for(AuditEntry, "before_delete")
def _forbid_audit_rewrite(mapper: Mapper[AuditEntry], connection: Connection, target: AuditEntry) -> None:
    raise HistoryRewriteError(f"the audit log is append-only (entry {target.id})")


# -- intake: citizens who reported a case that was already open (重复件)


class TicketReporter(Base):
    """A caller added to an existing case at intake instead of a second case being opened.
    The case's first caller stays on the ticket; these are everyone who reported it since."""

    __tablename__ = "ticket_reporters"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    caller_number: Mapped[str] = mapped_column(String(32), default="", index=True)
    caller_name: Mapped[str] = mapped_column(String(100), default="")
    #: The call they reported it on, when the form was opened from one.
    call_id: Mapped[int | None] = mapped_column(ForeignKey("calls.id"))
    #: What this caller added, in their words.
    note: Mapped[str] = mapped_column(Text, default="")
    #: The operator who added them.
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(default=utcnow)


# -- Open311: API clients and what they sent beyond the ticket's own columns


class ApiKey(Base):
    """An API client's key (a city app, a WeChat mini-program). Only the SHA-256 of the key is
    stored: the key is shown once, at creation; `prefix` lets an administrator tell keys apart."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    note: Mapped[str] = mapped_column(Text, default="")
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(64), default="")
    revoked_at: Mapped[datetime | None] = mapped_column()
    revoked_by: Mapped[str] = mapped_column(String(64), default="")
    last_used_at: Mapped[datetime | None] = mapped_column()
    last_used_address: Mapped[str] = mapped_column(String(64), default="")
    request_count: Mapped[int] = mapped_column(Integer, default=0)


class Open311Request(Base):
    """What an Open311 client sent with a ticket that the ticket has no column for: the
    reporter's contact details, the address id, the media link and the service attributes."""

    __tablename__ = "open311_requests"

    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), primary_key=True)
    api_key_id: Mapped[int] = mapped_column(ForeignKey("api_keys.id"), index=True)
    #: Answers GET /tokens/{token}: the request's id under another name, for clients that keep tokens.
    token: Mapped[str] = mapped_column(String(32), unique=True)
    address_id: Mapped[str] = mapped_column(String(64), default="")
    email: Mapped[str] = mapped_column(String(254), default="")
    device_id: Mapped[str] = mapped_column(String(64), default="")
    account_id: Mapped[str] = mapped_column(String(64), default="")
    first_name: Mapped[str] = mapped_column(String(50), default="")
    last_name: Mapped[str] = mapped_column(String(50), default="")
    media_url: Mapped[str] = mapped_column(String(2048), default="")
    attributes: Mapped[dict[str, Any]] = mapped_column(default=dict)


# -- oversight: 督办 (urging a department) and a department's extension requests


class Urge(Base):
    """督办: a supervisor urges the department holding a case. Append-only: it is a record of
    supervision that the department's reports count."""

    __tablename__ = "urges"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    #: The department urged: the one holding the case at that moment.
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"))
    #: The dispatch round urged, so the department's board counts this round's urges only.
    assignment_id: Mapped[int | None] = mapped_column(ForeignKey("assignments.id"))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    note: Mapped[str] = mapped_column(Text, default="")
    #: The deadline in force when urged, and whether it had passed.
    deadline_at: Mapped[datetime | None] = mapped_column()
    overdue: Mapped[bool] = mapped_column(Boolean, default=False)

    __table_args__ = (Index("ix_urges_department_id_at", "department_id", "at"), Index("ix_urges_at", "at"))


class ExtensionRequest(Base):
    """A department's request for more time (申请延期) on a case it holds; a supervisor approves
    it (the workflow's extend move moves the deadline) or refuses it with a reason. At most one
    pending request per case (a partial unique index)."""

    __tablename__ = "extension_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id"))
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"))
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    requested_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: How much more time, as `hotline.worktime.TimeLimit` writes it ('2 working_days').
    added: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text)
    #: The deadline in force when asked, and where the extra time would take it then.
    deadline_at: Mapped[datetime] = mapped_column()
    proposed_deadline_at: Mapped[datetime] = mapped_column()
    #: pending, approved, refused, lapsed (the case left the department before a decision).
    status: Mapped[str] = mapped_column(String(16), default="pending")
    decided_at: Mapped[datetime | None] = mapped_column()
    decided_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decision_note: Mapped[str] = mapped_column(Text, default="")
    #: The deadline the approval set.
    new_deadline_at: Mapped[datetime | None] = mapped_column()

    __table_args__ = (
        Index("ix_extension_requests_status_requested_at", "status", "requested_at"),
        Index("ix_extension_requests_department_id_requested_at", "department_id", "requested_at"),
        Index("uq_extension_requests_pending_ticket_id", "ticket_id", unique=True, sqlite_where=text("status = 'pending'"), postgresql_where=text("status = 'pending'")),
        CheckConstraint("status IN ('pending', 'approved', 'refused', 'lapsed')", name="status"),
    )


@event.listens_for(Urge, "before_update")
@event.listens_for(Urge, "before_delete")
def _forbid_urge_rewrite(mapper: Mapper[Urge], connection: Connection, target: Urge) -> None:
    raise HistoryRewriteError(f"urges are append-only (urge {target.id})")


# -- media: photos sent with a department's report


class Attachment(Base):
    """A photo department staff sent with a report (处置反馈). The file lives under the service's
    data directory by a random name (`hotline.tickets.media`); the row names it, so only files
    the database knows are ever served, and ties it to the ticket and its timeline entry."""

    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    event_id: Mapped[int | None] = mapped_column(ForeignKey("ticket_events.id"), index=True)
    #: Random, with the extension of the checked type: never anything the browser sent.
    stored_name: Mapped[str] = mapped_column(String(64), unique=True)
    #: The file's name on the sender's device, for people only (never a path on ours).
    original_name: Mapped[str] = mapped_column(String(200), default="")
    content_type: Mapped[str] = mapped_column(String(32))
    size_bytes: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


#: Full-text search of the ticket list (number, description, address, caller's name) is a
#: substring match (LIKE '%…%'): on PostgreSQL a trigram GIN index (pg_trgm, in postgresql-15's
#: contrib) serves it; on SQLite the partial condition keeps the index empty, since a LIKE with a
#: leading wildcard cannot use a B-tree there anyway.
Index(
    "ix_tickets_text_trgm", Ticket.number, Ticket.description, Ticket.location, Ticket.caller_name,
    postgresql_using="gin", postgresql_ops={"number": "gin_trgm_ops", "description": "gin_trgm_ops", "location": "gin_trgm_ops", "caller_name": "gin_trgm_ops"},
    sqlite_where=text("0"),
)  # fmt: skip
# -- reports and the wallboard (migration 0008)

#: Covers the call-centre figures (`hotline.tickets.kpi.call_kpis` and friends): the period's
#: calls are read from the index alone, without a visit to each of the month's call rows.
Index(
    "ix_calls_started_at_figures",
    Call.started_at,
    Call.direction,
    Call.queue,
    Call.disposition,
    Call.wait_seconds,
    Call.talk_seconds,
    Call.agent_user_id,
    Call.agent_interface,
)
#: The wallboard's "on a call since": answered calls not yet ended, a handful at any time.
Index(
    "ix_calls_open_answered",
    Call.agent_interface,
    Call.answered_at,
    sqlite_where=text("answered_at IS NOT NULL AND ended_at IS NULL"),
    postgresql_where=text("answered_at IS NOT NULL AND ended_at IS NULL"),
)


class AdminSetting(Base):
    """A configuration section an administrator set from the desk (hotline.settings): it
    replaces the file's section in every role. `revision` is unique and grows with every
    save, so a role polls `max(revision)` to learn, cheaply, that something changed."""

    __tablename__ = "admin_settings"

    #: The section's name in hotline.toml ("calendar").
    key: Mapped[str] = mapped_column(String(32), primary_key=True)
    #: The section as the TOML file would hold it (dates as ISO text).
    value: Mapped[dict[str, Any]] = mapped_column(default=dict)
    revision: Mapped[int] = mapped_column(Integer, unique=True)
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    changed_by: Mapped[str] = mapped_column(String(64), default="")


class KnowledgeAnswer(Base):
    """A prepared answer to a consultation (知识库), for operators to read out and use to close a
    consultation as answered directly (直接答复). An edit clears the review: operators see an
    answer nobody has checked since it last changed as unreviewed."""

    __tablename__ = "knowledge_answers"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The question as a caller would ask it.
    title: Mapped[str] = mapped_column(String(200))
    answer: Mapped[str] = mapped_column(Text)
    category_id: Mapped[int | None] = mapped_column(ForeignKey("categories.id"))
    #: Extra words a caller might use, separated by spaces or commas.
    keywords: Mapped[str] = mapped_column(String(300), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    reviewed_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reviewed_at: Mapped[datetime | None] = mapped_column()
    usage_count: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(64), default="")


# -- reports per intake operator (migration 0014)

#: The intake moves with a desk user: the moves `hotline.tickets.kpi.INTAKE_ACTIONS` names.
#: The per-operator report reads only these, so its lookup is one small index (ticket_id, seq,
#: actor_user_id) read without visiting the table. The query must write the same literal IN
#: list for the planners (SQLite; PostgreSQL with a generic plan) to see the index applies.
INTAKE_WHERE = "actor_user_id IS NOT NULL AND action IN ('receive', 'register', 'reject', 'answer')"
Index(
    "ix_ticket_events_intake",
    TicketEvent.ticket_id,
    TicketEvent.seq,
    TicketEvent.actor_user_id,
    sqlite_where=text(INTAKE_WHERE),
    postgresql_where=text(INTAKE_WHERE),
)


class SeatClaim(Base):
    """An automatic seat action that every desk process sees in Asterisk's events (wrap-up after
    a call, a signed-out seat leaving after its call), claimed by the one process that does it
    (`hotline.ami.seat_claims`). Kept a day."""

    __tablename__ = "seat_claims"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
