"""Two admins creating the same unit code (or user name) at the same instant: both pass the
"already exists" look-up, the second insert hits the unique index. That one was a 500 (the
IntegrityError re-raised by hotline.app's database handler); it is the 409 the sequential
case answers, from the same place (``ticketing.directory``).

The race made deterministic: the look-up answers "free" once, as it did for the second
admin before the first committed, while the row is already there."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.support.api import auth
from tests.support.city import City
from ticketing import directory


def _misses_once(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    """``directory.<name>`` answers None at its first call, then as it does."""
    real: Callable[..., Any] = getattr(directory, name)
    calls = []

    def once_too_late(**kwargs: Any) -> Any:
        calls.append(kwargs)
        return None if len(calls) == 1 else real(**kwargs)

    monkeypatch.setattr(directory, name, once_too_late)


def test_a_unit_code_taken_in_a_race_is_the_409_of_one_taken_before(
        client: TestClient, city: City, monkeypatch: pytest.MonkeyPatch) -> None:
    admin = auth(city, "admin")
    sequential = client.post("/api/v1/units", headers=admin,
                             json={"code": "bj-water", "name": "重复"})
    assert sequential.status_code == 409, sequential.text
    _misses_once(monkeypatch, "find_unit")
    raced = client.post("/api/v1/units", headers=admin, json={"code": "bj-water", "name": "重复"})
    assert raced.status_code == 409, raced.text
    assert raced.json() == sequential.json()
    # Only the savepoint was rolled back: the directory takes the next unit as before.
    r = client.post("/api/v1/units", headers=admin, json={"code": "race-new", "name": "新单位"})
    assert r.status_code == 201, r.text


def test_a_user_name_taken_in_a_race_is_the_409_of_one_taken_before(
        client: TestClient, city: City, monkeypatch: pytest.MonkeyPatch) -> None:
    admin = auth(city, "admin")
    body = {"username": "admin", "display_name": "重复", "role": "handler",
            "unit_code": "bj-water", "phone": "13900007777"}
    sequential = client.post("/api/v1/users", headers=admin, json=body)
    assert sequential.status_code == 409, sequential.text
    _misses_once(monkeypatch, "find_user")
    raced = client.post("/api/v1/users", headers=admin, json=body)
    assert raced.status_code == 409, raced.text
    assert raced.json() == sequential.json()
