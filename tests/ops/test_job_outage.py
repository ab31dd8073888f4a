"""A scheduled ticket job during a database outage: one warning when it starts, one when
it ends, the job's work done by the first run after; before, every run (the escalation
job: every 30 s) logged a full traceback through the scheduler. A schema bug is no outage:
it reaches the scheduler, which logs it, at every run. Socket-free."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.exc import OperationalError

from hotline.scheduler import OutageQuiet
from tests.support import sqlite_errors


def test_an_outage_is_two_lines_and_a_bug_still_raises(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    state = {"down": True, "runs": 0}
    read_only = sqlite_errors.wrapped(sqlite_errors.read_only(tmp_path))

    def job(n: int) -> int:
        if state["down"]:
            raise read_only
        state["runs"] += 1
        return n

    quiet = OutageQuiet("escalate-utilities", job)
    with caplog.at_level(logging.WARNING, logger="hotline.scheduler"):
        for _ in range(20):
            assert quiet(7) is None
        state["down"] = False
        assert quiet(7) == 7 and quiet(7) == 7
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2, lines
    assert "escalate-utilities: database unavailable" in lines[0]
    assert "readonly" in lines[0]
    assert "available again" in lines[1] and "20 run(s) skipped" in lines[1]
    assert state["runs"] == 2

    def broken() -> None:
        raise ValueError("a bug, not an outage")

    with pytest.raises(ValueError):
        OutageQuiet("archive-unsurveyable", broken)()


@pytest.mark.parametrize("schema_bug", [sqlite_errors.no_such_table,
                                        sqlite_errors.no_such_column])
def test_a_schema_bug_reaches_the_scheduler_at_every_run(
        schema_bug: Callable[[], sqlite3.Error], caplog: pytest.LogCaptureFixture) -> None:
    # Before, SQLite's "no such table" counted as an outage: one warning, then the job was
    # skipped in silence for good.
    error = sqlite_errors.wrapped(schema_bug())

    def job() -> None:
        raise error

    quiet = OutageQuiet("idempotency-keys", job)
    with caplog.at_level(logging.WARNING, logger="hotline.scheduler"):
        for _ in range(3):
            with pytest.raises(OperationalError, match="no such"):
                quiet()
    assert not caplog.records


def test_an_outage_with_no_message_is_still_one_warning(
        caplog: pytest.LogCaptureFixture) -> None:
    # A driver's error with an empty message raised IndexError while being reported.
    def job() -> None:
        raise OperationalError("SELECT 1", {}, psycopg.OperationalError())

    quiet = OutageQuiet("archive-unsurveyable", job)
    with caplog.at_level(logging.WARNING, logger="hotline.scheduler"):
        assert quiet() is None and quiet() is None
    assert ["database unavailable" in r.getMessage() for r in caplog.records] == [True]


def test_a_statement_over_the_databases_limits_is_no_outage(
        caplog: pytest.LogCaptureFixture) -> None:
    # PostgreSQL's ProgramLimitExceeded is a psycopg OperationalError: before, the job
    # warned "database unavailable" once and was then skipped in silence at every run.
    error = OperationalError("INSERT", {}, psycopg.errors.ProgramLimitExceeded(
        "index row size 3256 exceeds btree version 4 maximum 2704"))

    def job() -> None:
        raise error

    quiet = OutageQuiet("monthly-report", job)
    with caplog.at_level(logging.WARNING, logger="hotline.scheduler"):
        for _ in range(2):
            with pytest.raises(OperationalError, match="exceeds btree"):
                quiet()
    assert not caplog.records
