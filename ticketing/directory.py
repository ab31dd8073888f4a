"""Units, users and their bearer tokens (only a token's SHA-256 is stored; it is shown once)."""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from ticketing.models import Unit, User
from ticketing.states import Role


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(user: User) -> str:
    token = secrets.token_urlsafe(24)
    user.token_sha256 = hash_token(token)
    return token


def user_for_token(*, session: Session, token: str) -> User | None:
    if not token:
        return None
    return session.scalars(
        select(User).where(User.token_sha256 == hash_token(token), User.active.is_(True))
    ).first()


def add_user(
    *,
    session: Session,
    username: str,
    display_name: str,
    role: Role,
    unit_code: str | None = None,
    phone: str | None = None,
    on_duty: bool = True,
) -> tuple[User, str]:
    """Create a user and return it with its new bearer token."""
    unit = None
    if unit_code:
        unit = session.scalars(select(Unit).where(Unit.code == unit_code)).first()
        if unit is None:
            raise ValueError(f"unit {unit_code} does not exist")
    if role in (Role.HANDLER, Role.SUPERVISOR) and unit is None:
        raise ValueError(f"a {role.value} must belong to a unit")
    if session.scalars(select(User).where(User.username == username)).first():
        raise ValueError(f"user {username} already exists")
    user = User(
        username=username,
        display_name=display_name,
        role=role.value,
        unit_id=unit.id if unit else None,
        unit=unit,
        phone=phone,
        on_duty=on_duty,
    )
    token = issue_token(user)
    session.add(user)
    session.flush()
    return user, token


def add_unit(
    *,
    session: Session,
    code: str,
    name: str,
    kind: str = "agency",
    parent_code: str | None = None,
    phone: str | None = None,
) -> Unit:
    parent = None
    if parent_code:
        parent = session.scalars(select(Unit).where(Unit.code == parent_code)).first()
        if parent is None:
            raise ValueError(f"parent unit {parent_code} does not exist")
    if session.scalars(select(Unit).where(Unit.code == code)).first():
        raise ValueError(f"unit {code} already exists")
    unit = Unit(code=code, name=name, kind=kind, parent_id=parent.id if parent else None,
                phone=phone)
    session.add(unit)
    session.flush()
    unit.path = f"{parent.path if parent else '/'}{unit.id}/"
    session.flush()
    return unit
