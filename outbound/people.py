"""Who gets called: the ticket's handler, the unit's supervisor, the superior unit's."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from ticketing.models import Unit, User
from ticketing.states import Role


def supervisor_of(*, session: Session, unit: Unit | None) -> User | None:
    """The nearest active supervisor with a phone at ``unit`` or above it in the tree; a
    utility company rarely has its own, so the city's 督办 steps in."""
    while unit is not None:
        found = session.scalars(
            select(User)
            .where(User.unit_id == unit.id, User.role == Role.SUPERVISOR.value,
                   User.active.is_(True), User.phone.is_not(None))
            .order_by(User.id)
            .limit(1)
        ).first()
        if found is not None:
            return found
        unit = unit.parent
    return None


def superior_supervisor(*, session: Session, unit: Unit | None) -> User | None:
    """催办 that has gone unheeded goes to the parent unit's supervisor."""
    if unit is None:
        return None
    return supervisor_of(session=session, unit=unit.parent or unit)
