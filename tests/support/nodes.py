"""`hotline serve` nodes as real processes, for the scale-out test and bench/scale.py: each
with its own data dir (spool), HTTP and SIP ports, all sharing one database and one
recordings directory, as in docker-compose.yml. Plus the SMS gateway's webhook stand-in."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

from tests.support import harness

REPO = Path(__file__).resolve().parents[2]


def node_env(*, database_url: str, recordings: Path, prompts: Path, sms_url: str,
             prompt_speed: int, model_dir: Path | None = None,
             model_name: str | None = None) -> dict[str, str]:
    """The environment every node shares (the per-node part is added by Node.start)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
    env.update({
        "HOTLINE_DATABASE_URL": database_url,
        "HOTLINE_RECORDINGS_DIR": str(recordings),  # shared, as in compose
        "HOTLINE_ASR__MODEL_DIR": str(model_dir or recordings.parent / "no-models"),
        "HOTLINE_PROMPTS_DIR": str(prompts),
        "HOTLINE_SIP__MODE": "direct", "HOTLINE_SIP__BIND_IP": "127.0.0.1",
        # Kamailio, on 127.0.0.1, is the one source of every call: never flood-limited.
        "HOTLINE_SIP__TRUSTED_SOURCES": '["127.0.0.1"]',
        "HOTLINE_SIP__PROMPT_SPEED": str(prompt_speed),
        "HOTLINE_SIP__END_SILENCE_SECONDS": "1.5", "HOTLINE_SIP__NO_SPEECH_SECONDS": "3",
        "HOTLINE_SIP__CONFIRM_TIMEOUT_SECONDS": "4", "HOTLINE_SIP__RTP_TIMEOUT": "8",
        "HOTLINE_OUTBOUND__SMS_PROVIDER": "webhook",
        "HOTLINE_OUTBOUND__SMS_WEBHOOK_URL": sms_url,
        "HOTLINE_OUTBOUND__PLAN_SECONDS": "0.5", "HOTLINE_OUTBOUND__POLL_SECONDS": "0.5",
        "PYTHONUNBUFFERED": "1",
    })
    if model_name:
        env["HOTLINE_ASR__MODEL_NAME"] = model_name
    return env


class SmsGateway:
    """The SMS provider's webhook (outbound.sms_provider = webhook), on loopback. Keeps
    what it accepted; ``fail_next`` makes it answer 503 to that many messages (kept in
    ``refused``) to exercise the retries; ``slow_next`` makes it take that many (kept in
    ``received``) and answer only after ``slow_seconds``, past a client's timeout."""

    def __init__(self) -> None:
        self.received: list[dict[str, str]] = []
        self.refused: list[dict[str, str]] = []
        self.fail_next = 0
        self.slow_next = 0
        self.slow_seconds = 1.0
        self.lock = threading.Lock()
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
                with gateway.lock:
                    fail = gateway.fail_next > 0
                    if fail:
                        gateway.fail_next -= 1
                    slow = not fail and gateway.slow_next > 0
                    if slow:
                        gateway.slow_next -= 1
                    (gateway.refused if fail else gateway.received).append(body)
                if slow:
                    time.sleep(gateway.slow_seconds)
                try:
                    self.send_response(503 if fail else 200)
                    self.end_headers()
                    self.wfile.write(b"{}")
                except OSError:  # the client gave up waiting (slow_next)
                    pass

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/sms"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def to(self, phone: str) -> list[dict[str, str]]:
        with self.lock:
            return [m for m in self.received if m["to"] == phone]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class Node:
    """One `hotline serve` process with its own data dir, HTTP and SIP ports."""

    name: str
    env: dict[str, str]
    workdir: Path
    sip_port: int = field(default_factory=harness.free_port)
    max_calls: int = 20
    http_port: int = field(default_factory=harness.free_port)
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0

    def start(self) -> Node:
        return self.launch().ready()

    def launch(self) -> Node:
        """The process started, not yet waited for (``ready``): nodes launched together
        pay their interpreters' start-up (~2.5 CPU-s of imports each) side by side."""
        rtp = harness.free_port_block(3 * self.max_calls)
        out_rtp = harness.free_port_block(20)
        env = {**self.env,
               "HOTLINE_NODE_NAME": self.name, "HOTLINE_PORT": str(self.http_port),
               "HOTLINE_DATA_DIR": str(self.workdir / "data"),
               "HOTLINE_SIP__PORT": str(self.sip_port),
               "HOTLINE_SIP__MAX_CALLS": str(self.max_calls),
               "HOTLINE_SIP__RTP_PORT_LOW": str(rtp),
               "HOTLINE_SIP__RTP_PORT_HIGH": str(rtp + 3 * self.max_calls - 1),
               "HOTLINE_OUTBOUND__SIP_PORT": str(harness.free_port()),
               "HOTLINE_OUTBOUND__SIP_RTP_PORT_LOW": str(out_rtp),
               "HOTLINE_OUTBOUND__SIP_RTP_PORT_HIGH": str(out_rtp + 19)}
        self.starts += 1
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.log = (self.workdir / f"serve-{self.starts}.log").open("wb")
        self.proc = harness.spawn(
            [str(Path(sys.executable).with_name("hotline")), "serve"], env=env, cwd=REPO,
            stdout=self.log, stderr=subprocess.STDOUT)
        return self

    def ready(self) -> Node:
        """Once it answers SIP and HTTP; RuntimeError if it exits or takes over 60 s."""
        assert self.proc is not None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited: {self.log_text()[-3000:]}")
            if "IVR answering on" in self.log_text() and self._healthy():
                return self
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} did not come up: {self.log_text()[-3000:]}")

    def _healthy(self) -> bool:
        try:
            return httpx.get(f"{self.base}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def log_text(self) -> str:
        return "".join(p.read_text(errors="replace")
                       for p in sorted(self.workdir.glob("serve-*.log")))

    def kill(self) -> None:
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)
        self.log.close()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
            self.log.close()
