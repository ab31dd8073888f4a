"""The ticket jobs of the service, scheduled with the others by ``hotline.wiring``.

Jobs keep their state in our own tables (a due row is claimed with a row lock), so
APScheduler only needs an in-memory job store: a restart loses no work, and two service
instances on one PostgreSQL never process the same row twice (SKIP LOCKED).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from apscheduler.triggers.cron import CronTrigger
from sqlalchemy.orm import Session, sessionmaker

from ticketing.context import Domain
from ticketing.db import database_unavailable, transaction
from ticketing.scheduled import archive_unsurveyable, escalate_waiting_utilities

log = logging.getLogger("hotline.scheduler")


class OutageQuiet:
    """A ticket job whose run a database outage stops (SQLite locked or read-only,
    PostgreSQL down: ``database_unavailable``) says so once, and once when the database is
    back, instead of a traceback at every run (the escalation job: two a minute). Its work
    waits for the next run, as after any failed run; any other error still propagates."""

    def __init__(self, name: str, job: Callable[..., Any]) -> None:
        self.name, self.job = name, job
        self.since: float | None = None
        self.skipped = 0

    def __call__(self, *args: Any) -> Any:
        try:
            result = self.job(*args)
        except Exception as exc:
            if not database_unavailable(exc):
                raise
            if self.since is None:
                self.since = time.monotonic()
                log.warning("%s: database unavailable (%s: %s); runs skipped until it is back",
                            self.name, type(exc).__name__,
                            str(getattr(exc, "orig", None) or exc).splitlines()[0])
            self.skipped += 1
            return None
        if self.since is not None:
            log.warning("%s: database available again after %.0f s (%d run(s) skipped)",
                        self.name, time.monotonic() - self.since, self.skipped)
            self.since, self.skipped = None, 0
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
    from hotline.recordings import apply_retention
    from ticketing.models import utcnow

    with transaction(sessions) as session:
        deleted = apply_retention(session=session, days=days, now=utcnow())
    if deleted:
        log.info("retention: deleted %d recording(s) older than %d days", len(deleted), days)
    return deleted


def monthly_report_job(sessions: sessionmaker[Session], domain: Domain) -> None:
    """The 通报 of the month that just ended (run on the 1st; a rerun replaces the file)."""
    from hotline.monthly_report import generate
    from ticketing.monthly import last_month

    path = generate(sessions, domain, last_month(domain))
    log.info("monthly report written to %s", path)


def monthly_report_trigger(domain: Domain) -> CronTrigger:
    """01:30 local on the 1st: the month is over and nobody is waiting for the figures."""
    return CronTrigger(day=1, hour=1, minute=30, timezone=domain.tz)
