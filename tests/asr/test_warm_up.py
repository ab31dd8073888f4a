"""Recognizers warmed at start-up (`AsrEngine.warm_up`, `asr.warm_recognizers`): built and
fed speech in the background so a surge right after a restart meets warm ones. Warming
fills only the recognizer's graph cache, so it must change no word; it must not hold up
the calls that come meanwhile; and a bad setting must stop the start, saying why."""

from __future__ import annotations

import contextlib
import ctypes
import os
import threading
import time
from pathlib import Path

import pytest
from pydantic import ValidationError

from asr.engine import AsrEngine
from asr.stream import Transcript
from config.settings import AsrSettings, Settings
from hotline.wiring import WARM_UP_SECONDS, warm_up_recognizers
from ivr.prompts import PromptLibrary
from telephony.media.wav import PHONE_RATE

pytestmark = pytest.mark.asr

SECOND = 8000 * 2
# The warm-up runs under SCHED_IDLE: on a machine busy with other work it gets little CPU,
# so this is a bound against a hang, not an expectation.
WAIT = 600
# Kaldi draws its dither from the C library's process-wide rand() (docs/asr.md, "Decoder
# beam and dither"): seeding it before a decoding makes the shipped, dithered decoder
# repeatable, so two recognizers can be compared word for word on the shipped settings.
_libc = ctypes.CDLL(None)


def _words(transcript: Transcript) -> list[tuple[str, float, float]]:
    return [(w.text, w.start, w.end) for w in transcript.words]


def _decode_seeded(engine: AsrEngine, audio: bytes) -> tuple[list[tuple[str, float, float]],
                                                               object]:
    stream = engine.stream(sample_rate=8000, partial_interval=None)
    _libc.srand(12345)
    for offset in range(0, len(audio), 320):
        stream.push(audio[offset : offset + 320])
    return _words(stream.finish()), stream._rec


def _at_worker_priority(thread_name: str) -> None:
    """The named thread moved from SCHED_IDLE back to this process's scheduling. Once a call
    was decoded beside a warm-up, whom the warm-up yields to is shown; the rest of it under
    SCHED_IDLE waited for a core nobody else wanted (51 s of wall for 2.3 CPU-s in a full
    run), which is no part of what is checked after. Where that is refused (lowering the
    nice needs CAP_SYS_NICE), it ends under SCHED_IDLE as shipped."""
    for thread in threading.enumerate():
        if thread.name == thread_name and thread.native_id is not None:
            with contextlib.suppress(ProcessLookupError):  # it ended meanwhile
                assert os.sched_getscheduler(thread.native_id) == os.SCHED_IDLE  # as shipped
            with contextlib.suppress(OSError):
                os.sched_setscheduler(thread.native_id, os.SCHED_OTHER, os.sched_param(0))
                os.setpriority(os.PRIO_PROCESS, thread.native_id,
                               os.getpriority(os.PRIO_PROCESS, 0))


def _greeting_like(phone_speech: dict[str, bytes]) -> bytes:
    # Other speech than the call's, as the greeting is in the service.
    return (phone_speech["안녕하세요"] + phone_speech["정말 고맙습니다"]
            + phone_speech["주차 문제가 있어요"])


@pytest.mark.usefixtures("warm_up_at_worker_priority")
def test_a_warmed_recognizer_gives_the_words_of_a_fresh_one(
        vosk_model: object, phone_speech: dict[str, bytes]) -> None:
    # The shipped decoder (beams, dither), the shipped number of kept recognizers.
    engine = AsrEngine(vosk_model, workers=1,  # type: ignore[arg-type]
                       idle_recognizers=Settings().asr.idle_recognizers)
    call = bytes(SECOND // 2) + phone_speech["물이 나오지 않습니다"] + bytes(SECOND)
    try:
        fresh, fresh_rec = _decode_seeded(engine, call)
        assert fresh
        engine._idle.clear()  # the fresh one must not be the one warmed below
        engine._idle_count = 0
        job = engine.warm_up(1, _greeting_like(phone_speech))
        assert job.wait(WAIT) and job.error is None and job.warmed == 1
        warmed, warmed_rec = _decode_seeded(engine, call)
        assert warmed_rec is not fresh_rec  # the warmed one was lent, not a new one
        assert warmed == fresh  # the same words at the same times
    finally:
        engine.close()


def test_warm_up_runs_in_the_background_and_a_call_meanwhile_is_decoded(
        vosk_model: object, phone_speech: dict[str, bytes]) -> None:
    # One decoding slot, which the warm-up must leave to the call. One warm-up of a short
    # phrase: under SCHED_IDLE, as shipped, the test waits for its CPU on a core nobody
    # else wants (four warm-ups of 14.7 s took 262 s of wall in a full run). A warm-up
    # costs ~2.3 CPU s whatever its clip (two of 4.9 s: 4.6 s; two of 1.3 s: 4.5 s); how
    # many is a size, not what this test checks.
    engine = AsrEngine(vosk_model, workers=1, idle_recognizers=8)  # type: ignore[arg-type]
    clip = phone_speech["안녕하세요"]
    try:
        job = engine.warm_up(1, clip)
        stream = engine.stream(sample_rate=8000, partial_interval=None)
        assert not job.done.is_set()  # returned at once: the call starts during the warm-up
        call = bytes(SECOND // 2) + phone_speech["가스 냄새가 납니다"] + bytes(SECOND)
        began = time.monotonic()
        for n, offset in enumerate(range(0, len(call), 320)):  # as RTP brings it
            time.sleep(max(0.0, began + n * 0.02 - time.monotonic()))
            stream.push(call[offset : offset + 320])
            assert engine._slots.waiting == 0  # the warm-up never queues for the slot
        transcript = stream.finish()
        assert transcript.words
        _at_worker_priority("asr-warm-up")
        assert job.wait(WAIT) and job.error is None and job.warmed == 1
        # The warm one kept, plus the call's own -- unless the call, which takes its
        # recognizer at its first speech, took the one the warm-up had handed in by then:
        # the next calls get every one of them.
        kept = engine._idle_count
        assert kept in (1, 2)
        lent = [engine.lend(8000)[0] for _ in range(kept)]
        assert len({id(r) for r in lent}) == kept and stream._rec in lent
        assert engine._idle_count == 0
    finally:
        engine.close()


@pytest.mark.usefixtures("warm_up_at_worker_priority")
def test_start_up_warms_with_the_greeting_for_the_live_calls(
        tmp_path: Path, vosk_model: object, phone_speech: dict[str, bytes]) -> None:
    # What `hotline serve` runs: the IVR's greeting (espeak-ng here, no recording), cut to
    # WARM_UP_SECONDS, warms recognizers for the phone rate and the live phrase list.
    # Two instead of the shipped count: each costs seconds of CPU (the count is a size,
    # not a rule this test checks).
    settings = Settings(data_dir=tmp_path / "data", prompts_dir=tmp_path / "no-recordings",
                        asr=Settings().asr.model_copy(update={"warm_recognizers": 2}))
    prompts = PromptLibrary(settings)
    engine = AsrEngine(vosk_model, workers=1)  # type: ignore[arg-type]
    try:
        job = warm_up_recognizers(engine, settings, prompts)
        assert job is not None and job.count == 2
        greeting = len(prompts.pcm("greeting")) / 2 / PHONE_RATE
        assert job.clip_seconds == pytest.approx(min(greeting, WARM_UP_SECONDS), abs=1e-3)
        assert job.wait(WAIT) and job.error is None and job.warmed == 2
        assert engine._idle_count == 2
        _, _, fed, cleared = engine.lend(PHONE_RATE)
        assert fed > 0 and cleared  # a warmed one: it has decoded the greeting
        off = settings.model_copy(update={
            "asr": settings.asr.model_copy(update={"warm_recognizers": 0})})
        assert warm_up_recognizers(engine, off, prompts) is None
    finally:
        engine.close()


@pytest.mark.usefixtures("warm_up_at_worker_priority")
def test_warm_up_with_a_phrase_list_warms_recognizers_for_it(
        vosk_model: object, phone_speech: dict[str, bytes]) -> None:
    engine = AsrEngine(vosk_model, workers=1)  # type: ignore[arg-type]
    phrases = ["물이 나오지 않습니다", "빨리 와 주세요"]
    try:
        job = engine.warm_up(1, phone_speech["감사합니다"], grammar=phrases)
        assert job.wait(WAIT) and job.warmed == 1
        assert engine.lend(8000)[2] == 0  # free-form: none warmed, a new one
        assert engine.lend(8000, phrases)[2] > 0  # the phrase list's: the warmed one
    finally:
        engine.close()


@pytest.mark.parametrize(("count", "clip", "grammar", "message"), [
    (-1, bytes(SECOND), None, "count must not be negative"),
    (1, bytes(100), None, "at least 0.1 s"),
    (1, bytes(SECOND), ["없는말xyz"], "no phrase of the grammar"),
])
def test_warm_up_refuses_bad_arguments_at_once(
        vosk_model: object, count: int, clip: bytes, grammar: list[str] | None,
        message: str) -> None:
    engine = AsrEngine(vosk_model, workers=1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=message):
        engine.warm_up(count, clip, grammar=grammar)
    assert engine._idle_count == 0


@pytest.mark.parametrize(("values", "message"), [
    ({"warm_recognizers": -1}, "greater than or equal to 0"),
    ({"warm_recognizers": "many"}, "valid integer"),
    ({"warm_recognizers": 40}, r"asr.warm_recognizers \(40\) is more than "
                               r"asr.idle_recognizers \(32\)"),
    ({"idle_recognizers": 0}, r"asr.warm_recognizers \(20\) is more than "
                              r"asr.idle_recognizers \(0\)"),
])
def test_warm_recognizers_setting_is_validated(values: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        AsrSettings(**values)  # type: ignore[arg-type]


def test_warm_recognizers_from_the_environment_is_validated(
        monkeypatch: pytest.MonkeyPatch) -> None:
    shipped = Settings()
    assert 0 < shipped.asr.warm_recognizers <= shipped.sip.max_calls  # warm, not beyond lines
    monkeypatch.setenv("HOTLINE_ASR__WARM_RECOGNIZERS", "33")
    with pytest.raises(ValidationError, match=r"warm_recognizers \(33\)"):
        Settings()
    monkeypatch.setenv("HOTLINE_ASR__WARM_RECOGNIZERS", "0")
    assert Settings().asr.warm_recognizers == 0


@pytest.mark.usefixtures("warm_up_at_worker_priority")
def test_serve_starts_the_warm_up_in_the_background(tmp_path: Path, model_path: Path) -> None:
    # `hotline serve`'s voice part: the model loads, then the warm-up starts and the start
    # goes on without waiting for it. SIP off here, so the greeting comes from a prompt
    # library of its own, as when the IVR cannot start yet. At the worker's priority: whom
    # the warm-up yields to is test_warm_up_runs_in_the_background_...'s; under SCHED_IDLE
    # this one waited 252 s of a full run for a core nobody wanted. One recognizer: the
    # count is a size (see above), and each costs ~2.3 CPU-s.
    from hotline.roles import Part
    from hotline.wiring import start_background
    from ticketing.context import Domain
    from ticketing.db import make_engine, make_session_factory

    shipped = Settings()
    settings = Settings(
        data_dir=tmp_path / "data", prompts_dir=tmp_path / "no-recordings",
        database_url=f"sqlite:///{tmp_path / 'unused.db'}",
        sip=shipped.sip.model_copy(update={"enabled": False}),
        asr=shipped.asr.model_copy(update={
            "model_dir": model_path.parent, "model_name": model_path.name,
            "warm_recognizers": 1}))
    db = make_engine(settings.database_url)
    background = start_background(settings, make_session_factory(db), Domain.load(settings),
                                  parts=frozenset({Part.VOICE}))
    try:
        job = background.warm_up
        assert background.engine is not None and job is not None and job.count == 1
        assert not job.done.is_set()  # start-up did not wait for it
        assert job.wait(WAIT) and job.error is None and job.warmed == 1
        assert background.engine._idle_count == 1
    finally:
        background.stop()
        db.dispose()


@pytest.mark.usefixtures("warm_up_at_worker_priority")
def test_closing_the_engine_stops_a_warm_up_under_way(
        vosk_model: object, phone_speech: dict[str, bytes]) -> None:
    """A service (or a test) that stops mid warm-up does not go on building and feeding
    recognizers nobody will lend."""
    engine = AsrEngine(vosk_model, workers=1, idle_recognizers=32)  # type: ignore[arg-type]
    job = engine.warm_up(30, _greeting_like(phone_speech) * 4)
    engine.close()
    assert job.wait(WAIT)
    assert job.error is None
    assert job.warmed < 30


@pytest.mark.usefixtures("warm_up_at_worker_priority")
def test_closing_while_the_warm_up_builds_its_recognizers_builds_no_more(
        vosk_model: object, monkeypatch: pytest.MonkeyPatch) -> None:
    """A service stopped at start-up, while the warm-up is still making its recognizers
    (~0.1 CPU-s each): the one under way is the last, not the whole count."""
    engine = AsrEngine(vosk_model, workers=1, idle_recognizers=32)  # type: ignore[arg-type]
    make, built = engine.recognizer, []

    def recognizer(*args: object, **kwargs: object) -> object:
        built.append(args)
        engine.close()  # the service stops while the warm-up builds this one
        return make(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(engine, "recognizer", recognizer)
    job = engine.warm_up(30, bytes(SECOND))
    assert job.wait(WAIT) and job.error is None
    assert len(built) == 1 and job.warmed == 0


def test_start_up_on_the_shipped_settings_warms_the_shipped_count_in_the_background(
        tmp_path: Path, vosk_model: object) -> None:
    """The shipped asr.warm_recognizers, unchanged: start-up returns at once with a warm-up
    of that many under way (the ones above warm 1 or 2 to the end; the count is a size), and
    stopping the service ends it."""
    shipped = Settings()
    settings = Settings(data_dir=tmp_path / "data", prompts_dir=tmp_path / "no-recordings")
    assert settings.asr == shipped.asr  # nothing of the ASR settings changed
    engine = AsrEngine(vosk_model, workers=1,  # type: ignore[arg-type]
                       idle_recognizers=shipped.asr.idle_recognizers)
    job = warm_up_recognizers(engine, settings, PromptLibrary(settings))
    try:
        assert job is not None and job.count == shipped.asr.warm_recognizers
        assert not job.done.is_set()  # start-up did not wait for it
    finally:
        engine.close()
    assert job.wait(WAIT) and job.error is None
    assert job.warmed < job.count  # stopped with the engine, not run to the end
