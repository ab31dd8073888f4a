"""Deadlines by urgency: urgent 1 hour, livelihood 24 hours, general 5 working days."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from config.settings import DeadlineSettings
from ticketing.workcalendar import WorkCalendar


class Urgency(StrEnum):
    URGENT = "urgent"  # life or property safety
    LIVELIHOOD = "livelihood"  # basic needs cut off
    GENERAL = "general"


URGENCY_LABELS = {Urgency.URGENT: "紧急", Urgency.LIVELIHOOD: "民生", Urgency.GENERAL: "一般"}


def due_at(
    urgency: str,
    received_at: datetime,
    *,
    settings: DeadlineSettings,
    calendar: WorkCalendar,
    working_days: int | None = None,
) -> datetime:
    """The time by which the ticket must be closed, counted from the call; in UTC, as every
    stored time reads back (``UTCDateTime``): the working-day count answers in local time,
    and a ticket's deadline read "…+08:00" from the request that set it and "…Z" from
    every later one (trial55). A naive time is UTC, as stored times are: ``astimezone``
    would read it in the host's zone, 8 h off on a server set to Beijing time."""
    if received_at.tzinfo is None:
        received_at = received_at.replace(tzinfo=UTC)
    if urgency == Urgency.URGENT:
        due = received_at + timedelta(hours=settings.urgent_hours)
    elif urgency == Urgency.LIVELIHOOD:
        due = received_at + timedelta(hours=settings.livelihood_hours)
    else:
        days = settings.general_working_days if working_days is None else working_days
        due = calendar.add_working_days(received_at, days)
    return due.astimezone(UTC)


def passed(due: Any, now: Any) -> Any:
    """Whether the deadline ``due`` has gone by at ``now``: strictly after it, since what is
    done at the deadline itself is done in time (``met <= due``, the figures' on-time rule).
    On a loaded ticket's datetime and on a column (``Ticket.due_at < now`` as SQL) alike, so
    the console's 超时, the API's and /metrics' overdue, the 催办 text, a split's 签收 message,
    the figures' "deadline passed" (a merged ticket's too: ``merging.still_counted``) and
    an undispatched utility's missed window turn at the same instant (before, three of them read
    ``<=`` and called a ticket late at its deadline that the others called on time)."""
    return due < now
