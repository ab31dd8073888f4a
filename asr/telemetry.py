"""Speech recognition figures for Prometheus, kept in this process.

Two ratios matter. The decoder's real-time factor, ``rate(hotline_asr_decode_seconds_total) /
rate(hotline_asr_decoded_audio_seconds_total)``, is how fast Vosk is on the audio it is given
(the histogram shows it per stream). The cost of a call, ``decode / hotline_asr_audio_seconds``,
counts the silence the VAD gate kept from the decoder too: that is the figure for sizing, as
calls are mostly not speech.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

AUDIO_SECONDS = Counter("hotline_asr_audio_seconds",
                        "Audio seconds of finished streams, silence included")
DECODED_AUDIO_SECONDS = Counter("hotline_asr_decoded_audio_seconds",
                                "Audio seconds the VAD gate passed to Vosk")
DECODE_SECONDS = Counter("hotline_asr_decode_seconds", "Seconds spent inside Vosk decoding")
STREAM_RTF = Histogram(
    "hotline_asr_real_time_factor",
    "Decoding time / audio given to Vosk, per finished stream with speech",
    buckets=(0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0),
)


def stream_finished(audio_seconds: float, decoded_audio_seconds: float,
                    decode_seconds: float) -> None:
    AUDIO_SECONDS.inc(max(0.0, audio_seconds))
    DECODED_AUDIO_SECONDS.inc(max(0.0, decoded_audio_seconds))
    DECODE_SECONDS.inc(max(0.0, decode_seconds))
    if decoded_audio_seconds > 0:
        STREAM_RTF.observe(decode_seconds / decoded_audio_seconds)
