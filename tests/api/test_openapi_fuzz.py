"""Schemathesis drives the whole REST API from its own OpenAPI document, in process, as each
role of the seeded city: no answer may be a 5xx, and every answer (errors included) must
have a status, content type and body the document declares. An example answered before
the view reads the role (405, 413, request validation's 422) goes as one role, every other
as each of the four; the seeded accounts stay usable whatever the admin's examples do."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.transport import Response
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import select

from config import Settings
from hotline.app import create_app
from tests.support.city import City, seed_city
from ticketing.context import Domain
from ticketing.db import make_engine, make_session_factory
from ticketing.directory import hash_token
from ticketing.models import User

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
    # So is jieba's part-of-speech tagger, which the search imports when first used.
    from knowledge.search import asked_objects, words

    words("公积金怎么提取")
    asked_objects("公积金怎么提取？")
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


def answered_before_the_view(response: Response) -> bool:
    """Whether the app answered before the view read the actor's role, so that every role
    gets this same answer: routing's 405 (an undocumented method), the body limit's 413,
    and request validation's 422, the only answer carrying ``errors`` (hotline/app.py).
    The views check the role inside their unit of work, after FastAPI validated every
    parameter and the body; only the bearer token is read before, and every role's is
    good (``give_back_accounts``)."""
    if response.status_code in (405, 413):
        return True
    if response.status_code != 422:
        return False
    body = response.json()
    return isinstance(body, dict) and "errors" in body


# An admin's example may disable a seeded account or rotate its token (the operator's, the
# admin's own): in a logged run the operator's requests answered 401 from the 3,677th of
# 4,883 on, the admin's from the 3,799th, so the operations after them were never tried as
# those roles. Given back after each such example, as the demo seeded them.
ACCOUNT_PATHS = "/api/v1/users/{user_id}/"


def give_back_accounts(city: City) -> None:
    with city.sessions() as session:
        for user in session.scalars(select(User).where(User.username.in_(ROLES))):
            user.active = True
            user.token_sha256 = hash_token(city.tokens[user.username])
        session.commit()


# Every example goes to the API as one role and, unless the answer came before the view
# (``answered_before_the_view``: the same for every role), as the other three too. In a
# logged run 10,340 requests were 1,684 405s and 5,412 422s, most of them sent four times
# for one answer: now 5,135 requests, 103 -> 63 CPU-s alone. Every example that reaches a
# view still goes to it as each role, in the same module's database: each role's refusal
# (403) and each role's own answer. The first role rotates, so each role's token travels
# with every kind of case. (Building the operations' tests and generating their examples
# was about half of the fuzz's CPU when each role was a test of its own; with
# ``derandomize`` the roles drew from one seed, so they are one test.)
_first_role = itertools.cycle(ROLES)


@pytest.mark.usefixtures("seeded")
@schema.parametrize()
@settings(max_examples=10, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
def test_api_as_documented(case: schemathesis.Case, seeded: tuple[FastAPI, City]) -> None:
    app, city = seeded
    first = next(_first_role)
    for role in (first, *(r for r in ROLES if r != first)):
        # The role travels in a header of its own: a failure's report shows the request's
        # curl line, where the token is masked.
        response = case.call_and_validate(app=app, checks=CHECKS, headers={
            "Authorization": f"Bearer {city.tokens[role]}", "X-Test-Role": role})
        if case.operation.path.startswith(ACCOUNT_PATHS):
            give_back_accounts(city)
        # Every role's token is good: a 401 is a seeded account lost, and the role's
        # examples from then on would prove nothing of it.
        assert response.status_code != 401, f"{role}'s token refused"
        if role == first and answered_before_the_view(response):
            break
