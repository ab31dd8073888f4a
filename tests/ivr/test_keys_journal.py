"""The keys a caller pressed are the call's trace (全程留痕): the fault trial's ``kill -9``
in the preferences prompt left a ticket whose record had no keys, since they were only in
memory until the next journal write (docs/scaling.md, "Fault trial (fifteenth round)").
Socket-free: CallIntake is what the dialogue drives (ivr.call_flow), recover_spool what
the restarted service runs; on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ivr.callrecords import CallOutcome, CallRecord
from ivr.intake import CallIntake, CallJournal, Spool, recover_spool
from tests.support.city import City
from ticketing.context import Domain


class CountingSpool(Spool):
    """A spool on disk that also counts its writes (how often a flood touches the disk)."""

    def __init__(self, directory: Path) -> None:
        super().__init__(directory)
        self.writes = 0

    def write(self, journal: CallJournal) -> None:
        self.writes += 1
        super().write(journal)


def test_keys_pressed_before_a_crash_are_in_the_recovered_record(
        sessions: sessionmaker[Session], domain: Domain, city: City, tmp_path: Path) -> None:
    intake = CallIntake(sessions=sessions, domain=domain, spool=Spool(tmp_path / "spool"),
                        call_id="keys-crash-1", caller="13800138000")
    intake.answered()
    intake.key("#")  # the end of the complaint
    intake.key("1")  # the read-back confirmed; the preferences prompt plays, then kill -9
    del intake

    # The restarted process: a spool of its own on the same directory, nothing in memory.
    assert recover_spool(sessions=sessions, domain=domain, spool=Spool(tmp_path / "spool"),
                         stale_after_seconds=0) == ["keys-crash-1"]
    with sessions() as s:
        record = s.scalars(select(CallRecord).where(
            CallRecord.call_id == "keys-crash-1")).one()
        assert record.keys == "#1"


def test_a_burst_of_keys_is_one_journal_write(
        sessions: sessionmaker[Session], domain: Domain, city: City, tmp_path: Path) -> None:
    spool = CountingSpool(tmp_path / "spool")
    intake = CallIntake(sessions=sessions, domain=domain, spool=spool,
                        call_id="keys-flood-1", caller="13800138000")
    before = spool.writes
    intake.key("5" * 40)  # keys flushed at once (ivr.call_flow's _drop_keys)
    intake.key("")  # nothing was pressed: nothing to write
    assert spool.writes == before + 1
    (journal,) = spool.pending()
    assert journal.keys == "5" * 40

    # Once the call is settled its spool file is gone, and a late key must not bring it
    # back (recovery would settle the call a second time).
    assert intake.end(CallOutcome.ABANDONED)
    intake.key("9")
    assert spool.pending() == []
    with sessions() as s:
        assert s.scalars(select(CallRecord.keys).where(
            CallRecord.call_id == "keys-flood-1")).one() == "5" * 40
