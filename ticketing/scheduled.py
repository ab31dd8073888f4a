"""Periodic work of the core: utilities (水电气暖) must not wait in the manual queue.

The hotline promises utilities are dispatched within 10 minutes. A utility ticket still in
the manual queue when half that window has passed is tried against the rules again (a
handler may have come on duty) and otherwise escalated, so a supervisor dispatches it
while there is still time.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from ticketing import service
from ticketing.actors import Actor
from ticketing.classify import UTILITY_CATEGORIES
from ticketing.context import Domain
from ticketing.models import Ticket
from ticketing.states import AWAITING_DISPATCH_STATUSES, values


def escalate_waiting_utilities(*, session: Session, domain: Domain) -> list[Ticket]:
    """Escalate utility tickets waiting too long for dispatch; returns the escalated ones."""
    actor = Actor.system("scheduler")
    now = domain.now()
    threshold = now - timedelta(seconds=domain.settings.deadlines.utility_dispatch_seconds / 2)
    waiting = session.scalars(
        select(Ticket)
        .where(
            Ticket.status.in_(values(AWAITING_DISPATCH_STATUSES)),
            Ticket.category.in_(sorted(UTILITY_CATEGORIES)),
            Ticket.escalated.is_(False),
            Ticket.updated_at <= threshold,
        )
        .with_for_update(skip_locked=True)
    ).all()
    escalated = []
    for ticket in waiting:
        if service.auto_dispatch(session=session, domain=domain, ticket=ticket, actor=actor):
            continue
        ticket.escalated = True
        service.record_event(
            session=session, ticket=ticket, actor=actor, action="escalate",
            note="水电气暖工单待派单超过时限的一半，已提级由督办人员派单",
            data={"waiting_seconds": int((now - ticket.updated_at).total_seconds())},
            at=now,
        )
        escalated.append(ticket)
    session.flush()
    return escalated
