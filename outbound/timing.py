"""Local days in the hotline's time zone (Asia/Shanghai by default), and the daily caps
per citizen number counted in them (``placed_today``: the survey calls' and the citizen
SMS's, one count); quiet hours themselves are the core's rule (ticketing.quiet)."""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from outbound.models import Kind, OutboundAttempt, Outcome
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


def placed_today(session: Session, *, phone: str, kinds: Collection[Kind], now: datetime,
                 tz: ZoneInfo, failed_too: bool = True) -> int:
    """Calls or SMS of ``kinds`` placed to ``phone`` since the local day began: what a
    daily cap per number counts. ``failed_too=False`` leaves out what the provider
    refused (nothing reached the phone: a gateway down must not spend a citizen's day)."""
    query = select(func.count(OutboundAttempt.id)).where(
        OutboundAttempt.kind.in_(sorted(str(k) for k in kinds)),
        OutboundAttempt.to_phone == phone,
        OutboundAttempt.started_at >= local_day_start(now, tz=tz))
    if not failed_too:
        query = query.where(or_(OutboundAttempt.outcome.is_(None),
                                OutboundAttempt.outcome.in_([Outcome.SENT.value,
                                                             Outcome.UNKNOWN.value])))
    return session.scalar(query) or 0
