"""Points per ticket, unit and handler (seed 000) on SQLite and PostgreSQL: survey verdicts
and supervisors' penalties, month and year totals, and nobody else can add a penalty."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from config import Settings
from hotline.app import create_app
from tests.support.city import City, settle
from ticketing import service
from ticketing.context import Domain
from ticketing.models import utcnow


def _closed(sessions: sessionmaker[Session], domain: Domain, city: City, phone: str,
            demand: str, verdict: tuple[bool, bool] | None) -> str:
    op = city.actor("operator")
    with sessions() as s:
        t = service.create_ticket(session=s, domain=domain, actor=op, channel="api",
                                  caller_phone=phone, demand=demand)
        service.accept(session=s, domain=domain, ticket=t, actor=op)
        settle(s, domain, t, op, verdict)
        s.commit()
        return t.number


@pytest.fixture
def client(settings: Settings, city: City) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as c:
        yield c


def test_points_per_unit_and_handler(client: TestClient, sessions: sessionmaker[Session],
                                     domain: Domain, city: City) -> None:
    water = "朝阳区望京西园三区5号楼停水了"
    a = _closed(sessions, domain, city, "13811110001", water, (True, True))  # +1
    b = _closed(sessions, domain, city, "13811110002", "朝阳区望京西园四区停水了",
                (True, False))  # −0.5
    _closed(sessions, domain, city, "13811110003", "朝阳区阜通东大街路灯坏了",
            (False, False))  # −1, the district government (cy)

    def auth(user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {city.tokens[user]}"}

    r = client.post(f"/api/v1/tickets/{b}/penalty", headers=auth("water-handler"),
                    json={"kind": "incomplete", "reason": "无现场照片"})
    assert r.status_code == 403  # a handler never scores anyone, themselves least
    r = client.post(f"/api/v1/tickets/{b}/penalty", headers=auth("supervisor"),
                    json={"kind": "bad", "reason": "x"})
    assert r.status_code == 422
    for kind, reason in (("incomplete", "反馈无现场照片"), ("negative_opinion", "引发媒体报道")):
        r = client.post(f"/api/v1/tickets/{a}/penalty", headers=auth("supervisor"),
                        json={"kind": kind, "reason": reason})
        assert r.status_code == 200, r.text
    events = client.get(f"/api/v1/tickets/{a}/events", headers=auth("supervisor")).json()
    assert [e["note"] for e in events if e["action"] == "penalty"] == [
        "资料不全（-0.5分）：反馈无现场照片", "重大负面舆情（-3分）：引发媒体报道"]

    now = utcnow().astimezone(domain.tz)
    for period in (now.strftime("%Y-%m"), now.strftime("%Y")):
        r = client.get("/api/v1/points", params={"period": period}, headers=auth("supervisor"))
        assert r.status_code == 200, r.text
        units = {u["code"]: u for u in r.json()["units"]}
        # bj-water: +1 − 0.5 (verdicts) − 3.5 (penalties); cy: −1.
        assert units["bj-water"]["survey_points"] == 0.5
        assert units["bj-water"]["penalty_points"] == -3.5
        assert units["bj-water"]["total"] == -3.0 and units["bj-water"]["tickets"] == 2
        assert units["cy"]["total"] == -1.0
        handlers = {h["code"]: h["total"] for h in r.json()["handlers"]}
        assert handlers == {"water-handler": -3.0, "cy-handler": -1.0}
    last_year = str(now.year - 1)
    r = client.get("/api/v1/points", params={"period": last_year}, headers=auth("supervisor"))
    assert r.json() == {"period": last_year, "units": [], "handlers": []}
    assert client.get("/api/v1/points", params={"period": "2026-13"},
                      headers=auth("supervisor")).status_code == 422
    assert client.get("/api/v1/points", headers=auth("water-handler")).status_code == 403
