"""A SIP call's Call-ID is whatever the caller's phone wrote: of any length, and nothing
stops a second call from reusing one (a phone that repeats them, or someone who read a
call's INVITE). Each call must still end as its own ticket, and no call may write into
another call's record or ticket. Socket-free, on SQLite and PostgreSQL (the fourth
review, docs/security.md)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ivr.callrecords import CallOutcome, CallRecord
from ivr.intake import CallIntake, Spool
from tests.support.city import City
from ticketing.context import Domain
from ticketing.models import Ticket, TicketEvent

WATER = "朝阳区望京西园三区停水一天了，一直没人管"
POWER = "海淀区中关村南大街停电三个小时了"


def _call(sessions: sessionmaker[Session], domain: Domain, spool: Spool, call_id: str,
          caller: str, words: str, recording: Path) -> CallIntake:
    """One SIP call as the dialogue drives its intake: answered, words heard, recording
    closed, hung up."""
    call = CallIntake(sessions=sessions, domain=domain, spool=spool, call_id=call_id,
                      caller=caller)
    call.answered(aside=True)
    call.recording(recording)
    call.understood(words)
    recording.write_bytes(words.encode())
    call.recording(recording, sha256=recording.name * 2, seconds=8.0)
    assert call.end(CallOutcome.TICKET), "the call stayed in the spool"
    return call


def test_a_call_id_longer_than_the_column_still_files_its_ticket(
        sessions: sessionmaker[Session], domain: Domain, city: City, tmp_path: Path) -> None:
    # RFC 3261 sets no length; the columns hold 128 characters. PostgreSQL refused the
    # record, the call was "kept in spool: database unavailable" and retried for ever.
    long_id = "a" * 120 + "-" + "b" * 200 + "@sbc.example"
    spool = Spool(tmp_path / "spool")
    call = _call(sessions, domain, spool, long_id, "13800138000", WATER,
                 tmp_path / "long.wav")
    assert spool.pending() == []
    with sessions() as s:
        record = s.scalars(select(CallRecord)).one()
        ticket = s.get_one(Ticket, record.ticket_id)
        assert ticket.number == call.journal.ticket_number
        assert ticket.category == "water" and ticket.call_id == record.call_id
        assert len(record.call_id) <= 128
    # Two long ids that differ only past the column's length are two calls.
    other = "a" * 120 + "-" + "b" * 199 + "c@sbc.example"
    _call(sessions, domain, spool, other, "13900139000", POWER, tmp_path / "other.wav")
    with sessions() as s:
        assert len(set(s.scalars(select(CallRecord.call_id)).all())) == 2
        assert len(s.scalars(select(Ticket).where(Ticket.call_id.is_not(None))).all()) == 2


def test_a_second_call_with_the_same_call_id_is_a_call_of_its_own(
        sessions: sessionmaker[Session], domain: Domain, city: City, tmp_path: Path) -> None:
    # Before: the second call found the first one's record, was "filed" as the first
    # one's ticket (its complaint lost) and its recording replaced the first one's.
    spool = Spool(tmp_path / "spool")
    first = _call(sessions, domain, spool, "1-4242@10.0.0.1", "13800138000", WATER,
                  tmp_path / "first.wav")
    second = _call(sessions, domain, spool, "1-4242@10.0.0.1", "13900139000", POWER,
                   tmp_path / "second.wav")
    assert first.journal.ticket_number != second.journal.ticket_number
    with sessions() as s:
        one = s.scalars(select(Ticket).where(
            Ticket.number == first.journal.ticket_number)).one()
        two = s.scalars(select(Ticket).where(
            Ticket.number == second.journal.ticket_number)).one()
        assert (one.caller_phone, one.category) == ("+8613800138000", "water")
        assert (two.caller_phone, two.category) == ("+8613900139000", "power")
        assert one.recording_path == str(tmp_path / "first.wav")
        assert two.recording_path == str(tmp_path / "second.wav")
        records = s.scalars(select(CallRecord).order_by(CallRecord.id)).all()
        assert [r.ticket_id for r in records] == [one.id, two.id]
        assert records[0].recording_path == str(tmp_path / "first.wav")
        assert records[0].caller == "+8613800138000"


def test_a_call_settled_again_after_a_crash_finds_its_own_ticket(
        sessions: sessionmaker[Session], domain: Domain, city: City, tmp_path: Path) -> None:
    # The key chosen for a reused Call-ID is kept in the spool: settling the same journal
    # again (recover_spool after a crash between commit and unlink) files nothing new.
    spool = Spool(tmp_path / "spool")
    _call(sessions, domain, spool, "dup@10.0.0.1", "13800138000", WATER, tmp_path / "a.wav")
    second = _call(sessions, domain, spool, "dup@10.0.0.1", "13900139000", POWER,
                   tmp_path / "b.wav")
    again = CallIntake.resume(sessions=sessions, domain=domain, spool=spool,
                              journal=second.journal)
    assert again.end(CallOutcome.TICKET)
    with sessions() as s:
        assert len(s.scalars(select(Ticket).where(Ticket.call_id.is_not(None))).all()) == 2
        assert len(s.scalars(select(CallRecord)).all()) == 2


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # another process's write lock
def test_a_reused_call_id_answered_while_the_database_is_locked_is_renamed_once(
        sessions: sessionmaker[Session], domain: Domain, city: City, db_url: str,
        tmp_path: Path) -> None:
    """The call record is written aside (the greeting must not wait on a locked database),
    so the claim that renames a reused Call-ID's key runs while the call journals its
    keys and an emergency hand-over: every journal write lands under one key, and the
    hand-over is filed under the renamed one, not into the settled call's."""
    spool = Spool(tmp_path / "spool")
    first = _call(sessions, domain, spool, "dup@10.0.0.1", "13800138000", WATER,
                  tmp_path / "a.wav")
    holder = sqlite3.connect(db_url.removeprefix("sqlite:///"), isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        second = CallIntake(sessions=sessions, domain=domain, spool=spool,
                            call_id="dup@10.0.0.1", caller="13900139000")
        second.answered(aside=True)  # back at once: the lock is still held
        second.preferences(confidential=True)
        second.understood("我们楼道里着火了，浓烟很大，快来人啊")
        second.hand_over("119", "operator")
        second.recording(tmp_path / "b.wav", sha256="b" * 64, seconds=6.0)
    finally:
        holder.execute("COMMIT")
        holder.close()
    assert second.end(CallOutcome.TICKET)

    assert spool.pending() == []  # no journal left behind under either key
    assert second.journal.call_id != "dup@10.0.0.1"
    with sessions() as s:
        one = s.scalars(select(Ticket).where(Ticket.call_id == "dup@10.0.0.1")).one()
        two = s.scalars(select(Ticket).where(Ticket.call_id == second.journal.call_id)).one()
        assert one.number == first.journal.ticket_number
        assert two.number == second.journal.ticket_number != one.number
        assert (one.caller_phone, two.caller_phone) == ("+8613800138000", "+8613900139000")
        assert two.confidential and not one.confidential
        handovers = s.scalars(select(TicketEvent.ticket_id).where(
            TicketEvent.action == "emergency_handover")).all()
        assert handovers == [two.id]
        assert len(s.scalars(select(CallRecord)).all()) == 2
