"""The Twilio dialer and SMS against a local stand-in for Twilio's API (real HTTP on
127.0.0.1), with our API serving the TwiML and the signed status callbacks; and the plain
HTTP webhook SMS provider against a local receiver."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker
from twilio.request_validator import RequestValidator

from config import Settings
from config.settings import TwilioSettings
from hotline.app import create_app
from outbound.conversation import NOT_COUNTED
from outbound.dialers import TwilioDialer
from outbound.models import Kind, OutboundAttempt, OutboundTask, Outcome
from outbound.planner import plan
from outbound.policies import Target
from outbound.sms import TwilioSms, WebhookSms
from outbound.twilio_rest import claims_unknown_create, unknown_create
from outbound.worker import LINE_RECHECK_SECONDS, Claim, OutboundWorker, claim_due, record_end
from tests.outbound.support import (
    WATER_HANDLER_PHONE,
    attempts,
    close_ticket,
    drive,
    events,
    fast,
    new_ticket,
    tasks,
    ticket,
)
from tests.outbound.twilio_standin import TwilioStandIn
from tests.support.city import City, seed_city
from tests.support.pgserver import free_port
from ticketing.context import Domain
from ticketing.db import make_engine, make_session_factory
from ticketing.models import SurveyResult
from ticketing.phones import normalise

CITIZEN = "13811112222"
TOKEN = "twilio-auth-token-for-tests"


@pytest.fixture
def standin() -> Iterator[TwilioStandIn]:
    s = TwilioStandIn(auth_token=TOKEN)
    yield s
    s.close()


@pytest.fixture
def api(sqlite_url: str, tmp_path: Path, standin: TwilioStandIn
        ) -> Iterator[tuple[Settings, sessionmaker[Session], Domain, City]]:
    port = free_port()
    base = Settings(database_url=sqlite_url, data_dir=tmp_path,
                    twilio=TwilioSettings(account_sid="ACtest", auth_token=TOKEN,
                                          api_base=standin.url, from_number="+861012345",
                                          public_base_url=f"http://127.0.0.1:{port}",
                                          call_result_timeout_seconds=20))
    settings = fast(base, dialer="twilio", sms_provider="twilio")
    app = create_app(settings)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:  # a port it cannot bind ends the thread: fail, never hang
        assert thread.is_alive(), "uvicorn did not start"
        time.sleep(0.02)
    engine = make_engine(sqlite_url)
    sessions = make_session_factory(engine)
    domain = Domain.load(settings)
    try:
        yield settings, sessions, domain, seed_city(sessions, domain)
    finally:
        server.should_exit = True
        thread.join(5)
        engine.dispose()


def twilio_worker(settings: Settings, sessions: sessionmaker[Session], domain: Domain
                  ) -> OutboundWorker:
    return OutboundWorker(sessions=sessions, domain=domain,
                          dialer=TwilioDialer(settings, sessions), sms=TwilioSms(settings))


def test_reminder_over_twilio_key_1_signs(api, standin: TwilioStandIn) -> None:
    settings, sessions, domain, city = api
    standin.phones[normalise(WATER_HANDLER_PHONE)] = "1"
    number = new_ticket(sessions, domain, city)
    drive(twilio_worker(settings, sessions, domain),
          lambda: ticket(sessions, number).status == "signed")
    # The handler's dispatch SMS (the caller's own "accepted" SMS is test_citizen_sms.py's).
    assert [m["To"] for m in standin.messages if m["To"] != normalise(CITIZEN)] == [
        normalise(WATER_HANDLER_PHONE)]  # E.164
    assert number in standin.messages[0]["Body"]
    (call,) = standin.calls
    assert call["To"] == normalise(WATER_HANDLER_PHONE) and call["From"] == "+861012345"
    assert set(standin.webhook_statuses) <= {200, 204}
    (attempt,) = attempts(sessions, number, Kind.SIGN_CALL)
    assert (attempt.outcome, attempt.keys, attempt.call_ref) == ("answered", "1", call["Sid"])
    sign = [e for e in events(sessions, number) if e.action == "sign"]
    assert sign[0].data == {"via": "keypad"} and sign[0].actor_id == city.user_id("water-handler")


def test_busy_over_twilio_is_retried(api, standin: TwilioStandIn) -> None:
    settings, sessions, domain, city = api
    standin.phones[normalise(WATER_HANDLER_PHONE)] = "busy"
    number = new_ticket(sessions, domain, city)
    drive(twilio_worker(settings, sessions, domain),
          lambda: len(attempts(sessions, number, Kind.SIGN_CALL)) >= 2
          and all(a.outcome for a in attempts(sessions, number, Kind.SIGN_CALL)))
    assert [a.outcome for a in attempts(sessions, number, Kind.SIGN_CALL)][:2] == ["busy"] * 2


def test_dissatisfied_citizen_lands_in_review_queue(api, standin: TwilioStandIn) -> None:
    settings, sessions, domain, city = api
    standin.phones[normalise(CITIZEN)] = "12"
    number = new_ticket(sessions, domain, city, phone=CITIZEN)
    close_ticket(sessions, domain, city, number)
    drive(twilio_worker(settings, sessions, domain),
          lambda: any(t.status == "done" for t in tasks(sessions, number, Kind.SURVEY_CALL)))
    assert ticket(sessions, number).status == "surveyed"
    base = settings.twilio.public_base_url
    headers = {"Authorization": f"Bearer {city.tokens['supervisor']}"}
    reviews = httpx.get(f"{base}/api/v1/outbound/reviews", headers=headers).json()
    assert [(r["ticket"], r["keys"], r["reason"]) for r in reviews] == [
        (number, "12", "dissatisfied")]
    resolved = httpx.post(f"{base}/api/v1/outbound/reviews/{reviews[0]['id']}/resolve",
                          headers=headers, json={"note": "已回访核实"})
    assert resolved.status_code == 200 and resolved.json()["resolved_at"]
    assert httpx.get(f"{base}/api/v1/outbound/reviews", headers=headers).json() == []
    handler = {"Authorization": f"Bearer {city.tokens['water-handler']}"}
    assert httpx.get(f"{base}/api/v1/outbound/reviews", headers=handler).status_code == 403


def _late_answers(settings: Settings, standin: TwilioStandIn) -> Settings:
    """Twilio carries out every create and answers it after the client gave up waiting."""
    standin.create_delay = 1.5
    return settings.model_copy(update={"twilio": settings.twilio.model_copy(
        update={"api_timeout_seconds": 0.5})})


def test_an_sms_twilio_took_but_answered_late_is_not_sent_again(
        api, standin: TwilioStandIn) -> None:
    """A create that timed out after it was sent was taken as refused and sent again: the
    handler (and the citizen) texted twice (review56). Looked up instead: sent once."""
    settings, sessions, domain, city = api
    standin.phones[normalise(WATER_HANDLER_PHONE)] = "busy"
    late = _late_answers(settings, standin)
    number = new_ticket(sessions, domain, city)
    drive(twilio_worker(late, sessions, domain),
          lambda: all(t.status != "pending" and not t.claimed_by
                      for t in tasks(sessions, number, Kind.SMS_DISPATCH)), timeout=30)
    sent = [m for m in standin.messages if m["To"] == normalise(WATER_HANDLER_PHONE)]
    (attempt,) = attempts(sessions, number, Kind.SMS_DISPATCH)
    assert len(sent) == 1 and "messages" in standin.lookups
    assert (attempt.outcome, attempt.call_ref) == ("sent", sent[0]["Sid"])


def test_a_call_twilio_placed_but_answered_late_is_run_not_placed_again(
        api, standin: TwilioStandIn) -> None:
    """Ended as failed with no CallSid, the call Twilio was ringing got 409 at /voice (the
    handler picked up to Twilio's error) and was placed again (review56)."""
    settings, sessions, domain, city = api
    standin.phones[normalise(WATER_HANDLER_PHONE)] = "1"
    late = _late_answers(settings, standin)
    number = new_ticket(sessions, domain, city)
    drive(twilio_worker(late, sessions, domain),
          lambda: ticket(sessions, number).status == "signed", timeout=30)
    (call,) = standin.calls
    assert set(standin.webhook_statuses) <= {200, 204}
    (attempt,) = attempts(sessions, number, Kind.SIGN_CALL)
    assert (attempt.outcome, attempt.keys, attempt.call_ref) == ("answered", "1", call["Sid"])


def test_a_call_twilio_placed_whose_create_and_lookup_both_missed_is_still_answered_as_ours(
        api, standin: TwilioStandIn) -> None:
    """The create timed out and Twilio's list did not show the call: it was settled
    `unknown` at once, and the handler who picked up heard Twilio's error (its /voice
    refused) (loose28). Kept pending with what was asked, the signed /voice of that call
    (same To, same From, in time) claims it: the call runs, key 1 signs, placed once."""
    settings, sessions, domain, city = api
    standin.phones[normalise(WATER_HANDLER_PHONE)] = "1"
    standin.listed = False
    late = _late_answers(settings, standin)
    number = new_ticket(sessions, domain, city)
    drive(twilio_worker(late, sessions, domain),
          lambda: ticket(sessions, number).status == "signed", timeout=30)
    (call,) = standin.calls
    assert "calls" in standin.lookups and set(standin.webhook_statuses) <= {200, 204}
    (attempt,) = attempts(sessions, number, Kind.SIGN_CALL)
    assert (attempt.outcome, attempt.keys, attempt.call_ref) == ("answered", "1", call["Sid"])
    assert "unknown_create" not in (attempt.data or {})


def test_a_pending_unknown_create_is_claimed_only_by_its_own_call_and_once(
        hook_app: Any) -> None:
    """What may claim an attempt whose create went unanswered and unlisted: a signed
    webhook with the To and From asked for, within the create's window, once. Another
    number, a forged signature, a second CallSid, a late one: refused, nothing changed."""
    hook, sessions, domain, city = hook_app(TOKEN, auth_token=TOKEN, from_number="+861012345")
    number = new_ticket(sessions, domain, city)
    attempt = _claim_calls(sessions, domain, carrier="twilio", refs={Kind.SIGN_CALL: None}
                           )[Kind.SIGN_CALL]
    to = normalise(WATER_HANDLER_PHONE)
    pending = unknown_create(to=to, from_="+861012345", at=domain.now())
    with sessions() as s:
        s.get_one(OutboundAttempt, attempt).data = {"unknown_create": pending}
        s.commit()
    sid, other = "CA" + "1" * 32, "CA" + "2" * 32
    base = {"CallSid": sid, "To": to, "From": "+861012345", "CallStatus": "in-progress",
            "Direction": "outbound-api"}
    before = _attempt_row(sessions, attempt)
    # Another number, an inbound call, or a form that does not say (mend61: accepted).
    without = {k: v for k, v in base.items() if k != "Direction"}
    for form in ({**base, "To": "+8613800000000"}, {**base, "From": "+15550001111"},
                 {**base, "Direction": "inbound"}, without):
        _forbidden(hook.post("voice", {"attempt": attempt}, form))
    forged = Hook(hook.client, hook.settings, "not-the-token")
    _forbidden(forged.post("voice", {"attempt": attempt}, base))
    assert _attempt_row(sessions, attempt) == before
    # A signed /voice of the call asked for: ours, once.
    assert hook.post("voice", {"attempt": attempt}, base).status_code == 200
    _forbidden(hook.post("voice", {"attempt": attempt}, {**base, "CallSid": other}))
    assert hook.post("gather", {"attempt": attempt, "keys": ""},
                     {**base, "Digits": "1"}).status_code == 200
    assert ticket(sessions, number).status == "signed"
    with sessions() as s:
        row = s.get_one(OutboundAttempt, attempt)
        assert row.call_ref == sid and "unknown_create" not in (row.data or {})
    # Out of its window a pending create claims nothing.
    old = unknown_create(to=to, from_="+861012345", at=domain.now() - timedelta(hours=1))
    assert not claims_unknown_create(old, base, now=domain.now(), settings=hook.settings)
    assert claims_unknown_create(pending, base, now=domain.now(), settings=hook.settings)


def test_callbacks_with_bad_or_missing_signature_are_refused(api, standin: TwilioStandIn
                                                             ) -> None:
    settings = api[0]
    url = f"{settings.twilio.public_base_url}/api/v1/outbound/twilio/status?attempt=1"
    params = {"CallSid": "CAx", "CallStatus": "completed"}
    assert httpx.post(url, data=params).status_code == 403
    forged = TwilioStandIn.signed_post.__get__(TwilioStandIn(auth_token="wrong-token"))
    assert forged(url, params).status_code == 403
    voice = f"{settings.twilio.public_base_url}/api/v1/outbound/twilio/voice?attempt=1"
    assert httpx.post(voice, data=params,
                      headers={"X-Twilio-Signature": "AAAA"}).status_code == 403


class _Receiver(BaseHTTPRequestHandler):
    got: list[dict[str, Any]] = []  # noqa: RUF012 - shared with the test on purpose

    def do_POST(self) -> None:
        _Receiver.got.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        self.send_response(202)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def test_webhook_sms_posts_json() -> None:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        sms = WebhookSms(f"http://127.0.0.1:{httpd.server_address[1]}/sms")
        result = sms.send(to="13900000030", text="【12345】新工单", ref="outbound-1-1")
        assert result.ok
        assert _Receiver.got == [{"id": "outbound-1-1", "to": "13900000030",
                                  "text": "【12345】新工单"}]
        down = WebhookSms(f"http://127.0.0.1:{free_port()}/sms", timeout=1)
        assert not down.send(to="1", text="x", ref="r").ok
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_a_twilio_api_that_never_answers_fails_the_send_instead_of_holding_its_slot(
) -> None:
    """Twilio's REST client waits forever by default: an API that took the connection and
    never answered (judge27: a stand-in that accepts and stays silent) held the SMS's worker
    thread for good, its lease renewed all the while; eight such and no 催办 went out."""
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    settings = Settings(twilio=TwilioSettings(
        account_sid="ACtest", auth_token=TOKEN, from_number="+8610012345",
        api_base=f"http://127.0.0.1:{silent.getsockname()[1]}", api_timeout_seconds=1))
    got: list[Any] = []
    sender = threading.Thread(target=lambda: got.append(TwilioSms(settings).send(
        to="+8613900000030", text="【12345】新工单", ref="outbound-1-1")), daemon=True)
    try:
        sender.start()
        sender.join(120)
        assert not sender.is_alive(), "the send to a silent Twilio API never returned"
        # The request went out: Twilio may have it, so it is unknown, never sent again.
        assert len(got) == 1 and not got[0].ok and got[0].unknown
    finally:
        silent.close()
    # Nothing listening: nothing was sent, so it fails and is retried as before.
    down = Settings(twilio=settings.twilio.model_copy(
        update={"api_base": f"http://127.0.0.1:{free_port()}"}))
    refused = TwilioSms(down).send(to="+8613900000030", text="【12345】新工单", ref="r")
    assert not refused.ok and not refused.unknown



@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_an_sms_twilio_answered_with_a_server_error_is_looked_up_not_sent_again(
        standin: TwilioStandIn, status: int) -> None:
    """Twilio's error 20500: a message create answered 500 may have been sent, and sending
    it again can text the citizen twice. A 5xx was taken as "nothing created" and the SMS
    retried on its schedule (twilio46): now it is looked up in Twilio's list, as a create
    left unanswered is."""
    settings = Settings(twilio=TwilioSettings(
        account_sid="ACtest", auth_token=TOKEN, from_number="+8610012345",
        api_base=standin.url, api_timeout_seconds=5))
    standin.create_error = status
    result = TwilioSms(settings).send(to="+8613900000030", text="【12345】新工单", ref="r")
    (sent,) = standin.messages
    assert "messages" in standin.lookups
    assert (result.ok, result.unknown, result.ref) == (True, False, sent["Sid"])


def test_an_sms_twilio_refused_as_too_many_requests_is_retried_without_a_look_up(
        standin: TwilioStandIn) -> None:
    """Twilio's error 20429: a request answered 429 is never processed and always safe to
    retry, so it stays a failure its task's schedule tries again, nothing looked up."""
    settings = Settings(twilio=TwilioSettings(
        account_sid="ACtest", auth_token=TOKEN, from_number="+8610012345",
        api_base=standin.url, api_timeout_seconds=5))
    standin.create_error = 429
    result = TwilioSms(settings).send(to="+8613900000030", text="【12345】新工单", ref="r")
    assert (result.ok, result.unknown) == (False, False)
    assert standin.messages == [] and standin.lookups == []


def _sms_settings(standin: TwilioStandIn) -> Settings:
    return Settings(twilio=TwilioSettings(
        account_sid="ACtest", auth_token=TOKEN, from_number="+8610012345",
        api_base=standin.url, api_timeout_seconds=5))


@pytest.mark.parametrize(("status", "creates", "lag"), [(503, False, 0), (500, True, 1)])
def test_an_sms_a_server_error_left_unlisted_is_sent_once_and_one_listed_late_is_not(
        standin: TwilioStandIn, status: int, creates: bool, lag: int) -> None:
    """Twilio's usual 503 under load makes nothing: looked up, listed nowhere, the SMS ended
    `unknown` and was never sent, the handler's dispatch or the citizen's receipt lost
    (review127); now, listed nowhere at a second look too, it is sent once more. A 500 that
    made it, missing from the first look (Twilio's list lags its creates) and shown at the
    second, is that message, not sent a second time. Exactly one message either way."""
    standin.create_error, standin.create_error_creates = status, creates
    standin.failing_creates, standin.list_lag = 1, lag
    result = TwilioSms(_sms_settings(standin)).send(
        to="+8613900000030", text="【12345】新工单", ref="r")
    (sent,) = standin.messages
    assert standin.lookups == ["messages", "messages"]
    assert (result.ok, result.unknown, result.ref) == (True, False, sent["Sid"])


def test_an_sms_whose_create_and_lookup_both_fail_is_unknown_not_sent_again(
        standin: TwilioStandIn) -> None:
    """The lookup itself failing says nothing of what the 5xx made: the SMS is `unknown`,
    never sent again (at most once; review56), not taken as unlisted and re-sent."""
    standin.create_error, standin.create_error_creates, standin.failing_creates = 503, False, 1
    standin.list_error = 500
    result = TwilioSms(_sms_settings(standin)).send(
        to="+8613900000030", text="【12345】新工单", ref="r")
    assert standin.messages == [] and standin.lookups == ["messages"]
    assert (result.ok, result.unknown) == (False, True)


def test_a_call_twilio_placed_but_answered_with_a_server_error_is_run_not_placed_again(
        api, standin: TwilioStandIn) -> None:
    """A call create answered 500 after Twilio placed it ended `failed`, and the task's
    retry rang the handler again (twilio46); looked up, the call placed is the one run."""
    settings, sessions, domain, city = api
    standin.phones[normalise(WATER_HANDLER_PHONE)] = "1"
    standin.create_error = 500
    number = new_ticket(sessions, domain, city)
    drive(twilio_worker(settings, sessions, domain),
          lambda: ticket(sessions, number).status == "signed", timeout=30)
    (call,) = standin.calls
    (attempt,) = attempts(sessions, number, Kind.SIGN_CALL)
    assert (attempt.outcome, attempt.keys, attempt.call_ref) == ("answered", "1", call["Sid"])

# --- forged and misdirected webhooks (issue 12) -----------------------------------------
# In-process (TestClient), no sockets: the attempt rows come from the real planner and claim
# transaction, as the worker would make them just before dialling.

def _claim_calls(sessions: sessionmaker[Session], domain: Domain, *, carrier: str,
                 refs: dict[Kind, str | None]) -> dict[Kind, int]:
    """Plan and claim the due work the way the worker does (at 10:00 local the day after
    tomorrow: every window has passed, no quiet hours) and store, for each call kind in
    ``refs``, the CallSid the carrier's API returned, as TwilioDialer.call does. Returns
    the attempt id of each of those kinds."""
    at = (domain.now().astimezone(domain.tz) + timedelta(days=2)).replace(
        hour=10, minute=0, second=0, microsecond=0)
    with sessions() as s:
        plan(session=s, domain=domain, now=at)
        claims: list[Claim] = []
        for _ in range(4):
            claims += claim_due(session=s, domain=domain, worker="test", now=at, limit=20,
                                carrier=carrier, sms_carrier="log")
            ids = {Kind(c.kind): c.attempt_id for c in claims if Kind(c.kind) in refs}
            if set(ids) == set(refs):
                break
            # A call of ours to the same phone (the handler's 催办) holds the line: it
            # ends, and the call that waited for it is claimed next (worker.line_in_call).
            for c in claims:
                if Kind(c.kind) not in refs:
                    s.get_one(OutboundAttempt, c.attempt_id).ended_at = at
            at += timedelta(seconds=LINE_RECHECK_SECONDS)
        assert set(ids) == set(refs), claims
        for kind, ref in refs.items():
            s.get_one(OutboundAttempt, ids[kind]).call_ref = ref
        s.commit()
        return ids


def _attempt_row(sessions: sessionmaker[Session], attempt_id: int) -> tuple[Any, ...]:
    with sessions() as s:
        a = s.get_one(OutboundAttempt, attempt_id)
        return (a.answered_at, a.ended_at, a.outcome, a.keys, a.call_ref, a.detail)


def _surveys(sessions: sessionmaker[Session]) -> int:
    with sessions() as s:
        return s.scalar(select(func.count()).select_from(SurveyResult)) or 0


@dataclass
class Hook:
    """Posts outbound webhooks to our app, signed with ``token`` as Twilio would."""

    client: TestClient
    settings: Settings
    token: str

    def post(self, path: str, query: dict[str, Any], form: dict[str, str],
             *, signed: bool = True) -> Any:
        target = f"/api/v1/outbound/twilio/{path}?{urlencode(query)}"
        url = self.settings.twilio.public_base_url.rstrip("/") + target
        headers = {"X-Twilio-Signature": RequestValidator(self.token).compute_signature(
            url, form)} if signed else {}
        return self.client.post(target, data=form, headers=headers)


@pytest.fixture
def hook_app(db_url: str, tmp_path: Path) -> Iterator[Any]:
    """make(twilio=...) -> (Hook, sessions, domain, city) on the shipped settings, with only
    the given Twilio settings changed."""
    engines: list[Any] = []
    clients: list[TestClient] = []

    def make(token_for_signing: str, **twilio: Any
             ) -> tuple[Hook, sessionmaker[Session], Domain, City]:
        settings = Settings(database_url=db_url, data_dir=tmp_path,
                            twilio=TwilioSettings(**twilio))
        client = TestClient(create_app(settings))
        clients.append(client)
        engine = make_engine(db_url)
        engines.append(engine)
        sessions = make_session_factory(engine)
        domain = Domain.load(settings)
        city = seed_city(sessions, domain) if len(engines) == 1 else City(
            tokens={}, sessions=sessions)
        return Hook(client, settings, token_for_signing), sessions, domain, city

    yield make
    for client in clients:
        client.close()
    for engine in engines:
        engine.dispose()


def _forbidden(resp: Any) -> None:
    assert resp.status_code == 403, resp.text
    assert resp.json()["error"] == "forbidden"


# The signature's gate refuses before any row is read: on SQLite alone (both tests).
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_shipped_settings_refuse_a_signature_over_the_empty_token(hook_app: Any) -> None:
    """The review's attack: no auth token configured, a signature computed with "" as the
    key. Neither the survey nor the sign may happen."""
    hook, sessions, domain, city = hook_app("")  # shipped: auth_token "", verify on
    assert hook.settings.twilio.auth_token == "" and hook.settings.twilio.verify_signatures
    survey_number = new_ticket(sessions, domain, city, phone=CITIZEN)
    close_ticket(sessions, domain, city, survey_number)
    sign_number = new_ticket(sessions, domain, city, phone="13811113333")
    ids = _claim_calls(sessions, domain, carrier="twilio", refs={
        Kind.SURVEY_CALL: "CA" + "1" * 32, Kind.SIGN_CALL: "CA" + "2" * 32})
    survey, sign = ids[Kind.SURVEY_CALL], ids[Kind.SIGN_CALL]
    before = {a: _attempt_row(sessions, a) for a in (survey, sign)}
    form = {"CallSid": "CA" + "1" * 32, "Digits": "1"}
    _forbidden(hook.post("gather", {"attempt": survey, "keys": "1"}, form))
    _forbidden(hook.post("gather", {"attempt": sign, "keys": ""},
                         {**form, "CallSid": "CA" + "2" * 32}))
    _forbidden(hook.post("voice", {"attempt": sign}, form))
    _forbidden(hook.post("status", {"attempt": sign}, {**form, "CallStatus": "completed"}))
    _forbidden(hook.post("gather", {"attempt": survey, "keys": "1"}, form, signed=False))
    assert _surveys(sessions) == 0
    assert ticket(sessions, survey_number).status == "closed"
    assert ticket(sessions, sign_number).status == "dispatched"
    assert {a: _attempt_row(sessions, a) for a in (survey, sign)} == before


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_signatures_off_still_refuses_without_a_token(hook_app: Any) -> None:
    hook, sessions, domain, city = hook_app("", verify_signatures=False)
    number = new_ticket(sessions, domain, city)
    attempt = _claim_calls(sessions, domain, carrier="twilio",
                           refs={Kind.SIGN_CALL: "CA" + "1" * 32})[Kind.SIGN_CALL]
    before = _attempt_row(sessions, attempt)
    _forbidden(hook.post("gather", {"attempt": attempt, "keys": ""},
                         {"CallSid": "CA" + "1" * 32, "Digits": "1"}, signed=False))
    assert ticket(sessions, number).status == "dispatched"
    assert _attempt_row(sessions, attempt) == before


def test_webhooks_only_act_on_their_own_live_twilio_call(hook_app: Any) -> None:
    """With a real token: a SIP attempt, someone else's CallSid, an ended attempt and a
    replayed final status are all refused and change nothing; the right call works."""
    hook, sessions, domain, city = hook_app(TOKEN, auth_token=TOKEN)
    sid = "CA" + "1" * 32
    number = new_ticket(sessions, domain, city)

    sip = _claim_calls(sessions, domain, carrier="sip", refs={Kind.SIGN_CALL: None}
                       )[Kind.SIGN_CALL]
    before = _attempt_row(sessions, sip)
    resp = hook.post("gather", {"attempt": sip, "keys": ""}, {"CallSid": sid, "Digits": "1"})
    assert resp.status_code == 404 and resp.json()["error"] == "not_found"
    resp = hook.post("gather", {"attempt": 10**6, "keys": ""}, {"CallSid": sid, "Digits": "1"})
    assert resp.status_code == 404 and resp.json()["error"] == "not_found"
    resp = hook.post("gather", {"attempt": 10**20, "keys": ""}, {"CallSid": sid, "Digits": "1"})
    assert resp.status_code == 422 and resp.json()["field"] == "query.attempt"
    assert _attempt_row(sessions, sip) == before
    assert ticket(sessions, number).status == "dispatched"
    with sessions() as s:  # the SIP call ends; the next reminder goes out over Twilio
        s.get_one(OutboundAttempt, sip).ended_at = domain.now()
        s.get_one(OutboundAttempt, sip).outcome = "no_answer"
        s.execute(update(OutboundTask).where(OutboundTask.kind == Kind.SIGN_CALL.value)
                  .values(status="pending", claimed_by=None, claimed_until=None))
        s.commit()
    resp = hook.post("gather", {"attempt": sip, "keys": ""}, {"CallSid": sid, "Digits": "1"})
    assert resp.status_code == 404

    attempt = _claim_calls(sessions, domain, carrier="twilio", refs={Kind.SIGN_CALL: sid}
                           )[Kind.SIGN_CALL]
    before = _attempt_row(sessions, attempt)
    for other in ({"CallSid": "CA" + "9" * 32}, {}):
        _forbidden(hook.post("gather", {"attempt": attempt, "keys": ""},
                             {**other, "Digits": "1"}))
        _forbidden(hook.post("status", {"attempt": attempt},
                             {**other, "CallStatus": "completed"}))
    assert _attempt_row(sessions, attempt) == before
    assert ticket(sessions, number).status == "dispatched"

    # The call itself: answered, key 1 signs, the final status ends the attempt once.
    assert hook.post("voice", {"attempt": attempt}, {"CallSid": sid}).status_code == 200
    assert hook.post("gather", {"attempt": attempt, "keys": ""},
                     {"CallSid": sid, "Digits": "1"}).status_code == 200
    assert ticket(sessions, number).status == "signed"
    status = {"CallSid": sid, "CallStatus": "completed"}
    assert hook.post("status", {"attempt": attempt}, status).status_code == 204
    ended = _attempt_row(sessions, attempt)
    assert ended[1] is not None and ended[2] == "answered" and ended[3] == "1"

    # Replays after the end: 409 and nothing changes.
    for path, query, form in [
        ("status", {"attempt": attempt}, {**status, "CallStatus": "busy"}),
        ("status", {"attempt": attempt}, status),
        ("voice", {"attempt": attempt}, {"CallSid": sid}),
        ("gather", {"attempt": attempt, "keys": ""}, {"CallSid": sid, "Digits": "2"}),
    ]:
        resp = hook.post(path, query, form)
        assert resp.status_code == 409 and resp.json()["error"] == "call_ended", path
    assert _attempt_row(sessions, attempt) == ended


def test_finished_survey_attempt_cannot_be_answered_again(hook_app: Any) -> None:
    hook, sessions, domain, city = hook_app(TOKEN, auth_token=TOKEN)
    sid = "CA" + "1" * 32
    number = new_ticket(sessions, domain, city, phone=CITIZEN)
    close_ticket(sessions, domain, city, number)
    attempt = _claim_calls(sessions, domain, carrier="twilio", refs={Kind.SURVEY_CALL: sid}
                           )[Kind.SURVEY_CALL]
    assert hook.post("status", {"attempt": attempt},
                     {"CallSid": sid, "CallStatus": "no-answer"}).status_code == 204
    resp = hook.post("gather", {"attempt": attempt, "keys": "1"}, {"CallSid": sid, "Digits": "1"})
    assert resp.status_code == 409
    assert _surveys(sessions) == 0 and ticket(sessions, number).status == "closed"


def test_survey_call_reads_the_answer_before_the_questions(hook_app: Any) -> None:
    """What the citizen hears on the survey call, in order: the handler's answer (outcome
    and the shortened reply), then question 1 in the <Gather>; question 2 has no report."""
    import xml.etree.ElementTree as ET

    from outbound.survey import Q_RESOLVED, Q_SATISFIED

    hook, sessions, domain, city = hook_app(TOKEN, auth_token=TOKEN)
    number = new_ticket(sessions, domain, city, phone=CITIZEN)
    close_ticket(sessions, domain, city, number)  # the handler replied "已修复", resolved
    sid = "CA" + "3" * 32
    attempt = _claim_calls(sessions, domain, carrier="twilio",
                           refs={Kind.SURVEY_CALL: sid})[Kind.SURVEY_CALL]
    first = ET.fromstring(hook.post("voice", {"attempt": attempt}, {"CallSid": sid}).text)
    said = [el.text or "" for el in first.iter("Say")]
    assert "承办单位答复已解决：已修复" in said[0]
    assert said[1:] == [Q_RESOLVED, Q_RESOLVED]  # asked twice when no key comes
    assert [child.tag for child in first][:2] == ["Say", "Gather"]  # report, then question
    second = ET.fromstring(hook.post("gather", {"attempt": attempt, "keys": ""},
                                     {"CallSid": sid, "Digits": "1"}).text)
    assert [el.text for el in second.iter("Say")] == [Q_SATISFIED, Q_SATISFIED]


def test_wrong_keys_over_twilio_end_the_call_like_over_sip(hook_app: Any) -> None:
    """A line keying garbage into the survey's <Gather> (a fax, an answering service's
    tones): each wrong key asks again, the MAX_WRONG_KEYS-th in a row hangs up with no
    answer recorded, as the SIP dialer does; before, every one asked again for as long as
    the keys came. Twilio posts to the action URL of the TwiML it was given."""
    import xml.etree.ElementTree as ET
    from urllib.parse import parse_qsl, urlsplit

    from outbound.dialers import MAX_WRONG_KEYS

    hook, sessions, domain, city = hook_app(TOKEN, auth_token=TOKEN)
    number = new_ticket(sessions, domain, city, phone=CITIZEN)
    close_ticket(sessions, domain, city, number)
    sid = "CA" + "4" * 32
    attempt = _claim_calls(sessions, domain, carrier="twilio",
                           refs={Kind.SURVEY_CALL: sid})[Kind.SURVEY_CALL]
    twiml = ET.fromstring(hook.post("voice", {"attempt": attempt}, {"CallSid": sid}).text)

    def key(digit: str, posts: int = 1) -> ET.Element:
        gather = twiml.find("Gather")
        assert gather is not None, ET.tostring(twiml)
        # No finish key: # comes to us as a key, as over SIP (Twilio's default kept it).
        assert all(g.get("finishOnKey") == "" for g in twiml.iter("Gather"))
        query = dict(parse_qsl(urlsplit(gather.get("action", "")).query))
        for _ in range(posts):  # Twilio posts a webhook again when our answer was late
            resp = hook.post("gather", query, {"CallSid": sid, "Digits": digit})
            assert resp.status_code == 200, resp.text
        return ET.fromstring(resp.text)

    assert "承办单位答复" in (twiml.find("Say").text or "")  # type: ignore[union-attr]
    twiml = key("9", posts=2)  # a wrong key, then a right one (resolved): the count starts again
    # The question again, not the handler's answer read out once more (as over SIP).
    assert not any("承办单位答复" in (el.text or "") for el in twiml.iter("Say"))
    twiml = key("1")
    for _ in range(MAX_WRONG_KEYS - 1):
        twiml = key("*", posts=2)
        assert twiml.find("Gather") is not None
    twiml = key("#")
    assert twiml.find("Gather") is None and twiml.find("Hangup") is not None
    assert _surveys(sessions) == 0 and ticket(sessions, number).status == "closed"
    assert _attempt_row(sessions, attempt)[3] == "1"
    with sessions() as s:  # pressed, answering nothing: on the attempt (Conversation.wrong)
        # Each key once, though every wrong one was posted twice (review34: "99****#").
        assert (s.get_one(OutboundAttempt, attempt).data or {}).get("keys_wrong") == "9**#"


def _end_call(hook: Hook, sessions: sessionmaker[Session], domain: Domain, attempt_id: int,
              sid: str) -> None:
    """The call's end as Twilio and then the worker record it (the trail's line)."""
    assert hook.post("status", {"attempt": attempt_id},
                     {"CallSid": sid, "CallStatus": "completed"}).status_code == 204
    with sessions() as s:
        a = s.get_one(OutboundAttempt, attempt_id)
        claim = Claim(task_id=a.task_id, attempt_id=a.id, kind=a.kind,
                      target=Target(channel="call", phone=a.to_phone))
        record_end(session=s, domain=domain, claim=claim, worker="test",
                   outcome=Outcome.ANSWERED, keys=a.keys or "", call_ref=sid, detail="")
        s.commit()


@pytest.mark.parametrize(("kind", "presses", "heard"), [
    (Kind.SIGN_CALL, "1", "已签收，请尽快办理"),
    (Kind.SURVEY_CALL, "21", "感谢您对"),
], ids=["sign", "survey"])
def test_a_key_twilio_posts_twice_counts_once_and_the_trail_says_it_counted(
        hook_app: Any, kind: Kind, presses: str, heard: str) -> None:
    """Twilio posts a <Gather> webhook again when our answer was late: the same key on the
    same call, acted on once. Before (review51), the sign reminder's second post found the
    ticket signed by the first and took it for a sign in the console: the handler heard
    "该工单已签收或已改派，无需操作" and the trail read "按键未生效" though that key signed
    the ticket. The survey's answer (2: unresolved, 驳回重办) the same way: counted once,
    and the trail does not say it was not counted."""
    import xml.etree.ElementTree as ET

    hook, sessions, domain, city = hook_app(TOKEN, auth_token=TOKEN)
    number = new_ticket(sessions, domain, city, phone=CITIZEN)
    if kind == Kind.SURVEY_CALL:
        close_ticket(sessions, domain, city, number)
    sid = "CA" + "5" * 32
    attempt = _claim_calls(sessions, domain, carrier="twilio", refs={kind: sid})[kind]
    assert hook.post("voice", {"attempt": attempt}, {"CallSid": sid}).status_code == 200
    said: list[list[str]] = []
    for at, digit in enumerate(presses):
        for _ in range(2):
            resp = hook.post("gather", {"attempt": attempt, "keys": presses[:at]},
                             {"CallSid": sid, "Digits": digit})
            assert resp.status_code == 200, resp.text
            said.append([el.text or "" for el in ET.fromstring(resp.text).iter("Say")])
    assert said[-1] == said[-2] and heard in said[-1][0]
    _end_call(hook, sessions, domain, attempt, sid)
    trail = events(sessions, number)
    (call,) = [e for e in trail if e.action == "outbound_call"]
    assert NOT_COUNTED not in call.data and "未生效" not in (call.note or "")
    assert "未计入" not in (call.note or "") and call.data["keys"] == presses
    if kind == Kind.SIGN_CALL:
        assert [e.data for e in trail if e.action == "sign"] == [{"via": "keypad"}]
        assert [t.result for t in tasks(sessions, number, kind)] == ["signed_by_keypad"]
    else:
        assert _surveys(sessions) == 1 and ticket(sessions, number).status != "closed"
