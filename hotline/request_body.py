"""What every request body must be before any route reads it (docs/security.md, mend90):
sent as written (no ``Content-Encoding``), and a JSON body naming each key of an object
once. ASGI middlewares of the app (``hotline.app.create_app``), so the API's JSON routes,
the SMS gateway (which reads its body itself), the console and the Twilio webhooks answer
alike, in one place."""

from __future__ import annotations

import email.message
import json
import sqlite3
from collections.abc import Iterable
from typing import Any

from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ticketing.deps import no_stranger, takes_a_token
from ticketing.inputs import echoed


class NoContentCoding:
    """Refuse (415, ``Accept-Encoding: identity``, RFC 7694) a request whose body says it is
    coded (``Content-Encoding: gzip``, ``br``...): nothing here decodes one, and read as sent
    the compressed bytes were a 400 about bytes the client never wrote, or a form or JSON
    other than the one meant. No client of ours codes a body (Twilio never does; the
    console's forms and the CLI's requests are plain), so refused from the header alone,
    before the body is read. ``identity`` is no coding."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        coding = content_coding(scope) if scope["type"] == "http" else None
        if coding is None:
            await self.app(scope, receive, send)
            return
        refused = JSONResponse(
            {"error": "unsupported_media_type", "field": "header.content-encoding",
             "detail": f"Content-Encoding {echoed(coding)!r}: no route takes a coded body; "
                       "send it uncompressed, without the header"},
            415, headers={"Accept-Encoding": "identity"})
        await refused(scope, receive, send)


def content_coding(scope: Scope) -> str | None:
    """The request's Content-Encoding as sent, None when it has none but ``identity``."""
    sent = [value.decode("latin-1") for name, value in scope.get("headers") or []
            if name.lower() == b"content-encoding"]
    codings = [c.strip() for value in sent for c in value.split(",") if c.strip()]
    if all(c.lower() == "identity" for c in codings):
        return None
    return ", ".join(v.strip() for v in sent)


class JsonKeysOnce:
    """Refuse (422 ``invalid_input``, ``field`` the key's place in the body) a JSON body
    whose object names a key twice: Python's json (FastAPI's, the SMS gateway's pydantic)
    keeps the last value, so ``{"reason":"a","reason":""}`` was a body the client did not
    mean, and one that a check reading the first (a proxy, a log filter) saw otherwise.
    RFC 8259 4: names SHOULD be unique; a JSON body here must. Every body but a form's
    (``_read_as_json``: the SMS gateway reads any type as JSON), at most ``max_bytes`` (the
    API's limit: only an upload path may carry more, and none of those takes JSON). A body
    that is not JSON, or not UTF-8, is handed on as it came: the route answers it as before.
    Held in memory here as the route would hold it; ``hotline.app.BodyLimit`` (outside
    this) bounds it first. On a route that takes a bearer token, a stranger is answered 401
    before the body is read (``stranger_refused``, mend91)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _read_as_json(scope):
            await self.app(scope, receive, send)
            return
        refused = await stranger_refused(scope)
        if refused is not None:
            await refused(scope, receive, send)
            return
        # A client gone, or BodyDeadline's "too slow", ends the read: the route hears it.
        pending, over = await read_ahead(receive, self.max_bytes)
        place = None
        if not over and pending[-1]["type"] == "http.request":
            place = repeated_key(b"".join(m.get("body", b"") for m in pending))
        if place is not None:
            where, key = place
            await JSONResponse(
                {"error": "invalid_input", "field": echoed(where),
                 "detail": f"{echoed(where)}: key {echoed(key)!r} given twice in one JSON "
                           "object (it would be read by its last value): name each key once"},
                422)(scope, receive, send)
            return
        await self.app(scope, replaying(pending, receive), send)


async def stranger_refused(scope: Scope) -> Response | None:
    """The app's 401 (its HTTPException handler's answer) to a stranger on a route that
    takes a bearer token (``ticketing.deps.no_stranger``, the token's one check); None when
    the body may be read: the route takes no token (the Twilio webhooks and the SMS
    gateway check their signature over the body they read, the console its session), or
    the token names a user. A database that cannot answer leaves it to the route, which
    answers the outage as before."""
    app = scope.get("app")
    route = _route_of(getattr(getattr(app, "router", None), "routes", ()), scope)
    if not isinstance(route, APIRoute) or not takes_a_token(route.dependant):
        return None
    request = Request(scope)
    try:
        await no_stranger(request)
    except StarletteHTTPException as exc:
        handler = request.app.exception_handlers[StarletteHTTPException]
        return await handler(request, exc)
    except (SQLAlchemyError, sqlite3.Error):
        return None
    return None


def _route_of(routes: Iterable[BaseRoute], scope: Scope) -> BaseRoute | None:
    """The route the router will hand the request to: the first that matches it fully,
    within the routers the app includes (FastAPI keeps each as one route)."""
    for route in routes:
        if route.matches(scope)[0] is not Match.FULL:
            continue
        inner = getattr(route, "original_router", None)
        return route if inner is None else _route_of(inner.routes, scope)
    return None


async def read_ahead(receive: Receive, limit: int) -> tuple[list[Message], bool]:
    """The request's messages up to its body's end, the client's leaving, or past ``limit``
    bytes of body; and whether it went past."""
    pending: list[Message] = []
    seen = 0
    while True:
        message = await receive()
        pending.append(message)
        if message["type"] != "http.request":
            return pending, False
        seen += len(message.get("body", b""))
        if seen > limit:
            return pending, True
        if not message.get("more_body", False):
            return pending, False


def replaying(pending: list[Message], receive: Receive) -> Receive:
    """A ``receive`` that gives ``pending`` (messages read ahead, in order) one by one, then
    reads on: no second copy of the body is made."""
    pending.reverse()

    async def replay() -> Message:
        return pending.pop() if pending else await receive()

    return replay


def _read_as_json(scope: Scope) -> bool:
    """Whether a route may read the request's body as JSON: any body but a form's. FastAPI
    reads one typed ``application/json`` or ``+json``; the SMS gateway's webhook reads its
    body as JSON whatever its type, or with none (review100: sent as text/plain, a key named
    twice was read by its last value). A body of another type that is no JSON fails the
    parse at its first byte here, and its route answers it as before."""
    if scope.get("method") in ("GET", "HEAD", "OPTIONS"):
        return False
    # The first, as Starlette's ``headers.get`` (FastAPI's reading): ``dict`` kept the last,
    # and JSON named before a form type went unread here (review100).
    sent = next((value for name, value in scope.get("headers") or []
                 if name.lower() == b"content-type"), None)
    if not sent:
        return True
    message = email.message.Message()
    message["content-type"] = sent.decode("latin-1")
    return message.get_content_type() not in FORM_TYPES


# What Starlette's form reader takes (the console's forms, the Twilio webhooks): never JSON.
FORM_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})


class _Twice(dict[str, Any]):
    """An object of the body that named ``key`` twice (its first value kept)."""

    key = ""


def repeated_key(body: bytes) -> tuple[str, str] | None:
    """The first object key ``body`` names twice in one object: (its place, as the API's
    ``field`` names it: keys and array indexes joined by ".", the key; the key). None when
    each is named once, or the body is no JSON this can read (the route's to answer)."""
    found = False

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        nonlocal found
        obj: dict[str, Any] = {}
        for key, value in items:
            if key in obj:
                found = True
                twice = _Twice(obj)
                twice.key = key
                return twice
            obj[key] = value
        return obj

    try:
        value = json.loads(body, object_pairs_hook=pairs)
    except (ValueError, RecursionError):
        return None  # not JSON, not UTF-8, or too deep: the route's answer stands
    if not found:
        return None
    # Where: a walk of the value read (no recursion: it may be as deep as json allows).
    stack: list[tuple[tuple[str, ...], Any]] = [((), value)]
    while stack:
        path, node = stack.pop()
        if isinstance(node, _Twice):
            return ".".join((*path, node.key)), node.key
        children = (node.items() if isinstance(node, dict)
                    else enumerate(node) if isinstance(node, list) else ())
        stack += reversed([((*path, str(k)), v) for k, v in children])
    return None
