"""Which dispatch a ticket is in. Sign work belongs to one dispatch: a reassignment, a
驳回重办 or a 拆单 that needs someone told (a new window, or an on-duty handler picked)
starts a new round, so the old round's reminders stop and new ones are planned. 拆单 back
to the handler it had is the same round: the planner resumes its reminders
(planner.resume_sign_work)."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ticketing.merging import SIGN_WINDOW_EVENT
from ticketing.models import TicketEvent

# 拆单 telling someone of a window (ticketing.merging.unmerge) is a round too.
DISPATCH_ACTIONS = ("dispatch", "reassign", "reject", SIGN_WINDOW_EVENT)


def dispatch_rounds(*, session: Session, ticket_ids: Iterable[int]) -> dict[int, int]:
    """Number of dispatches each ticket has had (1 after the first dispatch)."""
    ids = list(ticket_ids)
    if not ids:
        return {}
    rows = session.execute(
        select(TicketEvent.ticket_id, func.count(TicketEvent.id))
        .where(TicketEvent.ticket_id.in_(ids), TicketEvent.action.in_(DISPATCH_ACTIONS))
        .group_by(TicketEvent.ticket_id)
    ).all()
    return {tid: int(n) for tid, n in rows}


def dispatch_round(*, session: Session, ticket_id: int) -> int:
    return dispatch_rounds(session=session, ticket_ids=[ticket_id]).get(ticket_id, 0)
