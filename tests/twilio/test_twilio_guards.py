"""What the webhooks refuse: bad or missing signatures (403, nothing changes), malformed
forms (400 naming the field), calls we never saw (a polite TwiML good-bye, never a 500)."""

from __future__ import annotations

import dataclasses
import hashlib
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from twilio.request_validator import RequestValidator

from asr.jobs import TranscriptionJob
from config.settings import TwilioSettings
from ivr import prompts
from ivr.callrecords import CallRecord
from ivr.intake import CallIntake, Spool
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
from ticketing.context import Domain
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


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # subject: signatures, not storage
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


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # subject: the body's reading
def test_a_coded_webhook_body_is_415_and_changes_nothing(
        twilio: Twilio, standin: StandIn, sessions: sessionmaker[Session]) -> None:
    """Twilio never compresses a webhook: a signed form sent with `Content-Encoding: gzip`
    was read as the plain form it is not (mend90). The app's one rule
    (``hotline.request_body.NoContentCoding``): 415 naming the coding, nothing changed."""
    call = new_sid("CA")
    form = call_form(call)
    signature = RequestValidator(AUTH_TOKEN).compute_signature(PUBLIC_BASE + "/twilio/voice",
                                                               form)
    resp = twilio.client.post("/twilio/voice", data=form,
                              headers={"X-Twilio-Signature": signature,
                                       "Content-Encoding": "gzip"})
    assert (resp.status_code, resp.json()["error"]) == (415, "unsupported_media_type")
    assert "'gzip'" in resp.json()["detail"]
    _nothing_changed(twilio, sessions, standin)
    # The same request as Twilio sends it is answered.
    assert twilio.post("/twilio/voice", form).status_code == 200


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # subject: the body's reading
def test_a_webhooks_signature_is_checked_over_the_body_it_reads(
        twilio: Twilio, standin: StandIn, sessions: sessionmaker[Session]) -> None:
    """The webhooks take no bearer token: the signature covers the form, so the body is
    read before it is checked (``signature.read_signed_form``), and a JSON body naming a
    key twice is refused before the view as any such body is (mend90). mend91 decides the
    token first only where a route takes one (``ticketing.deps.no_stranger``): nothing of
    this order moved."""
    call = new_sid("CA")
    twice = b'{"CallSid":"%s","CallSid":"x"}' % call.encode()
    resp = twilio.client.post("/twilio/voice", content=twice,
                              headers={"Content-Type": "application/json"})
    assert (resp.status_code, resp.json()["error"]) == (422, "invalid_input")
    resp = twilio.client.post("/twilio/voice", data=call_form(call))  # unsigned
    assert (resp.status_code, resp.json()["error"]) == (403, "forbidden")
    _nothing_changed(twilio, sessions, standin)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # subject: the form's parsing, not storage
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
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # subject: the answer to an unknown call, not storage
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


# ------------------------------------------------------------------ forged answers (issue 12)
_WEBHOOKS = ("/twilio/voice", "/twilio/menu", "/twilio/recorded", "/twilio/recording-status",
             "/twilio/confirm", "/twilio/dialed", "/twilio/silence", "/twilio/status")


def _full_form(call: str, rec: str, url: str) -> dict[str, str]:
    return call_form(call, RecordingSid=rec, RecordingUrl=url, RecordingStatus="completed",
                     Digits="1", DialCallStatus="completed", CallStatus="completed")


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # subject: signatures, not storage
@pytest.mark.parametrize("verify", [True, False], ids=["shipped", "signatures-off"])
def test_no_auth_token_refuses_every_webhook(
        make_twilio: Any, standin: StandIn, recording_wav: bytes,
        sessions: sessionmaker[Session], verify: bool) -> None:
    """Shipped settings have no auth token: a signature computed with "" as the key (which
    anyone can) must not pass -- nor may unsigned requests when signatures are off."""
    shipped = TwilioSettings()
    assert shipped.auth_token == "" and shipped.verify_signatures
    twilio = make_twilio(twilio={"auth_token": "", "verify_signatures": verify})
    call, rec = new_sid("CA"), new_sid("RE")
    form = _full_form(call, rec, standin.add_recording(call, rec, recording_wav))
    for path in _WEBHOOKS:
        forged = RequestValidator("").compute_signature(PUBLIC_BASE + path, form)
        for signature in (forged, None):
            resp = twilio.post(path, form, signature=signature)
            assert resp.status_code == 403, (path, resp.text)
            assert resp.json() == {"error": "forbidden", "detail": resp.json()["detail"]}
    _nothing_changed(twilio, sessions, standin)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # subject: the form's parsing, not storage
def test_unicode_digit_attempt_is_the_first_attempt(twilio: Twilio) -> None:
    """"²".isdigit() is True but int("²") fails: that was a 500."""
    call = new_sid("CA")
    twiml(twilio.post("/twilio/voice", call_form(call)))
    for raw in ("%C2%B2", "%D9%A3", "9" * 5000):
        root = twiml(twilio.post("/twilio/silence", call_form(call), query=f"attempt={raw}"))
        assert says(root) == [prompts.speakable(prompts.text("reprompt_silence"))]
        assert root[2].text == f"{PUBLIC_BASE}/twilio/silence?attempt=2"


def test_twilio_webhooks_never_touch_a_sip_call(
        twilio: Twilio, standin: StandIn, recording_wav: bytes,
        sessions: sessionmaker[Session], domain: Domain) -> None:
    """The SIP IVR shares the spool and the call records; a Twilio webhook naming a SIP
    call's id (live or settled) is a call we never saw on /twilio/voice."""
    spool = Spool(twilio.settings.data_dir / "spool" / "calls")
    live, ended = new_sid("CA"), new_sid("CA")
    CallIntake(sessions=sessions, domain=domain, spool=spool, call_id=live,
               caller="13811112222").answered()
    done = CallIntake(sessions=sessions, domain=domain, spool=spool, call_id=ended,
                      caller="13811112222")
    done.answered()
    done.end()
    journal = spool.path(live).read_bytes()
    with sessions() as s:
        before = [(r.call_id, r.carrier, r.outcome, r.ended_at, r.recording_path)
                  for r in s.scalars(select(CallRecord).order_by(CallRecord.id))]
    for call in (live, ended):
        rec = new_sid("RE")
        form = _full_form(call, rec, standin.add_recording(call, rec, recording_wav))
        for path in _WEBHOOKS:
            root = twiml(twilio.post(path, form))
            assert says(root) == [prompts.speakable(answers.UNKNOWN_CALL)], path
    assert spool.path(live).read_bytes() == journal
    with sessions() as s:
        assert [(r.call_id, r.carrier, r.outcome, r.ended_at, r.recording_path)
                for r in s.scalars(select(CallRecord).order_by(CallRecord.id))] == before
    assert count(sessions, Ticket) == 0 and standin.requests == []


# ------------------------------------------------------------------ where credentials go
@dataclasses.dataclass
class Elsewhere:
    """A server on 127.0.0.1 that is not the Twilio API: it records every request's
    Authorization header, and serves ``wav`` to anyone."""

    base: str
    wav: bytes = b""
    requests: list[tuple[str, str | None]] = dataclasses.field(default_factory=list)


@pytest.fixture
def elsewhere() -> Iterator[Elsewhere]:
    state = Elsewhere(base="")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.requests.append((self.path, self.headers.get("Authorization")))
            self.send_response(200 if state.wav else 404)
            self.send_header("Content-Length", str(len(state.wav)))
            self.end_headers()
            self.wfile.write(state.wav)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.base = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield state
    server.shutdown()
    server.server_close()


def _record_at(twilio: Twilio, url: str, rec: str | None = None, *,
               fetched: bool = True) -> str:
    """A call that records, with Twilio's action and recording callback naming ``url`` +
    the RecordingSid. ``fetched`` False: the recording is not downloaded, and its callback
    is answered 503 (mend89)."""
    call, rec = new_sid("CA"), rec or new_sid("RE")
    twiml(twilio.post("/twilio/voice", call_form(call)))
    twiml(twilio.post("/twilio/recorded", call_form(
        call, RecordingSid=rec, RecordingUrl=url + rec, RecordingDuration="3", Digits="#")))
    resp = twilio.post("/twilio/recording-status", {
        "AccountSid": ACCOUNT_SID, "CallSid": call, "RecordingSid": rec,
        "RecordingUrl": url + rec, "RecordingStatus": "completed"})
    if fetched:
        twiml(resp)
    else:
        assert resp.status_code == 503, resp.text
    return call


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # subject: the fetch's address, not storage
def test_recording_url_off_the_twilio_api_gets_no_request(
        make_twilio: Any, standin: StandIn, elsewhere: Elsewhere, recording_wav: bytes,
        sessions: sessionmaker[Session]) -> None:
    """RecordingUrl is form data: another host, or the API host over plain http, is never
    asked (so never sees the account's credentials); the complaint is still a ticket."""
    elsewhere.wav = recording_wav
    twilio = make_twilio(engine=False)  # api_base: the stand-in
    _record_at(twilio, elsewhere.base + "/2010-04-01/Accounts/x/Recordings/", fetched=False)
    # The API itself is https; the same host and port over http is not the API.
    port = elsewhere.base.rsplit(":", 1)[1]
    twilio = make_twilio(engine=False, twilio={"api_base": f"https://127.0.0.1:{port}"})
    _record_at(twilio, elsewhere.base + "/2010-04-01/Accounts/x/Recordings/", fetched=False)
    assert elsewhere.requests == [] and standin.requests == []
    with sessions() as s:
        tickets = s.scalars(select(Ticket)).all()
    assert len(tickets) == 2 and all(t.recording_sha256 is None for t in tickets)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # subject: the fetch's credentials, not storage
def test_redirect_off_the_api_is_followed_without_credentials(
        make_twilio: Any, standin: StandIn, elsewhere: Elsewhere, recording_wav: bytes,
        sessions: sessionmaker[Session]) -> None:
    """Twilio answers an authenticated media request with a redirect to a signed URL on
    its media host: followed, but the credentials stay with the API."""
    elsewhere.wav = recording_wav
    twilio = make_twilio(engine=False)
    rec = new_sid("RE")
    media = elsewhere.base + "/signed/media.wav?Expires=1&Signature=x"
    standin.redirects[standin.recording_path(rec) + ".wav"] = media
    call = _record_at(twilio, standin.base + standin.recording_path(""), rec)
    assert [r["status"] for r in standin.requests] == [302]  # with the credentials: the API
    assert elsewhere.requests == [("/signed/media.wav?Expires=1&Signature=x", None)]
    with sessions() as s:
        t = s.scalars(select(Ticket).where(Ticket.call_id == call)).one()
    assert t.recording_sha256 == hashlib.sha256(recording_wav).hexdigest()
