"""The citizen's side of a ticket (ticketing/citizen.py) on SQLite and PostgreSQL: the one
shortening rule, the status token, 保密/不要回访 choices, follow-ups and 补充信息 (service
and API)."""

from __future__ import annotations

import threading

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from config import Settings
from hotline.app import create_app
from tests.support.city import City
from ticketing import citizen, service
from ticketing.context import Domain
from ticketing.inputs import InvalidInput
from ticketing.models import Ticket, TicketEvent

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
            citizen.request_info(session=s, domain=domain, ticket=t, actor=operator,
                                 question="还要什么")


def _requests(sessions: sessionmaker[Session], number: str) -> list[str | None]:
    with sessions() as s:
        return list(s.scalars(select(TicketEvent.note).join(Ticket).where(
            Ticket.number == number, TicketEvent.action == "request_info")
            .order_by(TicketEvent.id)))


def test_request_info_again_is_the_same_request_and_one_at_a_time(
        settings: Settings, sessions: sessionmaker[Session], domain: Domain,
        city: City) -> None:
    """A double click or a client's retry asks once (one audit event, so one SMS); a
    different question while the citizen has not answered is refused with 409 until they
    answer (or the ticket moves on)."""
    number = _ticket(sessions, domain, city)
    client = TestClient(create_app(settings))

    def ask(question: str) -> object:
        return client.post(f"/api/v1/tickets/{number}/request_info",
                           json={"reason": question},
                           headers={"Authorization": f"Bearer {city.tokens['water-handler']}"})

    first = ask("请提供具体的楼门号")
    again = ask("请提供具体的楼门号")
    assert first.status_code == again.status_code == 200  # type: ignore[attr-defined]
    assert again.json() == first.json()  # type: ignore[attr-defined]  # that request
    other = ask("请提供停水开始的时间")
    assert other.status_code == 409  # type: ignore[attr-defined]
    body = other.json()  # type: ignore[attr-defined]
    assert body["error"] == "info_request_open" and body["pending"] == "请提供具体的楼门号"
    assert _requests(sessions, number) == ["请提供具体的楼门号"]
    # The citizen answers: the next question is a request of its own.
    op = city.actor("operator")  # before our session: SQLite has one writer
    with sessions() as s:
        t = service.get_ticket(session=s, actor=op, ref=number)
        citizen.follow_up(session=s, ticket=t, actor=op, text="3单元", via="sms",
                          at=domain.now())
        s.commit()
    assert ask("请提供停水开始的时间").status_code == 200  # type: ignore[attr-defined]
    # The ticket moves on (signed): a question of that step is new too.
    assert ask("还有哪些楼停水").status_code == 409  # type: ignore[attr-defined]
    handler = city.actor("water-handler")
    with sessions() as s:
        service.sign(session=s, domain=domain, ticket=service.get_ticket(
            session=s, actor=handler, ref=number), actor=handler)
        s.commit()
    assert ask("还有哪些楼停水").status_code == 200  # type: ignore[attr-defined]
    assert _requests(sessions, number) == ["请提供具体的楼门号", "请提供停水开始的时间",
                                           "还有哪些楼停水"]


def test_a_question_or_follow_up_that_shows_nothing_is_refused(
        sessions: sessionmaker[Session], domain: Domain, city: City) -> None:
    """review86: a question of zero-width characters and Hangul fillers (``strip`` keeps
    them) was texted to the citizen as a request saying nothing, and held off the real
    question (one at a time); a follow-up of them was recorded for the handler. Both are
    refused (``inputs.has_text``), nothing recorded; the real question is then asked."""
    number = _ticket(sessions, domain, city)
    handler = city.actor("water-handler")
    blank = "\u200b\u3164\u2800\ufe0f"
    with sessions() as s:
        t = service.get_ticket(session=s, actor=handler, ref=number)
        with pytest.raises(InvalidInput) as refused:
            citizen.request_info(session=s, domain=domain, ticket=t, actor=handler,
                                 question=blank)
        assert refused.value.field == "question"
        with pytest.raises(InvalidInput) as refused:
            citizen.follow_up(session=s, ticket=t, actor=handler, text=blank, via="sms",
                              at=domain.now())
        assert refused.value.field == "text"
        s.rollback()
        citizen.request_info(session=s, domain=domain, ticket=t, actor=handler,
                             question="请提供具体的楼门号")
        s.commit()
    assert _requests(sessions, number) == ["请提供具体的楼门号"]
    with sessions() as s:
        assert not s.scalars(select(TicketEvent.id).join(Ticket).where(
            Ticket.number == number, TicketEvent.action == "citizen_follow_up")).first()


@pytest.mark.parametrize("questions", [("请提供楼门号", "请提供楼门号"),
                                       ("请提供楼门号", "请提供停水时间")])
def test_two_request_info_at_once_record_one(
        sessions: sessionmaker[Session], domain: Domain, city: City, db_url: str,
        questions: tuple[str, str]) -> None:
    number = _ticket(sessions, domain, city)
    handler = city.actor("water-handler")
    # Only PostgreSQL lets two transactions read the same events and race to write.
    race = db_url.startswith("postgresql")
    both_read = threading.Barrier(2, timeout=20)
    outcomes: list[str] = []

    def ask(question: str) -> None:
        with sessions() as s:
            t = service.get_ticket(session=s, actor=handler, ref=number)
            if race:
                both_read.wait()
            try:
                citizen.request_info(session=s, domain=domain, ticket=t, actor=handler,
                                     question=question)
                s.commit()
                outcomes.append("ok")
            except citizen.InfoRequestOpen:
                s.rollback()
                outcomes.append("open")

    threads = [threading.Thread(target=ask, args=(q,)) for q in questions]
    for th in threads:
        th.start()
    for th in threads:
        th.join(30)
    assert len(_requests(sessions, number)) == 1
    same = questions[0] == questions[1]
    assert sorted(outcomes) == (["ok", "ok"] if same else ["ok", "open"])
