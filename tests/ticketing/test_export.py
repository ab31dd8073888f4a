"""The CSV export (issue 13): filters, columns, masking by role, streaming; both databases."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import insert
from sqlalchemy.orm import Session, sessionmaker

from tests.support.api import auth
from tests.support.city import City, settle
from ticketing import service
from ticketing.context import Domain
from ticketing.models import Ticket
from ticketing.queries import Filters
from ticketing.reports import EXPORT_BATCH, EXPORT_COLUMNS, export_csv

WATER = "朝阳区望京西园三区5号楼停水了，一直没来水"
POWER = "海淀区中关村南大街10号院停电了"


def rows_of(body: bytes) -> list[dict[str, str]]:
    assert body.startswith(b"\xef\xbb\xbf")  # BOM so Excel reads UTF-8
    return list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))


def make(sessions: sessionmaker[Session], domain: Domain, city: City, *, demand: str,
         received_at: datetime, phone: str = "13811112222", **kw: object) -> Ticket:
    operator = city.actor("operator")
    with sessions() as s:
        t = service.create_ticket(session=s, domain=domain, actor=operator, channel="api",
                                  caller_phone=phone, demand=demand, received_at=received_at,
                                  **kw)  # type: ignore[arg-type]
        service.accept(session=s, domain=domain, ticket=t, actor=operator)
        s.commit()
        return t


def test_columns_of_a_settled_ticket(client: TestClient, city: City, domain: Domain,
                                     sessions: sessionmaker[Session]) -> None:
    t = make(sessions, domain, city, demand=WATER, received_at=domain.now(),
             caller_name="李女士", address="朝阳区望京西园三区5号楼")
    operator = city.actor("operator")  # before our session: SQLite has one writer
    with sessions() as s:
        ticket = s.get_one(Ticket, t.id)
        settle(s, domain, ticket, operator, (True, False))
        s.commit()
    r = client.get("/api/v1/export.csv", headers=auth(city, "operator"))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    (row,) = rows_of(r.content)
    assert list(row) == [label for _, label in EXPORT_COLUMNS]
    assert row["工单编号"] == t.number and row["姓名"] == "李女士"
    assert row["电话"] == "13811112222"
    assert row["诉求类型"] == "投诉" and row["标题"] == t.subject and row["标题"]
    assert row["分类"] == "供水" and row["地址"] == "朝阳区望京西园三区5号楼"
    assert row["区"] == "朝阳区" and row["街道/乡镇"] and row["社区/村"]
    assert row["诉求内容"] == WATER and row["承办单位"] == "北京市自来水集团"
    assert row["状态"] == "已回访"
    assert row["签收时限"] and row["办结时限"] and row["办结时间"]
    assert row["办理结果"] == "已解决" and row["答复内容"] == "已处理"
    assert row["回访结果"] == "已解决，不满意"


def test_title_follows_a_corrected_category(client: TestClient, city: City, domain: Domain,
                                            sessions: sessionmaker[Session]) -> None:
    """标题 (Ticket.subject) is filled from the demand and leads with the category; an
    operator's correction of the category carries into it, so the file stays true."""
    t = make(sessions, domain, city, demand=WATER, received_at=domain.now())
    assert t.subject.startswith("供水：")
    operator = city.actor("operator")
    with sessions() as s:
        service.confirm_classification(session=s, domain=domain, ticket=s.get_one(Ticket, t.id),
                                       actor=operator, category="property")
        s.commit()
    (row,) = rows_of(client.get("/api/v1/export.csv", headers=auth(city, "operator")).content)
    assert row["分类"] == "物业管理"
    assert row["标题"] == "物业管理：" + t.subject.removeprefix("供水：")


def test_filters_by_call_time_unit_category_status(
    client: TestClient, city: City, domain: Domain, sessions: sessionmaker[Session]
) -> None:
    day = datetime(2026, 11, 10, 9, 0, tzinfo=domain.tz)
    early = make(sessions, domain, city, demand=WATER, received_at=day)
    late = make(sessions, domain, city, demand=WATER, received_at=day + timedelta(days=2),
                phone="13811113333")
    power = make(sessions, domain, city, demand=POWER, received_at=day + timedelta(days=1),
                 phone="13811114444")
    handler = city.actor("water-handler")
    with sessions() as s:
        service.sign(session=s, domain=domain, ticket=s.get_one(Ticket, late.id),
                     actor=handler)
        s.commit()
    op = auth(city, "operator")

    def numbers(**params: str) -> list[str]:
        r = client.get("/api/v1/export.csv", params=params, headers=op)
        assert r.status_code == 200, r.text
        return [row["工单编号"] for row in rows_of(r.content)]

    # In call-time order, whatever order the tickets were written in.
    assert numbers() == [early.number, power.number, late.number]
    # Local time without a zone is the hotline's; until is exclusive.
    assert numbers(since="2026-11-10T00:00:00", until="2026-11-12T00:00:00") == [
        early.number, power.number]
    assert numbers(since="2026-11-12T09:00:00") == [late.number]
    assert numbers(unit="bj-power") == [power.number]
    assert numbers(category="water") == [early.number, late.number]
    assert numbers(status="signed") == [late.number]
    assert numbers(category="water", status="dispatched", until="2026-11-11T00:00:00") == [
        early.number]
    bad = client.get("/api/v1/export.csv", params={"since": "yesterday"}, headers=op)
    assert bad.status_code == 422


def test_masking_and_scope_by_role(client: TestClient, city: City, domain: Domain,
                                   sessions: sessionmaker[Session]) -> None:
    now = domain.now()
    make(sessions, domain, city, demand=WATER, received_at=now, caller_name="李女士")
    make(sessions, domain, city, demand=WATER, received_at=now, phone="13811113333",
         caller_name="王先生", confidential=True)
    make(sessions, domain, city, demand=POWER, received_at=now, phone="13811114444")

    def rows(user: str) -> list[tuple[str, str]]:
        r = client.get("/api/v1/export.csv", headers=auth(city, user))
        assert r.status_code == 200
        return [(row["姓名"], row["电话"]) for row in rows_of(r.content)]

    assert rows("operator") == [("李女士", "13811112222"), ("王先生", "13811113333"),
                                ("", "13811114444")]
    assert rows("admin") == rows("operator")
    # Supervisors oversee and never call back: masked, but they may know who called.
    assert rows("supervisor") == [("李女士", "138****2222"), ("王先生", "138****3333"),
                                  ("", "138****4444")]
    # A handler sees only the unit's tickets, masked, and never a 保密 caller.
    assert rows("water-handler") == [("李女士", "138****2222"), ("保密", "保密")]
    assert rows("power-handler") == [("", "138****4444")]


def test_export_streams_lazily_in_batches(city: City, domain: Domain,
                                          sessions: sessionmaker[Session]) -> None:
    """Thousands of rows arrive in several chunks, each read only when it is asked for."""
    total = 4 * EXPORT_BATCH + 7
    now = domain.now()
    base = {"channel": "api", "caller_phone": "+8613811112222", "category": "water",
            "demand": WATER, "status": "draft", "received_at": now, "created_at": now,
            "updated_at": now, "version": 1}
    with sessions() as s:
        s.execute(insert(Ticket), [{**base, "number": f"T{i:08d}"} for i in range(total)])
        s.commit()
    chunks = export_csv(sessions=sessions, actor=city.actor("operator"), tz=domain.tz,
                        filters=Filters(category="water"), now=now)
    header = next(chunks)
    assert header.startswith("\ufeff工单编号,来电时间")
    first = next(chunks)
    assert first.count("\r\n") == EXPORT_BATCH
    # Rows written after the first batch was sent still come: the rest was not read yet.
    with sessions() as s:
        s.execute(insert(Ticket), [{**base, "number": "T99999999"}])
        s.commit()
    rest = list(chunks)
    assert len(rest) == 4 and all(c.count("\r\n") <= EXPORT_BATCH for c in rest)
    body = header + first + "".join(rest)
    numbers = [r["工单编号"] for r in csv.DictReader(io.StringIO(body.lstrip("\ufeff")))]
    assert numbers == [f"T{i:08d}" for i in range(total)] + ["T99999999"]
    assert all("138****" not in c for c in rest)  # the operator's file has whole numbers


def test_http_export_of_thousands_of_rows(client: TestClient, city: City, domain: Domain,
                                          sessions: sessionmaker[Session]) -> None:
    total = 2 * EXPORT_BATCH + 1
    now = domain.now()
    with sessions() as s:
        s.execute(insert(Ticket), [
            {"channel": "api", "caller_phone": "+8613811112222", "category": "water",
             "demand": WATER, "status": "draft", "received_at": now, "created_at": now,
             "updated_at": now, "version": 1, "number": f"T{i:08d}"} for i in range(total)])
        s.commit()
    with client.stream("GET", "/api/v1/export.csv", headers=auth(city, "operator")) as r:
        assert r.status_code == 200
        parts = [p for p in r.iter_bytes() if p]
    # The header, then one chunk per batch of rows: sent as read, not built whole first.
    assert len(parts) == 1 + 3
    rows = rows_of(b"".join(parts))
    assert len(rows) == total and rows[-1]["电话"] == "13811112222"
