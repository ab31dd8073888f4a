"""A deadline passes once, at one instant, for every reader (``ticketing.deadlines.passed``):
at the deadline itself a ticket is not late -- what is closed then is closed on time -- and
one microsecond after, it is late everywhere. Before, the figures read ``due_at <= now`` and
counted an open ticket as a miss (on-time closure) at the very instant the console, the API
and /metrics (``queries.is_overdue``) still called it on time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from tests.support.city import City
from tests.ticketing.test_figure_forgery import WATER_OUT, _clocked, _filed_and_saved
from ticketing import service
from ticketing.context import Domain
from ticketing.merging import still_counted
from ticketing.models import Ticket
from ticketing.queries import is_overdue
from ticketing.reports import figures, utility_dispatch


def test_an_open_ticket_counts_late_in_the_figures_when_it_is_overdue_and_not_before(
    sessions: sessionmaker[Session], domain: Domain, city: City
) -> None:
    _clocked(domain)
    op = city.actor("operator")
    with sessions() as s:
        t = _filed_and_saved(s, domain, city, "livelihood")
        assert t.due_at is not None
        seen = []
        for now in (t.due_at, t.due_at + timedelta(microseconds=1)):
            f = figures(session=s, actor=op, now=now, utility_window=domain.utility_window)
            seen.append((is_overdue(t, now), f.overdue, f.due, f.closed_on_time))
        assert seen == [(False, 0, 0, 0), (True, 1, 1, 0)]


def test_an_undispatched_utility_ticket_misses_its_window_after_it_not_at_it(
    sessions: sessionmaker[Session], domain: Domain, city: City
) -> None:
    """水电气暖派单及时率: a utility ticket not dispatched counts (as late) once its dispatch
    window has passed, by the same rule as every deadline: not at the window's end itself,
    where it read ``received + window > now`` and counted it late one instant early."""
    _clocked(domain)
    op = city.actor("operator")
    with sessions() as s:
        t = service.create_ticket(session=s, domain=domain, actor=op, channel="api",
                                  caller_phone="13811112222", category="water",
                                  urgency="livelihood", demand=WATER_OUT)
        s.commit()
        assert t.dispatched_at is None
        end = t.received_at + domain.utility_window
        seen = [utility_dispatch(session=s, conds=[Ticket.id == t.id], now=now,
                                 window=domain.utility_window)
                for now in (end, end + timedelta(microseconds=1))]
        assert seen == [(0, 0), (0, 1)]


def test_a_ticket_merged_at_its_deadline_was_not_late_when_merged() -> None:
    """A merged ticket still counts against a deadline that had passed at the merge
    (``merging.still_counted``): merged at the deadline itself it was on time then, as
    ``passed`` says everywhere else, and the group counts it through its primary."""
    due = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
    assert not still_counted(due, due)
    assert still_counted(due, due + timedelta(microseconds=1))
    assert still_counted(due, None)
