"""Background jobs of the service, run by APScheduler inside `hotline serve`.

Jobs keep their state in our own tables (a due row is claimed with a row lock), so
APScheduler only needs an in-memory job store: a restart loses no work, and two service
instances on one PostgreSQL never process the same row twice (SKIP LOCKED).
"""

from __future__ import annotations

import logging

from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy.orm import Session, sessionmaker

from ticketing.context import Domain
from ticketing.db import transaction
from ticketing.scheduled import escalate_waiting_utilities

log = logging.getLogger("hotline.scheduler")


def escalate_utilities_job(sessions: sessionmaker[Session], domain: Domain) -> None:
    with transaction(sessions) as session:
        for t in escalate_waiting_utilities(session=session, domain=domain):
            log.warning("utility ticket %s waits for dispatch; escalated", t.number)


def start_scheduler(sessions: sessionmaker[Session], domain: Domain) -> BackgroundScheduler:
    scheduler = BackgroundScheduler(timezone=domain.tz)
    scheduler.add_job(
        escalate_utilities_job, "interval", seconds=30, args=(sessions, domain),
        id="escalate-utilities", max_instances=1, coalesce=True,
    )
    scheduler.start()
    return scheduler
