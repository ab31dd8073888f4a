"""The figures' per-ticket look-ups stay per ticket as the table grows (migration 0019).

``reports.utility_dispatch`` asks each utility's first dispatch, ``min(at) where ticket_id
= ? and action = 'dispatch'``. Without (ticket_id, action, at) SQLite answered it through
(action, at), walking every dispatch of every ticket until one of this ticket's came up:
the work per utility grew with the whole table, a month's figures of a large city ran for
minutes. Measured here in SQLite virtual-machine steps (a count, not seconds): a table
four times larger must cost about four times the work, not sixteen."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert
from sqlalchemy.orm import Session

from hotline import dbadmin
from ticketing.db import make_engine
from ticketing.models import Ticket, TicketEvent, Unit
from ticketing.reports import utility_dispatch
from ticketing.states import Action, Status

START = datetime(2026, 11, 1, tzinfo=UTC)
NOW = datetime(2026, 12, 1, tzinfo=UTC)


def _steps(tmp_path: Path, tickets: int) -> tuple[int, tuple[int, int]]:
    """VM steps of one utility_dispatch over a month of ``tickets`` tickets, one in five a
    utility, each dispatched once (a migrated database: the index is the migration's)."""
    url = f"sqlite:///{tmp_path / f'figures-{tickets}.db'}"
    dbadmin.upgrade(url)
    engine = make_engine(url)
    rows, events = [], []
    for tid in range(1, tickets + 1):
        received = START + timedelta(minutes=tid)
        dispatched = received + timedelta(minutes=5 if tid // 5 % 2 else 15)
        rows.append({"id": tid, "number": f"T{tid:09d}", "channel": "phone",
                     "category": "water" if tid % 5 == 0 else "road",
                     "status": Status.SIGNED.value, "unit_id": 1, "received_at": received,
                     "accepted_at": received, "dispatched_at": dispatched,
                     "due_at": received + timedelta(days=5), "created_at": received,
                     "updated_at": received})
        for action, at in ((Action.ACCEPT, received), (Action.DISPATCH, dispatched)):
            events.append({"ticket_id": tid, "at": at, "actor_name": "test",
                           "role": "operator", "action": action.value})
    with engine.begin() as conn:
        conn.execute(insert(Unit), [{"id": 1, "code": "u1", "name": "单位", "path": "/1/"}])
        conn.execute(insert(Ticket), rows)
        conn.execute(insert(TicketEvent), events)
    steps = 0

    def count() -> int:
        nonlocal steps
        steps += 1
        return 0

    with engine.connect() as conn:
        conn.connection.driver_connection.set_progress_handler(count, 100)
        with Session(bind=conn) as session:
            got = utility_dispatch(session=session, conds=[Ticket.received_at >= START],
                                   now=NOW, window=timedelta(minutes=10))
    engine.dispose()
    return steps, got


def test_first_dispatch_of_each_utility_costs_the_same_in_a_larger_table(
    tmp_path: Path,
) -> None:
    small, got_small = _steps(tmp_path, 500)
    large, got_large = _steps(tmp_path, 2000)
    # Every other utility dispatched 5 minutes after its call, the rest after 15.
    assert got_small == (50, 100) and got_large == (200, 400)
    assert large < 6 * small, (small, large)
