"""Fixtures for outbound tests: fast settings on both databases, the demo city."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session, sessionmaker

from config import Settings
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
