"""Local days in the hotline's time zone (Asia/Shanghai by default), for daily caps; quiet
hours themselves are the core's rule (ticketing.quiet)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from ticketing.quiet import parse_hhmm


def local_day_start(at: datetime, *, tz: ZoneInfo) -> datetime:
    local = at.astimezone(tz)
    return local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)


def next_day_start(at: datetime, *, tz: ZoneInfo, end: str) -> datetime:
    """The first allowed moment of the next local day (used when a daily cap is hit)."""
    local = at.astimezone(tz) + timedelta(days=1)
    q_end = parse_hhmm(end)
    return local.replace(hour=q_end.hour, minute=q_end.minute, second=0,
                         microsecond=0).astimezone(UTC)
