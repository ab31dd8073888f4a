"""The streaming path under awkward audio: silence, noise, a cut clip, two hours."""

from __future__ import annotations

import gc
import math
import random
import sys
import threading
from array import array

import pytest

from asr.stream import Partial, SpeechStarted, UtteranceEnd
from asr.vad import EnergyGate, fax_tone

pytestmark = pytest.mark.asr

SECOND = 8000 * 2  # bytes of 8 kHz 16-bit audio


def _noise(seconds: float, rms: float, seed: int = 1) -> bytes:
    rng = random.Random(seed)
    n = int(8000 * seconds)
    return array("h", (max(-32768, min(32767, int(rng.gauss(0, rms)))) for _ in range(n))).tobytes()


def test_silence_only(engine, push_frames) -> None:
    stream = engine.stream(sample_rate=8000)
    events = push_frames(stream, bytes(10 * SECOND))
    result = stream.finish()
    assert events == []
    assert result.text == "" and result.words == []
    assert not stream.speech_started
    assert stream.silence_after_speech_seconds == 0.0
    assert stream.decoded_seconds == 0.0  # the gate kept the decoder idle


def test_line_noise_only(engine, push_frames) -> None:
    # Steady hiss well above digital silence: the adaptive floor must close the gate.
    stream = engine.stream(sample_rate=8000)
    push_frames(stream, _noise(20, rms=600))
    result = stream.finish()
    assert isinstance(result.text, str)
    assert stream.gate is not None and not stream.gate.is_open
    # Decoding stopped once the floor caught up: the decoder was given well under the 20 s
    # of noise (audio seconds, not the wall-clock time decoding took, which load changes).
    assert stream.fed_seconds < 20 * 0.5


def test_clip_cut_in_the_middle(engine, phone_speech, push_frames) -> None:
    text = "아파트 전기 고장 났어요"
    pcm = phone_speech[text]
    cut = pcm[: len(pcm) // 2 + 1]  # odd length: half a sample left dangling too
    stream = engine.stream(sample_rate=8000)
    push_frames(stream, cut)
    result = stream.finish()  # no trailing silence: finish() must flush the open utterance
    assert result.text
    with pytest.raises(RuntimeError):
        stream.push(b"\0\0")


def test_turn_signals(engine, phone_speech, push_frames) -> None:
    stream = engine.stream(sample_rate=8000)
    events = push_frames(stream, phone_speech["불이 났어요"])
    assert stream.speech_started
    assert any(isinstance(e, SpeechStarted) for e in events)
    push_frames(stream, bytes(2 * SECOND))
    assert 1.9 <= stream.silence_after_speech_seconds <= 2.6
    stream.reset_turn()
    assert not stream.speech_started
    stream.finish()


def test_partials_then_final(engine, phone_speech, push_frames) -> None:
    stream = engine.stream(sample_rate=8000)
    events = push_frames(stream, phone_speech["아파트 전기 고장 났어요"] + bytes(SECOND))
    assert any(isinstance(e, Partial) for e in events)
    finals = [e for e in events if isinstance(e, UtteranceEnd)]
    assert finals and finals[-1].transcript.text == stream.finish().text


def test_no_partials_when_not_asked_same_final(engine, phone_speech, push_frames) -> None:
    # The IVR asks for none (it waits for the final transcript). That the words do not
    # depend on it is proven where decoding is repeatable (dither 0:
    # test_decoder_options.py::test_without_dither_the_same_audio_gives_the_same_words_in_
    # every_stream): with the model's own dither, drawn from Kaldi's process-wide random
    # state, two streams of the same audio may differ by a word either way (docs/asr.md).
    audio = phone_speech["아파트 전기 고장 났어요"] + bytes(SECOND)
    with_partials = engine.stream(sample_rate=8000)
    push_frames(with_partials, audio)
    stream = engine.stream(sample_rate=8000, partial_interval=None)
    events = push_frames(stream, audio)
    assert not any(isinstance(e, Partial) for e in events)
    finals = [e for e in events if isinstance(e, UtteranceEnd)]
    assert finals and finals[-1].transcript.text == stream.finish().text != ""
    assert with_partials.finish().text != ""


def test_two_hours_without_memory_growth(engine, phone_speech, push_frames) -> None:
    """2 h of a call: line noise and silence with a sentence every 20 minutes.

    Generated from a few reusable buffers so it costs nothing to make; the gate keeps
    the decoder idle for the pauses, which is also what makes this test fast.
    """
    speech = phone_speech["물이 나오지 않습니다"]
    quiet = _noise(1.0, rms=40, seed=7)  # one second of faint line noise, reused
    minute = quiet * 60
    stream = engine.stream(sample_rate=8000)

    def rss_kib() -> int:
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmRSS"))

    # RSS covers Vosk's native memory and Python's; allocated blocks isolate Python
    # objects (tracemalloc would do it too, but slows this 360 000-frame loop tenfold).
    base_rss = base_blocks = 0
    for minute_index in range(120):
        if minute_index % 20 == 0:
            push_frames(stream, speech)
        push_frames(stream, minute)
        if minute_index == 20:  # after the first utterances: recognizer warmed up
            gc.collect()
            base_rss, base_blocks = rss_kib(), sys.getallocatedblocks()
    gc.collect()
    end_rss, end_blocks = rss_kib(), sys.getallocatedblocks()
    result = stream.finish()
    assert stream.stream_seconds >= 2 * 3600
    assert len(stream.utterances) <= 12
    assert result.words  # the sentences were decoded
    # Python side: only the few words of five more utterances may accumulate.
    assert end_blocks - base_blocks < 2000
    # Native side (Vosk/Kaldi): bounded, not proportional to the 100 minutes streamed.
    assert end_rss - base_rss < 40 * 1024


def test_gate_keeps_preroll_and_hangover() -> None:
    gate = EnergyGate(frame_ms=20, preroll_ms=100, hangover_ms=200)
    quiet, loud = bytes(320), array("h", [8000, -8000] * 80).tobytes()
    passed = [gate.process(quiet).frames for _ in range(10)]
    assert all(not frames for frames in passed)
    first = gate.process(loud)
    assert not first.opened  # one loud frame (a click) does not open it
    second = gate.process(loud)
    assert second.opened and len(second.frames) == 5  # 100 ms of preroll incl. onset
    tail = [gate.process(quiet) for _ in range(10)]
    assert sum(1 for d in tail if d.frames) == 10 or tail[9].closed is False
    closed_at = next(i for i, d in enumerate(tail) if d.closed)
    assert closed_at == 9  # 200 ms hangover = 10 frames of 20 ms


def test_finished_stream_counts_audio_and_decoding_time(engine, phone_speech,
                                                        push_frames) -> None:
    from prometheus_client import REGISTRY

    def value(name: str) -> float:
        return REGISTRY.get_sample_value(name) or 0.0

    pcm = next(iter(phone_speech.values()))
    audio0, decode0 = value("hotline_asr_audio_seconds_total"), value(
        "hotline_asr_decode_seconds_total")
    fed0 = value("hotline_asr_decoded_audio_seconds_total")
    streams0 = value("hotline_asr_real_time_factor_count")
    stream = engine.stream(sample_rate=8000)
    push_frames(stream, bytes(3 * SECOND) + pcm + bytes(3 * SECOND))
    stream.finish()
    stream.finish()  # a second finish() is not a second stream
    audio = value("hotline_asr_audio_seconds_total") - audio0
    fed = value("hotline_asr_decoded_audio_seconds_total") - fed0
    assert audio == pytest.approx(len(pcm) / SECOND + 6, abs=0.03)
    # The VAD gate kept most of the 6 s of silence from the decoder; the speech went in.
    assert len(pcm) / SECOND * 0.8 < fed < audio - 3
    assert value("hotline_asr_decode_seconds_total") - decode0 == pytest.approx(
        stream.decoded_seconds)
    assert stream.decoded_seconds > 0
    assert value("hotline_asr_real_time_factor_count") - streams0 == 1


def _tone(hz: float, seconds: float, rate: int) -> bytes:
    return array("h", (int(8000 * math.sin(2 * math.pi * hz * i / rate))
                       for i in range(int(rate * seconds)))).tobytes()


def test_a_stream_gate_reads_fax_tones_at_the_streams_rate(engine) -> None:
    """review62: the gate read every frame as 8 kHz, so a 16 kHz stream's fax tone (1100 Hz)
    was looked for at 2200 Hz and taken for speech. The stream's own gate has its rate."""
    stream = engine.stream(sample_rate=16000)
    assert stream.gate is not None and stream.gate.sample_rate == 16000
    cng, frame = _tone(1100, 1.0, 16000), 640  # 20 ms at 16 kHz
    speech = [stream.gate.process(cng[i:i + frame]).speech
              for i in range(0, len(cng) - frame + 1, frame)]
    assert not any(speech) and stream.gate.fax_frames >= 40
    assert fax_tone(_tone(1100, 0.02, 16000), 16000)
    assert not fax_tone(_tone(550, 0.02, 16000), 16000)


def test_fax_tone_is_safe_across_threads_of_other_frame_sizes() -> None:
    """review62: one module-level basis was checked, used, and rebuilt for another frame
    size: two calls' threads of 20 ms and 30 ms frames could multiply by each other's
    (a shape error). One read-only basis per size and rate now (bounded: 2 x 1500 frames)."""
    frames = {n: _tone(1100, n / 8000, 8000) for n in (160, 240, 320)}
    errors: list[BaseException] = []

    def run(sizes: tuple[int, ...]) -> None:
        try:
            for i in range(1500):
                assert fax_tone(frames[sizes[i % len(sizes)]])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(s,)) for s in ((160, 320), (240, 160))]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # threads switch as often as a loaded node's may
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
    finally:
        sys.setswitchinterval(interval)
    assert errors == []
