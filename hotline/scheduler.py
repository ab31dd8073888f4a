"""The ticket jobs of the service, scheduled with the others by ``hotline.wiring``.

Jobs keep their state in our own tables (a due row is claimed with a row lock), so
APScheduler only needs an in-memory job store: a restart loses no work, and two service
instances on one PostgreSQL never process the same row twice (SKIP LOCKED).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from apscheduler.triggers.combining import OrTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.orm import Session, sessionmaker

from ticketing.context import Domain
from ticketing.db import database_unavailable, transaction
from ticketing.outage import OutageLog
from ticketing.scheduled import archive_unsurveyable, escalate_waiting_utilities

log = logging.getLogger("hotline.scheduler")


class OutageQuiet:
    """A ticket job whose run a database outage stops (SQLite locked or read-only,
    PostgreSQL down: ``database_unavailable``) says so once, and once when the database is
    back (``OutageLog``). Its work waits for the next run, as after any failed run; any
    other error still propagates, and the scheduler logs it at every run."""

    def __init__(self, name: str, job: Callable[..., Any]) -> None:
        self.name, self.job = name, job
        self.outage = OutageLog(log, name, waiting="runs skipped until it is back",
                                counted="run(s) skipped")

    def __call__(self, *args: Any) -> Any:
        try:
            result = self.job(*args)
        except Exception as exc:
            if not database_unavailable(exc):
                raise
            self.outage.failed(exc)
            return None
        self.outage.succeeded()
        return result


def escalate_utilities_job(sessions: sessionmaker[Session], domain: Domain) -> None:
    with transaction(sessions) as session:
        for t in escalate_waiting_utilities(session=session, domain=domain):
            log.warning("utility ticket %s waits for dispatch; escalated", t.number)


def archive_job(sessions: sessionmaker[Session], domain: Domain) -> None:
    with transaction(sessions) as session:
        archived = archive_unsurveyable(session=session, domain=domain)
    if archived:
        log.info("archived %d closed ticket(s) whose citizen cannot be surveyed", len(archived))


def idempotency_keys_job(sessions: sessionmaker[Session], domain: Domain) -> int:
    """Idempotency-Keys past their 24 h (ticketing.idempotency) are deleted."""
    from ticketing.idempotency import prune_keys

    with transaction(sessions) as session:
        pruned = prune_keys(session=session, now=domain.now())
    if pruned:
        log.info("pruned %d expired Idempotency-Key(s)", pruned)
    return pruned


def retention_job(sessions: sessionmaker[Session], domain: Domain) -> list[str]:
    days = domain.settings.recordings_retention_days
    if days <= 0:
        return []
    from hotline.recordings import RetentionIncomplete, apply_retention
    from ticketing.models import utcnow

    try:
        deleted = apply_retention(sessions=sessions, days=days, now=utcnow())
    except RetentionIncomplete as exc:
        # What was deleted is said; the run fails (the job's error line names the count),
        # and tomorrow's run tries those files again, the others going on being deleted.
        log.info("retention: deleted %d recording(s) older than %d days",
                 len(exc.deleted), days)
        raise
    if deleted:
        log.info("retention: deleted %d recording(s) older than %d days", len(deleted), days)
    return deleted


def monthly_report_trigger(domain: Domain) -> CronTrigger:
    """01:30 local on the 1st: the month is over and nobody is waiting for the figures."""
    return CronTrigger(day=1, hour=REPORT_HOUR, minute=REPORT_MINUTE, timezone=domain.tz)


REPORT_HOUR, REPORT_MINUTE = 1, 30
# How often a report that could not be made (the database down at 01:30) is tried again.
REPORT_RETRY_MINUTES = 10
# A start this soon after the 1st's 01:30 with last month's report missing makes it: the
# service was down, or restarted during the outage that stopped the run.
REPORT_CATCH_UP = timedelta(days=1)


def report_due(domain: Domain, now: datetime) -> datetime:
    """The latest 01:30 on a 1st (local) at or before ``now``: when a month's report fell due."""
    local = now.astimezone(domain.tz)
    due = local.replace(day=1, hour=REPORT_HOUR, minute=REPORT_MINUTE, second=0,
                        microsecond=0)
    if local < due:  # before 01:30 on the 1st: the month before's
        due = (due - timedelta(days=1)).replace(day=1)
    return due


class MonthlyReportRun:
    """The monthly report's job: at 01:30 on the 1st the month just ended is owed, and every
    ``REPORT_RETRY_MINUTES`` after a run that failed (a database outage, which
    ``OutageQuiet`` quiets, or any error) it is tried again until made. Bounded: a month is
    owed until the next 1st, when the next month replaces it and the older one is given up
    with a warning (``hotline report monthly --month`` makes it by hand). Idempotent: one
    file per month, written whole; runs take turns (the lock), so two triggers at once make
    it once. A try with nothing owed touches no database."""

    def __init__(self, domain: Domain, clock: Callable[[], datetime] | None = None) -> None:
        from hotline.monthly_report import report_path
        from ticketing.monthly import last_month

        self._clock = clock or domain.now
        self._lock = threading.Lock()
        now = self._clock()
        self._due = report_due(domain, now)
        month = last_month(domain, self._due)
        missed = (now - self._due < REPORT_CATCH_UP
                  and not report_path(domain.settings, month).exists())
        self.owed: str | None = month if missed else None

    def trigger(self, domain: Domain) -> OrTrigger:
        return OrTrigger([monthly_report_trigger(domain),
                          IntervalTrigger(minutes=REPORT_RETRY_MINUTES, timezone=domain.tz)])

    def __call__(self, sessions: sessionmaker[Session], domain: Domain) -> Path | None:
        from hotline.monthly_report import generate
        from ticketing.monthly import last_month

        with self._lock:
            due = report_due(domain, self._clock())
            if due != self._due:
                if self.owed is not None:
                    log.warning("monthly report of %s never made (its runs failed); "
                                "`hotline report monthly --month %s` makes it", self.owed,
                                self.owed)
                self._due, self.owed = due, last_month(domain, due)
            if self.owed is None:
                return None
            path = generate(sessions, domain, self.owed)
            log.info("monthly report written to %s", path)
            self.owed = None
            return path
