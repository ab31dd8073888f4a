"""In-dialog requests forged by someone who knows only what an on-path observer or a
guesser could (the Call-ID, maybe our To tag), against a real front end at the shipped
settings with raw UDP peers on loopback: they get 481 and change nothing in the call."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from telephony.call import CallHandle, CallState
from telephony.sip.frontend import SipFrontEnd
from tests.support.lines import AnsweringLines as Lines
from tests.support.lines import shipped_front_end
from tests.support.rawsip import RawPeer, header, status

pytestmark = pytest.mark.sip

CALLER, STRANGER = "127.0.0.81", "127.0.0.82"


@pytest.fixture
def shipped() -> Iterator[tuple[SipFrontEnd, Lines]]:
    lines = Lines()
    fe = shipped_front_end(lines)
    yield fe, lines
    fe.stop()


def _answered(fe: SipFrontEnd, lines: Lines, caller: RawPeer, call_id: str) -> tuple[
        bytes, CallHandle]:
    caller.send(caller.invite(call_id))
    answer = caller.finals(1)[call_id]
    assert status(answer) == 200
    caller.send(caller.ack(answer))
    caller.send_rtp(answer, packets=3)
    return answer, lines.one()


def _forged(stranger: RawPeer, method: str, call_id: str, *, to: str, from_tag: str,
            body: str = "", content_type: str = "") -> bytes:
    return (
        f"{method} sip:12345@127.0.0.1:{stranger.target[1]} SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP {stranger.ip}:{stranger.port};branch=z9hG4bK{method}{from_tag}\r\n"
        f"From: <sip:13800138000@{stranger.ip}>;tag={from_tag}\r\nTo: {to}\r\n"
        f"Call-ID: {call_id}\r\nCSeq: 7 {method}\r\n"
        f"Contact: <sip:13800138000@{stranger.ip}:{stranger.port}>\r\nMax-Forwards: 70\r\n"
        + (f"Content-Type: {content_type}\r\n" if content_type else "")
        + f"Content-Length: {len(body)}\r\n\r\n{body}"
    ).encode()


def test_forged_info_and_reinvite_get_481_and_change_nothing(
        shipped: tuple[SipFrontEnd, Lines]) -> None:
    fe, lines = shipped
    caller, stranger = RawPeer(CALLER, fe.local_port), RawPeer(STRANGER, fe.local_port)
    try:
        answer, call = _answered(fe, lines, caller, "victim")
        assert call.rtp is not None
        media_before = (call.rtp.outIP, call.rtp.outPort)
        our_to = header(answer, "To")
        # INFO keying a digit: with only the Call-ID, and with our To tag too.
        relay = "application/dtmf-relay"
        stranger.send(_forged(stranger, "INFO", "victim", to="<sip:12345@127.0.0.1>",
                              from_tag="evil1", body="Signal=0\r\n", content_type=relay))
        stranger.send(_forged(stranger, "INFO", "victim", to=our_to, from_tag="evil2",
                              body="Signal=0\r\n", content_type=relay))
        # A re-INVITE pointing the caller's audio at the stranger.
        stranger.send(_forged(stranger, "INVITE", "victim", to=our_to, from_tag="evil3",
                              body=stranger.sdp(), content_type="application/sdp"))
        finals = []
        stranger.sock.settimeout(1.0)
        while len(finals) < 3:
            finals.append(status(stranger.sock.recv(65535)))
        assert finals == [481, 481, 481]
        time.sleep(0.2)
        assert call.get_dtmf(timeout=0) is None
        assert (call.rtp.outIP, call.rtp.outPort) == media_before
        assert call.state is CallState.ANSWERED
        # The real caller's INFO still keys its digit.
        caller.send(_forged(caller, "INFO", "victim", to=our_to, from_tag="fvictim",
                            body="Signal=5\r\n", content_type=relay))
        assert call.get_dtmf(timeout=2) == "5"
        caller.send(caller.ack(answer, method="BYE", cseq=8))
    finally:
        caller.close()
        stranger.close()
