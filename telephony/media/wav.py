"""Read any common WAV into 16-bit mono PCM: PCM 8/16/24/32-bit, μ-law, A-law, stereo.

The stdlib `wave` reads plain PCM; for G.711 WAVs (format tags 7 and 6, what phone
systems and sox write) and WAVE_FORMAT_EXTENSIBLE we parse the RIFF chunks ourselves.
Anything else falls back to sox if it is installed.
"""

from __future__ import annotations

import shutil
import struct
import subprocess
import sys
import wave
from array import array
from dataclasses import dataclass
from pathlib import Path

from asr import g711


class AudioFormatError(Exception):
    """The file is not a WAV we can read (corrupt, truncated, or an unknown format)."""


@dataclass(frozen=True)
class Audio:
    pcm16: bytes  # little-endian signed 16-bit mono
    sample_rate: int
    source_channels: int = 1
    source_format: str = "pcm16"

    @property
    def duration_seconds(self) -> float:
        return len(self.pcm16) / (2 * self.sample_rate)


_EXTENSIBLE = 0xFFFE


def read_wav(path: Path | str) -> Audio:
    path = Path(path)
    if not path.is_file():
        raise AudioFormatError(f"{path}: no such file")
    try:
        with wave.open(str(path), "rb") as w:
            channels, width, rate = w.getnchannels(), w.getsampwidth(), w.getframerate()
            frames = w.readframes(w.getnframes())
        return _finish(_to_pcm16(frames, width), rate, channels, f"pcm{width * 8}")
    except (wave.Error, EOFError, struct.error) as exc:
        wave_error: Exception = exc
    try:
        return _read_riff(path)
    except AudioFormatError as exc:
        if shutil.which("sox") is None or "unsupported" not in str(exc):
            raise AudioFormatError(f"{path}: {exc} (wave: {wave_error})") from exc
    return _read_with_sox(path)


def _read_riff(path: Path) -> Audio:
    data = path.read_bytes()
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise AudioFormatError("not a RIFF/WAVE file")
    fmt: tuple[int, int, int, int] | None = None
    offset = 12
    while offset + 8 <= len(data):
        chunk_id, size = struct.unpack_from("<4sI", data, offset)
        body = data[offset + 8 : offset + 8 + size]
        if chunk_id == b"fmt ":
            if len(body) < 16:
                raise AudioFormatError("truncated fmt chunk")
            tag, channels, rate, _, _, bits = struct.unpack_from("<HHIIHH", body)
            if tag == _EXTENSIBLE and len(body) >= 26:
                tag = struct.unpack_from("<H", body, 24)[0]  # first 2 bytes of SubFormat
            fmt = (tag, channels, rate, bits)
        elif chunk_id == b"data":
            if fmt is None:
                raise AudioFormatError("data chunk before fmt chunk")
            return _decode(body, *fmt)
        offset += 8 + size + (size & 1)
    raise AudioFormatError("no fmt/data chunk (truncated or corrupt)")


def _decode(body: bytes, tag: int, channels: int, rate: int, bits: int) -> Audio:
    if channels < 1 or rate <= 0:
        raise AudioFormatError(f"bad fmt: {channels} channels at {rate} Hz")
    if tag == g711.WAVE_FORMAT_MULAW and bits == 8:
        return _finish(g711.ulaw_to_pcm16(body), rate, channels, "mulaw")
    if tag == g711.WAVE_FORMAT_ALAW and bits == 8:
        return _finish(g711.alaw_to_pcm16(body), rate, channels, "alaw")
    if tag == g711.WAVE_FORMAT_PCM and bits in (8, 16, 24, 32):
        width = bits // 8
        body = body[: len(body) - len(body) % width]
        return _finish(_to_pcm16(body, width), rate, channels, f"pcm{bits}")
    raise AudioFormatError(f"unsupported WAV format tag {tag:#x} with {bits} bits")


def _to_pcm16(frames: bytes, width: int) -> bytes:
    if width == 2:
        return frames
    if width == 1:  # unsigned 8-bit: centre and scale with a C-level translate
        lo = bytes(256)
        hi = bytes((b - 128) & 0xFF for b in range(256))
        out = bytearray(2 * len(frames))
        out[0::2] = frames.translate(lo)
        out[1::2] = frames.translate(hi)
        return bytes(out)
    if width in (3, 4):  # keep the two most significant bytes of each sample
        out = bytearray(2 * (len(frames) // width))
        out[0::2] = frames[width - 2 :: width]
        out[1::2] = frames[width - 1 :: width]
        return bytes(out)
    raise AudioFormatError(f"unsupported sample width {width}")


def _finish(pcm16: bytes, rate: int, channels: int, source_format: str) -> Audio:
    pcm16 = pcm16[: len(pcm16) - len(pcm16) % (2 * channels)]
    if channels > 1:
        pcm16 = mix_to_mono(pcm16, channels)
    return Audio(pcm16, rate, channels, source_format)


def mix_to_mono(pcm16: bytes, channels: int) -> bytes:
    samples = array("h", pcm16)
    if sys.byteorder != "little":  # pragma: no cover
        samples.byteswap()
    lanes = [samples[c::channels] for c in range(channels)]
    mixed = array("h", (sum(frame) // channels for frame in zip(*lanes, strict=True)))
    if sys.byteorder != "little":  # pragma: no cover
        mixed.byteswap()
    return mixed.tobytes()


def _read_with_sox(path: Path) -> Audio:
    rate_out = subprocess.run(
        ["sox", "--i", "-r", str(path)], capture_output=True, text=True, check=False
    )
    try:
        rate = int(float(rate_out.stdout.strip()))
    except ValueError:
        raise AudioFormatError(f"{path}: sox cannot read it either") from None
    proc = subprocess.run(
        ["sox", "-V1", str(path), "-t", "raw", "-e", "signed", "-b", "16", "-c", "1",
         "-L", "-"],
        capture_output=True, check=False,
    )  # fmt: skip
    if proc.returncode != 0:
        raise AudioFormatError(f"{path}: sox failed: {proc.stderr.decode(errors='replace')}")
    return Audio(proc.stdout, rate, 1, "sox")
