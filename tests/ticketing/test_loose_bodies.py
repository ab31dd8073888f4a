"""Bodies the API read loosely (mend90): a JSON key named twice (read by its last value),
a compressed body (read as if plain), booleans as "no" or 1 (pydantic's lax mode). Each is
refused at one place, naming what was wrong, and nothing changes. Socket-free (the ASGI
test client); the rules: ``hotline.request_body`` and ``ticketing.schemas.Flag``."""

from __future__ import annotations

import gzip
import json
import re
from typing import Any, get_args

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from pydantic import BaseModel
from sqlalchemy import func, select

from hotline import request_body
from tests.support.api import auth
from tests.support.city import City
from ticketing.deps import takes_a_token
from ticketing.models import Ticket

pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # subject: reading

DEMAND = "朝阳区望京西园三区5号楼停水一天了"


def _tickets(city: City) -> int:
    with city.sessions() as s:
        return s.scalar(select(func.count()).select_from(Ticket)) or 0


def _post(client: TestClient, city: City, path: str, raw: bytes, *,
          user: str = "operator", **headers: str) -> Any:
    sent = {**auth(city, user), "Content-Type": "application/json", **headers}
    return client.post(path, content=raw, headers=sent)


def test_a_json_key_given_twice_is_refused_naming_it(client: TestClient, city: City) -> None:
    """``{"reason":"a","reason":""}`` was read as ``""`` (Python's json keeps the last), a
    body the client did not mean, and a way past any reader of the first (a proxy, a log
    filter). Every JSON route refuses it before its view runs: 422 naming the key, where it
    is in the body, nothing filed."""
    before = _tickets(city)
    twice = (b'{"caller_phone":"13811112222","demand":"%s","demand":"x"}'
             % DEMAND.encode())
    r = _post(client, city, "/api/v1/tickets", twice)
    assert (r.status_code, r.json()["error"], r.json()["field"]) == (
        422, "invalid_input", "demand"), r.text
    assert "'demand'" in r.json()["detail"] and "twice" in r.json()["detail"], r.text
    assert _tickets(city) == before
    # Each JSON route: a ticket's actions, the knowledge base, its answers, the SMS gateway.
    for path, user in [("/api/v1/tickets/0000000001/deny_exclusion", "supervisor"),
                       ("/api/v1/tickets/0000000001/reject", "operator"),
                       ("/api/v1/kb/entries", "operator"),
                       ("/api/v1/kb/answers", "operator"),
                       ("/sms/inbound", "operator")]:
        r = _post(client, city, path, b'{"reason":"a","reason":""}', user=user)
        assert (r.status_code, r.json()["field"]) == (422, "reason"), (path, r.text)
    # Where it is: inside an object of an array, named by its path.
    r = _post(client, city, "/api/v1/tickets",
              b'{"demand":"x","keys":[{"a":1},{"b":1,"b":2}]}')
    assert (r.status_code, r.json()["field"]) == (422, "keys.1.b"), r.text
    # The same key in two objects, or the same text as a value, is no repeat.
    once = json.dumps({"caller_phone": "13811112222", "demand": DEMAND,
                       "subject": "demand"}).encode()
    assert _post(client, city, "/api/v1/tickets", once).status_code == 201
    assert _post(client, city, "/api/v1/tickets/0000000001/reject",
                 b'[{"reason":"a"},{"reason":"b"}]').json()["field"] != "reason"


def test_a_body_the_api_cannot_read_is_answered_as_before(client: TestClient,
                                                          city: City) -> None:
    """The duplicate-key reading adds no answer of its own to a body it cannot read: bad
    JSON is still the route's 422, a body of another type its "send it as JSON"."""
    r = _post(client, city, "/api/v1/tickets", b'{"demand": "x", "demand"')
    assert (r.status_code, r.json()["error"]) == (422, "invalid_input"), r.text
    form = "application/x-www-form-urlencoded"
    r = _post(client, city, "/api/v1/tickets", b"demand=a&demand=b", **{"Content-Type": form})
    assert "Content-Type: application/json" in r.json()["detail"], r.text


@pytest.mark.parametrize("coding", ["gzip", "deflate", "br", "GZIP", "gzip, identity"])
def test_a_compressed_body_is_415_naming_its_coding(client: TestClient, city: City,
                                                    coding: str) -> None:
    """`Content-Encoding: gzip` was ignored and the compressed bytes read as the body: a
    400 or 422 about bytes the client never wrote, or, for a coding that leaves the text
    readable, a body other than the one meant. No route takes a coded body: 415 naming the
    coding, `Accept-Encoding: identity` (RFC 7694), before the body is read."""
    body = json.dumps({"caller_phone": "13811112222", "demand": DEMAND}).encode()
    before = _tickets(city)
    r = _post(client, city, "/api/v1/tickets", gzip.compress(body),
              **{"Content-Encoding": coding})
    assert (r.status_code, r.json()["error"]) == (415, "unsupported_media_type"), r.text
    assert repr(coding) in r.json()["detail"], r.text
    assert r.headers["accept-encoding"] == "identity"
    assert _tickets(city) == before
    # The console's forms and a read with the header alike.
    r = client.get("/api/v1/tickets", headers={**auth(city, "operator"),
                                               "Content-Encoding": coding})
    assert r.status_code == 415, r.text


def test_identity_is_no_coding(client: TestClient, city: City) -> None:
    body = json.dumps({"caller_phone": "13811112222", "demand": DEMAND}).encode()
    r = _post(client, city, "/api/v1/tickets", body, **{"Content-Encoding": "identity"})
    assert r.status_code == 201, r.text


@pytest.mark.parametrize("sent", ["no", "0", "false", "off", 0, 1, "true", "yes", 1.0, None])
def test_a_boolean_in_a_body_is_json_true_or_false(client: TestClient, city: City,
                                                   sent: object) -> None:
    """pydantic's lax mode read "no", "0", "off", 0 as false and "yes", "1", 1 as true: a
    client's spelling was guessed, not read, and a client's own bug (a number or a string
    where its flag belongs) went unseen. A body's boolean is JSON's true or false; anything
    else is 422 naming the field, nothing filed."""
    before = _tickets(city)
    body = {"caller_phone": "13811112222", "demand": DEMAND, "confidential": sent}
    r = client.post("/api/v1/tickets", json=body, headers=auth(city, "operator"))
    assert (r.status_code, r.json()["field"]) == (422, "confidential"), r.text
    assert _tickets(city) == before
    r = client.post("/api/v1/tickets/0000000001/survey", headers=auth(city, "operator"),
                    json={"resolved": True, "satisfied": sent})
    assert (r.status_code, r.json()["field"]) == (422, "satisfied"), r.text


def test_true_and_false_are_read(client: TestClient, city: City) -> None:
    for flag in (True, False):
        body = {"caller_phone": "13811112222", "demand": DEMAND, "confidential": flag}
        r = client.post("/api/v1/tickets", json=body, headers=auth(city, "operator"))
        assert r.status_code == 201 and r.json()["confidential"] is flag, r.text


def _bool_fields(model: type[BaseModel], prefix: str = "") -> list[tuple[str, Any]]:
    found = []
    for name, info in model.model_fields.items():
        kinds = get_args(info.annotation) or (info.annotation,)
        if bool in kinds:
            found.append((prefix + name, info))
        for kind in kinds:
            if isinstance(kind, type) and issubclass(kind, BaseModel):
                found += _bool_fields(kind, f"{prefix}{name}.")
    return found


def _api_routes(routes: Any) -> list[APIRoute]:
    """Every APIRoute, into the included routers (FastAPI keeps them as included)."""
    found: list[APIRoute] = []
    for route in routes:
        if (inner := getattr(route, "original_router", None)) is not None:
            found += _api_routes(inner.routes)
        elif isinstance(route, APIRoute):
            found.append(route)
    return found


def test_every_boolean_of_every_body_is_strict(client: TestClient) -> None:
    """The rule is one type, ``schemas.Flag``: a body model of any router (ticketing,
    outbound, knowledge) with a plain ``bool`` would read "no" again."""
    loose = []
    seen = 0
    for route in _api_routes(client.app.routes):
        model = getattr(getattr(route.body_field, "field_info", None), "annotation", None)
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            continue
        for name, info in _bool_fields(model):
            seen += 1
            if not any(getattr(m, "strict", None) for m in info.metadata):
                loose.append(f"{route.path}: {model.__name__}.{name}")
    assert seen >= 6 and loose == []


def test_a_second_content_type_hides_no_repeated_key(client: TestClient, city: City) -> None:
    """Two Content-Type headers: FastAPI reads the body by the first (Starlette's
    ``headers.get``), the duplicate-key check read the last (``dict(headers)``), so JSON
    named first and a form type second got a key named twice past it, read by its last
    value (review100). Both read the first."""
    before = _tickets(city)
    twice = b'{"caller_phone":"13811112222","demand":"%s","demand":"x"}' % DEMAND.encode()
    for second in ("application/x-www-form-urlencoded", "multipart/form-data; boundary=b"):
        headers = [*auth(city, "operator").items(), ("Content-Type", "application/json"),
                   ("Content-Type", second)]
        r = client.post("/api/v1/tickets", content=twice, headers=headers)
        assert (r.status_code, r.json().get("field")) == (422, "demand"), (second, r.text)
    assert _tickets(city) == before


@pytest.mark.parametrize("raw", [b'{"demand":"a","demand":"b"}', b'{"demand": "a"'],
                         ids=["key twice", "unreadable"])
@pytest.mark.parametrize("who", [{}, {"Authorization": "Bearer not-a-token"},
                                 {"Authorization": "Basic b3A6b3A="}],
                         ids=["no token", "unknown token", "not bearer"])
def test_a_stranger_is_401_before_its_body_is_read(
        client: TestClient, city: City, monkeypatch: pytest.MonkeyPatch,
        raw: bytes, who: dict[str, str]) -> None:
    """A route that takes a bearer token decides it before any parse of the body (mend91):
    a stranger's body cost the repeated-key parse (``JsonKeysOnce``, ~2.4 ms of CPU at the
    shipped 64 KiB) and FastAPI's own, and was answered 422 about a body it may not send.
    Now 401, as the route's own check answers, and the body never parsed."""
    parsed: list[bytes] = []
    real = request_body.repeated_key
    monkeypatch.setattr(request_body, "repeated_key",
                        lambda body: parsed.append(body) or real(body))
    r = client.post("/api/v1/tickets", content=raw,
                    headers={"Content-Type": "application/json", **who})
    assert r.status_code == 401, r.text
    assert r.json()["error"] == "unauthorized" and r.headers["WWW-Authenticate"] == "Bearer"
    assert parsed == []
    assert _tickets(city) == 0
    # A user's body is read as before: the repeated key named, the unreadable one FastAPI's.
    r = _post(client, city, "/api/v1/tickets", raw)
    assert r.status_code == 422 and r.json()["error"] == "invalid_input", r.text
    assert len(parsed) == 1


def test_every_route_that_takes_a_token_is_found_before_its_body_is_read(
        client: TestClient) -> None:
    """``JsonKeysOnce`` finds the route as the router will (``request_body._route_of``,
    into FastAPI's included routers): a token route it missed would parse a stranger's
    body again, unseen."""
    routes = [r for r in _api_routes(client.app.routes) if takes_a_token(r.dependant)]
    assert len(routes) >= 30
    for route in routes:
        path = re.sub(r"\{[^}]+\}", "1", route.path_format)
        for method in route.methods:
            scope = {"type": "http", "method": method, "path": path, "root_path": "",
                     "headers": [], "query_string": b""}
            found = request_body._route_of(client.app.router.routes, scope)
            assert isinstance(found, APIRoute) and takes_a_token(found.dependant), path
