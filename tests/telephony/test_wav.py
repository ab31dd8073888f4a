"""The one WAV module: what a phone line plays (8 kHz mono, 16-bit or G.711, nothing
resampled behind the caller's back), what we write, and the size repair after a crash."""

from __future__ import annotations

import struct
import wave
from array import array
from pathlib import Path

import pytest

from telephony.media import g711
from telephony.media.wav import (
    AudioFormatError,
    read_wav,
    read_wav_pcm16,
    repair_sizes,
    wav_header,
    write_wav_pcm16,
)

TONE = array("h", [0, 6000, 10000, 6000, 0, -6000, -10000, -6000] * 100).tobytes()


def _g711_wav(path: Path, tag: int, data: bytes, rate: int = 8000) -> Path:
    fmt = struct.pack("<HHIIHH", tag, 1, rate, rate, 1, 8)
    body = b"WAVEfmt " + struct.pack("<I", 16) + fmt + b"data" + struct.pack("<I", len(data))
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body) + len(data)) + body + data)
    return path


def test_written_file_is_read_back_by_the_stdlib_and_by_us(tmp_path: Path) -> None:
    path = tmp_path / "tone.wav"
    write_wav_pcm16(path, TONE)
    with wave.open(str(path), "rb") as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, 8000)
        assert w.readframes(w.getnframes()) == TONE
    assert read_wav_pcm16(path) == TONE


def test_g711_prompts_are_decoded_for_the_line(tmp_path: Path) -> None:
    ulaw = _g711_wav(tmp_path / "u.wav", g711.WAVE_FORMAT_MULAW, g711.pcm16_to_ulaw(TONE))
    alaw = _g711_wav(tmp_path / "a.wav", g711.WAVE_FORMAT_ALAW, g711.pcm16_to_alaw(TONE))
    assert read_wav_pcm16(ulaw) == g711.ulaw_to_pcm16(g711.pcm16_to_ulaw(TONE))
    assert read_wav_pcm16(alaw) == g711.alaw_to_pcm16(g711.pcm16_to_alaw(TONE))


def test_other_rates_and_layouts_are_refused_not_played_at_the_wrong_speed(
        tmp_path: Path) -> None:
    wide = tmp_path / "16k.wav"
    write_wav_pcm16(wide, TONE, sample_rate=16000)
    assert read_wav(wide).sample_rate == 16000  # the general reader takes it
    with pytest.raises(AudioFormatError, match="8000 Hz mono"):
        read_wav_pcm16(wide)
    ulaw16k = _g711_wav(tmp_path / "u16k.wav", g711.WAVE_FORMAT_MULAW, b"\xff" * 800, 16000)
    with pytest.raises(ValueError):  # still a ValueError for callers that catch that
        read_wav_pcm16(ulaw16k)
    stereo = tmp_path / "stereo.wav"
    with wave.open(str(stereo), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(TONE)
    with pytest.raises(AudioFormatError):
        read_wav_pcm16(stereo)


def test_header_sizes_follow_the_data() -> None:
    header = wav_header(1000, 8000)
    assert len(header) == 44
    assert struct.unpack_from("<I", header, 4)[0] == 36 + 1000
    assert struct.unpack_from("<I", header, 40)[0] == 1000


def test_repair_sizes_from_the_file_length(tmp_path: Path) -> None:
    path = tmp_path / "crashed.wav"
    # A writer that died: the header still says 0 bytes, 1 s and half a sample follow.
    second = TONE * 10
    path.write_bytes(wav_header(0, 8000) + second + b"\x01")
    assert repair_sizes(path) == pytest.approx(1.0)
    assert read_wav_pcm16(path) == second
    garbage = tmp_path / "garbage.wav"
    garbage.write_bytes(b"not a wav at all")
    with pytest.raises(AudioFormatError):
        repair_sizes(garbage)
