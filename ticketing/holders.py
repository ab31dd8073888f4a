"""Where a ticket may be sent, and who may hold it (be its 承办人): the one rule the API's
dispatch and 改派, the console's choice of unit and handler and auto-dispatch read
(review56: three rules, each a little different, so the API took a unit's operator and
the console never offered a supervisor).

Any unit but the centre's own (``receiver_refusal``).

An active handler or supervisor of the ticket's unit. A supervisor signs and replies for
their units (``states._HANDLING``), and in a small unit the supervisor is the one who does
the work, so the centre may send a ticket to them by name; the escalation ladder then climbs
past them (``outbound.people``). Operators and admins work for the centre, not a unit, and
a disabled account cannot log in to sign. Auto-dispatch adds its own preference on top
(``service.on_duty_handler``): an on-duty handler, never a supervisor, whose accounts are
on duty by default and, holding no tickets, would take every one first.
"""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import ColumnElement, and_
from sqlalchemy.orm import InstrumentedAttribute

from ticketing.db import one_of
from ticketing.models import Unit, User
from ticketing.states import Role

HOLDER_ROLES = frozenset({Role.HANDLER.value, Role.SUPERVISOR.value})


def receiver_refusal(unit: Unit, centre_units: Collection[str]) -> str | None:
    """Why no ticket may be sent to ``unit`` (派单, 改派, a dispatch rule naming it); None
    when it may. The centre's own unit (``settings.centre_units``) handles no ticket: its
    accounts are the centre's, who dispatch and supervise, and no ranking reads its
    figures. A ticket 改派'd there waited for nobody, each 改派 opening a new sign window
    (judge38's trial). A unit with no account of its own is no such case: its tickets'
    reminders climb to the supervisor above it (outbound.people), who may sign them."""
    if unit.code in centre_units:
        return (f"unit {unit.code} is the hotline centre's own: it handles no ticket; "
                "send it to the unit that does the work")
    return None


def receivers(centre_units: Collection[str]) -> ColumnElement[bool]:
    """``receiver_refusal`` as a WHERE clause on Unit: the units a ticket may be sent to."""
    return Unit.code.not_in(tuple(centre_units))


def holder_refusal(user: User | None, unit: Unit) -> str | None:
    """Why ``user`` may not hold a ticket of ``unit``; None when they may."""
    if user is None or user.unit_id != unit.id:
        return f"handler {user.id if user else None} is not in unit {unit.code}"
    if user.role not in HOLDER_ROLES:
        return f"user {user.id} is a {user.role}: a ticket is held by a handler or supervisor"
    if not user.active:
        return f"handler {user.id} is disabled"
    return None


def holders(unit_id: ColumnElement[int] | InstrumentedAttribute[int | None] | int | None = None
            ) -> ColumnElement[bool]:
    """``holder_refusal`` as a WHERE clause (of ``unit_id``, or of any unit): the same
    rule, for lists and auto-dispatch; tests/ticketing check that the two agree."""
    unit = User.unit_id.is_not(None) if unit_id is None else User.unit_id == unit_id
    return and_(unit, one_of(User.role, HOLDER_ROLES), User.active.is_(True))
