"""The API while the database cannot be written (SQLite's lock held past the busy wait,
its file read-only, PostgreSQL down): 503 with Retry-After, nothing filed, instead of a
bare 500 a client cannot tell from a bug. A real bug is still a 500."""

from __future__ import annotations

import sqlite3

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError, OperationalError

import ticketing.deps
from tests.support.city import City
from ticketing.models import Ticket

COMPLAINT = {"caller_phone": "13811112222", "demand": "朝阳区望京西园三区5号楼停水一天了"}


def _tickets(city: City) -> int:
    with city.sessions() as s:
        return s.scalar(select(func.count()).select_from(Ticket)) or 0


def test_an_outage_is_503_with_retry_after_and_nothing_filed(
        client: TestClient, city: City, monkeypatch: pytest.MonkeyPatch) -> None:
    before = _tickets(city)

    def read_only(**_: object) -> None:
        raise OperationalError("BEGIN IMMEDIATE", {},
                               sqlite3.OperationalError("attempt to write a readonly database"))

    monkeypatch.setattr(ticketing.deps, "actor_for_token", read_only)
    r = client.post("/api/v1/tickets", json=COMPLAINT,
                    headers={"Authorization": f"Bearer {city.tokens['operator']}"})
    assert r.status_code == 503
    assert r.json()["error"] == "database_unavailable"
    assert int(r.headers["Retry-After"]) > 0
    assert _tickets(city) == before


def test_a_database_error_that_is_no_outage_is_still_a_server_error(
        client: TestClient, city: City, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(**_: object) -> None:
        raise IntegrityError("INSERT", {}, sqlite3.IntegrityError("UNIQUE constraint failed"))

    monkeypatch.setattr(ticketing.deps, "actor_for_token", broken)
    with pytest.raises(IntegrityError):
        client.post("/api/v1/tickets", json=COMPLAINT,
                    headers={"Authorization": f"Bearer {city.tokens['operator']}"})
