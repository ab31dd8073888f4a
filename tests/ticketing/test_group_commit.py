"""The API's filings written in groups (ticketing.group_commit, views.write_filing): one
transaction a group, a savepoint a filing, nothing answered before the commit; on both
databases, socket-free."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import multiprocessing
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any

import pytest
from fastapi import HTTPException
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient
from sqlalchemy import Engine, String, event, func, select, text, update
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker
from starlette.datastructures import State

from config import Settings
from hotline.app import create_app
from tests.support.api import auth
from tests.support.city import City
from ticketing import deps, numbers, schemas, service, views
from ticketing.context import Domain
from ticketing.db import (
    database_unavailable,
    make_engine,
    make_session_factory,
)
from ticketing.deps import TokenGate
from ticketing.group_commit import GroupCommit, WriterStopped
from ticketing.idempotency import KeyReused
from ticketing.inputs import InvalidInput
from ticketing.models import IdempotencyKey, SupervisionCase, Ticket, TicketEvent, User
from ticketing.schemas import TicketCreate, TicketOut
from ticketing.views import Filing, FilingWriter, filing_group, filing_writer

BODY = {"caller_phone": "13811112222", "demand": "朝阳区望京西园三区5号楼停水了，一直没来水",
        "category": "water"}


def filing(city: City, domain: Domain, *, user: str = "operator", key: str | None = None,
           **fields: Any) -> Filing:
    body = TicketCreate(**{**BODY, **fields})
    return Filing(body=body, token=city.tokens[user], domain=domain, key=key, classified=True,
                  understood=service.understand_demand(domain=domain, demand=body.demand))


def writer(sessions: sessionmaker[Session]) -> FilingWriter:
    return filing_group(sessions)


def stored(sessions: sessionmaker[Session]) -> tuple[int, int, int]:
    """(tickets, their events, idempotency keys)."""
    with sessions() as s:
        return tuple(s.scalar(select(func.count()).select_from(t)) or 0  # type: ignore[return-value]
                     for t in (Ticket, TicketEvent, IdempotencyKey))


def test_a_group_files_each_in_order_in_one_transaction(
        sessions: sessionmaker[Session], domain: Domain, city: City) -> None:
    commits: list[int] = []
    engine = sessions.kw["bind"]
    event.listen(engine, "commit", lambda conn: commits.append(1))
    demands = ["朝阳区某小区停水了", "海淀区中关村大街井盖丢了", "丰台区某小区暖气不热"]
    outcomes = writer(sessions).write([filing(city, domain, demand=d, category=None)
                                       for d in demands])
    assert commits == [1]
    assert all(isinstance(o, TicketOut) for o in outcomes)
    shown = [o for o in outcomes if isinstance(o, TicketOut)]
    assert [o.demand for o in shown] == demands
    assert [int(o.number) for o in shown] == list(range(int(shown[0].number),
                                                        int(shown[0].number) + 3))
    with sessions() as s:
        for o in shown:
            ticket = s.scalars(select(Ticket).where(Ticket.number == o.number)).one()
            assert ticket.status == o.status == "dispatched"
            # The answer was read inside the transaction, with the dispatch in its trail.
            assert "dispatch" in {e.action for e in o.events or []}


def test_a_key_twice_in_one_group_files_one_ticket(
        sessions: sessionmaker[Session], domain: Domain, city: City) -> None:
    before = stored(sessions)
    outcomes = writer(sessions).write([
        filing(city, domain, key="twice"),
        filing(city, domain, key="twice"),
        filing(city, domain, key="twice", demand="海淀区中关村大街井盖丢了"),  # another body
        filing(city, domain, key="twice", user="supervisor"),  # another user's key
    ])
    first, again, reused, others = outcomes
    assert isinstance(first, TicketOut) and isinstance(again, TicketOut)
    assert again.number == first.number
    assert isinstance(reused, KeyReused)
    assert isinstance(others, TicketOut) and others.number != first.number
    after = stored(sessions)
    assert (after[0] - before[0], after[2] - before[2]) == (2, 2)


def test_a_bad_filing_answers_alone_and_the_others_commit(
        sessions: sessionmaker[Session], domain: Domain, city: City) -> None:
    before = stored(sessions)
    outcomes = writer(sessions).write([
        filing(city, domain),
        # Its key is claimed before the phone is refused: the savepoint takes the claim
        # back, so the same key with a good body files in the same group.
        filing(city, domain, key="mended", caller_phone="12"),
        filing(city, domain, key="mended"),
        filing(city, domain, user="cy-handler"),  # a role that may not file
        dataclasses.replace(filing(city, domain), token="revoked-or-never-issued"),
        filing(city, domain),
    ])
    good, bad, mended, handler, stranger, last = outcomes
    assert isinstance(bad, InvalidInput) and bad.field == "caller_phone"
    assert isinstance(handler, HTTPException) and handler.status_code == 403
    assert isinstance(stranger, HTTPException) and stranger.status_code == 401
    assert all(isinstance(o, TicketOut) for o in (good, mended, last))
    after = stored(sessions)
    assert (after[0] - before[0], after[2] - before[2]) == (3, 1)
    with sessions() as s:
        assert s.scalars(select(Ticket.number).join(
            IdempotencyKey, IdempotencyKey.ticket_id == Ticket.id)).all() == [
                mended.number]  # type: ignore[union-attr]
    # Alone (a group of one, no savepoint) the same: its claim is not committed.
    alone = writer(sessions).write([filing(city, domain, key="alone", caller_phone="12")])
    assert isinstance(alone[0], InvalidInput)
    assert stored(sessions)[2] == after[2]
    assert isinstance(writer(sessions).write([filing(city, domain, key="alone")])[0], TicketOut)


@contextmanager
def commit_fails(engine: Engine, db_url: str) -> Iterator[None]:
    """The next COMMIT on ``engine`` fails as the database makes it fail: PostgreSQL's
    backend is terminated under it (an outage); SQLite finds a foreign key broken, checked
    only at the commit (a constraint)."""
    def fail(conn: Any) -> None:
        event.remove(engine, "commit", fail)
        if db_url.startswith("postgresql"):
            pid = conn.connection.dbapi_connection.info.backend_pid
            with make_engine(db_url).connect() as other:
                other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
                other.commit()
        else:
            conn.exec_driver_sql("PRAGMA defer_foreign_keys = ON")
            conn.exec_driver_sql("UPDATE idempotency_keys SET ticket_id = 2000000000")

    event.listen(engine, "commit", fail)
    yield


def test_a_commit_that_fails_fails_every_filing_as_a_lone_one(
        client: TestClient, sessions: sessionmaker[Session], domain: Domain, city: City,
        db_url: str) -> None:
    app_sessions = client.app.state.sessions  # type: ignore[attr-defined]
    engine = client.app.state.engine  # type: ignore[attr-defined]
    before = stored(sessions)
    refused = filing(city, domain, key="refused", caller_phone="12")
    with commit_fails(engine, db_url):
        outcomes = writer(app_sessions).write([
            filing(city, domain, key="a"), refused, filing(city, domain, key="b")])
    first, own, last = outcomes
    assert isinstance(own, InvalidInput)  # refused before the commit: its own answer
    assert first is last and isinstance(first, Exception)
    assert stored(sessions) == before
    # A lone request failing so is answered the same way (503 for the outage; SQLite's
    # broken constraint raises, the 500 every error of our own gets).
    with commit_fails(engine, db_url):
        if database_unavailable(first):
            lone = client.post("/api/v1/tickets", json=BODY,
                               headers={**auth(city, "operator"), "Idempotency-Key": "c"})
            assert lone.status_code == 503
        else:
            with pytest.raises(type(first)):
                client.post("/api/v1/tickets", json=BODY,
                            headers={**auth(city, "operator"), "Idempotency-Key": "c"})
    assert stored(sessions) == before
    # The writer goes on: the next group commits.
    again = writer(app_sessions).write([filing(city, domain, key="a")])
    assert isinstance(again[0], TicketOut)


def _crash_at_commit(db_url: str, filings: list[Filing]) -> None:
    engine = make_engine(db_url)
    event.listen(engine, "commit", lambda conn: os._exit(3))
    outcomes = writer(make_session_factory(engine)).write(filings)
    os._exit(0 if outcomes else 1)  # not reached: nothing returns before the commit


def test_a_crash_before_the_commit_answers_nobody_and_loses_nothing_answered(
        sessions: sessionmaker[Session], domain: Domain, city: City, db_url: str) -> None:
    before = stored(sessions)
    filings = [filing(city, domain, key="crash"), filing(city, domain)]
    child = multiprocessing.get_context("fork").Process(
        target=_crash_at_commit, args=(db_url, filings))
    child.start()
    child.join(60)
    assert child.exitcode == 3
    assert stored(sessions) == before
    # The process's lock and transaction died with it: the same filings file afterwards.
    outcomes = writer(sessions).write(filings)
    assert all(isinstance(o, TicketOut) for o in outcomes)


def test_requests_filing_at_once_share_one_transaction(
        client: TestClient, sessions: sessionmaker[Session], city: City, db_url: str) -> None:
    """On SQLite, requests that come while the writer is busy wait and are filed in one
    group, each answered with its own ticket; on PostgreSQL each files alone."""
    state = client.app.state  # type: ignore[attr-defined]
    groups: list[int] = []
    writing = threading.Event()

    class Request:  # what filing_writer reads of a request
        app = client.app

    shared = filing_writer(Request())  # type: ignore[arg-type]
    if db_url.startswith("postgresql"):
        assert shared is None
        lone = client.post("/api/v1/tickets", headers=auth(city, "operator"), json=BODY)
        assert lone.status_code == 201 and lone.json()["status"] == "dispatched"
        return
    assert shared is not None
    write = shared.write

    def counted(items: list[Filing]) -> list[Any]:
        groups.append(len(items))
        writing.set()
        return write(items)

    shared.write = counted  # type: ignore[method-assign]
    answers: list[Any] = []

    def post(n: int) -> None:
        answers.append(client.post("/api/v1/tickets", headers=auth(city, "operator"),
                                   json={**BODY, "caller_name": f"市民{n}"}))

    # The database held by another writer: the first group waits for it.
    with sessions() as holder:
        holder.execute(select(1))  # BEGIN IMMEDIATE: the writers' turn and SQLite's lock
        threads = [threading.Thread(target=post, args=(0,))]
        threads[0].start()
        assert writing.wait(30)
        threads += [threading.Thread(target=post, args=(n,)) for n in range(1, 5)]
        for t in threads[1:]:
            t.start()
        for _ in range(600):
            if shared.waiting == 4:
                break
            threading.Event().wait(0.05)
        assert shared.waiting == 4
        holder.rollback()
    for t in threads:
        t.join(60)
    assert groups == [1, 4]
    assert [a.status_code for a in answers] == [201] * 5
    assert len({a.json()["number"] for a in answers}) == 5
    assert sorted(a.json()["caller_name"] for a in answers) == [f"市民{n}" for n in range(5)]
    assert state.filing_writer is shared



def fail_answer_of(monkeypatch: pytest.MonkeyPatch, phone: str) -> None:
    """The filing for ``phone`` fails after its INSERT (reading its answer), each time it is
    written (a group with a failing filing is written again, a savepoint each)."""
    answer = views.filed_values

    def fails(session: Session, ticket: Ticket, actor: Any) -> dict[str, Any]:
        if ticket.caller_phone == phone:  # as stored: +86 and the number
            raise RuntimeError("the answer could not be read")
        return answer(session, ticket, actor)

    monkeypatch.setattr(views, "filed_values", fails)


def assert_stored(sessions: sessionmaker[Session], *answered: TicketOut) -> None:
    """Each answered ticket is stored as answered, created and dispatched."""
    with sessions() as s:
        for o in answered:
            ticket = s.scalars(select(Ticket).where(Ticket.number == o.number)).one()
            assert ticket.demand == o.demand
            assert {"create", "dispatch"} <= {e.action for e in ticket.events}


def test_a_filing_failing_after_its_insert_leaves_the_others_filed(
        sessions: sessionmaker[Session], domain: Domain, city: City,
        monkeypatch: pytest.MonkeyPatch) -> None:
    # The ticket and its trail are written by Core (service's write at once), not a flush:
    # the savepoint's rollback must take them out of the session all the same, or the next
    # filing's ticket (SQLite gives it the same rowid) clashes with the dead one.
    fail_answer_of(monkeypatch, "+8613822220001")
    before = stored(sessions)
    demands = ["朝阳区某小区停水了", "海淀区中关村大街井盖丢了", "丰台区某小区暖气不热"]
    first, failed, last = writer(sessions).write([
        filing(city, domain, caller_phone=f"1382222{i:04d}", demand=d, category=None)
        for i, d in enumerate(demands)])
    assert isinstance(failed, RuntimeError)
    assert isinstance(first, TicketOut) and isinstance(last, TicketOut)
    assert (first.demand, last.demand) == (demands[0], demands[2])
    assert stored(sessions)[0] - before[0] == 2
    assert_stored(sessions, first, last)
    assert first.number != last.number


def test_each_answer_is_built_after_the_groups_commit(
        sessions: sessionmaker[Session], domain: Domain, city: City,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Building an answer reads no row (the number's display form, the models'
    validation): it waits for the commit, outside SQLite's writers' turn, where it held up
    every other writer (docs/scaling.md, twenty-seventh round); it shows what it showed
    built in the transaction (the ticket and its trail as the filer may see them)."""
    steps: list[str] = []
    event.listen(sessions.kw["bind"], "commit", lambda conn: steps.append("commit"))
    shown_as = schemas.display

    def display(e164: str | None) -> str:
        steps.append("answer")
        return shown_as(e164)

    monkeypatch.setattr(schemas, "display", display)
    demands = ["朝阳区某小区停水了", "海淀区中关村大街井盖丢了", "丰台区某小区暖气不热"]
    outcomes = writer(sessions).write([
        filing(city, domain, caller_phone=f"1382223{i:04d}", demand=d, category=None)
        for i, d in enumerate(demands)])
    assert steps == ["commit", "answer", "answer", "answer"]
    shown = [o for o in outcomes if isinstance(o, TicketOut)]
    assert [o.caller_phone_display for o in shown] == [f"138 2223 {i:04d}" for i in range(3)]
    with sessions() as s:
        for o in shown:
            ticket = s.scalars(select(Ticket).where(Ticket.number == o.number)).one()
            again = views.filed_answer(s, ticket, deps.authenticated(s, city.tokens["operator"]))
            assert o == again


def build_fails_for(monkeypatch: pytest.MonkeyPatch, phone: str | None) -> None:
    """``TicketOut.build`` fails for the filing of ``phone`` (as stored), every time (None:
    for every filing): a fault in building an answer, after the ticket's commit."""
    build = TicketOut.build

    def fails(values: dict[str, Any]) -> TicketOut:
        if phone is None or values["caller_phone"] == phone:
            raise RuntimeError("the answer could not be built")
        return build(values)

    monkeypatch.setattr(TicketOut, "build", fails)


def test_an_answer_failing_after_the_commit_answers_its_filing_as_filed(
        sessions: sessionmaker[Session], domain: Domain, city: City,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Built after the commit, an answer that fails leaves its ticket filed, and says so:
    201 with the committed plain values (its number, id, status, deadlines), the others
    answered in full; a replay with the Idempotency-Key answers the same ticket (before,
    review66: the error itself, a 500, on the first request and on every replay)."""
    build_fails_for(monkeypatch, "+8613822240001")
    before = stored(sessions)
    first, failed, last = writer(sessions).write([
        filing(city, domain, caller_phone=f"1382224{i:04d}", key=f"built-{i}")
        for i in range(3)])
    assert isinstance(first, TicketOut) and isinstance(last, TicketOut)
    assert isinstance(failed, JSONResponse) and failed.status_code == 201
    plain = json.loads(failed.body)
    with sessions() as s:
        ticket = s.scalars(select(Ticket).where(Ticket.number == plain["number"])).one()
        assert (plain["id"], plain["status"], plain["partial"]) == (ticket.id, ticket.status, True)
        assert plain["unit"] == "bj-water" and plain["due_at"]
    assert stored(sessions)[0] - before[0] == 3
    (replayed,) = writer(sessions).write([
        filing(city, domain, caller_phone="13822240001", key="built-1")])
    assert isinstance(replayed, JSONResponse) and json.loads(replayed.body) == plain
    monkeypatch.undo()
    (again,) = writer(sessions).write([
        filing(city, domain, caller_phone="13822240001", key="built-1")])
    assert isinstance(again, TicketOut) and again.number == plain["number"]
    assert stored(sessions)[0] - before[0] == 3


def test_an_answer_failing_after_the_commit_is_a_201_over_http(
        settings: Settings, city: City, sessions: sessionmaker[Session],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Over HTTP, on both databases (SQLite's group writer, PostgreSQL's lone filing): the
    client of a filing whose answer failed after its commit gets 201 and the ticket's
    number, JSON; a retry with its key the same ticket, none filed again. Before
    (review66): 500 text/plain each time, and a client retrying without a key filed a
    second ticket. If not even the plain values can be answered: a 500 of ErrorOut's
    shape that names the ticket filed."""
    build_fails_for(monkeypatch, None)
    before = stored(sessions)[0]
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        headers = {**auth(city, "operator"), "Idempotency-Key": "built-http"}
        first = client.post("/api/v1/tickets", headers=headers, json=BODY)
        assert first.status_code == 201, first.text
        number = first.json()["number"]
        assert first.json()["status"] == "dispatched"
        retry = client.post("/api/v1/tickets", headers=headers, json=BODY)
        assert (retry.status_code, retry.json()["number"]) == (201, number)
        assert stored(sessions)[0] - before == 1
        monkeypatch.setattr(views, "jsonable_encoder", lambda _: 1 / 0)
        worst = client.post("/api/v1/tickets", headers=headers, json=BODY)
        assert worst.status_code == 500
        assert worst.json()["error"] == "answer_failed" and number in worst.json()["detail"]
        monkeypatch.undo()
        mended = client.post("/api/v1/tickets", headers=headers, json=BODY)
        assert (mended.status_code, mended.json()["number"]) == (201, number)
        assert mended.json()["demand"] == BODY["demand"]
    assert stored(sessions)[0] - before == 1


def test_a_group_picks_the_handlers_lone_filings_would_reading_each_unit_once(
        sessions: sessionmaker[Session], domain: Domain, city: City,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The least-loaded on-duty handler: a group reads each unit's handlers and loads once
    and counts its own picks in memory (a SELECT a ticket was ~0.4 ms of SQLite's writers'
    turn); every filing gets the handler it would get filed alone after the ones before it,
    ties to the lowest id, and a filing rolled back in its savepoint after its pick counts
    for nobody."""
    ids = water_handlers(sessions, city, "abc")
    # Open tickets held before: water-handler (the lowest id) 2, water-a 0, b 1, c 3: the
    # loads' order is not the ids'.
    held = ["water-handler"] * 2 + ["water-b"] + ["water-c"] * 3
    setup = writer(sessions).write([filing(city, domain, caller_phone=f"1382225{i:04d}",
                                           demand="朝阳区某小区停水了")
                                    for i in range(len(held))])
    with sessions() as s:
        for o, name in zip(setup, held, strict=True):
            assert isinstance(o, TicketOut)
            s.execute(update(Ticket).where(Ticket.id == o.id).values(handler_id=ids[name]))
        s.commit()

    def filings(first: int) -> list[Filing]:
        return [filing(city, domain, caller_phone=f"138223{first + i:05d}",
                       demand="朝阳区某小区停水了") for i in range(9)]

    def closed(outcomes: list[Any]) -> list[str | None]:
        """The handlers picked; their tickets then closed: the loads are as before."""
        with sessions() as s:
            s.execute(update(Ticket).where(Ticket.id.in_(
                [o.id for o in outcomes if isinstance(o, TicketOut)])).values(status="closed"))
            s.commit()
        return [o.handler for o in outcomes if isinstance(o, TicketOut)]

    lone = closed([writer(sessions).write([f])[0] for f in filings(0)])
    assert lone[:4] == ["water-a", "water-a", "water-b", "water-handler"]
    # The IVR's, the console's and 改派's path (a ticket a transaction, nothing counted)
    # picks by the same rule (review66: it was a second copy, an ORDER BY).
    assert ivr_picks(sessions, domain, city, [f.body for f in filings(50)]) == lone
    reads: list[str] = []
    event.listen(sessions.kw["bind"], "before_cursor_execute",
                 lambda conn, cursor, sql, *args: reads.append(sql)
                 if "FROM users" in sql and "count(" in sql else None)
    assert closed(writer(sessions).write(filings(100))) == lone
    assert len(reads) == 1
    # A filing failing after its pick (reading its answer): the group is written again, a
    # savepoint each, and the one rolled back leaves the loads as they were.
    fail_answer_of(monkeypatch, "+8613822300103")
    group = writer(sessions).write(filings(100))
    assert isinstance(group[3], RuntimeError)
    assert closed(group) == lone[:8]


def ivr_picks(sessions: sessionmaker[Session], domain: Domain, city: City,
              bodies: list[TicketCreate]) -> list[str | None]:
    """The handlers auto-dispatch picks for ``bodies`` filed as the IVR and the console
    file, each in a transaction of its own (no group, nothing counted); the tickets then
    closed, the loads as before."""
    picked: list[str | None] = []
    ids: list[int] = []
    for body in bodies:
        with sessions() as s:
            ticket = service.create_ticket(
                session=s, domain=domain, actor=deps.authenticated(s, city.tokens["operator"]),
                channel="phone", caller_phone=body.caller_phone, demand=body.demand,
                accept_now=True)
            s.commit()
            picked.append(ticket.handler.username if ticket.handler else None)
            ids.append(ticket.id)
    with sessions() as s:
        s.execute(update(Ticket).where(Ticket.id.in_(ids)).values(status="closed"))
        s.commit()
    return picked


def water_handlers(sessions: sessionmaker[Session], city: City, names: str) -> dict[str, int]:
    """``names`` (a letter each) added as on-duty handlers of bj-water: every handler's id
    by username."""
    water = city.unit_id("bj-water")
    with sessions() as s:
        s.add_all(User(username=f"water-{n}", display_name=f"自来水集团承办人{n}",
                       role="handler", unit_id=water) for n in names)
        s.commit()
        return {u.username: u.id for u in s.scalars(
            select(User).where(User.unit_id == water, User.role == "handler"))}


def test_a_pick_loads_no_handler_but_the_one_chosen_and_counts_only_in_groups(
        sessions: sessionmaker[Session], domain: Domain, city: City,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A pick reads the unit's (handler id, load) rows and loads the chosen handler alone
    (before, review66: every on-duty handler of the unit as an ORM object, in every
    filing); a group of one counts nothing (only a group of more than one reads the
    loads once and counts its picks)."""
    water_handlers(sessions, city, "abcdefgh")
    loaded: list[str] = []

    def load(user: User, _: Any) -> None:
        loaded.append(user.username)

    def made(_: User, __: Any, kwargs: dict[str, Any]) -> None:
        loaded.append(kwargs.get("username", ""))  # a row put into the session as loaded

    event.listen(User, "load", load)
    event.listen(User, "init", made)
    counted: list[int] = []
    count = service.count_handler_picks
    monkeypatch.setattr(service, "count_handler_picks",
                        lambda session: counted.append(1) or count(session))
    try:
        (alone,) = writer(sessions).write([filing(city, domain, caller_phone="13822260001")])
        assert isinstance(alone, TicketOut) and alone.handler
        assert counted == []
        assert [n for n in loaded if n.startswith("water-")] == [alone.handler]
        loaded.clear()
        two = writer(sessions).write([filing(city, domain, caller_phone=f"1382226{i:04d}")
                                      for i in (2, 3)])
        picked = {o.handler for o in two if isinstance(o, TicketOut)}
        assert len(picked) == 2 and counted
        assert {n for n in loaded if n.startswith("water-")} == picked
    finally:
        event.remove(User, "load", load)
        event.remove(User, "init", made)


def test_a_reassigned_ticket_leaves_the_loads_counted_as_they_are_after_it(
        sessions: sessionmaker[Session], domain: Domain, city: City) -> None:
    """改派 in a transaction that counts its picks: the loads are read again once the
    ticket has moved. Before (review66) they were read before the move, and the handler
    who held it stayed one ticket too high for the transaction's next pick."""
    ids = water_handlers(sessions, city, "z")
    held = writer(sessions).write([filing(city, domain, caller_phone=f"1382227{i:04d}")
                                   for i in range(3)])
    moved, *_ = ids_of = [o.id for o in held if isinstance(o, TicketOut)]
    with sessions() as s:
        # water-z (the higher id) holds two, water-handler one.
        for ticket_id, name in zip(ids_of, ["water-z", "water-z", "water-handler"], strict=True):
            s.execute(update(Ticket).where(Ticket.id == ticket_id).values(handler_id=ids[name]))
        s.commit()
    water = city.unit_id("bj-water")
    with sessions() as s:
        service.count_handler_picks(s)
        ticket = s.get_one(Ticket, moved)
        service.reassign(session=s, domain=domain, ticket=ticket,
                         actor=deps.authenticated(s, city.tokens["supervisor"]),
                         unit_id=water, reason="承办人调整")
        assert ticket.handler.username == "water-handler"  # 1 against 2
        # Now water-handler holds two, water-z one: the next pick is water-z's.
        picked = service.on_duty_handler(session=s, unit_id=water)
        assert picked is not None and picked.username == "water-z"


def test_a_pick_reads_the_transactions_own_changes_not_yet_written(
        sessions: sessionmaker[Session], domain: Domain, city: City) -> None:
    """The unit's on-duty handlers are read on the session's connection, not through the
    ORM's execution (docs/scaling.md, twenty-ninth round), after the session's pending
    changes are flushed as its own execute flushed them: a handler taken off duty earlier
    in the same transaction, not yet written, is not picked."""
    water_handlers(sessions, city, "y")
    water = city.unit_id("bj-water")
    with sessions() as s:
        first = service.on_duty_handler(session=s, unit_id=water)
        assert first is not None
        first.on_duty = False  # pending: written by the next read's flush
        picked = service.on_duty_handler(session=s, unit_id=water)
        assert picked is not None and picked.username != first.username


def test_a_filing_failing_after_joining_a_case_leaves_its_count_as_stored(
        sessions: sessionmaker[Session], domain: Domain, city: City,
        monkeypatch: pytest.MonkeyPatch) -> None:
    # A filing that joins an open 督办 record sets the record's count as the UPDATE queued
    # for the commit will store it; its savepoint rolled back, the next joiner must read
    # the count as stored, not one too high.
    def same_problem(i: int) -> Filing:
        return filing(city, domain, caller_phone=f"1383333{i:04d}")

    opened = writer(sessions).write([same_problem(i) for i in range(3)])
    assert all(isinstance(o, TicketOut) for o in opened)
    with sessions() as s:
        case = s.scalars(select(SupervisionCase)).one()
        assert case.tickets == 3
    fail_answer_of(monkeypatch, "+8613833330004")
    first, failed, last = writer(sessions).write([same_problem(i) for i in range(3, 6)])
    assert isinstance(failed, RuntimeError)
    assert isinstance(first, TicketOut) and isinstance(last, TicketOut)
    with sessions() as s:
        assert s.scalars(select(SupervisionCase)).one().tickets == 5
        notes = s.scalars(select(TicketEvent.note).join(Ticket).where(
            Ticket.number == last.number, TicketEvent.note.contains("督办"))).all()
    assert notes and all("共5件" in n for n in notes if n), notes


def test_a_write_that_raises_leaves_no_filing_waiting() -> None:
    """An exception escapes write() (here its session's close) while another filing is
    handed over: the first gets the writer's error, the other is written by a writer
    started for it. Before: the writer ended with it waiting, answered only when some
    later filing came."""
    started, release = threading.Event(), threading.Event()

    class ClosesBadlyOnce(GroupCommit[str, str, str]):
        calls = 0

        def write(self, items: list[str]) -> list[str | Exception]:
            ClosesBadlyOnce.calls += 1
            if ClosesBadlyOnce.calls == 1:
                started.set()
                release.wait(10)
                raise RuntimeError("session.close() failed")
            return [f"filed {item}" for item in items]

    async def two_filings() -> tuple[BaseException | str, str]:
        group = ClosesBadlyOnce(None, None)  # type: ignore[arg-type]
        first = asyncio.create_task(group.submit("A"))
        await asyncio.to_thread(started.wait, 10)
        second = asyncio.create_task(group.submit("B"))
        await asyncio.sleep(0)  # B handed over while A's group is written
        release.set()
        (a,) = await asyncio.gather(first, return_exceptions=True)
        # Bounded: before the fix B waited for ever.
        return a, await asyncio.wait_for(second, 10)

    a, b = asyncio.run(two_filings())
    assert isinstance(a, WriterStopped) and isinstance(a.__cause__, RuntimeError)
    assert b == "filed B"


def classifying_writer(sessions: sessionmaker[Session]) -> FilingWriter:
    """The API's writer on SQLite (``filing_writer``): it checks each filing's token and
    classifies it in its own thread, before the group's transaction."""
    state = State({"token_gate": TokenGate(), "read_sessions": sessions})
    return filing_group(sessions, prepare=partial(views.understood_filing, state))


def watched(sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What the writer does, in order: 'classify' a demand, 'insert' a ticket, 'savepoint'."""
    steps: list[str] = []
    understand = service.understand_demand

    def classify(**kwargs: Any) -> Any:
        steps.append("classify")
        return understand(**kwargs)

    def statement(conn: Any, cursor: Any, sql: str, *args: Any) -> None:
        if sql.startswith("INSERT INTO tickets"):
            steps.append("insert")
        elif sql.startswith("SAVEPOINT"):
            steps.append("savepoint")

    monkeypatch.setattr(service, "understand_demand", classify)
    event.listen(sessions.kw["bind"], "before_cursor_execute", statement)
    return steps


def test_the_writer_checks_and_classifies_each_filing_before_its_transaction(
        sessions: sessionmaker[Session], domain: Domain, city: City,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Handed over unclassified (as the API hands them): every filing's token checked and
    demand classified before the first INSERT; a stranger's or a handler's filing answers
    its own 401 or 403 and costs no classification; a refused input its own 422."""
    steps = watched(sessions, monkeypatch)
    before = stored(sessions)
    body = {**BODY, "category": None}
    handed = [
        Filing(body=TicketCreate(**body), token=city.tokens["operator"], domain=domain,
               key=None),
        Filing(body=TicketCreate(**body), token="revoked-or-never-issued", domain=domain,
               key=None),
        Filing(body=TicketCreate(**body), token=city.tokens["cy-handler"], domain=domain,
               key=None),
        Filing(body=TicketCreate(**{**body, "caller_phone": "12"}),
               token=city.tokens["operator"], domain=domain, key="refused"),
        Filing(body=TicketCreate(**{**body, "demand": "海淀区中关村大街人行道井盖丢了，很危险"}),
               token=city.tokens["supervisor"], domain=domain, key=None),
    ]
    good, stranger, handler, refused, last = classifying_writer(sessions).write(handed)
    assert isinstance(stranger, HTTPException) and stranger.status_code == 401
    assert isinstance(handler, HTTPException) and handler.status_code == 403
    assert isinstance(refused, InvalidInput) and refused.field == "caller_phone"
    assert isinstance(good, TicketOut) and isinstance(last, TicketOut)
    # Three classified (none for the stranger or the handler), all before the transaction
    # wrote anything; the two filed as classified then.
    assert steps[:3] == ["classify"] * 3 and "classify" not in steps[3:]
    assert steps.count("insert") == 3  # the refused one's rolled back with its savepoint
    for shown, filed in ((good, handed[0]), (last, handed[4])):
        understood = service.understand_demand(domain=domain, demand=filed.body.demand)
        assert understood is not None and shown.category == understood.category
    assert stored(sessions)[0] - before[0] == 2


def test_a_filing_left_alone_by_the_check_files_without_a_savepoint(
        sessions: sessionmaker[Session], domain: Domain, city: City,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The others of its group refused before the transaction, a filing is a group of one
    (its error its transaction's, no savepoint); all of them refused, no transaction."""
    steps = watched(sessions, monkeypatch)
    before = stored(sessions)
    stranger = Filing(body=TicketCreate(**BODY), token="nobody", domain=domain, key=None)
    only = classifying_writer(sessions).write([stranger, stranger])
    assert all(isinstance(o, HTTPException) and o.status_code == 401 for o in only)
    assert steps == [] and stored(sessions) == before
    good = dataclasses.replace(stranger, token=city.tokens["operator"])
    refused, filed = classifying_writer(sessions).write([stranger, good])
    assert isinstance(refused, HTTPException) and isinstance(filed, TicketOut)
    assert steps == ["classify", "insert"]
    assert stored(sessions)[0] - before[0] == 1


def test_a_group_is_written_without_savepoints_unless_a_filing_fails(
        sessions: sessionmaker[Session], domain: Domain, city: City, db_url: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A group whose filings all succeed is one plain transaction (no SAVEPOINT: two
    statements a filing saved). One that fails rolls the whole group back and it is
    written again, a savepoint a filing: the same outcomes as ever, nothing of the first
    attempt stored, and (SQLite, where the API groups) no number skipped."""
    steps = watched(sessions, monkeypatch)
    before = stored(sessions)
    # Three problems (three callers about one would open a 督办 record, in a savepoint
    # of its own: supervision.on_ticket).
    demands = ["朝阳区某小区停水了", "海淀区中关村大街井盖丢了", "丰台区某小区暖气不热"]
    good = writer(sessions).write([
        filing(city, domain, caller_phone=f"1384444{i:04d}", demand=d, category=None)
        for i, d in enumerate(demands)])
    assert all(isinstance(o, TicketOut) for o in good)
    written = [s for s in steps if s != "classify"]  # the filings were classified above
    assert written == ["insert"] * 3
    steps.clear()
    first, refused, last = writer(sessions).write([
        filing(city, domain, caller_phone="13844440010", demand="东城区某饭馆油烟扰民"),
        filing(city, domain, key="refused", caller_phone="12"),
        filing(city, domain, caller_phone="13844440011", demand="通州区某路口红绿灯坏了")])
    assert isinstance(refused, InvalidInput)
    assert isinstance(first, TicketOut) and isinstance(last, TicketOut)
    # Written once plainly (up to the refused one), then again in savepoints.
    written = [s for s in steps if s != "classify"]
    assert written == ["insert", "savepoint", "insert", "savepoint", "savepoint", "insert"]
    numbers = [int(o.number) for o in (*good, first, last)]  # type: ignore[union-attr]
    if db_url.startswith("sqlite"):  # PostgreSQL's counter commits on its own: a gap
        assert numbers == list(range(numbers[0], numbers[0] + 5))
    after = stored(sessions)
    assert (after[0] - before[0], after[2] - before[2]) == (5, 0)


@pytest.mark.parametrize("by_writer", [False, True], ids=["one-process", "api-worker"])
def test_the_api_classifies_in_the_writer_only_in_an_api_worker_of_several(
        client: TestClient, city: City, db_url: str, by_writer: bool) -> None:
    """On SQLite, an API worker of several processes (``hotline.app.api_worker_app``) hands
    its filings over unclassified; one process classifies in the request's thread. Either
    way a filing is answered as before: 201, a stranger's 401, a handler's 403."""
    state = client.app.state  # type: ignore[attr-defined]
    setattr(state, views.CLASSIFY_IN_WRITER, by_writer)

    class Request:  # what filing_writer reads of a request
        app = client.app

    writer = filing_writer(Request())  # type: ignore[arg-type]
    if db_url.startswith("postgresql"):
        assert writer is None
    else:
        assert writer is not None and writer.prepares is by_writer
    filed = client.post("/api/v1/tickets", headers=auth(city, "operator"),
                        json={**BODY, "category": None})
    assert filed.status_code == 201 and filed.json()["status"] == "dispatched"
    assert filed.json()["category"] == "water"
    stranger = client.post("/api/v1/tickets", json=BODY,
                           headers={"Authorization": "Bearer nobody"})
    handler = client.post("/api/v1/tickets", json=BODY, headers=auth(city, "cy-handler"))
    assert (stranger.status_code, handler.status_code) == (401, 403)


class _Probe(DeclarativeBase):
    pass


class ProbeRow(_Probe):
    """A row of the tests' own (the writer is generic): its ``name`` refused only when the
    row is flushed, as a filing's pending rows (a receipt's trail) are."""

    __tablename__ = "group_commit_probe"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str | None] = mapped_column(String(20), nullable=False)


@pytest.fixture
def probe(sessions: sessionmaker[Session]) -> Iterator[sessionmaker[Session]]:
    engine = sessions.kw["bind"]
    _Probe.metadata.create_all(engine)
    yield sessions
    _Probe.metadata.drop_all(engine)


def probe_names(sessions: sessionmaker[Session]) -> list[str | None]:
    with sessions() as s:
        return list(s.scalars(select(ProbeRow.name).order_by(ProbeRow.id)))


def answers(outcomes: list[Any]) -> list[str]:
    return [type(o).__name__ if isinstance(o, BaseException) else o for o in outcomes]


def test_a_filing_failing_at_its_savepoints_release_answers_once(
        probe: sessionmaker[Session]) -> None:
    """review57 #1: "bad" leaves its row pending (flushed only when its savepoint is
    released, and refused then). Before: it was answered twice (its 201 and the error),
    "c" got "bad"'s error though it committed (resent: filed twice) and the writer's
    zip(strict=True) failed."""
    def write_one(session: Session, item: str) -> str:
        session.add(ProbeRow(name=None if item == "bad" else item))
        if item != "bad":
            session.flush()
        return f"201 {item}"

    async def three() -> list[Any]:
        group = GroupCommit(probe, write_one)
        return await asyncio.gather(*(group.submit(x) for x in ["a", "bad", "c"]),
                                    return_exceptions=True)

    assert answers(asyncio.run(three())) == ["201 a", "IntegrityError", "201 c"]
    assert probe_names(probe) == ["a", "c"]


def test_a_filing_failing_at_the_commit_fails_itself_not_the_group(
        probe: sessionmaker[Session]) -> None:
    """review57 #2: the last filing's rows left pending were written at COMMIT, whose
    failure failed the whole group without the retry a savepoint each. Now each filing's
    rows are flushed in its own try: "bad" answers its error, "good" commits."""
    def write_one(session: Session, item: str) -> str:
        session.add(ProbeRow(name=None if item == "bad" else item))  # pending
        return f"201 {item}"

    assert answers(GroupCommit(probe, write_one).write(["good", "bad"])) == [
        "201 good", "IntegrityError"]
    assert probe_names(probe) == ["good"]


def test_the_writer_only_classifies_short_demands_of_known_tokens(
        client: TestClient, city: City, db_url: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """review57 #3: in an API worker of several (SQLite), a token not known a moment ago is
    read from the database in the request's thread, and a long demand classified there:
    the writer's thread, which every filing of its group waits for, only classifies the
    short demands of known tokens. Before: both were done in the writer's thread."""
    state = client.app.state  # type: ignore[attr-defined]
    setattr(state, views.CLASSIFY_IN_WRITER, True)

    class Request:  # what filing_writer reads of a request
        app = client.app

    shared = filing_writer(Request())  # type: ignore[arg-type]
    if db_url.startswith("postgresql"):  # no writer: each files alone
        assert shared is None
        return
    assert shared is not None and shared.prepares
    # The writer's own work before the group's BEGIN (the transaction reads the token's
    # user again, as every unit of work does: not counted here).
    in_writer = threading.local()
    prepare = shared._prepare
    assert prepare is not None

    def flagged(item: Filing) -> Filing:
        in_writer.on = True
        try:
            return prepare(item)
        finally:
            in_writer.on = False

    shared._prepare = flagged
    steps: list[tuple[str, bool]] = []
    read_token, understand = deps.actor_for_token, service.understand_demand

    def reading(**kwargs: Any) -> Any:
        if getattr(in_writer, "on", False):  # else the request's, or its transaction's
            steps.append(("token read", True))
        return read_token(**kwargs)

    def classify(**kwargs: Any) -> Any:
        steps.append((f"classify {len(kwargs['demand'])}", getattr(in_writer, "on", False)))
        return understand(**kwargs)

    monkeypatch.setattr(deps, "actor_for_token", reading)
    monkeypatch.setattr(service, "understand_demand", classify)
    short = BODY["demand"]
    long = (short * 40)[:views.WRITER_CLASSIFIES_UP_TO + 1]
    for demand in (short, short, long):
        filed = client.post("/api/v1/tickets", headers=auth(city, "operator"),
                            json={**BODY, "demand": demand, "category": None})
        assert filed.status_code == 201 and filed.json()["category"] == "water"
    assert steps == [(f"classify {len(short)}", True),
                     (f"classify {len(short)}", True), (f"classify {len(long)}", False)]
    steps.clear()
    stranger = client.post("/api/v1/tickets", json=BODY,
                           headers={"Authorization": "Bearer nobody"})
    handler = client.post("/api/v1/tickets", json=BODY, headers=auth(city, "cy-handler"))
    again = client.post("/api/v1/tickets", json=BODY, headers=auth(city, "cy-handler"))
    assert (stranger.status_code, handler.status_code, again.status_code) == (401, 403, 403)
    # Their tokens read in the requests' threads; nothing classified for them.
    assert steps == []


def test_a_group_numbers_its_tickets_as_lone_filings_would_bumping_the_counter_once(
        sessions: sessionmaker[Session], domain: Domain, city: City, db_url: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A group's numbers are one run, on from the lone filing before it, and the one after
    it goes on from its last: on SQLite the day's counter row is bumped by the group's first
    number only and set to its last before the commit (an UPDATE a ticket was a statement of
    the writers' turn each). A filing rolled back in its savepoint after taking its number
    gives it back: the next one gets it, as filed alone."""
    demands = ["朝阳区某小区停水了", "海淀区中关村大街井盖丢了", "丰台区某小区暖气不热",
               "东城区某饭馆油烟扰民", "通州区某路口红绿灯坏了"]

    def group(first: int) -> list[Any]:
        return writer(sessions).write([
            filing(city, domain, caller_phone=f"1385555{first + i:04d}", demand=d,
                   category=None) for i, d in enumerate(demands)])

    counter: list[str] = []
    event.listen(sessions.kw["bind"], "before_cursor_execute",
                 lambda conn, cursor, sql, *args: counter.append(sql)
                 if sql.lstrip().upper().startswith("UPDATE TICKET_SEQUENCES") else None)
    lone = writer(sessions).write([filing(city, domain, caller_phone="13855550999")])[0]
    counter.clear()
    filed = group(0)
    assert all(isinstance(o, TicketOut) for o in filed)
    after = writer(sessions).write([filing(city, domain, caller_phone="13855550998")])[0]
    numbers = [int(o.number) for o in (lone, *filed, after)]
    sqlite = db_url.startswith("sqlite")
    if sqlite:  # PostgreSQL's numbers come from a sequence, and can skip
        assert numbers == list(range(numbers[0], numbers[0] + 7))
        assert len(counter) == 3  # the group's bump and its last set, the lone filing's bump
        with sessions() as s:
            assert s.scalar(select(func.max(Ticket.number))) == str(numbers[-1])
    assert len(set(numbers)) == 7
    # The third fails after its number (reading its answer): the group is written again a
    # savepoint each, and the number it took and gave back goes to the fourth.
    fail_answer_of(monkeypatch, "+8613855550102")
    first, second, failed, fourth, fifth = group(100)
    assert isinstance(failed, RuntimeError)
    again = writer(sessions).write([filing(city, domain, caller_phone="13855550997")])[0]
    numbers = [int(o.number) for o in (after, first, second, fourth, fifth, again)]
    if sqlite:
        assert numbers == list(range(numbers[0], numbers[0] + 6))
    assert len(set(numbers)) == 6
    # The first fails after its number, taken by the bump (inside its savepoint, which
    # counting began in): the second gets it.
    fail_answer_of(monkeypatch, "+8613855550200")
    failed, *rest = group(200)
    assert isinstance(failed, RuntimeError)
    last = writer(sessions).write([filing(city, domain, caller_phone="13855550996")])[0]
    numbers = [int(o.number) for o in (again, *rest, last)]
    if sqlite:
        assert numbers == list(range(numbers[0], numbers[0] + 6))
    assert len(set(numbers)) == 6


def fail_flush_of(monkeypatch: pytest.MonkeyPatch, phone: str) -> None:
    """The filing for ``phone`` fails at a flush after its INSERT and its number: a row the
    database refuses (NOT NULL), not a Python raise. SQLAlchemy rolls back the flush's own
    sub-transaction, and with it the savepoint, whose exit then only closes it."""
    answer = views.filed_values

    def fails(session: Session, ticket: Ticket, actor: Any) -> dict[str, Any]:
        if ticket.caller_phone == phone:  # as stored: +86 and the number
            session.add(ProbeRow(name=None))
            session.flush()
        return answer(session, ticket, actor)

    monkeypatch.setattr(views, "filed_values", fails)


def test_a_filing_failing_at_a_flush_in_its_savepoint_gives_its_number_back(
        probe: sessionmaker[Session], domain: Domain, city: City, db_url: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """review73 #1: the second of three fails at a flush inside its savepoint (the group
    written again, a savepoint each). The rollback event named the flush's sub-transaction,
    not the savepoint it rolled back, so the number counted in memory was not given back:
    the third got the one after it, a gap (a lone filing leaves none). Now the third gets
    it, and what the failed filing left in the session is gone with its savepoint."""
    sessions = probe
    lone = writer(sessions).write([filing(city, domain, caller_phone="13855550399")])[0]
    before = stored(sessions)
    fail_flush_of(monkeypatch, "+8613855550302")
    demands = ["朝阳区某小区停水了", "海淀区中关村大街井盖丢了", "丰台区某小区暖气不热"]
    first, failed, third = writer(sessions).write([
        filing(city, domain, caller_phone=f"138555503{i:02d}", demand=d, category=None)
        for i, d in zip((1, 2, 3), demands, strict=True)])
    assert type(failed).__name__ == "IntegrityError"
    assert isinstance(first, TicketOut) and isinstance(third, TicketOut)
    after = writer(sessions).write([filing(city, domain, caller_phone="13855550398")])[0]
    assert stored(sessions)[0] - before[0] == 3
    assert_stored(sessions, first, third)
    numbers = [int(o.number) for o in (lone, first, third, after)]
    assert len(set(numbers)) == 4
    if db_url.startswith("sqlite"):  # PostgreSQL's come from a sequence, and can skip
        assert numbers == list(range(numbers[0], numbers[0] + 4))
        with sessions() as s:
            assert s.scalar(select(func.max(Ticket.number))) == str(numbers[-1])


def set_numbers_back(sessions: sessionmaker[Session], domain: Domain, db_url: str,
                     by: int) -> None:
    """The next ``by`` numbers of today are taken already (the counter row, or the
    sequence, set back by hand, as after a restore of tickets without it)."""
    today = numbers.day_of(domain.now(), domain.tz)
    with sessions() as s:
        if db_url.startswith("sqlite"):
            s.execute(text("UPDATE ticket_sequences SET last = last - :n WHERE day = :d"),
                      {"n": by, "d": today})
        else:
            s.execute(text("SELECT setval('ticket_numbers', last_value - :n + 1, false) "
                           "FROM ticket_numbers"), {"n": by})
        s.commit()


def test_a_number_taken_is_filed_once_more_alone_the_others_of_its_group_filed(
        sessions: sessionmaker[Session], domain: Domain, city: City, db_url: str) -> None:
    """review73 #3: on SQLite the taken number was not recognised (a 500, and every filing
    after it refused the same number: a rolled-back bump hands it out again); in a group a
    taken number failed every filing with a 503 and no retry, where a lone filing got one.
    Now the one filing is written once more, numbered past it, on both databases; the
    others of its group are filed, nothing twice."""
    sqlite = db_url.startswith("sqlite")
    last = writer(sessions).write([filing(city, domain, caller_phone="13855550499")])[0]
    set_numbers_back(sessions, domain, db_url, 1)
    before = stored(sessions)
    group = writer(sessions).write([filing(city, domain, caller_phone=f"138555504{i:02d}")
                                    for i in (1, 2, 3)])
    assert all(isinstance(o, TicketOut) for o in group), answers(group)
    set_numbers_back(sessions, domain, db_url, 1)
    alone = writer(sessions).write([filing(city, domain, caller_phone="13855550404")])[0]
    assert isinstance(alone, TicketOut), alone
    assert stored(sessions)[0] - before[0] == 4
    numbers = [int(o.number) for o in (last, *group, alone)]
    assert len(set(numbers)) == 5
    if sqlite:  # numbered on past the highest filed
        assert numbers == list(range(numbers[0], numbers[0] + 5))
    # Set back by three: the second try numbers past the highest filed on both databases
    # (SQLite's counter row, PostgreSQL's sequence moved there first: loose31; before,
    # PostgreSQL's second number was taken as well and the filing answered 503).
    set_numbers_back(sessions, domain, db_url, 3)
    first, second = writer(sessions).write([
        filing(city, domain, caller_phone=f"138555504{i:02d}") for i in (5, 6)])
    assert isinstance(first, TicketOut) and isinstance(second, TicketOut), answers([first])
    assert [int(first.number), int(second.number)] == [numbers[-1] + 1, numbers[-1] + 2]
