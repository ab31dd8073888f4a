"""The outbound worker while the database is locked: an expected condition, not a bug.

The fault trial (docs/scaling.md, "Fault trial") held SQLite's write lock from another
process for 45 s: the worker logged a full traceback every poll. These tests hold the same
lock, with SQLite's busy wait cut to nothing so a locked BEGIN fails at once, and step the
worker's clock by hand."""

from __future__ import annotations

import logging
import sqlite3
from itertools import pairwise
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import event
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from config import Settings
from outbound.sms import LogSms
from outbound.worker import OUTAGE_BACKOFF_POLLS, OutboundWorker
from tests.outbound.support import ScriptedDialer, fast
from ticketing.context import Domain
from ticketing.db import make_engine, make_session_factory


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _no_busy_wait(dbapi_conn: Any, _record: Any) -> None:
    # After make_engine's own pragmas (listeners run in order): fail at once when locked.
    dbapi_conn.execute("PRAGMA busy_timeout=0")


def test_a_locked_database_is_one_warning_a_bounded_back_off_and_one_line_when_back(
        tmp_path: Path, sqlite_url: str, caplog: pytest.LogCaptureFixture) -> None:
    # A poll exact in binary, so the hand-stepped clock lands on each retry time exactly.
    settings = fast(Settings(database_url=sqlite_url, data_dir=tmp_path), poll_seconds=0.25,
                    plan_seconds=0.25)
    poll = settings.outbound.poll_seconds
    engine = make_engine(sqlite_url)
    event.listen(engine, "connect", _no_busy_wait)
    factory = make_session_factory(engine)
    clock = Clock()
    tried_at: list[float] = []

    def sessions() -> Session:
        tried_at.append(clock.now)
        return factory()

    worker = OutboundWorker(sessions=sessions, domain=Domain.load(settings),  # type: ignore[arg-type]
                            dialer=ScriptedDialer(), sms=LogSms(), name="test-worker",
                            clock=clock)
    locker = sqlite3.connect(sqlite_url.removeprefix("sqlite:///"), isolation_level=None)
    try:
        locker.execute("BEGIN EXCLUSIVE")
        with caplog.at_level(logging.INFO, logger="outbound.worker"):
            for _ in range(40):
                assert worker.tick() == 0
                clock.now += poll
            locker.execute("ROLLBACK")
            clock.now += poll * OUTAGE_BACKOFF_POLLS
            assert worker.tick() == 0
            assert worker.tick() == 0
    finally:
        locker.close()
        worker.shutdown()
        engine.dispose()

    lines = [r for r in caplog.records if r.name == "outbound.worker"]
    assert [r.levelno for r in lines] == [logging.WARNING, logging.WARNING]
    assert all(r.exc_info is None for r in lines)
    assert "database unavailable" in lines[0].getMessage()
    assert "database is locked" in lines[0].getMessage()
    assert "available again" in lines[1].getMessage()
    # Each failed try waits longer than the last, never more than the bound; once the
    # lock is gone the worker ticks on each poll again.
    failed = tried_at[:tried_at.index(max(tried_at))]
    gaps = [round((b - a) / poll) for a, b in pairwise(failed)]
    assert gaps == sorted(gaps) and gaps[0] == 1 and max(gaps) == OUTAGE_BACKOFF_POLLS
    assert len(failed) < 40 / 2


def test_any_other_error_still_reaches_the_scheduler(tmp_path: Path, sqlite_url: str) -> None:
    settings = fast(Settings(database_url=sqlite_url, data_dir=tmp_path))

    def sessions() -> Session:
        raise KeyError("a bug, not an outage")

    worker = OutboundWorker(sessions=sessions, domain=Domain.load(settings),  # type: ignore[arg-type]
                            dialer=ScriptedDialer(), sms=LogSms(), name="test-worker")
    try:
        with pytest.raises(KeyError):
            worker.tick()
    finally:
        worker.shutdown()


def test_an_outage_with_no_message_is_still_one_warning(
        tmp_path: Path, sqlite_url: str, caplog: pytest.LogCaptureFixture) -> None:
    # A driver's error with an empty message raised IndexError while being reported.
    settings = fast(Settings(database_url=sqlite_url, data_dir=tmp_path))

    def sessions() -> Session:
        raise OperationalError("SELECT 1", {}, psycopg.OperationalError())

    worker = OutboundWorker(sessions=sessions, domain=Domain.load(settings),  # type: ignore[arg-type]
                            dialer=ScriptedDialer(), sms=LogSms(), name="test-worker")
    try:
        with caplog.at_level(logging.WARNING, logger="outbound.worker"):
            assert worker.tick() == 0
    finally:
        worker.shutdown()
    lines = [r.getMessage() for r in caplog.records if r.name == "outbound.worker"]
    assert ["database unavailable" in line for line in lines] == [True]
