"""/metrics reuses the figures over weeks of tickets for metrics_figures_ttl_seconds (shipped:
60 s), so a scrape every 15 s does not recompute them; live counts stay fresh every scrape.

SQL statements are counted with an SQLAlchemy event listener on the app's engine; the clock
the cache reads is a fake one the test moves."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from pydantic import ValidationError
from sqlalchemy import event

from config import Settings
from hotline.app import create_app
from hotline.observability import make_registry
from tests.support.city import City

LOCAL = ("127.0.0.1", 50000)


class Scraper:
    def __init__(self, app: FastAPI, settings: Settings) -> None:
        self.now = 1000.0
        self.statements: list[str] = []
        # The app's own registry, on a clock the test moves.
        app.state.metrics = make_registry(
            app.state.sessions, utility_window=app.state.domain.utility_window,
            confirm_window=app.state.domain.confirm_window,
            analytics=settings.analytics, figures_ttl=settings.metrics_figures_ttl_seconds,
            clock=lambda: self.now)
        event.listen(app.state.engine, "before_cursor_execute", self._count)
        self.client = TestClient(app, client=LOCAL)

    def _count(self, _conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        self.statements.append(statement)

    def scrape(self) -> tuple[dict[str, dict[tuple[tuple[str, str], ...], float]], list[str]]:
        """(family -> labels -> value, the SQL statements this scrape ran)."""
        self.statements.clear()
        r = self.client.get("/metrics")
        assert r.status_code == 200
        families = {f.name: {tuple(sorted(s.labels.items())): s.value for s in f.samples}
                    for f in text_string_to_metric_families(r.text)}
        return families, list(self.statements)


def _figure_queries(statements: list[str]) -> list[str]:
    """What a scrape ran besides the live counts, which are all ``count(*)`` aggregates
    (tickets by state, overdue, calls, backlog, surveys, outbound, cases): the figures read
    ticket rows, events, survey rows and hot spots."""
    return [s for s in statements if "count(*)" not in s and not s.startswith("BEGIN")]


def _file(client: TestClient, city: City, demand: str) -> None:
    r = client.post("/api/v1/tickets", json={"caller_phone": "13811112222", "demand": demand},
                    headers={"Authorization": f"Bearer {city.tokens['operator']}"})
    assert r.status_code == 201, r.text


def test_second_scrape_within_the_ttl_runs_no_figure_query(settings: Settings,
                                                           city: City) -> None:
    ttl = settings.metrics_figures_ttl_seconds
    assert ttl >= 15  # the shipped value outlasts a 15 s scrape interval
    scraper = Scraper(create_app(settings), settings)
    _file(scraper.client, city, "朝阳区望京西园三区5号楼停水了，一直没来水")

    first, statements = scraper.scrape()
    assert _figure_queries(statements)
    assert first["hotline_tickets_30d_by_district"] == {(("district", "朝阳区"),): 1.0}
    assert first["hotline_tickets"] == {(("status", "dispatched"),): 1.0}

    _file(scraper.client, city, "海淀区中关村大街人行道井盖丢了，很危险")
    scraper.now += ttl - 1
    second, statements = scraper.scrape()
    assert statements, "the live counts are still read"
    assert _figure_queries(statements) == []
    assert second["hotline_tickets"] == {(("status", "dispatched"),): 2.0}  # fresh
    assert second["hotline_tickets_30d_by_district"] == first["hotline_tickets_30d_by_district"]
    assert second["hotline_rate_30d"] == first["hotline_rate_30d"]

    scraper.now += 1  # the figures are now ttl seconds old
    third, statements = scraper.scrape()
    assert _figure_queries(statements)
    assert third["hotline_tickets_30d_by_district"] == {
        (("district", "朝阳区"),): 1.0, (("district", "海淀区"),): 1.0}


def test_ttl_zero_recomputes_at_every_scrape(settings: Settings, city: City) -> None:
    fresh = settings.model_copy(update={"metrics_figures_ttl_seconds": 0.0})
    scraper = Scraper(create_app(fresh), fresh)
    for _ in range(2):
        _, statements = scraper.scrape()
        assert _figure_queries(statements)


def test_the_shipped_app_scrapes_the_figures_once_per_ttl(settings: Settings,
                                                         city: City) -> None:
    # create_app's own wiring (real clock): two scrapes in a row, one figure computation.
    app = create_app(settings)
    counted: list[str] = []
    event.listen(app.state.engine, "before_cursor_execute",
                 lambda _c, _k, statement, *_: counted.append(statement))
    client = TestClient(app, client=LOCAL)
    assert client.get("/metrics").status_code == 200
    assert _figure_queries(counted)
    counted.clear()
    assert client.get("/metrics").status_code == 200
    assert counted and _figure_queries(counted) == []


@pytest.mark.parametrize("value", ["-1", "soon"])
def test_a_bad_ttl_is_refused_at_start_up(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("HOTLINE_METRICS_FIGURES_TTL_SECONDS", value)
    with pytest.raises(ValidationError, match="metrics_figures_ttl_seconds"):
        Settings()
