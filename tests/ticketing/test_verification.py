"""核实 before 办结 with the SHIPPED settings: the handler replies with a structured answer,
an operator or supervisor closes it or sends it back with a reason; a handler never closes
their own ticket. On SQLite and PostgreSQL, through the service and the API."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from config import Settings
from hotline.app import create_app
from tests.support.city import City
from ticketing import citizen, merging, service
from ticketing.context import Domain
from ticketing.inputs import InvalidInput
from ticketing.states import PermissionDenied, ReasonRequired, Status

WATER = "朝阳区望京西园三区5号楼停水了，一直没来水"


def _signed(sessions: sessionmaker[Session], domain: Domain, city: City) -> str:
    op, handler = city.actor("operator"), city.actor("water-handler")
    with sessions() as s:
        t = service.create_ticket(session=s, domain=domain, actor=op, channel="api",
                                  caller_phone="13811112222", demand=WATER)
        service.accept(session=s, domain=domain, ticket=t, actor=op)
        service.sign(session=s, domain=domain, ticket=t, actor=handler)
        s.commit()
        return t.number


def test_reply_is_verified_or_sent_back(sessions: sessionmaker[Session], domain: Domain,
                                        city: City) -> None:
    assert Settings().verification.skip_categories == []  # shipped: every reply verified
    number = _signed(sessions, domain, city)
    handler, op, sup = (city.actor(u) for u in ("water-handler", "operator", "supervisor"))
    with sessions() as s:
        t = service.get_ticket(session=s, actor=handler, ref=number)
        with pytest.raises(InvalidInput):  # anything but resolved says why
            service.reply(session=s, domain=domain, ticket=t, actor=handler,
                          text="管道需整体更换", outcome="partly")
        with pytest.raises(InvalidInput):
            service.reply(session=s, domain=domain, ticket=t, actor=handler,
                          text="已修复", outcome="fixed")
        service.reply(session=s, domain=domain, ticket=t, actor=handler,
                      text="已修复", outcome="resolved")
        assert t.status == Status.REPLIED and t.reply_outcome == "resolved"
        with pytest.raises(PermissionDenied):  # a handler never closes their own ticket
            service.close(session=s, domain=domain, ticket=t, actor=handler)
        with pytest.raises(ReasonRequired):
            service.send_back(session=s, domain=domain, ticket=t, actor=op, reason=" ")
        service.send_back(session=s, domain=domain, ticket=t, actor=op,
                          reason="回访核实：仍未来水，反馈不属实")
        assert t.status == Status.SIGNED and t.replied_at is None
        service.reply(session=s, domain=domain, ticket=t, actor=handler,
                      text="主管道破裂，需停水施工三天", outcome="partly", reason="需整体更换管道")
        service.close(session=s, domain=domain, ticket=t, actor=sup, note="已电话核实")
        s.commit()
        assert t.status == Status.CLOSED
        assert (t.reply_outcome, t.reply_reason) == ("partly", "需整体更换管道")
        trail = [(e.action, e.actor_name, e.note)
                 for e in service.events_of(session=s, ticket=t)][-4:]
    assert [a for a, _, _ in trail] == ["reply", "send_back", "reply", "close"]
    assert trail[1][2] == "回访核实：仍未来水，反馈不属实" and trail[3][2] == "已电话核实"


def test_categories_that_skip_verification_close_on_reply(
    settings: Settings, sessions: sessionmaker[Session], city: City
) -> None:
    domain = Domain.load(settings.model_copy(update={
        "verification": settings.verification.model_copy(update={"skip_categories": ["water"]})}))
    number = _signed(sessions, domain, city)
    handler = city.actor("water-handler")
    with sessions() as s:
        t = service.get_ticket(session=s, actor=handler, ref=number)
        service.reply(session=s, domain=domain, ticket=t, actor=handler, text="已修复",
                      outcome="resolved")
        s.commit()
        assert t.status == Status.CLOSED and t.closed_at is not None
        close = service.events_of(session=s, ticket=t)[-1]
        assert (close.action, close.role) == ("close", "system")


@pytest.fixture
def client(settings: Settings, city: City) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as c:
        yield c


def test_api_verification(client: TestClient, sessions: sessionmaker[Session],
                          domain: Domain, city: City) -> None:
    number = _signed(sessions, domain, city)

    def post(user: str, action: str, **body: object):
        return client.post(f"/api/v1/tickets/{number}/{action}", json=body or None,
                           headers={"Authorization": f"Bearer {city.tokens[user]}"})

    assert post("water-handler", "reply", text="已修复").status_code == 422  # no outcome
    r = post("water-handler", "reply", text="无法解决", outcome="unresolvable",
             reason="属于产权单位自管管网")
    assert r.status_code == 200 and r.json()["reply_reason"] == "属于产权单位自管管网"
    assert post("water-handler", "close").status_code == 403
    assert post("water-handler", "send_back", reason="自己退回").status_code == 403
    assert post("operator", "send_back").status_code == 422
    r = post("operator", "send_back", reason="请联系产权单位后再反馈")
    assert r.status_code == 200 and r.json()["status"] == "signed"
    post("water-handler", "reply", text="已协调产权单位修复", outcome="resolved")
    r = post("supervisor", "close", note="核实无误")
    assert r.status_code == 200 and r.json()["status"] == "closed"


def test_exclusion_is_requested_by_the_handler_and_decided_by_a_supervisor(
    sessions: sessionmaker[Session], domain: Domain, city: City
) -> None:
    reasons = Settings().verification.exclusion_reasons
    assert {"无理诉求", "重复诉求", "非本市事项", "已进入司法程序"} <= set(reasons)
    number = _signed(sessions, domain, city)
    handler, sup = city.actor("water-handler"), city.actor("supervisor")
    with sessions() as s:
        t = service.get_ticket(session=s, actor=handler, ref=number)
        with pytest.raises(InvalidInput):  # only a reason from the configured list
            service.request_exclusion(session=s, domain=domain, ticket=t, actor=handler,
                                      reason="不想办", text="太麻烦")
        with pytest.raises(PermissionDenied):  # the handler asks; never decides
            service.exclude(session=s, domain=domain, ticket=t, actor=handler, reason="重复")
        service.request_exclusion(session=s, domain=domain, ticket=t, actor=handler,
                                  reason="重复诉求", text="与工单2612010001为同一诉求")
        assert t.status == Status.EXCLUSION_REQUESTED and t.exclusion_reason == "重复诉求"
        service.deny_exclusion(session=s, domain=domain, ticket=t, actor=sup,
                               reason="两处地址不同，不属重复")
        assert t.status == Status.SIGNED
        service.request_exclusion(session=s, domain=domain, ticket=t, actor=handler,
                                  reason="已进入司法程序", text="诉求人已就此起诉至法院")
        service.exclude(session=s, domain=domain, ticket=t, actor=sup,
                        reason="同意：已进入司法程序")
        s.commit()
        assert t.status == Status.EXCLUDED
        trail = [e.action for e in service.events_of(session=s, ticket=t)][-4:]
    assert trail == ["request_exclusion", "deny_exclusion", "request_exclusion", "exclude"]


def test_api_exclusion(client: TestClient, sessions: sessionmaker[Session], domain: Domain,
                       city: City) -> None:
    number = _signed(sessions, domain, city)

    def post(user: str, action: str, **body: object):
        return client.post(f"/api/v1/tickets/{number}/{action}", json=body,
                           headers={"Authorization": f"Bearer {city.tokens[user]}"})

    assert post("water-handler", "request_exclusion", reason="随便", text="x").status_code == 422
    r = post("water-handler", "request_exclusion", reason="非本市事项", text="事发地在河北省")
    assert r.status_code == 200 and r.json()["status"] == "excl_requested"
    assert post("water-handler", "exclude", reason="非本市").status_code == 403
    assert post("water-handler", "deny_exclusion", reason="x").status_code == 403
    r = post("supervisor", "exclude", reason="核实属实，同意剔除")
    assert r.status_code == 200 and r.json()["status"] == "excluded"


def test_a_denied_exclusion_request_stays_on_the_trail_not_on_the_ticket(
        client: TestClient, sessions: sessionmaker[Session], domain: Domain,
        city: City) -> None:
    """A 申请剔除 the centre denied kept its listed reason and words on the ticket
    (``exclusion_reason``, ``exclusion_text``), read by every reviewer as the ticket's
    exclusion reason while it was being handled, and by a later 剔除 of the centre's own,
    on other grounds, as if it had stood (mend90). The ticket's exclusion reason is the
    standing request's: pending, granted (剔除, then 归档) or waiting in a group; a denial,
    or a closure with its primary, takes it off the ticket; the trail keeps it."""
    number = _signed(sessions, domain, city)

    def post(user: str, action: str, **body: object) -> dict[str, object]:
        r = client.post(f"/api/v1/tickets/{number}/{action}", json=body,
                        headers={"Authorization": f"Bearer {city.tokens[user]}"})
        assert r.status_code == 200, r.text
        return r.json()

    asked = post("water-handler", "request_exclusion", reason="非本市事项", text="事发地在河北省")
    assert (asked["exclusion_reason"], asked["exclusion_text"]) == ("非本市事项", "事发地在河北省")
    denied = post("supervisor", "deny_exclusion", reason="事发地在朝阳区，属本市")
    assert denied["status"] == "signed"
    assert (denied["exclusion_reason"], denied["exclusion_text"]) == (None, None)
    trail = {e["action"]: e["note"] for e in denied["events"]}
    assert trail["request_exclusion"] == "非本市事项：事发地在河北省"
    assert trail["deny_exclusion"] == "事发地在朝阳区，属本市"
    # The centre's own 剔除 later, on other grounds: its words, not the denied request's.
    excluded = post("supervisor", "exclude", reason="诉求人反复来电辱骂，经研究不予受理")
    assert (excluded["exclusion_reason"], excluded["exclusion_text"]) == (
        None, "诉求人反复来电辱骂，经研究不予受理")
    with sessions() as s:
        t = service.get_ticket(session=s, actor=city.actor("supervisor"), ref=number)
        assert citizen.set_aside_reason(
            session=s, ticket=t, listed=domain.settings.verification.exclusion_reasons) is None


def test_a_granted_exclusion_request_stays_on_the_ticket(
        client: TestClient, sessions: sessionmaker[Session], domain: Domain,
        city: City) -> None:
    number = _signed(sessions, domain, city)
    handler, sup = city.actor("water-handler"), city.actor("supervisor")
    with sessions() as s:
        t = service.get_ticket(session=s, actor=handler, ref=number)
        service.request_exclusion(session=s, domain=domain, ticket=t, actor=handler,
                                  reason="已进入司法程序", text="诉求人已就此起诉至法院")
        service.exclude(session=s, domain=domain, ticket=t, actor=sup, reason="同意")
        service.archive(session=s, domain=domain, ticket=t, actor=sup, note="归档")
        s.commit()
        assert (t.exclusion_reason, t.exclusion_text) == ("已进入司法程序", "诉求人已就此起诉至法院")
        assert citizen.set_aside_reason(
            session=s, ticket=t,
            listed=domain.settings.verification.exclusion_reasons) == "已进入司法程序"


def test_the_centres_own_exclusion_grounds_are_on_the_ticket(
        client: TestClient, sessions: sessionmaker[Session], domain: Domain,
        city: City) -> None:
    """trial55: the centre's 剔除 reason was on the trail only; the ticket's
    ``exclusion_reason`` stayed empty (a 剔除 of its own) or the handler's request's
    (one the centre granted on other listed grounds). Read back on the API and the list."""
    direct, overruled = _signed(sessions, domain, city), _signed(sessions, domain, city)

    def post(number: str, user: str, action: str, **body: object) -> dict[str, object]:
        r = client.post(f"/api/v1/tickets/{number}/{action}", json=body,
                        headers={"Authorization": f"Bearer {city.tokens[user]}"})
        assert r.status_code == 200, r.text
        return r.json()

    excluded = post(direct, "supervisor", "exclude", reason="非本市事项：噪音源在河北省燕郊镇")
    assert (excluded["exclusion_reason"], excluded["exclusion_text"]) == (
        "非本市事项", "噪音源在河北省燕郊镇")
    post(overruled, "water-handler", "request_exclusion", reason="无理诉求",
         text="诉求人要求自来水公司赔偿精神损失")
    excluded = post(overruled, "supervisor", "exclude", reason="已进入司法程序")
    assert (excluded["exclusion_reason"], excluded["exclusion_text"]) == ("已进入司法程序", None)
    sup = city.actor("supervisor")
    with sessions() as s:
        for number, reason in ((direct, "非本市事项"), (overruled, "已进入司法程序")):
            t = service.get_ticket(session=s, actor=sup, ref=number)
            assert t.exclusion_reason == reason
            assert citizen.set_aside_reason(
                session=s, ticket=t,
                listed=domain.settings.verification.exclusion_reasons) == reason
    listed = client.get("/api/v1/tickets", params={"status": "excluded"},
                        headers={"Authorization": f"Bearer {city.tokens['supervisor']}"})
    assert listed.status_code == 200, listed.text
    assert {t["number"]: t["exclusion_reason"] for t in listed.json()["items"]} == {
        direct: "非本市事项", overruled: "已进入司法程序"}


def test_an_exclusion_request_back_from_its_group_comes_back_with_its_reason(
        sessions: sessionmaker[Session], domain: Domain, city: City) -> None:
    """A ticket merged while its 申请剔除 waited (剔除待审核) closes with its primary (the
    request overtaken: cleared, mend90); the primary's 驳回重办 puts it back in the group and
    拆单 back to the state it was merged from, 剔除待审核 again. Review100: it came back
    waiting for the centre's decision on a request with no reason and no words, and a
    grant named the citizen no reason. A request that waits again is the one made: its
    reason and words come back from the trail (``service._request_made``)."""
    handler, op, sup = (city.actor(u) for u in ("water-handler", "operator", "supervisor"))
    number = _signed(sessions, domain, city)
    primary_number = _signed(sessions, domain, city)
    with sessions() as s:
        t = service.get_ticket(session=s, actor=sup, ref=number)
        primary = service.get_ticket(session=s, actor=sup, ref=primary_number)
        service.request_exclusion(session=s, domain=domain, ticket=t, actor=handler,
                                  reason="非本市事项", text="事发地在河北省")
        merging.merge(session=s, domain=domain, primary=primary, others=[t], actor=op,
                      reason="同一小区停水")
        service.reply(session=s, domain=domain, ticket=primary, actor=handler,
                      text="已恢复供水", outcome="resolved")
        service.close(session=s, domain=domain, ticket=primary, actor=op)
        assert t.status == Status.CLOSED.value
        service.reject_redo(session=s, domain=domain, ticket=primary, actor=sup,
                            reason="回访：仍未来水")
        assert t.status == Status.MERGED.value
        merging.unmerge(session=s, domain=domain, ticket=t, actor=op, reason="并单有误")
        s.commit()
        assert t.status == Status.EXCLUSION_REQUESTED.value  # the state it was merged from
        assert (t.exclusion_reason, t.exclusion_text) == ("非本市事项", "事发地在河北省")
        service.exclude(session=s, domain=domain, ticket=t, actor=sup, reason="同意")
        assert citizen.set_aside_reason(
            session=s, ticket=t,
            listed=domain.settings.verification.exclusion_reasons) == "非本市事项"
