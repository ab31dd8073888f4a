"""Transcribe a downloaded recording with our Vosk engine, inside a deadline.

The caller is waiting on the line for the webhook's answer, and Twilio abandons a webhook
after 15 s. Decoding is therefore skipped when it clearly cannot finish in time, and
stopped between chunks when the deadline passes; either way the ticket goes to the
transcription backlog instead, which decodes the same file later.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from asr.backlog import transcript_meta
from asr.cleanup import normalize
from asr.engine import AsrEngine
from telephony.media.wav import AudioFormatError, read_wav

# Half a second per push, as asr.batch does: small enough to check the deadline often.
_CHUNK_SECONDS = 0.5


@dataclass(frozen=True)
class Decoded:
    text: str | None  # None: no transcript now (see error); "" is a real empty result
    meta: dict[str, Any] | None = None
    seconds: float | None = None  # audio length, when the file could be read
    error: str | None = None


def decode_within(
    engine: AsrEngine | None, path: Path, *, deadline: float, rtf_guess: float
) -> Decoded:
    """``deadline`` is a ``time.monotonic()`` value."""
    try:
        audio = read_wav(path)
    except AudioFormatError as exc:
        return Decoded(None, error=f"recording unreadable: {exc}")
    seconds = audio.duration_seconds
    if engine is None:
        return Decoded(None, seconds=seconds, error="no speech model loaded")
    if seconds * rtf_guess > deadline - time.monotonic():
        return Decoded(None, seconds=seconds,
                       error=f"{seconds:.0f} s of audio would not decode within the call")
    try:
        stream = engine.stream(sample_rate=audio.sample_rate, vad=True, postprocess=normalize)
        step = int(audio.sample_rate * _CHUNK_SECONDS) * 2
        pcm = memoryview(audio.pcm16)
        for offset in range(0, len(pcm), step):
            if time.monotonic() > deadline:
                return Decoded(None, seconds=seconds, error="decoding ran out of call time")
            stream.push(bytes(pcm[offset : offset + step]))
        transcript = stream.finish()
    except Exception as exc:  # a broken model must not lose the complaint
        return Decoded(None, seconds=seconds, error=f"speech recognition failed: {exc!r}")
    return Decoded(transcript.text.strip(), transcript_meta(transcript), seconds)
