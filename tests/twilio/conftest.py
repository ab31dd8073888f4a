"""Fixtures for the Twilio carrier: the real Vosk Korean test model (loaded once), a
recording made with espeak-ng + sox, a local HTTP stand-in for Twilio's REST API, and our
app driven with webhooks signed by the twilio library's own RequestValidator.

What the stand-in proves is bounded: it serves a recording under RecordingUrl + ".wav"
behind HTTP basic auth, as Twilio's API documents it; it is not Twilio.
"""

from __future__ import annotations

import base64
import copy
import dataclasses
import hashlib
import json
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from fastapi.testclient import TestClient

from asr.engine import AsrEngine
from config import Settings
from config.settings import TwilioSettings
from hotline.app import create_app
from ivr.twilio import call_flow, decode, views
from ivr.twilio.decode import Decoded
from telephony.media.prompts import espeak_argv
from tests.twilio.helpers import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    PUBLIC_BASE,
    SAID_AGAIN,
    SPOKEN,
    StandIn,
    Twilio,
)


# --------------------------------------------------------------------------- speech
@pytest.fixture(scope="session")
def asr_engine(vosk_model: object) -> Iterator[AsrEngine]:
    # The session's one loaded model (tests/conftest.py), as the service shares it.
    engine = AsrEngine(vosk_model, workers=0)  # type: ignore[arg-type]
    yield engine
    engine.close()


@pytest.fixture(scope="session")
def recording_wav(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """What Twilio's API would serve: 8 kHz 16-bit mono WAV, through a μ-law phone line."""
    return _phone_speech(SPOKEN, tmp_path_factory)


@pytest.fixture(scope="session")
def said_again_wav(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """Another recording of the caller (other words), as ``recording_wav``: the complaint
    said again after key 2 at the read-back."""
    return _phone_speech(SAID_AGAIN, tmp_path_factory)


def _phone_speech(words: str, tmp_path_factory: pytest.TempPathFactory) -> bytes:
    if shutil.which("espeak-ng") is None or shutil.which("sox") is None:
        pytest.skip("espeak-ng and sox are needed to make test speech")
    d = tmp_path_factory.mktemp("twilio-speech")
    raw, line, wav = d / "espeak.wav", d / "line.wav", d / "recording.wav"
    subprocess.run(espeak_argv(words, raw, voice="ko"), check=True)
    subprocess.run(["sox", "-V1", str(raw), "-r", "8000", "-c", "1", "-e", "u-law",
                    str(line)], check=True)
    subprocess.run(["sox", "-V1", str(line), "-b", "16", "-e", "signed-integer", str(wav),
                    "pad", "0.3", "0.5"], check=True)
    return wav.read_bytes()


@pytest.fixture(scope="session")
def decodings() -> dict[tuple[int, bytes], Decoded]:
    """Transcripts of recordings this test process has decoded, by (engine, file content)."""
    return {}


@pytest.fixture
def decode_once(monkeypatch: pytest.MonkeyPatch,
                decodings: dict[tuple[int, bytes], Decoded]) -> None:
    """The same recording decoded once per test process, by the real engine, then its
    transcript reused: for tests about what the call does around the transcript. Decoding
    the one recording cost ~2 s of CPU per webhook, most of the Twilio tests' time; the
    tests about decoding itself (test_spoken_complaint_becomes_a_ticket, the budget tests)
    decode on every run. Only a finished decode is kept, and only reused before the deadline
    (a late webhook still takes the real path and its errors)."""
    real = call_flow.decode_within

    def decode_within(engine: AsrEngine | None, path: Any, *, deadline: float,
                      rtf_guess: float) -> Decoded:
        try:
            content = path.read_bytes()
        except OSError:
            content = None
        if engine is None or content is None or decode.time.monotonic() > deadline:
            return real(engine, path, deadline=deadline, rtf_guess=rtf_guess)
        key = (id(engine), hashlib.sha256(content).digest())
        if key not in decodings:
            result = real(engine, path, deadline=deadline, rtf_guess=rtf_guess)
            if result.error is not None or result.text is None:
                return result
            decodings[key] = result
        hit = decodings[key]
        return dataclasses.replace(hit, meta=copy.deepcopy(hit.meta))

    monkeypatch.setattr(call_flow, "decode_within", decode_within)


# --------------------------------------------------------------------------- stand-in API
@pytest.fixture
def standin() -> Iterator[StandIn]:
    state = StandIn(base="")
    expected = "Basic " + base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.entered.set()
            if state.hold is not None:
                state.hold.wait(10)
            auth = self.headers.get("Authorization")
            if state.fail_status is not None:
                status, body = state.fail_status, b'{"message":"stand-in failure"}'
            elif auth != expected:
                status, body = 401, b'{"message":"authenticate"}'
            elif self.path in state.redirects:  # Twilio's move to its signed media URL
                state.requests.append({"path": self.path, "auth": auth, "status": 302})
                self.send_response(302)
                self.send_header("Location", state.redirects[self.path])
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            elif self.path in state.recordings:
                status, body = 200, state.recordings[self.path]
            elif (listed := self.path.removeprefix(
                    f"/2010-04-01/Accounts/{ACCOUNT_SID}/Calls/").removesuffix(
                    "/Recordings.json")) in state.call_recordings:
                status, body = 200, json.dumps({"recordings": [
                    {"sid": rec, "call_sid": listed, "status": "completed",
                     "uri": state.recording_path(rec) + ".json"}
                    for rec in state.call_recordings[listed]]}).encode()
            elif (sid := self.path.removeprefix(
                    f"/2010-04-01/Accounts/{ACCOUNT_SID}/Calls/").removesuffix(".json")
                  ) in state.calls:
                status, body = 200, json.dumps({"sid": sid,
                                                "status": state.calls[sid]}).encode()
            else:
                status, body = 404, b'{"message":"not found"}'
            state.requests.append({"path": self.path, "auth": auth, "status": status})
            self.send_response(status)
            self.send_header("Content-Type", "audio/x-wav" if status == 200 else
                             "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


# --------------------------------------------------------------------------- our app
# The modules that start, spend and check a webhook's time budget (time.monotonic()).
BUDGET_CLOCK_USERS = (views, call_flow, decode)


@pytest.fixture
def budget_on_cpu_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """The webhook budget counted in this process's CPU seconds instead of wall seconds.

    The budget is wall time in service, where the host is sized for its calls. A test
    machine shared by five test workers (and by whatever else runs) hands this process a
    fraction of a core, and a decode that costs 1 s of CPU then takes 10 s on the wall:
    the shipped 9 s would pass or fail by the load, not by the code. CPU time is what the
    same work takes on a free core, so the shipped budget still has to hold -- download,
    up-front estimate, every chunk decoded against the deadline -- without the load."""
    for module in BUDGET_CLOCK_USERS:
        monkeypatch.setattr(module, "time", _CpuTime())


class _CpuTime:
    """The time module, with monotonic() reading this process's CPU seconds."""

    monotonic = staticmethod(time.process_time)

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


@pytest.fixture
def make_twilio(settings: Settings, asr_engine: AsrEngine, standin: StandIn,
                budget_on_cpu_time: None) -> Iterator[Any]:
    """make_twilio(twilio={...}, sip={...}, ivr={...}, engine=True) -> Twilio, our app
    behind it."""
    clients: list[TestClient] = []

    def make(*, twilio: dict[str, Any] | None = None, sip: dict[str, Any] | None = None,
             ivr: dict[str, Any] | None = None, engine: bool = True) -> Twilio:
        # Recordings are fetched only from twilio.api_base: here, the stand-in. The
        # decoding budget is the shipped one (counted in CPU time: budget_on_cpu_time).
        tw = TwilioSettings(**{"account_sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN,
                               "api_base": standin.base, "public_base_url": PUBLIC_BASE,
                               **(twilio or {})})
        ours = settings.model_copy(update={
            "twilio": tw, "sip": settings.sip.model_copy(update=sip or {}),
            "ivr": settings.ivr.model_copy(update=ivr or {})})
        app = create_app(ours)
        app.state.asr_engine = asr_engine if engine else None
        client = TestClient(app)
        client.__enter__()
        clients.append(client)
        return Twilio(client, ours)

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def twilio(make_twilio: Any) -> Twilio:
    return make_twilio()
