"""Each PostgreSQL test's database (tests/support/pgserver.py, used by ``db_url``): a copy
of its template that no other test's rows reach, dropped at the end even with a session
still on it (a test's `hotline serve` or worker may hold one)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tests.support.pgserver import PgServer
from ticketing.db import make_engine

pytestmark = pytest.mark.postgres

_UNITS = sa.text("SELECT code FROM units ORDER BY code")


def _units(url: str) -> list[str]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return list(conn.scalars(_UNITS))
    finally:
        engine.dispose()


def test_each_clone_is_its_own_and_goes_with_a_session_on_it(
    pg_server: PgServer, pg_template: str,
) -> None:
    with pg_server.database("own_a", pg_template) as a, \
            pg_server.database("own_b", pg_template) as b:
        held = make_engine(a)
        conn = held.connect()  # still open when the database is dropped
        conn.execute(sa.text("INSERT INTO units (code, name, kind, path) "
                             "VALUES ('only-a', '甲', 'agency', '/')"))
        conn.commit()
        assert list(conn.scalars(_UNITS)) == ["only-a"]
        assert _units(b) == []
        assert _units(pg_server.url(pg_template)) == []
    with pg_server.database("own_c", pg_template) as c:  # cloned after a's rows
        assert _units(c) == []
    gone = make_engine(pg_server.url("postgres"))
    try:
        with gone.connect() as admin:
            assert admin.scalar(sa.text(
                "SELECT count(*) FROM pg_database WHERE datname LIKE 'own_%'")) == 0
    finally:
        gone.dispose()
    with pytest.raises(sa.exc.DBAPIError):  # its session was ended by the drop
        conn.execute(sa.text("SELECT 1"))
    held.dispose()
