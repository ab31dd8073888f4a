"""Constants and small helpers shared by the Twilio tests."""

from __future__ import annotations

import threading
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from twilio.request_validator import RequestValidator

from config import Settings

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "test-auth-token-12345"
PUBLIC_BASE = "https://hotline.example.gov.cn"
CALLER = "+8613811112222"
# Every word is in the Korean test model's vocabulary (see tests/asr/conftest.py).
SPOKEN = "물이 나오지 않습니다 집에 물이 샙니다"
# The complaint said again after key 2: other words of the same vocabulary.
SAID_AGAIN = "집에 물이 샙니다 물이 샙니다"


def new_sid(prefix: str) -> str:
    return prefix + uuid.uuid4().hex


def call_form(call_sid: str, **extra: str) -> dict[str, str]:
    return {"AccountSid": ACCOUNT_SID, "CallSid": call_sid, "From": CALLER,
            "To": "+8610012345", "Direction": "inbound", "CallStatus": "in-progress", **extra}


def answer_written(call_sid: str) -> None:
    """Wait for the call record the answer writes aside (``TwilioCalls.start``): a test
    reading it before the call's next write to the database would race that thread."""
    for thread in threading.enumerate():
        if thread.name == f"claim-{call_sid}":
            thread.join()


def twiml(resp: Any) -> ET.Element:
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("application/xml")
    root = ET.fromstring(resp.content)
    assert root.tag == "Response"
    return root


def says(root: ET.Element) -> list[str]:
    """Every <Say> text; each must be in Mandarin."""
    out = []
    for say in root.iter("Say"):
        assert say.get("language") == "zh-CN"
        out.append(say.text or "")
    return out


def verbs(root: ET.Element) -> list[str]:
    return [child.tag for child in root]


def count(sessions: sessionmaker[Session], model: type) -> int:
    with sessions() as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


@dataclass
class StandIn:
    """A local HTTP server playing Twilio's REST API for recording media."""

    base: str
    recordings: dict[str, bytes] = field(default_factory=dict)  # path -> WAV bytes
    # path -> Location: answered with a 302 there (after the credentials are checked)
    redirects: dict[str, str] = field(default_factory=dict)
    requests: list[dict[str, Any]] = field(default_factory=list)
    fail_status: int | None = None
    # Set when a request arrives; with ``hold`` set, answers wait for it (a slow API).
    entered: threading.Event = field(default_factory=threading.Event)
    hold: threading.Event | None = None
    # CallSid -> the status its Call resource says (Twilio's API, for bridges' heartbeat)
    calls: dict[str, str] = field(default_factory=dict)
    # CallSid -> its RecordingSids, newest first (the API's list of a call's recordings)
    call_recordings: dict[str, list[str]] = field(default_factory=dict)

    def add_recording(self, call_sid: str, recording_sid: str, wav: bytes) -> str:
        """Register a recording; returns its RecordingUrl (without extension, as Twilio
        sends it)."""
        path = self.recording_path(recording_sid)
        self.recordings[path + ".wav"] = wav
        return self.base + path

    def recording_path(self, recording_sid: str) -> str:
        return f"/2010-04-01/Accounts/{ACCOUNT_SID}/Recordings/{recording_sid}"

    @property
    def downloads(self) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["status"] == 200]


@dataclass
class Twilio:
    """Sends webhooks to our app the way Twilio does: form POSTs signed with the auth
    token over the public URL."""

    client: TestClient
    settings: Settings

    def post(self, path: str, params: dict[str, str], *, signature: str | None = "sign",
             query: str = "") -> Any:
        target = path + (f"?{query}" if query else "")
        headers = {}
        if signature == "sign":
            headers["X-Twilio-Signature"] = RequestValidator(AUTH_TOKEN).compute_signature(
                PUBLIC_BASE + target, params)
        elif signature is not None:
            headers["X-Twilio-Signature"] = signature
        return self.client.post(target, data=params, headers=headers)
