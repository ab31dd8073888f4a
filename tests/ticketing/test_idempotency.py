"""A client's retry of POST /api/v1/tickets with its Idempotency-Key files no second ticket
(ticketing.idempotency), on both databases."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker

from hotline.scheduler import idempotency_keys_job
from tests.support.api import auth
from tests.support.city import City
from ticketing import idempotency, service
from ticketing.context import Domain
from ticketing.models import IdempotencyKey, Ticket, TicketEvent, utcnow
from ticketing.schemas import TicketCreate

URL = "/api/v1/tickets"
BODY = {"caller_phone": "13811112222", "demand": "朝阳区望京西园三区5号楼停水了，一直没来水",
        "category": "water"}


def counts(sessions: sessionmaker[Session]) -> tuple[int, int, int]:
    """(tickets, dispatch events, all audit events)."""
    with sessions() as s:
        return (s.scalar(select(func.count()).select_from(Ticket)) or 0,
                s.scalar(select(func.count()).select_from(TicketEvent)
                         .where(TicketEvent.action == "dispatch")) or 0,
                s.scalar(select(func.count()).select_from(TicketEvent)) or 0)


def post(client: TestClient, city: City, key: str | None, body: dict | None = None,
         user: str = "operator"):
    headers = auth(city, user)
    if key is not None:
        headers[idempotency.HEADER] = key
    return client.post(URL, json=body or BODY, headers=headers)


def test_a_retry_with_the_key_returns_the_first_ticket_and_does_nothing(
        client: TestClient, city: City, sessions: sessionmaker[Session]) -> None:
    before = counts(sessions)
    first = post(client, city, "4c1e8d2a-retry-1")
    assert first.status_code == 201, first.text
    assert first.json()["status"] == "dispatched"
    after_first = counts(sessions)
    assert after_first[0] == before[0] + 1 and after_first[1] == before[1] + 1
    # The same body spelled otherwise (key order, a default given) is the same request.
    again = post(client, city, "4c1e8d2a-retry-1", {**dict(reversed(BODY.items())),
                                                   "accept": True})
    assert again.status_code == 201, again.text
    assert again.json() == first.json()
    assert counts(sessions) == after_first  # no ticket, no dispatch, no audit event


def test_without_the_key_every_request_files_a_ticket(
        client: TestClient, city: City, sessions: sessionmaker[Session]) -> None:
    before = counts(sessions)
    numbers = {post(client, city, None).json()["number"] for _ in range(2)}
    assert len(numbers) == 2
    assert counts(sessions)[0] == before[0] + 2


def test_the_key_with_another_body_is_422(
        client: TestClient, city: City, sessions: sessionmaker[Session]) -> None:
    assert post(client, city, "k-1").status_code == 201
    before = counts(sessions)
    r = post(client, city, "k-1", {**BODY, "demand": "另一件事：小区门口路灯不亮"})
    assert r.status_code == 422, r.text
    assert r.json()["error"] == "invalid_input" and r.json()["field"] == idempotency.FIELD
    assert counts(sessions) == before


def test_keys_are_each_users_own(
        client: TestClient, city: City, sessions: sessionmaker[Session]) -> None:
    mine = post(client, city, "shared-key").json()
    r = post(client, city, "shared-key", user="admin")
    assert r.status_code == 201, r.text
    theirs = r.json()
    assert theirs["number"] != mine["number"]
    # Each user's retry still answers with that user's own ticket.
    assert post(client, city, "shared-key", user="admin").json()["number"] == \
        theirs["number"]
    # A role that may not file tickets learns nothing from a key.
    assert post(client, city, "shared-key", user="water-handler").status_code == 403


# Refused by the key's check before anything is read or stored: on SQLite alone.
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("key", ["", " x", "x ", "钥匙", "a\tb", "k" * 256])
def test_a_bad_key_is_refused_before_anything(
        client: TestClient, city: City, sessions: sessionmaker[Session], key: str) -> None:
    before = counts(sessions)
    headers = {**auth(city, "operator"), idempotency.HEADER: key.encode("utf-8")}
    r = client.post(URL, json=BODY, headers=headers)  # type: ignore[arg-type]
    assert r.status_code == 422, r.text
    assert r.json()["field"] == idempotency.FIELD
    assert counts(sessions) == before


def test_the_longest_key_and_a_quoted_one_are_taken(
        client: TestClient, city: City) -> None:
    for key in ("k" * 255, '"8e03978e-40d5-43e8-bc93-6894a57f9324"', "a b"):
        first = post(client, city, key)
        assert first.status_code == 201, first.text
        assert post(client, city, key).json()["number"] == first.json()["number"]


def test_a_key_expires_after_its_ttl(
        client: TestClient, city: City, sessions: sessionmaker[Session]) -> None:
    domain: Domain = client.app.state.domain  # type: ignore[attr-defined]
    start = utcnow()
    clock = [start]
    domain.now = lambda: clock[0]  # type: ignore[method-assign]
    first = post(client, city, "daily").json()["number"]
    clock[0] = start + idempotency.KEY_TTL - timedelta(minutes=1)
    assert post(client, city, "daily").json()["number"] == first
    clock[0] = start + idempotency.KEY_TTL
    later = post(client, city, "daily")
    assert later.status_code == 201 and later.json()["number"] != first
    # The new ticket owns the key now, for another TTL.
    assert post(client, city, "daily").json()["number"] == later.json()["number"]


def test_the_hourly_job_deletes_only_expired_keys(
        client: TestClient, city: City, sessions: sessionmaker[Session]) -> None:
    post(client, city, "old")
    now = utcnow()
    with sessions() as s:
        s.execute(IdempotencyKey.__table__.update()
                  .where(IdempotencyKey.key == "old")
                  .values(created_at=now - idempotency.KEY_TTL - timedelta(seconds=1)))
        s.commit()
    post(client, city, "fresh")
    # The hourly job, with the app's clock.
    assert idempotency_keys_job(sessions, client.app.state.domain) == 1  # type: ignore[attr-defined]
    with sessions() as s:
        assert s.scalars(select(IdempotencyKey.key)).all() == ["fresh"]
    assert post(client, city, "old").status_code == 201  # free again


def test_concurrent_requests_with_one_key_file_one_ticket(
        client: TestClient, city: City, sessions: sessionmaker[Session]) -> None:
    before = counts(sessions)
    start = threading.Barrier(4, timeout=30)
    answers: list[tuple[int, str]] = []
    lock = threading.Lock()

    def send() -> None:
        start.wait()
        r = post(client, city, "burst")
        with lock:
            answers.append((r.status_code, r.json().get("number", r.text)))

    threads = [threading.Thread(target=send) for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(60)
    assert len(answers) == 4
    assert {code for code, _ in answers} == {201}
    assert len({number for _, number in answers}) == 1
    after = counts(sessions)
    assert (after[0] - before[0], after[1] - before[1]) == (1, 1)


def test_the_loser_of_a_race_waits_and_reads_the_winners_ticket(
        sessions: sessionmaker[Session], domain: Domain, city: City, db_url: str) -> None:
    """The second claim of a key waits for the first's transaction, then answers with the
    ticket it committed: on PostgreSQL seen waiting on the key's row before the first
    commits; SQLite's writers take turns at BEGIN."""
    operator = city.actor("operator")
    body = TicketCreate(**BODY)
    claimed = threading.Event()
    release = threading.Event()
    numbers: dict[str, str] = {}
    created = []

    def file(name: str, hold: bool) -> None:
        def create() -> Ticket:
            created.append(name)
            if hold:
                claimed.set()
                release.wait(30)
            return service.create_ticket(session=s, domain=domain, actor=operator,
                                         channel="api", accept_now=True,
                                         caller_phone=body.caller_phone, demand=body.demand,
                                         category=body.category)

        with sessions() as s:
            t = idempotency.create_once(session=s, actor=operator, key="race", body=body,
                                        now=domain.now(), create=create)
            s.commit()
            numbers[name] = t.number

    winner = threading.Thread(target=file, args=("winner", True))
    winner.start()
    assert claimed.wait(30)
    loser = threading.Thread(target=file, args=("loser", False))
    loser.start()
    if db_url.startswith("postgresql"):
        with sessions() as watch:
            for _ in range(600):
                waiting = watch.scalar(text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                    " AND wait_event_type = 'Lock'"))
                watch.rollback()
                if waiting:
                    break
                threading.Event().wait(0.05)
            assert waiting == 1
    release.set()
    winner.join(30)
    loser.join(30)
    assert created == ["winner"]
    assert numbers["loser"] == numbers["winner"]
