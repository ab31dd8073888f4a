"""`hotline serve` itself (real uvicorn, two processes): forwarded headers only from trusted
proxies, /metrics for loopback only, one console secret shared by two nodes."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.city import City, seed_city
from tests.support.harness import free_port, spawn
from ticketing.context import Domain

pytestmark = pytest.mark.external

CSRF = re.compile(r'name="csrf" value="([^"]+)"')
TLS = {"X-Forwarded-Proto": "https"}


def _start(tmp: Path, name: str, db_url: str, **extra: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
    env.update({
        "HOTLINE_DATABASE_URL": db_url, "HOTLINE_PORT": str(port), "HOTLINE_NODE_NAME": name,
        "HOTLINE_DATA_DIR": str(tmp / name), "HOTLINE_RECORDINGS_DIR": str(tmp / "rec"),
        "HOTLINE_ASR__MODEL_DIR": str(tmp / "no-models"),
        # Only the HTTP side is under test here.
        "HOTLINE_SIP__ENABLED": "false", "HOTLINE_OUTBOUND__ENABLED": "false",
        **extra,
    })
    log = (tmp / f"{name}.log").open("wb")
    proc = spawn([str(Path(sys.executable).with_name("hotline")), "serve"],
                 env=env, stdout=log, stderr=subprocess.STDOUT)
    return proc, f"http://127.0.0.1:{port}"


def _wait_up(tmp: Path, name: str, proc: subprocess.Popen, base: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, (tmp / f"{name}.log").read_text()
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise AssertionError(f"{name} did not come up: {(tmp / f'{name}.log').read_text()}")


@pytest.fixture
def nodes(sqlite_url: str, sqlite_sessions, tmp_path: Path) -> Iterator[tuple[City, str, str]]:
    from config import Settings

    city = seed_city(sqlite_sessions, Domain.load(Settings(database_url=sqlite_url)))
    secret = str(tmp_path / "shared" / "console_secret")
    procs = []
    try:
        # Both start at once: one after the other, their starts (imports, app, warm-up)
        # were nearly all of this test's wall (setup 53 s in a full run). They share the
        # database and the secret's file, which the first console page makes (below), once
        # both are up.
        a, base_a = _start(tmp_path, "ivr-a", sqlite_url, HOTLINE_CONSOLE_SECRET_FILE=secret)
        procs.append(a)
        b, base_b = _start(tmp_path, "ivr-b", sqlite_url, HOTLINE_CONSOLE_SECRET_FILE=secret,
                           HOTLINE_TRUSTED_PROXIES='["127.0.0.1"]')
        procs.append(b)
        _wait_up(tmp_path, "ivr-a", a, base_a)
        _wait_up(tmp_path, "ivr-b", b, base_b)
        yield city, base_a, base_b
    finally:
        for p in procs:
            os.killpg(p.pid, signal.SIGTERM)
            p.wait(timeout=20)


@pytest.fixture
def sqlite_sessions(sqlite_url: str):
    from ticketing.db import make_engine, make_session_factory

    engine = make_engine(sqlite_url)
    yield make_session_factory(engine)
    engine.dispose()


def test_serve_trusts_forwarded_headers_metrics_and_secret_as_configured(
    nodes: tuple[City, str, str]
) -> None:
    city, a, b = nodes
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
