"""Who may file a ticket (``states.FILING_ROLES``: who may 受理), and that its filer gets
it back whatever unit it goes to: a supervisor's complaint for another unit met a 404
halfway through filing, and the ticket rolled back with its number."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker

from tests.support.api import auth
from tests.support.city import City
from ticketing import idempotency, service
from ticketing.actors import Actor
from ticketing.context import Domain
from ticketing.models import Ticket, TicketEvent, TicketSequence
from ticketing.states import PermissionDenied, Role

URL = "/api/v1/tickets"
WATER = {"caller_phone": "13811112222", "demand": "朝阳区望京西园三区5号楼停水了，一直没来水",
         "category": "water"}


def counts(sessions: sessionmaker[Session]) -> tuple[int, int, int]:
    """(tickets, dispatch events, ticket numbers handed out)."""
    with sessions() as s:
        return (s.scalar(select(func.count()).select_from(Ticket)) or 0,
                s.scalar(select(func.count()).select_from(TicketEvent)
                         .where(TicketEvent.action == "dispatch")) or 0,
                numbers_handed_out(s))


def numbers_handed_out(s: Session) -> int:
    """SQLite: the day counters' sum; PostgreSQL: the numbers' sequence (migration 0026)."""
    if s.get_bind().dialect.name == "postgresql":
        return s.execute(text("SELECT CASE WHEN is_called THEN last_value ELSE 0 END"
                              " FROM ticket_numbers")).scalar_one()
    return s.scalar(select(func.coalesce(func.sum(TicketSequence.last), 0))) or 0


# (user, whether the water company's tickets are in their scope)
FILERS = [("operator", True), ("admin", True), ("supervisor", True), ("cy-supervisor", False)]


@pytest.mark.parametrize(("user", "in_scope"), FILERS)
def test_every_filing_role_gets_its_ticket_back_wherever_it_went(
        client: TestClient, city: City, sessions: sessionmaker[Session], user: str,
        in_scope: bool) -> None:
    before = counts(sessions)
    r = client.post(URL, json=WATER, headers=auth(city, user))
    assert r.status_code == 201, r.text
    got = r.json()
    assert got["status"] == "dispatched" and got["unit"] == "bj-water"
    assert got["number"] and got["due_at"] and got["sign_due_at"]
    assert counts(sessions) == (before[0] + 1, before[1] + 1, before[2] + 1)  # committed
    with sessions() as s:
        stored = s.scalars(select(Ticket).where(Ticket.number == got["number"])).one()
        assert stored.status == "dispatched" and stored.unit.code == "bj-water"
    seen = client.get(f"{URL}/{got['number']}", headers=auth(city, user))
    if in_scope:
        assert seen.status_code == 200
        assert got == seen.json()  # the whole ticket, as reading it shows it
        assert got["handler"] == "water-handler" and got["events"]
    else:
        # The receipt: filing does not widen the filer's scope, now or on a retry.
        assert seen.status_code == 404
        assert got["handler"] is None and got["events"] is None
        assert got["caller_phone"] == "138****2222"  # masked for supervisors, as ever


def test_a_receipt_is_what_a_retry_with_the_key_answers_too(
        client: TestClient, city: City, sessions: sessionmaker[Session]) -> None:
    headers = {**auth(city, "cy-supervisor"), idempotency.HEADER: "sup-filed-1"}
    first = client.post(URL, json=WATER, headers=headers)
    assert first.status_code == 201, first.text
    after_first = counts(sessions)
    with sessions() as s:  # the water company signs and answers meanwhile
        ticket = s.scalars(select(Ticket).where(Ticket.number == first.json()["number"])).one()
        ticket.reply_text = "已恢复供水"
        s.commit()
    again = client.post(URL, json=WATER, headers=headers)
    assert again.status_code == 201, again.text
    assert again.json()["number"] == first.json()["number"]
    assert again.json()["reply_text"] is None and again.json()["handler"] is None
    assert counts(sessions) == after_first


def test_a_supervisor_files_into_the_manual_queue_and_as_a_draft(
        client: TestClient, city: City) -> None:
    h = auth(city, "cy-supervisor")
    # No rule for this place and category: accepted, in the hotline's manual queue.
    queued = client.post(URL, json={"caller_phone": "13811112222", "category": "other",
                                    "demand": "想咨询一下外地户口办理居住证需要什么材料"},
                         headers=h)
    assert queued.status_code == 201, queued.text
    assert queued.json()["status"] == "accepted" and queued.json()["unit"] is None
    assert queued.json()["due_at"]
    draft = client.post(URL, json={**WATER, "accept": False}, headers=h)
    assert draft.status_code == 201, draft.text
    assert draft.json()["status"] == "draft"


@pytest.mark.parametrize("user", ["cy-handler", "water-handler"])
def test_a_handler_may_not_file_and_nothing_is_written(
        client: TestClient, city: City, sessions: sessionmaker[Session], user: str) -> None:
    before = counts(sessions)
    r = client.post(URL, json=WATER, headers=auth(city, user))
    assert r.status_code == 403 and r.json()["error"] == "forbidden"
    assert counts(sessions) == before  # no ticket, and no number burnt


@pytest.mark.parametrize("role", [Role.HANDLER, Role.KB_EDITOR])
def test_the_service_refuses_a_role_that_may_not_file_before_writing(
        domain: Domain, city: City, sessions: sessionmaker[Session], role: Role) -> None:
    """The rule holds in the service, for every way in (API, console, knowledge base)."""
    before = counts(sessions)
    actor = Actor(id=city.user_id("cy-handler"), name="x", role=role,
                  unit_id=city.unit_id("cy"), unit_path=None)
    with sessions() as s:
        with pytest.raises(PermissionDenied):
            service.create_ticket(session=s, domain=domain, actor=actor, channel="api",
                                  caller_phone="13811112222", demand=WATER["demand"])
        s.commit()
    assert counts(sessions) == before


def test_the_filers_reach_ends_with_the_transaction(
        domain: Domain, city: City, sessions: sessionmaker[Session]) -> None:
    """Filing lets its filer take the ticket through intake, in that transaction only."""
    sup = city.actor("cy-supervisor")
    with sessions() as s:
        ticket = service.create_ticket(session=s, domain=domain, actor=sup, channel="api",
                                       caller_phone="13811112222", demand=WATER["demand"],
                                       category="water", accept_now=True)
        assert ticket.unit is not None and ticket.unit.code == "bj-water"
        s.commit()
        number = ticket.number
    with sessions() as s:
        with pytest.raises(service.NotFound):
            service.get_ticket(session=s, actor=sup, ref=number)
        ticket = s.scalars(select(Ticket).where(Ticket.number == number)).one()
        with pytest.raises(service.NotFound):
            service.close(session=s, domain=domain, ticket=ticket, actor=sup)


@pytest.mark.parametrize("user", ["supervisor", "cy-supervisor"])
def test_a_supervisor_answers_a_caller_from_the_knowledge_base(
        client: TestClient, city: City, faq: None, user: str) -> None:
    """直接答复 files a ticket too (closed at intake, no unit): its filer closes it."""
    r = client.post("/api/v1/kb/answers", headers=auth(city, user), json={
        "entry_id": "kb037", "caller_phone": "13811112222", "demand": "水费在哪儿交"})
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "closed" and r.json()["unit"] is None
    # Answered as POST /tickets answers a filer out of the ticket's scope: its receipt, not
    # the trail (knowledge.views builds the answer with ticketing.views.filed_answer).
    assert r.json()["events"] is None
