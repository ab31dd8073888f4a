"""Callers who do not follow the script: hang up mid-complaint, say nothing, mumble, lean on
the keypad. SIPp as the caller, our IVR with real Vosk, SQLite."""

from __future__ import annotations

from pathlib import Path

import pytest

from ivr.callrecords import CallOutcome
from tests.ivr.conftest import PHRASES
from tests.ivr.ivrkit import assert_ok
from tests.support.callers import CallerScript

pytestmark = pytest.mark.sip

WATER, GAS = PHRASES[0], PHRASES[1]


def test_hangup_mid_recording_still_makes_a_ticket(ivr_factory, vosk_engine, korean_speech,
                                                   tmp_path: Path) -> None:
    ivr = ivr_factory(engine=vosk_engine)
    # Speaks, and hangs up (BYE) before pressing # or waiting for the silence to end it.
    script = CallerScript(tmp_path).wait(2.2).say(korean_speech[GAS], then_wait=0.3)
    assert_ok(ivr.caller(script, ending="bye").run())

    (rec,) = ivr.wait_record()
    ticket = ivr.ticket_of(rec)
    assert rec.outcome == CallOutcome.TICKET
    assert ticket is not None and ticket.status in ("dispatched", "accepted")
    assert ticket.transcript and "냄새가" in ticket.transcript, ticket.transcript
    assert rec.recording_seconds and rec.recording_seconds > 2


def test_silence_only_is_prompted_again_then_abandoned(ivr_factory, vosk_engine,
                                                       tmp_path: Path) -> None:
    ivr = ivr_factory(engine=vosk_engine)
    # A phone that sends only silence; the IVR asks once more, then says goodbye and hangs up.
    script = CallerScript(tmp_path).wait(0)
    assert_ok(ivr.caller(script, timeout_s=40).run())

    (rec,) = ivr.wait_record()
    assert rec.outcome == CallOutcome.ABANDONED
    assert rec.ticket_id is None and ivr.tickets() == []
    assert Path(rec.recording_path or "").is_file()  # the silence is on record too


def test_unsure_transcript_is_asked_again_and_stray_keys_are_ignored(
        ivr_factory, vosk_engine, korean_speech, tmp_path: Path) -> None:
    ivr = ivr_factory(engine=vosk_engine)
    # Every word counts as low-confidence: the IVR must ask once more (and only once).
    vosk_engine.low_confidence = 1.01
    try:
        script = (CallerScript(tmp_path).wait(2.2)
                  .key("5").key("*")  # stray keys while recording: ignored
                  .say(korean_speech[WATER], then_wait=0.3).key("#", then_wait=1.0)
                  .say(korean_speech[WATER], then_wait=0.3).key("#", then_wait=1.5)
                  .key("7", then_wait=0.5)  # a wrong key at the confirm question
                  .key("1", then_wait=0))
        assert_ok(ivr.caller(script, timeout_s=60).run())
    finally:
        vosk_engine.low_confidence = 0.0

    (rec,) = ivr.wait_record()
    ticket = ivr.ticket_of(rec)
    assert rec.outcome == CallOutcome.TICKET
    assert (rec.keys or "").startswith("5*#")
    assert ticket is not None and "물이" in (ticket.transcript or "")
    assert ticket.transcript_meta and ticket.transcript_meta["low_confidence"]


def test_hangup_while_the_audio_pump_lags_still_makes_a_ticket(
        ivr_factory, korean_speech, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A node short of CPU (seen in bench/scale.py past its capacity): the thread reading
    the caller's audio is behind when the BYE comes. What is still queued must be heard
    before deciding that the caller said nothing."""
    import time as _time

    from ivr.audio import CallAudio

    on_frame = CallAudio._on_frame
    stalled: set[int] = set()

    def slow(self: CallAudio, frame: bytes) -> None:
        if id(self) not in stalled:  # the reader stalls for longer than the caller talks
            stalled.add(id(self))
            _time.sleep(4.0)
        on_frame(self, frame)

    monkeypatch.setattr(CallAudio, "_on_frame", slow)
    ivr = ivr_factory(engine=None)
    script = CallerScript(tmp_path).say(korean_speech[GAS], then_wait=0.2)
    assert_ok(ivr.caller(script, ending="bye").run())
    (rec,) = ivr.wait_record(timeout=30)
    assert rec.outcome == CallOutcome.TICKET, rec.outcome
    assert ivr.ticket_of(rec) is not None
