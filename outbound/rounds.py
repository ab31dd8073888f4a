"""Which dispatch a ticket is in. Sign work belongs to one dispatch: a reassignment, a
驳回重办 or a new sign window from 拆单 starts a new round, so the old round's reminders
stop and new ones are planned."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ticketing.merging import SIGN_WINDOW_EVENT
from ticketing.models import TicketEvent

# 拆单 giving a ticket a new sign window (ticketing.merging) is a round too: the merge
# stopped the old round's reminders, and they named the old window.
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
