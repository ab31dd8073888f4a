"""Each PostgreSQL test's database (tests/support/pgserver.py, used by ``db_url``): a copy
of its template that no other test's rows reach, dropped at the end even with a session
still on it (a test's `hotline serve` or worker may hold one)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.support.pgserver import PgServer, pg_bindir, reap_abandoned
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


def test_a_killed_runs_cluster_is_reaped_and_no_live_ones(tmp_path: Path) -> None:
    """A run killed mid-way leaves its cluster (on a tmpfs: memory) behind; the next run
    removes those whose test process is gone, never one whose process lives or whose owner
    is not written yet."""
    gone = subprocess.Popen(["true"])
    gone.wait()
    for name, owner in (("hotline-pg-dead", str(gone.pid)), ("hotline-pg-live", str(os.getpid())),
                        ("hotline-pg-new", None)):
        (tmp_path / name / "data").mkdir(parents=True)
        if owner is not None:
            (tmp_path / name / "owner").write_text(owner)
    bindir = pg_bindir()
    assert bindir is not None
    # pg_ctl finds no server in the fake data dirs: only the directories are at stake here.
    assert reap_abandoned(tmp_path, bindir, []) == [tmp_path / "hotline-pg-dead"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hotline-pg-live", "hotline-pg-new"]
