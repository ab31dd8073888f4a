"""One ticket for one call when two settle it at once: the call's thread at hang-up and the
voice job's recover_spool read the same ended journal from the spool (seen as two tickets
for one call in test_scale_out). Socket-free, on SQLite and PostgreSQL."""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ivr import intake as ivr_intake
from ivr.callrecords import CallOutcome, CallRecord
from ivr.intake import CallIntake, Spool, settle
from tests.support.city import City
from ticketing.context import Domain
from ticketing.models import Ticket

WATER = "朝阳区望京西园三区停水一天了，一直没人管"


def test_two_settling_one_ended_call_at_once_file_one_ticket(
        sessions: sessionmaker[Session], domain: Domain, city: City, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    spool = Spool(tmp_path / "spool")
    call = CallIntake(sessions=sessions, domain=domain, spool=spool, call_id="race-1",
                      caller="13800138000")
    call.answered()  # the call record exists from the answer on, as in a real call
    call.understood(WATER)
    call.journal.ended_at = call.journal.arrived_at
    call.journal.outcome = CallOutcome.TICKET.value
    spool.write(call.journal)

    # Both settlers meet inside the ticket's creation if nothing keeps them apart; with
    # the record locked the second never gets there while the first waits here.
    meet = threading.Barrier(2, timeout=3)
    create = ivr_intake.service.create_ticket

    def create_after_meeting(**kwargs: Any) -> Ticket:
        with contextlib.suppress(threading.BrokenBarrierError):
            meet.wait()
        return create(**kwargs)

    monkeypatch.setattr(ivr_intake.service, "create_ticket", create_after_meeting)
    done: list[bool] = []
    # Each settler with the journal as it read it from the spool.
    journals = [spool.pending()[0] for _ in range(2)]

    def settle_one(journal: ivr_intake.CallJournal) -> None:
        done.append(settle(sessions=sessions, domain=domain, spool=spool, journal=journal))

    threads = [threading.Thread(target=settle_one, args=(j,)) for j in journals]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(done) == 2 and all(done)
    with sessions() as s:
        tickets = s.scalars(select(Ticket).where(Ticket.call_id == "race-1")).all()
        record = s.scalars(select(CallRecord).where(CallRecord.call_id == "race-1")).one()
        assert len(tickets) == 1 and record.ticket_id == tickets[0].id
    assert spool.pending() == []
