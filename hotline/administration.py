"""What the admin pages change, with the same rules as the files they replace.

Departments and categories are validated by the taxonomy loader's own per-entry checks
(`hotline.tickets.taxonomy.check_department` / `check_category`), so a value the desk accepts
is one a departments or taxonomy file would accept, and the refusal is the loader's message.
The working calendar is a configuration section (`hotline.settings`). Every change is audited
in the transaction that makes it. Dispatch reads departments and categories from the database
each time, so their changes reach every role with the next ticket.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hotline import audit
from hotline.storage.models import Category, CategoryKind, Department, Ticket, TicketStatus, UserQueue
from hotline.tickets.taxonomy import CategorySpec, TaxonomyError, category_defaults, check_category, check_department
from hotline.users import SignedIn

M = TypeVar("M")

#: The source the loader's messages name, where a file load names the file.
SOURCE = "admin page"


class AdminError(ValueError):
    """A change the rules refuse beyond one entry's own checks (duplicate code, still in use)."""


def problems_of(error: TaxonomyError) -> list[str]:
    """The loader's messages without the entry's position in a file, which a form has not."""
    return [p.replace(" (form)", "") for p in error.problems]


# -- departments


@dataclass(frozen=True)
class DepartmentRow:
    id: int
    code: str
    name_zh: str
    name_en: str
    phone: str
    active: bool
    #: Active categories that dispatch to it by default, and its tickets being handled now.
    categories: int
    open_tickets: int


def departments(session: Session) -> list[DepartmentRow]:
    """Every department, active first, with what still depends on it."""
    defaults = dict(session.execute(select(Category.default_department_id, func.count()).where(Category.active.is_(True)).group_by(Category.default_department_id)).all())
    tickets = dict(session.execute(select(Ticket.department_id, func.count()).where(Ticket.status == TicketStatus.DISPATCHED).group_by(Ticket.department_id)).all())
    rows = session.scalars(select(Department).order_by(Department.active.desc(), Department.code))
    return [DepartmentRow(d.id, d.code, d.name_zh, d.name_en, d.phone, d.active, int(defaults.get(d.id, 0)), int(tickets.get(d.id, 0))) for d in rows]


def _get(session: Session, model: type[M], ident: int) -> M:
    found = session.get(model, ident)
    if found is None:
        raise AdminError(f"no {model.__name__.lower()} with id {ident}")
    return found


def _department_values(d: Department) -> dict[str, Any]:
    return {"code": d.code, "name_zh": d.name_zh, "name_en": d.name_en, "phone": d.phone, "active": d.active}


def save_department(session: Session, who: SignedIn, department_id: int | None, fields: Mapping[str, str], *, address: str) -> Department:
    """Create a department (department_id None) or rename one; its code is fixed once made,
    because taxonomy files and other systems refer to it. Raises TaxonomyError or AdminError."""
    existing = _get(session, Department, department_id) if department_id is not None else None
    entry = {"code": existing.code if existing is not None else fields.get("code", "").strip(), "name_zh": fields.get("name_zh", "").strip()}
    for key in ("name_en", "phone"):
        entry[key] = fields.get(key, "").strip()
    spec = check_department(entry, SOURCE)
    if existing is None:
        if session.scalars(select(Department.id).where(Department.code == spec.code)).first() is not None:
            raise AdminError(f"department code {spec.code!r} is already used by another department")
        row = Department(code=spec.code, name_zh=spec.name_zh, name_en=spec.name_en, phone=spec.phone or "", active=True)
        session.add(row)
        session.flush()
        audit.record(session, "department.create", user_id=who.user_id, username=who.username, target=f"department:{spec.code}", address=address, detail={"after": _department_values(row)})
        return row
    before = _department_values(existing)
    existing.name_zh, existing.name_en, existing.phone = spec.name_zh, spec.name_en, spec.phone or ""
    session.flush()
    audit.record(
        session,
        "department.update",
        user_id=who.user_id,
        username=who.username,
        target=f"department:{existing.code}",
        address=address,
        detail={"before": before, "after": _department_values(existing)},
    )
    return existing


def set_department_active(session: Session, who: SignedIn, department_id: int, active: bool, *, address: str) -> Department:
    """Deactivate (nothing new is dispatched to it; its tickets and users stay) or reactivate.
    A department that active categories dispatch to by default cannot go: those would then
    fail at every dispatch, so the page names them to change first."""
    row = _get(session, Department, department_id)
    if not active:
        codes = list(session.scalars(select(Category.code).where(Category.default_department_id == row.id, Category.active.is_(True)).order_by(Category.code).limit(11)))
        if codes:
            more = " …" if len(codes) > 10 else ""
            raise AdminError(f"department {row.code} is the default department of active categories {', '.join(codes[:10])}{more}: give them another department first")
    if row.active != active:
        row.active = active
        session.flush()
        audit.record(session, "department.activate" if active else "department.deactivate", user_id=who.user_id, username=who.username, target=f"department:{row.code}", address=address)
    return row


# -- queues


def queue_members(session: Session) -> dict[str, int]:
    """How many desk users have each queue (skill), from the users page."""
    return {queue: int(n) for queue, n in session.execute(select(UserQueue.queue, func.count()).group_by(UserQueue.queue)).all()}


# -- categories


@dataclass(frozen=True)
class CategoryRow:
    id: int
    code: str
    kind: str
    major: bool
    parent_code: str
    name_zh: str
    name_en: str
    active: bool
    #: As set on the class ("" = follow the major class) and as a dispatch applies it.
    department_code: str
    time_limit: str
    urgent_time_limit: str
    effective_department: str
    effective_time_limit: str
    effective_urgent_time_limit: str


def categories(session: Session) -> list[CategoryRow]:
    """Every class in code order (majors before their minors), with what a dispatch applies."""
    departments_by_id = {d.id: d for d in session.scalars(select(Department))}
    rows = list(session.scalars(select(Category).order_by(Category.code)))
    by_id = {c.id: c for c in rows}
    out = []
    for c in rows:
        defaults = category_defaults(session, c.id)
        own = departments_by_id.get(c.default_department_id) if c.default_department_id is not None else None
        effective = departments_by_id.get(defaults.department_id) if defaults.department_id is not None else None
        parent = by_id.get(c.parent_id) if c.parent_id is not None else None
        out.append(
            CategoryRow(
                c.id, c.code, c.kind.value, c.parent_id is None, parent.code if parent else "", c.name_zh, c.name_en, c.active,
                own.code if own else "", c.time_limit or "", c.urgent_time_limit or "",
                f"{effective.code} {effective.name_zh}" if effective else "", defaults.time_limit or "", defaults.urgent_time_limit or "",
            )
        )  # fmt: skip
    return out


def _category_values(c: Category) -> dict[str, Any]:
    return {
        "code": c.code,
        "name_zh": c.name_zh,
        "name_en": c.name_en,
        "default_department_id": c.default_department_id,
        "time_limit": c.time_limit,
        "urgent_time_limit": c.urgent_time_limit,
        "active": c.active,
    }


def save_category(session: Session, who: SignedIn, category_id: int | None, fields: Mapping[str, str], *, address: str) -> Category:
    """Create a class (category_id None; a minor one under `parent`) or change one's names,
    default department and time limits per urgency. An empty department or limit on a minor
    class means "follow the major class", as an absent key does in the taxonomy file.
    Raises TaxonomyError (the loader's message) or AdminError."""
    existing = _get(session, Category, category_id) if category_id is not None else None
    if existing is not None:
        parent_row = session.get(Category, existing.parent_id) if existing.parent_id is not None else None
        kind = existing.kind
        code, origin, note = existing.code, existing.code_origin, existing.note
    else:
        parent_text = fields.get("parent", "").strip()
        parent_row = None
        if parent_text:
            parent_row = session.scalars(select(Category).where(Category.code == parent_text, Category.parent_id.is_(None))).one_or_none()
            if parent_row is None:
                raise AdminError(f"no major class with code {parent_text!r} to put the new class under")
        try:
            kind = parent_row.kind if parent_row is not None else CategoryKind(fields.get("kind", ""))
        except ValueError:
            raise AdminError("kind must be 'component' (部件) or 'event' (事件)") from None
        code, origin, note = fields.get("code", "").strip(), "local", ""
    entry: dict[str, Any] = {"code": code, "name": fields.get("name_zh", "").strip(), "name_en": fields.get("name_en", "").strip(), "code_origin": origin, "note": note}
    for key in ("department", "time_limit", "urgent_time_limit"):
        value = fields.get(key, "").strip()
        if value:
            entry[key] = value
    parent = CategorySpec(code=parent_row.code, kind=parent_row.kind, name_zh=parent_row.name_zh) if parent_row is not None else None
    active_codes = dict(session.execute(select(Department.code, Department.id).where(Department.active.is_(True))).all())
    spec = check_category(entry, SOURCE, kind=kind, parent=parent, department_codes=active_codes.keys())
    values: dict[str, Any] = {
        "name_zh": spec.name_zh,
        "name_en": spec.name_en,
        "default_department_id": active_codes[spec.department_code] if spec.department_code is not None else None,
        "time_limit": spec.time_limit,
        "urgent_time_limit": spec.urgent_time_limit,
    }
    if existing is None:
        if session.scalars(select(Category.id).where(Category.code == spec.code)).first() is not None:
            raise AdminError(f"category code {spec.code!r} is already used by another class")
        row = Category(code=spec.code, kind=kind, parent_id=parent_row.id if parent_row is not None else None, code_origin=origin, note="", active=True, **values)
        session.add(row)
        session.flush()
        audit.record(session, "category.create", user_id=who.user_id, username=who.username, target=f"category:{spec.code}", address=address, detail={"after": _category_values(row)})
        return row
    before = _category_values(existing)
    for key, value in values.items():
        setattr(existing, key, value)
    session.flush()
    audit.record(
        session, "category.update", user_id=who.user_id, username=who.username, target=f"category:{existing.code}", address=address, detail={"before": before, "after": _category_values(existing)}
    )
    return existing


def set_category_active(session: Session, who: SignedIn, category_id: int, active: bool, *, address: str) -> Category:
    """Deactivate (no longer offered for new tickets; old tickets keep it) or reactivate.
    Deactivating a major class deactivates its minors, as leaving it out of the file does;
    a minor class comes back only under an active major class."""
    row = _get(session, Category, category_id)
    affected = [row]
    if not active and row.parent_id is None:
        affected += list(session.scalars(select(Category).where(Category.parent_id == row.id, Category.active.is_(True))))
    if active and row.parent_id is not None:
        parent = session.get(Category, row.parent_id)
        if parent is not None and not parent.active:
            raise AdminError(f"category {row.code}: its major class {parent.code} is inactive; reactivate that first")
    changed = [c.code for c in affected if c.active != active]
    for c in affected:
        c.active = active
    session.flush()
    if changed:
        audit.record(
            session, "category.activate" if active else "category.deactivate", user_id=who.user_id, username=who.username, target=f"category:{row.code}", address=address, detail={"codes": changed}
        )
    return row
