"""A database that takes reads but refuses the commit (a read-only SQLite file, a disk
remounted read-only): the call's ticket row is built in the transaction, numbered, and
rolled back. The call must not carry that number -- it was never filed and the next
ticket gets it -- and recovery files the call once with its recording and caller.
Socket-free: CallIntake is what the SIP and Twilio dialogues end calls through."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import event, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from ivr.callrecords import CallOutcome
from ivr.intake import CallIntake, Spool, recover_spool
from tests.support.city import City
from ticketing.context import Domain
from ticketing.models import Ticket


def _refusing_commits(sessions: sessionmaker[Session]) -> sessionmaker[Session]:
    """The same database, whose every commit fails as SQLite's does on a read-only file."""
    refusing = sessionmaker(bind=sessions.kw["bind"], expire_on_commit=False)

    @event.listens_for(refusing, "before_commit")
    def _read_only(session: Session) -> None:
        raise OperationalError("COMMIT", {}, Exception("attempt to write a readonly database"))

    return refusing


def test_a_commit_refused_leaves_the_call_unnumbered_and_recovery_files_it_once(
        sessions: sessionmaker[Session], domain: Domain, city: City, tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    recording = tmp_path / "call.wav"
    recording.write_bytes(b"RIFF")
    intake = CallIntake(sessions=_refusing_commits(sessions), domain=domain, spool=spool,
                        call_id="ro-1", caller="13800138000")
    intake.recording(recording, "ab" * 32, 12.0)
    intake.understood("朝阳区望京西园三区5号楼停水一天了")

    assert not intake.end(CallOutcome.TICKET)  # kept in the spool
    # Before: the rolled-back ticket's number, logged as the call's ticket.
    assert intake.journal.ticket_number is None
    with sessions() as s:
        assert s.scalars(select(Ticket).where(Ticket.call_id == "ro-1")).all() == []

    assert recover_spool(sessions=sessions, domain=domain, spool=spool) == ["ro-1"]
    assert spool.pending() == []
    with sessions() as s:
        (ticket,) = s.scalars(select(Ticket).where(Ticket.call_id == "ro-1")).all()
        assert ticket.caller_phone == "+8613800138000"
        assert ticket.recording_path == str(recording)
