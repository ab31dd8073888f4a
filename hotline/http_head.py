"""The request head (request line and header fields) bounded in size, before any app runs.

uvicorn's httptools protocol sets no limit on a head: the parser gathers a header's value
however long it grows, and the app (``BodyLimit``, the token check) is called only once the
head is whole. Anyone who can open a connection made the process hold what it sent: three
connections of 150 MB of one header field raised the API process's resident memory by
510 MB, answered 200 at the end (sec42). h11, uvicorn's other protocol, refuses a head past
16 KiB; this one refuses past ``MAX_HEAD_BYTES`` with 431 and closes the connection.
"""

from __future__ import annotations

import logging
from typing import Any

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

log = logging.getLogger("hotline.http_head")

# The largest head taken (request line and every header field, as sent). A browser's head
# with the console's cookie is under 2 KiB, Twilio's and the CLI's smaller; nginx's largest
# default is 4 buffers of 8 KiB, h11's 16 KiB. What the check itself may let past is this
# plus one read of the socket (the event loop reads at most 256 KiB at once).
MAX_HEAD_BYTES = 64 * 1024

_REFUSAL = "request head too large".encode("ascii")


class BoundedHead(HttpToolsProtocol):
    """uvicorn's httptools protocol with the head's bytes counted as they come: past
    ``MAX_HEAD_BYTES``, 431 and the connection closed, nothing handed to the app.

    A whole head is measured when it is parsed (its target and fields), before the app
    could be called. One still coming is counted per read (``data_received``), as the
    parser holds it: a read that leaves a head unfinished, after one that left it
    unfinished too, is head bytes entirely; the read in which a head begins counts whole
    unless a message also ended in it (a pipelined request behind a body: the body's bytes
    are not the head's). Nothing is parsed for the app once the refusal is written."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_open = False
        self._head_bytes = 0
        self._ended_in_read = False

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_open = True
        self._head_bytes = 0

    def on_headers_complete(self) -> None:
        self._head_open = False
        if self.transport.is_closing():
            return  # refused (or the client gone): no app for what follows in the read
        if len(self.url) + sum(len(name) + len(value) for name, value in self.headers) \
                > MAX_HEAD_BYTES:
            self._refuse_head()
            return
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        if not self.transport.is_closing():
            super().on_body(body)

    def on_message_complete(self) -> None:
        self._ended_in_read = True
        if not self.transport.is_closing():
            super().on_message_complete()

    def data_received(self, data: bytes) -> None:
        self._ended_in_read = False
        super().data_received(data)
        if not self._head_open or self._ended_in_read or self.transport.is_closing():
            return
        self._head_bytes += len(data)
        if self._head_bytes > MAX_HEAD_BYTES:
            self._refuse_head()

    def _refuse_head(self) -> None:
        self._head_open = False
        log.warning("request head of more than %d bytes from %s: refused (431)",
                    MAX_HEAD_BYTES, self.client[0] if self.client else "unknown")
        self.transport.write(b"".join([
            STATUS_LINE[431],
            b"content-type: text/plain; charset=utf-8\r\n",
            b"content-length: " + str(len(_REFUSAL)).encode("ascii") + b"\r\n",
            b"connection: close\r\n\r\n", _REFUSAL]))
        self.transport.close()
