"""Quiet hours in the hotline's time zone (Asia/Shanghai by default), and the one rule of
the staff's (settings.outbound.staff_quiet_*): when a ticket's people may be disturbed.

In the core because the core moves a general ticket's sign window out of the night
(service.open_sign_window), and the outbound worker holds 催办 by the same rule."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from ticketing.context import Domain
from ticketing.models import Ticket


def parse_hhmm(value: str) -> time:
    hours, _, minutes = value.strip().partition(":")
    return time(int(hours), int(minutes or 0))


def in_quiet_hours(at: datetime, *, tz: ZoneInfo, start: str, end: str) -> bool:
    """True inside [start, end) local time; the window may wrap midnight (21:00–08:00)."""
    local = at.astimezone(tz).time()
    q_start, q_end = parse_hhmm(start), parse_hhmm(end)
    if q_start == q_end:
        return False
    if q_start < q_end:
        return q_start <= local < q_end
    return local >= q_start or local < q_end


def next_allowed(at: datetime, *, tz: ZoneInfo, start: str, end: str) -> datetime:
    """``at`` itself outside quiet hours, else the end of the quiet period (UTC)."""
    if not in_quiet_hours(at, tz=tz, start=start, end=end):
        return at
    local = at.astimezone(tz)
    q_end = parse_hhmm(end)
    candidate = local.replace(hour=q_end.hour, minute=q_end.minute, second=0, microsecond=0)
    if candidate <= local:
        candidate += timedelta(days=1)
    return candidate.astimezone(UTC)


def staff_quiet_until(domain: Domain, ticket: Ticket, now: datetime) -> datetime | None:
    """When staff contact about this ticket due now may go instead (the end of staff quiet
    hours), or None when it goes now: outside them, or the ticket's urgency overrides them."""
    o = domain.settings.outbound
    if ticket.urgency in o.staff_quiet_overrides:
        return None
    until = next_allowed(now, tz=domain.tz, start=o.staff_quiet_start, end=o.staff_quiet_end)
    return until if until > now else None
