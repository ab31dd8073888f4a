"""A caller hangs up while their recognizer is far behind (a node short of CPU): the ticket
is filed as soon as the bounded transcript wait says the words will not come in time --
not held any longer by the recognizer still stuck in its push -- and the recording goes to
the transcription backlog, so nothing is lost. SIPp as the caller, our IVR with real Vosk
at the shipped settings, SQLite."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from asr.jobs import JobStatus
from asr.stream import StreamingTranscriber
from ivr.callrecords import CallOutcome
from tests.ivr.conftest import PHRASES
from tests.ivr.ivrkit import assert_ok
from tests.support.callers import CallerScript

pytestmark = pytest.mark.sip

GAS = PHRASES[1]


def test_hangup_with_the_recognizer_behind_files_at_once_and_queues_the_backlog(
        ivr_factory, vosk_engine, korean_speech, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    push = StreamingTranscriber.push
    behind = threading.Event()  # set: the recognizer may go on
    stuck: list[int] = []

    def stalled(self: StreamingTranscriber, pcm16: bytes):  # type: ignore[no-untyped-def]
        if not stuck:  # the decoder falls behind for good in the middle of the complaint
            stuck.append(1)
            behind.wait(60)
        return push(self, pcm16)

    monkeypatch.setattr(StreamingTranscriber, "push", stalled)
    ivr = ivr_factory(engine=vosk_engine)
    script = CallerScript(tmp_path).wait(2.2).say(korean_speech[GAS], then_wait=0.3)
    try:
        assert_ok(ivr.caller(script, ending="bye").run())
        # Filed while the recognizer is still inside that push.
        (rec,) = ivr.wait_record(timeout=30)
        assert not behind.is_set() and stuck
        ticket = ivr.ticket_of(rec)
        assert rec.outcome == CallOutcome.TICKET
        assert ticket is not None and not ticket.transcript
        (job,) = ivr.jobs()
        assert job.ticket_id == ticket.id and job.status == JobStatus.PENDING.value
        assert job.recording_path == rec.recording_path
    finally:
        behind.set()


def test_a_recognizer_that_fell_behind_catches_up_in_larger_pushes_with_the_words(
        ivr_factory, vosk_engine, korean_speech, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from ivr.audio import FRAME_SECONDS, MAX_PUSH_SECONDS

    push = StreamingTranscriber.push
    pushed: list[int] = []

    def late(self: StreamingTranscriber, pcm16: bytes):  # type: ignore[no-untyped-def]
        if not pushed:  # the decoder is held up for a while as the caller starts talking
            threading.Event().wait(1.5)
        pushed.append(len(pcm16))
        return push(self, pcm16)

    monkeypatch.setattr(StreamingTranscriber, "push", late)
    ivr = ivr_factory(engine=vosk_engine)
    script = CallerScript(tmp_path).wait(1.0).say(korean_speech[GAS], then_wait=0.3)
    assert_ok(ivr.caller(script, ending="bye").run())
    (rec,) = ivr.wait_record(timeout=30)
    ticket = ivr.ticket_of(rec)
    assert rec.outcome == CallOutcome.TICKET and ticket is not None
    # The words came live: the recognizer caught up, the finish queued behind the frames
    # it took was answered, and nothing went to the backlog.
    assert ticket.transcript and "냄새가" in ticket.transcript, ticket.transcript
    assert ivr.jobs() == []
    frame = int(8000 * FRAME_SECONDS) * 2
    # The 1.5 s it fell behind came in pushes of several frames, none above the cap.
    assert max(pushed) > frame
    assert max(pushed) <= int(8000 * MAX_PUSH_SECONDS) * 2
    assert all(size % frame == 0 for size in pushed)
