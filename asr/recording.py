"""Call recording to WAV that stays readable if the process dies mid-call.

The 44-byte header is written first with sizes for the audio written so far, audio is
appended with os.write (so it is in the kernel's page cache, and survives the process
being killed, the moment write() returns), and the RIFF/data sizes are rewritten in
place every `sync_interval` seconds together with an fdatasync (so at most that much
audio is outside the header's view, or lost on power failure). `repair_wav` fixes the
sizes of a file left by a crash from its length, which recovers that last second too.
"""

from __future__ import annotations

import hashlib
import os
import struct
import time
from pathlib import Path
from typing import NamedTuple

_HEADER = struct.Struct("<4sI4s4sIHHIIHH4sI")
HEADER_SIZE = _HEADER.size  # 44


class RecordingError(Exception):
    pass


class Recording(NamedTuple):
    path: Path
    sha256: str
    duration_seconds: float


def _header(data_bytes: int, sample_rate: int, channels: int = 1, width: int = 2) -> bytes:
    return _HEADER.pack(
        b"RIFF", 36 + data_bytes, b"WAVE",
        b"fmt ", 16, 1, channels, sample_rate, sample_rate * channels * width,
        channels * width, width * 8,
        b"data", data_bytes,
    )  # fmt: skip


class CallRecorder:
    """Append-only 16-bit mono PCM WAV writer for one call."""

    def __init__(
        self, path: Path | str, *, sample_rate: int = 8000, sync_interval: float = 1.0
    ) -> None:
        self.path = Path(path)
        self.sample_rate = sample_rate
        self.sync_interval = sync_interval
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # O_EXCL: a recording is evidence; never overwrite an earlier call's file.
        self._fd: int | None = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
        self._data_bytes = 0
        self._odd = b""  # half a sample carried to the next write
        os.write(self._fd, _header(0, sample_rate))
        os.fsync(self._fd)
        self._last_sync = time.monotonic()

    @property
    def duration_seconds(self) -> float:
        return self._data_bytes / (2 * self.sample_rate)

    def write(self, pcm16: bytes) -> None:
        if self._fd is None:
            raise RecordingError(f"{self.path} is closed")
        data = self._odd + pcm16 if self._odd else pcm16
        if len(data) % 2:
            data, self._odd = data[:-1], data[-1:]
        else:
            self._odd = b""
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]
        self._data_bytes += len(data)
        if time.monotonic() - self._last_sync >= self.sync_interval:
            self.sync()

    def sync(self) -> None:
        """Make the header describe everything written so far and push it to disk."""
        if self._fd is None:
            return
        os.pwrite(self._fd, _header(self._data_bytes, self.sample_rate), 0)
        os.fdatasync(self._fd)
        self._last_sync = time.monotonic()

    def close(self) -> Recording:
        if self._fd is not None:
            self.sync()
            os.fsync(self._fd)
            os.close(self._fd)
            self._fd = None
        return Recording(self.path, sha256_file(self.path), self.duration_seconds)

    def __enter__(self) -> CallRecorder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def sha256_file(path: Path | str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def repair_wav(path: Path | str) -> Recording:
    """Fix the RIFF and data sizes of a WAV whose writer died, from the file's length.

    Works on any PCM WAV with a `data` chunk (not only ours); a trailing partial sample
    frame is cut off. Raises RecordingError if there is no RIFF/WAVE/fmt/data to fix.
    """
    path = Path(path)
    with open(path, "r+b") as f:
        head = f.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            raise RecordingError(f"{path} is not a RIFF/WAVE file")
        size = os.fstat(f.fileno()).st_size
        block_align = sample_rate = 0
        duration: float | None = None
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
                    raise RecordingError(f"{path}: data chunk before a usable fmt chunk")
                data_start = offset + 8
                data_bytes = (size - data_start) // block_align * block_align
                f.truncate(data_start + data_bytes)
                f.seek(offset + 4)
                f.write(struct.pack("<I", data_bytes))
                f.seek(4)
                f.write(struct.pack("<I", data_start + data_bytes - 8))
                f.flush()
                os.fsync(f.fileno())
                duration = data_bytes / (block_align * sample_rate)
                break
            offset += 8 + chunk_size + (chunk_size & 1)
    if duration is None:
        raise RecordingError(f"{path} has no data chunk")
    return Recording(path, sha256_file(path), duration)
