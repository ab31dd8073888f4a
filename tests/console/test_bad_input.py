"""The console's forms and routes apply the API's input rules: known categories, no control
or bidi characters, ASCII digits only, and 416 for a range past the end of a recording."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from config import Settings
from tests.console.seed import call_ticket, make_ticket
from ticketing.context import Domain
from ticketing.models import Ticket

Users = Callable[[str], TestClient]


def intake(c: TestClient, **form: str):
    return c.post("/console/intake", data={"csrf": c.csrf, "caller_phone": "13800001111",
                                           "demand": "朝阳区望京停水了", **form})


def count(sessions) -> int:
    with sessions() as s:
        return s.scalar(select(func.count(Ticket.id))) or 0


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # subject: refused by validation, not storage
def test_intake_refuses_unknown_categories_and_control_characters(
    as_user: Users, sessions
) -> None:
    op = as_user("operator")
    r = intake(op, category="bogus")
    assert r.status_code == 422 and "请从列表中选择分类" in r.text
    for form in ({"caller_name": "王\u202e先生"}, {"demand": "停水\x00了"},
                 {"address": "望京\n西园"}):
        r = intake(op, **form)
        assert r.status_code == 422 and "不允许的控制字符" in r.text, form
    assert count(sessions) == 0
    # A textarea sends CRLF; the lines are kept, as LF, like the API stores them.
    r = intake(op, category="water", demand="朝阳区望京停水了\r\n已经三天")
    assert r.status_code == 303
    with sessions() as s:
        t = s.scalars(select(Ticket)).one()
        assert (t.category, t.demand) == ("water", "朝阳区望京停水了\n已经三天")


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # subject: refused by validation, not storage
def test_action_forms_refuse_control_characters(as_user: Users, sessions,
                                                domain: Domain) -> None:
    n = make_ticket(sessions, domain)
    h = as_user("water-handler")
    assert h.post(f"/console/tickets/{n}/sign", data={"csrf": h.csrf}).status_code == 303
    for action, form in (("reply", {"text": "已处理\x00"}),
                         ("return", {"reason": "非本单位\u2067职责"})):
        r = h.post(f"/console/tickets/{n}/{action}", data={"csrf": h.csrf, **form})
        assert r.status_code == 422 and "不允许的控制字符" in r.text, action
    r = h.post(f"/console/tickets/{n}/reply", data={"csrf": h.csrf, "text": "已抢修\r\n恢复供水",
                                                   "outcome": "resolved"})
    assert r.status_code == 303
    with sessions() as s:
        t = s.scalars(select(Ticket).where(Ticket.number == n)).one()
        assert (t.status, t.reply_text) == ("replied", "已抢修\n恢复供水")


def test_unicode_digits_are_not_numbers(as_user: Users, sessions, domain: Domain) -> None:
    n = make_ticket(sessions, domain, demand="海淀区某小区物业不管楼道垃圾", category="property")
    op = as_user("operator")
    for page in ("²", "٣", "1_0", "9" * 5000):  # 5,000 digits: int() raised, a 500 (sec57)
        r = op.get("/console/queue", params={"page": page, "status": "all"})
        assert r.status_code == 200 and f'href="/console/tickets/{n}"' in r.text, page
    assert op.get("/console/tickets/²").status_code == 404
    assert op.get("/console/tickets/" + "9" * 5000).status_code == 404
    r = op.post(f"/console/tickets/{n}/reassign",
                data={"csrf": op.csrf, "unit_id": "²", "reason": "属地管理"})
    assert r.status_code == 422 and "请选择存在且可接收工单的承办单位" in r.text


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # subject: the Range header, not storage
def test_range_past_the_end_of_a_recording_is_416(
    as_user: Users, sessions, domain: Domain, settings: Settings
) -> None:
    n = call_ticket(sessions, domain, settings.recordings_dir)
    h = as_user("water-handler")
    size = len(h.get(f"/console/tickets/{n}/recording").content)
    for bad in (f"bytes={size}-", f"bytes={size + 1000}-{size + 2000}", "bytes=-0"):
        r = h.get(f"/console/tickets/{n}/recording", headers={"Range": bad})
        assert r.status_code == 416, bad
        assert r.headers["content-range"] == f"bytes */{size}" and not r.content
    # Ranges this server ignores (as RFC 9110 allows) still get the whole file.
    # (sec57: a number of thousands of digits made int() raise, a 500.)
    for ignored in ("bytes=²-".encode(), "bytes=+5-", "bytes=5-2", "bytes=0-1,4-5",
                    "items=0-1", f"bytes={'9' * 5000}-", f"bytes=0-{'9' * 5000}",
                    f"bytes=-{'9' * 5000}"):
        r = h.get(f"/console/tickets/{n}/recording", headers={"Range": ignored})
        assert r.status_code == 200 and len(r.content) == size, ignored
    r = h.get(f"/console/tickets/{n}/recording", headers={"Range": f"bytes={size - 10}-"})
    assert r.status_code == 206 and len(r.content) == 10
    r = h.get(f"/console/tickets/{n}/recording", headers={"Range": "bytes=-10"})
    assert r.status_code == 206 and r.headers["content-range"] == (
        f"bytes {size - 10}-{size - 1}/{size}")



@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # subject: the login and CSRF gate, not storage
def test_intake_classifies_nothing_for_strangers_handlers_or_forged_forms(
    app, as_user: Users, sessions, monkeypatch
) -> None:
    # Classifying runs before the transaction and is the costliest step of an intake: a
    # post without a signed-in session, with a wrong CSRF token, or by a role that may not
    # file (a handler's was classified, then refused) must not start it.
    domain: Domain = app.state.domain
    seen: list[str] = []
    understand = domain.understand
    monkeypatch.setattr(domain, "understand", lambda text: seen.append(text) or understand(text))
    stranger = TestClient(app, follow_redirects=False)
    for path in ("/console/intake", "/console/intake/answer"):
        r = stranger.post(path, data={"csrf": "x", "caller_phone": "13800001111",
                                      "demand": "1" * 5000})
        assert r.status_code in (303, 403), (path, r.status_code)
    op = as_user("operator")
    r = op.post("/console/intake", data={"csrf": "forged", "caller_phone": "13800001111",
                                         "demand": "朝阳区望京停水了"})
    assert r.status_code == 403
    h = as_user("water-handler")
    for path in ("/console/intake", "/console/intake/answer"):
        r = h.post(path, data={"csrf": h.csrf, "caller_phone": "13800001111", "entry_id": "x",
                               "demand": "1" * 5000})
        assert r.status_code == 403, (path, r.status_code)
    assert seen == [] and count(sessions) == 0
    assert intake(op).status_code == 303 and len(seen) == 1 and count(sessions) == 1


def test_queue_days_at_the_calendars_ends_are_a_form_error_not_a_500(
        as_user: Users, sessions, domain: Domain) -> None:
    # Fourth review: 0001-01-01 in Beijing is no UTC time, the day after 9999-12-31 no
    # date; the queue and its CSV export answered a bare 500.
    make_ticket(sessions, domain)
    sup = as_user("supervisor")
    for days in ({"since": "0001-01-01"}, {"until": "9999-12-31"},
                 {"since": "0001-01-01", "until": "9999-12-31"}):
        for path in ("/console/queue", "/console/export.csv"):
            r = sup.get(path, params=days)
            assert r.status_code == 422, (path, days, r.status_code)
            assert "日期超出范围" in r.text, (path, days)
    r = sup.get("/console/queue", params={"since": "2000-01-01", "until": "9998-12-30"})
    assert r.status_code == 200


def test_a_unit_or_handler_id_past_the_databases_integers_is_a_form_error(
        as_user: Users, sessions, domain: Domain) -> None:
    # The form takes up to 12 digits; 2**31 overflows PostgreSQL's INTEGER columns (a 500).
    n = make_ticket(sessions, domain, demand="海淀区某小区物业不管楼道垃圾", category="property")
    op = as_user("operator")
    for form in ({"unit_id": str(2**31)}, {"unit_id": "1", "handler_id": "999999999999"},
                 {"unit_id": "9" * 5000}):
        r = op.post(f"/console/tickets/{n}/reassign",
                    data={"csrf": op.csrf, "reason": "属地管理", **form})
        assert r.status_code == 422, (form, r.status_code)
    with sessions() as s:
        assert s.scalars(select(Ticket.status).where(Ticket.number == n)).one() == "dispatched"


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # subject: the filter's reading, not storage
def test_a_queue_or_dashboard_filter_naming_nothing_is_said_not_dropped(
        as_user: Users, sessions, domain: Domain) -> None:
    """review65: the console kept the opposite of the API's rule: `export.csv?status=all&
    category=watr` dropped the unknown category and exported the whole queue as if
    filtered, and `dashboard?unit=bj-watr` showed the whole scope. Now the API's rule
    (`queries.check_filters`): refused in Mandarin; a category retired from
    categories.toml that tickets still hold is found."""
    make_ticket(sessions, domain)
    make_ticket(sessions, domain, demand="朝阳区望京西园三区燃气泄漏了", phone="13811113333")
    with sessions() as s:
        s.scalars(select(Ticket)).first().category = "retired"
        s.commit()
    sup = as_user("supervisor")
    for path in ("/console/export.csv?status=all&category=watr",
                 "/console/queue?status=all&category=watr"):
        r = sup.get(path)
        assert r.status_code == 422 and "没有分类“watr”" in r.text, (path, r.text[:300])
    r = sup.get("/console/export.csv?status=all&category=retired")
    assert r.status_code == 200 and len(r.text.splitlines()) == 2, r.text
    assert len(sup.get("/console/export.csv?status=all").text.splitlines()) == 3
    r = sup.get("/console/dashboard?unit=bj-watr")
    assert r.status_code == 404 and "bj-watr" in r.text and "没有这个单位" in r.text, r.text[:300]
    assert sup.get("/console/dashboard?unit=bj-water").status_code == 200
