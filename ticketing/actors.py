"""Who is acting, and what part of the unit tree they may see."""

from __future__ import annotations

from dataclasses import dataclass

from config import get_settings
from ticketing.models import Ticket, User
from ticketing.phones import mask
from ticketing.states import TRANSITIONS, Action, Role


@dataclass(frozen=True)
class Actor:
    id: int | None
    name: str
    role: Role
    unit_id: int | None = None
    unit_path: str | None = None
    unit_code: str | None = None

    @classmethod
    def system(cls, name: str = "system") -> Actor:
        return cls(id=None, name=name, role=Role.SYSTEM)

    @classmethod
    def of(cls, user: User) -> Actor:
        return cls(
            id=user.id,
            name=user.display_name,
            role=Role(user.role),
            unit_id=user.unit_id,
            unit_path=user.unit.path if user.unit else None,
            unit_code=user.unit.code if user.unit else None,
        )

    @property
    def sees_everything(self) -> bool:
        return self.role in (Role.SYSTEM, Role.OPERATOR, Role.ADMIN)

    @property
    def of_the_centre(self) -> bool:
        """The hotline centre: its operators and administrators, and the supervisors of the
        centre's unit(s) named by ``settings.centre_units`` (its 督办科), whom no unit's
        figures rank. Any other supervisor, of a district or of another top-level unit,
        is of the units the ranking compares."""
        if self.role in (Role.OPERATOR, Role.ADMIN):
            return True
        return (self.role == Role.SUPERVISOR and self.unit_code is not None
                and self.unit_code in get_settings().centre_units)

    @property
    def decides_exclusions(self) -> bool:
        """Whether this actor may 剔除 (the transition table's roles) here: only the centre.
        An excluded ticket leaves every figure of its unit; a district's supervisor acts on
        their own units' tickets only, which the ranking compares, so they may deny a
        handler's 申请剔除 but not grant it."""
        return self.role in TRANSITIONS[Action.EXCLUDE].roles and self.of_the_centre

    def can_see(self, ticket: Ticket) -> bool:
        """Whether ``ticket`` is in this actor's scope: ``ticketing.queries.scope_filter``,
        the one definition."""
        from ticketing.queries import may_see_ticket  # queries builds on Actor

        return may_see_ticket(self, ticket)

    @property
    def sees_caller_of_confidential(self) -> bool:
        return self.role != Role.HANDLER


def mask_phone(phone: str | None) -> str | None:
    """138****5678: enough to recognise a number, not enough to dial it
    (``ticketing.phones.mask``, here for the callers written against actors)."""
    return mask(phone)
