"""The tests' engines share compiled statements (tests/support/sql_cache.py), and nothing
else: each engine's dialect is its own, initialised on its own first connection, with its
own connection set-up (SQLite's pragmas, its writer queue; the isolation level asked for),
as ``ticketing.db.make_engine`` makes them in service."""

from __future__ import annotations

import shutil
import threading
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import event

from tests.support.pgserver import PgServer
from tests.support.sql_cache import compile_signature
from ticketing.db import make_engine, make_session_factory, writer_lock_path
from ticketing.models import Unit

_COUNT = sa.select(sa.func.count()).select_from(Unit).where(Unit.kind == sa.bindparam("k"))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def two_urls(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """Two migrated databases of one backend (two tests' worth)."""
    if request.param == "sqlite":
        template = request.getfixturevalue("sqlite_template")
        urls = []
        for name in ("a", "b"):
            shutil.copy(template, tmp_path / f"{name}.db")
            urls.append(f"sqlite:///{tmp_path / name}.db")
        yield urls[0], urls[1]
        return
    server: PgServer = request.getfixturevalue("pg_server")
    template = request.getfixturevalue("pg_template")
    with ExitStack() as stack:
        a, b = (stack.enter_context(server.database(f"t_{uuid.uuid4().hex[:12]}", template))
                for _ in range(2))
        yield a, b


def _cache_hits(engine: sa.Engine) -> list[bool]:
    hits: list[bool] = []

    @event.listens_for(engine, "before_cursor_execute")
    def _seen(conn: Any, cursor: Any, statement: str, params: Any, context: Any,
              executemany: bool) -> None:
        if context is not None and context.compiled is not None:
            hits.append(context.cache_hit == context.dialect.CACHE_HIT)

    return hits


def test_a_later_engine_runs_an_earlier_ones_statements_without_compiling_them(
    two_urls: tuple[str, str],
) -> None:
    a, b = make_engine(two_urls[0]), make_engine(two_urls[1])
    try:
        with make_session_factory(a)() as s:
            s.add(Unit(code="only-a", name="甲", kind="agency", path="/"))
            s.commit()
            assert s.scalar(_COUNT, {"k": "agency"}) == 1
        hits = _cache_hits(b)
        with make_session_factory(b)() as s:
            s.add(Unit(code="only-b", name="乙", kind="agency", path="/"))
            s.commit()  # the ORM's INSERT: the mapper's cache
            assert s.scalar(_COUNT, {"k": "agency"}) == 1  # its own rows, not a's
        assert hits and all(hits), hits
        assert a.dialect is not b.dialect
        assert b.dialect.server_version_info == a.dialect.server_version_info
    finally:
        a.dispose()
        b.dispose()


def test_each_sqlite_engine_keeps_its_own_pragmas_and_writer_queue(
    sqlite_template: Path, tmp_path: Path,
) -> None:
    urls = []
    for name in ("a", "b"):
        shutil.copy(sqlite_template, tmp_path / f"{name}.db")
        urls.append(f"sqlite:///{tmp_path / name}.db")
    a, b = make_engine(urls[0]), make_engine(urls[1])
    try:
        with a.begin() as c:
            c.execute(_COUNT, {"k": "agency"})
        with b.connect() as c:
            assert c.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert c.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        # a's turn held: b's writer (another database, its own queue) is not held up.
        holder = a.connect()
        holder.begin()
        done = threading.Event()

        def write_b() -> None:
            with b.begin() as c:
                c.execute(_COUNT, {"k": "agency"})
                c.exec_driver_sql("UPDATE units SET name = name")
            done.set()

        threading.Thread(target=write_b, daemon=True).start()
        assert done.wait(10)
        holder.rollback()
        holder.close()
        lock_b = writer_lock_path(urls[1])
        assert lock_b is not None and lock_b.exists()
    finally:
        a.dispose()
        b.dispose()


@pytest.mark.postgres
def test_each_postgresql_engine_keeps_the_isolation_level_it_asked_for(
    pg_server: PgServer, pg_template: str,
) -> None:
    with pg_server.database(f"t_{uuid.uuid4().hex[:12]}", pg_template) as url:
        plain, auto = make_engine(url), make_engine(url, isolation_level="AUTOCOMMIT")
        try:
            for engine, level in ((plain, "READ COMMITTED"), (auto, "AUTOCOMMIT")):
                with engine.connect() as c:
                    c.execute(_COUNT, {"k": "agency"})
                    assert c.connection.dbapi_connection.autocommit is (level == "AUTOCOMMIT")
                    if level != "AUTOCOMMIT":
                        assert c.get_isolation_level() == level
        finally:
            plain.dispose()
            auto.dispose()


def test_a_dialect_that_compiles_differently_gets_its_own_statements(
    sqlite_url: str,
) -> None:
    plain = make_engine(sqlite_url)
    other = make_engine(sqlite_url, json_serializer=lambda v: "{}")
    try:
        for engine in (plain, other):
            with engine.connect() as c:  # initialised: its server's version read
                c.exec_driver_sql("SELECT 1")
        assert compile_signature(plain.dialect) != compile_signature(other.dialect)
        hits = _cache_hits(other)
        for engine in (plain, other):
            with engine.connect() as c:
                c.execute(_COUNT, {"k": "agency"})
        assert hits == [False]  # plain's compiled statement is not other's
    finally:
        plain.dispose()
        other.dispose()
