"""A caller hangs up while other calls keep every decoding slot busy: the ticket is filed
with the caller's own live words (their finish goes ahead of the talkers, asr.engine
DecodePriority), not after the transcript wait without them. SIPp as the caller, our IVR
with real Vosk on one decoding slot, SQLite."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from asr.engine import AsrEngine
from ivr.audio import ASR_CHUNK_SECONDS
from ivr.callrecords import CallOutcome
from tests.ivr.conftest import PHRASES
from tests.ivr.ivrkit import assert_ok
from tests.support.callers import CallerScript

pytestmark = pytest.mark.sip

GAS = PHRASES[1]


class Talkers:
    """Other callers, still mid-complaint: streams pushing speech without pause through
    the same engine, at the priority of a caller who is talking."""

    def __init__(self, engine: AsrEngine, speech: bytes, count: int) -> None:
        self.engine = engine
        self.speech = speech
        self.stop = threading.Event()
        self.pushed_seconds = 0.0
        self._lock = threading.Lock()
        self.threads = [threading.Thread(target=self._talk, daemon=True) for _ in range(count)]

    def _talk(self) -> None:
        step = int(8000 * 2 * ASR_CHUNK_SECONDS)
        while not self.stop.is_set():
            stream = self.engine.stream(sample_rate=8000, partial_interval=None)
            for offset in range(0, len(self.speech), step):
                if self.stop.is_set():
                    break
                stream.push(self.speech[offset : offset + step])
                with self._lock:
                    self.pushed_seconds += ASR_CHUNK_SECONDS
            # Never finished: these callers are still talking when the test ends.

    def __enter__(self) -> Talkers:
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(10)


def test_hangup_files_the_live_words_while_other_calls_keep_the_decoder_busy(
        ivr_factory, vosk_model, korean_speech, tmp_path: Path) -> None:
    engine = AsrEngine(vosk_model, workers=1, low_confidence=0.0)
    ivr = ivr_factory(engine=engine)
    # Non-stop speech, several sentences long: whoever decodes it never runs out of work.
    speech = b"".join(korean_speech[p] for p in PHRASES) * 3
    script = CallerScript(tmp_path).wait(2.2).say(korean_speech[GAS], then_wait=0.3)
    with Talkers(engine, speech, count=3) as talkers:
        assert_ok(ivr.caller(script, ending="bye").run())
        (rec,) = ivr.wait_record(timeout=30)
        talked = talkers.pushed_seconds
    assert talked > 0  # the slot really was contended while the call was on
    ticket = ivr.ticket_of(rec)
    assert rec.outcome == CallOutcome.TICKET
    assert ticket is not None and ticket.transcript and "냄새가" in ticket.transcript, (
        ticket and ticket.transcript)
    # Filed with the live transcript: nothing was left for the backlog to redo.
    assert ivr.jobs() == []
