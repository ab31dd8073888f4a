"""Errors raised by SQLite itself (with their result codes), for tests of what counts as
a database outage (``ticketing.db.database_unavailable``): one made by hand carries no
code, so it would test nothing."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlalchemy.exc import OperationalError


def _raised(conn: sqlite3.Connection, sql: str) -> sqlite3.Error:
    try:
        conn.execute(sql)
    except sqlite3.Error as exc:
        return exc
    finally:
        conn.close()
    raise AssertionError(f"{sql!r} did not fail")


def _table(path: Path) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS t (n INTEGER)")
    conn.close()


def read_only(tmp_path: Path) -> sqlite3.Error:
    """A write to a file opened read-only (as SQLite opens one it may not write)."""
    path = tmp_path / "read-only.db"
    _table(path)
    return _raised(sqlite3.connect(f"file:{path}?mode=ro", uri=True),
                   "INSERT INTO t VALUES (1)")


def locked(tmp_path: Path) -> sqlite3.Error:
    """A write while another connection holds the lock, with no busy wait."""
    path = tmp_path / "locked.db"
    _table(path)
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        holder.execute("BEGIN EXCLUSIVE")
        return _raised(sqlite3.connect(path, timeout=0), "INSERT INTO t VALUES (1)")
    finally:
        holder.close()


def no_such_table() -> sqlite3.Error:
    """A schema bug: the code queries a table the database does not have."""
    return _raised(sqlite3.connect(":memory:"), "SELECT * FROM tickets_that_never_were")


def no_such_column() -> sqlite3.Error:
    """A schema bug: a column the table does not have."""
    return _raised(sqlite3.connect(":memory:"), "SELECT no_such_column FROM sqlite_master")


def syntax_error() -> sqlite3.Error:
    """An SQL bug: a statement SQLite cannot parse."""
    return _raised(sqlite3.connect(":memory:"), "SELEC 1")


def wrapped(orig: BaseException) -> OperationalError:
    """``orig`` as SQLAlchemy raises it from a statement."""
    return OperationalError("BEGIN IMMEDIATE", {}, orig)
