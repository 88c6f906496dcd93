"""Desk accounts as the admin page manages them: role, department, seat and queues.

Creating the first admin stays with `hotline user add`; these run in the caller's transaction
and write their audit entry there."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from hotline import audit, users
from hotline.storage.models import Department, Role, User, UserQueue, UserRole
from hotline.users import SignedIn

QUEUE_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
EXTENSION = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")


@dataclass(frozen=True)
class Account:
    id: int
    username: str
    display_name: str
    roles: tuple[Role, ...]
    department_id: int | None
    department: str
    extension: str
    queues: tuple[str, ...]
    active: bool


def accounts(session: Session) -> list[Account]:
    queues: dict[int, list[str]] = {}
    for row in session.scalars(select(UserQueue).order_by(UserQueue.queue)):
        queues.setdefault(row.user_id, []).append(row.queue)
    return [
        Account(
            u.id,
            u.username,
            u.display_name,
            tuple(sorted(r.role for r in u.roles)),
            u.department_id,
            u.department.name_zh if u.department else "",
            u.extension or "",
            tuple(queues.get(u.id, ())),
            u.active,
        )
        for u in session.scalars(select(User).order_by(User.username))
    ]


def departments(session: Session) -> list[Department]:
    return list(session.scalars(select(Department).where(Department.active.is_(True)).order_by(Department.code)))


def parse_queues(text: str) -> list[str]:
    names = sorted({q for q in re.split(r"[\s,，]+", text) if q})
    for name in names:
        if not QUEUE_NAME.match(name):
            raise users.UserError(f"queue {name!r}: use letters, digits, '.', '_' or '-'")
    return names


def _check(session: Session, roles: Iterable[str], department_id: int | None, extension: str) -> tuple[list[Role], str | None]:
    try:
        role_set = sorted({Role(r) for r in roles})
    except ValueError:
        raise users.UserError(f"unknown role; roles are: {', '.join(r.value for r in Role)}") from None
    if not role_set:
        raise users.UserError("a user needs at least one role")
    if department_id is not None and session.get(Department, department_id) is None:
        raise users.UserError(f"no department {department_id}")
    if Role.DEPARTMENT in role_set and department_id is None:
        raise users.UserError("department staff need a department")
    extension = extension.strip()
    if extension and not EXTENSION.match(extension):
        raise users.UserError(f"seat {extension!r}: use the pjsip endpoint name (letters, digits, '.', '_', '-')")
    return role_set, extension or None


def create(
    session: Session, admin: SignedIn, *, username: str, password: str, display_name: str, roles: Iterable[str], department_id: int | None, extension: str, queues: Iterable[str], address: str
) -> User:
    role_set, seat = _check(session, roles, department_id, extension)
    user = users.create_user(session, username.strip(), password, role_set, display_name=display_name.strip(), department_id=department_id, extension=seat)
    _queues_and_audit(session, admin, user, "user_created", queues, address, {"roles": [r.value for r in role_set], "department_id": department_id})
    return user


def update(
    session: Session, admin: SignedIn, user_id: int, *, display_name: str, roles: Iterable[str], department_id: int | None, extension: str, queues: Iterable[str], active: bool, address: str
) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise users.UserError(f"no user {user_id}")
    role_set, seat = _check(session, roles, department_id, extension)
    if user.id == admin.user_id and (Role.ADMIN not in role_set or not active):
        raise users.UserError("you cannot remove your own admin role or deactivate yourself")
    user.display_name = display_name.strip() or user.username
    user.roles = [UserRole(role=r) for r in role_set]
    user.department_id = department_id
    user.extension = seat
    user.active = active
    session.execute(delete(UserQueue).where(UserQueue.user_id == user.id))
    detail = {"roles": [r.value for r in role_set], "department_id": department_id, "extension": seat, "active": active}
    _queues_and_audit(session, admin, user, "user_updated", queues, address, detail)
    return user


def _queues_and_audit(session: Session, admin: SignedIn, user: User, action: str, queues: Iterable[str], address: str, detail: dict[str, Any]) -> None:
    names = sorted(set(queues))
    session.add_all(UserQueue(user_id=user.id, queue=q) for q in names)
    audit.record(session, action, user_id=admin.user_id, username=admin.username, target=f"user:{user.username}", address=address, detail=detail | {"queues": names})
