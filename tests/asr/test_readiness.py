"""Ready and warm are two answers. A node whose recognizers are still being warmed at
start-up answers calls and decodes them (ready: /healthz says "ok" as before, to anyone);
it only carries fewer at once until the warm-up ends. Whoever may read /metrics sees that
as /healthz's ``asr.warm`` and the ``hotline_asr_warm`` gauge."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from asr.engine import AsrEngine, WarmUp
from asr.readiness import warm_status
from config import Settings
from hotline.app import create_app
from hotline.roles import ServeRole
from tests.support import harness

pytestmark = pytest.mark.asr

SECOND = 8000 * 2
WAIT = 600  # the warm-up runs under SCHED_IDLE: a bound against a hang on a busy machine
LOCAL = ("127.0.0.1", 50000)  # this host, not through a proxy: may read /metrics


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


def test_a_warming_node_is_up_and_says_it_is_cold(settings: Settings, tmp_path: Path,
                                                   model_path: Path) -> None:
    node = voice_node(settings, tmp_path, model_path)
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


def test_a_node_without_the_voice_part_reports_no_warm_up(settings: Settings) -> None:
    with TestClient(create_app(settings, role=ServeRole.API), client=LOCAL) as local:
        asr = local.get("/healthz").json()["asr"]
        assert "warm" not in asr and set(asr) == {"ready", "model", "detail"}


def test_warm_status_follows_the_warm_up(vosk_model: object,
                                         phone_speech: dict[str, bytes]) -> None:
    engine = AsrEngine(vosk_model, workers=1)  # type: ignore[arg-type]
    clip = phone_speech["안녕하세요"] + phone_speech["주차 문제가 있어요"]
    try:
        # Two, not the shipped count: each costs seconds of CPU (a size, not a rule).
        job = engine.warm_up(2, clip)
        during = warm_status(2, job)
        assert not during.warm and during.of == 2 and during.warmed < 2
        assert job.wait(WAIT) and job.error is None
        after = warm_status(2, job)
        assert after.warm and after.warmed == after.of == 2
        assert "2 recognizers warmed" in after.detail
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
