"""The escalation ladder (settings.escalation) as work items: which 催办/督办 are due for a
ticket, and which rung a planned item belongs to.

An item's ``step`` says which rung and which repetition: ``rung * STEP_SPAN + n``. The unique
key (ticket, kind, round, step) then keeps each rung's n-th repetition planned once, however
many planners run.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from config.settings import Rung
from outbound.models import Kind
from outbound.policies import task_row
from ticketing.context import Domain

# Repetitions of one overdue rung before the next rung's steps would begin: at every 4
# hours that is 166 days of 超期督办, far beyond any ticket left open.
STEP_SPAN = 1000


def step_for(rung: int, repetition: int = 0) -> int:
    return rung * STEP_SPAN + min(repetition, STEP_SPAN - 1)


def rung_for(domain: Domain, step: int) -> Rung | None:
    """The rung of a planned item; None when the ladder has since been shortened."""
    index = step // STEP_SPAN
    ladder = domain.settings.escalation.ladder
    return ladder[index] if index < len(ladder) else None


def due_items(*, domain: Domain, ticket_id: int, round_: int, start: datetime,
              due: datetime, planned: set[int], now: datetime) -> list[dict[str, Any]]:
    """Rows for the rungs of one open ticket not planned yet. A fraction rung is planned
    once, at start + fraction of (due − start); an overdue rung one repetition at a time:
    the next only when the last has come due, so an open ticket never piles up rows."""
    rows: list[dict[str, Any]] = []
    for index, rung in enumerate(domain.settings.escalation.ladder):
        if rung.at is not None:
            step = step_for(index)
            if step not in planned:
                rows.append(task_row(ticket_id=ticket_id, kind=Kind.URGE.value, round_=round_,
                                     step=step, due_at=start + (due - start) * rung.at,
                                     now=now))
            continue
        assert rung.every_hours is not None
        every = timedelta(hours=rung.every_hours)
        done = sum(1 for s in planned if s // STEP_SPAN == index)
        if done and due + every * done > now:
            continue  # the last repetition is still ahead
        step = step_for(index, done)
        if step not in planned:
            rows.append(task_row(ticket_id=ticket_id, kind=Kind.URGE.value, round_=round_,
                                 step=step, due_at=due + every * (done + 1), now=now))
    return rows
