"""三率两度 from the rows (docs/metrics.md), on SQLite and PostgreSQL with the shipped
settings, and that a handler cannot move them through any ticket endpoint of the API."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from config import Settings
from hotline.app import create_app
from tests.console.conftest import log_in
from tests.support.city import City
from ticketing import service
from ticketing.actors import Actor
from ticketing.context import Domain
from ticketing.models import SurveyResult, Ticket, utcnow
from ticketing.reports import figures


def test_feedback_match_and_handling_time(settings: Settings, sessions: sessionmaker[Session],
                                          domain: Domain, city: City) -> None:
    start = utcnow() - timedelta(days=3)
    clock = [start]
    domain.now = lambda: clock[0]  # type: ignore[method-assign]
    op, handler = city.actor("operator"), city.actor("water-handler")
    survey = Actor.system("outbound")
    # (handler's answer, citizen: resolved, satisfied); None: never replied.
    cases = [("resolved", True, True), ("resolved", False, False),
             ("unresolvable", False, True), None]
    with sessions() as s:
        for i, case in enumerate(cases):
            clock[0] = start
            t = service.create_ticket(session=s, domain=domain, actor=op, channel="api",
                                      caller_phone=f"1381111000{i}", category="water",
                                      urgency="livelihood", demand=f"朝阳区望京西园{i + 1}区停水了")
            service.accept(session=s, domain=domain, ticket=t, actor=op)
            service.sign(session=s, domain=domain, ticket=t, actor=handler)
            if case is None:
                continue
            outcome, resolved, satisfied = case
            clock[0] = start + timedelta(hours=2)
            service.reply(session=s, domain=domain, ticket=t, actor=handler, text="已处理",
                          outcome=outcome, reason=None if outcome == "resolved" else "产权自管")
            service.close(session=s, domain=domain, ticket=t, actor=op)
            service.record_survey(session=s, domain=domain, ticket=t, actor=survey,
                                  resolved=resolved, satisfied=satisfied)
        s.commit()
        f = figures(session=s, actor=op, now=utcnow(), utility_window=domain.utility_window)
    # 24-hour deadlines, all passed: four due, three answered by the handler in time.
    assert (f.due, f.replied_on_time, f.feedback_rate) == (4, 3, 0.75)
    # The second handler said "resolved", the citizen said not (反馈不属实).
    assert (f.compared, f.matched, f.match_rate) == (3, 2, round(2 / 3, 4))
    assert (f.closed, f.average_handling_hours) == (3, 2.0)
    assert (f.resolution_rate, f.satisfaction_rate) == (round(1 / 3, 4), round(2 / 3, 4))
    # The same figures in /metrics (last 30 days) and on the dashboard.
    app = create_app(settings)
    with TestClient(app, client=("127.0.0.1", 5000)) as client:
        samples = {(m.name, m.labels.get("figure")): m.value
                   for fam in text_string_to_metric_families(client.get("/metrics").text)
                   for m in fam.samples}
        assert samples[("hotline_rate_30d", "match_rate")] == f.match_rate
        assert samples[("hotline_rate_30d", "feedback_rate")] == 0.75
        assert samples[("hotline_average_handling_hours_30d", None)] == 2.0
    page = log_in(app, city, "supervisor").get("/console/dashboard").text
    for label in ("反馈率", "办理情况契合度", "平均办理时长", "水电气暖10分钟派单率"):
        assert label in page


def test_a_handler_cannot_move_the_figures_through_any_ticket_endpoint(
    settings: Settings, sessions: sessionmaker[Session], domain: Domain, city: City
) -> None:
    op, handler = city.actor("operator"), city.actor("water-handler")
    with sessions() as s:
        t = service.create_ticket(session=s, domain=domain, actor=op, channel="api",
                                  caller_phone="13811112222", category="water",
                                  demand="朝阳区望京西园三区停水了")
        service.accept(session=s, domain=domain, ticket=t, actor=op)
        service.sign(session=s, domain=domain, ticket=t, actor=handler)
        service.reply(session=s, domain=domain, ticket=t, actor=handler, text="已修复",
                      outcome="resolved")
        s.commit()
        number = t.number
    app = create_app(settings)
    bodies = {"survey": {"resolved": True, "satisfied": True, "keys": "11"},
              "exclude": {"reason": "无理诉求"}, "reject": {"reason": "x"},
              "close": {"note": "自行办结"}, "send_back": {"reason": "x"},
              "deny_exclusion": {"reason": "x"}, "archive": {"reason": "x"},
              "penalty": {"kind": "negative_opinion", "reason": "x"}}
    h = {"Authorization": f"Bearer {city.tokens['water-handler']}"}
    o = {"Authorization": f"Bearer {city.tokens['operator']}"}
    with TestClient(app) as client:
        before = [client.get(p, headers=o).json() for p in ("/api/v1/stats", "/api/v1/points")]
        tried = []
        # Every ticket action the API has (from its own OpenAPI document, so a new one is
        # tried too).
        for path, methods in app.openapi()["paths"].items():
            if "post" in methods and path.startswith("/api/v1/tickets/{ref}/"):
                action = path.rsplit("/", 1)[1]
                if action in ("sign", "reply", "return", "request_exclusion"):
                    continue  # the handler's own work, not a figure's verdict
                r = client.post(path.replace("{ref}", number),
                                json=bodies.get(action, {}), headers=h)
                tried.append(action)
                assert r.status_code in (403, 404, 409, 422), (action, r.status_code)
        after = [client.get(p, headers=o).json() for p in ("/api/v1/stats", "/api/v1/points")]
    assert {"survey", "exclude", "close", "send_back", "reject", "penalty"} <= set(tried)
    assert after == before
    with sessions() as s:
        assert s.get_one(Ticket, t.id).status == "replied"


def test_only_the_centre_keys_in_a_survey_answer(
    settings: Settings, sessions: sessionmaker[Session], domain: Domain, city: City
) -> None:
    """满意度 ranks the units a supervisor oversees, so no supervisor may record the
    citizen's answer; the centre's operator (a callback taken by hand) may, once."""
    op, handler = city.actor("operator"), city.actor("cy-housing-handler")
    unit, handler_id = city.unit_id("cy-housing"), city.user_id("cy-housing-handler")
    with sessions() as s:
        t = service.create_ticket(session=s, domain=domain, actor=op, channel="api",
                                  caller_phone="13811113333", category="housing",
                                  demand="朝阳区望京西园三区的保障房分配迟迟没有结果")
        service.accept(session=s, domain=domain, ticket=t, actor=op)
        if t.unit_id != unit:
            service.reassign(session=s, domain=domain, ticket=t, actor=op, unit_id=unit,
                             handler_id=handler_id)
        service.sign(session=s, domain=domain, ticket=t, actor=handler)
        service.reply(session=s, domain=domain, ticket=t, actor=handler, text="已修复",
                      outcome="resolved")
        service.close(session=s, domain=domain, ticket=t, actor=op)
        s.commit()
        number = t.number
    body = {"resolved": True, "satisfied": True, "keys": "11"}
    with TestClient(create_app(settings)) as client:
        for who in ("supervisor", "cy-supervisor"):
            r = client.post(f"/api/v1/tickets/{number}/survey", json=body,
                            headers={"Authorization": f"Bearer {city.tokens[who]}"})
            assert r.status_code == 403, (who, r.status_code)
        with sessions() as s:
            assert s.scalars(select(SurveyResult).where(SurveyResult.ticket_id == t.id)).all() == []
            assert [e.action for e in s.get_one(Ticket, t.id).events].count("survey") == 0
        o = {"Authorization": f"Bearer {city.tokens['operator']}"}
        assert client.post(f"/api/v1/tickets/{number}/survey", json=body,
                           headers=o).status_code == 200
        again = client.post(f"/api/v1/tickets/{number}/survey", json=body, headers=o)
        # The ticket's state forbids it, the body is fine: 409, as every state refusal
        # (422 before the twenty-second round).
        assert again.status_code == 409 and "already surveyed" in again.text
        assert (again.json()["error"], again.json()["field"]) == ("conflict", "ticket")
