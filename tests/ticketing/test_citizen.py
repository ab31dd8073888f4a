"""The citizen's side of a ticket (ticketing/citizen.py) on SQLite and PostgreSQL: the one
shortening rule, the status token, 保密/不要回访 choices, follow-ups and 补充信息 (service
and API)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from config import Settings
from hotline.app import create_app
from tests.support.city import City
from ticketing import citizen, service
from ticketing.context import Domain
from ticketing.inputs import InvalidInput
from ticketing.models import Ticket

WATER = "朝阳区望京西园三区5号楼停水了，一直没来水"
CALLER = "13811112222"


def _ticket(sessions: sessionmaker[Session], domain: Domain, city: City, **kw: object) -> str:
    op = city.actor("operator")
    with sessions() as s:
        t = service.create_ticket(session=s, domain=domain, actor=op, channel="api",
                                  caller_phone=CALLER, demand=WATER, **kw)
        service.accept(session=s, domain=domain, ticket=t, actor=op)
        s.commit()
        return t.number


def test_shorten() -> None:
    assert citizen.shorten("  已修复，\n恢复供水 ", 20) == "已修复， 恢复供水"
    two = "已抢修完毕。恢复供水。请注意用水安全并及时反馈。"
    assert citizen.shorten(two, 14) == "已抢修完毕。恢复供水。"  # whole sentences that fit
    assert citizen.shorten("一二三四五六七八九十", 6) == "一二三四五…"
    assert len(citizen.shorten("长" * 500, 40)) == 40
    assert citizen.shorten(None, 10) == ""


def test_status_token_is_random_stable_and_not_the_number(
        sessions: sessionmaker[Session], domain: Domain, city: City) -> None:
    a, b = _ticket(sessions, domain, city), _ticket(sessions, domain, city)
    with sessions() as s:
        ta = s.query(Ticket).filter_by(number=a).one()
        tb = s.query(Ticket).filter_by(number=b).one()
        assert ta.status_token is None  # made on first use
        token = citizen.status_token(session=s, ticket=ta)
        assert citizen.status_token(session=s, ticket=ta) == token
        assert citizen.status_token(session=s, ticket=tb) != token
        s.commit()
        assert len(token) >= 22 and a not in token
        assert citizen.by_status_token(session=s, token=token) is ta
        for junk in (a, "", "x" * 65, "../" + token, token + "'"):
            assert citizen.by_status_token(session=s, token=junk) is None


def test_preferences_are_switched_on_once_and_audited(
        sessions: sessionmaker[Session], domain: Domain, city: City) -> None:
    number = _ticket(sessions, domain, city)
    op = city.actor("operator")
    with sessions() as s:
        t = service.get_ticket(session=s, actor=op, ref=number)
        assert citizen.set_preferences(session=s, ticket=t, actor=op, confidential=True,
                                       no_contact=True, via="test")
        assert not citizen.set_preferences(session=s, ticket=t, actor=op, no_contact=True,
                                           via="test")
        assert not citizen.set_preferences(session=s, ticket=t, actor=op, confidential=False,
                                           via="test")  # never switched off here
        s.commit()
        assert t.confidential and t.no_contact
        evs = [e for e in service.events_of(session=s, ticket=t)
               if e.action == "citizen_preferences"]
        assert [(e.note, e.data) for e in evs] == [
            ("市民要求身份保密、不要回访", {"confidential": True, "no_contact": True,
                                           "via": "test"})]


def test_request_info_by_api(settings: Settings, sessions: sessionmaker[Session],
                             domain: Domain, city: City) -> None:
    number = _ticket(sessions, domain, city)  # dispatched to bj-water
    client = TestClient(create_app(settings))

    def ask(user: str, question: str) -> object:
        return client.post(f"/api/v1/tickets/{number}/request_info",
                           json={"reason": question},
                           headers={"Authorization": f"Bearer {city.tokens[user]}"})

    resp = ask("water-handler", "请提供具体的楼门号")
    assert resp.status_code == 200, resp.text  # type: ignore[attr-defined]
    body = resp.json()  # type: ignore[attr-defined]
    assert body["action"] == "request_info" and body["note"] == "请提供具体的楼门号"
    assert ask("power-handler", "别的单位").status_code == 404  # type: ignore[attr-defined]
    with sessions() as s:
        t = service.get_ticket(session=s, actor=city.actor("operator"), ref=number)
        assert t.status == "dispatched"  # stays where it was
    # Not on a finished ticket.
    handler, operator = city.actor("water-handler"), city.actor("operator")
    with sessions() as s:
        t = service.get_ticket(session=s, actor=handler, ref=number)
        service.sign(session=s, domain=domain, ticket=t, actor=handler)
        service.reply(session=s, domain=domain, ticket=t, actor=handler, text="已修复",
                      outcome="resolved")
        service.close(session=s, domain=domain, ticket=t, actor=operator)
        s.commit()
        with pytest.raises(InvalidInput):
            citizen.request_info(session=s, ticket=t, actor=operator, question="还要什么")
