"""The knowledge base over HTTP: who may search, edit, publish and retire; an entry with its
history; answering a caller from an entry (直接答复) and 直办率 in the figures."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from config import Settings
from hotline.app import create_app
from knowledge import service
from knowledge.models import EntryStatus
from tests.support.api import auth
from tests.support.city import City
from ticketing.actors import Actor
from ticketing.directory import add_user
from ticketing.states import Role


@pytest.fixture
def client(settings: Settings, city: City) -> Iterator[TestClient]:
    with TestClient(create_app(settings), raise_server_exceptions=True) as c:
        yield c


@pytest.fixture
def editor(sessions: sessionmaker[Session], city: City) -> dict[str, str]:
    with sessions() as s:
        _, token = add_user(session=s, username="kb-editor", display_name="知识库编辑小周",
                            role=Role.KB_EDITOR)
        s.commit()
    return {"Authorization": f"Bearer {token}"}



def test_search_returns_ids_scores_and_confidence(client: TestClient, city: City,
                                                   faq: None) -> None:
    r = client.get("/api/v1/kb/search", params={"q": "孩子刚出生怎么去派出所上户口"},
                   headers=auth(city, "operator"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["answer"] == "kb007" and body["hits"][0]["id"] == "kb007"
    assert body["question"] is True and body["confidence"] >= body["threshold"]
    assert {"id", "title", "score", "confidence"} <= set(body["hits"][0])
    complaint = client.get("/api/v1/kb/search", params={"q": "派出所办户口的窗口态度太差了"},
                           headers=auth(city, "operator")).json()
    assert complaint["answer"] is None
    for user in ("supervisor", "admin"):
        assert client.get("/api/v1/kb/search", params={"q": "护照"},
                          headers=auth(city, user)).status_code == 200
    assert client.get("/api/v1/kb/search", params={"q": "护照"},
                      headers=auth(city, "water-handler")).status_code == 403
    assert client.get("/api/v1/kb/search", params={"q": "护照"}).status_code == 401


def test_editor_creates_edits_publishes_and_retires(client: TestClient, city: City,
                                                     editor: dict[str, str]) -> None:
    body = {"id": "kb900", "title": "电动自行车怎么上牌", "category": "traffic",
            "answer": "带购车发票、合格证和身份证到登记点办理，当场发牌。",
            "keywords": ["电动车上牌", "电动自行车登记"], "synonyms": ["电驴上牌"],
            "unit": "bj-traffic"}
    r = client.post("/api/v1/kb/entries", json=body, headers=editor)
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "draft" and r.json()["unit"] == "bj-traffic"
    # Operators may read, not write; handlers neither.
    assert client.post("/api/v1/kb/entries", json={**body, "id": "kb901"},
                       headers=auth(city, "operator")).status_code == 403
    assert client.post("/api/v1/kb/entries/kb900/publish",
                       headers=auth(city, "operator")).status_code == 403
    assert client.get("/api/v1/kb/entries/kb900",
                      headers=auth(city, "water-handler")).status_code == 403
    q = {"q": "电驴怎么上牌照"}
    assert client.get("/api/v1/kb/search", params=q,
                      headers=auth(city, "operator")).json()["hits"] == []
    assert client.post("/api/v1/kb/entries/kb900/publish", headers=editor).status_code == 200
    assert client.get("/api/v1/kb/search", params=q,
                      headers=auth(city, "operator")).json()["answer"] == "kb900"
    edited = {**body, "answer": "带购车发票、合格证和身份证到登记点办理，当场发牌，不收费。"}
    del edited["id"]
    r = client.put("/api/v1/kb/entries/kb900", json=edited, headers=editor)
    assert r.status_code == 200 and r.json()["version"] == 3
    assert client.post("/api/v1/kb/entries/kb900/retire", headers=editor).status_code == 200
    assert client.get("/api/v1/kb/search", params=q,
                      headers=auth(city, "operator")).json()["hits"] == []
    entry = client.get("/api/v1/kb/entries/kb900", headers=auth(city, "operator")).json()
    assert [(v["version"], v["action"], v["actor"]) for v in entry["history"]] == [
        (1, "create", "知识库编辑小周"), (2, "publish", "知识库编辑小周"),
        (3, "edit", "知识库编辑小周"), (4, "retire", "知识库编辑小周")]
    assert entry["history"][2]["changed"] == ["answer"]
    assert entry["history"][2]["snapshot"]["answer"].endswith("不收费。")
    # Bad input is a 422 naming the field; an unknown entry a 404; a taken id a 409 (the
    # state forbids it, the body is fine).
    bad = client.post("/api/v1/kb/entries", json={**body, "id": "kb902", "category": "x"},
                      headers=editor)
    assert bad.status_code == 422 and bad.json()["field"] == "category"
    assert client.post("/api/v1/kb/entries", json=body, headers=editor).status_code == 409
    assert client.get("/api/v1/kb/entries/nope", headers=editor).status_code == 404


def test_answer_from_entry_is_a_ticket_closed_at_intake(client: TestClient, city: City,
                                                         faq: None) -> None:
    r = client.post("/api/v1/kb/answers", headers=auth(city, "operator"), json={
        "entry_id": "kb037", "caller_phone": "13811112222", "demand": "水费在哪儿交"})
    assert r.status_code == 201, r.text
    t = r.json()
    assert t["status"] == "closed" and t["unit"] is None
    assert "96116" in t["reply_text"]
    answer = [e for e in t["events"] if e["action"] == "answer"]
    assert answer and answer[0]["data"] == {"kb_entry": "kb037", "kb_version": 1}
    # A normal ticket besides it: 直办率 is one of two.
    client.post("/api/v1/tickets", headers=auth(city, "operator"), json={
        "caller_phone": "13811113333", "demand": "朝阳区望京西园三区5号楼停水了"})
    stats = client.get("/api/v1/stats", headers=auth(city, "admin")).json()
    assert stats["answered_directly"] == 1 and stats["direct_answer_rate"] == 0.5
    # Handlers may not answer callers; a retired entry cannot be used.
    assert client.post("/api/v1/kb/answers", headers=auth(city, "water-handler"), json={
        "entry_id": "kb037", "caller_phone": "13811112222", "demand": "水费"}
    ).status_code == 403
    with client.app.state.sessions() as s:
        entry = service.get_entry(session=s, entry_id="kb037")
        service.set_status(session=s, actor=Actor.system("test"), entry=entry,
                           status=EntryStatus.RETIRED)
        s.commit()
    refused = client.post("/api/v1/kb/answers", headers=auth(city, "operator"), json={
        "entry_id": "kb037", "caller_phone": "13811112222", "demand": "水费在哪儿交"})
    assert refused.status_code == 409 and refused.json()["field"] == "entry"
