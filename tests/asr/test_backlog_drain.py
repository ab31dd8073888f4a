"""The voice job's transcription backlog (hotline/wiring.py): after a surge it drains at
once, batch after batch, instead of one batch per 30 s tick; one drain per process, on a
thread below the RTP threads, that never holds the voice job up; a drain killed mid-job
loses nothing and applies nothing twice (leases). Socket-free, on the real backlog tables
of both databases, with a transcribe function the test controls (scheduling, not ASR)."""

from __future__ import annotations

import os
import signal
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from asr.jobs import JobStatus, TranscriptionJob, pending_count
from asr.stream import Transcript
from config import Settings
from hotline.roles import Part
from hotline.wiring import BACKLOG_BATCH, Background
from ivr.audio import ASR_NICE
from ivr.intake import CallIntake, Spool
from tests.support.city import City
from tests.support.harness import fork_with_us
from ticketing.context import Domain
from ticketing.db import make_engine, make_session_factory
from ticketing.models import Ticket, utcnow

WATER = "朝阳区望京西园三区5号楼停水了，一直没来水"
# Bounds against a hang, not expectations: the machine is shared.
WAIT = 120.0


def file_wordless_calls(sessions: sessionmaker[Session], domain: Domain, tmp_path: Path,
                        n: int) -> None:
    """``n`` calls whose live words never came: each files a ticket and queues a job."""
    spool = Spool(tmp_path / "spool")
    for i in range(n):
        call = CallIntake(sessions=sessions, domain=domain, spool=spool, call_id=f"surge-{i}",
                          caller="13811112222")
        call.recording(tmp_path / f"surge-{i}.wav", None, 5.0)
        call.understood(None, asr_error="decoder behind")
        assert call.file_ticket() is not None
    with sessions() as s:
        assert pending_count(session=s) == n


def voice_part(settings: Settings, sessions: sessionmaker[Session], domain: Domain,
               transcribe: Callable[[Path], Transcript]) -> Background:
    """`hotline serve`'s voice part, its backlog decoded by ``transcribe``. The IVR is not
    what is tested here: without SIP the voice tick binds no port."""
    return Background(
        settings=settings.model_copy(update={
            "sip": settings.sip.model_copy(update={"enabled": False})}),
        sessions=sessions, domain=domain, engine=None, transcribe=transcribe,
        parts=frozenset({Part.VOICE}))


class Transcriber:
    """Records each recording it is given, how many run at once and at what nice."""

    def __init__(self, hold_first: threading.Event | None = None) -> None:
        self.paths: list[str] = []
        self.running = 0
        self.most_at_once = 0
        self.nices: set[int] = set()
        self.hold_first = hold_first
        self.first_taken = threading.Event()
        self._lock = threading.Lock()

    def __call__(self, path: Path) -> Transcript:
        with self._lock:
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)
            self.nices.add(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))
            first = not self.paths
            self.paths.append(str(path))
        try:
            if first and self.hold_first is not None:
                self.first_taken.set()
                assert self.hold_first.wait(WAIT)
            return Transcript(text=WATER)
        finally:
            with self._lock:
                self.running -= 1


def assert_every_ticket_transcribed_once(sessions: sessionmaker[Session], n: int) -> None:
    with sessions() as s:
        tickets = s.scalars(select(Ticket)).all()
        assert len(tickets) == n
        for t in tickets:
            assert t.transcript == WATER
            assert [e.action for e in t.events].count("transcribed") == 1
        assert pending_count(session=s) == 0
        assert {j.status for j in s.scalars(select(TranscriptionJob))} == {JobStatus.DONE}


# A surge of 2 batches and more filed and drained (~3 CPU-s), and a drain in a forked process
# killed mid-recording (~1): the whole suite only (marker "slow", not `scripts/test.sh
# --fast`). The fast tier keeps the drain going past a failing recording, stopping between
# recordings and the job queued as the drain ends.
@pytest.mark.slow
def test_one_voice_tick_drains_a_surge_and_holds_nothing_up(
        settings: Settings, sessions: sessionmaker[Session], domain: Domain, city: City,
        tmp_path: Path) -> None:
    n = 2 * BACKLOG_BATCH + 5  # more than two batches
    file_wordless_calls(sessions, domain, tmp_path, n)
    release = threading.Event()
    transcribe = Transcriber(hold_first=release)
    b = voice_part(settings, sessions, domain, transcribe)
    try:
        b.voice_tick()
        assert transcribe.first_taken.wait(WAIT)
        # The drain is busy on its first recording: further ticks return (they still retry
        # the IVR and settle the spool) and start no second drain.
        for _ in range(2):
            tick = threading.Thread(target=b.voice_tick)
            tick.start()
            tick.join(WAIT)
            assert not tick.is_alive()
        assert b.kick_backlog() is False
        release.set()
        assert b.wait_backlog(WAIT)
        # All of it in one go, not BACKLOG_BATCH per tick.
        assert sorted(transcribe.paths) == sorted(str(tmp_path / f"surge-{i}.wav")
                                                  for i in range(n))
        assert transcribe.most_at_once == 1
        # Below the RTP threads (nice 0), level with the live decoders.
        assert transcribe.nices == {ASR_NICE}
        assert_every_ticket_transcribed_once(sessions, n)
        # A tick with nothing queued transcribes nothing again.
        b.voice_tick()
        assert b.wait_backlog(WAIT) and len(transcribe.paths) == n
    finally:
        release.set()
        b.stop()


def test_a_failing_recording_does_not_stop_the_drain_nor_spin(
        settings: Settings, sessions: sessionmaker[Session], domain: Domain, city: City,
        tmp_path: Path) -> None:
    """A batch of failures is a full batch too: the drain goes on to the good ones, and a
    failed job waits for its backoff instead of being tried again and again."""
    n = BACKLOG_BATCH + 3
    file_wordless_calls(sessions, domain, tmp_path, n)
    tries: Counter[str] = Counter()
    broken = {str(tmp_path / f"surge-{i}.wav") for i in range(BACKLOG_BATCH)}

    def transcribe(path: Path) -> Transcript:
        tries[str(path)] += 1
        if str(path) in broken:
            raise OSError(f"cannot read {path}")
        return Transcript(text=WATER)

    b = voice_part(settings, sessions, domain, transcribe)
    try:
        b.voice_tick()
        assert b.wait_backlog(WAIT)
        assert set(tries) == {str(tmp_path / f"surge-{i}.wav") for i in range(n)}
        assert set(tries.values()) == {1}
        with sessions() as s:
            jobs = s.scalars(select(TranscriptionJob)).all()
            assert sum(j.status == JobStatus.DONE for j in jobs) == 3
            waiting = [j for j in jobs if j.status == JobStatus.PENDING]
            assert len(waiting) == BACKLOG_BATCH
            assert all(j.attempts == 1 and "cannot read" in (j.last_error or "")
                       for j in waiting)
    finally:
        b.stop()


def test_stopping_the_service_stops_the_drain_between_recordings(
        settings: Settings, sessions: sessionmaker[Session], domain: Domain, city: City,
        tmp_path: Path) -> None:
    n = BACKLOG_BATCH + 5
    file_wordless_calls(sessions, domain, tmp_path, n)
    release = threading.Event()
    transcribe = Transcriber(hold_first=release)
    b = voice_part(settings, sessions, domain, transcribe)
    b.voice_tick()
    assert transcribe.first_taken.wait(WAIT)
    stopper = threading.Thread(target=b.stop)
    stopper.start()  # waits (BACKLOG_STOP_WAIT at most) for the recording under way
    release.set()
    stopper.join(WAIT)
    assert b.wait_backlog(WAIT)
    assert len(transcribe.paths) == 1  # the one under way finished; no other was claimed
    with sessions() as s:
        assert pending_count(session=s) == n - 1
    assert b.kick_backlog() is False  # a stopped service starts no drain


# A drain in a process of its own, killed (SIGKILL) while it transcribes its third
# recording. Forked from the test's process, which has imported the project and loaded the
# shipped model already: a fresh interpreter paid ~5 CPU-s for both before it drained.
def _doomed(url: str, data: Path, marker: Path, words: str) -> None:
    """The child's whole life: drain the backlog once, hang on the third recording."""
    settings = Settings(database_url=url, data_dir=data, recordings_dir=data / "rec")
    seen: list[Path] = []

    def transcribe(path: Path) -> Transcript:
        seen.append(path)
        if len(seen) == 3:
            # Written then renamed: the test polls for the marker and must never read it
            # half-written.
            part = marker.with_suffix(".part")
            part.write_text(str(path))
            part.rename(marker)
            time.sleep(600)
        return Transcript(text=words)

    b = voice_part(settings, make_session_factory(make_engine(url)), Domain.load(settings),
                   transcribe)
    b.voice_tick()
    b.wait_backlog()


def _fork_doomed(url: str, data: Path, marker: Path, words: str) -> int:
    pid = fork_with_us()  # killed with the test process, however that ends
    if pid == 0:  # the child: it never returns into pytest, whatever happens
        code = 1
        try:
            _doomed(url, data, marker, words)
            code = 0
        except BaseException:  # shown here; the exit code tells the parent
            traceback.print_exc()
        finally:
            os._exit(code)
    return pid


def _running(pid: int) -> bool:
    return os.waitpid(pid, os.WNOHANG) == (0, 0)


@pytest.mark.slow
def test_a_drain_killed_mid_recording_loses_nothing_and_does_nothing_twice(
        settings: Settings, sessions: sessionmaker[Session], domain: Domain, city: City,
        tmp_path: Path) -> None:
    marker = tmp_path / "third-recording"
    n = BACKLOG_BATCH + 5
    file_wordless_calls(sessions, domain, tmp_path, n)
    doomed = _fork_doomed(settings.database_url, tmp_path, marker, WATER)
    try:
        deadline = time.monotonic() + WAIT
        while not marker.exists():
            assert _running(doomed), "the draining process ended by itself"
            assert time.monotonic() < deadline, "the draining process never got to it"
            time.sleep(0.05)
    finally:
        try:
            os.kill(doomed, signal.SIGKILL)
            os.waitpid(doomed, 0)
        except (ProcessLookupError, ChildProcessError):
            pass  # it ended by itself and was reaped: the assertion above says so
    in_hand = marker.read_text()
    with sessions() as s:
        jobs = s.scalars(select(TranscriptionJob)).all()
        assert sum(j.status == JobStatus.DONE for j in jobs) == 2
        (claimed,) = [j for j in jobs if j.status == JobStatus.PENDING and j.claimed_by]
        assert claimed.recording_path == in_hand  # still under the dead worker's lease

    transcribe = Transcriber()
    b = voice_part(settings, sessions, domain, transcribe)
    try:
        # Within the dead worker's lease its recording is left alone...
        b.voice_tick()
        assert b.wait_backlog(WAIT)
        assert len(transcribe.paths) == n - 3 and in_hand not in transcribe.paths
        # ...and taken over once the lease has run out.
        later = utcnow() + timedelta(minutes=11)
        domain.now = lambda: later  # type: ignore[method-assign]
        b.voice_tick()
        assert b.wait_backlog(WAIT)
        assert len(transcribe.paths) == n - 2 and transcribe.paths[-1] == in_hand
    finally:
        b.stop()
    assert_every_ticket_transcribed_once(sessions, n)


def test_a_job_queued_as_the_drain_ends_is_drained_by_it_not_the_next_tick(
        settings: Settings, sessions: sessionmaker[Session], domain: Domain, city: City,
        tmp_path: Path) -> None:
    """A call whose words are left to the backlog kicks the drain as it ends (ivr
    ``on_backlog``). The kick that came after the drain under way found nothing more to
    claim, but before its thread ended, started none (a drain was alive) and was lost: the
    ticket waited for the next voice tick, 30 s, undispatched. Now that drain goes round
    once more."""
    file_wordless_calls(sessions, domain, tmp_path, 1)
    transcribe = Transcriber()
    b = voice_part(settings, sessions, domain, transcribe)
    drained, go_on = threading.Event(), threading.Event()
    drain = b.drain_backlog

    def drain_then_pause(how: Callable[[Path], Transcript]) -> object:
        run = drain(how)  # the real drain: it found nothing more to claim
        if not drained.is_set():
            drained.set()
            assert go_on.wait(WAIT)  # its thread not ended yet
        return run

    b.drain_backlog = drain_then_pause  # type: ignore[method-assign]
    try:
        assert b.kick_backlog()
        assert drained.wait(WAIT)
        late = CallIntake(sessions=sessions, domain=domain, spool=Spool(tmp_path / "spool"),
                          call_id="late-0", caller="13811112222")
        late.recording(tmp_path / "late-0.wav", None, 5.0)
        late.understood(None, asr_error="decoder behind")
        assert late.file_ticket() is not None
        b.kick_backlog()  # as Dialogue._finish does
        go_on.set()
        assert b.wait_backlog(WAIT)
        assert sorted(transcribe.paths) == [str(tmp_path / "late-0.wav"),
                                            str(tmp_path / "surge-0.wav")]
        assert_every_ticket_transcribed_once(sessions, 2)
    finally:
        go_on.set()
        b.stop()
