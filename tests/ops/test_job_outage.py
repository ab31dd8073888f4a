"""A scheduled ticket job during a database outage: one warning when it starts, one when
it ends, the job's work done by the first run after; before, every run (the escalation
job: every 30 s) logged a full traceback through the scheduler. Socket-free."""

from __future__ import annotations

import logging
import sqlite3

import pytest
from sqlalchemy.exc import OperationalError

from hotline.scheduler import OutageQuiet


def test_an_outage_is_two_lines_and_a_bug_still_raises(
        caplog: pytest.LogCaptureFixture) -> None:
    state = {"down": True, "runs": 0}

    def job(n: int) -> int:
        if state["down"]:
            raise OperationalError("BEGIN IMMEDIATE", {},
                                   sqlite3.OperationalError("attempt to write a readonly database"))
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
