"""trial55: a staff account's refused console request leaves a line naming the account, as
the API's does (hotline.refusals)."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from tests.console.seed import make_ticket
from tests.support.city import City
from ticketing.context import Domain

Users = Callable[[str], TestClient]


def test_a_refused_console_request_is_logged_with_who_tried_it(
        as_user: Users, sessions, domain: Domain, city: City,
        caplog: pytest.LogCaptureFixture) -> None:
    """Another unit's handler opening and signing a water ticket (404 pages, as for none),
    the water handler 剔除ing their own (403): the access log said only an address."""
    n = make_ticket(sessions, domain)
    other, own = as_user("cy-handler"), as_user("water-handler")
    with caplog.at_level(logging.WARNING):
        assert other.get(f"/console/tickets/{n}").status_code == 404
        assert other.post(f"/console/tickets/{n}/sign",
                          data={"csrf": other.csrf}).status_code == 404
        assert own.post(f"/console/tickets/{n}/exclude",
                        data={"csrf": own.csrf, "reason": "无理"}).status_code == 403
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("refused")]
    cy, water = city.user_id("cy-handler"), city.user_id("water-handler")
    assert any(f"404 GET /console/tickets/{n} to user {cy} " in m for m in lines), lines
    assert any(f"404 POST /console/tickets/{n}/sign to user {cy} " in m for m in lines), lines
    assert any(f"403 POST /console/tickets/{n}/exclude to user {water} " in m
               and "(handler, unit bj-water)" in m for m in lines), lines


def test_a_supervisor_is_not_offered_the_close_of_their_own_answer(
        as_user: Users, sessions, domain: Domain) -> None:
    """A district supervisor who signed and answered for their unit was offered 核实办结 on
    the page and refused when they pressed it; a handler never was."""
    n = make_ticket(sessions, domain, demand="朝阳区安贞里小区门口路灯坏了一个月。",
                    category="municipal", urgency="general")
    sup, centre = as_user("cy-supervisor"), as_user("supervisor")
    assert sup.post(f"/console/tickets/{n}/sign", data={"csrf": sup.csrf}).status_code == 303
    assert sup.post(f"/console/tickets/{n}/reply", data={
        "csrf": sup.csrf, "text": "已修复路灯", "outcome": "resolved"}).status_code == 303
    close_form = f'action="/console/tickets/{n}/close"'
    assert close_form not in sup.get(f"/console/tickets/{n}").text
    assert close_form in centre.get(f"/console/tickets/{n}").text
