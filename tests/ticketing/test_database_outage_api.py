"""The API while the database cannot be written (SQLite's lock held past the busy wait,
its file read-only, PostgreSQL down): 503 with Retry-After, nothing filed, instead of a
bare 500 a client cannot tell from a bug. A real bug (a constraint, a schema that lacks a
table or column) is still a 500, its traceback left to the server's log."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from pathlib import Path

import httpx
import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError, OperationalError

import ticketing.deps
from config import Settings
from hotline.app import create_app
from tests.support import sqlite_errors
from tests.support.city import City
from ticketing.models import Ticket

COMPLAINT = {"caller_phone": "13811112222", "demand": "朝阳区望京西园三区5号楼停水一天了"}


def _tickets(city: City) -> int:
    with city.sessions() as s:
        return s.scalar(select(func.count()).select_from(Ticket)) or 0


def _file(client: TestClient, city: City) -> httpx.Response:
    return client.post("/api/v1/tickets", json=COMPLAINT,
                       headers={"Authorization": f"Bearer {city.tokens['operator']}"})


def _raising(error: BaseException) -> Callable[..., None]:
    def actor_for_token(**_: object) -> None:
        raise error
    return actor_for_token


def test_an_outage_is_503_with_retry_after_and_nothing_filed(
        client: TestClient, city: City, monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path) -> None:
    before = _tickets(city)
    for error in (sqlite_errors.read_only(tmp_path), sqlite_errors.locked(tmp_path)):
        monkeypatch.setattr(ticketing.deps, "actor_for_token",
                            _raising(sqlite_errors.wrapped(error)))
        r = _file(client, city)
        assert r.status_code == 503, (error, r.text)
        assert r.json()["error"] == "database_unavailable"
        assert int(r.headers["Retry-After"]) > 0
    assert _tickets(city) == before


def test_an_outage_with_no_message_is_still_a_503(
        client: TestClient, city: City, monkeypatch: pytest.MonkeyPatch) -> None:
    # A driver's error with an empty message raised IndexError in the handler: a 500.
    monkeypatch.setattr(ticketing.deps, "actor_for_token", _raising(
        OperationalError("SELECT 1", {}, psycopg.OperationalError())))
    r = _file(client, city)
    assert r.status_code == 503, r.text


def test_a_database_error_that_is_no_outage_is_still_a_server_error(
        client: TestClient, city: City, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ticketing.deps, "actor_for_token", _raising(
        IntegrityError("INSERT", {}, sqlite3.IntegrityError("UNIQUE constraint failed"))))
    with pytest.raises(IntegrityError):
        _file(client, city)


@pytest.mark.parametrize("schema_bug", [sqlite_errors.no_such_table,
                                        sqlite_errors.no_such_column])
def test_a_schema_bug_is_a_500_not_try_again(
        client: TestClient, settings: Settings, city: City, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture, schema_bug: Callable[[], sqlite3.Error]) -> None:
    # Before, SQLite's "no such table" was an outage: a 503 telling the client to retry a
    # request that could never succeed, and the traceback never logged.
    error = sqlite_errors.wrapped(schema_bug())
    monkeypatch.setattr(ticketing.deps, "actor_for_token", _raising(error))
    with caplog.at_level(logging.WARNING), pytest.raises(OperationalError) as raised:
        _file(client, city)
    # Re-raised, the error reaches the server, which logs its traceback.
    assert raised.value is error
    assert not [r for r in caplog.records if "database unavailable" in r.getMessage()]
    with TestClient(create_app(settings), raise_server_exceptions=False) as c:
        assert _file(c, city).status_code == 500


def over_the_limits() -> OperationalError:
    """What SQLAlchemy raises for PostgreSQL's refusal of an index row too long (the real
    server's: tests/ticketing/test_database_unavailable.py)."""
    return OperationalError("INSERT", {}, psycopg.errors.ProgramLimitExceeded(
        "index row size 3256 exceeds btree version 4 maximum 2704 for index \"ix\""))


def test_a_request_over_the_databases_limits_is_a_422_not_an_outage(
        client: TestClient, city: City, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    # Before: 503 "try again" with Retry-After, for a request that fails the same way
    # every time, and counted in the outage's warnings.
    before = _tickets(city)
    monkeypatch.setattr(ticketing.deps, "actor_for_token", _raising(over_the_limits()))
    with caplog.at_level(logging.WARNING):
        r = _file(client, city)
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["error"] == "invalid_input" and body["field"] == "body"
    assert "超出" in body["detail"] and "shorten" in body["detail"]
    assert "Retry-After" not in r.headers
    assert not [x for x in caplog.records if "database unavailable" in x.getMessage()]
    assert _tickets(city) == before
