"""The one WAV reader and writer.

Reading: any common WAV into 16-bit mono PCM: PCM 8/16/24/32-bit, μ-law, A-law, stereo.
The stdlib `wave` reads plain PCM; for G.711 WAVs (format tags 7 and 6, what phone
systems and sox write) and WAVE_FORMAT_EXTENSIBLE we parse the RIFF chunks ourselves.
Anything else falls back to sox if it is installed. ``read_wav_pcm16`` is the strict
variant for what is played on a phone line (8 kHz mono, no resampling).

Writing: the 44-byte 16-bit PCM header (``wav_header``, also what the crash-safe call
recorder rewrites in place), whole files (``write_wav_pcm16``), and the size repair of a
file whose writer died (``repair_sizes``).
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import sys
import wave
from array import array
from dataclasses import dataclass
from pathlib import Path

from telephony.media import g711


# A ValueError: callers that played prompts before this module existed caught that.
class AudioFormatError(ValueError):
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


# --------------------------------------------------------------------------- phone line
PHONE_RATE = 8000
_PHONE_FORMATS = ("pcm16", "mulaw", "alaw")


def read_wav_pcm16(path: str | Path) -> bytes:
    """A prompt as 16-bit LE mono 8 kHz PCM; accepts 16-bit PCM and G.711 WAVs (sox and
    espeak-ng output). Other rates are refused rather than played at the wrong speed."""
    audio = read_wav(path)
    if (audio.sample_rate != PHONE_RATE or audio.source_channels != 1
            or audio.source_format not in _PHONE_FORMATS):
        raise AudioFormatError(
            f"{path}: need 16-bit or G.711 {PHONE_RATE} Hz mono, got {audio.source_format} "
            f"{audio.sample_rate} Hz x{audio.source_channels}"
        )
    return audio.pcm16


# --------------------------------------------------------------------------- writing
_HEADER = struct.Struct("<4sI4s4sIHHIIHH4sI")


def wav_header(data_bytes: int, sample_rate: int, channels: int = 1, width: int = 2) -> bytes:
    """The canonical 44-byte PCM WAV header for ``data_bytes`` of audio."""
    return _HEADER.pack(
        b"RIFF", 36 + data_bytes, b"WAVE",
        b"fmt ", 16, g711.WAVE_FORMAT_PCM, channels, sample_rate, sample_rate * channels * width,
        channels * width, width * 8,
        b"data", data_bytes,
    )  # fmt: skip


def write_wav_pcm16(path: str | Path, pcm16: bytes, sample_rate: int = PHONE_RATE) -> None:
    """16-bit mono PCM to a WAV file."""
    pcm16 = pcm16[: len(pcm16) - len(pcm16) % 2]
    Path(path).write_bytes(wav_header(len(pcm16), sample_rate) + pcm16)


def repair_sizes(path: str | Path) -> float:
    """Fix the RIFF and data sizes of a WAV whose writer died, from the file's length;
    the audio's duration in seconds.

    Works on any PCM WAV with a `data` chunk (not only ours); a trailing partial sample
    frame is cut off. Raises AudioFormatError if there is no RIFF/WAVE/fmt/data to fix.
    """
    path = Path(path)
    with open(path, "r+b") as f:
        head = f.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            raise AudioFormatError(f"{path} is not a RIFF/WAVE file")
        size = os.fstat(f.fileno()).st_size
        block_align = sample_rate = 0
        offset = 12
        while offset + 8 <= size:
            f.seek(offset)
            chunk_id, chunk_size = struct.unpack("<4sI", f.read(8))
            if chunk_id == b"fmt ":
                fmt = f.read(16)
                if len(fmt) < 16:
                    break
                _, _, sample_rate, _, block_align, _ = struct.unpack("<HHIIHH", fmt)
            elif chunk_id == b"data":
                if not block_align or not sample_rate:
                    raise AudioFormatError(f"{path}: data chunk before a usable fmt chunk")
                data_start = offset + 8
                data_bytes = (size - data_start) // block_align * block_align
                f.truncate(data_start + data_bytes)
                f.seek(offset + 4)
                f.write(struct.pack("<I", data_bytes))
                f.seek(4)
                f.write(struct.pack("<I", data_start + data_bytes - 8))
                f.flush()
                os.fsync(f.fileno())
                return data_bytes / (block_align * sample_rate)
            offset += 8 + chunk_size + (chunk_size & 1)
    raise AudioFormatError(f"{path} has no data chunk")
