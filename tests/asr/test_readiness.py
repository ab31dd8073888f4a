"""Ready and warm are two answers. A node whose recognizers are still being warmed at
start-up answers calls and decodes them (ready: /healthz says "ok" as before, to anyone);
it only carries fewer at once until the warm-up ends. Whoever may read /metrics sees that
as /healthz's ``asr.warm`` and the ``hotline_asr_warm`` gauge."""

from __future__ import annotations

import ipaddress
import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from asr.engine import AsrEngine, WarmUp
from asr.readiness import warm_status
from config import Settings
from hotline.app import create_app
from hotline.roles import ServeRole
from tests.support import harness
from tests.support.run_once import seed_prompts

pytestmark = pytest.mark.asr

SECOND = 8000 * 2
WAIT = 600  # the warm-up runs under SCHED_IDLE: a bound against a hang on a busy machine
LOCAL = ("127.0.0.1", 50000)  # this host, not through a proxy: may read /metrics
REPO = Path(__file__).resolve().parents[2]


def voice_node(settings: Settings, tmp_path: Path, model_path: Path) -> Settings:
    """The shipped ASR and SIP settings on the test model, the IVR answering on free
    loopback ports (the shipped 5080 may be taken by a neighbouring test); no recorded
    prompts, so the greeting that warms the recognizers comes from espeak-ng."""
    shipped = Settings()
    rtp = harness.free_port_block(10)
    return settings.model_copy(update={
        "prompts_dir": tmp_path / "no-recordings",
        "sip": shipped.sip.model_copy(update={
            "bind_ip": harness.LOOPBACK, "port": harness.free_port(),
            "rtp_port_low": rtp, "rtp_port_high": rtp + 9}),
        "asr": shipped.asr.model_copy(update={"model_dir": model_path.parent,
                                              "model_name": model_path.name}),
    })


def test_a_warming_node_is_up_and_says_it_is_cold(sqlite_url: str, tmp_path: Path,
                                                   model_path: Path, shipped_prompts: Path) -> None:
    # One database: what is tested is the model, the warm-up and the answers, none of
    # which touches storage, and each run loads its own model and starts a warm-up of the
    # shipped count (~7 CPU-s); the PostgreSQL run repeated all of it for nothing more.
    settings = Settings(database_url=sqlite_url, data_dir=tmp_path,
                        recordings_dir=tmp_path / "rec")
    node = voice_node(settings, tmp_path, model_path)
    seed_prompts(shipped_prompts, tmp_path)  # the catalogue the start would render
    shipped = Settings().asr.warm_recognizers
    with TestClient(create_app(node, role=ServeRole.IVR)) as stranger:
        local = TestClient(stranger.app, client=LOCAL)
        # Right after start-up: the warm-up of the shipped count is under way.
        health = local.get("/healthz")
        assert health.status_code == 200 and health.json()["status"] == "ok"
        asr = health.json()["asr"]
        assert asr["ready"] is True  # the model is there: calls are answered and decoded
        warm = asr["warm"]
        assert warm["warm"] is False and warm["of"] == shipped
        assert 0 <= warm["warmed"] < shipped and "warming recognizers" in warm["detail"]
        metrics = local.get("/metrics").text
        assert "\nhotline_asr_warm 0.0\n" in metrics
        assert "\nhotline_asr_recognizers_warmed " in metrics
        # The answer to anyone else (a load balancer without the token) is unchanged.
        assert stranger.get("/healthz").json() == {"status": "ok"}
        # And the IVR answers meanwhile, on the shipped SIP settings.
        answer = None
        for _ in range(100):
            answer = harness.sip_options(node.sip.port)
            if answer is not None:
                break
        assert answer is not None and answer.startswith(b"SIP/2.0 200")
        assert not local.get("/healthz").json()["asr"]["warm"]["warm"]


# What the node reports of its parts, none of it from storage: on SQLite alone (the
# PostgreSQL run cloned a database and built an app on it for the same answer).
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_node_without_the_voice_part_reports_no_warm_up(settings: Settings) -> None:
    with TestClient(create_app(settings, role=ServeRole.API), client=LOCAL) as local:
        asr = local.get("/healthz").json()["asr"]
        assert "warm" not in asr and set(asr) == {"ready", "model", "detail"}


@pytest.mark.usefixtures("warm_up_at_worker_priority")
def test_warm_status_follows_the_warm_up(vosk_model: object,
                                         phone_speech: dict[str, bytes]) -> None:
    # At the worker's priority (tests/asr/conftest.py): the status is what is tested, not
    # whom the warm-up yields to, and under SCHED_IDLE it waited 116 s of a full run for an
    # idle core. One recognizer, not the shipped count: each costs ~2.3 CPU-s (a size, not
    # a rule).
    engine = AsrEngine(vosk_model, workers=1)  # type: ignore[arg-type]
    clip = phone_speech["안녕하세요"] + phone_speech["주차 문제가 있어요"]
    try:
        job = engine.warm_up(1, clip)
        during = warm_status(1, job)
        assert not during.warm and during.of == 1 and during.warmed < 1
        assert job.wait(WAIT) and job.error is None
        after = warm_status(1, job)
        assert after.warm and after.warmed == after.of == 1
        assert "1 recognizers warmed" in after.detail
    finally:
        engine.close()


def test_a_warm_up_stopped_or_failed_or_never_started_is_not_warm(
        vosk_model: object, phone_speech: dict[str, bytes]) -> None:
    engine = AsrEngine(vosk_model, workers=1, idle_recognizers=32)  # type: ignore[arg-type]
    job = engine.warm_up(30, phone_speech["안녕하세요"] * 4)
    engine.close()  # the service stopped mid warm-up
    assert job.wait(WAIT) and job.warmed < 30
    stopped = warm_status(30, job)
    assert not stopped.warm and "stopped" in stopped.detail
    failed = WarmUp(count=3, clip_seconds=8.0, warmed=1, error=MemoryError("out of memory"))
    failed.done.set()
    status = warm_status(3, failed)
    assert not status.warm and "out of memory" in status.detail and status.warmed == 1
    # Asked for, never started (no model at start-up, no greeting): not warm.
    assert not warm_status(20, None).warm
    # None asked for (asr.warm_recognizers = 0): nothing to wait for.
    assert warm_status(0, None).warm


# ------------------------------------------------- a node without the API (hotline.status)


@pytest.mark.external
def test_an_ivr_only_node_shows_its_warm_up_on_its_status_listener(
        sqlite_url: str, tmp_path: Path, model_path: Path, shipped_prompts: Path) -> None:
    """`hotline serve --role ivr` has no API: its /healthz and /metrics come from the status
    listener, on loopback as shipped. The real command in a process of its own; only the
    database, directories, model and ports are this test's (the shipped ports may be taken
    by a neighbouring test)."""
    status_port, sip_port, rtp = harness.free_port(), harness.free_port(), harness.free_port_block(10)
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
    env.update({"HOTLINE_DATABASE_URL": sqlite_url, "HOTLINE_DATA_DIR": str(tmp_path),
                "HOTLINE_RECORDINGS_DIR": str(tmp_path / "rec"),
                "HOTLINE_PROMPTS_DIR": str(tmp_path / "no-recordings"),
                "HOTLINE_ASR__MODEL_DIR": str(model_path.parent),
                "HOTLINE_ASR__MODEL_NAME": model_path.name,
                "HOTLINE_SIP__BIND_IP": harness.LOOPBACK, "HOTLINE_SIP__PORT": str(sip_port),
                "HOTLINE_SIP__RTP_PORT_LOW": str(rtp), "HOTLINE_SIP__RTP_PORT_HIGH": str(rtp + 9),
                "HOTLINE_STATUS_PORT": str(status_port)})
    seed_prompts(shipped_prompts, tmp_path)  # the catalogue the start would render
    log = tmp_path / "serve.log"
    proc = harness.spawn([sys.executable, "-m", "hotline", "serve", "--role", "ivr"],
                         cwd=REPO, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    base = f"http://{Settings().status_host}:{status_port}"
    try:
        health = harness.first_http_answer(f"{base}/healthz", proc, log)
        assert health.status_code == 200
        body = health.json()
        assert body["status"] == "ok" and body["role"] == "ivr" and body["parts"] == ["voice"]
        assert body["asr"]["ready"] is True
        warm = body["asr"]["warm"]
        assert warm["of"] == Settings().asr.warm_recognizers and 0 <= warm["warmed"] <= warm["of"]
        assert body["sip"] == {"enabled": True, "answering": True, "port": sip_port}
        metrics = httpx.get(f"{base}/metrics", timeout=5)
        assert metrics.status_code == 200
        # This process's own figures: the warm-up (0 or 1: it may end between the two
        # requests), its calls up.
        assert re.search(r"\nhotline_asr_warm [01]\.0\n", metrics.text)
        assert "\nhotline_asr_recognizers_warmed " in metrics.text
        assert '\nhotline_calls_active{direction="inbound"} 0.0\n' in metrics.text
        # Relayed by a proxy (so not known to be this host): the bare answer, no figures.
        relayed = {"X-Forwarded-For": "203.0.113.9"}
        assert httpx.get(f"{base}/healthz", headers=relayed).json() == {"status": "ok"}
        assert httpx.get(f"{base}/metrics", headers=relayed).status_code == 403
        assert httpx.get(f"{base}/nothing").status_code == 404
        # The SIP side answers too: the OPTIONS probe a SIP proxy uses for liveness.
        answer = next((a for _ in range(50) if (a := harness.sip_options(sip_port))), None)
        assert answer is not None and answer.startswith(b"SIP/2.0 200")
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=60)
    assert proc.returncode == 0, log.read_text()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # no storage: sessions=None
def test_a_taken_status_port_leaves_the_node_running_without_it(
        settings: Settings, caplog: pytest.LogCaptureFixture) -> None:
    from hotline.roles import Part
    from hotline.status import StatusServer
    from hotline.wiring import Background

    taken = socket.socket()
    taken.bind((Settings().status_host, 0))
    taken.listen()
    try:
        node = settings.model_copy(update={"status_port": taken.getsockname()[1]})
        background = Background(settings=node, sessions=None, domain=None, engine=None,  # type: ignore[arg-type]
                                parts=frozenset({Part.VOICE}))
        status = StatusServer(node, background, "ivr")
        assert status.start() is False and status.port is None
        assert "no status listener" in caplog.text
        status.stop()  # nothing to stop: harmless
    finally:
        taken.close()


@pytest.mark.parametrize(("changes", "message"), [
    ({"status_host": "localhost"}, "not an IP address"),
    ({"status_host": "0.0.0.0.1"}, "not an IP address"),
    ({"status_port": 70000}, "less than or equal to 65535"),
    ({"status_port": -1}, "greater than or equal to 0"),
    ({"status_port": 8000, "port": 8000}, "is the API's port"),
])
def test_bad_status_listener_settings_are_refused(changes: dict[str, object],
                                                  message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Settings(**changes)  # type: ignore[arg-type]


def test_the_status_listener_ships_on_loopback_and_can_be_turned_off() -> None:
    shipped = Settings()
    assert ipaddress.ip_address(shipped.status_host).is_loopback
    assert shipped.status_port not in (0, shipped.port)
    assert Settings(status_port=0).status_port == 0  # no listener
    assert Settings(status_host=" ::1 ").status_host == "::1"


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # no storage: sessions=None
def test_the_status_listener_answers_a_head(settings: Settings) -> None:
    """An uptime monitor's HEAD /healthz on a node without the API: the GET's status and
    headers, no body (it was 501, read as "down")."""
    import http.client

    from hotline.roles import Part
    from hotline.status import StatusServer
    from hotline.wiring import Background

    free = socket.socket()
    free.bind((Settings().status_host, 0))
    port = free.getsockname()[1]
    free.close()
    node = settings.model_copy(update={"status_port": port})
    background = Background(settings=node, sessions=None, domain=None, engine=None,  # type: ignore[arg-type]
                            parts=frozenset({Part.VOICE}))
    status = StatusServer(node, background, "ivr")
    assert status.start()
    try:
        for method in ("HEAD", "GET"):
            conn = http.client.HTTPConnection(node.status_host, port, timeout=5)
            conn.request(method, "/healthz")
            r = conn.getresponse()
            body = r.read()
            conn.close()
            assert r.status == 200 and r.getheader("Content-Type") == "application/json"
            assert (body == b"") if method == "HEAD" else (b'"status"' in body)
    finally:
        status.stop()
