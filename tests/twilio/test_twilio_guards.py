"""What the webhooks refuse: bad or missing signatures (403, nothing changes), malformed
forms (400 naming the field), calls we never saw (a polite TwiML good-bye, never a 500)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker
from twilio.request_validator import RequestValidator

from asr.jobs import TranscriptionJob
from ivr import prompts
from ivr.callrecords import CallRecord
from ivr.twilio import twiml as answers
from tests.twilio.helpers import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    PUBLIC_BASE,
    StandIn,
    Twilio,
    call_form,
    count,
    new_sid,
    says,
    twiml,
    verbs,
)
from ticketing.models import Ticket


def _nothing_changed(twilio: Twilio, sessions: sessionmaker[Session], standin: StandIn) -> None:
    assert count(sessions, CallRecord) == 0
    assert count(sessions, Ticket) == 0
    assert count(sessions, TranscriptionJob) == 0
    for where in (twilio.settings.data_dir / "spool", twilio.settings.recordings_dir):
        assert not [p for p in where.rglob("*") if p.is_file()], where
    assert standin.requests == []


def _bad_signatures(path: str, form: dict[str, str]) -> dict[str, dict[str, Any]]:
    """Each way a request can fail the check: (form sent, signature header)."""
    url = PUBLIC_BASE + path
    tampered = dict(form, From="+8613900000000")
    return {
        "missing": {"params": form, "signature": None},
        "garbage": {"params": form, "signature": "bm90IGEgc2lnbmF0dXJl"},
        "wrong token": {"params": form,
                        "signature": RequestValidator("other-token").compute_signature(url, form)},
        # Signed for the host the app sees, not the public URL Twilio requested.
        "other url": {"params": form, "signature": RequestValidator(AUTH_TOKEN)
                      .compute_signature("http://testserver" + path, form)},
        "tampered form": {"params": tampered,
                          "signature": RequestValidator(AUTH_TOKEN).compute_signature(url, form)},
    }


def test_bad_or_missing_signature_is_403_and_changes_nothing(
        twilio: Twilio, standin: StandIn, recording_wav: bytes,
        sessions: sessionmaker[Session]) -> None:
    call, rec = new_sid("CA"), new_sid("RE")
    url = standin.add_recording(call, rec, recording_wav)
    webhooks = {
        "/twilio/voice": call_form(call),
        "/twilio/recorded": call_form(call, RecordingSid=rec, RecordingUrl=url),
        "/twilio/recording-status": {"CallSid": call, "RecordingSid": rec, "RecordingUrl": url,
                                     "RecordingStatus": "completed",
                                     "AccountSid": ACCOUNT_SID},
        "/twilio/menu": call_form(call, Digits="0"),
        "/twilio/confirm": call_form(call, Digits="1"),
        "/twilio/status": call_form(call, CallStatus="completed"),
    }
    for path, form in webhooks.items():
        for why, attempt in _bad_signatures(path, form).items():
            resp = twilio.post(path, attempt["params"], signature=attempt["signature"])
            assert resp.status_code == 403, (path, why)
            assert resp.json()["error"] == "forbidden"
    _nothing_changed(twilio, sessions, standin)


def test_malformed_forms_are_400_naming_the_field(
        twilio: Twilio, standin: StandIn, sessions: sessionmaker[Session]) -> None:
    call = new_sid("CA")
    cases = [
        ("/twilio/voice", {"CallSid": call}, "From"),
        ("/twilio/voice", {"From": "+8613811112222"}, "CallSid"),
        ("/twilio/voice", call_form("../../etc/passwd"), "CallSid"),
        ("/twilio/recorded", call_form(call, RecordingSid=new_sid("RE")), "RecordingUrl"),
        ("/twilio/recorded", call_form(call, RecordingSid="RE/../x",
                                       RecordingUrl=standin.base), "RecordingSid"),
        ("/twilio/status", {"CallSid": call, "CallStatus": "completed"}, "From"),
    ]
    for path, form, field in cases:
        resp = twilio.post(path, form)  # correctly signed: the form itself is wrong
        assert resp.status_code == 400, (path, form)
        assert resp.json()["field"] == field and field in resp.json()["detail"]
    _nothing_changed(twilio, sessions, standin)


@pytest.mark.parametrize("path", ["/twilio/recorded", "/twilio/recording-status",
                                  "/twilio/menu", "/twilio/confirm", "/twilio/dialed",
                                  "/twilio/silence", "/twilio/status"])
def test_unknown_call_sid_is_apologised_to_and_hung_up(
        twilio: Twilio, standin: StandIn, recording_wav: bytes,
        sessions: sessionmaker[Session], path: str) -> None:
    call, rec = new_sid("CA"), new_sid("RE")
    url = standin.add_recording(call, rec, recording_wav)
    form = call_form(call, RecordingSid=rec, RecordingUrl=url, RecordingStatus="completed",
                     Digits="1", DialCallStatus="completed", CallStatus="completed")
    root = twiml(twilio.post(path, form))
    assert says(root) == [prompts.speakable(answers.UNKNOWN_CALL)]
    assert verbs(root) == ["Say", "Hangup"]
    _nothing_changed(twilio, sessions, standin)
