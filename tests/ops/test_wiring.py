"""`hotline serve`'s wiring (hotline/wiring.py): every job on one scheduler, the IVR and the
outbound front end on their ports and freed on stop, and the one voice job that retries an
IVR that could not start, settles spooled calls and owns the transcription backlog."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from config import Settings
from hotline.wiring import Background, start_background
from ivr.intake import CallIntake
from ivr.runtime import spool_for
from telephony.sip.frontend import PhoneStatus
from tests.support.city import City
from tests.support.harness import free_port
from tests.support.run_once import seed_prompts
from ticketing.context import Domain
from ticketing.db import make_engine, make_session_factory
from ticketing.models import Ticket

WATER = "朝阳区望京西园三区5号楼停水了，一直没来水"


@pytest.fixture
def serve_settings(settings: Settings, tmp_path: Path, shipped_prompts: Path) -> Settings:
    """The shipped settings on ports free on this machine, with no speech model installed;
    the prompt catalogue the IVR's start would render is copied in (tests/conftest.py)."""
    seed_prompts(shipped_prompts, settings.data_dir)
    return settings.model_copy(update={
        "sip": settings.sip.model_copy(update={"port": free_port()}),
        "outbound": settings.outbound.model_copy(update={"sip_port": free_port()}),
        "asr": settings.asr.model_copy(update={"model_dir": tmp_path / "no-models"}),
    })


@pytest.fixture
def serve_domain(serve_settings: Settings) -> Domain:
    return Domain.load(serve_settings)


@pytest.fixture
def background() -> Iterator[list[Background]]:
    started: list[Background] = []
    yield started
    for b in started:
        b.stop()


def _udp_port_taken(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def test_serve_runs_every_job_on_one_scheduler_and_frees_its_ports(
        serve_settings: Settings, sessions: sessionmaker[Session], serve_domain: Domain,
        background: list[Background]) -> None:
    b = start_background(serve_settings, sessions, serve_domain)
    background.append(b)
    assert b.scheduler is not None
    # Retention is off as shipped; one job (voice) owns spool recovery and the backlog.
    assert {j.id for j in b.scheduler.get_jobs()} == {
        "voice", "escalate-utilities", "archive-unsurveyable", "idempotency-keys", "monthly-report",
        "outbound"}
    # APScheduler's log lines ("Running job ...", a job's traceback) say which ticket job.
    ticket_jobs = [j for j in b.scheduler.get_jobs() if j.id not in ("voice", "outbound")]
    assert [j.name for j in ticket_jobs] == [j.id for j in ticket_jobs]
    assert b.engine is None  # no model: calls are recorded, the backlog waits for one
    assert b.ivr is not None and b.ivr.frontend.status is PhoneStatus.READY
    assert b.ivr.frontend.local_port == serve_settings.sip.port
    assert _udp_port_taken(serve_settings.sip.port)
    assert _udp_port_taken(serve_settings.outbound.sip_port)  # the dialer's own front end
    b.stop()
    assert b.scheduler is None and b.ivr.frontend.status is PhoneStatus.STOPPED
    assert not _udp_port_taken(serve_settings.sip.port)
    assert not _udp_port_taken(serve_settings.outbound.sip_port)


def test_voice_job_starts_a_late_ivr_and_settles_spooled_calls(
        serve_settings: Settings, sessions: sessionmaker[Session], serve_domain: Domain,
        city: City, background: list[Background], tmp_path: Path) -> None:
    squatter = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    squatter.bind(("127.0.0.1", serve_settings.sip.port))
    try:
        b = start_background(serve_settings, sessions, serve_domain)
        background.append(b)
        assert b.ivr is None  # the port is taken: the API and the jobs run all the same
        b.voice_tick()
        assert b.ivr is None
    finally:
        squatter.close()
    b.voice_tick()
    assert b.ivr is not None and b.ivr.frontend.status is PhoneStatus.READY

    # A call taken while the database was unreachable waits in the spool...
    unreachable = make_session_factory(make_engine(f"sqlite:///{tmp_path}/gone/none.db"))
    call = CallIntake(sessions=unreachable, domain=serve_domain, spool=spool_for(serve_settings),
                      call_id="wiring-1", caller="13811112222")
    call.answered()
    call.understood(WATER)
    assert call.file_ticket() is None and call.end() is False
    assert [j.call_id for j in spool_for(serve_settings).pending()] == ["wiring-1"]
    # ...and the next voice tick makes its ticket.
    b.voice_tick()
    assert spool_for(serve_settings).pending() == []
    with sessions() as s:
        ticket = s.scalars(select(Ticket).where(Ticket.call_id == "wiring-1")).one()
        assert ticket.demand == WATER and ticket.caller_phone == "+8613811112222"
