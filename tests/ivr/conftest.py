"""Fixtures for the IVR dialogue tests: real Vosk, SQLite, our start_ivr, Korean speech the
test model knows, prompts made once per session. The SIP fixtures (Kamailio, SIPp, our
front end) come from tests/support/sipkit.py."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from config.settings import Settings, SipSettings
from ivr import prompts as P
from ivr.call_flow import IvrServices
from ivr.intake import Spool
from tests.support.run_once import made_once, seed_prompts
from tests.support.sipkit import (  # noqa: F401 (fixtures and the missing-tools hook)
    audio,
    kamailio,
    make_frontend,
    pytest_collection_modifyitems,
    sipp_dir,
    sipps,
)
from ticketing.context import Domain

# Korean sentences whose words are all in the test model's vocabulary: the phrase list the
# live recognizer is restricted to in these tests (settings.asr.phrase_list).
PHRASES = ["물이 나오지 않습니다", "가스 냄새가 납니다", "버스가 오지 않습니다",
           "집에 물이 샙니다", "빨리 와 주세요"]


@pytest.fixture(scope="session")
def vosk_engine(vosk_model: object) -> Iterator[object]:
    from asr.engine import AsrEngine

    # The session's one loaded model (tests/conftest.py), shared by every call like in the
    # service. Confidence 0: the ask-again path has its own test, which raises it.
    engine = AsrEngine(vosk_model, workers=0, low_confidence=0.0)  # type: ignore[arg-type]
    yield engine
    engine.close()


@pytest.fixture(scope="session")
def korean_speech(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    from tests.support.callers import espeak_pcm16

    d = tmp_path_factory.mktemp("korean")
    return {p: espeak_pcm16(p, d / str(i)) for i, p in enumerate(PHRASES)}


@pytest.fixture(scope="session")
def prompt_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every catalog prompt generated once per run, by the first xdist worker that needs it
    (copied into each test's data dir, never changed in place: tests/support/run_once.py)."""
    from config.settings import Settings
    from ivr.prompts import PromptLibrary

    def render(d: Path) -> None:
        PromptLibrary(Settings(data_dir=d, prompts_dir=d / "none",
                               sip=SipSettings(prompt_speed=PROMPT_SPEED))).warm()

    return made_once(tmp_path_factory, "prompt-data", render) / "prompts"


PROMPT_SPEED = 550  # faster espeak-ng in tests: shorter calls, same flow (docs/suite.md, twenty-ninth round)


@pytest.fixture(scope="session")
def short_greeting(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 'recorded' greeting as an operator would drop into config/prompts: espeak-ng's own
    22 kHz output, so the library's sox conversion is exercised too."""
    d = tmp_path_factory.mktemp("recorded")
    out = d / "greeting.wav"
    subprocess.run(["espeak-ng", "-v", "cmn", "-s", "220", "-w", str(out), "您好，请讲。"],
                   check=True)
    return out


@pytest.fixture
def ivr_factory(tmp_path: Path, sqlite_url: str, korean_speech: dict[str, bytes],
                prompt_cache: Path, short_greeting: Path) -> Iterator[Callable[..., object]]:
    """Start our IVR (start_ivr, direct mode) on SQLite with the demo city seeded. One backend
    is enough here: these tests are about the call; tests/intake covers both databases.
    ``short_greeting=True`` (default) drops a recorded greeting into the prompts dir."""
    from tests.ivr.ivrkit import IvrUnderTest, ivr_settings
    from tests.support.city import seed_city
    from ticketing.context import Domain
    from ticketing.db import make_engine, make_session_factory

    made: list[IvrUnderTest] = []
    engines = []

    def make(*, engine: object | None, database_url: str | None = None,
             greeting: bool = False, sessions: object | None = None,
             **sip: object) -> IvrUnderTest:
        settings = ivr_settings(tmp_path / f"ivr{len(made)}", database_url or sqlite_url,
                                prompt_speed=PROMPT_SPEED, phrase_list=list(PHRASES),
                                recorded_prompts=None if greeting else
                                {"greeting": short_greeting}, **sip)
        domain = Domain.load(settings)
        if sessions is None:
            db = make_engine(settings.database_url)
            engines.append(db)
            sessions = make_session_factory(db)
            seed_city(sessions, domain)  # type: ignore[arg-type]
        ivr = IvrUnderTest(settings, sessions, domain,  # type: ignore[arg-type]
                           workdir=tmp_path / f"ivr{len(made)}")
        made.append(ivr)
        return ivr.start(engine, prompt_cache)

    yield make
    for ivr in made:
        ivr.stop()
    for db in engines:
        db.dispose()


@pytest.fixture
def services(settings: Settings, sessions: sessionmaker[Session], domain: Domain,
             tmp_path: Path, faq: None, shipped_prompts: Path) -> IvrServices:
    """The SIP dialogue's services without a line (socket-free dialogue tests: the sample
    FAQ imported, real prompts, a spool of its own). Its prompt cache starts with the run's
    catalogue at the shipped voice and speed (``settings``'): what a node's start leaves
    there, linked, not rendered again per test (suite53); what a call adds is the test's."""
    seed_prompts(shipped_prompts, settings.data_dir)
    return IvrServices(settings=settings, sessions=sessions, domain=domain,
                       prompts=P.PromptLibrary(settings), spool=Spool(tmp_path / "spool"),
                       engine=None)
