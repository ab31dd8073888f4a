"""Periodic work of the core: utilities (水电气暖) must not wait in the manual queue.

The hotline promises utilities are dispatched within 10 minutes. A utility ticket still in
the manual queue when half that window has passed is tried against the rules again (a
handler may have come on duty) and otherwise escalated, so a supervisor dispatches it
while there is still time. The clock runs from the call (or the latest 退单), never from
the ticket's last write: a duplicate linked to it must not restart it. At the end of the
window the outbound worker calls the duty dispatcher (settings.escalation.utility_who).
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from ticketing import service
from ticketing.actors import Actor
from ticketing.context import Domain
from ticketing.models import Ticket
from ticketing.queries import queued_since, waiting_utilities
from ticketing.states import Status


def escalate_waiting_utilities(*, session: Session, domain: Domain) -> list[Ticket]:
    """Escalate utility tickets waiting too long for dispatch; returns the escalated ones."""
    actor = Actor.system("scheduler")
    now = domain.now()
    threshold = now - timedelta(seconds=domain.settings.deadlines.utility_dispatch_seconds / 2)
    since = queued_since()
    waiting = session.execute(
        select(Ticket, since)
        .where(waiting_utilities(), Ticket.escalated.is_(False), since <= threshold)
        .with_for_update(skip_locked=True)
    ).all()
    escalated = []
    for ticket, queued in waiting:
        # The rules are tried again only for a ticket they never placed (a handler may have
        # come on duty); a 退单 came back from the unit the rules name, so a person decides.
        if ticket.status == Status.ACCEPTED.value and service.auto_dispatch(
                session=session, domain=domain, ticket=ticket, actor=actor):
            continue
        ticket.escalated = True
        service.record_event(
            session=session, ticket=ticket, actor=actor, action="escalate",
            note="水电气暖工单待派单超过时限的一半，已提级由督办人员派单",
            data={"waiting_seconds": int((now - queued).total_seconds())},
            at=now,
        )
        escalated.append(ticket)
    session.flush()
    return escalated
