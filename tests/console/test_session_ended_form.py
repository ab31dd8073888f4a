"""A form sent after its console session ended elsewhere (logged out in another browser,
the token rotated): the words typed come back after the login, in the login page's body
(never the URL, never a log), to be sent again by the one who typed them. Before, the POST
was redirected to the login page and the reply was lost."""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Callable

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.console.conftest import csrf_of, log_in
from tests.console.seed import make_ticket
from tests.support.city import City
from ticketing.context import Domain
from ticketing.models import Ticket, TicketEvent

REPLY = "已联系物业更换阀门，今晚八点前恢复供水（已电话告知张先生）"


def _ended_elsewhere(app: FastAPI, city: City, username: str) -> None:
    other = log_in(app, city, username)
    assert other.post("/console/logout",
                      data={"csrf": other.csrf}).status_code == 303  # type: ignore[attr-defined]


def _kept_field(page: str) -> str:
    m = re.search(r'name="kept" value="([^"]*)"', page)
    assert m, "the login page carries no kept form"
    return html.unescape(m.group(1))


def test_a_reply_typed_while_the_session_ended_elsewhere_is_sent_after_login(
        app: FastAPI, city: City, as_user: Callable[[str], TestClient], sessions,
        rules_domain: Domain, caplog: pytest.LogCaptureFixture) -> None:
    n = make_ticket(sessions, rules_domain)
    h = as_user("water-handler")
    assert h.post(f"/console/tickets/{n}/sign",
                  data={"csrf": h.csrf}).status_code == 303  # type: ignore[attr-defined]
    _ended_elsewhere(app, city, "water-handler")
    with caplog.at_level(logging.DEBUG):
        r = h.post(f"/console/tickets/{n}/reply", data={
            "csrf": h.csrf, "text": REPLY, "outcome": "resolved"})  # type: ignore[attr-defined]
    # Before: 303 to /console/login and the reply gone.
    assert r.status_code == 401 and "location" not in r.headers
    assert "尚未保存" in r.text and REPLY in _kept_field(r.text)
    assert not [x for x in caplog.records if REPLY in x.getMessage()]
    login = h.post("/console/login", data={
        "username": "water-handler", "token": city.tokens["water-handler"],
        "csrf": csrf_of(r.text), "kept": _kept_field(r.text)})
    assert login.status_code == 200, login.text
    form = re.search(r'<form method="post" action="([^"]+)"(.*?)</form>', login.text, re.S)
    assert form and form.group(1) == f"/console/tickets/{n}/reply"
    fresh = csrf_of(form.group(2))
    assert fresh != h.csrf  # type: ignore[attr-defined]  # the new session's token
    assert REPLY in html.unescape(form.group(2))
    assert 'type="file" name="files"' in form.group(2)  # files are chosen again
    sent = h.post(form.group(1), data={"csrf": fresh, "text": REPLY, "outcome": "resolved"})
    assert sent.status_code == 303
    with sessions() as s:
        t = s.scalars(select(Ticket).where(Ticket.number == n)).one()
        replies = s.scalars(select(TicketEvent).where(TicketEvent.ticket_id == t.id,
                                                      TicketEvent.action == "reply")).all()
        assert t.status == "replied" and len(replies) == 1


def test_the_kept_words_go_to_no_one_else_and_a_forged_form_keeps_nothing(
        app: FastAPI, city: City, as_user: Callable[[str], TestClient], sessions,
        rules_domain: Domain) -> None:
    n = make_ticket(sessions, rules_domain)
    h = as_user("water-handler")
    _ended_elsewhere(app, city, "water-handler")
    r = h.post(f"/console/tickets/{n}/reply", data={
        "csrf": h.csrf, "text": REPLY, "outcome": "resolved"})  # type: ignore[attr-defined]
    # Another user logging in at that browser is not shown them.
    other = h.post("/console/login", data={
        "username": "operator", "token": city.tokens["operator"], "csrf": csrf_of(r.text),
        "kept": _kept_field(r.text)})
    assert other.status_code == 303 and REPLY not in other.text
    # A form another site made (no token of our page) is the plain redirect, nothing kept.
    stranger = TestClient(app, follow_redirects=False)
    forged = stranger.post(f"/console/tickets/{n}/reply", data={"csrf": "x", "text": REPLY})
    assert forged.status_code == 303 and forged.headers["location"] == "/console/login"
