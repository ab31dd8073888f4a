"""Call records a restored database left in progress (judge29's ghosts, loose30): a backup
taken mid-call, restored after the call ended, holds its record ``in_progress`` while its
journal is in no spool; nothing settled it, and ``hotline_calls{outcome="in_progress"}``
counted it for ever. ``ivr.intake.settle_lost_records``, run by every recovery pass."""

from __future__ import annotations

import copy
import os
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from ivr.callrecords import CallOutcome, CallRecord
from ivr.intake import LOST_NOTE, CallIntake, CallJournal, Spool, recover_spool
from tests.support.city import City
from ticketing.context import Domain
from ticketing.models import Ticket, utcnow

WATER = "朝阳区望京西园三区5号楼停水了，一直没来水"


def _restored(sessions: sessionmaker[Session], domain: Domain, spool: Spool, call_id: str,
              *, minutes: float, node: str | None = None) -> CallJournal:
    """A call in progress as the backup holds it: its record written, its journal (a copy,
    returned) gone from the spool since, its last sign of life ``minutes`` ago."""
    call = CallIntake(sessions=sessions, domain=domain, spool=spool, call_id=call_id,
                      caller="13811112222")
    call.answered()
    call.understood(WATER, {"low_confidence": []})
    then = utcnow() - timedelta(minutes=minutes)
    journal = copy.deepcopy(call.journal)
    journal.arrived_at = then.isoformat()
    spool.remove(call_id)
    with sessions.begin() as s:
        s.execute(update(CallRecord).where(CallRecord.call_id == call_id).values(
            arrived_at=then, alive_at=then, **({"node": node} if node else {})))
    return journal


def _record(sessions: sessionmaker[Session], call_id: str) -> CallRecord:
    with sessions() as s:
        rec = s.scalars(select(CallRecord).where(CallRecord.call_id == call_id)).one()
        s.expunge(rec)
        return rec


def test_a_restored_record_no_spool_holds_is_settled_lost_after_the_spools_rule(
        sessions: sessionmaker[Session], domain: Domain, city: City, tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    _restored(sessions, domain, spool, "ghost", minutes=20)
    _restored(sessions, domain, spool, "recent", minutes=5)  # may still be up: not yet
    _restored(sessions, domain, spool, "elsewhere", minutes=20, node="ivr-b")
    live = CallIntake(sessions=sessions, domain=domain, spool=spool, call_id="live",
                      caller="13900001111")
    live.answered()  # its journal is in the spool: the spool's rule is recover_spool's
    with sessions.begin() as s:
        s.execute(update(CallRecord).where(CallRecord.call_id == "live").values(
            arrived_at=utcnow() - timedelta(minutes=20)))

    assert recover_spool(sessions=sessions, domain=domain, spool=spool) == []
    ghost = _record(sessions, "ghost")
    assert ghost.outcome == CallOutcome.LOST_AT_RESTORE
    assert ghost.ended_at is not None and ghost.ended_at == ghost.alive_at
    assert ghost.note == LOST_NOTE
    # Another node's record: its journal may be in that node's spool, filed when it is back.
    for call_id in ("recent", "elsewhere", "live"):
        rec = _record(sessions, call_id)
        assert rec.outcome == CallOutcome.IN_PROGRESS and rec.ended_at is None, call_id
    with sessions() as s:
        counts = dict(s.execute(select(CallRecord.outcome, func.count())
                                .group_by(CallRecord.outcome)).all())
    assert counts == {"in_progress": 3, "lost_at_restore": 1}


def test_a_journal_that_turns_up_after_all_files_its_one_ticket(
        sessions: sessionmaker[Session], domain: Domain, city: City, tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    journal = _restored(sessions, domain, spool, "back", minutes=20)
    recover_spool(sessions=sessions, domain=domain, spool=spool)
    assert _record(sessions, "back").outcome == CallOutcome.LOST_AT_RESTORE
    assert _record(sessions, "back").note == LOST_NOTE
    # The spool put back (a node's disk restored too): the call files as any crashed one.
    spool.write(journal)
    old = (utcnow() - timedelta(minutes=20)).timestamp()
    os.utime(spool.path("back"), (old, old))
    assert recover_spool(sessions=sessions, domain=domain, spool=spool) == ["back"]
    assert recover_spool(sessions=sessions, domain=domain, spool=spool) == []
    rec = _record(sessions, "back")
    assert rec.outcome == CallOutcome.TICKET and rec.ticket_id is not None
    # mend74 (review75): the note saying the outcome could not be checked stuck beside it.
    assert rec.note != LOST_NOTE
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(Ticket)) == 1


def test_an_ended_journal_that_turns_up_clears_the_lost_note(
        sessions: sessionmaker[Session], domain: Domain, city: City, tmp_path: Path) -> None:
    """mend74 (review75): a journal turning up after the record was settled lost gave it its
    real outcome, but "通话结果无法核实" stuck beside it."""
    spool = Spool(tmp_path / "spool")
    journal = _restored(sessions, domain, spool, "ended", minutes=20)
    recover_spool(sessions=sessions, domain=domain, spool=spool)
    assert _record(sessions, "ended").note == LOST_NOTE
    journal.ended_at = (utcnow() - timedelta(minutes=19)).isoformat()  # it ended there
    journal.outcome = CallOutcome.TICKET.value
    spool.write(journal)
    assert recover_spool(sessions=sessions, domain=domain, spool=spool) == ["ended"]
    rec = _record(sessions, "ended")
    assert rec.outcome == CallOutcome.TICKET and rec.note is None
