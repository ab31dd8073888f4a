"""Schemathesis drives the whole REST API from its own OpenAPI document, in process, as each
role of the seeded city: no answer may be a 5xx, and every answer (errors included) must
have a status, content type and body the document declares."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from config import Settings
from hotline.app import create_app
from tests.support.city import City, seed_city
from ticketing.context import Domain
from ticketing.db import make_engine, make_session_factory

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory,
           sqlite_template: Path) -> Iterator[tuple[FastAPI, City]]:
    """One database for the module: the examples pile up tickets like real traffic."""
    tmp = tmp_path_factory.mktemp("fuzz")
    db = tmp / "hotline.db"
    db.write_bytes(sqlite_template.read_bytes())
    config = Settings(database_url=f"sqlite:///{db}", data_dir=tmp, recordings_dir=tmp / "rec")
    engine = make_engine(config.database_url)
    city = seed_city(make_session_factory(engine), Domain.load(config))
    yield create_app(config), city
    engine.dispose()


# The document the app serves, made by the same factory (no database needed for it); the
# REST API only: /twilio/* are the carrier's webhooks, signed per request.
schema = schemathesis.openapi.from_dict(
    create_app(Settings(database_url="sqlite://"), check_schema=False).openapi()
).include(path_regex=r"^/(api/|healthz)")


@pytest.fixture(params=["operator", "water-handler", "supervisor", "admin"])
def token(request: pytest.FixtureRequest, seeded: tuple[FastAPI, City]) -> str:
    return seeded[1].tokens[request.param]


@schema.parametrize()
@settings(max_examples=10, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
def test_api_as_documented(case: schemathesis.Case, token: str,
                           seeded: tuple[FastAPI, City]) -> None:
    case.call_and_validate(app=seeded[0], headers={"Authorization": f"Bearer {token}"},
                           checks=CHECKS)
