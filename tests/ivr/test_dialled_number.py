"""The number a caller dialled is kept on the call record (``call_records.callee``).

judge40 set up a city answering several forms of its hotline number (``sip.numbers``:
12345, 057112345, +8657112345) and called each with SIPp and baresip: every call record's
``callee`` was empty, on all 73 calls; the column was never written. Socket-free: the
dialogue's own constructor on a scripted line (what the SIP flow hands the intake) and
the intake that writes the record."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ivr.call_flow import Dialogue, IvrServices
from ivr.callrecords import CALLER_CHARS, CallOutcome, CallRecord
from ivr.intake import CallIntake, Spool
from tests.ivr import test_kb_confirm as scripted
from ticketing.context import Domain


def test_the_dialogue_hands_the_number_dialled_to_its_intake(services: IvrServices) -> None:
    line = scripted.ScriptedLine([])
    line.callee = "057112345"
    d = Dialogue(line, services)  # type: ignore[arg-type]
    assert d.intake.journal.callee == "057112345"


def _ended(sessions: sessionmaker[Session], domain: Domain, spool: Spool, call_id: str,
           callee: str, recording: Path) -> CallRecord:
    call = CallIntake(sessions=sessions, domain=domain, spool=spool, call_id=call_id,
                      caller="13800138000", callee=callee)
    call.answered(aside=True)
    recording.write_bytes(b"\0" * 320)
    call.recording(recording, sha256="0" * 64, seconds=0.0)
    assert call.end(CallOutcome.ABANDONED), "the call stayed in the spool"
    with sessions() as s:
        return s.scalars(select(CallRecord).where(CallRecord.call_id == call_id)).one()


def test_the_call_record_keeps_the_number_dialled_cut_to_its_column(
        sessions: sessionmaker[Session], domain: Domain, tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    rec = _ended(sessions, domain, spool, "dialled-1", "+8657112345", tmp_path / "a.wav")
    assert rec.callee == "+8657112345"
    # A To user is whatever the peer wrote: a long one is cut as a caller's is.
    rec = _ended(sessions, domain, spool, "dialled-2", "9" * 300, tmp_path / "b.wav")
    assert rec.callee == "9" * CALLER_CHARS
