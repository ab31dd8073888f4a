"""Periodic work of the core: utilities (水电气暖) must not wait in the manual queue, and
closed tickets whose citizen cannot be surveyed are archived.

The hotline promises utilities are dispatched within 10 minutes. A utility ticket still in
the manual queue when half that window has passed is tried against the rules again (a
handler may have come on duty) and otherwise escalated, so a supervisor dispatches it
while there is still time. The clock runs from the call (or the latest 退单), never from
the ticket's last write: a duplicate linked to it must not restart it. At the end of the
window the outbound worker calls the duty dispatcher (settings.escalation.utility_who).
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from ticketing import service
from ticketing.actors import Actor
from ticketing.context import Domain
from ticketing.merging import surveyable
from ticketing.models import SurveyResult, Ticket
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


def archive_unsurveyable(*, session: Session, domain: Domain) -> list[Ticket]:
    """Archive closed tickets nobody can survey — no number, or the citizen asked for no
    callback (since the closure), a ticket merged into another's group (surveyed through
    its primary), or the survey of this closure found them unreachable (since then) — once
    settings.verification.archive_unsurveyable_days have passed. A
    survey that arrives before that (an SMS reply) still counts."""
    now = domain.now()
    cutoff = now - timedelta(days=domain.settings.verification.archive_unsurveyable_days)
    unreachable = select(SurveyResult.id).where(
        SurveyResult.ticket_id == Ticket.id, SurveyResult.closure_round == Ticket.redo_count,
        SurveyResult.outcome == "unreachable", SurveyResult.at <= cutoff,
    ).exists()
    due = session.scalars(
        select(Ticket)
        .where(Ticket.status == Status.CLOSED.value,
               or_(and_(~surveyable(), Ticket.closed_at <= cutoff), unreachable))
        .order_by(Ticket.id)
        .with_for_update(skip_locked=True)
    ).all()
    actor = Actor.system("scheduler")
    for ticket in due:
        service.archive(session=session, domain=domain, ticket=ticket, actor=actor,
                        note="市民无法回访（不愿回访或联系不上），到期归档")
    session.flush()
    return list(due)
