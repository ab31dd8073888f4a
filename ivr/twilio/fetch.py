"""Download a Twilio recording to the recordings directory, with its SHA-256.

The file appears under its final name only when complete (temporary file + rename), so
"the file exists" means "the recording is here": a second webhook for the same recording,
or the transcription backlog, never sees half a file.

``RecordingUrl`` comes from a webhook form, and the download carries the account SID and
auth token. So the URL must name Twilio's API itself (scheme, host and port of
``twilio.api_base``) or nothing is requested, and the credentials are sent only there:
Twilio answers an authenticated media request with a redirect to a short-lived signed URL
on its media host, which is followed without them (and never from https down to http).
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import httpx

# Twilio SIDs are two letters and 32 hex digits; anything else is refused before it can
# become part of a file name.
SID_RE = re.compile(r"^[A-Za-z]{2}[A-Za-z0-9]{1,62}$")
# A 2-hour 16-bit 8 kHz WAV is 115 MB; a recording is capped far below by max_record_seconds.
MAX_RECORDING_BYTES = 64 * 1024 * 1024
_CHUNK = 64 * 1024
_MAX_REDIRECTS = 3
_DEFAULT_PORTS = {"http": 80, "https": 443}


class FetchError(Exception):
    """The recording could not be downloaded (HTTP error, timeout, too large)."""


class UrlRefused(FetchError):
    """The URL is not one credentials may be sent to; trying again will not help."""


@dataclass(frozen=True)
class Fetched:
    path: Path
    sha256: str
    size: int


def twilio_recording_path(recordings_dir: Path, call_sid: str, recording_sid: str) -> Path:
    """Where a recording is kept; one file per recording, named by its SIDs."""
    if not (SID_RE.match(call_sid) and SID_RE.match(recording_sid)):
        raise ValueError("not a Twilio SID")
    return Path(recordings_dir) / "twilio" / f"{call_sid}-{recording_sid}.wav"


def replaced_recordings(path: Path) -> list[Path]:
    """The call's other recordings kept beside ``path`` (a ``twilio_recording_path``): one
    file per ``<Record>``, and a complaint said again after key 2 is a new one that takes
    the place of the one before on the call record and the ticket (``ivr.intake``), which
    then no row names. Retention deletes them with the call's recording
    (``hotline.recordings``): before (review87) they were kept for ever. [] for a path
    not named so."""
    call_sid, dash, recording_sid = path.stem.partition("-")
    if not (dash and path.suffix == ".wav" and SID_RE.match(call_sid)
            and SID_RE.match(recording_sid)):
        return []
    # The SIDs are letters and digits: nothing in the pattern but the one wildcard.
    return sorted(p for p in path.parent.glob(f"{call_sid}-*.wav")
                  if p.name != path.name and SID_RE.match(p.stem.partition("-")[2]))


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(_CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def origin(url: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) with the scheme's default port filled in; None if unusable."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:  # a port that is not a number
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    return scheme, parts.hostname.lower(), port or _DEFAULT_PORTS[scheme]


def fetch_recording(
    recording_url: str, dest: Path, *, api_base: str, auth: tuple[str, str] | None,
    timeout: float,
) -> Fetched:
    """GET ``recording_url`` + ".wav" (Twilio serves the WAV under that suffix) to ``dest``.

    ``recording_url`` must be on ``api_base``'s origin (FetchError before any request
    otherwise); ``auth`` goes only to that origin. ``timeout`` bounds the whole download,
    not each read: the caller is on the line waiting for this webhook's answer.
    """
    api = origin(api_base)
    if api is None or origin(recording_url) != api:
        raise UrlRefused("recording download: RecordingUrl is not on the Twilio API "
                         "(twilio.api_base); not fetched")
    url = recording_url.rstrip("/")
    url = url if url.endswith(".wav") else url + ".wav"
    dest.parent.mkdir(parents=True, exist_ok=True)
    h = hashlib.sha256()
    size = 0
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=".part-", suffix=".wav")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            with httpx.Client(timeout=timeout, follow_redirects=False) as client:
                for _ in range(_MAX_REDIRECTS + 1):
                    here = origin(url)
                    # Credentials only to the API origin; a redirect elsewhere carries its
                    # own (signed, short-lived) authorisation.
                    with client.stream("GET", url, auth=auth if here == api else None
                                       ) as resp:
                        if resp.is_redirect:
                            url = _redirect_target(url, resp.headers.get("location", ""),
                                                   api)
                            continue
                        if resp.status_code != 200:
                            raise FetchError(f"recording download: HTTP {resp.status_code}")
                        for block in resp.iter_bytes(_CHUNK):
                            size += len(block)
                            if size > MAX_RECORDING_BYTES:
                                raise FetchError("recording download: larger than the limit")
                            h.update(block)
                            out.write(block)
                        break
                else:
                    raise FetchError("recording download: too many redirects")
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


def _redirect_target(current: str, location: str, api: tuple[str, str, int]) -> str:
    target = urljoin(current, location)
    there = origin(target)
    # Never from the API's scheme down to a weaker one (https -> http): the recording is a
    # citizen's voice.
    if there is None or not location or (there[0] != api[0] and there[0] != "https"):
        raise UrlRefused("recording download: redirect to an unusable or insecure URL")
    return target


# Twilio's statuses of a call that is still up (its REST API's Call resource).
CALL_UP_STATUSES = frozenset({"queued", "ringing", "in-progress"})


def call_status(api_base: str, account_sid: str, call_sid: str, *,
                auth: tuple[str, str], timeout: float = 5.0) -> str | None:
    """The status Twilio's API gives the call now (``in-progress``, ``completed``...), or
    None when it could not say (an error, a refusal, no such call): the heartbeat of a
    bridge that lives at Twilio (``TwilioDialogue.bridges_alive``)."""
    url = (f"{api_base.rstrip('/')}/2010-04-01/Accounts/{account_sid}/Calls/"
           f"{call_sid}.json")
    try:
        with httpx.Client(timeout=timeout, follow_redirects=False) as client:
            resp = client.get(url, auth=auth)
        if resp.status_code != 200:
            return None
        status = resp.json().get("status")
    except (httpx.HTTPError, ValueError):
        return None
    return status if isinstance(status, str) else None



def call_recordings(api_base: str, account_sid: str, call_sid: str, *,
                    auth: tuple[str, str], timeout: float = 5.0
                    ) -> list[tuple[str, str]] | None:
    """The call's completed recordings as Twilio's API lists them (newest first), each as
    (RecordingSid, RecordingUrl -- the URL its webhooks would have named), or None when
    it could not say: what the next start fetches of a call whose recording callbacks were
    lost with our process (``TwilioDialogue.reconcile``)."""
    base = f"{api_base.rstrip('/')}/2010-04-01/Accounts/{account_sid}"
    try:
        with httpx.Client(timeout=timeout, follow_redirects=False) as client:
            resp = client.get(f"{base}/Calls/{call_sid}/Recordings.json", auth=auth)
        if resp.status_code != 200:
            return None
        listed = resp.json().get("recordings")
    except (httpx.HTTPError, ValueError, AttributeError):
        return None
    if not isinstance(listed, list):
        return None
    # Only a SID that is one: it becomes part of a URL and of a file name.
    return [(r["sid"], f"{base}/Recordings/{r['sid']}") for r in listed
            if isinstance(r, dict) and r.get("status") == "completed"
            and isinstance(r.get("sid"), str) and SID_RE.match(r["sid"])]
