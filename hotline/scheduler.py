"""The ticket jobs of the service, scheduled with the others by ``hotline.wiring``.

Jobs keep their state in our own tables (a due row is claimed with a row lock), so
APScheduler only needs an in-memory job store: a restart loses no work, and two service
instances on one PostgreSQL never process the same row twice (SKIP LOCKED).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from apscheduler.triggers.cron import CronTrigger
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
