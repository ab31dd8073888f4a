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
import time
from pathlib import Path
from typing import NamedTuple

from telephony.media.wav import AudioFormatError, repair_sizes, wav_header


class RecordingError(Exception):
    pass


class Recording(NamedTuple):
    path: Path
    sha256: str
    duration_seconds: float


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
        try:
            os.write(self._fd, wav_header(0, sample_rate))
            os.fsync(self._fd)
        except OSError:
            # (A full volume: the file just made, empty, is ours to take back.)
            os.close(self._fd)
            self.path.unlink(missing_ok=True)
            raise
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
        os.pwrite(self._fd, wav_header(self._data_bytes, self.sample_rate), 0)
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
    """Fix the sizes of a recording whose writer died (``telephony.media.wav.repair_sizes``);
    RecordingError if there is nothing to fix."""
    try:
        duration = repair_sizes(path)
    except AudioFormatError as exc:
        raise RecordingError(str(exc)) from exc
    return Recording(Path(path), sha256_file(path), duration)
