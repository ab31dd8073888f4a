"""A real SipFrontEnd on loopback at the shipped settings (only ports moved), with a handler
that answers every call and stays on it until it ends, like the IVR without its prompts."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from config.settings import Settings
from telephony.call import CallHandle
from telephony.sip.frontend import SipFrontEnd
from tests.support import harness
from tests.support.rawsip import RawPeer, status
from ticketing.phones import call_number


class AnsweringLines:
    """The hotline's handler: answer, stay until the call ends; remembers every call."""

    def __init__(self) -> None:
        self.calls: list[CallHandle] = []
        self.lock = threading.Lock()

    def __call__(self, call: CallHandle) -> None:
        with self.lock:
            self.calls.append(call)
        if call.answer():
            call.wait_ended(60)

    def by_source(self, ip: str) -> list[CallHandle]:
        with self.lock:
            return [c for c in self.calls if c.invite_source and c.invite_source[0] == ip]

    def one(self) -> CallHandle:
        with self.lock:
            (call,) = self.calls
        return call


def answered(lines: AnsweringLines, caller: RawPeer, call_id: str, *, body: str | None = None,
             extra: str = "") -> tuple[bytes, CallHandle]:
    """``caller``'s INVITE answered 200 and ACKed, a few RTP packets sent: our 200, the call."""
    caller.send(caller.invite(call_id, body=body, extra=extra))
    answer = caller.finals(1)[call_id]
    assert status(answer) == 200
    caller.send(caller.ack(answer))
    caller.send_rtp(answer, packets=3)
    return answer, lines.one()


def shipped_front_end(lines: AnsweringLines, *, rtp_ports: int = 10,
                      dialogs_dir: Path | None = None, **update: Any) -> SipFrontEnd:
    """Started; ``update`` adds only the settings a test is about; ``dialogs_dir``, the
    dialog ledger's (none: not kept)."""
    rtp = harness.free_port_block(rtp_ports)
    sip = Settings().sip.model_copy(update={
        "bind_ip": harness.LOOPBACK, "port": harness.free_port(),
        "rtp_port_low": rtp, "rtp_port_high": rtp + rtp_ports - 1, **update})
    fe = SipFrontEnd(sip, lines, read_number=call_number, rtp_timeout=sip.rtp_timeout,
                     dialogs_dir=dialogs_dir)
    fe.start()
    return fe


@pytest.fixture
def shipped() -> Iterator[tuple[SipFrontEnd, AnsweringLines]]:
    """A front end at the shipped settings with 60 RTP ports, and its handler."""
    lines = AnsweringLines()
    fe = shipped_front_end(lines, rtp_ports=60)
    yield fe, lines
    fe.stop()
