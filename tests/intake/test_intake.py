"""From call to ticket without losing a complaint: spool, recovery, transcription backlog.

These tests are about the queue and journal semantics, so the "recognizer" here is a plain
function; the tests that claim speech becomes text use the real Vosk model (tests/asr,
tests/ivr).
"""

from __future__ import annotations

import json
import os
import signal
import time
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from asr.backlog import MAX_ATTEMPTS, run_backlog
from asr.jobs import JobStatus, TranscriptionJob, claim_next
from asr.recording import CallRecorder
from asr.stream import Transcript
from ivr.callrecords import LIVE_CALL_SECONDS, CallOutcome, CallRecord, live_call
from ivr.intake import CallIntake, CallJournal, Spool, recover_spool
from tests.support.city import City
from tests.support.harness import fork_with_us
from ticketing import service
from ticketing.context import Domain
from ticketing.db import make_engine, make_session_factory
from ticketing.models import Ticket, utcnow
from ticketing.service import TRANSCRIPT_PENDING

WATER = "朝阳区望京西园三区5号楼停水了，一直没来水"


def _count(sessions: sessionmaker[Session], model: type) -> int:
    with sessions() as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


def _dead_sessions() -> sessionmaker[Session]:
    # Nothing listens on port 1: every connection attempt fails at once.
    engine = make_engine("postgresql+psycopg://postgres@127.0.0.1:1/none",
                         connect_args={"connect_timeout": 1})
    return make_session_factory(engine)


def _recording(path: Path, seconds: float, *, spoken: bool = True, fax: bool = False
               ) -> Path:
    """A recording left open, as if the process died mid-call: a voice's loudness (a
    syllable of 200 ms, a pause of 100 ms; the live gate's speech) or, not ``spoken``, a
    line's idle hiss; ``fax``: a calling fax machine's CNG (1100 Hz, 0.5 s on, 3 s off)."""
    rec = CallRecorder(path)
    t = np.arange(int(8000 * seconds)) / 8000
    voiced = (t % 0.3) < 0.2
    wave = np.where(voiced, 3000 * np.sin(2 * np.pi * 220 * t), 0) if spoken else np.full(
        t.shape, 16)
    if fax:
        wave = np.where((t % 3.5) < 0.5, 8000 * np.sin(2 * np.pi * 1100 * t), 0)
    rec.write(wave.astype("<i2").tobytes())
    rec.sync()
    return path  # deliberately not closed: as if the process died mid-call


def test_call_becomes_dispatched_ticket(sessions: sessionmaker[Session], domain: Domain,
                                        city: City, tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    call = CallIntake(sessions=sessions, domain=domain, spool=spool, call_id="c1",
                      caller="13811112222")
    call.answered()
    call.understood(WATER, {"low_confidence": []})
    filed = call.file_ticket()
    assert filed is not None and len(filed.number) == 10
    assert filed.category == "water"
    assert call.end() is True
    assert spool.pending() == []
    with sessions() as s:
        rec = s.scalars(select(CallRecord)).one()
        t = s.get_one(Ticket, rec.ticket_id)
        assert rec.outcome == CallOutcome.TICKET and rec.answered_at and rec.ended_at
        assert t.number == filed.number and t.status == "dispatched" and t.channel == "phone"
        assert t.call_id == "c1" and t.transcript == WATER


@pytest.mark.parametrize(("caller_id", "caller", "raw"), [
    ("13811112222", "+8613811112222", None),
    ("0086-138-1111-2222", "+8613811112222", None),  # one caller, one spelling
    ("+861065123456", "+861065123456", None),
    ("anonymous", None, "anonymous"),  # withheld: no number, what came kept apart
    ("", None, None),
    ("9" * 30, None, "9" * 30),
    ("citizen-" + "x" * 90, None, ("citizen-" + "x" * 90)[:64]),  # no longer than its column
])
def test_the_call_record_names_its_caller_like_a_ticket(
        sessions: sessionmaker[Session], domain: Domain, city: City, tmp_path: Path,
        caller_id: str, caller: str | None, raw: str | None) -> None:
    call = CallIntake(sessions=sessions, domain=domain, spool=Spool(tmp_path / "spool"),
                      call_id="c-id", caller=caller_id)
    call.answered()
    call.understood(WATER, {"low_confidence": []})
    call.file_ticket()
    assert call.end() is True
    with sessions() as s:
        rec = s.scalars(select(CallRecord)).one()
        ticket = s.get_one(Ticket, rec.ticket_id)
        assert (rec.caller, rec.caller_raw) == (caller, raw)
        assert rec.caller == ticket.caller_phone  # a call and its ticket compare


@pytest.mark.parametrize("keyed_ahead", [False, True])
def test_a_callback_request_without_words_waits_for_the_centre_not_a_unit(
        sessions: sessionmaker[Session], domain: Domain, city: City, tmp_path: Path,
        keyed_ahead: bool) -> None:
    # judge31: key 0 with no operator and nothing understood filed the fixed sentence
    # "市民来电要求人工服务，坐席未接通，请回电。", which the shipped model read as the power
    # company's (0.58, not flagged): every such caller was dispatched to its handler.
    call = CallIntake(sessions=sessions, domain=domain, spool=Spool(tmp_path / "spool"),
                      call_id="cb", caller="13811114444")
    call.answered()
    if keyed_ahead:
        call.understood("", {"low_confidence": []})  # a turn that understood nothing
    filed = call.file_ticket(CallOutcome.CALLBACK_REQUEST)
    assert filed is not None
    assert call.end() is True
    with sessions() as s:
        t = s.scalars(select(Ticket)).one()
        assert t.demand == service.CALLBACK_REQUESTED
        assert (t.status, t.unit_id, t.handler_id) == ("accepted", None, None)
        assert (t.category, t.urgency, t.emergency) == ("other", "general", "none")
        assert t.respondent is None and t.classification is None
        # An operator who calls back and files the category teaches the model nothing
        # from the placeholder.
    assert service.reviewed_classifications(session=sessions()) == []


def _callback_request_unheard(sessions: sessionmaker[Session], domain: Domain,
                              tmp_path: Path) -> None:
    """A caller who spoke, then keyed 0 with no operator, nothing understood live."""
    call = CallIntake(sessions=sessions, domain=domain, spool=Spool(tmp_path / "spool"),
                      call_id="cb", caller="13811114444")
    call.answered()
    call.recording(_recording(tmp_path / "cb.wav", 3.0))
    call.understood(None, asr_error="no model installed at call time")
    assert call.file_ticket(CallOutcome.CALLBACK_REQUEST) is not None
    assert call.end(CallOutcome.CALLBACK_REQUEST) is True


def test_a_callback_request_s_recording_goes_to_the_backlog_and_its_words_to_the_ticket(
        sessions: sessionmaker[Session], domain: Domain, city: City, tmp_path: Path) -> None:
    # review80 (judge31's "Left"): a caller who spoke, then keyed 0 with no operator, with
    # nothing understood live (no model, or it failed): the ticket said only the service's
    # note and the recording was never put to the backlog (``left_to_backlog`` read the
    # note as words), so the complaint never reached the ticket, even once a model came.
    _callback_request_unheard(sessions, domain, tmp_path)
    with sessions() as s:
        t = s.scalars(select(Ticket)).one()
        assert t.demand == service.CALLBACK_REQUESTED and t.unit_id is None
        job = s.scalars(select(TranscriptionJob)).one()
        assert job.status == JobStatus.PENDING and job.ticket_id == t.id
    spoken = Transcript(text=WATER)
    assert run_backlog(sessions=sessions, domain=domain, transcribe=lambda p: spoken).done == 1
    with sessions() as s:
        t = s.scalars(select(Ticket)).one()
        # The caller's words are the demand now, classified and dispatched as any call's.
        assert t.transcript == WATER and t.demand == WATER
        assert t.category == "water" and t.status == "dispatched"


def test_a_callback_request_s_recording_with_no_words_keeps_the_note(
        sessions: sessionmaker[Session], domain: Domain, city: City, tmp_path: Path) -> None:
    # The backlog found nothing said: the ticket still asks the centre to call back, not
    # "（录音待转写）" for good.
    _callback_request_unheard(sessions, domain, tmp_path)
    silent = Transcript(text="")
    assert run_backlog(sessions=sessions, domain=domain, transcribe=lambda p: silent).done == 1
    with sessions() as s:
        t = s.scalars(select(Ticket)).one()
        assert t.demand == service.CALLBACK_REQUESTED and t.unit_id is None
        assert (t.category, t.status) == ("other", "accepted")


def test_silence_only_is_abandoned_without_ticket(sessions: sessionmaker[Session],
                                                  domain: Domain, tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    call = CallIntake(sessions=sessions, domain=domain, spool=spool, call_id="c2",
                      caller="13811112222")
    call.answered()
    assert call.end() is True
    with sessions() as s:
        rec = s.scalars(select(CallRecord)).one()
        assert rec.outcome == CallOutcome.ABANDONED and rec.ticket_id is None
    assert _count(sessions, Ticket) == 0


def test_database_down_keeps_call_then_recovers_once(
    sessions: sessionmaker[Session], domain: Domain, city: City, tmp_path: Path
) -> None:
    spool = Spool(tmp_path / "spool")
    call = CallIntake(sessions=_dead_sessions(), domain=domain, spool=spool, call_id="c3",
                      caller="13811112222")
    call.answered()
    call.understood(WATER)
    assert call.file_ticket() is None  # the IVR says "recorded, we will call you"
    assert call.end() is False
    kept = json.loads(spool.path("c3").read_text(encoding="utf-8"))
    assert kept["caller"] == "13811112222" and kept["transcript"] == WATER
    assert recover_spool(sessions=sessions, domain=domain, spool=spool) == ["c3"]
    assert spool.pending() == []
    assert recover_spool(sessions=sessions, domain=domain, spool=spool) == []
    assert _count(sessions, Ticket) == 1
    with sessions() as s:
        t = s.scalars(select(Ticket)).one()
        assert t.status == "dispatched" and t.demand == WATER


def test_same_call_settled_twice_makes_one_ticket(
    sessions: sessionmaker[Session], domain: Domain, city: City, tmp_path: Path
) -> None:
    spool = Spool(tmp_path / "spool")
    call = CallIntake(sessions=sessions, domain=domain, spool=spool, call_id="c4",
                      caller="13811112222")
    call.understood(WATER)
    first = call.file_ticket()
    # A crash after the commit but before the spool was updated: recovery runs again.
    spool.write(call.journal)
    call.journal.ended_at = utcnow().isoformat()
    spool.write(call.journal)
    recover_spool(sessions=sessions, domain=domain, spool=spool)
    assert _count(sessions, Ticket) == 1
    with sessions() as s:
        assert s.scalars(select(Ticket.number)).one() == first.number


def test_crash_mid_recording_becomes_ticket_via_backlog(
    sessions: sessionmaker[Session], domain: Domain, city: City, tmp_path: Path
) -> None:
    spool = Spool(tmp_path / "spool")
    call = CallIntake(sessions=sessions, domain=domain, spool=spool, call_id="c5",
                      caller="13811112222")
    call.answered()
    call.recording(_recording(tmp_path / "c5.wav", 3.0))
    # The process dies here. On restart a live call is left alone...
    assert recover_spool(sessions=sessions, domain=domain, spool=spool) == []
    # ...and once the call is older than any call can be, it is settled.
    assert recover_spool(sessions=sessions, domain=domain, spool=spool,
                         stale_after_seconds=0) == ["c5"]
    with sessions() as s:
        t = s.scalars(select(Ticket)).one()
        assert t.demand == TRANSCRIPT_PENDING and t.recording_sha256
        assert t.status == "accepted" and t.unit_id is None  # nothing to classify yet
        job = s.scalars(select(TranscriptionJob)).one()
        assert job.status == JobStatus.PENDING and job.ticket_id == t.id
    spoken = Transcript(text=WATER)
    run = run_backlog(sessions=sessions, domain=domain, transcribe=lambda p: spoken)
    assert run.done == 1
    with sessions() as s:
        t = s.scalars(select(Ticket)).one()
        assert t.transcript == WATER and t.demand == WATER
        assert t.category == "water" and t.status == "dispatched"
        assert "transcribed" in [e.action for e in t.events]
    # Running the backlog again repeats nothing.
    assert run_backlog(sessions=sessions, domain=domain, transcribe=lambda p: spoken).done == 0


def test_a_call_still_journaling_is_live_however_long_ago_it_arrived(
    sessions: sessionmaker[Session], domain: Domain, city: City, tmp_path: Path
) -> None:
    """The voice job's recovery settles a call in progress once it is older than any call
    can be -- counted from its arrival, a call bridged to an operator for 20 minutes was
    settled while the citizen talked: 'interrupted by a service restart', a ticket of
    its recording so far and a transcription job for the backlog, a ticket nobody asked
    for. It is counted from the journal's last write (``CallIntake.alive``, which the
    bridge calls while it lasts); a call whose process died writes no more."""
    spool = Spool(tmp_path / "spool")
    call = CallIntake(sessions=sessions, domain=domain, spool=spool, call_id="long",
                      caller="13811112222")
    call.answered()
    call.recording(_recording(tmp_path / "long.wav", 3.0))
    call.journal.arrived_at = (utcnow() - timedelta(minutes=20)).isoformat()
    call.alive()  # the bridge, a minute ago at most
    assert recover_spool(sessions=sessions, domain=domain, spool=spool) == []
    assert _count(sessions, Ticket) == 0 and spool.path("long").exists()
    # The process dies: nothing writes the journal any more.
    old = time.time() - 16 * 60
    os.utime(spool.path("long"), (old, old))
    assert recover_spool(sessions=sessions, domain=domain, spool=spool) == ["long"]
    assert _count(sessions, Ticket) == 1


def test_a_caller_bridged_for_long_is_in_a_call_by_the_record_too(
    sessions: sessionmaker[Session], domain: Domain, city: City, tmp_path: Path
) -> None:
    """An outbound call asks the call records whether the phone is in one of our calls
    (``live_call``). It aged a call from its arrival: a caller bridged to an operator for
    over ``LIVE_CALL_SECONDS`` counted as free and a survey rang them mid-talk (review51).
    Now the record keeps the bridge's heartbeat (``CallIntake.alive``), the clock
    recovery reads from the journal: live while it beats, free once it stops as long."""
    spool = Spool(tmp_path / "spool")
    call = CallIntake(sessions=sessions, domain=domain, spool=spool, call_id="bridged",
                      caller="13811112222")
    call.journal.arrived_at = (utcnow() - timedelta(seconds=LIVE_CALL_SECONDS + 300)
                               ).isoformat()
    call.answered()
    writer = call.alive()  # the bridge, a minute ago at most
    assert writer is not None
    writer.join(30)
    with sessions() as s:
        found = live_call(s, "13811112222", utcnow())
        assert found is not None and found.call_id == "bridged"
    # The process dies in the bridge: no heartbeat for as long; the phone is free again,
    # and recovery takes the journal for dead by the same clock.
    silent = utcnow() + timedelta(seconds=LIVE_CALL_SECONDS + 1)
    with sessions() as s:
        assert live_call(s, "13811112222", silent) is None
    old = time.time() - LIVE_CALL_SECONDS - 1
    os.utime(spool.path("bridged"), (old, old))
    assert recover_spool(sessions=sessions, domain=domain, spool=spool) == ["bridged"]


def test_backlog_retries_then_gives_up(sessions: sessionmaker[Session], domain: Domain,
                                       city: City, tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    call = CallIntake(sessions=sessions, domain=domain, spool=spool, call_id="c6",
                      caller="13811112222")
    call.recording(tmp_path / "missing.wav", None, 5.0)
    call.understood(None, asr_error="no model installed")
    assert call.file_ticket() is not None

    def broken(path: Path) -> Transcript:
        raise OSError(f"cannot read {path}")

    clock = [utcnow()]
    domain.now = lambda: clock[0]  # type: ignore[method-assign]
    for _ in range(MAX_ATTEMPTS - 1):
        assert run_backlog(sessions=sessions, domain=domain, transcribe=broken).retried == 1
        # Not retried at once: it waits for its backoff.
        assert run_backlog(sessions=sessions, domain=domain, transcribe=broken).retried == 0
        clock[0] += timedelta(hours=1)
    assert run_backlog(sessions=sessions, domain=domain, transcribe=broken).failed == 1
    with sessions() as s:
        job = s.scalars(select(TranscriptionJob)).one()
        assert job.status == JobStatus.FAILED and "cannot read" in job.last_error
        assert job.attempts == MAX_ATTEMPTS


def test_crashed_worker_job_is_taken_over_and_applied_once(
    sessions: sessionmaker[Session], domain: Domain, city: City, tmp_path: Path
) -> None:
    spool = Spool(tmp_path / "spool")
    call = CallIntake(sessions=sessions, domain=domain, spool=spool, call_id="c7",
                      caller="13811112222")
    call.recording(tmp_path / "c7.wav", None, 5.0)
    call.understood(None, asr_error="decoder crashed")
    call.file_ticket()
    with sessions() as s:  # worker A claims, then dies without finishing
        assert claim_next(session=s, worker="A", now=utcnow(), lease=timedelta(minutes=10))
        s.commit()
    # Within A's lease nobody else takes it.
    assert run_backlog(sessions=sessions, domain=domain, worker="B",
                       transcribe=lambda p: Transcript(WATER)).done == 0
    # After the lease, B takes it over.
    later = utcnow() + timedelta(minutes=11)
    domain.now = lambda: later  # type: ignore[method-assign]
    assert run_backlog(sessions=sessions, domain=domain, worker="B",
                       transcribe=lambda p: Transcript(WATER)).done == 1
    with sessions() as s:
        t = s.scalars(select(Ticket)).one()
        assert [e.action for e in t.events].count("transcribed") == 1


def test_start_up_settles_sip_calls_of_a_dead_process_but_waits_for_twilio(
    sessions: sessionmaker[Session], domain: Domain, city: City, tmp_path: Path
) -> None:
    spool = Spool(tmp_path / "spool")
    for call_id, carrier in (("sip-1", "sip"), ("tw-1", "twilio")):
        call = CallIntake(sessions=sessions, domain=domain, spool=spool, call_id=call_id,
                          caller="13811112222", carrier=carrier)
        call.answered()
        call.recording(_recording(tmp_path / f"{call_id}.wav", 2.0))
    # The process died. The next one takes the spool over at start-up: the SIP caller's
    # line died with it, a Twilio call may still be going (Twilio calls whoever answers).
    assert spool.take_over()
    assert not spool.take_over()  # a second start in this process: its calls may be live
    assert recover_spool(sessions=sessions, domain=domain, spool=spool,
                         restarted=True) == ["sip-1"]
    with sessions() as s:
        rec = s.scalars(select(CallRecord).where(CallRecord.call_id == "sip-1")).one()
        assert rec.outcome == "ticket" and rec.ticket_id is not None
        assert rec.node == domain.settings.node


def test_a_spool_held_by_another_live_process_is_not_taken_over(tmp_path: Path) -> None:
    # The holder is forked from this process, which has imported the project already (a
    # fresh interpreter paid ~3 CPU-s to import it); it is a process of its own all the
    # same, with its own lock, and the lock must go with it when it is killed.
    spool_dir = tmp_path / "shared-spool"
    ready, told = os.pipe()
    holder = fork_with_us()  # killed with the test process, however that ends
    if holder == 0:  # the child never returns into pytest
        try:
            os.close(ready)
            os.write(told, b"held" if Spool(spool_dir).take_over() else b"free")
            time.sleep(30)
        finally:
            os._exit(0)
    os.close(told)
    try:
        with os.fdopen(ready, "rb") as heard:
            assert heard.read(4) == b"held"
        assert not Spool(spool_dir).take_over()  # its calls may be live: wait as usual
    finally:
        os.kill(holder, signal.SIGKILL)
        os.waitpid(holder, 0)
    assert Spool(spool_dir).take_over()  # the holder is gone: the lock went with it
    assert not Spool(spool_dir).take_over()


def _cut_by_a_crash(sessions: sessionmaker[Session], domain: Domain,
                    tmp_path: Path) -> tuple[Spool, float]:
    """A call 8 s into its recording when the process died, ten minutes before this
    restart (its journal's and recording's times say so), the spool taken over."""
    spool = Spool(tmp_path / "spool")
    call = CallIntake(sessions=sessions, domain=domain, spool=spool, call_id="cut",
                      caller="13811112222")
    call.answered()
    recording = _recording(tmp_path / "cut.wav", 8.0)
    call.recording(recording)
    died = time.time() - 600
    for path in (spool.path("cut"), recording):
        os.utime(path, (died, died))
    assert spool.take_over()
    return spool, died


def test_a_call_cut_by_a_crash_says_so_and_ends_when_it_died_not_at_the_restart(
    sessions: sessionmaker[Session], domain: Domain, city: City, tmp_path: Path
) -> None:
    """Trial (kill -9 eight seconds into a caller's complaint, restart 20 s later): the
    ticket's trail read like any call's (create, accept), the call record's end was the
    restart's moment (a 29 s call for an 8 s one) and nothing said the recording stops
    where the service died, the rest of the complaint unheard."""
    spool, died = _cut_by_a_crash(sessions, domain, tmp_path)
    assert recover_spool(sessions=sessions, domain=domain, spool=spool,
                         restarted=True) == ["cut"]
    with sessions() as s:
        rec = s.scalars(select(CallRecord).where(CallRecord.call_id == "cut")).one()
        assert abs(rec.ended_at.timestamp() - died) < 1  # stored aware (UTCDateTime)
        assert rec.note and "服务中断" in rec.note
        t = s.get_one(Ticket, rec.ticket_id)
        (cut,) = [e for e in t.events if e.action == "call_interrupted"]
        assert "8秒" in (cut.note or "") and cut.data["recording_seconds"] == 8.0
    # A call that ended as calls do says nothing of the kind.
    whole = CallIntake(sessions=sessions, domain=domain, spool=spool, call_id="whole",
                       caller="13811113333")
    whole.answered()
    whole.recording(_recording(tmp_path / "whole.wav", 3.0))
    whole.understood(WATER)
    whole.file_ticket()
    whole.end()
    with sessions() as s:
        rec = s.scalars(select(CallRecord).where(CallRecord.call_id == "whole")).one()
        assert rec.note is None
        assert "call_interrupted" not in [e.action for e in s.get_one(Ticket, rec.ticket_id).events]


def test_a_silent_caller_cut_by_a_crash_gets_no_ticket(
    sessions: sessionmaker[Session], domain: Domain, city: City, tmp_path: Path
) -> None:
    """Trial (twenty-second round): three callers cut by `kill -9` 8.5 s into their calls,
    two of them speaking, one silent (A-law idle, still in the greeting): all three got a
    ticket "（录音待转写）", accepted and dispatched, because recovery took any recording
    of a second or more for a complaint, where the same silence on a live call ends
    without one (``ivr.audio.enough_speech``). The silent one is now abandoned, no ticket,
    no SMS; the speaking one's ticket stays."""
    spool = Spool(tmp_path / "spool")
    for call_id, spoken in (("silent", False), ("spoke", True), ("fax", False)):
        call = CallIntake(sessions=sessions, domain=domain, spool=spool, call_id=call_id,
                          caller="13811112222")
        call.answered()
        call.recording(_recording(tmp_path / f"{call_id}.wav", 8.5, spoken=spoken,
                                  fax=call_id == "fax"))
    assert spool.take_over()
    assert sorted(recover_spool(sessions=sessions, domain=domain, spool=spool,
                                restarted=True)) == ["fax", "silent", "spoke"]
    with sessions() as s:
        rec = {r.call_id: r for r in s.scalars(select(CallRecord))}
        assert rec["silent"].outcome == CallOutcome.ABANDONED.value
        # A fax machine's call ends no_speech, as on a live call (review62: abandoned).
        assert rec["fax"].outcome == CallOutcome.NO_SPEECH.value and rec["fax"].ticket_id is None
        assert rec["silent"].ticket_id is None and rec["silent"].recording_seconds == 8.5
        assert rec["spoke"].outcome == CallOutcome.TICKET.value and rec["spoke"].ticket_id
    assert _count(sessions, Ticket) == 1


def test_a_journal_half_written_by_a_dead_process_is_cleared_when_the_spool_is_taken(
        tmp_path: Path) -> None:
    """Trial: `kill -9` 30 ms after a caller's BYE left `<call>.tmp` (the journal being
    rewritten) beside its `.json`; the call was settled from the `.json`, the `.tmp`
    stayed in the spool for good, one more at each such kill."""
    spool = Spool(tmp_path / "spool")
    spool.write(CallJournal(call_id="cut", caller="13811112222"))
    half = spool.path("cut").with_suffix(".tmp")
    half.write_bytes(b'{"call_id": "cut", "cal')
    assert spool.take_over()
    assert not half.exists() and spool.path("cut").exists()
    assert [j.call_id for j in spool.pending()] == ["cut"]


def test_a_crashed_calls_end_is_kept_when_the_database_is_down_at_the_restart(
    sessions: sessionmaker[Session], domain: Domain, city: City, tmp_path: Path
) -> None:
    """review25: recovery repairs the recording (its file time becomes the restart's), and
    when the database was down at that restart the journal was not rewritten: the next
    pass dated the call's end to the first recovery, not to when the process died."""
    spool, died = _cut_by_a_crash(sessions, domain, tmp_path)
    down = make_session_factory(make_engine(f"sqlite:///{tmp_path}/no/such/dir/x.db"))
    assert recover_spool(sessions=down, domain=domain, spool=spool, restarted=True) == []
    assert recover_spool(sessions=sessions, domain=domain, spool=spool,
                         restarted=True) == ["cut"]
    with sessions() as s:
        rec = s.scalars(select(CallRecord).where(CallRecord.call_id == "cut")).one()
        assert abs(rec.ended_at.timestamp() - died) < 1  # stored aware (UTCDateTime)


def test_a_journal_written_whole_but_not_yet_renamed_is_put_in_place(tmp_path: Path) -> None:
    """review25: killed between ``write``'s sync and its rename, a call's first journal is
    only the ``.tmp``; deleting every ``.tmp`` at the restart lost the call (its caller's
    number and recording). A whole one is put in place, a newer state over an older one."""
    spool = Spool(tmp_path / "spool")
    spool.write(CallJournal(call_id="older", caller="13811112222"))
    for call_id, caller in (("first", "13811113333"), ("older", "13811114444")):
        whole = spool.path(call_id).with_suffix(".tmp")
        whole.write_text(json.dumps({"call_id": call_id, "caller": caller}), encoding="utf-8")
    assert spool.take_over()
    assert not list(spool.dir.glob("*.tmp"))
    assert {(j.call_id, j.caller) for j in spool.pending()} == {
        ("first", "13811113333"), ("older", "13811114444")}
