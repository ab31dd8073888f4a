"""Console fixtures: the real app, one logged-in browser-like client per user."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from config import Settings
from hotline.app import create_app
from tests.support.city import City

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(html: str) -> str:
    m = CSRF.search(html)
    assert m, "page has no CSRF field"
    return m.group(1)


def log_in(app: FastAPI, city: City, username: str) -> TestClient:
    """A client with its own cookie jar, logged in through the form like a person."""
    client = TestClient(app, follow_redirects=False)
    form = client.get("/console/login")
    assert form.status_code == 200
    r = client.post("/console/login", data={
        "username": username, "token": city.tokens[username], "csrf": csrf_of(form.text),
    })
    assert r.status_code == 303, r.text
    client.csrf = csrf_of(client.get("/console/queue").text)  # type: ignore[attr-defined]
    return client


@pytest.fixture
def app(settings: Settings, city: City) -> FastAPI:
    return create_app(settings)


@pytest.fixture
def as_user(app: FastAPI, city: City) -> Callable[[str], TestClient]:
    clients: dict[str, TestClient] = {}

    def get(username: str) -> TestClient:
        if username not in clients:
            clients[username] = log_in(app, city, username)
        return clients[username]

    return get
