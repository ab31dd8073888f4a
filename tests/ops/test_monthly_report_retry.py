"""The monthly report (三率两度) after a database outage at its run (the 1st, 01:30): tried
again every few minutes until made, once, instead of skipped until next month; bounded by
the month (the next 1st gives the older one up, with a warning). Socket-free: the clock is
the test's and the outage SQLite's own error."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from hotline.monthly_report import report_path
from hotline.scheduler import MonthlyReportRun, OutageQuiet
from tests.support import sqlite_errors
from ticketing.context import Domain


class Clock:
    def __init__(self, domain: Domain, local: str) -> None:
        self.domain = domain
        self.set(local)

    def set(self, local: str) -> None:
        self.now = datetime.fromisoformat(local).replace(tzinfo=self.domain.tz)

    def __call__(self) -> datetime:
        return self.now


def _flaky(sessions: sessionmaker[Session], tmp_path: Path
           ) -> tuple[Callable[[], Session], dict[str, int | bool]]:
    """``sessions`` that raise SQLite's read-only error while ``state["down"]``."""
    state: dict[str, int | bool] = {"down": False, "opened": 0}
    error = sqlite_errors.wrapped(sqlite_errors.read_only(tmp_path))

    def factory() -> Session:
        state["opened"] = int(state["opened"]) + 1
        if state["down"]:
            raise error
        return sessions()
    return factory, state


def test_a_report_its_run_missed_is_made_once_the_database_is_back(
        sessions: sessionmaker[Session], domain: Domain, tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock(domain, "2026-11-30T23:00")
    report = MonthlyReportRun(domain, clock)
    job = OutageQuiet("monthly-report", report)
    factory, state = _flaky(sessions, tmp_path)
    path = report_path(domain.settings, "2026-11")

    assert job(factory, domain) is None and state["opened"] == 0  # nothing owed yet
    clock.set("2026-12-01T01:30")
    state["down"] = True
    with caplog.at_level(logging.WARNING, logger="hotline.scheduler"):
        for minute in ("01:30", "01:40", "01:50"):
            clock.set(f"2026-12-01T{minute}")
            assert job(factory, domain) is None
    # Before: skipped, and nothing tried again until January.
    assert not path.exists() and report.owed == "2026-11"
    state["down"] = False
    clock.set("2026-12-01T02:00")
    assert job(factory, domain) == path and path.exists()
    assert "available again" in caplog.records[-1].getMessage()
    made = path.stat().st_mtime_ns
    opened = state["opened"]
    for minute in ("02:10", "02:20"):  # made: the retries touch nothing
        clock.set(f"2026-12-01T{minute}")
        assert job(factory, domain) is None
    assert path.stat().st_mtime_ns == made and state["opened"] == opened


def test_a_month_never_made_is_given_up_at_the_next_first(
        sessions: sessionmaker[Session], domain: Domain, tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock(domain, "2026-11-30T23:00")
    report = MonthlyReportRun(domain, clock)
    factory, state = _flaky(sessions, tmp_path)
    state["down"] = True
    clock.set("2026-12-01T01:30")
    OutageQuiet("monthly-report", report)(factory, domain)
    assert report.owed == "2026-11"
    state["down"] = False
    clock.set("2027-01-01T01:30")
    with caplog.at_level(logging.WARNING, logger="hotline.scheduler"):
        assert report(factory, domain) == report_path(domain.settings, "2026-12")
    assert not report_path(domain.settings, "2026-11").exists()
    assert any("2026-11 never made" in r.getMessage() for r in caplog.records)


def test_a_start_on_the_first_without_the_report_makes_it_and_a_later_start_does_not(
        domain: Domain) -> None:
    # Restarted during the outage that stopped the 01:30 run: still owed.
    assert MonthlyReportRun(domain, Clock(domain, "2026-12-01T09:00")).owed == "2026-11"
    # A new install in mid-month owes nothing: no report of a month it never ran.
    assert MonthlyReportRun(domain, Clock(domain, "2026-12-15T09:00")).owed is None
    path = report_path(domain.settings, "2026-11")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("made by hand", encoding="utf-8")
    assert MonthlyReportRun(domain, Clock(domain, "2026-12-01T09:00")).owed is None
