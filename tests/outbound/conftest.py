"""Fixtures for outbound tests: fast settings on both databases, the demo city."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session, sessionmaker

from config import Settings
from outbound.worker import LANE_MISREAD
from tests.outbound.support import fast
from tests.support.city import City
from ticketing.context import Domain
from ticketing.db import make_engine, make_session_factory


@pytest.fixture
def ob_settings(settings: Settings) -> Settings:
    return fast(settings)


@pytest.fixture
def ob_domain(ob_settings: Settings) -> Domain:
    return Domain.load(ob_settings)


@pytest.fixture
def ob_sessions(ob_settings: Settings) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(ob_settings.database_url)
    yield make_session_factory(engine)
    engine.dispose()


@pytest.fixture
def ob_city(city: City, ob_sessions: sessionmaker[Session]) -> City:
    # The same seeded database (see tests/conftest.py), looked up through the fast settings.
    return City(tokens=city.tokens, sessions=ob_sessions)


@pytest.fixture(autouse=True)
def lanes_agree(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Every claim in these tests checks that the lanes' SQL (``outbound.lanes.sms_work``)
    read its task's channel as the policy then prepared it: the suite's every kind, rung
    and setting is the walk, and a kind or rung the SQL misreads fails the test that
    claims it (claim_due logs LANE_MISREAD). A test that misreads on purpose clears it."""
    yield
    misread = [r.getMessage() for r in caplog.get_records("call")
               if r.name == "outbound.worker" and r.getMessage().startswith(LANE_MISREAD)]
    assert not misread, misread
