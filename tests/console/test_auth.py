"""Logging in with the API's accounts; the session cookie; CSRF on every form."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy import func, select

from config import Settings
from hotline.app import create_app
from hotline.console import auth
from hotline.console import views as console_views
from hotline.doctor import check_console_secret
from tests.console.conftest import csrf_of
from tests.console.seed import make_ticket
from tests.support.city import City
from ticketing.context import Domain
from ticketing.db import make_engine, make_session_factory
from ticketing.directory import issue_token
from ticketing.models import LoginFailure, Ticket, User


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # subject: the cookie's attributes, not storage
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


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # subject: the refusal's answer, not storage
def test_wrong_token_or_name_is_refused_alike(app: FastAPI, city: City) -> None:
    c = TestClient(app, follow_redirects=False)
    csrf = csrf_of(c.get("/console/login").text)
    for username, token in (("water-handler", "wrong"), ("operator", city.tokens["water-handler"])):
        r = c.post("/console/login", data={"username": username, "token": token, "csrf": csrf})
        assert r.status_code == 401 and "用户名或令牌不正确" in r.text
    assert c.get("/console/queue").status_code == 303  # still not logged in


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # subject: the redirects, not storage
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


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # subject: the cookie's signature, not storage
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


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # subject: the secret's file, not storage
def test_secret_is_generated_once_per_install(app: FastAPI, settings) -> None:
    first = auth.console_secret(settings)
    assert (settings.data_dir / auth.SECRET_FILE).read_bytes().strip() == first
    assert auth.console_secret(settings) == first and len(first) >= 32
    assert auth.console_secret(settings.model_copy(update={"console_secret": "x" * 40})) == b"x" * 40


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # subject: the secret's file, not storage
def test_an_empty_secret_file_is_never_a_key(settings) -> None:
    """A worker reading the file while another had created it but not yet written it got
    b"" and kept it as its key (a cookie anyone could sign). The secret is now linked into
    place whole, and an empty file is refused with what to do."""
    path = settings.data_dir / auth.SECRET_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\n")
    with pytest.raises(RuntimeError, match="is empty"):
        auth.console_secret(settings)
    path.unlink()
    first = auth.console_secret(settings)
    assert len(first) >= 32 and path.read_bytes() == first
    assert sorted(p.name for p in path.parent.iterdir() if "secret" in p.name) == [path.name]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # subject: the CSRF check, not storage
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


def _login(app: FastAPI, username: str, token: str, client: tuple[str, int] | None = None,
           headers: dict[str, str] | None = None):
    c = TestClient(app, follow_redirects=False, **({"client": client} if client else {}))
    form = c.get("/console/login", headers=headers)
    r = c.post("/console/login", headers=headers, data={
        "username": username, "token": token, "csrf": csrf_of(form.text)})
    return c, r


def test_logout_ends_the_users_sessions_everywhere(
    app: FastAPI, city: City, as_user: Callable[[str], TestClient]
) -> None:
    laptop = as_user("supervisor")
    phone, r = _login(app, "supervisor", city.tokens["supervisor"])
    assert r.status_code == 303 and phone.get("/console/dashboard").status_code == 200
    stolen = laptop.cookies.get(auth.COOKIE)
    assert laptop.post("/console/logout", data={"csrf": laptop.csrf}).status_code == 303
    # The other browser is logged out too, and a copy of the cookie taken before logout
    # (the browser deleting it proves nothing) is no session any more.
    assert phone.get("/console/dashboard").status_code == 303
    replay = TestClient(app, follow_redirects=False, cookies={auth.COOKIE: stolen})
    assert replay.get("/console/dashboard").status_code == 303
    # Logging in again works.
    again, r = _login(app, "supervisor", city.tokens["supervisor"])
    assert r.status_code == 303 and again.get("/console/dashboard").status_code == 200


def test_disabling_ends_console_sessions_and_enabling_does_not_revive_them(
    app: FastAPI, city: City, sessions, as_user: Callable[[str], TestClient]
) -> None:
    h = as_user("water-handler")
    stolen = h.cookies.get(auth.COOKIE)
    admin = {"Authorization": f"Bearer {city.tokens['admin']}"}
    api = TestClient(app)
    url = f"/api/v1/users/{city.user_id('water-handler')}"
    assert api.post(f"{url}/disable", headers=admin).status_code == 200
    assert h.get("/console/queue").status_code == 303
    _, r = _login(app, "water-handler", city.tokens["water-handler"])
    assert r.status_code == 401
    assert api.post(f"{url}/enable", headers=admin).status_code == 200
    replay = TestClient(app, follow_redirects=False, cookies={auth.COOKIE: stolen})
    assert replay.get("/console/queue").status_code == 303
    c, r = _login(app, "water-handler", city.tokens["water-handler"])
    assert r.status_code == 303 and c.get("/console/queue").status_code == 200
    # Rotating the token ends the new session too; the new token logs in.
    new = api.post(f"{url}/rotate-token", headers=admin).json()["token"]
    assert c.get("/console/queue").status_code == 303
    assert _login(app, "water-handler", city.tokens["water-handler"])[1].status_code == 401
    assert _login(app, "water-handler", new)[1].status_code == 303


def test_failed_logins_are_limited_per_name_and_per_address(app: FastAPI, city: City) -> None:
    here, there = ("198.51.100.7", 1000), ("203.0.113.9", 1000)
    for _ in range(auth.LOGIN_MAX_FAILURES):
        assert _login(app, "operator", "guess", here)[1].status_code == 401
    # Even the right token is refused now, with a Mandarin message and 429.
    _, r = _login(app, "operator", city.tokens["operator"], here)
    assert r.status_code == 429 and "登录失败次数过多" in r.text
    assert auth.COOKIE not in r.headers.get("location", "")
    # The name is blocked from another address, the address for another name ...
    assert _login(app, "operator", city.tokens["operator"], there)[1].status_code == 429
    assert _login(app, "supervisor", city.tokens["supervisor"], here)[1].status_code == 429
    # ... and others are not affected.
    assert _login(app, "supervisor", city.tokens["supervisor"], there)[1].status_code == 303


def test_login_limit_forgets_after_the_window_and_on_success(sessions) -> None:
    limiter = auth.LoginLimiter(sessions, max_failures=2, window_seconds=300)
    keys = ["name:operator", "addr:198.51.100.7"]
    t0 = datetime(2026, 12, 3, 2, 0, tzinfo=UTC)

    def at(seconds: float) -> datetime:
        return t0 + timedelta(seconds=seconds)

    limiter.failed(keys, now=at(1000))
    limiter.failed(keys, now=at(1100))
    assert limiter.blocked(keys, now=at(1200))
    assert limiter.blocked(["addr:198.51.100.7"], now=at(1299))
    assert not limiter.blocked(keys, now=at(1301))  # the first failure is out of the window
    limiter.failed(keys, now=at(1302))
    limiter.succeeded("name:operator")
    assert not limiter.blocked(["name:operator"], now=at(1303))
    # Failures past the window are deleted as new ones come in: the table stays small.
    with sessions() as s:
        assert s.scalars(select(LoginFailure.key).order_by(LoginFailure.key)).all() == [
            "addr:198.51.100.7", "addr:198.51.100.7"]
    limiter.failed(["addr:203.0.113.9"], now=at(1700))
    with sessions() as s:
        assert s.scalars(select(LoginFailure.key)).all() == ["addr:203.0.113.9"]


def test_an_overlong_key_is_cut_to_the_column_and_still_counted(sessions) -> None:
    # The client address comes from the ASGI server (or a trusted proxy's header), not from
    # a form with a max_length: a longer one must neither fail the login nor dodge the count.
    limiter = auth.LoginLimiter(sessions, max_failures=2)
    key = "addr:" + "f" * 500
    limiter.failed([key])
    limiter.failed([key])
    assert limiter.blocked([key])
    assert limiter.blocked(["addr:" + "f" * 400])  # same first 160 characters
    assert not limiter.blocked(["addr:ffff"])


def test_the_count_is_shared_by_nodes_and_survives_a_restart(
    settings: Settings, city: City
) -> None:
    # Two nodes (or two `hotline serve` workers): each app has its own engine and pool,
    # sharing only the database.
    a, b = create_app(settings), create_app(settings)
    here, there = ("198.51.100.7", 1000), ("203.0.113.9", 1000)
    for i in range(auth.LOGIN_MAX_FAILURES):
        assert _login((a, b)[i % 2], "operator", "guess", here)[1].status_code == 401
    # The fifth failure was on b; a knows it, for the name and for the address.
    assert _login(a, "operator", city.tokens["operator"], there)[1].status_code == 429
    assert _login(a, "supervisor", city.tokens["supervisor"], here)[1].status_code == 429
    # A restart (a new app on the same database) does not forget.
    restarted = create_app(settings)
    assert _login(restarted, "operator", city.tokens["operator"], there)[1].status_code == 429
    assert _login(restarted, "supervisor", city.tokens["supervisor"], there)[1].status_code == 303


def test_success_on_one_node_clears_only_the_name_everywhere(
    settings: Settings, city: City
) -> None:
    a, b = create_app(settings), create_app(settings)
    here = ("198.51.100.7", 1000)
    for _ in range(auth.LOGIN_MAX_FAILURES - 1):
        assert _login(a, "operator", "guess", here)[1].status_code == 401
    assert _login(b, "operator", city.tokens["operator"], here)[1].status_code == 303
    # The name starts afresh on a: four more failures do not block it ...
    for _ in range(auth.LOGIN_MAX_FAILURES - 1):
        assert _login(a, "operator", "guess", ("203.0.113.9", 1))[1].status_code == 401
    assert _login(a, "operator", city.tokens["operator"], ("203.0.113.10", 1))[1].status_code == 303
    # ... while the address kept its four: one more failure from it and it is blocked.
    assert _login(b, "nobody", "guess", here)[1].status_code == 401
    assert _login(a, "supervisor", city.tokens["supervisor"], here)[1].status_code == 429


def test_concurrent_failures_on_several_nodes_are_all_counted(settings: Settings) -> None:
    # Each "node" has its own engine; the failures race on the one database and none may be
    # lost (an UPDATE of a counter read before would lose some).
    engines = [make_engine(settings.database_url) for _ in range(2)]
    limiters = [auth.LoginLimiter(make_session_factory(e)) for e in engines]
    keys = ["name:operator", "addr:198.51.100.7"]
    per_thread, threads = 10, 6
    try:
        with ThreadPoolExecutor(threads) as pool:
            for f in [pool.submit(lambda i=i: [limiters[i % 2].failed(keys)
                                               for _ in range(per_thread)])
                      for i in range(threads)]:
                f.result()
        with make_session_factory(engines[0])() as s:
            counts = dict(s.execute(select(LoginFailure.key, func.count())
                                    .group_by(LoginFailure.key)).all())
        assert counts == {k: per_thread * threads for k in keys}
        assert all(limiter.blocked(keys[1:]) for limiter in limiters)
    finally:
        for e in engines:
            e.dispose()


def test_forwarded_headers_count_only_from_trusted_proxies(
    settings: Settings, city: City
) -> None:
    tls = {"X-Forwarded-Proto": "https"}

    def secure(app: FastAPI, peer: tuple[str, int]) -> bool:
        r = TestClient(app, client=peer).get("/console/login", headers=tls)
        return "secure" in r.headers["set-cookie"].lower()

    shipped = create_app(settings)
    assert not secure(shipped, ("10.0.0.5", 1000))  # no proxy trusted by default
    proxied = create_app(settings.model_copy(update={"trusted_proxies": ["10.0.0.0/8"]}))
    assert secure(proxied, ("10.0.0.5", 1000))
    assert not secure(proxied, ("203.0.113.9", 1000))  # a client can't claim TLS
    # Behind the proxy, failures count against the real client, not the proxy ...
    proxy = ("10.0.0.5", 1000)
    for _ in range(auth.LOGIN_MAX_FAILURES):
        _login(proxied, "nobody", "guess", proxy, {"X-Forwarded-For": "198.51.100.7"})
    blocked = _login(proxied, "nosuch", "guess", proxy, {"X-Forwarded-For": "198.51.100.7"})
    assert blocked[1].status_code == 429
    ok = _login(proxied, "operator", city.tokens["operator"], proxy,
                {"X-Forwarded-For": "198.51.100.8"})
    assert ok[1].status_code == 303
    # ... while a client's own X-Forwarded-For does not give it a fresh allowance.
    for i in range(auth.LOGIN_MAX_FAILURES):
        _login(shipped, f"n{i}", "guess", ("203.0.113.9", 1), {"X-Forwarded-For": f"10.1.1.{i}"})
    spoof = _login(shipped, "x", "guess", ("203.0.113.9", 1), {"X-Forwarded-For": "10.2.2.2"})
    assert spoof[1].status_code == 429


def test_trusted_proxies_must_be_addresses() -> None:
    with pytest.raises(ValidationError):
        Settings(trusted_proxies=["kamailio"])
    assert Settings(trusted_proxies=["10.1.2.3/16", "::1"]).trusted_proxies == [
        "10.1.0.0/16", "::1/128"]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # subject: the secret's file, not storage
def test_secret_file_is_shared_by_nodes(settings: Settings, city: City, tmp_path: Path) -> None:
    shared = tmp_path / "shared" / "console_secret"
    nodes = [create_app(settings.model_copy(update={
        "data_dir": tmp_path / node, "console_secret_file": shared, "node_name": node}))
        for node in ("ivr-a", "ivr-b")]
    a, r = _login(nodes[0], "operator", city.tokens["operator"])
    assert r.status_code == 303
    b = TestClient(nodes[1], follow_redirects=False,
                   cookies={auth.COOKIE: a.cookies.get(auth.COOKIE)})
    assert b.get("/console/intake").status_code == 200  # a session from node a works on b
    assert shared.exists() and not (tmp_path / "ivr-a" / auth.SECRET_FILE).exists()
    # The shipped settings (only the database and data directory moved): one node's own
    # secret is fine on SQLite; with PostgreSQL (several nodes likely) the doctor warns, and
    # never blocks start-up.
    shipped = check_console_secret(settings)
    assert shipped.ok == settings.database_url.startswith("sqlite")
    assert shipped.ok or not shipped.required
    # Without the file setting each node would make its own: the doctor warns.
    per_node = check_console_secret(settings.model_copy(update={"node_name": "ivr-a"}))
    assert not per_node.ok and not per_node.required
    assert "HOTLINE_CONSOLE_SECRET" in per_node.fix
    assert check_console_secret(settings.model_copy(update={"console_secret_file": shared})).ok
    assert check_console_secret(settings.model_copy(update={"console_secret": "x" * 40})).ok


@pytest.mark.parametrize("spread", ["one_address", "many_addresses"])
def test_simultaneous_wrong_tokens_get_no_more_tries_than_the_limit(
    app: FastAPI, city: City, sessions, monkeypatch: pytest.MonkeyPatch, spread: str
) -> None:
    # The real check, counted: how many attempts reached the token at all.
    checked: list[str] = []
    guard = threading.Lock()
    real = console_views.authenticate

    def counted(**kw: Any) -> User | None:
        with guard:
            checked.append(kw["token"])
        return real(**kw)

    monkeypatch.setattr(console_views, "authenticate", counted)
    limit, fired = auth.LOGIN_MAX_FAILURES, 3 * auth.LOGIN_MAX_FAILURES
    clients = []
    for i in range(fired):  # each its own browser with its own login form and cookie
        where = ("198.51.100.7" if spread == "one_address" else f"198.51.100.{i + 10}", 1000)
        c = TestClient(app, follow_redirects=False, client=where)
        clients.append((c, csrf_of(c.get("/console/login").text)))
    start = threading.Barrier(fired)

    def attempt(i: int) -> int:
        c, csrf = clients[i]
        start.wait()
        return c.post("/console/login", data={
            "username": "operator", "token": f"guess-{i}", "csrf": csrf}).status_code

    with ThreadPoolExecutor(fired) as pool:
        codes = list(pool.map(attempt, range(fired)))
    assert sorted(codes) == [401] * limit + [429] * (fired - limit)
    assert len(checked) == limit
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(LoginFailure)
                        .where(LoginFailure.key == "name:operator")) == limit
    # The right token is refused too while the name is blocked, and not checked.
    _, r = _login(app, "operator", city.tokens["operator"], ("203.0.113.9", 1000))
    assert r.status_code == 429 and len(checked) == limit


def test_a_successful_login_takes_back_its_own_count(app: FastAPI, city: City, sessions) -> None:
    here = ("198.51.100.7", 1000)
    for _ in range(auth.LOGIN_MAX_FAILURES - 1):
        assert _login(app, "supervisor", "guess", here)[1].status_code == 401
    # Recorded before the token was checked, a success is no failure of the address.
    assert _login(app, "operator", city.tokens["operator"], here)[1].status_code == 303
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(LoginFailure)
                        .where(LoginFailure.key == "addr:198.51.100.7")) == (
            auth.LOGIN_MAX_FAILURES - 1)
    assert _login(app, "operator", city.tokens["operator"], here)[1].status_code == 303


def test_a_nul_in_the_login_name_is_a_wrong_name_not_an_error(app: FastAPI, city: City) -> None:
    """PostgreSQL refuses a NUL in any text: the name went into the failure count and the
    user look-up as typed, and the login answered 500 with a traceback (seventeenth
    round's trial; SQLite took it)."""
    for name in ("oper\x00ator", "\x00", "operator\x00"):
        _, r = _login(app, name, "guess")
        assert r.status_code == 401 and "用户名或令牌不正确" in r.text, name
