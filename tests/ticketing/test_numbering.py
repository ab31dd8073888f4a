"""Ticket numbers: date + per-day counter, unique and increasing under concurrent creators,
and (on PostgreSQL) handed out without queueing behind other creators' open transactions."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import event, select
from sqlalchemy.orm import Session, sessionmaker

from tests.support.city import City
from ticketing import service
from ticketing.context import Domain
from ticketing.models import Ticket, TicketSequence


def _create(s: Session, domain: Domain, city: City, phone: str) -> str:
    t = service.create_ticket(session=s, domain=domain, actor=city.actor("operator"),
                              channel="api", caller_phone=phone, demand="路灯不亮")
    return t.number


def test_numbers_unique_gapless_and_increasing_per_creator(
    sessions: sessionmaker[Session], domain: Domain, city: City
) -> None:
    per_thread: dict[int, list[str]] = {i: [] for i in range(6)}
    errors: list[BaseException] = []
    start = threading.Barrier(6, timeout=20)

    def creator(i: int) -> None:
        try:
            start.wait()
            for j in range(6):
                with sessions() as s:
                    number = _create(s, domain, city, f"137{i:04d}{j:04d}")
                    s.commit()
                per_thread[i].append(number)
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=creator, args=(i,)) for i in range(6)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(60)
    assert not errors, errors
    day = domain.now().astimezone(domain.tz).strftime("%y%m%d")
    numbers = [n for ns in per_thread.values() for n in ns]
    # Nothing rolled back, so the day's counter went up by one 36 times: no repeat, no gap.
    assert all(n.startswith(day) and len(n) == 10 for n in numbers)
    first = min(int(n[6:]) for n in numbers)
    assert sorted(numbers) == [f"{day}{k:04d}" for k in range(first, first + 36)]
    for ns in per_thread.values():
        assert ns == sorted(ns) and len(ns) == 6  # each creator's next number is higher


@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_postgresql_creator_does_not_wait_for_another_open_transaction(
    sessions: sessionmaker[Session], domain: Domain, city: City
) -> None:
    """The day's counter row is not held until the creating transaction commits: a second
    creator gets its number and commits while the first is still open."""
    first = sessions()
    try:
        first_number = _create(first, domain, city, "13600000001")
        second: list[str] = []

        def other() -> None:
            with sessions() as s:
                second.append(_create(s, domain, city, "13600000002"))
                s.commit()

        th = threading.Thread(target=other)
        th.start()
        th.join(30)  # with the counter held by `first` this would wait for its commit
        assert second and not th.is_alive(), "second creator waited for the first's commit"
        assert second[0] > first_number
        first.commit()
    finally:
        first.close()
    with sessions() as s:
        stored = set(s.scalars(select(Ticket.number)))
    assert {first_number, *second} <= stored


@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_postgresql_filing_takes_its_number_on_its_own_connection(
    sessions: sessionmaker[Session], domain: Domain, city: City
) -> None:
    """The number comes from the ticket's own transaction (a sequence, migration 0026): one
    pooled connection a filing. Before, the day's counter row was bumped on a second
    connection, in a transaction of its own, at every filing."""
    engine = sessions.kw["bind"]
    with sessions() as s:  # the day's base set, as by the day's first filing
        _create(s, domain, city, "13600000001")
        s.commit()
    operator = city.actor("operator")  # read before: a connection of its own
    checkouts: list[object] = []

    def checked_out(*args: object) -> None:
        checkouts.append(args)

    event.listen(engine, "checkout", checked_out)
    try:
        with sessions() as s:
            number = service.create_ticket(session=s, domain=domain, actor=operator,
                                           channel="api", caller_phone="13600000002",
                                           demand="路灯不亮").number
            s.commit()
    finally:
        event.remove(engine, "checkout", checked_out)
    assert len(checkouts) == 1
    assert number.endswith("0002")


@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_postgresql_numbers_go_on_after_the_counter_rows_on_the_day_of_the_upgrade(
    sessions: sessionmaker[Session], domain: Domain, city: City
) -> None:
    """A day the counter row numbered before the upgrade (its ``last``, no base) goes on
    after its last number; another day starts at 1; a ticket rolled back skips its number,
    as a sequence's value is never given back, and so does another day's ticket filed in
    between (one sequence for every day: a call spooled through an outage past midnight,
    numbered by the day it came)."""
    now = domain.now()
    today = now.astimezone(domain.tz).strftime("%y%m%d")
    with sessions() as s:
        s.add(TicketSequence(day=today, last=41))
        s.commit()
    with sessions() as s:
        assert _create(s, domain, city, "13600000001") == f"{today}0042"
        s.rollback()
    numbers = []
    for i, received in enumerate([now, now - timedelta(days=3), now]):
        with sessions() as s:
            numbers.append(service.create_ticket(
                session=s, domain=domain, actor=city.actor("operator"), channel="api",
                caller_phone=f"1360000001{i}", demand="路灯不亮", received_at=received).number)
            s.commit()
    earlier = (now - timedelta(days=3)).astimezone(domain.tz).strftime("%y%m%d")
    assert numbers == [f"{today}0043", f"{earlier}0001", f"{today}0045"]
