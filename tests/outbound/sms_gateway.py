"""A loopback stand-in for the SMS gateway behind ``outbound.sms.WebhookSms``: real HTTP on
127.0.0.1, takes the JSON {"id", "to", "text"} the provider posts and keeps it; can be told
to fail the next N messages (HTTP 503) to exercise the retries."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class SmsGateway:
    def __init__(self) -> None:
        self.received: list[dict[str, str]] = []
        self.refused: list[dict[str, str]] = []
        self.fail_next = 0
        self.lock = threading.Lock()
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with gateway.lock:
                    fail = gateway.fail_next > 0
                    if fail:
                        gateway.fail_next -= 1
                        gateway.refused.append(body)
                    else:
                        gateway.received.append(body)
                self.send_response(503 if fail else 200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/sms"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def to(self, phone: str) -> list[dict[str, str]]:
        with self.lock:
            return [m for m in self.received if m["to"] == phone]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
