"""/healthz and /metrics for a process without the HTTP API (`hotline serve --role ivr` or
`--role outbound`), on ``settings.status_host``:``status_port`` (loopback by default).

An IVR-only node has no uvicorn, so without this nobody could see its start-up warm-up
(``asr.warm``, ``hotline_asr_warm``), its calls up, its SIP drops or its decoding -- the
figures that live in this process's prometheus registry and nowhere else. The SIP OPTIONS
answer stays the node's liveness for the SIP proxy (Kamailio's dispatcher probes it and
takes a silent node out); this listener is for the operator and Prometheus. A stdlib
server on a thread of its own: two small GETs, no framework. Who may read the details and
/metrics is the API's rule (``hotline.observability.peer_allowed``); anyone else gets
``{"status": "ok"}``, as from the API. The database figures (tickets, the backlog's
length) are the API's to serve: the same from any node.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from asr.readiness import asr_health
from hotline import http_head
from hotline.observability import METRICS_FORBIDDEN, peer_allowed

if TYPE_CHECKING:
    from config import Settings
    from hotline.wiring import Background

log = logging.getLogger("hotline.status")


def health(settings: Settings, background: Background, role: str) -> dict[str, Any]:
    """What /healthz tells whoever may read the details."""
    out: dict[str, Any] = {"status": "ok", "role": role,
                           "parts": sorted(p.value for p in background.parts)}
    if (classifier := background.classifier_status()) is not None:
        out["classifier"] = classifier
    if background.voice:
        out["asr"] = asr_health(settings.asr.model_dir, settings.asr.model_name,
                                background.warm_status())
        ivr = background.ivr
        # Not answering: SIP disabled, or the front end failed to start and the voice job
        # retries it every 30 s (the start-up log says why).
        out["sip"] = {"enabled": settings.sip.enabled, "answering": ivr is not None,
                      "port": ivr.frontend.local_port if ivr is not None else None}
    return out


class StatusServer:
    def __init__(self, settings: Settings, background: Background, role: str) -> None:
        self.settings = settings
        self.background = background
        self.role = role
        self._server: ThreadingHTTPServer | None = None

    @property
    def port(self) -> int | None:
        return self._server.server_address[1] if self._server is not None else None

    def start(self) -> bool:
        """Listen; False (logged) when the port cannot be bound: the node's calls matter
        more than its status page, so it runs on without one."""
        handler = _handler(self)
        try:
            server = ThreadingHTTPServer((self.settings.status_host, self.settings.status_port),
                                         handler)
        except OSError as exc:
            log.error("no status listener on %s:%d (%s): /healthz and /metrics of this %s "
                      "node are not served (a second node without the API on this host "
                      "needs its own: --port or HOTLINE_STATUS_PORT)",
                      self.settings.status_host, self.settings.status_port, exc, self.role)
            return False
        server.daemon_threads = True
        self._server = server
        threading.Thread(target=server.serve_forever, name="status", daemon=True).start()
        log.info("status listener on http://%s:%d (/healthz, /metrics)",
                 self.settings.status_host, self.port)
        return True

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


def _handler(status: StatusServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        # The API's rule for a head (hotline.http_head): whole within HEAD_SECONDS, else
        # the connection is closed. Before (review111) a silent connection, or a head sent
        # a line at a time, held its thread and a descriptor the node's RTP sockets need,
        # for good; a socket timeout alone is per read, so a line every 19 s went on.
        def setup(self) -> None:
            super().setup()
            self._head_lock = threading.Lock()
            self._head_done = self._head_late = False
            self._head_timer = threading.Timer(http_head.HEAD_SECONDS, self._head_too_slow)
            self._head_timer.daemon = True
            self._head_timer.start()

        def _head_too_slow(self) -> None:
            with self._head_lock:
                if self._head_done:
                    return
                self._head_late = True
            with contextlib.suppress(OSError):  # the client has gone already
                self.connection.shutdown(socket.SHUT_RDWR)  # the blocked read ends

        def parse_request(self) -> bool:
            whole = super().parse_request()
            self._head_timer.cancel()
            with self._head_lock:
                self._head_done = True
                if self._head_late:
                    self.close_connection = True
                    return False  # cut short: what was read is not a request
            return whole

        def finish(self) -> None:
            self._head_timer.cancel()
            super().finish()

        def do_GET(self) -> None:
            allowed = peer_allowed(self.client_address[0], self.headers,  # type: ignore[arg-type]
                                   status.settings.metrics_token)
            path = self.path.split("?", 1)[0]
            if path == "/healthz":
                body = (health(status.settings, status.background, status.role) if allowed
                        else {"status": "ok"})
                self._send(200, json.dumps(body, ensure_ascii=False).encode(),
                           "application/json")
            elif path == "/metrics":
                if allowed:
                    self._send(200, generate_latest(REGISTRY), CONTENT_TYPE_LATEST)
                else:
                    self._send(403, METRICS_FORBIDDEN.encode(), "text/plain")
            else:
                self._send(404, b"not found\n", "text/plain")

        def do_HEAD(self) -> None:
            # Uptime monitors ask by HEAD (501 read as "down"): the GET's headers, no body.
            self.do_GET()

        def _send(self, code: int, body: bytes, kind: str) -> None:
            self.send_response(code)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # a scrape every 15 s is no news in the log

    return Handler
