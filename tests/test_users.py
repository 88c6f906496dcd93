"""Desk accounts: Argon2id hashes, roles, and authentication that leaks nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from hotline import users
from hotline.storage.models import Department, Role, User


def test_password_is_hashed_and_verified(database):
    """The stored hash is Argon2id, never the password; the right password authenticates."""
    with database.transaction() as s:
        users.create_user(s, "op1", "correct-horse-9", ["operator"])
    with database.transaction() as s:
        u = s.scalars(select(User)).one()
        assert u.password_hash.startswith("$argon2id$") and "correct-horse-9" not in u.password_hash
        assert users.authenticate(s, "op1", "correct-horse-9") is u
        assert u.last_login_at is not None
        assert users.authenticate(s, "op1", "wrong-password-1") is None
        assert users.authenticate(s, "nobody", "correct-horse-9") is None


def test_inactive_user_cannot_log_in(database):
    """A deactivated account is refused even with the right password."""
    with database.transaction() as s:
        users.create_user(s, "op2", "correct-horse-9", ["operator"]).active = False
    with database.transaction() as s:
        assert users.authenticate(s, "op2", "correct-horse-9") is None


def test_roles(database):
    """A user can hold several roles; department staff need a department; roles are checked."""
    with database.transaction() as s:
        dep = Department(code="SAN", name_zh="环境卫生")
        s.add(dep)
        s.flush()
        u = users.create_user(s, "sup", "correct-horse-9", ["supervisor", "operator"])
        assert u.has_role(Role.SUPERVISOR) and u.has_role(Role.OPERATOR) and not u.has_role(Role.ADMIN)
        with pytest.raises(users.UserError, match="department staff need a department"):
            users.create_user(s, "dep1", "correct-horse-9", ["department"])
        users.create_user(s, "dep1", "correct-horse-9", ["department"], department_id=dep.id)
        with pytest.raises(users.UserError, match="unknown role"):
            users.create_user(s, "x1", "correct-horse-9", ["king"])
        with pytest.raises(users.UserError, match="at least one role"):
            users.create_user(s, "x2", "correct-horse-9", [])
        assert not users.has_admin(s)


@pytest.mark.parametrize(
    "username, password, message",
    [
        ("a", "correct-horse-9", "username 'a'"),
        ("bad name", "correct-horse-9", "username 'bad name'"),
        ("ok", "short1", "too short"),
        ("ok", "onlyletterslong", "mix letters"),
        ("ok", "12345678901", "mix letters"),
    ],
)
def test_bad_accounts_are_refused(database, username, password, message):
    """Bad usernames and weak passwords are refused with a reason."""
    with database.transaction() as s, pytest.raises(users.UserError, match=message):
        users.create_user(s, username, password, ["operator"])
