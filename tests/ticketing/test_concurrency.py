"""Two handlers sign the same ticket at the same moment: exactly one wins.

On PostgreSQL both transactions read the ticket before either writes; the loser's UPDATE
waits on the winner's row lock, then matches no row (the version moved) and fails. SQLite
takes the write lock at BEGIN, so there the second signer simply sees a signed ticket.
"""

from __future__ import annotations

import threading

from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from tests.support.city import City
from ticketing import service
from ticketing.context import Domain
from ticketing.directory import add_user
from ticketing.states import Role, Status, TransitionError


def test_concurrent_sign_exactly_one_wins(
    sessions: sessionmaker[Session], domain: Domain, city: City, db_url: str
) -> None:
    operator = city.actor("operator")
    with sessions() as s:
        add_user(session=s, username="water-handler-2", display_name="自来水承办人二",
                 role=Role.HANDLER, unit_code="bj-water", phone="13900000039")
        t = service.create_ticket(session=s, domain=domain, actor=operator,
                                  channel="api", caller_phone="13811112222",
                                  demand="停水", category="water")
        service.accept(session=s, domain=domain, ticket=t, actor=operator)
        s.commit()
        number = t.number
    handlers = [city.actor("water-handler"), city.actor("water-handler-2")]
    # Only PostgreSQL lets two transactions hold the same snapshot and race to write.
    race = db_url.startswith("postgresql")
    both_read = threading.Barrier(2, timeout=20)
    both_started = threading.Barrier(2, timeout=20)
    outcomes: list[str] = []
    lock = threading.Lock()

    def sign_as(i: int) -> None:
        both_started.wait()
        with sessions() as s:
            ticket = service.get_ticket(session=s, actor=handlers[i], ref=number)
            if race:
                both_read.wait()  # both hold version N before either writes
            try:
                service.sign(session=s, domain=domain, ticket=ticket, actor=handlers[i])
                s.commit()
                result = f"ok:{i}"
            except (StaleDataError, TransitionError) as exc:
                s.rollback()
                result = f"conflict:{type(exc).__name__}"
            with lock:
                outcomes.append(result)

    threads = [threading.Thread(target=sign_as, args=(i,)) for i in range(2)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(30)
    assert sorted(o.split(":")[0] for o in outcomes) == ["conflict", "ok"], outcomes
    if race:
        assert "conflict:StaleDataError" in outcomes
    winner = int(next(o for o in outcomes if o.startswith("ok")).split(":")[1])
    with sessions() as s:
        t = service.get_ticket(session=s, actor=operator, ref=number)
        assert t.status == Status.SIGNED
        assert t.handler_id == handlers[winner].id
        signs = [e for e in service.events_of(session=s, ticket=t) if e.action == "sign"]
        assert len(signs) == 1


def test_concurrent_creation_unique_numbers(
    sessions: sessionmaker[Session], domain: Domain, city: City
) -> None:
    op = city.actor("operator")
    numbers: list[str] = []
    errors: list[BaseException] = []
    start = threading.Barrier(8, timeout=20)

    def create(i: int) -> None:
        try:
            start.wait()
            for j in range(5):
                with sessions() as s:
                    t = service.create_ticket(session=s, domain=domain, actor=op, channel="api",
                                              caller_phone=f"138{i:04d}{j:04d}", demand="路灯不亮")
                    s.commit()
                    numbers.append(t.number)
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=create, args=(i,)) for i in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(60)
    assert not errors, errors
    assert len(numbers) == 40 and len(set(numbers)) == 40
