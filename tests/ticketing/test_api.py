"""The REST API as a client sees it: the loop, roles and scoping, bad input, export."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from config import Settings
from hotline.app import create_app
from tests.support.api import auth
from tests.support.city import City
from ticketing.directory import hash_token
from ticketing.models import AccountEvent, Ticket, User


def create(client: TestClient, city: City, **body: object) -> dict:
    payload = {"caller_phone": "13811112222",
               "demand": "朝阳区望京西园三区5号楼停水了，一直没来水", **body}
    r = client.post("/api/v1/tickets", json=payload, headers=auth(city, "operator"))
    assert r.status_code == 201, r.text
    return r.json()


def test_walk_ticket_to_closed(client: TestClient, city: City) -> None:
    t = create(client, city, category="water")
    assert t["status"] == "dispatched" and t["unit"] == "bj-water"
    h = auth(city, "water-handler")
    n = t["number"]
    assert client.post(f"/api/v1/tickets/{n}/sign", headers=h).json()["status"] == "signed"
    r = client.post(f"/api/v1/tickets/{n}/reply", json={"text": "已抢修", "outcome": "resolved"},
                    headers=h)
    assert r.json()["status"] == "replied" and r.json()["reply_outcome"] == "resolved"
    assert client.post(f"/api/v1/tickets/{n}/close", headers=h).status_code == 403  # 核实
    r = client.post(f"/api/v1/tickets/{n}/close", headers=auth(city, "operator"))
    assert r.status_code == 200 and r.json()["status"] == "closed"
    events = client.get(f"/api/v1/tickets/{n}/events", headers=h).json()
    assert [e["action"] for e in events] == ["create", "accept", "dispatch", "sign", "reply",
                                             "close"]


def test_forbidden_transition_is_409_and_names_state(client: TestClient, city: City) -> None:
    t = create(client, city, category="water")
    r = client.post(f"/api/v1/tickets/{t['number']}/close", headers=auth(city, "operator"))
    assert r.status_code == 409
    body = r.json()
    assert body["error"] == "invalid_transition"
    assert body["status"] == "dispatched" and body["action"] == "close"
    again = client.get(f"/api/v1/tickets/{t['number']}", headers=auth(city, "operator")).json()
    assert again["status"] == "dispatched" and again["version"] == t["version"]


def test_handler_sees_own_unit_only(client: TestClient, city: City) -> None:
    t = create(client, city, category="water")
    r = client.get(f"/api/v1/tickets/{t['number']}", headers=auth(city, "hd-handler"))
    assert r.status_code == 404
    r = client.post(f"/api/v1/tickets/{t['number']}/sign", headers=auth(city, "hd-handler"))
    assert r.status_code == 404
    listed = client.get("/api/v1/tickets", headers=auth(city, "hd-handler")).json()
    assert listed["total"] == 0
    listed = client.get("/api/v1/tickets", headers=auth(city, "water-handler")).json()
    assert [x["number"] for x in listed["items"]] == [t["number"]]


def test_supervisor_subtree(client: TestClient, city: City) -> None:
    cy = create(client, city, category="property", district="朝阳",
                demand="朝阳区某小区物业不管楼道垃圾")
    water = create(client, city, category="water", caller_phone="13900002222")
    h = auth(city, "cy-supervisor")
    assert client.get(f"/api/v1/tickets/{cy['number']}", headers=h).status_code == 200
    assert client.get(f"/api/v1/tickets/{water['number']}", headers=h).status_code == 404


def test_confidential_caller_hidden_from_handler(client: TestClient, city: City) -> None:
    t = create(client, city, category="water", confidential=True, caller_name="王先生")
    with city.sessions() as s:  # as the IVR leaves a phone ticket
        row = s.scalars(select(Ticket).where(Ticket.number == t["number"])).one()
        row.transcript, row.recording_path = "我是三号楼的王先生家里停水了", "/rec/x.wav"
        s.commit()
    seen = client.get(f"/api/v1/tickets/{t['number']}", headers=auth(city, "water-handler"))
    assert seen.json()["caller_phone"] is None and seen.json()["caller_name"] is None
    assert seen.json()["demand"]  # what must be done is still the handler's to read
    assert seen.json()["transcript"] is None and seen.json()["recording_path"] is None
    op = client.get(f"/api/v1/tickets/{t['number']}", headers=auth(city, "operator")).json()
    assert op["caller_phone"] == "+8613811112222"  # stored and given out in E.164
    assert op["caller_phone_display"] == "138 1111 2222" and not op["caller_withheld"]
    assert op["transcript"] and op["recording_path"] == "/rec/x.wav"
    sup = client.get(f"/api/v1/tickets/{t['number']}", headers=auth(city, "supervisor")).json()
    assert sup["transcript"] and sup["recording_path"]
    listed = client.get("/api/v1/tickets", headers=auth(city, "operator")).json()
    assert listed["items"][0]["caller_phone"] == "138****2222"


def test_role_rules(client: TestClient, city: City) -> None:
    t = create(client, city, category="water")
    n = t["number"]
    r = client.post(f"/api/v1/tickets/{n}/exclude", json={"reason": "无理诉求"},
                    headers=auth(city, "water-handler"))
    assert r.status_code == 403
    r = client.post("/api/v1/tickets", json={"caller_phone": "13800000000", "demand": "x"},
                    headers=auth(city, "water-handler"))
    assert r.status_code == 403
    r = client.post(f"/api/v1/tickets/{n}/exclude", json={"reason": "要求不合理"},
                    headers=auth(city, "supervisor"))
    assert r.status_code == 200 and r.json()["status"] == "excluded"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"caller_phone": "13800000000", "demand": "停水", "colour": "red"}, "colour"),
        ({"caller_phone": "not-a-phone", "demand": "停水"}, "caller_phone"),
        ({"caller_phone": "13800000000", "demand": "   "}, "demand"),
        # Zero-width characters and Hangul fillers are as blank (inputs.has_text; review86).
        ({"caller_phone": "13800000000", "demand": "\u200b\u3164\u2800"}, "demand"),
        ({"caller_phone": "13800000000"}, "demand"),
        ({"caller_phone": "13800000000", "demand": "停水", "urgency": "whenever"}, "urgency"),
        ({"caller_phone": "13800000000", "demand": "停水", "channel": "fax"}, "channel"),
    ],
)
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # subject: refused by validation, not storage
def test_bad_input_names_the_field(client: TestClient, city: City, body: dict,
                                   field: str) -> None:
    r = client.post("/api/v1/tickets", json=body, headers=auth(city, "operator"))
    assert r.status_code == 422, r.text
    assert field in r.json()["field"]


def test_other_bad_requests(client: TestClient, city: City) -> None:
    op = auth(city, "operator")
    assert client.get("/api/v1/tickets").status_code == 401
    assert client.get("/api/v1/tickets", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert client.get("/api/v1/tickets/9999999999", headers=op).status_code == 404
    assert client.get("/api/v1/tickets/123", headers=op).status_code == 404
    r = client.post("/api/v1/tickets", content=b"{not json", headers={
        **op, "Content-Type": "application/json"})
    assert r.status_code == 422
    big = {"caller_phone": "13800000000", "demand": "停" * 70000}
    r = client.post("/api/v1/tickets", json=big, headers=op)
    assert r.status_code == 413 and r.json()["error"] == "body_too_large"
    t = create(client, city, category="water")
    r = client.post(f"/api/v1/tickets/{t['number']}/return", json={}, headers=auth(city, "water-handler"))
    assert r.status_code == 422 and r.json()["field"] == "reason"
    r = client.get("/api/v1/tickets?page=0", headers=op)
    assert r.status_code == 422 and r.json()["field"] == "query.page"


def test_csv_export_reads_back(client: TestClient, city: City) -> None:
    create(client, city, category="water", caller_name="李女士")
    r = client.get("/api/v1/export.csv", headers=auth(city, "operator"))
    assert r.status_code == 200
    raw = r.content
    assert raw.startswith(b"\xef\xbb\xbf")  # BOM so Excel reads UTF-8
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert len(rows) == 1
    row = rows[0]
    assert row["姓名"] == "李女士" and row["电话"] == "13811112222"
    assert row["分类"] == "供水" and row["状态"] == "已派单"
    assert "停水" in row["诉求内容"] and row["承办单位"] == "北京市自来水集团"
    assert row["办结时限"] and row["来电时间"]
    handler_rows = list(csv.DictReader(io.StringIO(client.get(
        "/api/v1/export.csv", headers=auth(city, "water-handler")).content.decode("utf-8-sig"))))
    assert handler_rows[0]["电话"] == "138****2222"


def test_stats_and_hotspots(client: TestClient, city: City) -> None:
    for i in range(3):
        create(client, city, category="water", caller_phone=f"1390000{i:04d}",
               address="朝阳区望京西园三区5号楼")
    s = client.get("/api/v1/stats", headers=auth(city, "supervisor")).json()
    assert s["tickets"] == 3 and s["dispatched"] == 3 and s["response_rate"] == 0.0
    spots = client.get("/api/v1/hotspots", headers=auth(city, "supervisor")).json()
    assert spots[0]["address"] == "朝阳区望京西园三区5号楼" and spots[0]["tickets"] == 3
    assert client.get("/api/v1/stats", headers=auth(city, "water-handler")).status_code == 403


def test_healthz_tells_strangers_only_that_it_is_up(client: TestClient) -> None:
    r = client.get("/healthz")
    assert r.status_code == 200 and r.json() == {"status": "ok"}
    # Through a proxy on this host it is still a stranger (the /metrics rule).
    local = TestClient(client.app, client=("127.0.0.1", 50000))
    relayed = local.get("/healthz", headers={"X-Forwarded-For": "203.0.113.9"})
    assert relayed.json() == {"status": "ok"}


def test_healthz_answers_a_head(client: TestClient) -> None:
    """Uptime monitors ask by HEAD; a 405 reads as "down"."""
    r = client.head("/healthz")
    assert r.status_code == 200 and r.content == b""
    assert r.headers["content-type"] == "application/json"


def test_healthz_details_for_this_host(client: TestClient) -> None:
    local = TestClient(client.app, client=("127.0.0.1", 50000))
    r = local.get("/healthz")
    assert r.status_code == 200 and r.json()["status"] == "ok"
    assert r.json()["database"] in {"sqlite", "postgresql"} and r.json()["schema"]
    # Which voice callers hear: the generator the suite's machine has, the shipped voice.
    voice = r.json()["voice"]
    assert voice["ready"] and voice["generator"] == "espeak-ng" and voice["voice"] == "cmn"
    assert voice["missing"] == [] and isinstance(voice["recorded_prompts"], int)


def test_refuses_unmigrated_database(tmp_path: Path) -> None:
    from ticketing.db import NotMigrated

    with pytest.raises(NotMigrated, match="hotline db upgrade"):
        create_app(Settings(database_url=f"sqlite:///{tmp_path / 'empty.db'}"))


def test_admin_disables_enables_and_rotates_a_token(client: TestClient, city: City) -> None:
    admin = auth(city, "admin")
    handler = city.user_id("water-handler")
    url = f"/api/v1/users/{handler}"
    # Admins only.
    for who in ("operator", "supervisor", "water-handler"):
        assert client.post(f"{url}/disable", headers=auth(city, who)).status_code == 403
        assert client.post(f"{url}/rotate-token", headers=auth(city, who)).status_code == 403
    assert client.get("/api/v1/tickets", headers=auth(city, "water-handler")).status_code == 200

    r = client.post(f"{url}/disable", headers=admin)
    assert r.status_code == 200 and r.json()["active"] is False
    # The leaked token stops working with the next request.
    assert client.get("/api/v1/tickets", headers=auth(city, "water-handler")).status_code == 401
    users = {u["username"]: u for u in client.get("/api/v1/users", headers=admin).json()}
    assert users["water-handler"]["active"] is False and users["admin"]["active"] is True

    assert client.post(f"{url}/enable", headers=admin).json()["active"] is True
    assert client.get("/api/v1/tickets", headers=auth(city, "water-handler")).status_code == 200

    r = client.post(f"{url}/rotate-token", headers=admin)
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    new = r.json()["token"]
    assert new != city.tokens["water-handler"]
    assert client.get("/api/v1/tickets", headers=auth(city, "water-handler")).status_code == 401
    me = client.get("/api/v1/tickets", headers={"Authorization": f"Bearer {new}"})
    assert me.status_code == 200
    with city.sessions() as s:
        stored = s.scalars(select(User.token_sha256).where(User.id == handler)).one()
    assert stored == hash_token(new) and new not in stored

    # Each change is audited with who did it.
    with city.sessions() as s:
        events = s.scalars(select(AccountEvent).where(AccountEvent.user_id == handler)
                           .order_by(AccountEvent.id)).all()
    assert [e.action for e in events] == ["disable", "enable", "rotate_token"]
    assert {e.actor_id for e in events} == {city.user_id("admin")}

    # No locking oneself out through the API; unknown users are 404.
    assert client.post(f"/api/v1/users/{city.user_id('admin')}/disable",
                       headers=admin).status_code == 409
    assert client.post("/api/v1/users/999999/disable", headers=admin).status_code == 404
    assert client.get("/api/v1/tickets", headers=admin).status_code == 200


def test_the_apis_json_is_kept_by_no_cache(client: TestClient, city: City) -> None:
    """Tickets carry citizens' numbers: without ``no-store`` a shared or browser cache may
    keep them. Every JSON answer has it (data, lists, errors, the middlewares' refusals);
    an answer that names its own caching keeps it."""
    t = create(client, city, category="water")
    op = auth(city, "operator")
    answers = [client.get(f"/api/v1/tickets/{t['number']}", headers=op),
               client.get("/api/v1/tickets", headers=op),
               client.get("/api/v1/tickets/2699999999", headers=op),  # 404
               client.get("/api/v1/tickets"),  # 401
               client.get("/api/v1/tickets?q=%00", headers=op)]  # NulInUrl's 422
    for r in answers:
        assert r.headers["content-type"].startswith("application/json"), r.url
        assert r.headers["cache-control"] == "no-store", (r.url, r.status_code)
    assert [r.status_code for r in answers] == [200, 200, 404, 401, 422]
    # The console's pages say their own (private, no-store), once.
    page = client.get("/console/login")
    assert page.headers.get_list("cache-control") == ["private, no-store"]


def test_the_apis_csv_export_is_kept_by_no_cache(client: TestClient, city: City) -> None:
    """review23: ``/export.csv`` (every ticket's citizen number) had no ``Cache-Control``;
    the console's export says ``private, no-store``. The API's rule covers every answer
    under /api that names none, whatever its type, not JSON alone."""
    create(client, city, category="water")
    r = client.get("/api/v1/export.csv", headers=auth(city, "operator"))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert r.headers.get_list("cache-control") == ["no-store"]
