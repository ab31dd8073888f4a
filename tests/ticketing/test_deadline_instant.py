"""A deadline passes once, at one instant, for every reader (``ticketing.deadlines.passed``):
at the deadline itself a ticket is not late -- what is closed then is closed on time -- and
one microsecond after, it is late everywhere. Before, the figures read ``due_at <= now`` and
counted an open ticket as a miss (on-time closure) at the very instant the console, the API
and /metrics (``queries.is_overdue``) still called it on time."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session, sessionmaker

from tests.support.city import City
from tests.ticketing.test_figure_forgery import _clocked, _filed_and_saved
from ticketing.context import Domain
from ticketing.queries import is_overdue
from ticketing.reports import figures


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
