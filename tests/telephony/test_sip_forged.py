"""In-dialog requests forged by someone who knows only what an on-path observer or a
guesser could (the Call-ID, maybe our To tag), against a real front end at the shipped
settings with raw UDP peers on loopback: they get 481 and change nothing in the call."""

from __future__ import annotations

import array
import math
import socket
import struct
import time
from collections.abc import Iterator

import pytest

from telephony.call import CallHandle, CallState
from telephony.media import g711
from telephony.sip.frontend import SipFrontEnd
from tests.support.lines import AnsweringLines as Lines
from tests.support.lines import shipped_front_end
from tests.support.rawsip import RawPeer, header, sdp_port, status

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


def _tone_packets(freqs: tuple[int, int], count: int) -> list[bytes]:
    """A key as a DTMF tone in PCMU packets (RawPeer's offer has no telephone-event, so
    the call takes its keys from the audio)."""
    packets = []
    for n in range(count):
        pcm = array.array("h", (int(6000 * (math.sin(2 * math.pi * freqs[0] * t / 8000)
                                            + math.sin(2 * math.pi * freqs[1] * t / 8000)))
                                for t in range(160 * n, 160 * (n + 1)))).tobytes()
        packets.append(struct.pack("!BBHII", 0x80, 0, 100 + n, 160 * n, 0xBAD)
                       + g711.pcm16_to_ulaw(pcm))
    return packets


def test_rtp_from_anyone_but_the_caller_is_dropped(
        shipped: tuple[SipFrontEnd, Lines]) -> None:
    fe, lines = shipped
    caller = RawPeer(CALLER, fe.local_port)
    stranger = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    stranger.bind((STRANGER, 0))
    try:
        answer, call = _answered(fe, lines, caller, "spray")
        heard: list[bytes] = []
        call.on_audio = heard.append
        port = ("127.0.0.1", sdp_port(answer))
        tone_0 = _tone_packets((941, 1336), 8)  # key 0 as a tone, 160 ms
        for packet in tone_0:
            stranger.sendto(packet, port)
            time.sleep(0.02)
        time.sleep(0.3)
        assert call.get_dtmf(timeout=0) is None and heard == []
        assert call.rtp is not None and call.rtp.rx_foreign == len(tone_0)
        # The same tone from the caller's own address keys its digit.
        for packet in tone_0:
            caller.media.sendto(packet, port)
            time.sleep(0.02)
        assert call.get_dtmf(timeout=2) == "0"
        deadline = time.monotonic() + 2
        while len(heard) < len(tone_0) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(heard) == len(tone_0)
        caller.send(caller.ack(answer, method="BYE", cseq=8))
    finally:
        caller.close()
        stranger.close()
