"""Speech recognition figures for Prometheus, kept in this process.

The real-time factor over any window is ``rate(hotline_asr_decode_seconds_total) /
rate(hotline_asr_audio_seconds_total)``; the histogram shows the spread per stream.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

AUDIO_SECONDS = Counter("hotline_asr_audio_seconds", "Audio seconds given to the recognizer")
DECODE_SECONDS = Counter("hotline_asr_decode_seconds", "Seconds spent inside Vosk decoding")
STREAM_RTF = Histogram(
    "hotline_asr_real_time_factor", "Decoding time / audio time, per finished stream",
    buckets=(0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0),
)


def stream_finished(audio_seconds: float, decode_seconds: float) -> None:
    if audio_seconds <= 0:
        return
    AUDIO_SECONDS.inc(audio_seconds)
    DECODE_SECONDS.inc(decode_seconds)
    STREAM_RTF.observe(decode_seconds / audio_seconds)
