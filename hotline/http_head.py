"""The request head (request line and header fields) bounded in size, before any app runs.

uvicorn's httptools protocol sets no limit on a head: the parser gathers a header's value
however long it grows, and the app (``BodyLimit``, the token check) is called only once the
head is whole. Anyone who can open a connection made the process hold what it sent: three
connections of 150 MB of one header field raised the API process's resident memory by
510 MB, answered 200 at the end (sec42). h11, uvicorn's other protocol, refuses a head past
16 KiB; this one refuses past ``MAX_HEAD_BYTES`` with 431 and closes the connection.

Nor does either bound the time a head may take: a connection that sent nothing, or a head
a line every 9 s, was still open after 45 s, for good (docs/security.md had left slow
heads to a proxy). Each held one of the file descriptors the process's calls need for
their RTP sockets. A head must now be whole within ``HEAD_SECONDS`` of the connection, or
of its first byte on a kept-alive one (Apache mod_reqtimeout's ``header=20``), else 408
and the connection closed; once a head is whole its request and answer take what they
take (``BodyDeadline`` bounds the body), and between requests uvicorn's keep-alive wait
holds.
"""

from __future__ import annotations

import logging
from asyncio import TimerHandle, Transport
from typing import Any

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

log = logging.getLogger("hotline.http_head")

# The largest head taken (request line and every header field, as sent). A browser's head
# with the console's cookie is under 2 KiB, Twilio's and the CLI's smaller; nginx's largest
# default is 4 buffers of 8 KiB, h11's 16 KiB. What the check itself may let past is this
# plus one read of the socket (the event loop reads at most 256 KiB at once).
MAX_HEAD_BYTES = 64 * 1024

# Seconds a head may take to come whole (mod_reqtimeout's default first wait).
HEAD_SECONDS = 20.0

_REFUSAL = b"request head too large"
_TOO_SLOW = b"request head not sent in time"


class BoundedHead(HttpToolsProtocol):
    """uvicorn's httptools protocol with the head's bytes counted as they come: past
    ``MAX_HEAD_BYTES``, 431 and the connection closed, nothing handed to the app.

    A whole head is measured when it is parsed (its target and fields), before the app
    could be called. One still coming is counted per read (``data_received``), as the
    parser holds it: a read that leaves a head unfinished, after one that left it
    unfinished too, is head bytes entirely; the read in which a head begins counts whole
    unless a message also ended in it (a pipelined request behind a body: the body's bytes
    are not the head's). Nothing is parsed for the app once the refusal is written.

    A chunked body's trailer section (fields after its last chunk) is a second head, and
    counted as one: uvicorn appended its fields to the request's headers, uncounted, where
    the app read them as headers it was never sent (review111: 100 MB of them, 90 MB more
    resident). They are dropped (RFC 9112 7.1.2 lets a recipient discard them; no route
    reads one), and a read that brings neither body nor a message's end, after the head,
    counts as the trailers' (a chunk's size line alone, in a read of its own, is a few
    bytes, and the next body bytes start the count again). Their time is the body's
    (``BodyDeadline``: the app waits for the message's end).

    The head's time runs from the connection, and on a kept-alive connection from the next
    head's first byte, to its end (``HEAD_SECONDS``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_open = False
        self._head_bytes = 0
        self._past_head = False  # the head whole, the message not yet ended
        self._boundary_in_read = False
        self._head_timer: TimerHandle | None = None

    def connection_made(self, transport: Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._time_head()

    def connection_lost(self, exc: Exception | None) -> None:
        self._untime_head()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_open = True
        self._head_bytes = 0
        if self._head_timer is None:
            self._time_head()

    def on_header(self, name: bytes, value: bytes) -> None:
        if self._head_open:
            super().on_header(name, value)
        # else a trailer field: dropped, not one of the request's headers

    def on_headers_complete(self) -> None:
        self._head_open = False
        self._past_head = True
        self._boundary_in_read = True
        self._untime_head()
        if self.transport.is_closing():
            return  # refused (or the client gone): no app for what follows in the read
        # Each field as sent: its name, value, ": " and CRLF (so 16,000 empty fields are
        # not 16,000 fields of nothing).
        if len(self.url) + sum(len(name) + len(value) + 4 for name, value in self.headers) \
                > MAX_HEAD_BYTES:
            self._refuse_head()
            return
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        self._boundary_in_read = True
        self._head_bytes = 0  # what comes after these bytes may be the trailers
        if not self.transport.is_closing():
            super().on_body(body)

    def on_message_complete(self) -> None:
        self._past_head = False
        self._boundary_in_read = True
        if not self.transport.is_closing():
            super().on_message_complete()

    def data_received(self, data: bytes) -> None:
        self._boundary_in_read = False
        super().data_received(data)
        if (not (self._head_open or self._past_head) or self._boundary_in_read
                or self.transport.is_closing()):
            return
        self._head_bytes += len(data)
        if self._head_bytes > MAX_HEAD_BYTES:
            self._refuse_head()

    def _time_head(self) -> None:
        self._head_timer = self.loop.call_later(HEAD_SECONDS, self._head_too_slow)

    def _untime_head(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_too_slow(self) -> None:
        self._head_timer = None
        if self.transport.is_closing():
            return
        log.info("request head not whole within %g s from %s: closed (408)", HEAD_SECONDS,
                 self._peer())
        self._answer(408, _TOO_SLOW)

    def _refuse_head(self) -> None:
        self._head_open = False
        self._untime_head()
        log.warning("request head (or trailer section) of more than %d bytes from %s: "
                    "refused (431)", MAX_HEAD_BYTES, self._peer())
        self._answer(431, _REFUSAL)

    def _peer(self) -> str:
        return self.client[0] if self.client else "unknown"

    def _answer(self, status: int, text: bytes) -> None:
        if self.cycle is not None and not self.cycle.response_complete:
            # A request still being answered (a pipelined head behind it, or its own
            # trailers): a status line now would be read as its answer (review111: a 431
            # answered a POST its app had taken), so only the connection is closed.
            self.transport.close()
            return
        self.transport.write(b"".join([
            STATUS_LINE[status],
            b"content-type: text/plain; charset=utf-8\r\n",
            b"content-length: " + str(len(text)).encode("ascii") + b"\r\n",
            b"connection: close\r\n\r\n", text]))
        self.transport.close()
