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


def start_scheduler(
    sessions: sessionmaker[Session], domain: Domain, *, voice: Voice | None = None,
    jobs: bool = True, outbound: bool = True,
) -> BackgroundScheduler:
    """The voice job when ``voice`` is given, the ticket jobs with ``jobs``, the outbound
    worker with ``outbound`` (and outbound enabled in the settings)."""
    scheduler = BackgroundScheduler(timezone=domain.tz)
    if voice is not None:
        scheduler.add_job(voice.tick, "interval", seconds=30, id="voice",
                          max_instances=1, coalesce=True)
    if jobs:
        _add_ticket_jobs(scheduler, sessions, domain)
    if outbound and domain.settings.outbound.enabled:
        _add_outbound_worker(scheduler, sessions, domain)
    scheduler.start()
    return scheduler


def _add_ticket_jobs(
    scheduler: BackgroundScheduler, sessions: sessionmaker[Session], domain: Domain
) -> None:
    scheduler.add_job(
        escalate_utilities_job, "interval", seconds=30, args=(sessions, domain),
        id="escalate-utilities", max_instances=1, coalesce=True,
    )
    scheduler.add_job(
        archive_job, "interval", hours=1, args=(sessions, domain),
        id="archive-unsurveyable", max_instances=1, coalesce=True,
    )
    if domain.settings.recordings_retention_days > 0:
        scheduler.add_job(retention_job, "interval", hours=24, args=(sessions, domain),
                          id="recordings-retention", max_instances=1, coalesce=True,
                          next_run_time=datetime.now(domain.tz) + timedelta(minutes=5))


def _add_outbound_worker(
    scheduler: BackgroundScheduler, sessions: sessionmaker[Session], domain: Domain
) -> None:
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
