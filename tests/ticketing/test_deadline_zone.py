"""A deadline does not depend on the host's time zone (trial55 made ``due_at`` answer in UTC
with ``astimezone``, which reads a naive time in the host's zone)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from config import Settings
from ticketing.deadlines import Urgency, due_at
from ticketing.workcalendar import WorkCalendar


@pytest.mark.parametrize("urgency,hours", [(Urgency.URGENT, 1), (Urgency.LIVELIHOOD, 24)])
def test_a_naive_call_time_is_utc_whatever_the_hosts_zone(
        monkeypatch: pytest.MonkeyPatch, urgency: Urgency, hours: int) -> None:
    deadlines = Settings().deadlines
    calendar = WorkCalendar()
    called = datetime(2026, 12, 7, 2, 30)  # naive, as a stored UTC time may come back
    monkeypatch.setenv("TZ", "Asia/Shanghai")
    time.tzset()
    try:
        due = due_at(urgency, called, settings=deadlines, calendar=calendar)
    finally:
        monkeypatch.undo()
        time.tzset()
    assert due == called.replace(tzinfo=UTC) + timedelta(hours=hours)
    assert due.utcoffset() == timedelta(0)
