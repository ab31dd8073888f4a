"""A loopback carrier for crash tests and the bench: an HTTP "ledger" that answers every
call at once with the keys it is told to press and writes down every call and SMS it got,
so a test can count what was really placed even after the worker was killed with SIGKILL.
It is a stand-in, not a carrier: no audio, no SIP."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

from outbound.conversation import Conversation
from outbound.dialers import CallResult
from outbound.models import Outcome
from outbound.sms import SmsResult


@dataclass
class LedgerEntry:
    kind: str  # call | sms
    to: str
    ref: str  # the attempt id (calls) or the SMS ref
    at: float  # time.time() when it reached the carrier
    text: str = ""  # an SMS's text
    port: int = 0  # the client's port: one a connection


@dataclass
class Ledger:
    keys: str = "1"
    ring_seconds: float = 0.0  # how long the "phone" rings before it answers
    entries: list[LedgerEntry] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def calls(self) -> list[LedgerEntry]:
        with self.lock:
            return [e for e in self.entries if e.kind == "call"]

    def sms(self) -> list[LedgerEntry]:
        with self.lock:
            return [e for e in self.entries if e.kind == "sms"]


class _LedgerHttpd(ThreadingHTTPServer):
    """The ledger's listening side, sized for the workers that use it. With socketserver's
    backlog of 5 and a connection per request (HTTP/1.0), a burst of requests from two
    workers (16 in flight at once, a dispatch storm's SMS) overflowed the accept queue and
    the kernel reset some connections before the ledger read them: 8 in 9,600 requests
    (two forked clients of 8 threads, load ~20, sms42), each an SMS that failed with
    "ReadError: [Errno 104] Connection reset by peer" and was retried, so 41 attempts for
    40 SMS once in a clean-clone CI run, delivered once each."""

    request_queue_size = 128
    daemon_threads = True


class LedgerServer:
    def __init__(self, ledger: Ledger | None = None) -> None:
        self.ledger = ledger or Ledger()
        ledger_ = self.ledger

        class Handler(BaseHTTPRequestHandler):
            # Kept alive: a worker's client reuses its connections instead of opening one
            # a request (fewer connects to queue; the server never closes an idle one, so
            # no reuse races a close).
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                entry = LedgerEntry(self.path.strip("/"), body["to"], str(body["ref"]),
                                    time.time(), body.get("text", ""), self.client_address[1])
                with ledger_.lock:
                    ledger_.entries.append(entry)
                if entry.kind == "call" and ledger_.ring_seconds:
                    time.sleep(ledger_.ring_seconds)
                data = json.dumps({"keys": ledger_.keys if entry.kind == "call" else ""})
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data.encode())))
                self.end_headers()
                self.wfile.write(data.encode())

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = _LedgerHttpd(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> LedgerServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class LedgerDialer:
    """Dials by POSTing to the ledger; the "callee" answers at once and presses its keys."""

    name = "ledger"

    def __init__(self, url: str) -> None:
        self.url = url
        self.client = httpx.Client(timeout=30)

    def call(self, *, to: str, conversation: Conversation) -> CallResult:
        ref = str(conversation.attempt_id)
        try:
            keys = self.client.post(f"{self.url}/call", json={"to": to, "ref": ref}).json()["keys"]
        except httpx.HTTPError as exc:
            return CallResult(Outcome.FAILED, detail=str(exc))
        conversation.answered(f"ledger-{ref}")
        pressed = ""
        step = conversation.step(pressed)
        for key in keys:
            if step.final or key not in step.keys:
                break
            pressed += key
            conversation.pressed(pressed)
            step = conversation.step(pressed)
        return CallResult(Outcome.ANSWERED, keys=pressed, call_ref=f"ledger-{ref}")


class LedgerSms:
    name = "ledger"

    def __init__(self, url: str) -> None:
        self.url = url
        self.client = httpx.Client(timeout=30)

    def send(self, *, to: str, text: str, ref: str) -> SmsResult:
        try:
            self.client.post(f"{self.url}/sms", json={"to": to, "ref": ref, "text": text})
        except httpx.HTTPError as exc:
            return SmsResult(ok=False, detail=f"{type(exc).__name__}: {exc}")
        return SmsResult(ok=True, ref=ref)
