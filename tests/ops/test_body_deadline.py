"""A request body that never ends, or comes a byte at a time, is answered 408 and its
connection closed (``hotline.app.BodyDeadline``, mod_reqtimeout's rule: ``seconds`` plus one
for every ``min_rate`` bytes); before, the trial's chunked bodies of one byte every 2 s were
held open with no end (2026-12-06). Socket-free: the middleware between a made-up server's
``receive`` and an app that reads its body as FastAPI does."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import Message, Receive, Scope, Send

from config import Settings
from hotline.app import BodyDeadline, BodyLimit, create_app

SCOPE: Scope = {"type": "http", "method": "POST", "path": "/api/v1/tickets",
                "headers": [(b"transfer-encoding", b"chunked")]}


class BodyReader:
    """Reads the whole body, then answers 200 with its length; a disconnect while reading
    is the client gone (FastAPI answers it 400, here "gone")."""

    def __init__(self, before_each_read: float = 0.0) -> None:
        self.saw: list[str] = []
        self.before_each_read = before_each_read  # a wait for the thread pool, the database

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = b""
        while True:
            await asyncio.sleep(self.before_each_read)
            message = await receive()
            if message["type"] == "http.disconnect":
                self.saw.append("gone")
                await send({"type": "http.response.start", "status": 400, "headers": []})
                await send({"type": "http.response.body", "body": b"gone"})
                return
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        self.saw.append(f"body {len(body)}")
        await send({"type": "http.response.start", "status": 200, "headers": []})
        # As a streamed response does: listen for the client leaving, long after the body.
        self.saw.append((await receive())["type"])
        await send({"type": "http.response.body", "body": str(len(body)).encode()})


def run(chunks: list[tuple[float, bytes]], *, seconds: float, min_rate: int,
        then_wait: float = 0.0, scope: Scope = SCOPE,
        app: BodyReader | None = None) -> tuple[list[Message], BodyReader]:
    """``chunks``: (pause before it, bytes), the last one ending the body unless the
    list is cut short by the deadline; after them the server's receive waits
    ``then_wait`` and says the client left."""
    app = app or BodyReader()
    sent: list[Message] = []
    feed = list(chunks)

    async def receive() -> Message:
        if feed:
            pause, data = feed.pop(0)
            await asyncio.sleep(pause)
            return {"type": "http.request", "body": data, "more_body": bool(feed)}
        await asyncio.sleep(then_wait)
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    async def main() -> None:
        await asyncio.wait_for(
            BodyDeadline(app, seconds=seconds, min_rate=min_rate)(scope, receive, send), 20)

    asyncio.run(main())
    return sent, app


def test_a_body_that_never_ends_is_answered_408_and_closed() -> None:
    # 200 one-byte chunks 20 ms apart (4 s) against 0.3 s and 500 bytes/s: late.
    sent, app = run([(0.02, b"x")] * 200, seconds=0.3, min_rate=500)
    start = sent[0]
    assert start["status"] == 408, sent
    headers = {k.lower(): v for k, v in start["headers"]}
    assert headers[b"connection"] == b"close"
    assert json.loads(sent[1]["body"])["error"] == "body_timeout"
    assert len(sent) == 2  # the app's own answer to the "disconnect" went nowhere
    assert app.saw == ["gone"]


def test_a_body_coming_at_the_minimum_rate_earns_its_time() -> None:
    # 0.3 s allowed, then 1 s for every 500 bytes: 1,000 bytes 0.2 s apart, 5 times (1 s
    # in all) would be late with no allowance for bytes, and are in time with it.
    sent, app = run([(0.2, b"y" * 1000)] * 5, seconds=0.3, min_rate=500)
    assert sent[0]["status"] == 200 and app.saw[0] == "body 5000"


def test_once_the_body_is_whole_the_server_is_listened_to_without_a_deadline() -> None:
    # A streamed CSV export waits on receive for the client leaving for as long as the
    # download takes: 0.6 s past a 0.1 s deadline is the server's, not a 408.
    sent, app = run([(0.0, b"{}")], seconds=0.1, min_rate=500, then_wait=0.6)
    assert [m.get("status") for m in sent if m["type"] == "http.response.start"] == [200]
    assert app.saw == ["body 2", "http.disconnect"]



def test_a_request_without_a_body_is_whole_from_the_start() -> None:
    # A GET whose streamed answer starts late and then listens on receive for the client
    # leaving (a CSV export behind a slow query): before, its first receive came after the
    # deadline and was answered 408 (review34).
    bodiless = {**SCOPE, "method": "GET", "headers": []}
    sent, app = run([(0.0, b"")], seconds=0.1, min_rate=500, then_wait=0.3, scope=bodiless,
                    app=BodyReader(before_each_read=0.4))
    assert [m.get("status") for m in sent if m["type"] == "http.response.start"] == [200]
    assert app.saw == ["body 0", "http.disconnect"] and sent[-1]["body"] == b"0"


def test_a_body_that_came_at_once_may_be_read_late() -> None:
    # Two bytes sent with the headers, read 0.4 s later (the app waited for the thread pool
    # or the database): the time is the app's, not the client's (review34: it was 408).
    declared = {**SCOPE, "headers": [(b"content-length", b"2")]}
    sent, app = run([(0.0, b"{}")], seconds=0.1, min_rate=500, scope=declared,
                    app=BodyReader(before_each_read=0.4))
    assert sent[0]["status"] == 200 and app.saw[0] == "body 2"
    # Likewise between reads: 3 chunks there at once, 0.2 s of the app's work before each.
    sent, app = run([(0.0, b"x")] * 3, seconds=0.3, min_rate=0,
                    app=BodyReader(before_each_read=0.2))
    assert sent[0]["status"] == 200 and app.saw[0] == "body 3"


@pytest.fixture
def served() -> Iterator[int]:
    """A real uvicorn on 127.0.0.1 (as ``hotline serve`` runs it) with the body deadline and
    limit around a /healthz that never reads its body; a short deadline of the test's own."""

    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    app = BodyDeadline(BodyLimit(Starlette(routes=[Route("/healthz", healthz)]), max_bytes=100_000),
                       seconds=0.5, min_rate=500)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:  # a port it cannot bind ends the thread: fail, never hang
        assert thread.is_alive(), "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield server.servers[0].sockets[0].getsockname()[1]
    finally:
        server.should_exit = True
        thread.join(5)


def answer_then_closed(port: int, head: bytes) -> tuple[bytes, bool]:
    """Send ``head`` and a trickle of the body it declares; the answer's first line, and
    whether the server closed the connection after it (within 5 s: a bound, not a timing)."""
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.settimeout(0.2)
        s.sendall(head)
        got = b""
        for _ in range(25):
            try:
                s.sendall(b"x")
                data = s.recv(65536)
            except TimeoutError:
                continue
            except OSError:  # reset: closed too
                return got.split(b"\r\n", 1)[0], True
            if not data:
                return got.split(b"\r\n", 1)[0], True
            got += data
        return got.split(b"\r\n", 1)[0], False


def test_an_answer_before_the_body_has_come_closes_the_connection(served: int) -> None:
    # A GET /healthz declaring 60,000 bytes, trickled: answered at once, and before, uvicorn
    # went on reading the rest with no deadline, the connection open (review34).
    first, closed = answer_then_closed(
        served, b"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 60000\r\n\r\n")
    assert first == b"HTTP/1.1 200 OK" and closed
    # A 413 for 10^12 declared bytes: the same.
    first, closed = answer_then_closed(
        served, b"POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000000\r\n\r\n")
    assert first.startswith(b"HTTP/1.1 413") and closed


def test_a_bodiless_request_keeps_its_connection(served: int) -> None:
    with socket.create_connection(("127.0.0.1", served)) as s:
        s.settimeout(5)
        for _ in range(2):  # the second request on the same connection is answered
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            answer = s.recv(65536)
            assert answer.startswith(b"HTTP/1.1 200") and b"connection: close" not in answer


@pytest.mark.parametrize("path", ["/twilio/voice", "/api/v1/outbound/twilio/sms",
                                  "/api/v1/outbound/sms/inbound"])
def test_a_webhook_whose_body_came_too_slowly_is_one_line_in_the_log(
        path: str, sqlite_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The 408 makes the webhook's own read of its form or body find the client gone
    (ClientDisconnect): before, an 80-line ASGI traceback anyone could have logged by
    trickling a webhook's body (review34); now one line."""
    settings = Settings(database_url=sqlite_url, data_dir=tmp_path,
                        recordings_dir=tmp_path / "rec", request_body_seconds=0.2)
    app = create_app(settings)
    scope = {"type": "http", "method": "POST", "path": path, "raw_path": path.encode(),
             "query_string": b"", "scheme": "http", "http_version": "1.1", "root_path": "",
             "server": ("127.0.0.1", 8000), "client": ("127.0.0.1", 50000),
             "headers": [(b"host", b"x"), (b"content-length", b"100"),
                         (b"content-type", b"application/x-www-form-urlencoded")]}
    sent: list[Message] = []
    given = [{"type": "http.request", "body": b"From=1", "more_body": True}]

    async def receive() -> Message:
        if given:
            return given.pop()
        await asyncio.sleep(5)  # the rest never comes
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    with caplog.at_level(logging.INFO):
        asyncio.run(asyncio.wait_for(app(scope, receive, send), 20))
    assert sent[0]["status"] == 408 and len(sent) == 2
    gone = [r for r in caplog.records if "gone" in r.getMessage()]
    assert len(gone) == 1 and path in gone[0].getMessage() and gone[0].exc_info is None


def test_the_shipped_settings_bound_a_body_by_mod_reqtimeouts_rule(sqlite_url: str,
                                                                   tmp_path: Path) -> None:
    """The shipped-defaults twin of the tests above (which set short deadlines of their own):
    the service as shipped installs the deadline, 20 s plus one for every 500 bytes
    (mod_reqtimeout's ``body=20,MinRate=500``), not off (0)."""
    settings = Settings(database_url=sqlite_url, data_dir=tmp_path,
                        recordings_dir=tmp_path / "rec")
    assert (settings.request_body_seconds, settings.request_body_min_rate) == (20.0, 500)
    app = create_app(settings)
    [deadline] = [m for m in app.user_middleware if m.cls is BodyDeadline]
    assert deadline.kwargs == {"seconds": 20.0, "min_rate": 500}
