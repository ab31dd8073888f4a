"""Migration 0008 on data an older release left, on SQLite and PostgreSQL: every stored
phone in E.164, the "000" placeholder gone, a ticket number that is no number dropped with
an audit event, and the new release's rules (one caller across spellings) on the old rows."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command

from hotline import dbadmin
from tests.support.pgserver import PgServer
from ticketing.db import make_engine

BEFORE = "0007"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def old_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database migrated only up to the release before phones were normalised
    (or up to the ``BEFORE`` of the test module that imports this fixture)."""
    before = getattr(request.module, "BEFORE", BEFORE)
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'old.db'}"
        dbadmin.upgrade(url, before)
        yield url
        return
    server: PgServer = request.getfixturevalue("pg_server")
    with server.database(f"m_{uuid.uuid4().hex[:12]}") as url:
        dbadmin.upgrade(url, before)
        yield url


def _ticket(conn: sa.Connection, n: int, phone: str) -> None:
    now = datetime(2026, 12, 1, 8, 0)
    conn.execute(sa.text(
        "INSERT INTO tickets (id, number, channel, caller_phone, confidential, no_contact, "
        "category, urgency, subject, demand, status, escalated, redo_count, duplicate_count, "
        "received_at, created_at, updated_at, version, kind, emergency, needs_confirmation) "
        "VALUES (:id, :number, 'phone', :phone, false, false, 'water', 'general', '', '停水', "
        "'accepted', false, 0, 0, :now, :now, :now, 1, 'complaint', 'none', false)"),
        {"id": n, "number": f"26120100{n:02d}", "phone": phone, "now": now})


def test_0008_normalises_what_older_releases_stored(old_db_url: str) -> None:
    engine = make_engine(old_db_url)
    old = {1: "13811112222", 2: "+8613811112222", 3: "008613811112222", 4: "010-65123456",
           5: "000", 6: "99999", 7: "12345"}
    with engine.begin() as conn:
        for n, phone in old.items():
            _ticket(conn, n, phone)
        conn.execute(sa.text("INSERT INTO units (id, code, name, kind, path, phone) VALUES "
                             "(1, 'u', '单位', 'agency', '/1/', '95598'),"
                             "(2, 'v', '单位二', 'agency', '/2/', '8001')"))
        conn.execute(sa.text(
            "INSERT INTO users (id, username, display_name, role, unit_id, phone, on_duty, "
            "active, session_epoch) VALUES (1, 'h', '承办人', 'handler', 1, '139 0000 0030', "
            "true, true, 0)"))
        conn.execute(sa.text(
            "INSERT INTO outbound_tasks (id, ticket_id, kind, round, step, status, due_at, "
            "attempts, created_at) VALUES (1, 1, 'survey_call', 0, 0, 'done', :t, 1, :t)"),
            {"t": datetime(2026, 12, 1, 9, 0)})
        conn.execute(sa.text(
            "INSERT INTO outbound_attempts (id, task_id, ticket_id, kind, attempt, channel, "
            "carrier, to_phone, worker, started_at, outcome) VALUES (1, 1, 1, 'survey_call', "
            "1, 'call', 'sip', '13811112222', 'w', :t, 'no_answer')"), {"t": datetime(2026, 12, 1, 9, 0)})
    engine.dispose()

    dbadmin.upgrade(old_db_url)

    engine = make_engine(old_db_url)
    with engine.connect() as conn:
        phones = dict(conn.execute(sa.text("SELECT id, caller_phone FROM tickets")).all())
        assert phones == {1: "+8613811112222", 2: "+8613811112222", 3: "+8613811112222",
                          4: "+861065123456", 5: None, 6: None, 7: "+8612345"}
        keyed = conn.execute(sa.text("SELECT DISTINCT caller_phone_keyed FROM tickets")).all()
        assert [bool(k) for (k,) in keyed] == [False]
        # "99999" was no number: dropped, and what it was kept in the audit trail. The "000"
        # placeholder meant "no number" all along: nothing to keep.
        dropped = conn.execute(sa.text(
            "SELECT ticket_id, action, role FROM ticket_events")).all()
        assert dropped == [(6, "phone_dropped", "system")]
        units = dict(conn.execute(sa.text("SELECT code, phone FROM units")).all())
        assert units == {"u": "+8695598", "v": "8001"}  # an extension is left as it was
        assert conn.execute(sa.text("SELECT phone FROM users")).scalar_one() == \
            "+8613900000030"
        assert conn.execute(sa.text("SELECT to_phone FROM outbound_attempts")).scalar_one() \
            == "+8613811112222"
    engine.dispose()


def test_0008_goes_back_down(old_db_url: str) -> None:
    dbadmin.upgrade(old_db_url)
    engine = make_engine(old_db_url)
    with engine.begin() as conn:
        _ticket(conn, 1, "+8613811112222")
        conn.execute(sa.text("UPDATE tickets SET caller_phone = NULL"))
    engine.dispose()
    command.downgrade(dbadmin.alembic_config(old_db_url), BEFORE)
    engine = make_engine(old_db_url)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT caller_phone FROM tickets")).scalar_one() == "000"
    engine.dispose()
