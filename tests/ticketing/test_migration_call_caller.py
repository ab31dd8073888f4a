"""Migration 0013 on call records an older release left, on SQLite and PostgreSQL: the
caller in E.164 like a ticket's number, and a caller ID that was no number kept apart."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from hotline import dbadmin
from tests.ticketing.test_migration_phones import old_db_url  # noqa: F401 - the fixture
from ticketing.db import make_engine

BEFORE = "0011"


def test_0013_normalises_the_callers_of_old_call_records(old_db_url: str) -> None:  # noqa: F811
    engine = make_engine(old_db_url)
    old = {1: "13811112222", 2: "+8613811112222", 3: "008613811112222", 4: "anonymous",
           5: "citizen", 6: ""}
    with engine.begin() as conn:
        for n, caller in old.items():
            conn.execute(sa.text(
                "INSERT INTO call_records (id, call_id, carrier, direction, caller, arrived_at,"
                " outcome) VALUES (:id, :call_id, 'sip', 'in', :caller, :at, 'ticket')"),
                {"id": n, "call_id": f"c{n}", "caller": caller, "at": datetime(2026, 12, 1)})
    engine.dispose()
    dbadmin.upgrade(old_db_url, "head")
    engine = make_engine(old_db_url)
    with engine.connect() as conn:
        rows = {row_id: (caller, raw) for row_id, caller, raw in conn.execute(sa.text(
            "SELECT id, caller, caller_raw FROM call_records ORDER BY id"))}
    engine.dispose()
    assert rows == {1: ("+8613811112222", None), 2: ("+8613811112222", None),
                    3: ("+8613811112222", None), 4: (None, "anonymous"),
                    5: (None, "citizen"), 6: (None, None)}
