"""Tickets as Open311 GeoReport v2 sees them: services (our minor classes), service requests
(our tickets), and the checks a client's request must pass before it becomes a ticket.

The HTTP side (the `open311` feature) parses the wire formats and calls these; every rule about
what a request may contain and what a ticket shows the public lives here, next to the tickets.

A 工单 is a service request and its number the `service_request_id`; a leaf class (小类) is a
`service_code`, its major class the `group`; the department is `agency_responsible`, the deadline
`expected_datetime`. Open311 knows only open and closed: a ticket is closed once it has left the
process (结案, 不予立案, 直接答复: `workflow.FINISHED`); our stage is in `status_notes` and the
extension field `detailed_status`. A posted request becomes a ticket in status received (受理)
through `services.open_ticket`, and follows the same workflow as a phoned-in one.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hotline import audit, phone
from hotline.apikeys import Client
from hotline.storage.models import Category, CategoryKind, Department, Open311Request, Ticket, TicketEvent, TicketSource
from hotline.tickets import services
from hotline.tickets.taxonomy import list_categories
from hotline.tickets.workflow import FINISHED, STATUS_LABELS
from hotline.timestamps import utc

#: The spec's limits for GET requests: a window of at most 90 days, at most 1000 requests.
MAX_WINDOW = timedelta(days=90)
MAX_RESULTS = 1000
DESCRIPTION_MAX = 4000
_FIELD_MAX = {"address_string": 1000, "address_id": 64, "email": 254, "device_id": 64, "account_id": 64, "first_name": 50, "last_name": 50, "media_url": 2048}
_HTML = re.compile(r"<\s*/?\s*[a-zA-Z!][^>]*>")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
STATUSES = ("open", "closed")


class RequestError(ValueError):
    """The request cannot be served as asked; the message names the parameter and the reason
    (the API answers 400 with it)."""


class NotFound(RequestError):
    """An unknown service code, request id or token (the API answers 404)."""


# -- services


@dataclass(frozen=True)
class Value:
    key: str
    name: str


@dataclass(frozen=True)
class Attribute:
    """A service attribute as the spec defines one (`variable` false would be information only)."""

    code: str
    datatype: str
    required: bool
    order: int
    description: str
    datatype_description: str = ""
    variable: bool = True
    values: tuple[Value, ...] = ()


@dataclass(frozen=True)
class Service:
    code: str
    name: str
    description: str
    group: str
    keywords: str
    attributes: tuple[Attribute, ...]
    #: Requests get their id at once (no tokens needed): 'realtime' in the spec's terms.
    type: str = "realtime"

    @property
    def metadata(self) -> bool:
        return bool(self.attributes)


#: What a citizen can add beyond the description, per kind of class. A 部件 (component) is a
#: numbered object in the city's asset register, and the number on it finds it at once.
ATTRIBUTES: Mapping[CategoryKind, tuple[Attribute, ...]] = {
    CategoryKind.COMPONENT: (
        Attribute("ASSET_CODE", "string", False, 1, "部件编码（设施上标注的编号）Asset number marked on the object", "至多 32 个字符 Up to 32 characters"),
        Attribute(
            "CONDITION",
            "singlevaluelist",
            False,
            2,
            "部件状况 Condition of the object",
            values=(Value("damaged", "破损 Damaged"), Value("missing", "丢失 Missing"), Value("displaced", "移位或倾斜 Displaced or tilted"), Value("other", "其他 Other")),
        ),
    ),
    CategoryKind.EVENT: (
        Attribute(
            "RECURRING",
            "singlevaluelist",
            False,
            1,
            "是否反复出现 Has this happened here before?",
            values=(Value("first", "首次发现 First time"), Value("repeated", "多次出现 Repeatedly")),
        ),
        Attribute("OBSERVED_AT", "datetime", False, 2, "发现时间 When you saw it", "ISO 8601 带时区，例如 2026-12-03T09:30:00+08:00 ISO 8601 with a zone"),
    ),
}
_ATTRIBUTE_STRING_MAX = 32
_KIND_WORDS = {CategoryKind.COMPONENT: "部件, component", CategoryKind.EVENT: "事件, event"}


def service_list(session: Session) -> list[Service]:
    """Every active leaf class (a minor class, or a major class without minor ones)."""
    categories = list_categories(session)
    by_id = {c.id: c for c in categories}
    parents = {c.parent_id for c in categories if c.parent_id is not None}
    return [_service(c, by_id.get(c.parent_id) if c.parent_id else None) for c in categories if c.id not in parents]


def service(session: Session, code: str) -> Service:
    for found in service_list(session):
        if found.code == code:
            return found
    raise NotFound(f"service_code {code!r} not found")


def _service(c: Category, parent: Category | None) -> Service:
    group = parent.name_zh if parent is not None else ""
    words = [_KIND_WORDS[c.kind], *([parent.name_zh] + ([parent.name_en] if parent.name_en else []) if parent is not None else [])]
    return Service(code=c.code, name=c.name_zh, description=c.name_en or c.name_zh, group=group, keywords=", ".join(words), attributes=ATTRIBUTES[c.kind])


# -- posting a request


@dataclass(frozen=True)
class NewRequest:
    """The POST's arguments as text, checked by `create_request`."""

    service_code: str
    lat: str = ""
    long: str = ""
    address_string: str = ""
    address_id: str = ""
    email: str = ""
    device_id: str = ""
    account_id: str = ""
    first_name: str = ""
    last_name: str = ""
    phone: str = ""
    description: str = ""
    media_url: str = ""
    #: attribute[CODE]=value → {CODE: [value]}; attribute[CODE][]=a&attribute[CODE][]=b → {CODE: [a, b]}.
    attributes: Mapping[str, Sequence[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Created:
    service_request_id: str
    token: str
    service_notice: str
    account_id: str


def create_request(session: Session, policy: services.TicketPolicy, client: Client, new: NewRequest, *, address: str = "", now: datetime | None = None) -> Created:
    """受理 a client's request as a ticket of source open311, or raise RequestError/NotFound
    naming the first thing wrong (nothing is written then)."""
    now = utc(now)
    code = new.service_code.strip()
    if not code:
        raise RequestError("service_code is required")
    svc = service(session, code)
    category = session.scalars(select(Category).where(Category.code == code)).one()
    latitude, longitude = _position(new.lat, new.long)
    for name, limit in _FIELD_MAX.items():
        if len(getattr(new, name)) > limit:
            raise RequestError(f"{name} is longer than {limit} characters")
    if latitude is None and not new.address_string.strip() and not new.address_id.strip():
        raise RequestError("a location is required: lat and long, address_string or address_id")
    description = new.description.strip()
    if len(description) > DESCRIPTION_MAX:
        raise RequestError(f"description is longer than {DESCRIPTION_MAX} characters ({len(description)})")
    if _HTML.search(description):
        raise RequestError("description must be plain text: HTML is not accepted")
    if new.email and not _EMAIL.match(new.email):
        raise RequestError(f"email {new.email!r} is not an e-mail address")
    media_url = new.media_url.strip()
    if media_url:
        parts = urlsplit(media_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise RequestError("media_url must be an http or https URL")
    attributes = _attributes(svc, new.attributes)
    try:
        caller = phone.normalise(new.phone) if new.phone.strip() else ""
    except phone.InvalidPhoneNumber as exc:
        raise RequestError(f"phone {new.phone!r} is not a phone number ({exc})") from None
    lines = [description] if description else []
    lines += [_attribute_line(svc, code, values) for code, values in attributes.items()]
    if media_url:
        lines.append(f"照片/视频 Media: {media_url}")
    ticket = services.open_ticket(
        session,
        policy,
        source=TicketSource.OPEN311,
        actor=services.Actor(f"open311:{client.name}"[:64]),
        caller_number=caller,
        caller_name=(new.last_name.strip() + new.first_name.strip())[:100],
        description="\n".join(lines),
        location=new.address_string.strip(),
        category_id=category.id,
        latitude=latitude,
        longitude=longitude,
        at=now,
    )
    token = secrets.token_hex(16)
    session.add(
        Open311Request(
            ticket_id=ticket.id,
            api_key_id=client.key_id,
            token=token,
            address_id=new.address_id.strip(),
            email=new.email.strip(),
            device_id=new.device_id.strip(),
            account_id=new.account_id.strip(),
            first_name=new.first_name.strip(),
            last_name=new.last_name.strip(),
            media_url=media_url,
            attributes=attributes,
        )
    )
    audit.record(session, "open311_request", username=f"api:{client.name}"[:64], target=f"ticket:{ticket.number}", address=address, detail={"api_key": client.key_id, "service_code": code}, at=now)
    notice = f"已受理，工单号 {ticket.number}，请凭此号查询办理进度。Received as ticket {ticket.number}; quote it to follow the case."
    return Created(ticket.number, token, notice, new.account_id.strip())


def _position(lat: str, long: str) -> tuple[float | None, float | None]:
    lat, long = lat.strip(), long.strip()
    if not lat and not long:
        return None, None
    if not lat or not long:
        raise RequestError("lat and long go together: give both or neither")
    try:
        latitude, longitude = float(lat), float(long)
    except ValueError:
        raise RequestError(f"lat/long must be decimal degrees (WGS84), found {lat!r}, {long!r}") from None
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        raise RequestError(f"lat must be within ±90 and long within ±180, found {lat}, {long}")
    return round(latitude, 6), round(longitude, 6)


def _attribute_line(svc: Service, code: str, values: list[str]) -> str:
    """How an attribute reads in the ticket's description: its Chinese label and the values' names."""
    a = next(a for a in svc.attributes if a.code == code)
    names = {v.key: v.name for v in a.values}
    label = re.sub(r"[A-Za-z].*$", "", a.description).strip() or a.code
    return f"{label}: {', '.join(names.get(v, v) for v in values)}"


def _attributes(svc: Service, given: Mapping[str, Sequence[str]]) -> dict[str, list[str]]:
    known = {a.code: a for a in svc.attributes}
    for code in given:
        if code not in known:
            raise RequestError(f"attribute[{code}] is not an attribute of service {svc.code} (attributes: {', '.join(known) or 'none'})")
    kept: dict[str, list[str]] = {}
    for a in svc.attributes:
        values = [v.strip() for v in given.get(a.code, ()) if v.strip()]
        if not values:
            if a.required:
                raise RequestError(f"attribute[{a.code}] is required for service {svc.code}")
            continue
        keys = [v.key for v in a.values]
        if a.datatype != "multivaluelist" and len(values) > 1:
            raise RequestError(f"attribute[{a.code}] takes one value, found {len(values)}")
        for value in values:
            _check_value(a, value, keys)
        kept[a.code] = values
    return kept


def _check_value(a: Attribute, value: str, keys: list[str]) -> None:
    if a.datatype in ("singlevaluelist", "multivaluelist"):
        if value not in keys:
            raise RequestError(f"attribute[{a.code}]: {value!r} is not one of {', '.join(keys)}")
    elif a.datatype == "number":
        try:
            float(value)
        except ValueError:
            raise RequestError(f"attribute[{a.code}]: {value!r} is not a number") from None
    elif a.datatype == "datetime":
        parse_datetime(value, f"attribute[{a.code}]")
    elif len(value) > (_ATTRIBUTE_STRING_MAX if a.datatype == "string" else DESCRIPTION_MAX):
        raise RequestError(f"attribute[{a.code}] is longer than {_ATTRIBUTE_STRING_MAX if a.datatype == 'string' else DESCRIPTION_MAX} characters")


def parse_datetime(value: str, name: str) -> datetime:
    """An ISO 8601 date-time with a zone, as the spec requires (a bare date or a naive time
    would be read in a zone the client did not mean)."""
    text = value.strip()
    try:
        moment = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)
    except ValueError:
        raise RequestError(f"{name} {value!r} is not an ISO 8601 date-time (e.g. 2026-12-03T09:30:00+08:00)") from None
    if moment.tzinfo is None:
        raise RequestError(f"{name} {value!r} has no time zone (e.g. 2026-12-03T09:30:00+08:00)")
    return utc(moment)


# -- reading requests


@dataclass(frozen=True)
class Query:
    """GET /requests' filters; `ids` (service_request_id) overrides the others."""

    ids: tuple[str, ...] = ()
    codes: tuple[str, ...] = ()
    start: datetime | None = None
    end: datetime | None = None
    statuses: tuple[str, ...] = ()
    page: int = 1
    page_size: int = MAX_RESULTS


def make_query(*, ids: str = "", codes: str = "", start: str = "", end: str = "", status: str = "", page: str = "", page_size: str = "") -> Query:
    """The filters from their text, each refusal naming the parameter."""
    id_list = tuple(i for i in (x.strip() for x in ids.split(",")) if i)
    code_list = tuple(c for c in (x.strip() for x in codes.split(",")) if c)
    statuses = tuple(s for s in (x.strip().lower() for x in status.split(",")) if s)
    for s in statuses:
        if s not in STATUSES:
            raise RequestError(f"status {s!r} is not one of open, closed")
    start_at = parse_datetime(start, "start_date") if start.strip() else None
    end_at = parse_datetime(end, "end_date") if end.strip() else None
    if start_at and end_at:
        if end_at < start_at:
            raise RequestError("end_date is before start_date")
        if end_at - start_at > MAX_WINDOW:
            raise RequestError("start_date and end_date may be at most 90 days apart")
    if len(id_list) > MAX_RESULTS:
        raise RequestError(f"at most {MAX_RESULTS} service_request_id values at once")
    return Query(id_list, code_list, start_at, end_at, statuses, _positive(page, "page", 1, 1_000_000), _positive(page_size, "page_size", MAX_RESULTS, MAX_RESULTS))


def _positive(text: str, name: str, default: int, high: int) -> int:
    if not text.strip():
        return default
    try:
        value = int(text)
    except ValueError:
        raise RequestError(f"{name} {text!r} is not a whole number") from None
    if not 1 <= value <= high:
        raise RequestError(f"{name} must be between 1 and {high}")
    return value


@dataclass(frozen=True)
class RequestView:
    service_request_id: str
    status: str
    status_notes: str
    detailed_status: str
    service_name: str
    service_code: str
    description: str
    agency_responsible: str
    service_notice: str
    requested_datetime: datetime
    updated_datetime: datetime
    expected_datetime: datetime | None
    address: str
    address_id: str
    zipcode: str
    lat: float | None
    long: float | None
    media_url: str


def _select(publish_all: bool) -> Any:
    updated = select(func.max(TicketEvent.at)).where(TicketEvent.ticket_id == Ticket.id).correlate(Ticket).scalar_subquery()
    stmt = (
        select(Ticket, Category.code, Category.name_zh, Department.name_zh, Open311Request.address_id, Open311Request.media_url, updated)
        .outerjoin(Category, Ticket.category_id == Category.id)
        .outerjoin(Department, Ticket.department_id == Department.id)
        .outerjoin(Open311Request, Open311Request.ticket_id == Ticket.id)
    )
    return stmt if publish_all else stmt.where(Ticket.source == TicketSource.OPEN311)


def search(session: Session, query: Query, *, publish_all: bool = False, now: datetime | None = None) -> list[RequestView]:
    """Newest first. Without ids: the window [start, end] (default the last 90 days, never more),
    at most `page_size` (≤ 1000) requests from page `page`."""
    stmt = _select(publish_all)
    if query.ids:
        stmt = stmt.where(Ticket.number.in_(query.ids))
    else:
        end = query.end or (query.start + MAX_WINDOW if query.start else utc(now))
        start = query.start or end - MAX_WINDOW
        stmt = stmt.where(Ticket.created_at >= start, Ticket.created_at <= end)
        if query.codes:
            stmt = stmt.where(Category.code.in_(query.codes))
        if query.statuses and set(query.statuses) != set(STATUSES):
            closed = Ticket.status.in_(list(FINISHED))
            stmt = stmt.where(closed if "closed" in query.statuses else ~closed)
    stmt = stmt.order_by(Ticket.created_at.desc(), Ticket.id.desc()).limit(query.page_size).offset((query.page - 1) * query.page_size)
    return [_view(*row) for row in session.execute(stmt)]


def one(session: Session, number: str, *, publish_all: bool = False) -> RequestView:
    row = session.execute(_select(publish_all).where(Ticket.number == number.strip())).first()
    if row is None:
        raise NotFound(f"service_request_id {number!r} not found")
    return _view(*row)


def token(session: Session, value: str) -> tuple[str, str]:
    """(service_request_id, token) for a token a POST returned."""
    row = session.execute(select(Ticket.number, Open311Request.token).join(Open311Request, Open311Request.ticket_id == Ticket.id).where(Open311Request.token == value.strip())).first()
    if row is None:
        raise NotFound(f"token {value!r} not found")
    return str(row[0]), str(row[1])


def _view(t: Ticket, code: str | None, name: str | None, agency: str | None, address_id: str | None, media_url: str | None, updated: datetime | None) -> RequestView:
    zh, en = STATUS_LABELS[t.status]
    notes = f"{zh} {en}" + (f"：{t.resolution}" if t.resolution and t.status in FINISHED else "")
    return RequestView(
        service_request_id=t.number,
        status="closed" if t.status in FINISHED else "open",
        status_notes=notes,
        detailed_status=t.status.value,
        service_name=name or "",
        service_code=code or "",
        description=t.description,
        agency_responsible=agency or "",
        service_notice="",
        requested_datetime=t.created_at,
        updated_datetime=updated or t.created_at,
        expected_datetime=t.deadline_at,
        address=t.location,
        address_id=address_id or "",
        zipcode="",
        lat=t.latitude,
        long=t.longitude,
        media_url=media_url or "",
    )
