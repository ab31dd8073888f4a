"""Auto-dispatch's read of a unit's on-duty handlers and their open tickets goes through
indexes (migration 0030), on SQLite and PostgreSQL: EXPLAIN names both. Before, the read
went through every account of the city and, for each handler, every ticket they ever
held. The migration goes down and up again."""

from __future__ import annotations

from alembic import command

from hotline import dbadmin
from tests.ticketing.test_scan_indexes import _indexes as indexes_of
from tests.ticketing.test_scan_indexes import _plan
from ticketing import service
from ticketing.db import make_engine

INDEXES = {("tickets", "ix_tickets_handler_status"), ("users", "ix_users_unit_id")}


def test_the_on_duty_read_counts_open_tickets_through_indexes(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        with engine.begin() as conn:
            # The statement every auto-dispatching filing runs, as it runs it.
            plan = _plan(conn, service._ON_DUTY_LOADS.params(unit_id=1))
    finally:
        engine.dispose()
    for _, index in INDEXES:
        assert index in plan, plan


def _indexes(db_url: str) -> set[tuple[str, str]]:
    return indexes_of(db_url, ("tickets", "users"))


def test_the_migration_goes_down_and_up(db_url: str) -> None:
    old = ("tickets", "ix_tickets_handler_id")
    assert _indexes(db_url) >= INDEXES and old not in _indexes(db_url)
    command.downgrade(dbadmin.alembic_config(db_url), "0029")
    down = _indexes(db_url)
    assert not INDEXES & down and old in down
    command.upgrade(dbadmin.alembic_config(db_url), "head")
    up = _indexes(db_url)
    assert up >= INDEXES and old not in up
