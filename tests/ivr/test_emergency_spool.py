"""三号联动 when the database is down: the hand-over goes through the call's spool journal like
any complaint, so the urgent ticket and its hand-over event are filed by recover_spool later,
once per call; and the transfer never waits on the database. Socket-free: CallIntake is what
the dialogue's EMERGENCY state calls before it bridges the caller (ivr.call_flow)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

from ivr.callrecords import CallOutcome
from ivr.intake import CallIntake, Spool, recover_spool
from tests.support.city import City
from ticketing.context import Domain
from ticketing.db import make_engine, make_session_factory
from ticketing.models import Ticket, TicketEvent

FIRE = "我们楼道里着火了，浓烟很大，快来人啊"
CALLER = "13800138000"


@pytest.fixture
def dead() -> Iterator[sessionmaker[Session]]:
    # Nothing listens on port 1: every connection attempt fails at once.
    engine = make_engine("postgresql+psycopg://postgres@127.0.0.1:1/none",
                         connect_args={"connect_timeout": 1})
    yield make_session_factory(engine)
    engine.dispose()


def _handed_over(sessions: sessionmaker[Session], domain: Domain, spool: Spool,
                 call_id: str) -> CallIntake:
    intake = CallIntake(sessions=sessions, domain=domain, spool=spool, call_id=call_id,
                        caller=CALLER)
    intake.understood(FIRE)
    intake.hand_over("119", "operator")
    return intake


def _filed(sessions: sessionmaker[Session], call_id: str) -> tuple[Ticket, list[TicketEvent]]:
    with sessions() as s:
        (ticket,) = s.scalars(select(Ticket).where(Ticket.call_id == call_id)).all()
        events = list(s.scalars(select(TicketEvent).where(
            TicketEvent.ticket_id == ticket.id, TicketEvent.action == "emergency_handover")))
        s.expunge_all()
    return ticket, events


def test_hand_over_with_the_database_down_is_filed_once_by_recovery(
        dead: sessionmaker[Session], sessions: sessionmaker[Session], domain: Domain,
        city: City, tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    intake = _handed_over(dead, domain, spool, "fire-1")
    assert not intake.end(CallOutcome.TICKET)  # database down: kept in the spool
    (journal,) = spool.pending()
    assert journal.handover == {"service": "119", "target": "operator"}
    assert journal.want_ticket and journal.ticket_number is None

    assert recover_spool(sessions=sessions, domain=domain, spool=spool) == ["fire-1"]
    assert spool.pending() == []
    ticket, events = _filed(sessions, "fire-1")
    assert ticket.emergency == "119" and ticket.urgency == "urgent"
    assert ticket.caller_phone == "+8613800138000" and ticket.transcript == FIRE
    assert [(e.data, e.note, e.actor_name) for e in events] == [
        ({"service": "119", "target": "operator"}, "发起转接119", "ivr")]

    # A crash after the commit but before the spool file went: settled again, nothing twice.
    spool.write(journal)
    assert recover_spool(sessions=sessions, domain=domain, spool=spool) == ["fire-1"]
    again, events_again = _filed(sessions, "fire-1")
    assert again.id == ticket.id and [e.id for e in events_again] == [e.id for e in events]


def test_the_hand_over_does_not_wait_for_the_database(
        sessions: sessionmaker[Session], domain: Domain, city: City, tmp_path: Path) -> None:
    # A database that hangs (a dropped network path): connecting blocks until released.
    entered, release = threading.Event(), threading.Event()

    def hanging_connect() -> psycopg.Connection:
        entered.set()
        release.wait()
        raise psycopg.OperationalError("connection timed out")

    hung = create_engine("postgresql+psycopg://", creator=hanging_connect, poolclass=NullPool)
    spool = Spool(tmp_path / "spool")
    try:
        intake = _handed_over(make_session_factory(hung), domain, spool, "fire-2")
        # hand_over has returned (the caller is being bridged) while the write still hangs,
        # and the spool already holds what recovery needs.
        assert entered.wait(timeout=30) and not release.is_set()
        (journal,) = spool.pending()
        assert journal.handover == {"service": "119", "target": "operator"}
        release.set()
        assert not intake.end(CallOutcome.TICKET)
    finally:
        release.set()
        hung.dispose()
    assert recover_spool(sessions=sessions, domain=domain, spool=spool) == ["fire-2"]
    ticket, events = _filed(sessions, "fire-2")
    assert ticket.urgency == "urgent" and [e.data for e in events] == [
        {"service": "119", "target": "operator"}]


def test_with_the_database_up_the_call_ends_filed_with_one_hand_over(
        sessions: sessionmaker[Session], domain: Domain, city: City, tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    intake = _handed_over(sessions, domain, spool, "fire-3")
    assert intake.end(CallOutcome.TICKET)  # the background write and the settle agree
    assert spool.pending() == []
    ticket, events = _filed(sessions, "fire-3")
    assert intake.journal.ticket_number == ticket.number
    assert [e.data for e in events] == [{"service": "119", "target": "operator"}]


def test_an_unknown_service_in_the_spool_still_files_the_urgent_ticket(
        dead: sessionmaker[Session], sessions: sessionmaker[Session], domain: Domain,
        city: City, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    # A spool file edited by hand, or left by another version, names no service we know.
    spool = Spool(tmp_path / "spool")
    intake = _handed_over(dead, domain, spool, "fire-4")
    assert not intake.end(CallOutcome.TICKET)
    (journal,) = spool.pending()
    journal.handover = {"service": "999", "target": "operator"}
    spool.write(journal)
    with caplog.at_level(logging.ERROR, logger="hotline.ivr.intake"):
        assert recover_spool(sessions=sessions, domain=domain, spool=spool) == ["fire-4"]
    ticket, events = _filed(sessions, "fire-4")
    assert ticket.urgency == "urgent" and events == []
    assert any("hand-over not recorded" in r.getMessage() for r in caplog.records)


def test_a_crash_after_the_bridge_ended_files_its_result_once(
        sessions: sessionmaker[Session], domain: Domain, city: City, tmp_path: Path) -> None:
    """review126: the ticket is filed aside at the hand-over, before the bridge ends; the
    process dies after the bridge ended, before the call's end settled it. The journal holds
    how it ended, and recovery adds it to the ticket filed earlier -- once, settled twice."""
    spool = Spool(tmp_path / "spool")
    intake = _handed_over(sessions, domain, spool, "fire-2")
    intake._await_filing()  # the urgent ticket, filed while the caller was bridged
    intake.handover_ended("no_answer")
    (journal,) = spool.pending()  # the crash: no end(), the journal as the disk has it
    assert journal.handover_result == "no_answer" and journal.ended_at is None

    def trail() -> list[str | None]:
        with sessions() as s:
            return list(s.scalars(select(TicketEvent.note).where(
                TicketEvent.action.like("emergency_handover%")).order_by(TicketEvent.id)))

    assert trail() == ["发起转接119"]
    for _ in range(2):  # the second: a crash between the commit and the spool file's removal
        assert recover_spool(sessions=sessions, domain=domain, spool=spool,
                             restarted=True) == ["fire-2"]
        # The target the spool names (the duty operator) is who was rung (handover47).
        assert trail() == ["发起转接119", "未接通值班员：无人应答，已告知来电人直接拨打119"]
        spool.write(journal)
