"""`hotline serve` itself (real uvicorn, two nodes on one database): forwarded headers only
from trusted proxies, /metrics for loopback only, one console secret shared by two nodes;
and the API role's default worker processes on SQLite (one per core, two at most) filing
tickets side by side with distinct numbers while no SIP port is bound.

Suite53: the second node was a one-process `hotline serve` of its own test, and
test_serve_roles' `test_api_role_workers[default-sqlite]` started its own `serve --role api`
(three processes) for the workers' facts: one start fewer (~4-5 CPU-s) now that node b is
that API node, trusting its proxy. Node a stays the one-process `serve`, with the default
trust (none); both paths bind uvicorn with the same ``hotline.cli.http_bind``. The
PostgreSQL default stays test_serve_roles' (its pool across processes)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.ops.test_serve_roles import assert_api_workers_file_side_by_side
from tests.support.city import City
from tests.support.harness import first_http_answer, free_port, spawn

pytestmark = pytest.mark.external

CSRF = re.compile(r'name="csrf" value="([^"]+)"')
TLS = {"X-Forwarded-Proto": "https"}


class Node:
    def __init__(self, tmp: Path, name: str, db_url: str, role: list[str],
                 **extra: str) -> None:
        self.port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
        env.update({
            "HOTLINE_DATABASE_URL": db_url, "HOTLINE_PORT": str(self.port),
            "HOTLINE_NODE_NAME": name, "HOTLINE_DATA_DIR": str(tmp / name),
            "HOTLINE_RECORDINGS_DIR": str(tmp / "rec"),
            "HOTLINE_ASR__MODEL_DIR": str(tmp / "no-models"), **extra})
        self.log = tmp / f"{name}.log"
        self.proc = spawn([str(Path(sys.executable).with_name("hotline")), "serve", *role],
                          env=env, stdout=self.log.open("wb"), stderr=subprocess.STDOUT)
        self.base = f"http://127.0.0.1:{self.port}"

    def up(self) -> None:
        assert first_http_answer(f"{self.base}/healthz", self.proc, self.log).status_code == 200


@pytest.fixture
def nodes(db_url: str, city: City, tmp_path: Path) -> Iterator[tuple[Node, Node, int, int]]:
    secret = str(tmp_path / "shared" / "console_secret")
    sip_port, outbound_port = free_port(), free_port()
    started: list[Node] = []
    try:
        # Both start at once: one after the other, their starts (imports, app, warm-up)
        # were nearly all of this test's wall. They share the database and the secret's
        # file, which the first console page makes (below), once both are up.
        started.append(Node(tmp_path, "ivr-a", db_url, [],
                            HOTLINE_CONSOLE_SECRET_FILE=secret,
                            # Only the HTTP side is under test on node a.
                            HOTLINE_SIP__ENABLED="false", HOTLINE_OUTBOUND__ENABLED="false"))
        # Node b: the API role with its default workers, on the shipped SIP settings but
        # ports of its own, which it must leave unbound.
        started.append(Node(tmp_path, "api-b", db_url, ["--role", "api"],
                            HOTLINE_CONSOLE_SECRET_FILE=secret,
                            HOTLINE_TRUSTED_PROXIES='["127.0.0.1"]',
                            HOTLINE_SIP__PORT=str(sip_port),
                            HOTLINE_OUTBOUND__SIP_PORT=str(outbound_port)))
        for node in started:
            node.up()
        yield started[0], started[1], sip_port, outbound_port
    finally:
        for node in started:
            os.killpg(node.proc.pid, signal.SIGTERM)
            node.proc.wait(timeout=30)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_serve_trusts_forwarded_headers_metrics_and_secret_as_configured(
    nodes: tuple[Node, Node, int, int], city: City
) -> None:
    node_a, node_b, sip_port, outbound_port = nodes
    a, b = node_a.base, node_b.base
    # uvicorn alone would believe X-Forwarded-Proto from any client on 127.0.0.1.
    cookie = httpx.get(f"{a}/console/login", headers=TLS).headers["set-cookie"]
    assert "secure" not in cookie.lower()
    cookie = httpx.get(f"{b}/console/login", headers=TLS).headers["set-cookie"]
    assert "secure" in cookie.lower()  # b trusts its proxy on 127.0.0.1

    assert httpx.get(f"{a}/metrics").status_code == 200  # loopback
    relayed = httpx.get(f"{a}/metrics", headers={"X-Forwarded-For": "203.0.113.9"})
    assert relayed.status_code == 403
    assert httpx.get(f"{b}/metrics", headers={"X-Forwarded-For": "203.0.113.9"}
                     ).status_code == 403

    # A console session made on node a is good on node b: one secret, from the shared file.
    with httpx.Client(base_url=a) as browser:
        form = browser.get("/console/login")
        r = browser.post("/console/login", data={
            "username": "operator", "token": city.tokens["operator"],
            "csrf": CSRF.search(form.text).group(1)})  # type: ignore[union-attr]
        assert r.status_code == 303
        session = browser.cookies.get("hotline_console")
    r = httpx.get(f"{b}/console/intake", cookies={"hotline_console": session})
    assert r.status_code == 200 and "受理" in r.text

    # Node b's workers: the default on SQLite (one per core, two at most), filing side by
    # side with distinct numbers; the API role leaves SIP to the ivr and outbound roles.
    assert_api_workers_file_side_by_side(node_b.proc.pid, b, city, min(2, os.cpu_count() or 1),
                                         sip_port, outbound_port)
