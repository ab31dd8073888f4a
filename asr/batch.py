"""Transcribe a whole WAV file (any rate, PCM/μ-law/A-law, mono-mixed) with timing."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from asr.engine import AsrEngine, DecodePriority, Grammar
from asr.stream import Transcript
from telephony.media.wav import Audio, read_wav

# Decoding in ~0.5 s chunks: whole-file calls would work too, but chunks keep the gate's
# per-frame view identical to a live call and memory flat on long files.
_CHUNK_SECONDS = 0.5


@dataclass(frozen=True)
class BatchResult:
    transcript: Transcript
    audio_seconds: float
    wall_seconds: float
    decode_seconds: float  # time inside Vosk (gated audio only)

    @property
    def text(self) -> str:
        return self.transcript.text

    @property
    def rtf(self) -> float:
        """Real-time factor: wall time / audio time (below 1 = faster than real time)."""
        return self.wall_seconds / self.audio_seconds if self.audio_seconds else 0.0


def transcribe_audio(
    engine: AsrEngine,
    audio: Audio,
    *,
    grammar: Grammar | Sequence[str] | str | None = None,
    vad: bool = True,
    postprocess: Callable[[str], str] | None = None,
) -> BatchResult:
    began = time.perf_counter()
    # No partial results: nobody reads them here, and they cost decoder CPU (docs/asr.md).
    stream = engine.stream(
        sample_rate=audio.sample_rate, grammar=grammar, vad=vad, postprocess=postprocess,
        partial_interval=None,
    )
    # A recording has no caller waiting on the line: live calls decode first.
    stream.priority = DecodePriority.BACKLOG
    step = int(audio.sample_rate * _CHUNK_SECONDS) * 2
    pcm = memoryview(audio.pcm16)
    for offset in range(0, len(pcm), step):
        stream.push(bytes(pcm[offset : offset + step]))
    transcript = stream.finish()
    return BatchResult(
        transcript,
        audio.duration_seconds,
        time.perf_counter() - began,
        stream.decoded_seconds,
    )


def transcribe_file(
    engine: AsrEngine,
    path: Path | str,
    *,
    grammar: Grammar | Sequence[str] | str | None = None,
    vad: bool = True,
    postprocess: Callable[[str], str] | None = None,
) -> BatchResult:
    """Raises telephony.media.wav.AudioFormatError for unreadable/corrupt files."""
    return transcribe_audio(
        engine, read_wav(path), grammar=grammar, vad=vad, postprocess=postprocess
    )


def transcribe_clean(
    engine: AsrEngine, path: Path | str, phrase_list: Sequence[str] | None = None
) -> Transcript:
    """What a ticket gets from a recording: Vosk's words after the Mandarin clean-up (the
    same clean-up the live call path applies)."""
    from asr.cleanup import normalize

    return transcribe_file(engine, path, grammar=phrase_list or None,
                           postprocess=normalize).transcript
