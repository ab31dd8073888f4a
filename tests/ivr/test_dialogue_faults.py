"""The line keeps working when things around it do not: all lines busy, malformed SIP in the
middle of a call, the database down, no speech model, the recognizer failing mid-call."""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from asr.backlog import run_backlog
from asr.batch import transcribe_clean
from asr.engine import AsrEngine
from asr.jobs import JobStatus, TranscriptionJob
from ivr.callrecords import CallOutcome
from ivr.intake import CallIntake, Spool, recover_spool
from ivr.prompts import PromptLibrary
from ivr.runtime import spool_for
from telephony.media import g711
from tests.ivr.conftest import PHRASES
from tests.ivr.ivrkit import assert_ok
from tests.support import harness
from tests.support.callers import CallerScript
from tests.support.city import seed_city
from tests.support.harness import Sipp, render_scenario, uac_subs
from ticketing.db import make_engine, make_session_factory, transaction
from ticketing.models import utcnow
from ticketing.service import TRANSCRIPT_PENDING

pytestmark = pytest.mark.sip

WATER = PHRASES[0]


def complaint(tmp: Path, speech: bytes) -> CallerScript:
    return (CallerScript(tmp).wait(2.2).say(speech, then_wait=0.3)
            .key("#", then_wait=1.5).key("1", then_wait=0))


def test_busy_overflow_refuses_the_extra_call_and_keeps_the_first(
        ivr_factory, vosk_engine, korean_speech, tmp_path: Path) -> None:
    ivr = ivr_factory(engine=vosk_engine, max_calls=1)
    first = ivr.caller(complaint(tmp_path / "a", korean_speech[WATER])).start()
    ivr.wait_live_calls(1)  # the first call holds the one line
    refused = render_scenario("uac_refused.xml", tmp_path / "b",
                              **uac_subs(caller="13900139000"), CODE="486")
    second = Sipp(refused, tmp_path / "b", target=ivr.target, timeout_s=10)
    ivr.sipps.append(second)
    assert_ok(second.run())  # 486 Busy Here while the first call is in its dialogue
    assert_ok(first.wait())

    (rec,) = ivr.wait_record()
    assert rec.outcome == CallOutcome.TICKET and rec.caller == "+8613800138000"
    assert "물이" in (ivr.ticket_of(rec).transcript or "")


def test_malformed_sip_mid_call_does_not_disturb_it(ivr_factory, vosk_engine, korean_speech,
                                                    tmp_path: Path) -> None:
    ivr = ivr_factory(engine=vosk_engine)
    call = ivr.caller(complaint(tmp_path, korean_speech[WATER])).start()
    ivr.wait_live_calls(1)  # mid-call: the junk arrives while the call is up
    port = ivr.runtime.frontend.local_port
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(2)
    s.bind((harness.LOOPBACK, 0))
    me = s.getsockname()[1]
    junk = [
        b"\x00\xff\x13garbage that is not SIP at all",
        (f"INVITE sip:12345@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{me};branch=z9hG4bKx1"
         "\r\nFrom: <sip:x@127.0.0.1>;tag=1\r\nTo: <sip:12345@127.0.0.1>\r\nCall-ID: junk1\r\n"
         "CSeq: notanumber INVITE\r\nContent-Length: 0\r\n\r\n").encode(),
        (f"BYE sip:12345@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{me};branch=z9hG4bKx2"
         "\r\nFrom: <sip:x@127.0.0.1>;tag=2\r\nTo: <sip:12345@127.0.0.1>;tag=3\r\n"
         "Call-ID: not-a-call\r\nCSeq: 2 BYE\r\nContent-Length: 40\r\n\r\nshort").encode(),
    ]
    replies = []
    try:
        for datagram in junk:
            s.sendto(datagram, (harness.LOOPBACK, port))
            time.sleep(0.2)
        while True:
            try:
                replies.append(s.recv(4096).split(b"\r\n", 1)[0])
            except TimeoutError:
                break
    finally:
        s.close()
    assert replies and all(r.startswith(b"SIP/2.0 4") for r in replies), replies
    assert_ok(call.wait())

    (rec,) = ivr.wait_record()
    assert rec.outcome == CallOutcome.TICKET and "물이" in (ivr.ticket_of(rec).transcript or "")


def test_database_down_caller_hears_recorded_and_spool_files_it_later(
        ivr_factory, vosk_engine, korean_speech, sqlite_url: str, tmp_path: Path) -> None:
    # Nothing listens on port 1: every connection attempt fails at once.
    dead = make_session_factory(make_engine("postgresql+psycopg://postgres@127.0.0.1:1/none",
                                            connect_args={"connect_timeout": 1}))
    ivr = ivr_factory(engine=vosk_engine, sessions=dead)
    sink = harness.RtpSink()
    try:
        result = ivr.caller(complaint(tmp_path, korean_speech[WATER]),
                            media_port=str(sink.port)).run()
        time.sleep(0.2)
    finally:
        sink.close()
    assert_ok(result)
    heard = g711.ulaw_to_pcm16(b"".join(p.payload for p in sink.packets))
    filed_later = PromptLibrary(ivr.settings).pcm("filed_later")  # "您的诉求已记录…"
    assert g711.ulaw_to_pcm16(g711.pcm16_to_ulaw(filed_later)) in heard

    spool = spool_for(ivr.settings)
    deadline = time.monotonic() + 10
    while not any(j.ended_at for j in spool.pending()) and time.monotonic() < deadline:
        time.sleep(0.1)
    (journal,) = spool.pending()
    assert journal.want_ticket and journal.ended_at and "물이" in (journal.transcript or "")
    assert journal.recording_sha256

    # The database is back: recovery makes the ticket from the spool.
    live = make_session_factory(make_engine(sqlite_url))
    seed_city(live, ivr.domain)
    assert recover_spool(sessions=live, domain=ivr.domain, spool=spool) == [journal.call_id]
    assert spool.pending() == []
    ivr.sessions = live
    (rec,) = ivr.wait_record()
    ticket = ivr.ticket_of(rec)
    assert rec.outcome == CallOutcome.TICKET and ticket is not None
    assert ticket.recording_sha256 == journal.recording_sha256 and "물이" in ticket.transcript


def test_database_locked_at_the_answer_keeps_what_the_caller_said_meanwhile(
        ivr_factory, vosk_engine, korean_speech, sqlite_url: str, tmp_path: Path) -> None:
    """Another process holds the SQLite write lock when the call is answered, and lets go
    only after the caller has told the complaint and hung up. Before the fix the call
    waited on the database before it started listening: its recording was silence and the
    call was filed as abandoned, the complaint lost. And (fixed after) before it greeted:
    the caller heard silence until the lock went."""
    ivr = ivr_factory(engine=vosk_engine)
    sink = harness.RtpSink()
    holder = sqlite3.connect(sqlite_url.removeprefix("sqlite:///"), isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        result = ivr.caller(CallerScript(tmp_path).wait(1.0)
                            .say(korean_speech[WATER], then_wait=1.0), ending="bye",
                            media_port=str(sink.port)).run()
        heard = g711.ulaw_to_pcm16(b"".join(p.payload for p in sink.packets))
    finally:
        holder.execute("COMMIT")
        holder.close()
        sink.close()
    assert_ok(result)
    # The greeting's opening words (the caller barges in after a second) reached the
    # caller while the database was still locked.
    greeting = PromptLibrary(ivr.settings).pcm("greeting")[2000:8000]
    assert g711.ulaw_to_pcm16(g711.pcm16_to_ulaw(greeting)) in heard

    (rec,) = ivr.wait_record(timeout=60)
    ticket = ivr.ticket_of(rec)
    assert rec.outcome == CallOutcome.TICKET and ticket is not None
    # (The words as heard: "물이 나오지 않습니다", its first word at times cut.)
    assert "않습니다" in (ticket.transcript or "")


def test_a_start_frees_the_transcription_a_dead_process_of_this_host_held(
        ivr_factory, tmp_path: Path) -> None:
    """A drain killed mid-recording left its job claimed for the lease (10 minutes), the
    ticket waiting that long for its words after a restart (fault trial, fifteenth round).
    The IVR's start frees it; a live process's claim, or another host's, keeps its lease."""
    ivr = ivr_factory(engine=None)
    call = CallIntake(sessions=ivr.sessions, domain=ivr.domain, spool=Spool(tmp_path / "sp"),
                      call_id="killed-mid-drain", caller="13811112222")
    call.recording(tmp_path / "killed.wav", None, 5.0)
    call.understood(None, asr_error="decoder behind")
    assert call.file_ticket() is not None
    gone = subprocess.Popen(["true"])
    gone.wait()
    host = socket.gethostname()
    claims = [f"{host}:{gone.pid}", f"{host}:{os.getpid()}", f"elsewhere:{gone.pid}"]
    with transaction(ivr.sessions) as s:
        (job,) = s.scalars(select(TranscriptionJob)).all()
        for claim in claims[1:]:
            s.add(TranscriptionJob(ticket_id=job.ticket_id, recording_path=job.recording_path,
                                   claimed_by=claim, claimed_until=utcnow() + timedelta(minutes=10)))
        job.claimed_by, job.claimed_until = claims[0], utcnow() + timedelta(minutes=10)

    ivr_factory(engine=None, sessions=ivr.sessions)  # the restart, on the same database

    with ivr.sessions() as s:
        held = {j.id: j.claimed_by for j in s.scalars(select(TranscriptionJob)
                                                      .order_by(TranscriptionJob.id))}
    assert list(held.values()) == [None, *claims[1:]]


def test_no_model_records_and_the_backlog_transcribes(ivr_factory, vosk_engine, korean_speech,
                                                      tmp_path: Path) -> None:
    ivr = ivr_factory(engine=None)  # no model installed
    assert_ok(ivr.caller(complaint(tmp_path, korean_speech[WATER])).run())

    (rec,) = ivr.wait_record()
    ticket = ivr.ticket_of(rec)
    assert rec.outcome == CallOutcome.TICKET and ticket is not None
    assert ticket.demand == TRANSCRIPT_PENDING and not ticket.transcript
    (job,) = ivr.jobs()
    assert job.status == JobStatus.PENDING and job.recording_path == rec.recording_path

    # A model arrives: the backlog gives the ticket its words.
    done = run_backlog(sessions=ivr.sessions, domain=ivr.domain,
                       transcribe=lambda p: transcribe_clean(vosk_engine, p, list(PHRASES)))
    assert done.done == 1
    assert "물이" in (ivr.ticket_of(rec).transcript or "")


class FailingEngine(AsrEngine):
    """The real engine whose recognizers raise after a second of audio, as Vosk does when
    its model is pulled from under it (fault injection, not a stand-in)."""

    def __init__(self, real: AsrEngine) -> None:
        self.__dict__.update(real.__dict__)

    def stream(self, *args, **kwargs):
        stream = super().stream(*args, **kwargs)
        pushed = [0]
        push = stream.push

        def failing_push(pcm16: bytes):
            pushed[0] += 1
            if pushed[0] > 50:
                raise RuntimeError("vosk: recognizer error")
            return push(pcm16)

        stream.push = failing_push  # type: ignore[method-assign]
        return stream


def test_asr_failure_mid_call_still_makes_a_ticket(ivr_factory, vosk_engine, korean_speech,
                                                   tmp_path: Path) -> None:
    ivr = ivr_factory(engine=FailingEngine(vosk_engine))
    assert_ok(ivr.caller(complaint(tmp_path, korean_speech[WATER])).run())

    (rec,) = ivr.wait_record()
    ticket = ivr.ticket_of(rec)
    assert rec.outcome == CallOutcome.TICKET and ticket is not None
    assert ticket.demand == TRANSCRIPT_PENDING
    (job,) = ivr.jobs()
    assert "live ASR failed" in (job.last_error or "")
