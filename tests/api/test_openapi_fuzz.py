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

# The whole suite's: in the fast tier these four tests were ~30 % of its CPU (112 of 382
# CPU-s in tests, measured at load 8); `pytest tests/api` runs them alone.
pytestmark = pytest.mark.fuzz

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
    # The first knowledge search in a process loads jieba's dictionary (2.6-8.4 s of wall
    # seen at load 10) inside that request, and Schemathesis' in-process client gives up on
    # a request after 10 s: a GET /api/v1/kb/search subtest failed so. Loaded here, the
    # examples measure the API, not the cold start.
    from knowledge.search import words

    words("公积金怎么提取")
    yield create_app(config), city
    engine.dispose()


@pytest.fixture(scope="module")
def api_schema() -> schemathesis.BaseSchema:
    """The document the app serves, made by the same factory (no database needed for it);
    the REST API only: /twilio/* are the carrier's webhooks, signed per request.

    Loaded when the test runs, not when the module is collected: every xdist worker
    collects every module, and building the app's document plus Hypothesis tests for each
    operation at collection cost each of them ~7.5 CPU-s (8 workers: ~60 CPU-s a run) for
    tests that run on one to four of them. The operations are the same, run as subtests
    of the test below, each with the same settings and checks."""
    return schemathesis.openapi.from_dict(
        create_app(Settings(database_url="sqlite://"), check_schema=False).openapi()
    ).include(path_regex=r"^/(api/|healthz)")


schema = schemathesis.pytest.from_fixture("api_schema")


@pytest.fixture(autouse=True)
def _nodeid_for_schemathesis(request: pytest.FixtureRequest) -> None:
    """Schemathesis' lazy test reads and rewrites ``item._nodeid`` to name the operation
    it runs, an attribute pytest 9 items no longer have (their id is ``item._id``, see
    tests/conftest.py): given here, the subtests still carry the operation's label."""
    if not hasattr(request.node, "_nodeid"):
        request.node._nodeid = request.node.nodeid


ROLES = ("operator", "water-handler", "supervisor", "admin")


# Every example goes to the API once per role. Building the operations' tests and
# generating their examples was about half of the fuzz's CPU, paid once per role when each
# role was a test of its own (four of 26-30 CPU-s in a full profiled run, 114 in all), and
# with ``derandomize`` the roles drew from one seed: in a logged run 494 of the ~610
# distinct cases of the operator and the admin were the same. Each role still gets every
# example of every operation, in the same module's database.
@pytest.mark.usefixtures("seeded")
@schema.parametrize()
@settings(max_examples=10, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
def test_api_as_documented(case: schemathesis.Case, seeded: tuple[FastAPI, City]) -> None:
    app, city = seeded
    for role in ROLES:
        # The role travels in a header of its own: a failure's report shows the request's
        # curl line, where the token is masked.
        case.call_and_validate(app=app, checks=CHECKS, headers={
            "Authorization": f"Bearer {city.tokens[role]}", "X-Test-Role": role})
