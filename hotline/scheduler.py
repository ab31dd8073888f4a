"""Background jobs of the service, run by APScheduler inside `hotline serve`.

Jobs keep their state in our own tables (a due row is claimed with a row lock), so
APScheduler only needs an in-memory job store: a restart loses no work, and two service
instances on one PostgreSQL never process the same row twice (SKIP LOCKED).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy.orm import Session, sessionmaker

from ticketing.context import Domain
from ticketing.db import transaction
from ticketing.scheduled import archive_unsurveyable, escalate_waiting_utilities

if TYPE_CHECKING:
    from hotline.voice import Voice

log = logging.getLogger("hotline.scheduler")


def escalate_utilities_job(sessions: sessionmaker[Session], domain: Domain) -> None:
    with transaction(sessions) as session:
        for t in escalate_waiting_utilities(session=session, domain=domain):
            log.warning("utility ticket %s waits for dispatch; escalated", t.number)


def archive_job(sessions: sessionmaker[Session], domain: Domain) -> None:
    with transaction(sessions) as session:
        archived = archive_unsurveyable(session=session, domain=domain)
    if archived:
        log.info("archived %d closed ticket(s) whose citizen cannot be surveyed", len(archived))


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


def start_scheduler(
    sessions: sessionmaker[Session], domain: Domain, *, voice: Voice | None = None
) -> BackgroundScheduler:
    scheduler = BackgroundScheduler(timezone=domain.tz)
    if voice is not None:
        scheduler.add_job(voice.tick, "interval", seconds=30, id="voice",
                          max_instances=1, coalesce=True)
    scheduler.add_job(
        escalate_utilities_job, "interval", seconds=30, args=(sessions, domain),
        id="escalate-utilities", max_instances=1, coalesce=True,
    )
    scheduler.add_job(
        archive_job, "interval", hours=1, args=(sessions, domain),
        id="archive-unsurveyable", max_instances=1, coalesce=True,
    )
    scheduler.add_job(monthly_report_job, monthly_report_trigger(domain),
                      args=(sessions, domain), id="monthly-report", max_instances=1,
                      coalesce=True, misfire_grace_time=6 * 3600)
    if domain.settings.recordings_retention_days > 0:
        scheduler.add_job(retention_job, "interval", hours=24, args=(sessions, domain),
                          id="recordings-retention", max_instances=1, coalesce=True,
                          next_run_time=datetime.now(domain.tz) + timedelta(minutes=5))
    if domain.settings.outbound.enabled:
        from outbound.runtime import build_worker

        worker, stop_worker = build_worker(sessions, domain)
        # Jobs stay in memory: the due rows in outbound_tasks are the state (docs/outbound.md).
        scheduler.add_job(
            worker.tick, "interval", seconds=domain.settings.outbound.poll_seconds,
            id="outbound", max_instances=1, coalesce=True,
        )
        shutdown = scheduler.shutdown

        def shutdown_with_worker(wait: bool = True) -> None:
            shutdown(wait=wait)
            stop_worker()

        scheduler.shutdown = shutdown_with_worker  # type: ignore[method-assign]
    scheduler.start()
    return scheduler
