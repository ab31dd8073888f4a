"""Identified callers (保密): duplicate links, phone search, masking and "overdue" are one
rule each (ticketing.queries), the same through the API, the console, the CLI and /metrics.
On SQLite and PostgreSQL."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.orm import Session, sessionmaker

from config import Settings
from hotline.app import create_app
from outbound.models import SurveyReview
from tests.console.conftest import log_in
from tests.support.api import auth
from tests.support.city import City
from ticketing import service
from ticketing.actors import Actor
from ticketing.context import Domain
from ticketing.models import Ticket
from ticketing.phones import normalise
from ticketing.states import Status

CALLER = "13912340000"
WATER = "朝阳区望京西园三区5号楼从早上开始停水了，到现在还没有来水。"


@pytest.fixture
def app(settings: Settings, city: City) -> FastAPI:
    return create_app(settings)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    # A loopback client: /metrics answers only loopback (or a token) under shipped settings.
    with TestClient(app, raise_server_exceptions=True, client=("127.0.0.1", 50000)) as c:
        yield c


def new(sessions: sessionmaker[Session], domain: Domain, actor: Actor, **kw: object) -> Ticket:
    args: dict[str, object] = {"channel": "api", "caller_phone": CALLER, "demand": WATER,
                               "category": "water"}
    args.update(kw)
    with sessions() as s:
        t = service.create_ticket(session=s, domain=domain, actor=actor, **args)
        service.accept(session=s, domain=domain, ticket=t, actor=actor)
        s.commit()
        s.refresh(t)
        s.expunge(t)
        return t


def link_as_old_code_did(sessions: sessionmaker[Session], dup: Ticket, original: Ticket) -> None:
    """A link across the confidential flag, as databases written before the fix hold."""
    with sessions() as s:
        t = s.get(Ticket, dup.id)
        assert t is not None
        t.duplicate_of_id = original.id
        service.record_event(session=s, ticket=t, actor=Actor.system(), action="link_duplicate",
                             note=f"重复诉求，关联工单 {original.number}",
                             data={"original": original.number})
        s.commit()


# --- which tickets are the same problem ------------------------------------------------


def test_only_the_same_problem_is_a_duplicate(sessions: sessionmaker[Session], domain: Domain,
                                              city: City) -> None:
    op = city.actor("operator")
    first = new(sessions, domain, op)
    noise = new(sessions, domain, op, category=None,
                demand="朝阳区望京西园三区5号楼楼下烧烤噪音扰民")
    elsewhere = new(sessions, domain, op, demand="海淀区中关村大街停水了")
    neighbour = new(sessions, domain, op, caller_phone="13700009999",
                    demand="朝阳区望京西园三区5号楼我们家也停水了")
    other_noise = new(sessions, domain, op, caller_phone="13700008888", category=None,
                      demand="朝阳区望京西园三区5号楼楼下烧烤噪音扰民")
    again = new(sessions, domain, op, demand="望京西园三区5号楼还是停水，怎么还没人来修")
    assert noise.category == "environment"
    assert noise.duplicate_of_id is None  # the same caller about something else
    assert elsewhere.duplicate_of_id is None  # the same caller and category, another place
    assert neighbour.address == first.address
    assert neighbour.duplicate_of_id == first.id  # another caller, same problem: 多诉
    assert other_noise.duplicate_of_id == noise.id  # same address, same category
    assert again.duplicate_of_id == first.id  # the address said again without the district
    with sessions() as s:
        assert s.get(Ticket, first.id).duplicate_count == 2  # type: ignore[union-attr]


@pytest.mark.parametrize("confidential_first", [True, False])
def test_never_linked_across_the_confidential_flag(
        sessions: sessionmaker[Session], domain: Domain, city: City,
        confidential_first: bool) -> None:
    op = city.actor("operator")
    first = new(sessions, domain, op, confidential=confidential_first)
    second = new(sessions, domain, op, confidential=not confidential_first,
                 demand="朝阳区望京西园三区5号楼还是停水")
    assert second.duplicate_of_id is None
    with sessions() as s:
        assert s.get(Ticket, first.id).duplicate_count == 0  # type: ignore[union-attr]
        actions = [e.action for e in service.events_of(session=s, ticket=second)]
    assert "link_duplicate" not in actions


def test_link_to_a_confidential_caller_is_hidden_from_handlers(
        app: FastAPI, client: TestClient, sessions: sessionmaker[Session], domain: Domain,
        city: City) -> None:
    op = city.actor("operator")
    secret = new(sessions, domain, op, confidential=True)
    # An outage is 民生 (urgency set, not left to the model's reading of the words): its
    # dispatch SMS goes at any hour, so the trail below is the same by day and by night.
    plain = new(sessions, domain, op, demand="朝阳区望京西园三区5号楼还是停水",
                urgency="livelihood")
    # Through the API on today's code: no link at all.
    h = auth(city, "water-handler")
    shown = client.get(f"/api/v1/tickets/{plain.number}", headers=h).json()
    assert shown["caller_phone"] == normalise(CALLER) and shown["duplicate_of"] is None
    # A link an older version wrote, both ways round.
    link_as_old_code_did(sessions, plain, secret)
    shown = client.get(f"/api/v1/tickets/{plain.number}", headers=h).json()
    assert shown["duplicate_of"] is None
    assert "link_duplicate" not in [e["action"] for e in shown["events"]]
    events = client.get(f"/api/v1/tickets/{plain.number}/events", headers=h).json()
    assert [e["action"] for e in events] == ["create", "accept", "dispatch"]
    listed = client.get("/api/v1/tickets", headers=h).json()["items"]
    assert all(item["duplicate_of"] is None for item in listed)
    page = log_in(app, city, "water-handler").get(f"/console/tickets/{plain.number}").text
    assert secret.number not in page and "关联重复诉求" not in page
    # Who may see the confidential caller still sees the link.
    o = auth(city, "operator")
    assert client.get(f"/api/v1/tickets/{plain.number}", headers=o).json()["duplicate_of"] \
        == secret.id
    events = client.get(f"/api/v1/tickets/{plain.number}/events", headers=o).json()
    assert "link_duplicate" in [e["action"] for e in events]
    assert secret.number in log_in(app, city, "operator").get(
        f"/console/tickets/{plain.number}").text

    later = new(sessions, domain, op, confidential=True, demand="朝阳区望京西园三区5号楼又停水")
    link_as_old_code_did(sessions, later, plain)
    shown = client.get(f"/api/v1/tickets/{later.number}", headers=h).json()
    assert shown["caller_phone"] is None and shown["duplicate_of"] is None
    assert "link_duplicate" not in [e["action"] for e in shown["events"]]
    page = log_in(app, city, "water-handler").get(f"/console/tickets/{later.number}").text
    assert plain.number not in page


# --- search ----------------------------------------------------------------------------


def _console_numbers(html: str) -> set[str]:
    return set(re.findall(r'href="/console/tickets/(\d+)"', html))


def test_phone_search_never_finds_a_confidential_caller_for_a_handler(
        app: FastAPI, client: TestClient, sessions: sessionmaker[Session], domain: Domain,
        city: City) -> None:
    secret = new(sessions, domain, city.actor("operator"), confidential=True)
    handler = log_in(app, city, "water-handler")
    operator = log_in(app, city, "operator")
    for q in (CALLER, CALLER[-4:]):
        r = client.get("/api/v1/tickets", params={"q": q}, headers=auth(city, "water-handler"))
        assert r.json()["total"] == 0, q
        assert _console_numbers(handler.get("/console/queue", params={"q": q}).text) == set()
        r = client.get("/api/v1/tickets", params={"q": q}, headers=auth(city, "operator"))
        assert [i["number"] for i in r.json()["items"]] == [secret.number], q
        assert _console_numbers(operator.get("/console/queue", params={"q": q}).text) \
            == {secret.number}
    # The ticket itself is the handler's: found by its number, without the caller.
    r = client.get("/api/v1/tickets", params={"q": secret.number},
                   headers=auth(city, "water-handler")).json()
    assert [i["number"] for i in r["items"]] == [secret.number]
    assert r["items"][0]["caller_phone"] is None


# --- overdue ---------------------------------------------------------------------------


def _metric(text: str, name: str) -> float:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                return sample.value
    raise AssertionError(f"{name} not served")


def test_overdue_means_the_same_everywhere(
        app: FastAPI, client: TestClient, sessions: sessionmaker[Session], domain: Domain,
        city: City) -> None:
    op, sup = city.actor("operator"), city.actor("supervisor")
    long_ago = domain.now() - timedelta(days=3)
    late = new(sessions, domain, op, urgency="livelihood", received_at=long_ago)
    set_aside = new(sessions, domain, op, caller_phone="13700000001", urgency="livelihood",
                    received_at=long_ago, demand="海淀区中关村大街停水了")
    fresh = new(sessions, domain, op, caller_phone="13700000002", urgency="livelihood",
                demand="朝阳区安贞里停水了")
    with sessions() as s:
        t = s.get(Ticket, set_aside.id)
        assert t is not None
        service.exclude(session=s, domain=domain, ticket=t, actor=sup, reason="重复恶意来电")
        s.commit()
        assert t.status == Status.EXCLUDED.value and t.closed_at is None
    r = client.get("/api/v1/tickets", params={"overdue": "true"},
                   headers=auth(city, "operator")).json()
    assert [i["number"] for i in r["items"]] == [late.number]
    queue = log_in(app, city, "supervisor").get("/console/queue?status=overdue").text
    assert _console_numbers(queue) == {late.number} and fresh.number not in queue
    assert _metric(client.get("/metrics").text, "hotline_tickets_overdue") == 1
    stats = client.get("/api/v1/stats", headers=auth(city, "supervisor")).json()
    assert stats["overdue"] == 1


# --- masking ---------------------------------------------------------------------------


def test_review_list_shows_the_caller_as_every_other_list_does(
        client: TestClient, sessions: sessionmaker[Session], domain: Domain,
        city: City) -> None:
    op = city.actor("operator")
    plain = new(sessions, domain, op)
    secret = new(sessions, domain, op, caller_phone="13700000001", confidential=True,
                 demand="海淀区中关村大街停水了")
    with sessions() as s:
        for t in (plain, secret):
            s.add(SurveyReview(ticket_id=t.id, closure_round=0, reason="dissatisfied",
                               keys="12"))
        s.commit()
    for user in ("supervisor", "admin"):
        h = auth(city, user)
        reviews = client.get("/api/v1/outbound/reviews", headers=h).json()
        listed = {i["number"]: i["caller_phone"]
                  for i in client.get("/api/v1/tickets", headers=h).json()["items"]}
        assert {r["ticket"]: r["caller_phone"] for r in reviews} == listed, user
        assert listed == {plain.number: "139****0000", secret.number: "137****0001"}, user


def test_a_supervisor_lists_only_the_accounts_of_the_units_it_oversees(
        client: TestClient, city: City) -> None:
    """``GET /users`` gave every supervisor the whole city's accounts (names, roles, units):
    a district's 督办员 has no need of another district's or a utility's staff, whose
    tickets it never sees (sec42 left it; priv44). The ticket scope's rule
    (``queries.in_scope``) now bounds it; the centre's operators and admins still list all."""
    def listed(user: str) -> set[str]:
        answer = client.get("/api/v1/users", headers=auth(city, user))
        assert answer.status_code == 200
        return {u["username"] for u in answer.json()}

    assert listed("cy-supervisor") == {"cy-supervisor", "cy-handler", "wangjing-handler",
                                       "cy-housing-handler"}
    everyone = listed("operator")
    assert {"admin", "operator", "water-handler", "hd-handler"} <= everyone
    assert listed("admin") == everyone
    assert "water-handler" in listed("supervisor") and "admin" not in listed("supervisor")
    assert client.get("/api/v1/users", headers=auth(city, "cy-handler")).status_code == 403
