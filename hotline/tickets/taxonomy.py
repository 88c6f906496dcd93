"""The 数字城管 taxonomy (部件 components and 事件 events) and the departments tickets go to.

No authoritative national code table could be obtained (see docs/taxonomy.md), so the classes
live in data files that a city can replace: ``data/departments.json`` and ``data/taxonomy.json``
ship our defaults, and ``load_departments`` / ``load_taxonomy`` upsert any file of the same
format. A file is validated completely before the database is touched, and every error names
the file and the class, because the person reading it is an administrator editing JSON.

Loading is an idempotent upsert by code: running it twice changes nothing, editing a name or a
default and loading again updates that row, and a class or department that disappeared from
the file is deactivated, never deleted, because tickets keep pointing at it.

This module is the only place that builds SQL for departments and categories; other packages
call the functions below.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hotline.storage.models import Category, CategoryKind, Department
from hotline.worktime import TimeLimit

__all__ = [
    "DEFAULT_DEPARTMENTS_PATH",
    "DEFAULT_TAXONOMY_PATH",
    "CategoryDefaults",
    "CategorySpec",
    "DepartmentSpec",
    "LoadReport",
    "TaxonomyError",
    "category_by_code",
    "category_defaults",
    "check_category",
    "check_department",
    "department_by_code",
    "list_categories",
    "load_departments",
    "load_taxonomy",
    "read_departments",
    "read_taxonomy",
]

DATA_DIR = Path(__file__).parent.parent / "data"
DEFAULT_TAXONOMY_PATH = DATA_DIR / "taxonomy.json"
DEFAULT_DEPARTMENTS_PATH = DATA_DIR / "departments.json"

#: Top-level lists of a taxonomy file and the kind of class each holds.
KIND_KEYS: Mapping[str, CategoryKind] = {"components": CategoryKind.COMPONENT, "events": CategoryKind.EVENT}
CODE_ORIGINS = ("deployment", "assigned", "local")

# Column sizes from hotline.storage.models, checked here so that SQLite and PostgreSQL refuse the same files.
_CATEGORY_CODE_MAX = 16
_DEPARTMENT_CODE_MAX = 32
_NAME_MAX = 100
_PHONE_MAX = 32

_CLASS_KEYS = frozenset(
    {
        "code",
        "name",
        "name_en",
        "name_as_in_source",
        "code_origin",
        "department",
        "time_limit",
        "urgent_time_limit",
        "time_limit_basis",
        "note",
        "subcategories",
    }
)
_DEPARTMENT_KEYS = frozenset({"code", "name_zh", "name_en", "phone"})


class TaxonomyError(ValueError):
    """A taxonomy or departments file is unreadable or wrong; nothing was written.

    ``problems`` lists every problem found (each line names the file and the class), so an
    administrator can fix a file in one pass instead of one error per load.
    """

    def __init__(self, path: str | Path, problems: Iterable[str]) -> None:
        self.path = str(path)
        self.problems = tuple(problems)
        lines = [f"{self.path}: {p}" for p in self.problems]
        if len(lines) > 1:
            lines.insert(0, f"{self.path}: {len(lines)} problems, nothing was loaded:")
        super().__init__("\n".join(lines))


@dataclass(frozen=True)
class LoadReport:
    """What a load did: rows created, rows changed, rows deactivated because they left the file."""

    created: int = 0
    updated: int = 0
    deactivated: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated or self.deactivated)

    def __str__(self) -> str:
        return f"{self.created} created, {self.updated} updated, {self.deactivated} deactivated"


@dataclass(frozen=True)
class DepartmentSpec:
    """One department as read from a file. ``phone`` None means 'not in the file: keep the stored one'."""

    code: str
    name_zh: str
    name_en: str = ""
    phone: str | None = None


@dataclass(frozen=True)
class CategorySpec:
    """One class as read and validated from a file; time limits are canonical TimeLimit text."""

    code: str
    kind: CategoryKind
    name_zh: str
    name_en: str = ""
    parent_code: str | None = None
    department_code: str | None = None
    time_limit: str | None = None
    urgent_time_limit: str | None = None
    time_limit_basis: str = ""
    code_origin: str = "deployment"
    note: str = ""

    @property
    def is_major(self) -> bool:
        return self.parent_code is None


@dataclass(frozen=True)
class CategoryDefaults:
    """Routing defaults of a class after inheritance: the department and limits a dispatch starts from."""

    department_id: int | None
    time_limit: str | None
    urgent_time_limit: str | None

    def limit_for(self, urgent: bool) -> str | None:
        """The limit for a ticket of this urgency; an urgent ticket without an urgent limit gets the normal one."""
        if urgent and self.urgent_time_limit is not None:
            return self.urgent_time_limit
        return self.time_limit


# -- reading and validating files ---------------------------------------------------------


def _read_json(path: Path, list_keys: Collection[str]) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise TaxonomyError(path, [f"cannot read the file: {exc.strerror or exc}"]) from None
    except UnicodeDecodeError as exc:
        raise TaxonomyError(path, [f"not UTF-8 text: {exc.reason} at byte {exc.start}"]) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise TaxonomyError(path, [f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"]) from None
    if not isinstance(data, dict):
        raise TaxonomyError(path, [f"expected a JSON object with the keys {', '.join(list_keys)}, found {type(data).__name__}"])
    problems = []
    for key in list_keys:
        if key not in data:
            problems.append(f"missing top-level key {key!r} (a list)")
        elif not isinstance(data[key], list):
            problems.append(f"top-level key {key!r} must be a list, found {type(data[key]).__name__}")
    if problems:
        raise TaxonomyError(path, problems)
    return data


def _text(entry: Mapping[str, Any], key: str, what: str, problems: list[str], *, required: bool, max_len: int | None = None, code: bool = False) -> str | None:
    """A string field of an entry, or None after recording a problem (or when optional and absent)."""
    value = entry.get(key)
    if value is None:
        if required:
            problems.append(f"{what}: missing key {key!r}")
        return None
    if not isinstance(value, str):
        problems.append(f"{what}: {key!r} must be a string, found {value!r}")
        return None
    if required and not value.strip():
        problems.append(f"{what}: {key!r} is empty")
        return None
    if code and (value != value.strip() or any(ch.isspace() for ch in value)):
        problems.append(f"{what}: {key!r} {value!r} must not contain spaces")
        return None
    if max_len is not None and len(value) > max_len:
        problems.append(f"{what}: {key!r} is {len(value)} characters long, at most {max_len} fit")
        return None
    return value


def _unknown_keys(entry: Mapping[str, Any], allowed: frozenset[str], what: str, problems: list[str]) -> None:
    # A misspelt key ("time_limt") would otherwise be ignored and the class would silently inherit.
    for key in sorted(set(entry) - allowed):
        problems.append(f"{what}: unknown key {key!r} (allowed: {', '.join(sorted(allowed))})")


def _describe(entry: Any, level: str, kind: CategoryKind, position: str) -> str:
    parts = [f"{kind.value} {level} class"]
    if isinstance(entry, dict):
        for key in ("code", "name"):
            if isinstance(entry.get(key), str) and entry[key]:
                parts.append(entry[key])
    return f"{' '.join(parts)} ({position})"


def read_departments(path: str | Path | None = None) -> tuple[DepartmentSpec, ...]:
    """Read and validate a departments file without touching any database.

    Raises TaxonomyError listing every problem found.
    """
    path = Path(path) if path is not None else DEFAULT_DEPARTMENTS_PATH
    data = _read_json(path, ["departments"])
    problems: list[str] = []
    specs: list[DepartmentSpec] = []
    seen: dict[str, str] = {}
    for i, entry in enumerate(data["departments"]):
        position = f"departments[{i}]"
        spec = _read_department(entry, position, problems)
        if spec is None:
            continue
        what = f"department {spec.code} {spec.name_zh} ({position})"
        if spec.code in seen:
            problems.append(f"{what}: duplicate code {spec.code!r}, already used by {seen[spec.code]}")
            continue
        seen[spec.code] = what
        specs.append(spec)
    if problems:
        raise TaxonomyError(path, problems)
    return tuple(specs)


def _read_department(entry: Any, position: str, problems: list[str]) -> DepartmentSpec | None:
    if not isinstance(entry, dict):
        problems.append(f"department ({position}): expected an object, found {entry!r}")
        return None
    what = "department " + " ".join(str(entry[k]) for k in ("code", "name_zh") if isinstance(entry.get(k), str) and entry[k]) + f" ({position})"
    before = len(problems)
    _unknown_keys(entry, _DEPARTMENT_KEYS, what, problems)
    code = _text(entry, "code", what, problems, required=True, max_len=_DEPARTMENT_CODE_MAX, code=True)
    name_zh = _text(entry, "name_zh", what, problems, required=True, max_len=_NAME_MAX)
    name_en = _text(entry, "name_en", what, problems, required=False, max_len=_NAME_MAX)
    phone = _text(entry, "phone", what, problems, required=False, max_len=_PHONE_MAX)
    if len(problems) > before or code is None or name_zh is None:
        return None
    return DepartmentSpec(code=code, name_zh=name_zh, name_en=name_en or "", phone=phone)


def check_department(entry: Mapping[str, Any], source: str) -> DepartmentSpec:
    """Validate one department entry (as a departments file would hold it) with the file's own
    rules, for the admin pages. Raises TaxonomyError naming `source`."""
    problems: list[str] = []
    spec = _read_department(dict(entry), "form", problems)
    if spec is None:
        raise TaxonomyError(source, problems)
    return spec


def check_category(entry: Mapping[str, Any], source: str, *, kind: CategoryKind, parent: CategorySpec | None, department_codes: Collection[str]) -> CategorySpec:
    """Validate one class entry (as a taxonomy file would hold it; a minor class with its major
    as `parent`) with the file's own rules, for the admin pages. Raises TaxonomyError naming `source`."""
    problems: list[str] = []
    spec = _read_class(dict(entry), kind=kind, position="form", parent=parent, department_codes=frozenset(department_codes), problems=problems)
    if spec is None:
        raise TaxonomyError(source, problems)
    return spec


def _limit(entry: Mapping[str, Any], key: str, what: str, problems: list[str], *, required: bool) -> str | None:
    value = entry.get(key)
    if value is None:
        if required:
            problems.append(f"{what}: missing key {key!r} (every major class needs its own time limits)")
        return None
    try:
        return str(TimeLimit.parse(value))
    except ValueError as exc:
        problems.append(f"{what}: bad {key}: {exc}")
        return None


def _read_class(
    entry: Any,
    *,
    kind: CategoryKind,
    position: str,
    parent: CategorySpec | None,
    department_codes: Collection[str] | None,
    problems: list[str],
) -> CategorySpec | None:
    major = parent is None
    what = _describe(entry, "major" if major else "minor", kind, position)
    if not isinstance(entry, dict):
        problems.append(f"{what}: expected an object, found {entry!r}")
        return None
    before = len(problems)
    _unknown_keys(entry, _CLASS_KEYS, what, problems)
    code = _text(entry, "code", what, problems, required=True, max_len=_CATEGORY_CODE_MAX, code=True)
    name = _text(entry, "name", what, problems, required=True, max_len=_NAME_MAX)
    name_en = _text(entry, "name_en", what, problems, required=False, max_len=_NAME_MAX) or ""
    note = _text(entry, "note", what, problems, required=False) or ""
    basis = _text(entry, "time_limit_basis", what, problems, required=False) or ""
    _text(entry, "name_as_in_source", what, problems, required=False)
    origin = _text(entry, "code_origin", what, problems, required=False) or "deployment"
    if origin not in CODE_ORIGINS:
        problems.append(f"{what}: code_origin {origin!r} must be one of {', '.join(CODE_ORIGINS)}")
    elif origin == "assigned" and not note.strip():
        problems.append(f"{what}: code_origin 'assigned' needs a 'note' saying why the code was assigned")
    department = _text(entry, "department", what, problems, required=major, code=True)
    if department is not None and department_codes is not None and department not in department_codes:
        problems.append(f"{what}: unknown department code {department!r}: no active department has it (add it to the departments file and load that first)")
    time_limit = _limit(entry, "time_limit", what, problems, required=major)
    urgent = _limit(entry, "urgent_time_limit", what, problems, required=major)
    if code is not None and parent is not None and not (code.startswith(parent.code) and len(code) > len(parent.code)):
        problems.append(f"{what}: code {code!r} does not start with its major class's code {parent.code!r} ({parent.name_zh})")
    if not major and "subcategories" in entry:
        problems.append(f"{what}: a minor class cannot have subcategories (the taxonomy has two levels)")
    if major and not isinstance(entry.get("subcategories", []), list):
        problems.append(f"{what}: 'subcategories' must be a list")
    if len(problems) > before or code is None or name is None:
        return None
    return CategorySpec(
        code=code,
        kind=kind,
        name_zh=name,
        name_en=name_en,
        parent_code=parent.code if parent is not None else None,
        department_code=department,
        time_limit=time_limit,
        urgent_time_limit=urgent,
        time_limit_basis=basis,
        code_origin=origin,
        note=note,
    )


def read_taxonomy(path: str | Path | None = None, *, department_codes: Collection[str] | None = None) -> tuple[CategorySpec, ...]:
    """Read and validate a taxonomy file without touching any database.

    ``department_codes``, when given, are the codes a class may name as its department
    (``load_taxonomy`` passes the active departments of the database). Returns majors before
    their minors. Raises TaxonomyError listing every problem found.
    """
    path = Path(path) if path is not None else DEFAULT_TAXONOMY_PATH
    data = _read_json(path, list(KIND_KEYS))
    if department_codes is not None:
        department_codes = frozenset(department_codes)
    problems: list[str] = []
    specs: list[CategorySpec] = []
    seen: dict[str, str] = {}

    def remember(spec: CategorySpec, position: str) -> None:
        what = f"{spec.kind.value} {'major' if spec.is_major else 'minor'} class {spec.code} {spec.name_zh} ({position})"
        if spec.code in seen:
            problems.append(f"{what}: duplicate code {spec.code!r}, already used by {seen[spec.code]}")
        else:
            seen[spec.code] = what
            specs.append(spec)

    for key, kind in KIND_KEYS.items():
        for i, entry in enumerate(data[key]):
            position = f"{key}[{i}]"
            major = _read_class(entry, kind=kind, position=position, parent=None, department_codes=department_codes, problems=problems)
            if major is not None:
                remember(major, position)
            elif isinstance(entry, dict) and isinstance(entry.get("code"), str):
                # Still check the minors against the code the major was meant to have,
                # so that one pass reports every problem of the file.
                major = CategorySpec(code=entry["code"], kind=kind, name_zh=str(entry.get("name") or ""))
            else:
                continue
            subcategories = entry.get("subcategories", [])
            for j, sub in enumerate(subcategories if isinstance(subcategories, list) else []):
                sub_position = f"{position}.subcategories[{j}]"
                minor = _read_class(sub, kind=kind, position=sub_position, parent=major, department_codes=department_codes, problems=problems)
                if minor is not None:
                    remember(minor, sub_position)
    if problems:
        raise TaxonomyError(path, problems)
    return tuple(specs)


# -- loading into the database ------------------------------------------------------------


def _apply(row: object, values: Mapping[str, Any]) -> bool:
    """Set only the attributes that differ, so an unchanged row issues no UPDATE; True if any did."""
    changed = False
    for key, value in values.items():
        if getattr(row, key) != value:
            setattr(row, key, value)
            changed = True
    return changed


def load_departments(session: Session, path: str | Path | None = None) -> LoadReport:
    """Upsert the departments of a file (ours by default) by code.

    Departments missing from the file are deactivated, not deleted: tickets and users still
    refer to them. A phone number is only overwritten when the file gives one.
    """
    specs = read_departments(path)
    existing = {d.code: d for d in session.scalars(select(Department))}
    created = updated = deactivated = 0
    for spec in specs:
        values: dict[str, Any] = {"name_zh": spec.name_zh, "name_en": spec.name_en, "active": True}
        if spec.phone is not None:
            values["phone"] = spec.phone
        row = existing.get(spec.code)
        if row is None:
            session.add(Department(code=spec.code, phone="", **values))
            created += 1
        elif _apply(row, values):
            updated += 1
    in_file = {s.code for s in specs}
    for code, row in existing.items():
        if code not in in_file and row.active:
            row.active = False
            deactivated += 1
    session.flush()
    return LoadReport(created=created, updated=updated, deactivated=deactivated)


def _category_note(spec: CategorySpec) -> str:
    # The basis travels with the class so the desk can show a city which limits are ours to replace.
    parts = [spec.note.strip()]
    if spec.time_limit_basis.strip():
        parts.append(f"Time limit basis: {spec.time_limit_basis.strip()}")
    return "\n".join(p for p in parts if p)


def load_taxonomy(session: Session, path: str | Path | None = None) -> LoadReport:
    """Upsert the classes of a taxonomy file (ours by default) by code.

    Departments are resolved by code among the active departments already in the database,
    so load the departments file first. The whole file is validated before anything is
    written; classes missing from the file are deactivated, not deleted.
    """
    departments = dict(session.execute(select(Department.code, Department.id).where(Department.active.is_(True))).all())
    if not departments:
        raise TaxonomyError(path if path is not None else DEFAULT_TAXONOMY_PATH, ["the database has no active departments: load a departments file first"])
    specs = read_taxonomy(path, department_codes=departments.keys())
    existing = {c.code: c for c in session.scalars(select(Category))}
    created = updated = 0
    rows: dict[str, Category] = {}
    # Majors first and flushed, so that their ids exist for the minors' parent links.
    for majors in (True, False):
        for spec in (s for s in specs if s.is_major == majors):
            values: dict[str, Any] = {
                "kind": spec.kind,
                "parent_id": rows[spec.parent_code].id if spec.parent_code is not None else None,
                "name_zh": spec.name_zh,
                "name_en": spec.name_en,
                "default_department_id": departments[spec.department_code] if spec.department_code is not None else None,
                "time_limit": spec.time_limit,
                "urgent_time_limit": spec.urgent_time_limit,
                "code_origin": spec.code_origin,
                "note": _category_note(spec),
                "active": True,
            }
            row = existing.get(spec.code)
            if row is None:
                row = Category(code=spec.code, **values)
                session.add(row)
                created += 1
            elif _apply(row, values):
                updated += 1
            rows[spec.code] = row
        session.flush()
    deactivated = 0
    for code, row in existing.items():
        if code not in rows and row.active:
            row.active = False
            deactivated += 1
    session.flush()
    return LoadReport(created=created, updated=updated, deactivated=deactivated)


# -- lookups ------------------------------------------------------------------------------


def category_defaults(session: Session, category_id: int) -> CategoryDefaults:
    """The department and time limits a ticket of this class starts from.

    A minor class may leave any of them unset to follow its major class, so each value is
    taken from the nearest class up the parent chain that sets it. Raises LookupError for an
    unknown id.
    """
    category = session.get(Category, category_id)
    if category is None:
        raise LookupError(f"no category with id {category_id}")
    department_id: int | None = None
    time_limit: str | None = None
    urgent: str | None = None
    seen: set[int] = set()
    node: Category | None = category
    while node is not None and node.id not in seen:
        seen.add(node.id)
        department_id = department_id if department_id is not None else node.default_department_id
        time_limit = time_limit if time_limit is not None else node.time_limit
        urgent = urgent if urgent is not None else node.urgent_time_limit
        if department_id is not None and time_limit is not None and urgent is not None:
            break
        node = session.get(Category, node.parent_id) if node.parent_id is not None else None
    return CategoryDefaults(department_id=department_id, time_limit=time_limit, urgent_time_limit=urgent)


def category_by_code(session: Session, code: str) -> Category | None:
    """The class with this code, active or not (old tickets keep deactivated classes)."""
    return session.scalars(select(Category).where(Category.code == code)).one_or_none()


def list_categories(
    session: Session,
    *,
    kind: CategoryKind | None = None,
    parent_id: int | None = None,
    majors_only: bool = False,
    include_inactive: bool = False,
) -> list[Category]:
    """Classes in code order, for pickers and the Open311 service list; active ones unless asked."""
    query = select(Category).order_by(Category.code)
    if kind is not None:
        query = query.where(Category.kind == kind)
    if parent_id is not None:
        query = query.where(Category.parent_id == parent_id)
    if majors_only:
        query = query.where(Category.parent_id.is_(None))
    if not include_inactive:
        query = query.where(Category.active.is_(True))
    return list(session.scalars(query))


def department_by_code(session: Session, code: str) -> Department | None:
    """The department with this code, active or not."""
    return session.scalars(select(Department).where(Department.code == code)).one_or_none()
