"""A local stand-in for Twilio's REST API (Calls, Messages) that then behaves like the
called phone: it fetches our TwiML, "presses" keys into each <Gather>, and posts the final
status callback — every webhook request signed the way Twilio signs them."""

from __future__ import annotations

import contextlib
import json
import threading
import time
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import httpx
from twilio.request_validator import RequestValidator


@dataclass
class TwilioStandIn:
    auth_token: str
    # phone → "busy" | "no-answer" | "failed" | the keys to press after answering
    phones: dict[str, str] = field(default_factory=dict)
    calls: list[dict[str, str]] = field(default_factory=list)
    messages: list[dict[str, str]] = field(default_factory=list)
    webhook_statuses: list[int] = field(default_factory=list)
    done: list[str] = field(default_factory=list)
    # Seconds to hold the answer to a create after carrying it out: longer than the
    # client's api_timeout_seconds, a create done whose answer is lost (review56).
    create_delay: float = 0.0
    lookups: list[str] = field(default_factory=list)
    # False: the list APIs show nothing (Twilio's lists lag its creates), so a create whose
    # answer was lost is not found by the lookup either (loose28).
    listed: bool = True
    # A create answered with this HTTP status: 429 carries out nothing (Twilio's error
    # 20429: "never processed"), a 5xx after carrying it out (its 20500: a create answered
    # 500 may have been sent).
    create_error: int | None = None
    # False: a 5xx answered before carrying anything out (Twilio's 503 under load, its
    # 20503: "temporarily unavailable", to be tried again).
    create_error_creates: bool = True
    # How many creates answer create_error (None: every one); those after go through.
    failing_creates: int | None = None
    # The first this many lookups list nothing (Twilio's lists lag its creates by seconds).
    list_lag: int = 0
    # Lookups answered with this HTTP status: the lookup itself fails.
    list_error: int | None = None

    def __post_init__(self) -> None:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                form = {k: v[0] for k, v in parse_qs(
                    self.rfile.read(int(self.headers["Content-Length"])).decode()).items()}
                created = formatdate(usegmt=True)
                failing = standin._failing()
                if failing and standin.create_error == 429:
                    self._json(429, {"code": 20429, "message": "Too Many Requests",
                                     "status": 429})
                    return
                if failing and not standin.create_error_creates:
                    self._json(int(standin.create_error or 503), {
                        "code": 20503, "message": "Service unavailable",
                        "status": standin.create_error})
                    return
                if self.path.endswith("/Calls.json"):
                    sid = "CA" + uuid.uuid4().hex
                    standin.calls.append({**form, "Sid": sid, "DateCreated": created})
                    threading.Thread(target=standin._play, args=(sid, form), daemon=True).start()
                    self._created({"sid": sid, "status": "queued", "to": form["To"]}, failing)
                elif self.path.endswith("/Messages.json"):
                    sid = "SM" + uuid.uuid4().hex
                    standin.messages.append({**form, "Sid": sid, "DateCreated": created})
                    self._created({"sid": sid, "status": "queued", "to": form["To"]}, failing)
                else:
                    self._json(404, {"message": "not found"})

            def do_GET(self) -> None:
                # The list APIs, filtered by To and From as Twilio's are, newest first.
                path, _, query = self.path.partition("?")
                wanted = {k: v[0] for k, v in parse_qs(query).items() if k in ("To", "From")}
                for suffix, key, rows in (("/Calls.json", "calls", standin.calls),
                                          ("/Messages.json", "messages", standin.messages)):
                    if path.endswith(suffix):
                        standin.lookups.append(key)
                        if standin.list_error is not None:
                            self._json(standin.list_error, {"code": 20500, "status":
                                                            standin.list_error})
                            return
                        lagging = len(standin.lookups) <= standin.list_lag
                        found = [{"sid": r["Sid"], "to": r["To"], "from": r["From"],
                                  "body": r.get("Body"), "date_created": r["DateCreated"]}
                                 for r in reversed(rows) if standin.listed and not lagging
                                 and all(r.get(k) == v for k, v in wanted.items())]
                        self._json(200, {key: found, "next_page_uri": None, "page": 0,
                                         "page_size": 50, "start": 0, "end": len(found)})
                        return
                self._json(404, {"message": "not found"})

            def _created(self, body: dict[str, Any], failing: bool) -> None:
                time.sleep(standin.create_delay)
                if failing:
                    self._json(standin.create_error, {
                        "code": 20500, "message": "Internal Server Error",
                        "status": standin.create_error})
                    return
                with contextlib.suppress(OSError):  # the client gave up: the answer is lost
                    self._json(201, body)

            def _json(self, code: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def _failing(self) -> bool:
        """Whether this create answers create_error (counted down by failing_creates)."""
        if self.create_error is None:
            return False
        if self.failing_creates is None:
            return True
        if self.failing_creates <= 0:
            return False
        self.failing_creates -= 1
        return True

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def signed_post(self, url: str, params: dict[str, str]) -> httpx.Response:
        signature = RequestValidator(self.auth_token).compute_signature(url, params)
        r = httpx.post(url, data=params, headers={"X-Twilio-Signature": signature}, timeout=30)
        self.webhook_statuses.append(r.status_code)
        return r

    def _play(self, sid: str, form: dict[str, str]) -> None:
        behaviour = self.phones.get(form["To"], "no-answer")
        base = {"CallSid": sid, "AccountSid": "ACtest", "To": form["To"], "From": form["From"],
                "Direction": "outbound-api"}  # as Twilio's call webhooks say
        if behaviour in ("busy", "no-answer", "failed"):
            self.signed_post(form["StatusCallback"], {**base, "CallStatus": behaviour})
            self.done.append(sid)
            return
        keys = list(behaviour)
        twiml = self.signed_post(form["Url"], {**base, "CallStatus": "in-progress"}).text
        while True:
            gather = ET.fromstring(twiml).find("Gather")
            if gather is None or not keys:
                break
            twiml = self.signed_post(gather.attrib["action"], {
                **base, "CallStatus": "in-progress", "Digits": keys.pop(0)}).text
        self.signed_post(form["StatusCallback"], {**base, "CallStatus": "completed",
                                                  "CallDuration": "9"})
        self.done.append(sid)
