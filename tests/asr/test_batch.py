"""WAV reading in every format a phone system hands us, corrupt files, and the CLI."""

from __future__ import annotations

import struct
import subprocess
import wave
from array import array
from pathlib import Path

import pytest
from typer.testing import CliRunner

from asr.batch import transcribe_file
from asr.cli import app
from telephony.media import g711
from telephony.media.wav import AudioFormatError, read_wav

TONE = array("h", [0, 6000, 10000, 6000, 0, -6000, -10000, -6000] * 1000).tobytes()  # 1 s


def _riff(tag: int, channels: int, rate: int, bits: int, data: bytes) -> bytes:
    block = channels * bits // 8
    fmt = struct.pack("<HHIIHH", tag, channels, rate, rate * block, block, bits)
    body = b"WAVE" + b"fmt " + struct.pack("<I", 16) + fmt + b"data"
    body += struct.pack("<I", len(data)) + data + (b"\0" if len(data) % 2 else b"")
    return b"RIFF" + struct.pack("<I", len(body)) + body


def _pcm_wav(path: Path, data: bytes, *, rate: int, width: int, channels: int) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes(data)
    return path


def test_mulaw_and_alaw_wavs(tmp_path: Path) -> None:
    for tag, encode, decode in [
        (7, g711.pcm16_to_ulaw, g711.ulaw_to_pcm16),
        (6, g711.pcm16_to_alaw, g711.alaw_to_pcm16),
    ]:
        path = tmp_path / f"g711-{tag}.wav"
        path.write_bytes(_riff(tag, 1, 8000, 8, encode(TONE)))
        audio = read_wav(path)
        assert audio.sample_rate == 8000
        assert audio.pcm16 == decode(encode(TONE))
        assert audio.duration_seconds == pytest.approx(1.0)


def test_stereo_16k_is_mixed_to_mono(tmp_path: Path) -> None:
    left = array("h", [1000, 2000, -3000, 4000])
    right = array("h", [3000, 0, -1000, -4000])
    frames = array("h", [s for pair in zip(left, right, strict=True) for s in pair]).tobytes()
    audio = read_wav(_pcm_wav(tmp_path / "st.wav", frames, rate=16000, width=2, channels=2))
    assert audio.sample_rate == 16000 and audio.source_channels == 2
    assert list(array("h", audio.pcm16)) == [2000, 1000, -2000, 0]


def test_8bit_and_24bit_pcm(tmp_path: Path) -> None:
    audio = read_wav(_pcm_wav(tmp_path / "u8.wav", bytes([128, 255, 0]), rate=8000, width=1,
                              channels=1))  # fmt: skip
    assert list(array("h", audio.pcm16)) == [0, 127 * 256, -128 * 256]
    s24 = b"\x00\x10\x20" + b"\x00\x00\x80"  # 0x201000 and -0x800000
    audio = read_wav(_pcm_wav(tmp_path / "s24.wav", s24, rate=11025, width=3, channels=1))
    assert list(array("h", audio.pcm16)) == [0x2010, -0x8000]


@pytest.mark.parametrize(
    "content",
    [b"", b"garbage, not audio at all" * 10, b"RIFF\x10\x00\x00\x00WAVEfmt ",
     _riff(0x55, 1, 8000, 16, b"\0" * 100)],  # MP3-in-WAV: format we do not read
    ids=["empty", "garbage", "truncated-header", "unsupported-format"],
)  # fmt: skip
def test_corrupt_wav_raises_typed_error(tmp_path: Path, content: bytes, monkeypatch) -> None:
    monkeypatch.setattr("shutil.which", lambda name: None)  # no sox fallback either
    path = tmp_path / "bad.wav"
    path.write_bytes(content)
    with pytest.raises(AudioFormatError):
        read_wav(path)


def test_missing_file() -> None:
    with pytest.raises(AudioFormatError, match="no such file"):
        read_wav("/nonexistent/x.wav")


@pytest.mark.asr
def test_transcribe_mulaw_wav_file(engine, tmp_path: Path, sentences) -> None:
    wav = tmp_path / "s.wav"
    subprocess.run(["espeak-ng", "-v", "ko", "-w", str(tmp_path / "raw.wav"), sentences[1]],
                   check=True)  # fmt: skip
    subprocess.run(
        ["sox", "-V1", str(tmp_path / "raw.wav"), "-r", "8000", "-e", "u-law", "-c", "2", str(wav)],
        check=True,
    )  # stereo μ-law, like some PBX exports
    result = transcribe_file(engine, wav, grammar=sentences)
    assert result.text
    assert result.audio_seconds > 0.5
    assert 0 < result.rtf < 5


@pytest.mark.asr
def test_cli_transcribe_and_models(model_path: Path, tmp_path: Path, sentences) -> None:
    wav = tmp_path / "s.wav"
    subprocess.run(["espeak-ng", "-v", "ko", "-w", str(wav), sentences[0]], check=True)
    runner = CliRunner()
    result = runner.invoke(
        app, ["transcribe", str(wav), "--model", str(model_path), "--grammar", ",".join(sentences)]
    )
    assert result.exit_code == 0, result.output
    assert "RTF" in result.output
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"nope")
    result = runner.invoke(app, ["transcribe", str(bad), "--model", str(model_path)])
    assert result.exit_code == 1 and "error" in result.output
    result = runner.invoke(app, ["transcribe", str(wav), "--model", str(tmp_path / "none")])
    assert result.exit_code == 1 and "does not exist" in result.output
    result = runner.invoke(app, ["models", "--dest", str(tmp_path)])
    assert result.exit_code == 0 and "not installed" in result.output
