"""Engine and session set-up for SQLite (embedded default) and PostgreSQL (production)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker


class NotMigrated(RuntimeError):
    """The database schema is missing or older than this code needs."""


def make_engine(url: str, **kwargs: Any) -> Engine:
    u = make_url(url)
    if u.get_backend_name() == "sqlite":
        if u.database and u.database != ":memory:":
            Path(u.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            # WAL lets readers run beside the one writer; busy_timeout makes writers queue
            # instead of failing with "database is locked" under concurrent requests.
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()
            # Take over transaction control from the sqlite3 module (see below).
            dbapi_conn.isolation_level = None

        @event.listens_for(engine, "begin")
        def _begin(conn: Any) -> None:
            # A deferred transaction that reads and then writes fails at once with
            # SQLITE_BUSY_SNAPSHOT when another writer committed in between; busy_timeout
            # cannot help there. Taking the write lock at BEGIN makes writers queue instead.
            # A reader (make_read_session_factory) never writes, so it takes no lock: in WAL it
            # reads its snapshot beside the writer instead of queueing behind every ticket.
            read_only = conn.get_execution_options().get(READ_ONLY, False)
            conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

        return engine
    if "poolclass" not in kwargs:
        kwargs.setdefault("pool_size", 20)
        kwargs.setdefault("max_overflow", 40)
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


READ_ONLY = "hotline_read_only"  # execution option: this connection's transaction only reads


class ReadOnlySession(Session):
    """A session that only reads: on SQLite its transaction starts deferred (no write lock).

    A flush with changes is refused: on SQLite a deferred transaction that then writes can
    fail with SQLITE_BUSY_SNAPSHOT, and a reader that writes belongs in a writer's session.
    """

    def flush(self, objects: Any = None) -> None:
        if self.new or self.dirty or self.deleted:
            raise RuntimeError("a read-only session may not write; use make_session_factory")
        super().flush(objects)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that may write (on SQLite: BEGIN IMMEDIATE, the write lock from the start)."""
    return sessionmaker(engine, expire_on_commit=False)


def make_read_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions for requests that only read (lists, a ticket, /metrics): the one place that
    decides a transaction is a reader's. Same pool and connections as the writers'."""
    return sessionmaker(engine.execution_options(**{READ_ONLY: True}), class_=ReadOnlySession,
                        expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def schema_revision(engine: Engine) -> str | None:
    if not inspect(engine).has_table("alembic_version"):
        return None
    with engine.connect() as conn:
        row = conn.exec_driver_sql("SELECT version_num FROM alembic_version").first()
    return row[0] if row else None


def require_migrated(engine: Engine, head: str) -> None:
    """Refuse a database whose schema is not at ``head`` (the newest migration)."""
    rev = schema_revision(engine)
    if rev != head:
        found = "no schema" if rev is None else f"schema revision {rev}"
        raise NotMigrated(
            f"database {engine.url.render_as_string(hide_password=True)} has {found}, "
            f"this version needs {head}: run `hotline db upgrade`"
        )
