"""A finished stream hands its recognizer back to the engine and the next stream with the
same rate and grammar takes it: a new recognizer rebuilds its share of the graph (the
lookahead composition cache) and cost ~4x the decoder CPU of a short call. Handed back
cleared, a reused recognizer gives the words a new one gives, whichever way the last
utterance of its previous stream ended (the gate's FinalResult or Vosk's endpointer)."""

from __future__ import annotations

import pytest

from asr.engine import AsrEngine
from asr.stream import Transcript

pytestmark = pytest.mark.asr

SECOND = 8000 * 2


# The call every test here decodes on a reused recognizer: a second of silence after it.
def _call(phone_speech: dict[str, bytes]) -> bytes:
    return bytes(SECOND // 2) + phone_speech["가스 냄새가 납니다"] + bytes(SECOND)


@pytest.fixture(scope="module")
def new_words(vosk_model_without_dither: object,
              phone_speech: dict[str, bytes]) -> list[tuple[str, float, float]]:
    """The call's words on a recognizer that has decoded nothing before: dither 0, so they
    depend on the audio only (test_decoder_options.py), and each test compares its reused
    recognizer's words with them. Decoded once for the module: each test decoding them
    again paid a new recognizer's first clip (~1.5-2 CPU-s) for the same words."""
    engine = AsrEngine(vosk_model_without_dither, workers=1,  # type: ignore[arg-type]
                       idle_recognizers=0)
    try:
        words = _decode(engine, _call(phone_speech))
    finally:
        engine.close()
    assert words
    return words


def _words(transcript: Transcript) -> list[tuple[str, float, float]]:
    return [(w.text, w.start, w.end) for w in transcript.words]


def _decode(engine: AsrEngine, audio: bytes, *, vad: bool = True) -> list[tuple[str, float, float]]:
    stream = engine.stream(sample_rate=8000, vad=vad, partial_interval=None)
    if vad:
        for offset in range(0, len(audio), 320):
            stream.push(audio[offset : offset + 320])
    else:  # silence until Vosk's endpointer ends the utterance, and nothing after it
        stream.push(audio)
        for _ in range(30):
            if not stream._utterance_open:
                break
            stream.push(bytes(SECOND // 10))
        assert not stream._utterance_open, "Vosk's endpointer never fired"
    return _words(stream.finish())


def test_a_reused_recognizer_gives_the_words_of_a_new_one(
        vosk_model_without_dither: object, phone_speech: dict[str, bytes],
        new_words: list[tuple[str, float, float]]) -> None:
    # Dither 0: the words depend on the audio only (test_decoder_options.py), so any
    # difference from ``new_words`` would be state left over from the previous caller.
    engine = AsrEngine(vosk_model_without_dither, workers=1,  # type: ignore[arg-type]
                       idle_recognizers=0)
    before = phone_speech["물이 나오지 않습니다"] + bytes(SECOND * 2)
    audio = _call(phone_speech)
    try:
        for vad in (True, False):  # without the gate, Vosk's endpointer ends the utterance
            engine.idle_recognizers = 1
            _decode(engine, before, vad=vad)
            (kept,) = [rec for recs in engine._idle.values() for rec, _, _ in recs]
            stream = engine.stream(sample_rate=8000, partial_interval=None)
            stream.take_recognizer()  # as its first audio would
            assert stream._rec is kept  # taken again, not made anew
            for offset in range(0, len(audio), 320):
                stream.push(audio[offset : offset + 320])
            # The same words at the same times: Vosk counts times from the recognizer's
            # creation, the stream from its own start.
            assert _words(stream.finish()) == new_words, vad
            engine.idle_recognizers = 0
            engine._idle.clear()
            engine._idle_count = 0
    finally:
        engine.close()


def test_kept_recognizers_are_bounded_and_keyed_by_rate_and_grammar(vosk_model: object) -> None:
    engine = AsrEngine(vosk_model, idle_recognizers=2)  # type: ignore[arg-type]
    streams = [engine.stream(sample_rate=8000) for _ in range(3)]
    for s in streams:
        s.take_recognizer()  # as their first audio would
    recs = [s._rec for s in streams]
    for s in streams:
        s.finish()
    # Two kept (the limit), handed out again; the third was let go.
    again = {id(engine.lend(8000)[0]) for _ in range(2)}
    assert again <= {id(r) for r in recs} and len(again) == 2
    assert id(engine.lend(8000)[0]) not in {id(r) for r in recs}
    # Another rate or a grammar never gets a free-form 8 kHz recognizer.
    s = engine.stream(sample_rate=8000)
    s.take_recognizer()
    s.finish()
    assert engine.lend(16000)[0] is not s._rec
    assert engine.lend(8000, ["감사합니다"])[0] is not s._rec
    assert engine.lend(8000)[0] is s._rec


def test_no_recognizer_is_kept_when_turned_off(vosk_model: object) -> None:
    engine = AsrEngine(vosk_model, idle_recognizers=0)  # type: ignore[arg-type]
    s = engine.stream(sample_rate=8000)
    s.take_recognizer()
    s.finish()
    assert engine.lend(8000)[0] is not s._rec


@pytest.mark.parametrize("abandoned", [False, True])
def test_a_discarded_stream_hands_its_recognizer_back_cleared(
        vosk_model_without_dither: object, phone_speech: dict[str, bytes],
        new_words: list[tuple[str, float, float]], abandoned: bool) -> None:
    # The IVR discards a turn nobody waits for any more (a dropped turn, a call over while
    # its recognizer was behind): cut off mid-sentence, its recognizer still serves the
    # next call, with a new one's words. Abandoned first (the IVR's way), it goes back
    # uncleared and the next stream clears it before its own audio.
    engine = AsrEngine(vosk_model_without_dither, workers=1,  # type: ignore[arg-type]
                       idle_recognizers=0)
    audio = _call(phone_speech)
    try:
        engine.idle_recognizers = 1
        cut = engine.stream(sample_rate=8000, partial_interval=None)
        speech = phone_speech["물이 나오지 않습니다"]
        cut.push(speech[: len(speech) // 2])  # mid-utterance
        if abandoned:
            cut.abandon()
        cut.discard()
        assert cut.finished
        with pytest.raises(RuntimeError):
            cut.push(speech)
        (_, _, cleared), = engine._idle[cut._rec_key]
        assert cleared is not abandoned
        if abandoned:  # a turn with nothing said takes none: it stays as it came, unpaid
            silent = engine.stream(sample_rate=8000, partial_interval=None)
            silent.push(bytes(SECOND // 2))
            assert silent._rec is None and not silent.finish().text
            (_, _, cleared), = engine._idle[cut._rec_key]
            assert cleared is False
        stream = engine.stream(sample_rate=8000, partial_interval=None)
        stream.take_recognizer()  # as its first audio would
        assert stream._rec is cut._rec and stream._rec_stale is abandoned
        for offset in range(0, len(audio), 320):
            stream.push(audio[offset : offset + 320])
        assert _words(stream.finish()) == new_words
    finally:
        engine.close()
