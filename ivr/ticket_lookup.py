"""Status lookup by phone (key 1): what the caller's number has open, as it is read out.

The caller is known only by caller ID, which anyone can set on a direct SIP call (and
many trunks pass through). So the answer is only what is safe to tell whoever claims the
number: how many tickets are open, and for each the last digits of its number and a coarse
step (ticketing.states.PUBLIC_STATUS_LABELS). Never a confidential ticket (that a number
filed one is itself the secret), never the demand, the unit, a handler's name or phone.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from ticketing.models import Ticket
from ticketing.phones import normalise
from ticketing.queries import same_identified_caller
from ticketing.states import OPEN_STATUSES, PUBLIC_STATUS_LABELS, Status, values

# Enough for the caller to tell their tickets apart, too little to act on one elsewhere
# (the API, the console and the outbound menus all want the full number).
TAIL_DIGITS = 4


@dataclass(frozen=True)
class TicketStatus:
    tail: str  # the last TAIL_DIGITS digits of the ticket number
    label: str  # zh-CN: 已受理 / 办理中 / 已办结


@dataclass(frozen=True)
class StatusReport:
    open_count: int
    tickets: list[TicketStatus] = field(default_factory=list)  # newest first
    # The caller's number is withheld: there is nothing to look up by (the dialogue says so).
    no_number: bool = False


def open_tickets(sessions: sessionmaker[Session], caller: str,
                 limit: int = 3) -> StatusReport:
    """The open, non-confidential tickets filed from this number (in any spelling: it is
    compared in E.164), their count and the latest ``limit`` (newest first). Tickets whose
    number was keyed in on the IVR are not the caller's to hear about: anyone can key any
    number. Raises SQLAlchemyError when the database is down (the dialogue says so)."""
    number = normalise(caller)
    if number is None:
        return StatusReport(0, no_number=True)
    conds = (same_identified_caller(number), Ticket.confidential.is_(False),
             Ticket.status.in_(values(OPEN_STATUSES)))
    with sessions() as session:
        count = session.scalar(select(func.count(Ticket.id)).where(*conds)) or 0
        rows = session.execute(
            select(Ticket.number, Ticket.status).where(*conds)
            .order_by(Ticket.received_at.desc(), Ticket.id.desc())
            .limit(limit)
        ).all()
    return StatusReport(count, [
        TicketStatus(number[-TAIL_DIGITS:], PUBLIC_STATUS_LABELS[Status(status)])
        for number, status in rows
    ])
