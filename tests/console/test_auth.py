"""Logging in with the API's accounts; the session cookie; CSRF on every form."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from hotline.console import auth
from tests.console.conftest import csrf_of
from tests.console.seed import make_ticket
from tests.support.city import City
from ticketing.context import Domain
from ticketing.directory import issue_token
from ticketing.models import Ticket, User


def test_login_sets_a_strict_httponly_signed_cookie(app: FastAPI, city: City) -> None:
    c = TestClient(app, follow_redirects=False)
    form = c.get("/console/login")
    r = c.post("/console/login", data={"username": "water-handler",
                                       "token": city.tokens["water-handler"],
                                       "csrf": csrf_of(form.text)})
    assert r.status_code == 303 and r.headers["location"] == "/console/queue"
    cookie = r.headers["set-cookie"]
    assert cookie.startswith(f"{auth.COOKIE}=")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/console" in cookie
    page = c.get("/console/queue")
    assert page.status_code == 200 and "自来水集团承办人孙强" in page.text
    assert page.headers["cache-control"] == "private, no-store"
    assert page.headers["x-frame-options"] == "DENY"
    assert c.get("/console/login").headers["location"] == "/console/"
    assert c.get("/console/").headers["location"] == "/console/queue"
    # Operators land on intake, supervisors on the dashboard.
    for user, home in (("operator", "/console/intake"), ("supervisor", "/console/dashboard")):
        c2 = TestClient(app, follow_redirects=False)
        r = c2.post("/console/login", data={"username": user, "token": city.tokens[user],
                                            "csrf": csrf_of(c2.get("/console/login").text)})
        assert r.headers["location"] == home


def test_wrong_token_or_name_is_refused_alike(app: FastAPI, city: City) -> None:
    c = TestClient(app, follow_redirects=False)
    csrf = csrf_of(c.get("/console/login").text)
    for username, token in (("water-handler", "wrong"), ("operator", city.tokens["water-handler"])):
        r = c.post("/console/login", data={"username": username, "token": token, "csrf": csrf})
        assert r.status_code == 401 and "用户名或令牌不正确" in r.text
    assert c.get("/console/queue").status_code == 303  # still not logged in


def test_pages_need_login_and_come_back_after(app: FastAPI, city: City) -> None:
    c = TestClient(app, follow_redirects=False)
    r = c.get("/console/queue?status=all")
    assert r.status_code == 303
    assert r.headers["location"] == "/console/login?next=%2Fconsole%2Fqueue%3Fstatus%3Dall"
    form = c.get(r.headers["location"])
    assert 'name="next" value="/console/queue?status=all"' in form.text
    r = c.post("/console/login", data={"username": "operator", "token": city.tokens["operator"],
                                       "csrf": csrf_of(form.text), "next": "/console/queue?status=all"})
    assert r.headers["location"] == "/console/queue?status=all"
    # A login link can't be used to send someone to another site.
    for evil in ("https://evil.example/", "//evil.example/console", "/api/v1/tickets"):
        c3 = TestClient(app, follow_redirects=False)
        r = c3.post("/console/login", data={"username": "operator",
                                            "token": city.tokens["operator"],
                                            "csrf": csrf_of(c3.get("/console/login").text),
                                            "next": evil})
        assert r.headers["location"] == "/console/intake"


def test_forged_or_stale_cookies_are_not_sessions(
    app: FastAPI, city: City, sessions, as_user: Callable[[str], TestClient]
) -> None:
    c = as_user("water-handler")
    value = c.cookies.get(auth.COOKIE)
    payload, _, mac = value.partition(".")
    # Same payload re-signed with another key, or the payload changed: both rejected.
    other = auth.encode(b"not the install secret", auth.decode(
        app.state.console_key, value))  # type: ignore[arg-type]
    for bad in (other, payload[:-2] + "AA." + mac):
        c2 = TestClient(app, follow_redirects=False, cookies={auth.COOKIE: bad})
        assert c2.get("/console/queue").status_code == 303
    # A new bearer token for the user ends the console sessions made with the old one.
    with sessions() as s:
        issue_token(s.scalars(select(User).where(User.username == "water-handler")).one())
        s.commit()
    r = c.get("/console/queue")
    assert r.status_code == 303
    # ... and the login form is offered again rather than bouncing back to the queue.
    form = c.get(r.headers["location"])
    assert form.status_code == 200 and 'name="token"' in form.text


def test_secret_is_generated_once_per_install(app: FastAPI, settings) -> None:
    first = auth.console_secret(settings)
    assert (settings.data_dir / auth.SECRET_FILE).read_bytes().strip() == first
    assert auth.console_secret(settings) == first and len(first) >= 32
    assert auth.console_secret(settings.model_copy(update={"console_secret": "x" * 40})) == b"x" * 40


def test_every_post_needs_the_sessions_csrf_token(
    app: FastAPI, city: City, sessions, domain: Domain,
    as_user: Callable[[str], TestClient],
) -> None:
    n = make_ticket(sessions, domain)
    with sessions() as s:
        before = s.scalars(select(Ticket.version).where(Ticket.number == n)).one()
    h = as_user("water-handler")
    op = as_user("operator")
    for token in ("", "guess", op.csrf):  # missing, wrong, another user's
        r = h.post(f"/console/tickets/{n}/sign", data={"csrf": token})
        assert r.status_code == 403 and "CSRF" in r.text
        r = op.post("/console/intake", data={"csrf": token if token != op.csrf else h.csrf,
                                             "caller_phone": "13800000000", "demand": "停水"})
        assert r.status_code == 403
    with sessions() as s:
        t = s.scalars(select(Ticket).where(Ticket.number == n)).one()
        assert t.status == "dispatched" and t.version == before
        assert s.query(Ticket).count() == 1
    # htmx sends it as a header instead of a field.
    r = h.post(f"/console/tickets/{n}/sign", headers={"X-CSRF-Token": h.csrf})
    assert r.status_code == 303
    # The login form is protected too.
    c = TestClient(app, follow_redirects=False)
    c.get("/console/login")
    r = c.post("/console/login", data={"username": "operator", "token": city.tokens["operator"],
                                       "csrf": "forged"})
    assert r.status_code == 403 and auth.COOKIE not in (c.cookies.get(auth.COOKIE) or "")


def test_logout_ends_the_session(as_user: Callable[[str], TestClient]) -> None:
    c = as_user("supervisor")
    assert c.post("/console/logout", data={"csrf": "wrong"}).status_code == 403
    r = c.post("/console/logout", data={"csrf": c.csrf})
    assert r.status_code == 303 and r.headers["location"] == "/console/login"
    assert c.get("/console/dashboard").status_code == 303
