"""Status lookup by phone (key 1): the caller's latest open tickets, as they are read out."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ticketing.models import Ticket
from ticketing.states import STATUS_LABELS, Status

# Finished or set aside: nothing for the caller to wait for.
_NOT_OPEN = (Status.CLOSED, Status.SURVEYED, Status.ARCHIVED, Status.EXCLUDED)


@dataclass(frozen=True)
class TicketStatus:
    number: str
    status: str
    label: str  # zh-CN, from ticketing.states.STATUS_LABELS


def open_tickets(sessions: sessionmaker[Session], caller: str,
                 limit: int = 3) -> list[TicketStatus]:
    """Latest ``limit`` open tickets filed from this number (newest first). Raises
    SQLAlchemyError when the database is down (the dialogue says so)."""
    if not caller:
        return []
    with sessions() as session:
        rows = session.scalars(
            select(Ticket)
            .where(Ticket.caller_phone == caller,
                   Ticket.status.not_in([s.value for s in _NOT_OPEN]))
            .order_by(Ticket.received_at.desc(), Ticket.id.desc())
            .limit(limit)
        ).all()
        return [TicketStatus(t.number, t.status, STATUS_LABELS[Status(t.status)]) for t in rows]
