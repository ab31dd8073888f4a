"""Session timers (RFC 4028), option tags and withheld numbers against a real SipFrontEnd on
loopback, driven by raw UDP peers, at the shipped settings (direct mode, no trusted trunk)
with only the ports moved; the trusted-PAI test adds the one setting it is about."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from telephony.call import CallState
from telephony.sip.frontend import SipFrontEnd
from tests.support.lines import AnsweringLines as Answering
from tests.support.lines import shipped_front_end
from tests.support.rawsip import RawPeer, header, sdp_port, status
from tests.support.waiting import wait_until

pytestmark = pytest.mark.sip

CARRIER, STRANGER = "127.0.0.81", "127.0.0.82"
Starter = Callable[..., "tuple[SipFrontEnd, Answering]"]
PAI = "P-Asserted-Identity: <sip:+8613912345678@carrier.example>\r\n"


@pytest.fixture
def start() -> Iterator[Starter]:
    started: list[SipFrontEnd] = []

    def run(**update: Any) -> tuple[SipFrontEnd, Answering]:
        handler = Answering()
        fe = shipped_front_end(handler, **update)
        started.append(fe)
        return fe, handler

    yield run
    for fe in started:
        fe.stop()


def reply(peer: RawPeer, method: str, wait: float = 3.0) -> bytes:
    """The next final response to ``method`` (skipping retransmitted 200s to the INVITE)."""
    peer.sock.settimeout(wait)
    while True:
        data = peer.sock.recv(65535)
        if (data.startswith(b"SIP/2.0 ") and status(data) >= 200
                and header(data, "CSeq").split()[-1] == method):
            return data


def in_dialog(peer: RawPeer, answer: bytes, method: str, cseq: int, extra: str = "",
              body: str = "") -> bytes:
    """An UPDATE or re-INVITE from the caller inside the dialog ``answer`` set up."""
    call_id = header(answer, "Call-ID")
    return (
        f"{method} sip:12345@127.0.0.1:{peer.target[1]} SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP {peer.ip}:{peer.port};branch=z9hG4bK{method}{cseq}{call_id}\r\n"
        f"From: <sip:13800138000@{peer.ip}>;tag=f{call_id}\r\n"
        f"To: {header(answer, 'To')}\r\nCall-ID: {call_id}\r\nCSeq: {cseq} {method}\r\n"
        f"Contact: <sip:13800138000@{peer.ip}:{peer.port}>\r\nMax-Forwards: 70\r\n{extra}"
        + ("Content-Type: application/sdp\r\n" if body else "")
        + f"Content-Length: {len(body)}\r\n\r\n{body}"
    ).encode()


def anonymous_invite(peer: RawPeer, call_id: str, extra: str) -> bytes:
    return peer.invite(call_id, extra=extra).replace(
        f"From: <sip:13800138000@{peer.ip}>".encode(),
        b'From: "Anonymous" <sip:anonymous@anonymous.invalid>')


def test_refreshes_by_update_and_reinvite_keep_the_call_and_its_audio(start: Starter) -> None:
    fe, lines = start()
    peer = RawPeer(STRANGER, fe.local_port)
    moved = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    moved.bind((STRANGER, 0))
    try:
        peer.send(peer.invite("st1", extra="Supported: timer\r\n"
                                            "Session-Expires: 1800;refresher=uac\r\n"))
        answer = reply(peer, "INVITE")
        assert status(answer) == 200
        assert header(answer, "Session-Expires") == "1800;refresher=uac"
        assert header(answer, "Require") == "timer"
        assert "timer" in header(answer, "Supported")
        assert "UPDATE" in header(answer, "Allow")
        peer.send(peer.ack(answer))
        peer.send_rtp(answer)
        call = lines.one()
        wait_until(lambda: call.rtp is not None and call.rtp.rx_packets >= 10, 5.0,
                   "the caller's first audio")

        # Refresh without SDP: 200, no body, the timer confirmed again.
        peer.send(in_dialog(peer, answer, "UPDATE", 2, "Supported: timer\r\n"
                                                        "Session-Expires: 1800;refresher=uac\r\n"))
        refreshed = reply(peer, "UPDATE")
        assert status(refreshed) == 200
        assert header(refreshed, "Session-Expires") == "1800;refresher=uac"
        assert header(refreshed, "Content-Length") == "0"

        # Refresh with SDP naming a new media port: same codec and port from us, RTP follows.
        offer = peer.sdp().replace(f"m=audio {peer.media_port} ",
                                   f"m=audio {moved.getsockname()[1]} ")
        peer.send(in_dialog(peer, answer, "UPDATE", 3, body=offer))
        refreshed = reply(peer, "UPDATE")
        assert status(refreshed) == 200
        assert sdp_port(refreshed) == sdp_port(answer)
        assert b"PCMU/8000" in refreshed
        moved.settimeout(3)
        assert len(moved.recv(2048)) > 12  # our RTP now arrives at the new port

        # A re-INVITE offering no codec of ours: 488, and the call is untouched.
        bad = peer.sdp().replace("RTP/AVP 0\r\na=rtpmap:0 PCMU/8000", "RTP/AVP 18")
        peer.send(in_dialog(peer, answer, "INVITE", 4, body=bad))
        assert status(reply(peer, "INVITE")) == 488

        before = call.rtp.rx_packets if call.rtp is not None else 0
        peer.send_rtp(answer)
        wait_until(lambda: call.rtp is not None and call.rtp.rx_packets >= before + 10,
                   5.0, "audio after the refresh")
        assert call.state is CallState.ANSWERED
        peer.send(peer.ack(answer, method="BYE", cseq=5))
        assert status(reply(peer, "BYE")) == 200
        assert call.wait_ended(5)
    finally:
        moved.close()
        peer.close()


def test_require_is_honoured_or_refused_with_420(start: Starter) -> None:
    fe, lines = start()
    peer = RawPeer(STRANGER, fe.local_port)
    try:
        peer.send(peer.invite("rq1", extra="Require: foo, timer\r\n"))
        refused = reply(peer, "INVITE")
        assert status(refused) == 420
        assert header(refused, "Unsupported") == "foo"

        peer.send(peer.invite("rq2", extra="Session-Expires: 30\r\nSupported: timer\r\n"))
        brief = reply(peer, "INVITE")
        assert (status(brief), header(brief, "Min-SE")) == (422, "90")
        assert lines.calls == []

        peer.send(peer.invite("rq3", extra="Require: timer\r\nSession-Expires: 900\r\n"))
        answer = reply(peer, "INVITE")
        assert status(answer) == 200
        assert header(answer, "Require") == "timer"
        assert header(answer, "Session-Expires") == "900;refresher=uac"
        peer.send(peer.ack(answer))

        # Inside the call too: an UPDATE requiring what we lack is refused, the call goes on.
        peer.send(in_dialog(peer, answer, "UPDATE", 2, "Require: foo\r\n"))
        refused = reply(peer, "UPDATE")
        assert (status(refused), header(refused, "Unsupported")) == (420, "foo")
        assert lines.one().state is CallState.ANSWERED
    finally:
        peer.close()


def test_an_update_outside_any_dialog_gets_481(start: Starter) -> None:
    fe, _ = start()
    peer = RawPeer(STRANGER, fe.local_port)
    try:
        fake = "SIP/2.0 200 OK\r\nTo: <sip:12345@127.0.0.1>;tag=nope\r\nCall-ID: gone\r\n\r\n"
        peer.send(in_dialog(peer, fake.encode(), "UPDATE", 2))
        assert status(reply(peer, "UPDATE")) == 481
    finally:
        peer.close()


def test_pai_from_a_trusted_trunk_is_the_caller(start: Starter) -> None:
    fe, lines = start(trusted_sources=[CARRIER])
    carrier = RawPeer(CARRIER, fe.local_port)
    try:
        carrier.send(anonymous_invite(carrier, "pai1", PAI))
        assert status(reply(carrier, "INVITE")) == 200
        assert lines.one().caller == "+8613912345678"
    finally:
        carrier.close()


def test_pai_from_an_untrusted_source_is_ignored(start: Starter) -> None:
    fe, lines = start()
    stranger = RawPeer(STRANGER, fe.local_port)
    try:
        stranger.send(anonymous_invite(
            stranger, "pai2", PAI + 'Remote-Party-ID: <sip:13912345678@x>;party=calling\r\n'))
        assert status(reply(stranger, "INVITE")) == 200
        assert lines.one().caller == "anonymous"
    finally:
        stranger.close()
