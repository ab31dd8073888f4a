"""The intake form files once: its one-time token makes a resend (a double click, the
browser posting again after a slow answer) show the ticket the first post filed
(ticketing.idempotency). And every role that may file gets its ticket, wherever it goes."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from ticketing.models import Ticket, TicketEvent

Users = Callable[[str], TestClient]
TOKEN = re.compile(r'name="form_token" value="([^"]*)"')
WATER = {"caller_phone": "13811112222", "category": "water",
         "demand": "朝阳区望京西园三区5号楼停水了，一直没来水"}


def form_token(html: str) -> str:
    m = TOKEN.search(html)
    assert m and m.group(1), "the intake form has no one-time token"
    return m.group(1)


def counts(sessions: sessionmaker[Session]) -> tuple[int, int]:
    """(tickets, dispatch events)."""
    with sessions() as s:
        return (s.scalar(select(func.count()).select_from(Ticket)) or 0,
                s.scalar(select(func.count()).select_from(TicketEvent)
                         .where(TicketEvent.action == "dispatch")) or 0)


def test_the_same_form_posted_twice_files_one_ticket_and_shows_it(
        as_user: Users, sessions: sessionmaker[Session]) -> None:
    op = as_user("operator")
    token = form_token(op.get("/console/intake").text)
    form = {"csrf": op.csrf, "form_token": token, **WATER}
    first = op.post("/console/intake", data=form)
    assert first.status_code == 303, first.text
    assert counts(sessions) == (1, 1)
    again = op.post("/console/intake", data=form)
    assert again.status_code == 303, again.text
    assert again.headers["location"] == first.headers["location"]  # the first ticket
    assert counts(sessions) == (1, 1)  # one ticket, one dispatch
    with sessions() as s:
        number = s.scalars(select(Ticket.number)).one()
    assert number in first.headers["location"]
    # A new form is a new complaint, even in the same words.
    fresh = form_token(op.get("/console/intake").text)
    assert fresh != token
    assert op.post("/console/intake", data={**form, "form_token": fresh}).status_code == 303
    assert counts(sessions) == (2, 2)


def test_a_filed_form_changed_and_sent_again_files_nothing_and_gets_a_new_token(
        as_user: Users, sessions: sessionmaker[Session]) -> None:
    op = as_user("operator")
    form = {"csrf": op.csrf, "form_token": form_token(op.get("/console/intake").text), **WATER}
    assert op.post("/console/intake", data=form).status_code == 303
    changed = op.post("/console/intake", data={**form, "demand": "海淀区中关村大街井盖丢了"})
    assert changed.status_code == 422 and "这张受理单已经提交过" in changed.text
    assert "海淀区中关村大街井盖丢了</textarea>" in changed.text  # nothing typed is lost
    assert counts(sessions) == (1, 1)
    renewed = form_token(changed.text)
    assert renewed != form["form_token"]
    r = op.post("/console/intake", data={**form, "form_token": renewed,
                                         "demand": "海淀区中关村大街井盖丢了"})
    assert r.status_code == 303 and counts(sessions)[0] == 2


def test_a_refused_form_keeps_its_token_and_files_once_when_corrected(
        as_user: Users, sessions: sessionmaker[Session]) -> None:
    op = as_user("operator")
    token = form_token(op.get("/console/intake").text)
    bad = op.post("/console/intake", data={"csrf": op.csrf, "form_token": token,
                                           **WATER, "caller_phone": "12"})
    assert bad.status_code == 422 and "来电号码格式不正确" in bad.text
    assert form_token(bad.text) == token and counts(sessions) == (0, 0)
    fixed = {"csrf": op.csrf, "form_token": token, **WATER}
    assert op.post("/console/intake", data=fixed).status_code == 303
    assert op.post("/console/intake", data=fixed).status_code == 303
    assert counts(sessions) == (1, 1)


def test_csrf_still_guards_the_form_and_a_made_up_token_is_refused(
        as_user: Users, sessions: sessionmaker[Session]) -> None:
    op = as_user("operator")
    token = form_token(op.get("/console/intake").text)
    forged = op.post("/console/intake", data={"csrf": "forged", "form_token": token, **WATER})
    assert forged.status_code == 403 and counts(sessions) == (0, 0)
    odd = op.post("/console/intake", data={"csrf": op.csrf, "form_token": "x y", **WATER})
    assert odd.status_code == 422 and "受理单已失效" in odd.text
    assert counts(sessions) == (0, 0)
    # The token, refused, is not the page's: the page's own files.
    assert op.post("/console/intake", data={"csrf": op.csrf, **WATER,
                                             "form_token": form_token(odd.text)}
                   ).status_code == 303


def test_the_answer_button_of_a_form_sent_twice_answers_once(
        as_user: Users, sessions: sessionmaker[Session], faq: None) -> None:
    op = as_user("operator")
    form = {"csrf": op.csrf, "form_token": form_token(op.get("/console/intake").text),
            "entry_id": "kb012", "caller_phone": "13800002222",
            "demand": "请问办个体户的营业执照要去哪里办"}
    first = op.post("/console/intake/answer", data=form)
    assert first.status_code == 303, first.text
    again = op.post("/console/intake/answer", data=form)
    assert again.headers["location"] == first.headers["location"]
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(Ticket)) == 1
    # The form, answered, is no longer the one to file a ticket with.
    r = op.post("/console/intake", data={k: v for k, v in form.items() if k != "entry_id"})
    assert r.status_code == 422
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(Ticket)) == 1


@pytest.mark.parametrize(("user", "lands_on"), [
    ("operator", "/console/tickets/{number}?done=create"),
    ("supervisor", "/console/tickets/{number}?done=create"),
    # The water company is not in a district supervisor's scope: the queue, with the number.
    ("cy-supervisor", "/console/queue?done=create&number={number}"),
])
def test_every_filing_role_files_through_the_form(
        as_user: Users, sessions: sessionmaker[Session], user: str, lands_on: str) -> None:
    who = as_user(user)
    r = who.post("/console/intake", data={
        "csrf": who.csrf, "form_token": form_token(who.get("/console/intake").text), **WATER})
    assert r.status_code == 303, r.text
    with sessions() as s:
        t = s.scalars(select(Ticket)).one()
        assert t.status == "dispatched" and t.unit.code == "bj-water" and t.due_at
        number = t.number
    assert r.headers["location"] == lands_on.format(number=number)
    assert number in who.get(r.headers["location"]).text
