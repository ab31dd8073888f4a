"""One caller, one number; a withheld number is nobody's: the 多诉 link, the phone search,
the API and the directory on SQLite and PostgreSQL (the status lookup is in
tests/ivr/test_ticket_lookup.py, the survey and its daily cap in
tests/outbound/test_scheduling.py)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.support.city import City
from ticketing import citizen, directory, service
from ticketing.actors import Actor
from ticketing.context import Domain
from ticketing.models import Ticket
from ticketing.queries import Filters, contactable, ticket_page
from ticketing.states import Role

# No address in the words: only "the same caller" can link these (other callers are linked
# by the same stated address only), so a link proves the numbers were taken as one.
NO_WATER = "家里停水了，一直没来水，请尽快处理"
SPELLINGS = ("13811112222", "008613811112222", "86-138-1111-2222", "+86 138 1111 2222")


def _new(s: Session, domain: Domain, actor: Actor, phone: str | None, *,
         keyed: bool = False, demand: str = NO_WATER) -> Ticket:
    t = service.create_ticket(session=s, domain=domain, actor=actor, channel="api",
                              caller_phone=phone, caller_phone_keyed=keyed, demand=demand,
                              category="water", district="朝阳区")
    service.accept(session=s, domain=domain, ticket=t, actor=actor)
    return t


def test_every_spelling_is_one_caller_for_the_duplicate_link(
        sessions: sessionmaker[Session], domain: Domain, city: City) -> None:
    op = city.actor("operator")
    with sessions() as s:
        first, *again = [_new(s, domain, op, phone) for phone in SPELLINGS]
        stranger = _new(s, domain, op, "13811113333")
        s.commit()
        assert first.address is None and first.duplicate_of_id is None
        assert {t.caller_phone for t in (first, *again)} == {"+8613811112222"}
        assert [t.duplicate_of_id for t in again] == [first.id] * len(again)
        s.refresh(first)
        assert first.duplicate_count == len(again)
        assert stranger.duplicate_of_id is None  # another caller, no address: not linked


def test_a_withheld_number_links_nobody(sessions: sessionmaker[Session], domain: Domain,
                                        city: City) -> None:
    op = city.actor("operator")
    with sessions() as s:
        a, b = _new(s, domain, op, None), _new(s, domain, op, None)
        s.commit()
        assert a.caller_phone is None and b.caller_phone is None
        assert not a.caller_phone_keyed and a.duplicate_of_id is b.duplicate_of_id is None


def test_a_keyed_in_number_is_a_callback_number_not_an_identity(
        sessions: sessionmaker[Session], domain: Domain, city: City) -> None:
    """Anyone can key any number: a ticket whose number was keyed in is linked to nobody's
    tickets by that number, and nobody's are linked to it."""
    op = city.actor("operator")
    with sessions() as s:
        owner = _new(s, domain, op, "13811112222")
        keyed = _new(s, domain, op, "13811112222", keyed=True)
        after = _new(s, domain, op, "+8613811112222")
        s.commit()
        assert keyed.caller_phone == "+8613811112222" and keyed.caller_phone_keyed
        assert keyed.duplicate_of_id is None
        assert after.duplicate_of_id == owner.id
        s.refresh(owner)
        assert owner.duplicate_count == 1


def test_phone_search_finds_every_spelling(sessions: sessionmaker[Session], domain: Domain,
                                           city: City) -> None:
    op = city.actor("operator")
    with sessions() as s:
        number = _new(s, domain, op, "13811112222").number
        s.commit()
    with sessions() as s:
        for q in (*SPELLINGS, "2222", "11112222"):
            page = ticket_page(session=s, actor=op, filters=Filters(q=q), now=domain.now())
            assert [t.number for t in page.rows] == [number], q


def test_the_api_stores_e164_and_refuses_what_is_no_number(client: TestClient,
                                                           city: City) -> None:
    h = {"Authorization": f"Bearer {city.tokens['operator']}"}
    made = client.post("/api/v1/tickets", headers=h, json={
        "caller_phone": "0086 10 6512 3456", "demand": "朝阳区望京西园三区5号楼停水了"})
    assert made.status_code == 201, made.text
    body = made.json()
    assert body["caller_phone"] == "+861065123456"
    assert body["caller_phone_display"] == "010-6512 3456"
    assert not body["caller_phone_keyed"] and not body["caller_withheld"]
    for bad in ("anonymous", "1391234567", "000"):
        r = client.post("/api/v1/tickets", headers=h,
                        json={"caller_phone": bad, "demand": "路灯坏了"})
        assert r.status_code == 422 and r.json()["field"] == "caller_phone", bad


def test_the_api_takes_a_withheld_caller_as_no_number(client: TestClient, city: City,
                                                      sessions: sessionmaker[Session]) -> None:
    """No caller_phone (absent, null or blank) is a withheld number, as on the IVR: a
    ticket with no phone, which nobody calls, texts or surveys, links to nobody by number
    and no number's status lookup finds."""
    h = {"Authorization": f"Bearer {city.tokens['operator']}"}
    made = [client.post("/api/v1/tickets", headers=h, json={
        **phone, "demand": NO_WATER, "category": "water", "district": "朝阳区"})
        for phone in ({}, {"caller_phone": None}, {"caller_phone": "  "})]
    assert [r.status_code for r in made] == [201] * 3, [r.text for r in made]
    bodies = [r.json() for r in made]
    for body in bodies:
        assert body["caller_phone"] is None and body["caller_phone_display"] is None
        assert body["caller_withheld"] and not body["caller_phone_keyed"]
    # A number-identified caller's same complaint twice is linked (the test above); three
    # withheld callers' are three complaints.
    assert [b["duplicate_of"] for b in bodies] == [None] * 3
    ids = [b["id"] for b in bodies]
    with sessions() as s:
        tickets = s.scalars(select(Ticket).where(Ticket.id.in_(ids))).all()
        assert [t.duplicate_count for t in tickets] == [0] * 3
        # Nobody to call back, text or survey (queries.contactable: 回访, SMS, survey).
        reachable = s.scalars(select(Ticket.id).where(Ticket.id.in_(ids), contactable()))
        assert list(reachable) == []
        for sender in ("anonymous", "", "13811112222"):  # key 1 and SMS look up by number
            assert citizen.latest_open(session=s, phone=sender) is None, sender
            assert not citizen.known_sender(session=s, phone=sender), sender


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # subject: request validation
@pytest.mark.parametrize("bad", ["anonymous", "withheld", "1391234567", "000", "12",
                                 "+86 139 1234 567x"])
def test_a_caller_phone_that_is_no_number_is_refused_saying_how_to_withhold(
        client: TestClient, city: City, bad: str) -> None:
    h = {"Authorization": f"Bearer {city.tokens['operator']}"}
    r = client.post("/api/v1/tickets", headers=h, json={"caller_phone": bad, "demand": "路灯坏了"})
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["field"] == "caller_phone"
    assert "invalid phone number" in body["detail"] and "null" in body["detail"], body
    too_long = client.post("/api/v1/tickets", headers=h,
                           json={"caller_phone": "1" * 33, "demand": "路灯坏了"})
    assert too_long.status_code == 422 and too_long.json()["field"] == "caller_phone"


def test_directory_phones_are_stored_in_e164(sessions: sessionmaker[Session],
                                             city: City) -> None:
    with sessions() as s:
        unit = directory.add_unit(session=s, code="bj-test", name="测试单位",
                                  phone="010-6512 3456")
        user, _ = directory.add_user(session=s, username="zhang", display_name="张三",
                                     role=Role.HANDLER, unit_code="bj-test",
                                     phone="139-0000-0099")
        assert unit.phone == "+861065123456" and user.phone == "+8613900000099"
        with pytest.raises(ValueError, match="invalid phone"):
            directory.add_user(session=s, username="li", display_name="李四",
                               role=Role.HANDLER, unit_code="bj-test", phone="ext 12")
