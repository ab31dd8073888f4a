"""What counts as a database outage (a 503 "try again", a job's run skipped in silence):
SQLite's own result codes for a file locked, read-only or unusable, never a schema or SQL
bug, which must stay a 500 with its traceback; nor a PostgreSQL statement over the
server's limits, which the request is to blame for (a 422)."""

from __future__ import annotations

import threading
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import text

from tests.support import sqlite_errors
from tests.support.pgserver import PgServer
from ticketing.db import (
    beyond_database_limits,
    database_unavailable,
    make_engine,
    make_session_factory,
    transaction,
)


def test_a_locked_or_read_only_file_is_an_outage(tmp_path: Path) -> None:
    for error in (sqlite_errors.locked(tmp_path), sqlite_errors.read_only(tmp_path)):
        assert database_unavailable(error), error
        assert database_unavailable(sqlite_errors.wrapped(error)), error


def test_a_schema_or_sql_bug_is_not() -> None:
    for error in (sqlite_errors.no_such_table(), sqlite_errors.no_such_column(),
                  sqlite_errors.syntax_error()):
        assert not database_unavailable(error), error
        assert not database_unavailable(sqlite_errors.wrapped(error)), error


def test_writers_queued_past_the_busy_wait_are_an_outage(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The writer queue raises its own error, not SQLite: it must still count.
    monkeypatch.setattr("ticketing.db.SQLITE_BUSY_SECONDS", 0.01)
    engine = make_engine(f"sqlite:///{tmp_path / 'q.db'}")
    writers = make_session_factory(engine)
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with transaction(writers) as s:
            s.execute(text("SELECT 1"))
            holding.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert holding.wait(10)
        with pytest.raises(Exception) as caught, transaction(writers) as s:
            s.execute(text("SELECT 1"))
        assert "writers queued too long" in str(caught.value)
        assert database_unavailable(caught.value)
    finally:
        release.set()
        holder.join()
        engine.dispose()


@pytest.mark.postgres
def test_a_statement_over_postgresqls_limits_is_no_outage(pg_server: PgServer) -> None:
    # An index row past the btree's 2704 bytes: psycopg's ProgramLimitExceeded, an
    # OperationalError like a lost connection, so it counted as an outage (a 503 "try
    # again", a job skipped in silence) though the same statement fails every time.
    with pg_server.database("limits") as url:
        error = over_btree_limit(url)
        assert isinstance(getattr(error, "orig", None), psycopg.errors.ProgramLimitExceeded)
        assert "exceeds btree" in str(error)
        assert beyond_database_limits(error)
        assert not database_unavailable(error)
    # A server that is down is still an outage.
    engine = make_engine(url)
    try:
        with pytest.raises(Exception) as down, engine.connect():
            pass
        assert database_unavailable(down.value) and not beyond_database_limits(down.value)
    finally:
        engine.dispose()


def over_btree_limit(url: str) -> Exception:
    """The error of a real PostgreSQL at ``url`` for a text too long for its index."""
    engine = make_engine(url)
    try:
        with pytest.raises(Exception) as raised, engine.begin() as conn:
            conn.execute(text("CREATE TEMP TABLE notes (body text)"))
            conn.execute(text("CREATE INDEX ON notes (body)"))
            # md5 digests: text pglz cannot squeeze below the limit
            conn.execute(text("INSERT INTO notes SELECT string_agg(md5(i::text), '') "
                              "FROM generate_series(1, 100) i"))
        return raised.value
    finally:
        engine.dispose()
