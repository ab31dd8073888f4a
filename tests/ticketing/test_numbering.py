"""Ticket numbers: date + per-day counter, unique and increasing under concurrent creators,
and (on PostgreSQL) handed out without queueing behind other creators' open transactions."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

import pytest
from alembic import command
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import Engine, event, func, select, text
from sqlalchemy.orm import Session, sessionmaker

from hotline import dbadmin
from tests.support.api import auth
from tests.support.city import City
from ticketing import numbers, service
from ticketing.context import Domain
from ticketing.db import make_engine, make_session_factory
from ticketing.models import Ticket, TicketSequence


@pytest.mark.parametrize("day,seq,number", [
    ("261124", 7, "2611240007"), ("261124", 9999, "2611249999"),
    ("261124", 10000, "26112410000"),  # a fifth digit only past 9999 in a day
])
def test_a_number_made_parses_back_to_what_it_was_made_of(day: str, seq: int,
                                                           number: str) -> None:
    assert numbers.make(day, seq) == number
    assert numbers.parse(number) == (day, seq)
    low, high = numbers.day_range(day)
    assert low <= number < high
    assert not low <= numbers.make("261125", 1) < high


@pytest.mark.parametrize("text", [
    "", "261124007", "2611240000", "261124-099", "26112400a7", "２６１１２４０００７",
    "261124000٧", " 2611240007",
    # Longer than the column holds (tickets.number): never made, and 5,000 digits made
    # int() raise (a 500 on GET /tickets/{ref}, sec57).
    "261124" + "0" * 14 + "1", "261124" + "9" * 4994,
])
def test_what_the_layout_never_makes_parses_to_none(text: str) -> None:
    assert numbers.parse(text) is None


@pytest.mark.parametrize("day,seq", [("261124", 0), ("261124", -99), ("26112", 1),
                                     ("2611a4", 1)])
def test_a_number_below_one_or_of_no_day_is_never_made(day: str, seq: int) -> None:
    with pytest.raises(ValueError):
        numbers.make(day, seq)


def test_the_day_part_is_the_citys_day() -> None:
    from zoneinfo import ZoneInfo

    late = datetime(2026, 11, 24, 17, 30, tzinfo=ZoneInfo("UTC"))  # 01:30 next day in CST
    assert numbers.day_of(late, ZoneInfo("Asia/Shanghai")) == "261125"


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
    day = numbers.day_of(domain.now(), domain.tz)
    made = [n for ns in per_thread.values() for n in ns]
    # Nothing rolled back, so the day's counter went up by one 36 times: no repeat, no gap.
    assert all(n.startswith(day) and len(n) == 10 for n in made)
    first = min(numbers.parse(n)[1] for n in made)  # type: ignore[index]
    assert sorted(made) == [numbers.make(day, k) for k in range(first, first + 36)]
    # The SQL that reads a stored number's sequence back (SQLite's catch-up of the day's
    # row, 0026's downgrade on PostgreSQL) reads what the number was made of.
    with sessions() as s:
        low, high = numbers.day_range(day)
        stored = s.execute(select(Ticket.number, numbers.sequence_of(Ticket.number)).where(
            Ticket.number >= low, Ticket.number < high)).all()
    assert sorted(stored) == [(numbers.make(day, k), k) for k in range(first, first + 36)]
    assert all(numbers.parse(n) == (day, k) for n, k in stored)
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
    after its last number; a ticket rolled back skips its number, as a sequence's value is
    never given back; a call of an earlier day filed late takes the next of today's."""
    now = domain.now()
    today = numbers.day_of(now, domain.tz)
    with sessions() as s:
        s.add(TicketSequence(day=today, last=41))
        s.commit()
    with sessions() as s:
        assert _create(s, domain, city, "13600000001") == f"{today}0042"
        s.rollback()
    filed = []
    for i, received in enumerate([now, now - timedelta(days=3), now]):
        with sessions() as s:
            filed.append(service.create_ticket(
                session=s, domain=domain, actor=city.actor("operator"), channel="api",
                caller_phone=f"1360000001{i}", demand="路灯不亮", received_at=received).number)
            s.commit()
    # A call of an earlier day filed late is numbered on the day it is filed (mend68).
    assert filed == [f"{today}0043", f"{today}0044", f"{today}0045"]


def _file(sessions: sessionmaker[Session], domain: Domain, city: City, phone: str,
          received: datetime | None = None) -> str:
    with sessions() as s:
        number = service.create_ticket(
            session=s, domain=domain, actor=city.actor("operator"), channel="api",
            caller_phone=phone, demand="路灯不亮", received_at=received).number
        s.commit()
    return number


@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_postgresql_numbers_after_a_restore_come_from_the_restored_base(
    sessions: sessionmaker[Session], domain: Domain, city: City, db_url: str
) -> None:
    """A restore (or a promoted standby) to a point before the day's first filing: the
    day's base row and the sequence go back together. A process that filed before it must
    not number by the base it saw then: review69 found one caching it handing out
    ``261207-099`` (a negative counter), or, beside a process started after the restore,
    the same numbers twice (a UniqueViolation, a 500). mend68: the base is read in the
    number's own statement."""
    today = numbers.day_of(domain.now(), domain.tz)
    with sessions() as s:  # earlier days handed out 100 numbers
        s.execute(text("SELECT setval('ticket_numbers', 100)"))
        s.commit()
    assert [_file(sessions, domain, city, f"1360000002{i}") for i in range(3)] == [
        f"{today}000{i}" for i in (1, 2, 3)]
    with sessions() as s:  # the restore: before the day's first filing
        s.execute(text("DELETE FROM ticket_sequences"))
        s.execute(text("SELECT setval('ticket_numbers', 1, false)"))
        s.execute(text("TRUNCATE tickets CASCADE"))
        s.commit()
    other = make_engine(db_url)  # a process started after the restore
    try:
        later = make_session_factory(other)
        filed = [_file(factory, domain, city, f"1360000003{i}")
                   for i in range(2) for factory in (sessions, later)]
    finally:
        other.dispose()
    assert filed == [f"{today}000{i}" for i in (1, 2, 3, 4)]


@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_postgresql_a_sequence_set_back_below_the_days_base_is_refused_loudly(
    sessions: sessionmaker[Session], domain: Domain, city: City
) -> None:
    """Never a malformed number (``2612070000``, ``261207-099``): an error saying what to
    mend, and no ticket written."""
    with sessions() as s:
        s.execute(text("SELECT setval('ticket_numbers', 100)"))
        s.commit()
    _file(sessions, domain, city, "13600000021")
    with sessions() as s:
        s.execute(text("SELECT setval('ticket_numbers', 1, false)"))
        s.commit()
    with pytest.raises(service.TicketNumberError, match="below the day's base"):
        _file(sessions, domain, city, "13600000022")
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(Ticket)) == 1


@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_postgresql_downgrade_of_0026_keeps_the_days_count(
    sessions: sessionmaker[Session], domain: Domain, city: City, db_url: str
) -> None:
    """Downgraded to 0025, the counter row of a day the sequence numbered carries on after
    its last number: review69 found it left at 0, so 0025's code handed out 1 again (a
    UniqueViolation, a 500, once for each number already used)."""
    today = numbers.day_of(domain.now(), domain.tz)
    filed = [_file(sessions, domain, city, f"1360000004{i}") for i in range(3)]
    with sessions() as s:  # a rolled-back number: skipped, never used
        _create(s, domain, city, "13600000049")
        s.rollback()
    sessions.kw["bind"].dispose()
    command.downgrade(dbadmin.alembic_config(db_url), "0025")
    engine = make_engine(db_url)
    try:
        with engine.begin() as conn:
            # 0025's filing: the day's counter row bumped, its value the next number.
            bumped = conn.execute(text(
                "UPDATE ticket_sequences SET last = last + 1 WHERE day = :d RETURNING last"),
                {"d": today}).scalar_one()
    finally:
        engine.dispose()
    assert filed == [f"{today}000{i}" for i in (1, 2, 3)]
    assert f"{today}{bumped:04d}" == f"{today}0004"


@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_postgresql_a_sequence_set_back_recovers_by_itself(
    client: TestClient, sessions: sessionmaker[Session], domain: Domain, city: City
) -> None:
    """A number taken already (a node of the old code still running through an upgrade, or
    the sequence set back by a restore or by hand): the filing is tried once more, the
    sequence first moved past the day's highest number, so it is filed at once with the
    next free number however far the sequence was set back. Before: the IntegrityError was
    a 500 (review69); then, set back by two or more, a 503 a filing until an operator ran
    setval (docs/scaling.md, review78)."""
    today = numbers.day_of(domain.now(), domain.tz)
    body = {"caller_phone": "13811112222", "demand": "路灯不亮", "category": "other"}

    def file() -> Response:
        return client.post("/api/v1/tickets", json=body, headers=auth(city, "operator"))

    assert [file().json()["number"] for _ in range(4)] == [f"{today}000{i}" for i in range(1, 5)]

    def set_back_to(after: int) -> None:  # the next number: after + 1
        with sessions() as s:
            s.execute(text("SELECT setval('ticket_numbers', base + :n) FROM ticket_sequences"
                           " WHERE day = :d"), {"n": after, "d": today})
            s.commit()

    set_back_to(3)  # 0004 taken: filed again as 0005
    assert file().json()["number"] == f"{today}0005"
    set_back_to(2)  # 0003 to 0005 taken: filed at once, after the highest
    assert file().json()["number"] == f"{today}0006"
    set_back_to(1)  # 0002 to 0006 taken (a restore of the sequence, by five)
    assert [file().json()["number"] for _ in range(2)] == [f"{today}0007", f"{today}0008"]
    with sessions() as s:  # no number used twice
        assert s.scalar(select(func.count(func.distinct(Ticket.number)))) == s.scalar(
            select(func.count()).select_from(Ticket)) == 8


@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_postgresql_the_catch_up_never_moves_the_sequence_back_past_a_number_taken(
    sessions: sessionmaker[Session], domain: Domain, city: City, db_url: str
) -> None:
    """Two nodes refused a taken number at once: one catches the sequence up to the day's
    highest number while the other, already caught up, takes the next ones. A catch-up that
    read the sequence and then set it (setval) could set it back past a number just taken
    (review82): handed out twice, a 503. The catch-up only ever moves it forward. Its
    window was one statement's: the concurrent rounds guard the rule, they did not catch the
    old statement (it passed them); the two catch-ups before them are exact."""
    today = numbers.day_of(domain.now(), domain.tz)
    assert [_file(sessions, domain, city, f"1360000004{i}") for i in range(3)] == [
        f"{today}000{i}" for i in (1, 2, 3)]
    engine = make_engine(db_url)
    rounds, backward = 60, list[tuple[int, int]]()
    try:
        with sessions() as s:
            base = s.scalar(select(TicketSequence.base).where(TicketSequence.day == today))
        assert base is not None

        def catch_up_from(value: int) -> int:  # the next number after a catch-up from value
            with engine.begin() as conn:
                conn.execute(text("SELECT setval('ticket_numbers', :v)"), {"v": value})
                conn.execute(service._CATCH_UP_SEQUENCE, service._day_range(today))
                return conn.execute(text("SELECT nextval('ticket_numbers')")).scalar_one()

        assert catch_up_from(base + 1) == base + 4  # behind: moved past 0003
        assert catch_up_from(base + 9) == base + 10  # ahead (another node's 0009): kept
        for _ in range(rounds):
            with engine.begin() as conn:  # the sequence set back: 0003 comes again
                conn.execute(text("SELECT setval('ticket_numbers', :v)"), {"v": base + 2})
            taken = _catch_up_beside_a_taker(engine, today)
            with engine.begin() as conn:
                after = conn.execute(text("SELECT nextval('ticket_numbers')")).scalar_one()
            if after <= max(taken):
                backward.append((max(taken), after))
    finally:
        engine.dispose()
    assert backward == []


def _catch_up_beside_a_taker(engine: Engine, day: str) -> list[int]:
    """One node's catch-up while another takes numbers at the same moment (two threads on
    two connections, started together); the numbers the other took."""
    start = threading.Barrier(2, timeout=10)
    taken: list[int] = []

    def catch_up() -> None:
        with engine.begin() as conn:
            start.wait()
            conn.execute(service._CATCH_UP_SEQUENCE, service._day_range(day))

    def take() -> None:
        with engine.begin() as conn:
            start.wait()
            taken.extend(conn.execute(text(
                "SELECT nextval('ticket_numbers') FROM generate_series(1, 300)")).scalars())

    threads = [threading.Thread(target=job) for job in (catch_up, take)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    return taken


def test_a_ref_of_the_numbers_layout_is_a_number_and_other_digits_an_id(
    sessions: sessionmaker[Session], domain: Domain, city: City
) -> None:
    """``get_ticket`` tells a number from an id by the layout's own reader
    (``numbers.parse``), not by a length counted again beside it (review82: "< 9 digits is
    an id", so a nine-digit id was looked up as a number)."""
    number = _file(sessions, domain, city, "13600000051")
    op = city.actor("operator")
    with sessions() as s:
        t = s.scalars(select(Ticket).where(Ticket.number == number)).one()
        assert service.get_ticket(session=s, actor=op, ref=number) is t
        assert service.get_ticket(session=s, actor=op, ref=str(t.id)) is t
        # A nine-digit id (its audit trail set aside: its rows point at the old id).
        s.execute(text("DELETE FROM ticket_events WHERE ticket_id = :i"), {"i": t.id})
        s.execute(text("UPDATE tickets SET id = 123456789 WHERE id = :i"), {"i": t.id})
        s.commit()
    with sessions() as s:
        assert service.get_ticket(session=s, actor=op, ref="123456789").number == number
        for ref in ("0" * 10, "9" * 12, str(2**31)):  # no number of the layout, no id
            with pytest.raises(service.NotFound):
                service.get_ticket(session=s, actor=op, ref=ref)
