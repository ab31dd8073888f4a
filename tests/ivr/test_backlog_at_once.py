"""A caller hangs up and their live words do not come in time: the ticket is filed without
them and the recording queued, and the transcription backlog starts on it at once -- not
at the voice job's next tick, up to 30 s later, while the ticket waits in the manual queue
for its words. Socket-free: the SIP dialogue's own hang-up and closing steps
(``ivr.call_flow.Dialogue``) on a scripted line and turn, the real intake on SQLite and
PostgreSQL, and `hotline serve`'s voice part (``hotline.wiring.Background``) with a
transcribe function the test controls (scheduling, not ASR)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from asr.jobs import JobStatus, TranscriptionJob, pending_count
from asr.recording import Recording
from asr.stream import Transcript
from config import Settings
from hotline import wiring
from hotline.roles import Part
from hotline.wiring import Background
from ivr import prompts as P
from ivr.audio import TurnResult
from ivr.call_flow import Dialogue, IvrServices, State
from ivr.intake import Spool
from telephony.call import EndReason, PlayResult
from tests.support.city import City
from ticketing.context import Domain
from ticketing.models import Ticket
from ticketing.states import Status

WATER = "朝阳区望京西园三区5号楼停水了，一直没来水"
WAIT = 120.0  # a bound against a hang, not an expectation: the machine is shared


class HungUpLine:
    """What ``Dialogue`` uses of a ``CallHandle``, for a caller who has hung up."""

    def __init__(self, call_id: str) -> None:
        self.call_id = call_id
        self.caller = "13800138000"
        self.callee = "12345"
        self.ended = True
        self.end_reason = EndReason.REMOTE_HANGUP  # the caller hung up (not our stop)
        self.held = False
        self.holds = 0

    def play_pcm16(self, pcm16: bytes, *, interrupt_on_dtmf: bool = False,
                   last: bool = False) -> PlayResult:
        return PlayResult.HUNG_UP

    def get_dtmf(self, timeout: float | None = 0.0) -> str | None:
        return None

    def flush_dtmf(self) -> str:
        return ""

    def hangup(self) -> None:
        self.ended = True


class SpokenTurn:
    """The caller's audio: they spoke, then hung up inside the turn; the live words are
    ``words`` (None: the transcript wait ran out, the decoder behind)."""

    barge_in_armed = False
    speech_started = True
    listening = True
    spoke = True
    recording_failure = None  # CallAudio's: the recording held

    def __init__(self, path: Path, words: str | None) -> None:
        self.path = path
        self.words = words

    def hurry(self) -> None:
        pass

    def wait_drained(self, timeout: float = 3.0) -> None:
        pass

    def finish_turn(self, timeout: float) -> TurnResult:
        self.listening = False
        if self.words is None:
            return TurnResult(None, f"live transcription more than {timeout:g} s behind")
        return TurnResult(Transcript(self.words))

    def close(self) -> Recording:
        self.path.write_bytes(b"RIFF")  # the file exists; what it holds is not read here
        return Recording(self.path, "0" * 64, 4.3)


def hang_up(services: IvrServices, call_id: str, words: str | None, tmp_path: Path) -> None:
    """The dialogue from the caller's hang-up inside a turn to the call's end."""
    d = Dialogue(HungUpLine(call_id), services)  # type: ignore[arg-type]
    d.audio = SpokenTurn(tmp_path / f"{call_id}.wav", words)  # type: ignore[assignment]
    d.intake.answered()
    assert d.handlers[State.HANGUP]() is State.DONE
    d._finish()


def voice_part(settings: Settings, sessions: sessionmaker[Session], domain: Domain,
               transcribed: list[Path]) -> Background:
    def transcribe(path: Path) -> Transcript:
        transcribed.append(path)
        return Transcript(text=WATER)

    return Background(
        settings=settings.model_copy(update={
            "sip": settings.sip.model_copy(update={"enabled": False})}),
        sessions=sessions, domain=domain, engine=None, transcribe=transcribe,
        parts=frozenset({Part.VOICE}))


def test_a_wordless_hang_up_starts_the_backlog_at_once_and_its_ticket_is_dispatched(
        settings: Settings, sessions: sessionmaker[Session], domain: Domain, city: City,
        tmp_path: Path) -> None:
    transcribed: list[Path] = []
    b = voice_part(settings, sessions, domain, transcribed)
    kicks: list[int] = []

    def on_backlog() -> object:
        # Called after the ticket and its job are committed: the drain can claim it.
        with sessions() as s:
            kicks.append(pending_count(session=s))
        return b.kick_backlog()

    services = IvrServices(settings=settings, sessions=sessions, domain=domain,
                           prompts=P.PromptLibrary(settings), spool=Spool(tmp_path / "spool"),
                           engine=None, on_backlog=on_backlog)
    try:
        hang_up(services, "behind-1", None, tmp_path)
        assert kicks == [1]
        # No voice tick ran (no scheduler here): the call's end started the drain.
        assert b.wait_backlog(WAIT)
        assert transcribed == [tmp_path / "behind-1.wav"]
        with sessions() as s:
            (ticket,) = s.scalars(select(Ticket)).all()
            assert ticket.transcript == WATER
            assert [e.action for e in ticket.events].count("transcribed") == 1
            # Its words came, so the rules placed it: out of the manual queue.
            assert ticket.status == Status.DISPATCHED.value and ticket.unit_id is not None
            (job,) = s.scalars(select(TranscriptionJob)).all()
            assert job.status == JobStatus.DONE.value
    finally:
        b.stop()


def test_a_call_with_live_words_starts_no_backlog(
        settings: Settings, sessions: sessionmaker[Session], domain: Domain, city: City,
        tmp_path: Path) -> None:
    kicks: list[int] = []
    services = IvrServices(settings=settings, sessions=sessions, domain=domain,
                           prompts=P.PromptLibrary(settings), spool=Spool(tmp_path / "spool"),
                           engine=None, on_backlog=lambda: kicks.append(1))
    hang_up(services, "live-1", WATER, tmp_path)
    assert kicks == []
    with sessions() as s:
        (ticket,) = s.scalars(select(Ticket)).all()
        assert ticket.transcript == WATER and ticket.status == Status.DISPATCHED.value
        assert pending_count(session=s) == 0


def test_the_service_wires_the_calls_to_its_drain(
        settings: Settings, sessions: sessionmaker[Session], domain: Domain,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """`hotline serve` starts the IVR with its own drain as the calls' ``on_backlog``."""
    started: dict[str, Any] = {}

    def start_ivr(*args: Any, **kwargs: Any) -> object:
        started.update(kwargs)
        return object()

    monkeypatch.setattr(wiring, "start_ivr", start_ivr)
    b = Background(settings=settings, sessions=sessions, domain=domain, engine=None,
                   transcribe=lambda path: Transcript(text=WATER),
                   parts=frozenset({Part.VOICE}))
    assert settings.sip.enabled  # the shipped settings answer calls
    b.start_ivr()
    assert started["on_backlog"] == b.kick_backlog
