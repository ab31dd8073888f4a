"""The Twilio dialer and SMS against a local stand-in for Twilio's API (real HTTP on
127.0.0.1), with our API serving the TwiML and the signed status callbacks; and the plain
HTTP webhook SMS provider against a local receiver."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy.orm import Session, sessionmaker

from config import Settings
from config.settings import TwilioSettings
from hotline.app import create_app
from outbound.dialers import TwilioDialer
from outbound.models import Kind
from outbound.sms import TwilioSms, WebhookSms
from outbound.worker import OutboundWorker
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
    while not server.started:
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
    standin.phones[WATER_HANDLER_PHONE] = "1"
    number = new_ticket(sessions, domain, city)
    drive(twilio_worker(settings, sessions, domain),
          lambda: ticket(sessions, number).status == "signed")
    assert [m["To"] for m in standin.messages] == [WATER_HANDLER_PHONE]
    assert number in standin.messages[0]["Body"]
    (call,) = standin.calls
    assert call["To"] == WATER_HANDLER_PHONE and call["From"] == "+861012345"
    assert set(standin.webhook_statuses) <= {200, 204}
    (attempt,) = attempts(sessions, number, Kind.SIGN_CALL)
    assert (attempt.outcome, attempt.keys, attempt.call_ref) == ("answered", "1", call["Sid"])
    sign = [e for e in events(sessions, number) if e.action == "sign"]
    assert sign[0].data == {"via": "keypad"} and sign[0].actor_id == city.user_id("water-handler")


def test_busy_over_twilio_is_retried(api, standin: TwilioStandIn) -> None:
    settings, sessions, domain, city = api
    standin.phones[WATER_HANDLER_PHONE] = "busy"
    number = new_ticket(sessions, domain, city)
    drive(twilio_worker(settings, sessions, domain),
          lambda: len(attempts(sessions, number, Kind.SIGN_CALL)) >= 2
          and all(a.outcome for a in attempts(sessions, number, Kind.SIGN_CALL)))
    assert [a.outcome for a in attempts(sessions, number, Kind.SIGN_CALL)][:2] == ["busy"] * 2


def test_dissatisfied_citizen_lands_in_review_queue(api, standin: TwilioStandIn) -> None:
    settings, sessions, domain, city = api
    standin.phones[CITIZEN] = "12"
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
