"""Words nobody waits for are not decoded (ivr/audio.py ``_give_up``, asr/stream.py
``abandon``), socket-free with the real Vosk model.

The cause of the wait before the backlog drain after a surge (docs/asr.md, "The wait
before the drain"): each call whose transcript wait had timed out went on decoding after
the call -- the push it had queued, then its turn's FinalResult at the ended turn's top
priority -- so ~70 such finishes held both slots for ~100 s while the backlog's first
recording waited. Here one decoding slot is held by the test (a node whose decoders are
all busy) while a caller talks and hangs up; the line is an in-memory stand-in for the
CallHandle (frames in, nothing else)."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from asr.engine import AsrEngine, DecodePriority, PrioritySlots
from ivr.audio import CallAudio
from tests.ivr.conftest import PHRASES

pytestmark = pytest.mark.asr

SECOND = 8000 * 2
WAIT = 60.0


class Line:
    """What CallAudio reads of a call: 20 ms frames the test hands in, and whether it
    ended."""

    def __init__(self) -> None:
        self.call_id = "given-up@test"
        self.ended = False
        self._frames: queue.SimpleQueue[bytes] = queue.SimpleQueue()

    def say(self, pcm16: bytes) -> None:
        for offset in range(0, len(pcm16), 320):
            self._frames.put(pcm16[offset : offset + 320])

    def read_pcm16(self, timeout: float | None = None) -> bytes | None:
        try:
            return self._frames.get(timeout=timeout)
        except queue.Empty:
            return None

    def stop_playback(self) -> None:
        pass


@pytest.fixture
def busy(vosk_model: object, monkeypatch: pytest.MonkeyPatch
         ) -> Iterator[tuple[AsrEngine, list[tuple[int, str]]]]:
    """An engine with one decoding slot, taken (every decoder busy), and the list of who
    got the slot after, in order: (priority, thread name)."""
    engine = AsrEngine(vosk_model, workers=1)  # type: ignore[arg-type]
    served: list[tuple[int, str]] = []
    acquire = PrioritySlots.acquire

    def noted(slots: PrioritySlots, priority: int = DecodePriority.LIVE,
              since: float | None = None) -> None:
        acquire(slots, priority, since)
        served.append((int(priority), threading.current_thread().name))

    monkeypatch.setattr(engine._slots, "acquire", noted.__get__(engine._slots))
    engine._slots.acquire(DecodePriority.LIVE)
    served.clear()
    try:
        yield engine, served
    finally:
        engine.close()


def _wait_for(condition, what: str) -> None:  # type: ignore[no-untyped-def]
    event = threading.Event()
    for _ in range(int(WAIT / 0.01)):
        if condition():
            return
        event.wait(0.01)
    raise AssertionError(f"timed out waiting for {what}")


def _talking(engine: AsrEngine, tmp_path: Path, speech: bytes) -> tuple[Line, CallAudio]:
    line = Line()
    # The IVR tests' phrase list: the Korean test model gets these words right.
    audio = CallAudio(line, recording_path=tmp_path / "call.wav", engine=engine,  # type: ignore[arg-type]
                      phrase_list=PHRASES)
    audio.start()
    audio.begin_turn()
    said = bytes(SECOND // 2) + speech + bytes(SECOND)
    line.say(said)
    # All of it heard (the line is not paced), and the recognizer has queued for the slot
    # with the first speech.
    _wait_for(lambda: audio._frames == -(-len(said) // 320), "the caller's audio to be read")
    _wait_for(lambda: engine._slots.waiting == 1, "the call's push to queue")
    return line, audio


def test_a_call_over_whose_words_timed_out_decodes_nothing_more_and_the_backlog_goes_next(
        busy, korean_speech: dict[str, bytes], tmp_path: Path) -> None:
    engine, served = busy
    line, audio = _talking(engine, tmp_path, korean_speech[PHRASES[1]])
    # The caller hangs up; the ticket waits (bounded) for the words, which do not come.
    line.ended = True
    audio.hurry()
    audio.wait_drained(timeout=WAIT)
    result = audio.finish_turn(0.2)
    assert result.transcript is None and result.error and "behind" in result.error
    audio.close()
    # A recording of the backlog now asks for a slot, behind the call's queued push.
    backlog_served = threading.Event()

    def backlog() -> None:
        with engine.decode_slot(DecodePriority.BACKLOG):
            backlog_served.set()

    drain = threading.Thread(target=backlog, name="asr-backlog")
    drain.start()
    _wait_for(lambda: engine._slots.waiting == 2, "the backlog to queue")
    engine._slots.release()
    drain.join(WAIT)
    audio._asr.join(WAIT)
    assert backlog_served.is_set() and not audio._asr.is_alive()
    # The call's push had queued first (LIVE goes ahead of BACKLOG): it got the slot,
    # decoded nothing and handed it on; no FinalResult at TURN_ENDED, nothing after.
    assert [p for p, name in served if name.startswith("ivr-asr")] == [DecodePriority.LIVE]
    assert served[-1] == (DecodePriority.BACKLOG, "asr-backlog")
    # Having decoded nothing it took no recognizer (none to clear, none made for it).
    assert audio._stream is not None and audio._stream._rec is None
    assert engine._idle_count == 0


def test_a_turn_given_up_mid_call_is_not_decoded_and_the_next_turn_has_its_own_words(
        busy, korean_speech: dict[str, bytes], tmp_path: Path) -> None:
    engine, served = busy
    line, audio = _talking(engine, tmp_path, korean_speech[PHRASES[1]])
    try:
        result = audio.finish_turn(0.2)  # the read-back cannot wait: the words are late
        assert result.transcript is None
        audio.begin_turn()  # the dialogue goes on: the caller is asked again
        engine._slots.release()  # the node catches up
        _wait_for(lambda: audio._q.empty() and engine._slots.waiting == 0,
                  "the recognizer to take what was queued")
        # The given-up turn took its queued push's slot and decoded nothing with it.
        assert [p for p, _ in served] == [DecodePriority.LIVE]
        line.say(korean_speech[PHRASES[4]] + bytes(SECOND))
        _wait_for(lambda: audio.silence_after_speech > 0.8, "the caller to stop talking")
        again = audio.finish_turn(WAIT)
        assert again.transcript is not None
        # This turn's words only (the test model hears these exactly), none of the first.
        assert again.transcript.text == PHRASES[4]
        assert DecodePriority.TURN_ENDED in [p for p, _ in served]  # the new turn's finish
    finally:
        line.ended = True
        audio.close()
