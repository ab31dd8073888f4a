"""PostgreSQL's connection pool (ticketing.db.make_engine): a restart of the server is
ridden out (the pooled connections it ended are replaced at checkout, not handed to a
request), and a healthy pooled connection is handed over without a round trip to the
server (the twenty-seventh round, pg29: the pool's pre-ping was two of a filing's ten).
Real PostgreSQL: a cluster of the test's own, restarted with ``pg_ctl``."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from config import Settings
from hotline.app import create_app
from tests.conftest import PG_CITY
from tests.support.harness import die_with_us
from tests.support.pgserver import PgServer, _pg_ctl, running_pg_server
from ticketing.db import make_engine

pytestmark = pytest.mark.postgres

BODY = {"caller_phone": "13811112222", "demand": "朝阳区望京西园三区5号楼停水了，一直没来水",
        "category": "water"}


@pytest.fixture
def own_server(pg_seed: Path) -> Iterator[PgServer]:
    """A cluster of this test's own: the session's is shared with other tests."""
    with running_pg_server(seed=pg_seed / "data") as server:
        yield server


def restart(server: PgServer) -> None:
    """``pg_ctl restart -m fast``: every backend ended (its client told so, its socket
    closed), a new postmaster on the same port."""
    for conn in server._admin:
        conn.close()
    _pg_ctl(server.data, "-m", "fast", "-w", "-t", "60", "restart", check=True)
    # The new postmaster is stopped with this test process however it ends, as the first.
    die_with_us(int((server.data / "postmaster.pid").read_text().split()[0]), 3)


def test_a_database_restart_is_ridden_out_by_the_next_request(
        own_server: PgServer, pg_seed: Path, tmp_path: Path) -> None:
    tokens = json.loads((pg_seed / "tokens.json").read_text(encoding="utf-8"))
    name = f"t_{uuid.uuid4().hex[:12]}"
    own_server.create_database(name, PG_CITY)
    settings = Settings(database_url=own_server.url(name), data_dir=tmp_path,
                        recordings_dir=tmp_path / "rec")
    headers = {"Authorization": f"Bearer {tokens['operator']}"}
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        # Several requests, so the pool holds connections the restart will end.
        for _ in range(3):
            assert client.post("/api/v1/tickets", json=BODY, headers=headers).status_code == 201
        restart(own_server)
        # Each request after the restart files: none is handed a connection it ended.
        for _ in range(3):
            r = client.post("/api/v1/tickets", json=BODY, headers=headers)
            assert r.status_code == 201, r.text
        assert client.get("/api/v1/tickets", headers=headers).json()["total"] == 6


def test_a_backend_ended_while_its_connection_is_pooled_is_replaced_at_checkout(
        own_server: PgServer) -> None:
    engine = make_engine(own_server.url("postgres"))
    try:
        with engine.connect() as conn:
            pid = conn.execute(text("SELECT pg_backend_pid()")).scalar()
        with engine.connect() as other:
            # Its own connection: the first one is back in the pool, idle.
            assert other.execute(text("SELECT pg_backend_pid()")).scalar() == pid
            other.execute(text("SELECT 1"))
        with own_server._maintenance().execute(
                "SELECT pg_terminate_backend(%s)", (pid,)) as cur:
            assert cur.fetchone() == (True,)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT pg_backend_pid()")).scalar() != pid
    finally:
        engine.dispose()


def test_a_healthy_pooled_connection_is_handed_over_without_a_round_trip(
        own_server: PgServer, tmp_path: Path) -> None:
    """libpq's own trace of the messages a checkout sends: none. Before, the pool's
    pre-ping sent a query (";") at every checkout of a pooled connection."""
    engine = make_engine(own_server.url("postgres"))
    trace = tmp_path / "trace"
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
            pooled = conn.connection.dbapi_connection
        assert pooled is not None
        with trace.open("w") as out:
            pooled.pgconn.trace(out.fileno())
            try:
                with engine.connect() as conn:
                    assert conn.connection.dbapi_connection is pooled
            finally:
                pooled.pgconn.untrace()
        # libpq writes a line a message, "F" sent, "B" received: nothing either way.
        assert trace.read_text() == ""
    finally:
        engine.dispose()
