"""The admin API's units and users follow the API's one rule (README, "The ticket
lifecycle"): a body that fails validation is 422 ``invalid_input`` naming its field, a
request the current state forbids (the code or user name taken) is 409 ``conflict``.

judge40 set up a new city through the API: a handler's phone "12ab", a handler with no
unit and a parent unit that does not exist were each 409 ``conflict`` with no field, as if
the directory's state forbade them, while the same phone on a ticket (``caller_phone``) is
422 naming the field."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.support.api import auth
from tests.support.city import City

pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # subject: the rule


@pytest.mark.parametrize(("path", "body", "field"), [
    ("/api/v1/users", {"username": "j40-a", "display_name": "张三", "role": "handler",
                       "unit_code": "bj-water", "phone": "12ab"}, "phone"),
    ("/api/v1/users", {"username": "j40-b", "display_name": "张三", "role": "handler",
                       "phone": "13900009998"}, "unit_code"),
    ("/api/v1/users", {"username": "j40-c", "display_name": "张三", "role": "supervisor",
                       "unit_code": "no-such-unit"}, "unit_code"),
    ("/api/v1/units", {"code": "j40-u1", "name": "测试", "parent_code": "no-such-unit"},
     "parent_code"),
    ("/api/v1/units", {"code": "j40-u2", "name": "测试", "phone": "not a phone"}, "phone"),
])
def test_a_body_the_directory_cannot_take_is_422_naming_its_field(
        client: TestClient, city: City, path: str, body: dict[str, str], field: str) -> None:
    r = client.post(path, headers=auth(city, "admin"), json=body)
    assert r.status_code == 422, r.text
    assert r.json()["error"] == "invalid_input" and r.json()["field"] == field, r.text


def test_a_code_or_user_name_taken_is_409_naming_its_field(
        client: TestClient, city: City) -> None:
    admin = auth(city, "admin")
    r = client.post("/api/v1/units", headers=admin, json={"code": "bj-water", "name": "重复"})
    assert r.status_code == 409 and r.json()["field"] == "code", r.text
    r = client.post("/api/v1/users", headers=admin,
                    json={"username": "admin", "display_name": "重复", "role": "operator"})
    assert r.status_code == 409 and r.json()["field"] == "username", r.text
