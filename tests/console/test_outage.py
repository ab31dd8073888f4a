"""The console during a database outage: a page in Mandarin for a browser (503 and
Retry-After), the form's words kept in it and sent again by one button, instead of the
API's JSON; the API keeps its JSON. Socket-free: the outage is SQLite's own error."""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import event, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import ORMExecuteState, Session, sessionmaker

from tests.console.seed import make_ticket
from tests.support import sqlite_errors
from tests.support.city import City
from ticketing.context import Domain
from ticketing.models import Ticket

REPLY = "已联系物业，明早八点前恢复供水\n（已与住户张先生确认）"


def _down(app: FastAPI, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    error = sqlite_errors.wrapped(sqlite_errors.read_only(tmp_path))

    def sessions() -> None:
        raise error

    monkeypatch.setattr(app.state, "sessions", sessions)
    monkeypatch.setattr(app.state, "read_sessions", sessions)


def test_a_reply_typed_during_an_outage_comes_back_in_a_page(
        app: FastAPI, as_user: Callable[[str], TestClient], monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path) -> None:
    handler = as_user("water-handler")
    _down(app, monkeypatch, tmp_path)
    r = handler.post("/console/tickets/2612050001/reply", data={
        "csrf": handler.csrf, "text": REPLY, "outcome": "resolved"})  # type: ignore[attr-defined]
    # Before: the API's JSON {"error": "database_unavailable", ...} in the browser.
    assert r.status_code == 503
    assert r.headers["content-type"].startswith("text/html")
    assert int(r.headers["Retry-After"]) > 0
    page = html.unescape(r.text)
    assert "系统暂时无法使用" in page and "尚未保存" in page
    # The words typed, in a form that sends them again to the same place with the token.
    form = re.search(r'<form method="post" action="([^"]+)"(.*?)</form>', r.text, re.S)
    assert form and form.group(1) == "/console/tickets/2612050001/reply"
    assert REPLY in html.unescape(form.group(2))
    assert 'name="outcome" value="resolved"' in form.group(2)
    assert f'name="csrf" value="{handler.csrf}"' in form.group(2)  # type: ignore[attr-defined]
    assert "请重新选择" in page and 'type="file" name="files"' in r.text  # chosen again


def test_a_page_read_during_an_outage_says_to_wait(
        app: FastAPI, as_user: Callable[[str], TestClient], monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path) -> None:
    operator = as_user("operator")
    _down(app, monkeypatch, tmp_path)
    for path in ("/console/queue", "/console/login"):  # a page, and a route of no page
        r = operator.get(path)
        assert r.status_code == 503, (path, r.text)
        assert r.headers["content-type"].startswith("text/html"), path
        assert "刷新本页" in r.text and "Retry-After" in r.headers


def test_the_api_keeps_its_json(app: FastAPI, city: City, monkeypatch: pytest.MonkeyPatch,
                                tmp_path: Path) -> None:
    _down(app, monkeypatch, tmp_path)
    client = TestClient(app)
    r = client.get("/api/v1/tickets",
                   headers={"Authorization": f"Bearer {city.tokens['operator']}"})
    assert r.status_code == 503
    assert r.json()["error"] == "database_unavailable"


def test_words_over_the_databases_limits_come_back_to_be_shortened(
        app: FastAPI, as_user: Callable[[str], TestClient],
        monkeypatch: pytest.MonkeyPatch) -> None:
    # PostgreSQL's ProgramLimitExceeded (an index row too long): a fault of the request,
    # not an outage; the page says so and keeps the words (before: the API's JSON 503).
    error = OperationalError("INSERT", {}, psycopg.errors.ProgramLimitExceeded(
        "index row size 3256 exceeds btree version 4 maximum 2704"))

    def sessions() -> None:
        raise error

    handler = as_user("water-handler")
    monkeypatch.setattr(app.state, "sessions", sessions)
    r = handler.post("/console/tickets/2612050001/reply", data={
        "csrf": handler.csrf, "text": REPLY, "outcome": "resolved"})  # type: ignore[attr-defined]
    assert r.status_code == 422 and r.headers["content-type"].startswith("text/html")
    assert "Retry-After" not in r.headers
    assert "内容过长" in r.text and REPLY in html.unescape(r.text)


def test_an_outage_met_by_a_console_form_is_logged_once(
        app: FastAPI, as_user: Callable[[str], TestClient], monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    # Before: the console's page answered the outage itself and nothing was logged; the
    # API's outages were, by hotline.app.
    handler = as_user("water-handler")
    _down(app, monkeypatch, tmp_path)
    with caplog.at_level(logging.WARNING, logger="hotline.app"):
        r = handler.post("/console/tickets/2612050001/reply", data={
            "csrf": handler.csrf, "text": REPLY,  # type: ignore[attr-defined]
            "outcome": "resolved"})
    assert r.status_code == 503 and REPLY in html.unescape(r.text)
    lines = [rec.getMessage() for rec in caplog.records if rec.name == "hotline.app"]
    assert len(lines) == 1, lines
    assert lines[0].startswith(
        "database unavailable: 503 to POST /console/tickets/2612050001/reply")


def _fails_after_commit(app: FastAPI, monkeypatch: pytest.MonkeyPatch,
                        error: Exception) -> None:
    """Each session the app opens works until its commit; every statement after it fails
    with ``error``: the database gone between the commit and the answer."""
    real = app.state.sessions

    def sessions() -> Session:
        session: Session = real()
        committed: list[bool] = []
        event.listen(session, "after_commit", lambda _: committed.append(True))

        def execute(_: ORMExecuteState) -> None:
            if committed:
                raise error

        event.listen(session, "do_orm_execute", execute)
        return session

    monkeypatch.setattr(app.state, "sessions", sessions)


def _saved_not_unsaved(r: Response) -> None:
    assert r.status_code == 303, r.text
    assert "尚未保存" not in r.text and "重新提交" not in r.text


def test_an_action_saved_before_the_database_fails_is_not_offered_again(
        app: FastAPI, as_user: Callable[[str], TestClient], monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path, sessions: sessionmaker[Session], domain: Domain) -> None:
    # Before: the scope check after the commit met the outage, and the page said 尚未保存
    # under 重新提交 for a 签收 already saved: sent again, done twice (or refused).
    number = make_ticket(sessions, domain)
    handler = as_user("water-handler")
    _fails_after_commit(app, monkeypatch, sqlite_errors.wrapped(sqlite_errors.read_only(
        tmp_path)))
    r = handler.post(f"/console/tickets/{number}/sign",
                     data={"csrf": handler.csrf})  # type: ignore[attr-defined]
    _saved_not_unsaved(r)
    assert r.headers["location"] == f"/console/tickets/{number}?done=sign"
    with sessions() as s:
        assert s.scalars(select(Ticket.status).where(Ticket.number == number)).one() \
            == "signed"


def test_a_ticket_filed_before_the_database_fails_is_not_offered_again(
        app: FastAPI, as_user: Callable[[str], TestClient], monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path, sessions: sessionmaker[Session]) -> None:
    # The intake form's scope check, the same shape: a district supervisor's ticket that
    # went to the water company lands on the queue, filed, not on an outage page.
    who = as_user("cy-supervisor")
    token = re.search(r'name="form_token" value="([^"]+)"', who.get("/console/intake").text)
    assert token
    _fails_after_commit(app, monkeypatch, sqlite_errors.wrapped(sqlite_errors.read_only(
        tmp_path)))
    r = who.post("/console/intake", data={
        "csrf": who.csrf, "form_token": token.group(1),  # type: ignore[attr-defined]
        "caller_phone": "13811112222", "demand": "朝阳区望京西园三区5号楼停水了，一直没来水"})
    _saved_not_unsaved(r)
    with sessions() as s:
        number = s.scalars(select(Ticket.number)).one()
    assert r.headers["location"] == f"/console/queue?done=create&number={number}"
