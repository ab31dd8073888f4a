"""The 催办 says "已超过办理时限" exactly when the console shows the ticket 超时
(``ticketing.deadlines.passed``, read by ``queries.is_overdue``): at the deadline itself
it still names the deadline. Before, it read ``due_at <= now`` and told a handler the time
was up at the instant the console, the API and the figures called the ticket on time."""

from __future__ import annotations

from datetime import timedelta

from outbound.reminders import _urge_text
from ticketing.context import Domain
from ticketing.models import Ticket, utcnow
from ticketing.queries import is_overdue
from ticketing.states import Status


def test_the_urge_calls_a_ticket_late_when_the_console_does(domain: Domain) -> None:
    due = utcnow().replace(microsecond=0)
    t = Ticket(number="202612070001", status=Status.SIGNED.value, due_at=due)
    said = {}
    for now in (due, due + timedelta(microseconds=1)):
        domain.now = lambda now=now: now  # type: ignore[method-assign]
        said[is_overdue(t, now)] = "已超过办理时限" in _urge_text(domain, t)
    assert said == {False: False, True: True}
