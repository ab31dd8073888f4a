"""PostgreSQL's connection pool (ticketing.db.make_engine): a restart of the server is
ridden out (the pooled connections it ended are replaced at checkout, not handed to a
request), and a healthy pooled connection is handed over without a round trip to the
server (the twenty-seventh round, pg29: the pool's pre-ping was two of a filing's ten).
Real PostgreSQL: a cluster of the test's own, restarted with ``pg_ctl``."""

from __future__ import annotations

import json
import socket
import struct
import threading
import time
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
from ticketing.db import PING_AFTER_REST_S, make_engine

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
        admin = own_server._maintenance()
        with admin.execute("SELECT pg_terminate_backend(%s)", (pid,)) as cur:
            assert cur.fetchone() == (True,)
        # pg_terminate_backend only signals: the backend sends its FATAL and leaves a moment
        # later. "Ended" is when it has left pg_stat_activity, which it does after the FATAL
        # was written; a checkout in the microseconds before is the race every pre-ping has
        # (the clean-clone CI of 30584b1 met it once in 6,141).
        deadline = time.monotonic() + 10
        while admin.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s",
                            (pid,)).fetchone() is not None:
            assert time.monotonic() < deadline, "the terminated backend did not leave"
            time.sleep(0.01)
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


class ForgettingPeer:
    """A TCP relay to the cluster standing for a server side that forgot its connections
    without a word (its host rebooted, a failover behind the same address, a NAT flush):
    once ``forget`` is set, a connection made before it gets a RST for its next packet and
    nothing before; connections made after are relayed."""

    def __init__(self, host: str, port: int) -> None:
        self.upstream = (host, port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.forget = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:  # closed: the test is over
                return
            server = socket.create_connection(self.upstream)
            known_before = not self.forget.is_set()
            threading.Thread(target=self._relay, args=(client, server, known_before),
                             daemon=True).start()
            threading.Thread(target=self._relay, args=(server, client, False),
                             daemon=True).start()

    def _relay(self, src: socket.socket, dst: socket.socket, forgettable: bool) -> None:
        try:
            while data := src.recv(65536):
                if forgettable and self.forget.is_set():
                    src.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    src.close()  # linger 0: a RST
                    dst.close()
                    return
                dst.sendall(data)
        except OSError:
            pass
        finally:
            src.close()
            dst.close()

    def close(self) -> None:
        self.listener.close()


def test_a_pooled_connection_whose_server_forgot_it_is_replaced_at_checkout(
        pg_server: PgServer) -> None:
    """review69: a server side gone without a FIN leaves the pooled socket quiet, so the
    pre-ping's poll passed it and the request's first statement got the reset (an
    OperationalError, a 503 for each request in flight). A connection that rested longer
    than ``PING_AFTER_REST_S`` is pinged for real: the ping meets the reset and the pool
    hands over a new connection (mend68)."""
    peer = ForgettingPeer(pg_server.host, pg_server.port)
    engine = make_engine(f"postgresql+psycopg://{pg_server.user}@127.0.0.1:{peer.port}/postgres")
    try:
        with engine.connect() as conn:
            first = conn.execute(text("SELECT pg_backend_pid()")).scalar()
        time.sleep(PING_AFTER_REST_S + 0.2)  # a quiet spell, longer than the hot path's rests
        peer.forget.set()
        with engine.connect() as conn:
            assert conn.execute(text("SELECT pg_backend_pid()")).scalar() != first
    finally:
        engine.dispose()
        peer.close()
