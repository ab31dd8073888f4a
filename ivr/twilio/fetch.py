"""Download a Twilio recording to the recordings directory, with its SHA-256.

The file appears under its final name only when complete (temporary file + rename), so
"the file exists" means "the recording is here": a second webhook for the same recording,
or the transcription backlog, never sees half a file.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import httpx

# Twilio SIDs are two letters and 32 hex digits; anything else is refused before it can
# become part of a file name.
SID_RE = re.compile(r"^[A-Za-z]{2}[A-Za-z0-9]{1,62}$")
# A 2-hour 16-bit 8 kHz WAV is 115 MB; a recording is capped far below by max_record_seconds.
MAX_RECORDING_BYTES = 64 * 1024 * 1024
_CHUNK = 64 * 1024


class FetchError(Exception):
    """The recording could not be downloaded (HTTP error, timeout, too large)."""


@dataclass(frozen=True)
class Fetched:
    path: Path
    sha256: str
    size: int


def recording_path(recordings_dir: Path, call_sid: str, recording_sid: str) -> Path:
    """Where a recording is kept; one file per recording, named by its SIDs."""
    if not (SID_RE.match(call_sid) and SID_RE.match(recording_sid)):
        raise ValueError("not a Twilio SID")
    return Path(recordings_dir) / "twilio" / f"{call_sid}-{recording_sid}.wav"


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(_CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def fetch_recording(
    recording_url: str, dest: Path, *, auth: tuple[str, str] | None, timeout: float
) -> Fetched:
    """GET ``recording_url`` + ".wav" (Twilio serves the WAV under that suffix) to ``dest``.

    ``timeout`` bounds the whole download, not each read: the caller is on the line
    waiting for this webhook's answer.
    """
    url = recording_url.rstrip("/")
    url = url if url.endswith(".wav") else url + ".wav"
    dest.parent.mkdir(parents=True, exist_ok=True)
    h = hashlib.sha256()
    size = 0
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=".part-", suffix=".wav")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            # Redirects are followed (Twilio may send media from another host); httpx drops
            # the Authorization header when the host changes, so credentials stay with Twilio.
            with httpx.stream("GET", url, auth=auth, timeout=timeout,
                              follow_redirects=True) as resp:
                if resp.status_code != 200:
                    raise FetchError(f"recording download: HTTP {resp.status_code}")
                for block in resp.iter_bytes(_CHUNK):
                    size += len(block)
                    if size > MAX_RECORDING_BYTES:
                        raise FetchError("recording download: larger than the limit")
                    h.update(block)
                    out.write(block)
            out.flush()
            os.fsync(out.fileno())
        if size == 0:
            raise FetchError("recording download: empty body")
        os.replace(tmp, dest)
    except httpx.HTTPError as exc:
        raise FetchError(f"recording download: {exc.__class__.__name__}: {exc}") from exc
    finally:
        tmp.unlink(missing_ok=True)
    return Fetched(dest, h.hexdigest(), size)
