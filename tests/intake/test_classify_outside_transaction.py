"""Every intake path classifies the words before it opens a transaction: the classifier is
pure CPU, and while it ran inside one, SQLite's write lock (BEGIN IMMEDIATE) or PostgreSQL's
day-counter row made every other creator wait for it.

The classifier really runs (``Domain.understand`` is wrapped, not replaced); the wrapper
notes how many database connections were checked out of any pool at that moment. A
transaction needs a connection, so 0 means no transaction of the request was open.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, select
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import Pool

from config import Settings
from hotline.app import create_app
from hotline.wiring import WARM_UP_TEXT
from ivr.callrecords import CallOutcome
from ivr.intake import CallIntake, Spool, recover_spool
from tests.console.conftest import log_in
from tests.support.city import City
from ticketing.context import Domain
from ticketing.models import Ticket
from ticketing.states import Status

WATER = "朝阳区望京西园三区5号楼停水了，一直没来水"
QUESTION = "想问下失业金在哪里申请"  # answered by kb026 of the shared sample


class Classified:
    """(text, connections checked out) for each classification, in order."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []
        self.checked_out: set[int] = set()

    def texts(self) -> list[str]:
        return [text for text, _ in self.calls]

    def inside_a_transaction(self) -> list[str]:
        return [text for text, held in self.calls if held]


@pytest.fixture
def classified(monkeypatch: pytest.MonkeyPatch) -> Iterator[Classified]:
    seen = Classified()

    def checkout(dbapi_conn: Any, _record: Any, _proxy: Any) -> None:
        seen.checked_out.add(id(dbapi_conn))

    def checkin(dbapi_conn: Any, _record: Any) -> None:
        seen.checked_out.discard(id(dbapi_conn))

    event.listen(Pool, "checkout", checkout)
    event.listen(Pool, "checkin", checkin)
    real = Domain.understand

    def understand(self: Domain, text: str) -> Any:
        # Start-up's warm-up classifies its own made-up complaint on a thread of its own,
        # racing the requests; it is no intake path (test_classifier_warm_up covers it).
        if text != WARM_UP_TEXT:
            seen.calls.append((text, len(seen.checked_out)))
        return real(self, text)

    monkeypatch.setattr(Domain, "understand", understand)
    try:
        yield seen
    finally:
        event.remove(Pool, "checkout", checkout)
        event.remove(Pool, "checkin", checkin)



def _ticket(sessions: sessionmaker[Session], number: str) -> Ticket:
    with sessions() as s:
        return s.scalars(select(Ticket).where(Ticket.number == number)).one()


def test_api_classifies_before_the_transaction(settings: Settings, city: City,
                                               classified: Classified) -> None:
    with TestClient(create_app(settings)) as client:
        r = client.post("/api/v1/tickets", json={"caller_phone": "13811112222", "demand": WATER},
                        headers={"Authorization": f"Bearer {city.tokens['operator']}"})
    assert r.status_code == 201, r.text
    assert r.json()["category"] == "water"
    assert classified.texts() == [WATER]
    assert classified.inside_a_transaction() == []


def test_console_intake_classifies_before_the_transaction(
        settings: Settings, city: City, sessions: sessionmaker[Session],
        classified: Classified) -> None:
    op = log_in(create_app(settings), city, "operator")
    r = op.post("/console/intake", data={"csrf": op.csrf, "caller_phone": "13811112222",
                                         "demand": f"  {WATER} "})
    assert r.status_code == 303, r.text
    [number] = re.findall(r"\d{10}", r.headers["location"])
    assert _ticket(sessions, number).category == "water"
    assert classified.texts() == [WATER]
    assert classified.inside_a_transaction() == []


def test_console_refuses_bad_words_in_its_form_as_before(
        settings: Settings, city: City, classified: Classified) -> None:
    # Classified early, a control character must still be refused by create_ticket inside
    # the form's error handling (422 page with the form), not escape as a server error.
    op = log_in(create_app(settings), city, "operator")
    r = op.post("/console/intake", data={"csrf": op.csrf, "caller_phone": "13811112222",
                                         "demand": "停水\x00了"})
    assert r.status_code == 422
    assert "停水" in r.text  # the form comes back with what was typed


def test_console_and_api_answers_classify_before_the_transaction(
        settings: Settings, city: City, faq: None, sessions: sessionmaker[Session],
        classified: Classified) -> None:
    app = create_app(settings)
    op = log_in(app, city, "operator")
    r = op.post("/console/intake/answer", data={"csrf": op.csrf, "entry_id": "kb026",
                                                "caller_phone": "13811112222",
                                                "demand": QUESTION})
    assert r.status_code == 303, r.text
    with TestClient(app) as client:
        r = client.post("/api/v1/kb/answers", json={
            "entry_id": "kb026", "channel": "phone", "caller_phone": "13811112222",
            "demand": QUESTION}, headers={"Authorization": f"Bearer {city.tokens['operator']}"})
    assert r.status_code == 201, r.text
    assert classified.texts() == [QUESTION, QUESTION]
    assert classified.inside_a_transaction() == []


def test_ivr_files_mid_call_and_at_the_end_outside_the_transaction(
        sessions: sessionmaker[Session], domain: Domain, city: City, tmp_path: Path,
        classified: Classified) -> None:
    spool = Spool(tmp_path / "spool")
    mid = CallIntake(sessions=sessions, domain=domain, spool=spool, call_id="mid",
                     caller="13811112222")
    mid.answered()
    mid.understood(WATER)
    filed = mid.file_ticket()
    assert filed is not None and filed.category == "water"
    assert mid.end() is True  # finds the ticket filed mid-call: nothing to classify again
    late = CallIntake(sessions=sessions, domain=domain, spool=spool, call_id="late",
                      caller="13811113333")
    late.answered()
    late.understood(WATER)
    assert late.end() is True  # filed when the call ends
    callback = CallIntake(sessions=sessions, domain=domain, spool=spool, call_id="cb",
                          caller="13811114444")
    callback.file_ticket(CallOutcome.CALLBACK_REQUEST)
    # The callback request's fixed sentence is the service's, not the caller's: not classified.
    assert classified.texts() == [WATER, WATER]
    assert classified.inside_a_transaction() == []
    with sessions() as s:
        tickets = {t.call_id: t for t in s.scalars(select(Ticket))}
    assert tickets["late"].category == "water" and tickets["mid"].number == filed.number


def test_ivr_answer_and_recovered_call_classify_outside_the_transaction(
        sessions: sessionmaker[Session], domain: Domain, city: City, faq: None,
        tmp_path: Path, classified: Classified) -> None:
    spool = Spool(tmp_path / "spool")
    asked = CallIntake(sessions=sessions, domain=domain, spool=spool, call_id="kb",
                       caller="13811112222")
    asked.understood(QUESTION)
    asked.answered_from("kb026")
    filed = asked.file_ticket()
    assert filed is not None and asked.end() is True
    left = CallIntake(sessions=sessions, domain=domain, spool=spool, call_id="crash",
                      caller="13811113333")
    left.understood(WATER)  # the process dies here: the spool keeps the call
    assert recover_spool(sessions=sessions, domain=domain, spool=spool,
                         stale_after_seconds=0) == ["crash"]
    assert classified.texts() == [QUESTION, WATER]
    assert classified.inside_a_transaction() == []
    with sessions() as s:
        recovered = s.scalars(select(Ticket).where(Ticket.call_id == "crash")).one()
        answered = s.scalars(select(Ticket).where(Ticket.call_id == "kb")).one()
    assert recovered.category == "water"
    assert answered.status == Status.CLOSED.value
