"""Fixtures of the ticketing tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from config import Settings
from hotline.app import create_app
from tests.support.city import City


@pytest.fixture
def client(settings: Settings, city: City) -> Iterator[TestClient]:
    """The app on the shipped settings (and the test's database), through its lifespan."""
    with TestClient(create_app(settings), raise_server_exceptions=True) as c:
        yield c
