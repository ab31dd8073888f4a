"""Every answer refuses sniffing and framing (sec57): the console's pages, the public
status page, the API, a middleware's own error, the static files."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from hotline.page_headers import FRAMING, PAGES
from tests.console.conftest import csrf_of
from tests.support.city import City


def _guarded(headers: object, policy: str) -> None:
    assert headers["x-content-type-options"] == "nosniff"  # type: ignore[index]
    assert headers["x-frame-options"] == "DENY"  # type: ignore[index]
    assert headers["content-security-policy"] == policy  # type: ignore[index]
    assert "frame-ancestors 'none'" in policy


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # subject: headers, not storage
def test_every_answer_refuses_sniffing_and_framing(app: FastAPI, city: City) -> None:
    c = TestClient(app, follow_redirects=False)
    login = c.get("/console/login")
    _guarded(login.headers, PAGES)
    signed_in = c.post("/console/login", data={"username": "water-handler",
                                               "token": city.tokens["water-handler"],
                                               "csrf": csrf_of(login.text)})
    assert signed_in.status_code == 303
    _guarded(signed_in.headers, PAGES)
    queue = c.get("/console/queue")
    assert queue.status_code == 200
    _guarded(queue.headers, PAGES)
    # One header each, though the page names its own caching.
    assert queue.headers.get_list("x-frame-options") == ["DENY"]
    _guarded(c.get("/console/static/console.js").headers, PAGES)
    status_page = c.get("/s/no-such-token")
    assert status_page.status_code == 404 and "没有找到这个工单" in status_page.text
    _guarded(status_page.headers, PAGES)
    api = c.get("/api/v1/tickets", headers={"Authorization": "Bearer nobody"})
    assert api.status_code == 401
    _guarded(api.headers, FRAMING)
    nul = c.get("/api/v1/tickets?q=%00")  # answered by a middleware, before any router
    assert nul.status_code in (400, 422)
    _guarded(nul.headers, FRAMING)
