"""Who gets called: the ticket's handler, the unit's supervisor, the superior unit's, the
hotline's on-duty dispatcher — the rungs of the escalation ladder (settings.escalation)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from config.settings import Who
from ticketing.models import Ticket, Unit, User
from ticketing.states import Role

# Bottom to top. A rung whose person cannot be reached (no such person, no phone) goes to
# the next one up: an escalation that reaches nobody is what the ladder exists to prevent.
LADDER_ORDER: tuple[Who, ...] = ("handler", "unit_supervisor", "superior_unit",
                                 "duty_dispatcher")

# The rungs aimed at the unit handling the ticket; the duty dispatcher is the centre's own.
UNIT_SIDE: frozenset[str] = frozenset(LADDER_ORDER[:-1])

WHO_LABELS: dict[str, str] = {
    "handler": "承办人",
    "unit_supervisor": "单位督办员",
    "superior_unit": "上级单位督办员",
    "duty_dispatcher": "值班调度员",
}


def _supervisor_at(session: Session, unit: Unit) -> User | None:
    return session.scalars(
        select(User)
        .where(User.unit_id == unit.id, User.role == Role.SUPERVISOR.value,
               User.active.is_(True), User.phone.is_not(None))
        .order_by(User.id)
        .limit(1)
    ).first()


def supervisor_of(*, session: Session, unit: Unit | None) -> User | None:
    """The nearest active supervisor with a phone at ``unit`` or above it in the tree; a
    utility company rarely has its own, so the city's 督办 steps in."""
    while unit is not None:
        found = _supervisor_at(session, unit)
        if found is not None:
            return found
        unit = unit.parent
    return None


def superior_supervisor(*, session: Session, unit: Unit | None) -> User | None:
    """The supervisor one level above the unit's own (the nearest one strictly above the
    unit where ``supervisor_of`` found someone), so the superior rung always climbs; at
    the top of the tree it is the top supervisor."""
    own = supervisor_of(session=session, unit=unit)
    if own is None or own.unit is None:
        return own
    return supervisor_of(session=session, unit=own.unit.parent) or own


def duty_dispatcher(*, session: Session) -> User | None:
    """An on-duty operator of the hotline with a phone; else the top unit's supervisor."""
    found = session.scalars(
        select(User)
        .where(User.role == Role.OPERATOR.value, User.on_duty.is_(True),
               User.active.is_(True), User.phone.is_not(None))
        .order_by(User.id)
        .limit(1)
    ).first()
    if found is not None:
        return found
    for top in session.scalars(select(Unit).where(Unit.parent_id.is_(None)).order_by(Unit.id)):
        boss = _supervisor_at(session, top)
        if boss is not None:
            return boss
    return None


def _one(session: Session, who: Who, ticket: Ticket) -> User | None:
    if who == "handler":
        handler = ticket.handler
        return handler if handler is not None and handler.phone and handler.active else None
    if who == "unit_supervisor":
        return _over_the_handler(supervisor_of(session=session, unit=ticket.unit), ticket)
    if who == "superior_unit":
        return _over_the_handler(superior_supervisor(session=session, unit=ticket.unit),
                                 ticket)
    return duty_dispatcher(session=session)


def _over_the_handler(person: User | None, ticket: Ticket) -> User | None:
    """A supervisor rung never lands on the ticket's own handler: a supervisor handling a
    ticket of their unit (they sign and reply for it) was "escalated" to about it, the same
    person the reminders had not reached (judge27). None: the rung climbs."""
    return None if person is not None and person.id == ticket.handler_id else person


def recipient(*, session: Session, who: Who, ticket: Ticket) -> tuple[Who, User] | None:
    """The person ``who`` names for ``ticket``, or the first one above them who can be
    reached; with the level that was actually reached."""
    for level in LADDER_ORDER[LADDER_ORDER.index(who):]:
        person = _one(session, level, ticket)
        if person is not None and person.phone:
            return level, person
    return None
