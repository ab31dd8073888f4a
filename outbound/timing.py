"""Quiet hours and local days, in the hotline's time zone (Asia/Shanghai by default)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo


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


def local_day_start(at: datetime, *, tz: ZoneInfo) -> datetime:
    local = at.astimezone(tz)
    return local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)


def next_day_start(at: datetime, *, tz: ZoneInfo, end: str) -> datetime:
    """The first allowed moment of the next local day (used when a daily cap is hit)."""
    local = at.astimezone(tz) + timedelta(days=1)
    q_end = parse_hhmm(end)
    return local.replace(hour=q_end.hour, minute=q_end.minute, second=0,
                         microsecond=0).astimezone(UTC)
