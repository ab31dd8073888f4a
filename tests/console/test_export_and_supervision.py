"""The queue's export button (the queue's filters, a call-time range, the API's streaming
CSV) and the 督办 record page's 办结督办 and 并单 forms, through the console on SQLite and
PostgreSQL with the shipped settings: right and wrong roles, bad input."""

from __future__ import annotations

import csv
import html
import io
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.console.seed import make_ticket
from tests.support.city import City
from ticketing import citizen, service
from ticketing.context import Domain
from ticketing.models import SupervisionCase, Ticket, TicketEvent

Users = Callable[[str], TestClient]
EXPORT_LINK = re.compile(r'id="export" href="([^"]+)"')
HEATING = "朝阳区安贞里{n}号楼暖气不热，家里才十几度"


def export_link(page: str) -> str:
    m = EXPORT_LINK.search(page)
    assert m, "the queue has no export button"
    return html.unescape(m.group(1))


def csv_rows(c: TestClient, link: str) -> list[dict[str, str]]:
    r = c.get(link)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))


def test_export_button_carries_the_queue_filters_and_call_dates(
        as_user: Users, sessions: sessionmaker[Session], domain: Domain) -> None:
    today = domain.now().astimezone(domain.tz).date()
    old = make_ticket(sessions, domain, demand="朝阳区望京西园三区7号楼水管爆了",
                      phone="13700000007", received_at=domain.now() - timedelta(days=3))
    new = make_ticket(sessions, domain, demand="朝阳区望京西园三区8号楼停水了",
                      phone="13700000008")
    other = make_ticket(sessions, domain, demand="朝阳区安贞里小区物业不作为，楼道灯坏了",
                        phone="13700000009")
    sup = as_user("supervisor")

    page = sup.get("/console/queue?status=all&category=water").text
    link = export_link(page)
    assert link.startswith("/console/export.csv?") and "category=water" in link
    assert {r["工单编号"] for r in csv_rows(sup, link)} == {old, new}

    # The call-time range narrows the list and the export alike (both days included).
    since = (today - timedelta(days=1)).isoformat()
    page = sup.get(f"/console/queue?status=all&category=water&since={since}"
                   f"&until={today.isoformat()}", headers={"HX-Request": "true"}).text
    assert f'href="/console/tickets/{new}"' in page and f"/console/tickets/{old}" not in page
    rows = csv_rows(sup, export_link(page))
    assert [r["工单编号"] for r in rows] == [new]
    assert rows[0]["电话"] == "137****0008"  # a supervisor's file is masked, as the API's

    # The operator calls citizens back: whole numbers; every category when none is chosen.
    op = as_user("operator")
    rows = csv_rows(op, export_link(op.get(f"/console/queue?status=all&since={since}").text))
    assert {r["工单编号"] for r in rows} == {new, other}
    assert "13700000008" in {r["电话"] for r in rows}

    # A handler's export holds their unit's tickets only, like their queue.
    water = as_user("water-handler")
    rows = csv_rows(water, export_link(water.get("/console/queue?status=all").text))
    assert {r["工单编号"] for r in rows} == {old, new}


@pytest.mark.parametrize("query, message", [
    ("since=2026-13-40", "日期格式应为 YYYY-MM-DD"),
    ("until=yesterday", "日期格式应为 YYYY-MM-DD"),
    ("since=2026-03-10&until=2026-03-09", "结束日期不能早于开始日期"),
])
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # the dates' parsing, no query
def test_bad_call_dates_are_refused_in_chinese(as_user: Users, query: str,
                                               message: str) -> None:
    sup = as_user("supervisor")
    for path in ("/console/export.csv", "/console/queue"):
        r = sup.get(f"{path}?{query}")
        assert r.status_code == 422 and message in r.text


def test_export_needs_a_login(app) -> None:
    r = TestClient(app, follow_redirects=False).get("/console/export.csv?status=all")
    assert r.status_code == 303 and r.headers["location"].startswith("/console/login")


def _open_case(sessions: sessionmaker[Session], domain: Domain, city: City
               ) -> tuple[int, list[str]]:
    op = city.actor("operator")
    numbers = []
    with sessions() as s:
        for n in range(3):  # the shipped line: 3 of one category in one community
            t = service.create_ticket(session=s, domain=domain, actor=op, channel="api",
                                      caller_phone=f"1371234100{n}",
                                      demand=HEATING.format(n=n + 1))
            service.accept(session=s, domain=domain, ticket=t, actor=op)
            numbers.append(t.number)
        s.commit()
        case_id = s.scalars(select(SupervisionCase.id)).one()
    return case_id, numbers


def _case(sessions: sessionmaker[Session], case_id: int) -> SupervisionCase:
    with sessions() as s:
        case = s.get_one(SupervisionCase, case_id)
        s.expunge(case)
        return case


def test_supervisor_closes_a_supervision_record_with_a_note(
        as_user: Users, sessions: sessionmaker[Session], domain: Domain, city: City) -> None:
    case_id, numbers = _open_case(sessions, domain, city)
    sup = as_user("supervisor")
    # Reached from the dashboard and from each of its tickets.
    assert f'href="/console/supervision/{case_id}"' in sup.get("/console/dashboard").text
    assert (f'href="/console/supervision/{case_id}"'
            in sup.get(f"/console/tickets/{numbers[0]}").text)
    page = sup.get(f"/console/supervision/{case_id}").text
    assert "督办中" in page and all(n in page for n in numbers) and "办结督办" in page

    # The note is required, and free of control characters.
    r = sup.post(f"/console/supervision/{case_id}/close", data={"csrf": sup.csrf,
                                                                "note": "  "})
    assert r.status_code == 422 and "办结督办件需说明处理情况" in r.text
    r = sup.post(f"/console/supervision/{case_id}/close",
                 data={"csrf": sup.csrf, "note": "已协调\x00热力公司"})
    assert r.status_code == 422 and "控制字符" in r.text
    assert _case(sessions, case_id).status == "open"

    note = "已协调热力集团更换安贞里小区换热站循环泵，室温恢复至20度"
    r = sup.post(f"/console/supervision/{case_id}/close", data={"csrf": sup.csrf,
                                                                "note": note})
    assert r.status_code == 303
    assert r.headers["location"] == f"/console/supervision/{case_id}?done=close"
    case = _case(sessions, case_id)
    assert (case.status, case.close_note, case.closed_by) == ("closed", note, "督办科王科长")
    page = sup.get(r.headers["location"]).text
    assert "已办结督办件" in page and note in page and 'id="close"' not in page
    # Audited on every ticket of the record, and shown on its page.
    with sessions() as s:
        audited = s.scalars(select(Ticket.number).join(TicketEvent).where(
            TicketEvent.action == "supervise", TicketEvent.note == f"督办件办结：{note}",
            TicketEvent.actor_name == "督办科王科长")).all()
    assert sorted(audited) == sorted(numbers)
    assert f"督办件办结：{note}" in sup.get(f"/console/tickets/{numbers[1]}").text

    # Closed once: a second close is refused.
    r = sup.post(f"/console/supervision/{case_id}/close", data={"csrf": sup.csrf,
                                                                "note": "再次办结"})
    assert r.status_code == 409 and "督办件已办结" in r.text


def test_supervision_record_refuses_the_wrong_role_and_a_forged_form(
        as_user: Users, sessions: sessionmaker[Session], domain: Domain, city: City) -> None:
    case_id, _ = _open_case(sessions, domain, city)
    op = as_user("operator")
    page = op.get(f"/console/supervision/{case_id}")
    assert page.status_code == 200 and 'id="close"' not in page.text  # reads, cannot close
    r = op.post(f"/console/supervision/{case_id}/close", data={"csrf": op.csrf,
                                                               "note": "话务员想办结"})
    assert r.status_code == 403 and "不能使用此页面" in r.text
    handler = as_user("heating-handler")
    assert handler.get(f"/console/supervision/{case_id}").status_code == 403
    r = handler.post(f"/console/supervision/{case_id}/close",
                     data={"csrf": handler.csrf, "note": "承办人想办结"})
    assert r.status_code == 403
    sup = as_user("supervisor")
    r = sup.post(f"/console/supervision/{case_id}/close", data={"csrf": "forged",
                                                                "note": "伪造的表单"})
    assert r.status_code == 403 and "CSRF" in r.text
    assert sup.get(f"/console/supervision/{case_id + 1000}").status_code == 404
    assert _case(sessions, case_id).status == "open"


def _statuses(sessions: sessionmaker[Session], numbers: list[str]) -> list[str]:
    with sessions() as s:
        found = dict(s.execute(select(Ticket.number, Ticket.status)
                               .where(Ticket.number.in_(numbers))).all())
    return [found[n] for n in numbers]


def _merge(c: TestClient, case_id: int, **form: object) -> Any:
    return c.post(f"/console/supervision/{case_id}/merge", data={"csrf": c.csrf, **form})


def test_supervisor_merges_the_records_tickets_into_one(
        as_user: Users, sessions: sessionmaker[Session], domain: Domain, city: City) -> None:
    case_id, numbers = _open_case(sessions, domain, city)
    first, second, third = numbers
    outsider = make_ticket(sessions, domain, demand="朝阳区望京西园三区8号楼停水了",
                           phone="13700000018")
    sup = as_user("supervisor")
    page = sup.get(f"/console/supervision/{case_id}").text
    assert f'action="/console/supervision/{case_id}/merge"' in page
    for n in numbers:
        assert f'name="primary" value="{n}"' in page and f'name="others" value="{n}"' in page

    # Refused, saying why, and nothing changes: no reason; no primary; a ticket of another
    # record; the primary ticked as one to merge (the merging service's own check).
    r = _merge(sup, case_id, primary=first, others=[second, third], reason="  ")
    assert r.status_code == 422 and "“并单”需要填写理由" in r.text
    assert f'name="others" value="{second}" aria-label="将{second}并入主单" checked' in r.text
    r = _merge(sup, case_id, others=[second], reason="同一换热站")
    assert r.status_code == 422 and "请选择主单" in r.text
    r = _merge(sup, case_id, primary=first, others=[second, outsider], reason="同一换热站")
    assert r.status_code == 422 and f"工单{outsider}不属于本督办件" in r.text
    r = _merge(sup, case_id, primary=outsider, others=[second], reason="同一换热站")
    assert r.status_code == 422 and f"工单{outsider}不属于本督办件" in r.text
    r = _merge(sup, case_id, primary=first, others=[first, second], reason="同一换热站")
    assert r.status_code == 422 and "不能将工单并入其自身" in r.text
    r = _merge(sup, case_id, primary=first, others=["999999"], reason="同一换热站")
    assert r.status_code == 422 and "未找到工单999999" in r.text
    r = _merge(sup, case_id, primary=first, others=[second], reason="换热站\x00")
    assert r.status_code == 422 and "控制字符" in r.text
    assert _statuses(sessions, [*numbers, outsider]) == ["dispatched"] * 4

    reason = "同一换热站循环泵故障，合并办理"
    r = _merge(sup, case_id, primary=second, others=[first, third], reason=reason)
    assert r.status_code == 303
    assert r.headers["location"] == f"/console/supervision/{case_id}?done=merge#merge"
    assert _statuses(sessions, numbers) == ["merged", "dispatched", "merged"]
    page = sup.get(r.headers["location"]).text
    assert "已并单。" in page and 'id="merge"' not in page  # one open ticket is left
    # Audited by the merging service on every ticket of the group, with the reason.
    with sessions() as s:
        audited = s.execute(select(Ticket.number, TicketEvent.action, TicketEvent.note)
                            .join(TicketEvent).where(
                                TicketEvent.action.in_(["merge", "merge_group"]),
                                TicketEvent.actor_name == "督办科王科长")).all()
    assert sorted(audited) == sorted([
        (first, "merge", reason), (third, "merge", reason),
        (second, "merge_group", f"并单：{first}、{third} 并入本工单")])
    member = sup.get(f"/console/tickets/{first}").text
    assert f'本工单已并入主单 <a href="/console/tickets/{second}">{second}</a>' in member


def test_merging_from_the_record_refuses_the_wrong_role_and_a_forged_form(
        as_user: Users, sessions: sessionmaker[Session], domain: Domain, city: City) -> None:
    case_id, numbers = _open_case(sessions, domain, city)
    form = {"primary": numbers[0], "others": numbers[1:], "reason": "同一换热站"}
    op = as_user("operator")  # merges from the ticket page, not from the record
    page = op.get(f"/console/supervision/{case_id}")
    assert page.status_code == 200 and 'id="merge"' not in page.text
    r = _merge(op, case_id, **form)
    assert r.status_code == 403 and "不能使用此页面" in r.text
    handler = as_user("heating-handler")
    assert _merge(handler, case_id, **form).status_code == 403
    sup = as_user("supervisor")
    r = sup.post(f"/console/supervision/{case_id}/merge", data={"csrf": "forged", **form})
    assert r.status_code == 403 and "CSRF" in r.text
    assert _merge(sup, case_id + 1000, **form).status_code == 404
    assert _statuses(sessions, numbers) == ["dispatched"] * 3


def test_the_record_offers_no_merge_across_the_confidential_flag(
        as_user: Users, sessions: sessionmaker[Session], domain: Domain, city: City) -> None:
    case_id, numbers = _open_case(sessions, domain, city)
    operator = city.actor("operator")  # before our session: SQLite has one writer
    with sessions() as s:
        t = s.scalars(select(Ticket).where(Ticket.number == numbers[2])).one()
        citizen.set_preferences(session=s, ticket=t, actor=operator,
                                confidential=True, via="test")
        s.commit()
    sup = as_user("supervisor")
    r = _merge(sup, case_id, primary=numbers[0], others=numbers[1:], reason="同一换热站")
    assert r.status_code == 409 and f"工单{numbers[2]}与主单保密设置不同" in r.text
    assert _statuses(sessions, numbers) == ["dispatched"] * 3
