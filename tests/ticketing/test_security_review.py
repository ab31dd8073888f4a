"""An attacker's review of the HTTP surface (docs/security.md, "The HTTP surface"): what a
logged-in user of one unit can learn about tickets outside their scope through lists that
name tickets, how downloaded attachments are served, and what an unexpected error shows.
Through the real app on SQLite and PostgreSQL with the shipped settings; a check made before
anything is stored (a forged form or webhook, headers, the error page) on SQLite alone
(docs/suite.md)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, time

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from config import Settings
from hotline.app import create_app
from hotline.console import dashboard, intake, kb, supervision, views
from outbound.models import Kind
from outbound.sms import WebhookSms
from outbound.worker import OutboundWorker
from tests.console.conftest import log_in
from tests.outbound.support import Clock, ScriptedDialer, drive
from tests.support.api import auth
from tests.support.city import City
from tests.support.nodes import SmsGateway
from tests.ticketing.test_attachments import png, signed_ticket, upload
from ticketing import service
from ticketing.context import Domain
from ticketing.models import SupervisionCase, Ticket, TicketEvent

WATER = "朝阳区望京西园三区5号楼停水了，一直没来水"
HEATING = "朝阳区安贞里{n}号楼暖气不热，家里才十几度"
SUPERVISORS = ("supervisor", "cy-supervisor")  # the city's and a district's


@pytest.fixture
def app(settings: Settings, city: City) -> FastAPI:
    return create_app(settings)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c


def create(client: TestClient, city: City, demand: str, phone: str, **extra: object) -> dict:
    r = client.post("/api/v1/tickets", headers=auth(city, "operator"),
                    json={"caller_phone": phone, "demand": demand, **extra})
    assert r.status_code == 201, r.text
    return r.json()


# --- lists that name tickets hold only tickets the reader may open -----------------------


def test_manual_dispatch_queue_lists_only_tickets_the_reader_may_open(
        client: TestClient, city: City) -> None:
    ticket = create(client, city, WATER, "13811112222", category="water")
    number = ticket["number"]
    r = client.post(f"/api/v1/tickets/{number}/return", headers=auth(city, "water-handler"),
                    json={"reason": "不属于本单位职责"})
    assert r.status_code == 200 and r.json()["status"] == "returned", r.text
    assert r.json()["unit"] is None

    # The dispatcher's queue: the returned ticket waits there.
    listed = client.get("/api/v1/queue/manual", headers=auth(city, "operator"))
    assert number in [t["number"] for t in listed.json()]
    for user in SUPERVISORS:
        # A unit-less ticket is in no supervisor's scope: the ticket itself is absent...
        assert client.get(f"/api/v1/tickets/{number}",
                          headers=auth(city, user)).status_code == 404
        # ...and so is its demand, address and masked number from the queue.
        listed = client.get("/api/v1/queue/manual", headers=auth(city, user))
        assert listed.status_code == 200
        assert number not in [t["number"] for t in listed.json()]
        for t in listed.json():
            assert client.get(f"/api/v1/tickets/{t['number']}",
                              headers=auth(city, user)).status_code == 200
    # A handler is not a dispatcher.
    assert client.get("/api/v1/queue/manual",
                      headers=auth(city, "water-handler")).status_code == 403


def _case_across_units(client: TestClient, city: City, sessions) -> tuple[int, list[str], str]:
    """A 督办 record of three heating tickets, one of them 改派'd to the 朝阳区 unit: the
    record's number, its tickets, and the one in 朝阳区."""
    numbers = [create(client, city, HEATING.format(n=n + 1), f"1371234100{n}")["number"]
               for n in range(3)]
    with sessions() as s:
        case_id = s.scalars(select(SupervisionCase.id)).one()
    r = client.post(f"/api/v1/tickets/{numbers[1]}/reassign", headers=auth(city, "operator"),
                    json={"unit_id": city.unit_id("cy"), "reason": "属地办理"})
    assert r.status_code == 200 and r.json()["unit"] == "cy", r.text
    for n in (numbers[0], numbers[2]):  # the others are held by a unit outside 朝阳区
        r = client.get(f"/api/v1/tickets/{n}", headers=auth(city, "operator")).json()
        assert r["unit"] is not None and not r["unit"].startswith("cy")
    return case_id, numbers, numbers[1]


def test_supervision_record_names_only_the_readers_tickets(
        client: TestClient, city: City, sessions) -> None:
    case_id, numbers, theirs = _case_across_units(client, city, sessions)

    # The city's supervisor oversees every unit: the whole record.
    cases = client.get("/api/v1/supervision", headers=auth(city, "supervisor")).json()
    assert [c["tickets"] for c in cases if c["id"] == case_id] == [numbers]

    # 朝阳区's supervisor sees the record for their one ticket, and only that ticket.
    cy = auth(city, "cy-supervisor")
    cases = client.get("/api/v1/supervision", headers=cy).json()
    assert [c["tickets"] for c in cases if c["id"] == case_id] == [[theirs]]
    for n in numbers:
        if n != theirs:
            assert client.get(f"/api/v1/tickets/{n}", headers=cy).status_code == 404
    r = client.post(f"/api/v1/supervision/{case_id}/close", headers=cy,
                    json={"reason": "已统一协调热力公司检修"})
    assert r.status_code == 200 and r.json()["tickets"] == [theirs]


def test_supervision_pages_link_only_the_readers_tickets(
        app: FastAPI, client: TestClient, city: City, sessions) -> None:
    case_id, numbers, theirs = _case_across_units(client, city, sessions)
    others = [n for n in numbers if n != theirs]
    cy = log_in(app, city, "cy-supervisor")
    for path in (f"/console/supervision/{case_id}", "/console/dashboard"):
        page = cy.get(path)
        assert page.status_code == 200
        assert f'href="/console/tickets/{theirs}"' in page.text
        for n in others:
            assert n not in page.text, (path, n)
    city_wide = log_in(app, city, "supervisor").get(f"/console/supervision/{case_id}").text
    assert all(f'href="/console/tickets/{n}"' in city_wide for n in numbers)


# --- a confidential caller's number stays out of the handler's audit trail -------------


@pytest.fixture
def gateway() -> Iterator[SmsGateway]:
    g = SmsGateway()
    yield g
    g.close()


def test_confidential_callers_number_is_not_in_the_handlers_trail(
        app: FastAPI, client: TestClient, city: City, sessions, domain: Domain,
        gateway: SmsGateway) -> None:
    # Mid-morning, outside the shipped quiet hours, so the 受理 SMS goes out at once.
    clock = Clock(domain)
    clock.at = datetime.combine(clock.at.astimezone(domain.tz).date(), time(10), domain.tz)
    operator = city.actor("operator")
    with sessions() as s:
        t = service.create_ticket(session=s, domain=domain, actor=operator, channel="api",
                                  caller_phone="13811112222", demand=WATER, confidential=True)
        service.accept(session=s, domain=domain, ticket=t, actor=operator)
        s.commit()
        number = t.number
    # The real worker texts the caller (受理短信) through a loopback SMS gateway, and audits
    # the attempt on the ticket with the number it went to, masked.
    worker = OutboundWorker(sessions=sessions, domain=domain, dialer=ScriptedDialer(),
                            sms=WebhookSms(gateway.url), name="test-worker")
    try:
        drive(worker, lambda: bool(gateway.to("+8613811112222")), clock=clock)
    finally:
        worker.shutdown()
    masked = "138****2222"

    def trail(user: str) -> list[dict]:
        r = client.get(f"/api/v1/tickets/{number}/events", headers=auth(city, user))
        assert r.status_code == 200, r.text
        return r.json()

    def texted(events: list[dict]) -> list[dict]:
        return [e for e in events if (e["data"] or {}).get("kind") == Kind.CITIZEN_SMS.value]

    # The operator calls citizens back: the trail says where the SMS went.
    assert [e["data"]["to"] for e in texted(trail("operator"))] == [masked]
    # The handler sees that the caller was texted, never to which number: not in the trail,
    # not in the ticket, not on the console's ticket page.
    mine = trail("water-handler")
    assert texted(mine) and all("to" not in e["data"] for e in texted(mine))
    shown = client.get(f"/api/v1/tickets/{number}", headers=auth(city, "water-handler"))
    assert shown.json()["caller_phone"] is None and masked not in shown.text
    assert masked not in str(mine)
    page = log_in(app, city, "water-handler").get(f"/console/tickets/{number}")
    assert page.status_code == 200 and "受理" in page.text and masked not in page.text
    # Hiding it changed nothing stored.
    assert [e["data"]["to"] for e in texted(trail("operator"))] == [masked]


# --- downloaded attachments run nothing in our origin ------------------------------------


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # subject: the download's headers, not storage
def test_attachment_downloads_are_sandboxed(app: FastAPI, client: TestClient,
                                            city: City) -> None:
    number = signed_ticket(client, city)
    att = upload(client, city, number, png(), "现场.png", "image/png").json()
    api = client.get(f"/api/v1/tickets/{number}/attachments/{att['id']}",
                     headers=auth(city, "water-handler"))
    console = log_in(app, city, "water-handler").get(
        f"/console/tickets/{number}/attachments/{att['id']}")
    for r in (api, console):
        assert r.status_code == 200 and r.headers["content-type"] == "image/png"
        policy = [d.strip() for d in r.headers["content-security-policy"].split(";")]
        assert "sandbox" in policy and "default-src 'none'" in policy
        assert r.headers["x-content-type-options"] == "nosniff"


# --- an unexpected error shows nothing of the code -----------------------------------------


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # subject: the error page, not storage
def test_an_unexpected_error_shows_no_trace(app: FastAPI, city: City) -> None:
    secret = "db password is hunter2"

    def broken() -> None:
        raise RuntimeError(secret)

    # Routes that fail the way a bug would, under the API's and the console's prefixes.
    app.add_api_route("/api/v1/broken", broken)
    app.add_api_route("/console/broken", broken)
    with TestClient(app, raise_server_exceptions=False) as c:
        for path in ("/api/v1/broken", "/console/broken"):
            r = c.get(path, headers=auth(city, "operator"))
            assert r.status_code == 500
            assert secret not in r.text and "Traceback" not in r.text
            assert "RuntimeError" not in r.text and ".py" not in r.text


# --- every console form needs the session's CSRF token -------------------------------------


def _console_posts() -> list[str]:
    """Every POST route of the console, with its path parameters filled in below."""
    paths = []
    for module in (views, intake, dashboard, kb, supervision):
        paths += ["/console" + r.path for r in module.router.routes
                  if "POST" in getattr(r, "methods", ())]
    return sorted(set(paths))


def _trail(sessions, number: str) -> list[tuple[str, str]]:
    with sessions() as s:
        tid = s.scalars(select(Ticket.id).where(Ticket.number == number)).one()
        return [(e.action, e.to_status or "") for e in s.scalars(
            select(TicketEvent).where(TicketEvent.ticket_id == tid).order_by(TicketEvent.id))]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # subject: the CSRF check, not storage
def test_every_console_post_refuses_a_forged_form(
        app: FastAPI, client: TestClient, city: City, sessions) -> None:
    number = create(client, city, WATER, "13811112222", category="water")["number"]
    before = _trail(sessions, number)
    fill = {"{number}": number, "{action}": "sign", "{case_id}": "1", "{entry_id}": "KB-1"}
    paths = _console_posts()
    assert {"/console/login", "/console/logout", "/console/tickets/{number}/{action}",
            "/console/tickets/{number}/merge", "/console/intake"} <= set(paths)
    for user in ("admin", "water-handler"):
        browser = log_in(app, city, user)
        for path in paths:
            for path_param, value in fill.items():
                path = path.replace(path_param, value)
            assert "{" not in path, path
            for form in ({}, {"csrf": "forged"}, {"csrf": ""}):
                # Multipart, with a file: the KB import needs one to reach its check.
                r = browser.post(path, data={"reason": "伪造", "text": "伪造", **form},
                                 files={"file": ("kb.tsv", b"id\ttitle\n", "text/plain")})
                # Refused for the token, not for the role or the state.
                assert r.status_code == 403, (user, path, form, r.status_code)
                assert "安全校验失败" in r.text, (user, path, form)
        # Still logged in (a forged logout ends nothing), and nothing happened.
        assert browser.get("/console/queue").status_code == 200
    assert _trail(sessions, number) == before


# --- no body sets what the service decides (mass assignment) --------------------------------


@pytest.mark.parametrize("path, body", [
    ("reply", {"text": "已修复", "outcome": "resolved", "status": "closed"}),
    ("reply", {"text": "已修复", "outcome": "resolved", "unit_id": 1}),
    ("respondent", {"respondent": "某公司", "confidential": False}),
    ("request_exclusion", {"reason": "重复诉求", "text": "重复", "points": 0}),
    ("sign", None),
])
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # subject: refused by validation, not storage
def test_a_handler_cannot_set_fields_the_service_decides(
        client: TestClient, city: City, sessions, path: str, body: dict | None) -> None:
    ticket = create(client, city, WATER, "13811112222", category="water",
                    confidential=True)
    number = ticket["number"]
    before = _trail(sessions, number)
    handler = auth(city, "water-handler")
    if body is None:  # no PATCH/PUT of a ticket at all
        for method in ("PATCH", "PUT"):
            r = client.request(method, f"/api/v1/tickets/{number}", headers=handler,
                               json={"status": "closed", "unit": "hd", "confidential": False})
            assert r.status_code == 405, (method, r.status_code)
    else:
        r = client.post(f"/api/v1/tickets/{number}/{path}", headers=handler, json=body)
        assert r.status_code == 422 and r.json()["error"] == "invalid_input", r.text
    shown = client.get(f"/api/v1/tickets/{number}", headers=auth(city, "operator")).json()
    assert (shown["status"], shown["unit"], shown["confidential"]) == (
        ticket["status"], ticket["unit"], True)
    assert _trail(sessions, number) == before


# --- 并单/拆单 stay within the scope of whoever merges ----------------------------------------


def test_a_supervisor_cannot_merge_or_split_tickets_outside_their_units(
        client: TestClient, city: City, sessions) -> None:
    op, cy = auth(city, "operator"), auth(city, "cy-supervisor")
    water = [create(client, city, WATER, f"1381111000{n}", category="water")["number"]
             for n in range(3)]  # held by bj-water, outside 朝阳区
    mine = create(client, city, WATER, "13811110009", category="water")["number"]
    r = client.post(f"/api/v1/tickets/{mine}/reassign", headers=op,
                    json={"unit_id": city.unit_id("cy"), "reason": "属地办理"})
    assert r.status_code == 200 and r.json()["unit"] == "cy"
    before = {n: _trail(sessions, n) for n in [*water, mine]}

    # Their own ticket as primary, another unit's as the one merged: as if absent.
    r = client.post(f"/api/v1/tickets/{mine}/merge", headers=cy, json={"others": [water[0]]})
    assert r.status_code == 404
    # Another unit's ticket as primary (by number or by id).
    for ref in (water[0], str(client.get(f"/api/v1/tickets/{water[0]}",
                                          headers=op).json()["id"])):
        r = client.post(f"/api/v1/tickets/{ref}/merge", headers=cy, json={"others": [mine]})
        assert r.status_code == 404
    assert {n: _trail(sessions, n) for n in [*water, mine]} == before

    # The operator merges the water tickets; 朝阳区's supervisor can neither split the group
    # nor read it.
    r = client.post(f"/api/v1/tickets/{water[0]}/merge", headers=op,
                    json={"others": water[1:], "reason": "同一楼栋停水"})
    assert r.status_code == 200, r.text
    r = client.post(f"/api/v1/tickets/{water[1]}/unmerge", headers=cy, json={"reason": "误并"})
    assert r.status_code == 404
    assert client.get(f"/api/v1/tickets/{water[1]}/group", headers=cy).status_code == 404
    # The group is as the operator left it.
    assert client.get(f"/api/v1/tickets/{water[1]}",
                      headers=op).json()["status"] == "merged"


# --- an upload is not held in memory before its token is checked ---------------------------


def _through_body_limit(chunks: list[bytes], *, declared: bool,
                        path: str = "/api/v1/tickets/2612030001/attachments"
                        ) -> tuple[int, list[int]]:
    """Send an upload's body through hotline.app.BodyLimit (the shipped limits) in
    ``chunks``; returns the answer's status and the sizes of the body messages the app
    behind it received."""
    import asyncio

    from hotline.app import BodyLimit, upload_allowances

    shipped = Settings()
    seen: list[int] = []

    async def app_behind(scope, receive, send) -> None:  # reads the body as an app does
        while True:
            message = await receive()
            seen.append(len(message.get("body", b"")))
            if not message.get("more_body", False):
                break
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    messages = [{"type": "http.request", "body": c, "more_body": i < len(chunks) - 1}
                for i, c in enumerate(chunks)]
    sent: list[dict] = []

    async def receive() -> dict:
        return messages.pop(0)

    async def send(message: dict) -> None:
        sent.append(message)

    length = sum(map(len, chunks))
    headers = [(b"content-length", str(length).encode())] if declared else []
    scope = {"type": "http", "method": "POST", "headers": headers, "path": path}
    limit = BodyLimit(app_behind, max_bytes=shipped.max_body_bytes,
                      uploads=upload_allowances(shipped),
                      chunked_upload_bytes=shipped.attachments.max_bytes)
    asyncio.run(limit(scope, receive, send))
    return sent[0]["status"], seen


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
def test_an_upload_reaches_the_app_as_it_arrives_never_copied_whole(declared: bool) -> None:
    chunk = 2**16
    shipped = Settings()
    n = shipped.attachments.max_bytes // chunk  # a file at the shipped limit, in 64 KB parts
    status, seen = _through_body_limit([b"\0" * chunk] * n, declared=declared)
    # The app (the multipart parser, which puts a file part in a temporary file) gets the
    # parts one by one: no message holding the whole body, so no second copy of it.
    assert status == 204 and seen == [chunk] * n
    # Over the limit is still refused before the app reads anything.
    over = shipped.max_body_bytes + shipped.attachments.max_bytes + 1
    status, seen = _through_body_limit([b"\0" * chunk] * (over // chunk + 1),
                                       declared=declared)
    assert status == 413 and seen == []


def test_the_reply_forms_files_pass_but_never_held_in_memory_past_one() -> None:
    # The console's reply form carries up to attachments.MAX_FILES files: with a declared
    # length they reach the app as they come; sent chunked (buffered here) no more than
    # one file's worth, as before, whatever a stranger sends.
    from ticketing.attachments import MAX_FILES

    chunk, shipped = 2**16, Settings()
    n = 2 * shipped.attachments.max_bytes // chunk  # two files at the limit
    path = "/console/tickets/2612030001/reply"
    status, seen = _through_body_limit([b"\0" * chunk] * n, declared=True, path=path)
    assert status == 204 and seen == [chunk] * n and MAX_FILES >= 2
    status, seen = _through_body_limit([b"\0" * chunk] * n, declared=False, path=path)
    assert status == 413 and seen == []


# --- every Twilio webhook and the SMS gateway's check their signature -----------------------


def _webhooks() -> list[str]:
    """Every route Twilio or the SMS gateway posts to (the routers' own lists, so a new
    webhook is swept too)."""
    from ivr.twilio import views as inbound
    from outbound import views as outbound

    paths = [inbound.router.prefix + r.path.removeprefix(inbound.router.prefix)
             for r in inbound.router.routes if "POST" in getattr(r, "methods", ())]
    paths += [r.path for r in outbound.router.routes if "POST" in getattr(r, "methods", ())
              and ("/twilio/" in r.path or "/sms/" in r.path)]
    return sorted(set(paths))


def _forged_posts(client: TestClient, token: str) -> list[tuple[str, str, int]]:
    import hashlib
    import hmac

    from twilio.request_validator import RequestValidator

    form = {"CallSid": "CA" + "0" * 32, "From": "+8613811112222", "CallStatus": "completed",
            "Digits": "1", "RecordingSid": "RE" + "0" * 32, "MessageSid": "SM" + "0" * 32,
            "RecordingUrl": "https://api.twilio.com/x", "RecordingStatus": "completed",
            "Body": "11"}
    body = b'{"id": "m1", "from": "13811112222", "text": "11"}'
    answers = []
    for path in _webhooks():
        url = f"{path}?attempt=1"
        if path.endswith("/sms/inbound"):
            tries = {"no signature": {},
                     "empty-key HMAC": {"X-Hotline-Signature": hmac.new(
                         b"", body, hashlib.sha256).hexdigest()},
                     "wrong signature": {"X-Hotline-Signature": "0" * 64}}
            for why, headers in tries.items():
                r = client.post(url, content=body, headers={
                    **headers, "Content-Type": "application/json"})
                answers.append((path, why, r.status_code))
            continue
        signed = RequestValidator(token).compute_signature(
            "https://hotline.example" + url, {**form, "CallSid": "CA" + "1" * 32})
        tries = {"no signature": None, "wrong signature": "bm90IGl0",
                 "empty-key signature": RequestValidator("").compute_signature(
                     "http://127.0.0.1:8000" + url, form),
                 "another form's signature": signed}
        for why, signature in tries.items():
            headers = {"X-Twilio-Signature": signature} if signature else {}
            r = client.post(url, data=form, headers=headers)
            answers.append((path, why, r.status_code))
    return answers


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # subject: signatures, not storage
def test_every_webhook_refuses_a_forged_request_with_the_shipped_settings(
        client: TestClient) -> None:
    assert {"/twilio/status", "/twilio/recording-status", "/api/v1/outbound/twilio/status",
            "/api/v1/outbound/twilio/sms", "/api/v1/outbound/sms/inbound"} <= set(_webhooks())
    refused = _forged_posts(client, token="")
    assert refused and all(status == 403 for _, _, status in refused), refused


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # subject: signatures, not storage
def test_every_twilio_webhook_refuses_a_bad_signature_when_configured(
        settings: Settings, city: City) -> None:
    token = "0123456789abcdef0123456789abcdef"
    configured = settings.model_copy(update={"twilio": settings.twilio.model_copy(update={
        "auth_token": token, "public_base_url": "https://hotline.example"})})
    with TestClient(create_app(configured)) as c:
        refused = _forged_posts(c, token=token)
    assert refused and all(status == 403 for _, _, status in refused), refused


# --- numeric ids past the database's integers ------------------------------------------------


def _int_path_routes() -> list[tuple[str, str, list[str]]]:
    """Every route with a numeric path parameter: (method, path, those names). From the
    routers' own route lists, so a route added later is swept too."""
    from fastapi.routing import APIRoute

    from knowledge import views as kb_api
    from outbound import views as outbound_api
    from ticketing import views as api

    routes = [(r, "") for m in (api, outbound_api, kb_api) for r in m.router.routes]
    routes += [(r, "/console") for m in (views, intake, dashboard, kb, supervision)
               for r in m.router.routes]
    found = []
    for route, prefix in routes:
        if not isinstance(route, APIRoute):
            continue
        names = [p.name for p in route.dependant.path_params
                 if p.field_info.annotation is int]
        if names:
            found += [(method, prefix + route.path, names) for method in sorted(route.methods)]
    return found


@pytest.mark.parametrize("huge", [2**31, 2**63, 10**20])
def test_an_id_past_the_databases_integers_is_refused_not_an_error(
        app: FastAPI, client: TestClient, city: City, huge: int) -> None:
    # 2**31 overflows PostgreSQL's INTEGER columns, 2**63 SQLite's: either was a 500 (the
    # driver's OverflowError / DataError) on attachments, 督办 records and accounts.
    number = create(client, city, WATER, "13811112222", category="water")["number"]
    routes = _int_path_routes()
    assert {"/api/v1/tickets/{ref}/attachments/{attachment_id}",
            "/api/v1/users/{user_id}/disable", "/api/v1/supervision/{case_id}/close",
            "/console/supervision/{case_id}",
            "/console/tickets/{number}/attachments/{attachment_id}"
            } <= {path for _, path, _ in routes}
    browser = log_in(app, city, "admin")
    for method, path, names in routes:
        url = path.replace("{ref}", number).replace("{number}", number)
        for name in names:
            url = url.replace("{" + name + "}", str(huge))
        if path.startswith("/console"):
            r = browser.request(method, url, data={"csrf": browser.csrf, "reason": "核查"})
        else:
            r = client.request(method, url, headers=auth(city, "admin"),
                               json={"reason": "核查", "note": "核查"})
        assert 400 <= r.status_code < 500, (method, url, r.status_code)


# --- 核实 is someone else's check of the answer ------------------------------------------------


def test_whoever_replied_cannot_verify_their_own_answer(
        client: TestClient, city: City, sessions) -> None:
    # A district supervisor may sign and reply for their units (the transition table's
    # _HANDLING) and may close (_VERIFYING): alone they gave the answer and "verified" it,
    # 核实 skipped, closed on time. A handler never closes their own ticket; nor does anyone
    # else who replied.
    ticket = create(client, city, "朝阳区安贞里3号楼物业不管楼道垃圾，堆了一个星期", "13811115555",
                    category="property")
    number, sup = ticket["number"], auth(city, "cy-supervisor")
    assert client.get(f"/api/v1/tickets/{number}", headers=sup).status_code == 200
    assert client.post(f"/api/v1/tickets/{number}/sign", headers=sup).status_code == 200
    r = client.post(f"/api/v1/tickets/{number}/reply", headers=sup,
                    json={"text": "已清理", "outcome": "resolved"})
    assert r.status_code == 200, r.text
    r = client.post(f"/api/v1/tickets/{number}/close", headers=sup)
    assert r.status_code == 403, r.text
    assert _trail(sessions, number)[-1] == ("reply", "replied")
    # Someone else verifies it: the centre's operator.
    r = client.post(f"/api/v1/tickets/{number}/close", headers=auth(city, "operator"))
    assert r.status_code == 200 and r.json()["status"] == "closed"
