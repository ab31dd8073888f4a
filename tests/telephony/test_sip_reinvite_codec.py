"""A re-INVITE that changes the codec mid-call (PCMU -> PCMA only, new RTP port), against a
real front end at the shipped settings and a raw UDP caller on loopback: the answer names
only what the offer did, and what the caller hears on its new port is the prompt in the
new law, a prompt already playing included. A refresh that still offers the codec in use
keeps it and the same SDP."""

from __future__ import annotations

import array
import contextlib
import math
import re
import socket
import struct
import time
from collections.abc import Iterator

import pytest

from telephony.media import g711
from telephony.sip.frontend import SipFrontEnd
from tests.support.lines import AnsweringLines as Lines
from tests.support.lines import shipped_front_end
from tests.support.rawsip import RawPeer, header, status

pytestmark = pytest.mark.sip

CALLER = "127.0.0.83"
AMPLITUDE = 8000


@pytest.fixture
def shipped() -> Iterator[tuple[SipFrontEnd, Lines]]:
    lines = Lines()
    fe = shipped_front_end(lines)
    yield fe, lines
    fe.stop()


def _offer(peer: RawPeer, port: int, pts: list[int]) -> str:
    names = {0: "PCMU", 8: "PCMA", 101: "telephone-event"}
    return (f"v=0\r\no=- 1 2 IN IP4 {peer.ip}\r\ns=-\r\nc=IN IP4 {peer.ip}\r\nt=0 0\r\n"
            f"m=audio {port} RTP/AVP {' '.join(map(str, pts))}\r\n"
            + "".join(f"a=rtpmap:{pt} {names[pt]}/8000\r\n" for pt in pts))


def _reinvite(peer: RawPeer, answer: bytes, body: str, cseq: int) -> bytes:
    call_id = header(answer, "Call-ID")
    return (
        f"INVITE sip:12345@127.0.0.1:{peer.target[1]} SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP {peer.ip}:{peer.port};branch=z9hG4bKre{cseq}\r\n"
        f"From: <sip:13800138000@{peer.ip}>;tag=f{call_id}\r\nTo: {header(answer, 'To')}\r\n"
        f"Call-ID: {call_id}\r\nCSeq: {cseq} INVITE\r\n"
        f"Contact: <sip:13800138000@{peer.ip}:{peer.port}>\r\nMax-Forwards: 70\r\n"
        f"Content-Type: application/sdp\r\nContent-Length: {len(body)}\r\n\r\n{body}"
    ).encode()


def _final(peer: RawPeer) -> bytes:
    peer.sock.settimeout(2.0)
    while True:
        data = peer.sock.recv(65535)
        if data.startswith(b"SIP/2.0 ") and status(data) >= 200:
            return data


def _sdp_line(response: bytes, prefix: bytes) -> bytes:
    m = re.search(rb"^" + prefix + rb".*?(?=\r$)", response, re.M)
    assert m, response
    return m.group(0)


def _rtp(sock: socket.socket, seconds: float) -> list[bytes]:
    sock.settimeout(0.1)
    packets: list[bytes] = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        with contextlib.suppress(TimeoutError):
            packets.append(sock.recv(2048))
    return packets


def _rms(pcm16: bytes) -> float:
    samples = array.array("h", pcm16)
    return math.sqrt(sum(s * s for s in samples) / len(samples))


def test_reinvite_to_pcma_only_switches_what_the_caller_hears(
        shipped: tuple[SipFrontEnd, Lines]) -> None:
    fe, lines = shipped
    caller = RawPeer(CALLER, fe.local_port)
    new_media = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    new_media.bind((CALLER, 0))
    try:
        caller.send(caller.invite("codec", body=_offer(caller, caller.media_port, [0, 101])))
        answer = caller.finals(1)["codec"]
        assert status(answer) == 200 and _sdp_line(answer, b"m=audio").endswith(b" 0 101")
        caller.send(caller.ack(answer))
        caller.send_rtp(answer, packets=3)
        call = lines.one()
        assert call.rtp is not None
        # Four seconds of a 1 kHz tone: still playing when the codec changes.
        tone = array.array("h", (int(AMPLITUDE * math.sin(2 * math.pi * 1000 * i / 8000))
                                 for i in range(8000 * 4))).tobytes()
        call.rtp.queue_pcm16(tone)
        time.sleep(0.3)
        version = _sdp_line(answer, b"o=").split()[2]

        caller.send(_reinvite(caller, answer, _offer(caller, new_media.getsockname()[1],
                                                     [8, 101]), cseq=2))
        ok = _final(caller)
        assert status(ok) == 200
        assert _sdp_line(ok, b"m=audio").endswith(b" 8 101")
        assert b"a=rtpmap:8 PCMA/8000" in ok and b"PCMU" not in ok
        assert int(_sdp_line(ok, b"o=").split()[2]) == int(version) + 1
        caller.send(caller.ack(ok, cseq=2))
        heard = _rtp(new_media, 1.0)
        assert len(heard) >= 20
        assert {p[1] & 0x7F for p in heard} == {8}
        # Every packet is the tone in A-law: decoded as such it has the tone's level.
        expected = AMPLITUDE / math.sqrt(2)
        levels = [_rms(g711.alaw_to_pcm16(p[12:])) for p in heard]
        assert all(abs(level - expected) < 0.1 * expected for level in levels), levels
        assert call.codec == "PCMA" and call.media is not None and call.media.codec == "PCMA"

        # A refresh offering both laws keeps PCMA and the same SDP version.
        caller.send(_reinvite(caller, answer, _offer(caller, new_media.getsockname()[1],
                                                     [0, 8, 101]), cseq=3))
        again = _final(caller)
        assert status(again) == 200 and _sdp_line(again, b"m=audio").endswith(b" 8 101")
        assert _sdp_line(again, b"o=") == _sdp_line(ok, b"o=")
        caller.send(caller.ack(again, cseq=3))
        assert {p[1] & 0x7F for p in _rtp(new_media, 0.3)} == {8}
        caller.send(caller.ack(answer, method="BYE", cseq=4))
    finally:
        caller.close()
        new_media.close()


def test_the_callers_pcma_reaches_the_call_after_the_switch(
        shipped: tuple[SipFrontEnd, Lines]) -> None:
    """What the caller says in A-law after the switch is decoded as A-law."""
    fe, lines = shipped
    caller = RawPeer(CALLER, fe.local_port)
    try:
        caller.send(caller.invite("talk", body=_offer(caller, caller.media_port, [0])))
        answer = caller.finals(1)["talk"]
        caller.send(caller.ack(answer))
        call = lines.one()
        frames: list[bytes] = []
        call.on_audio = frames.append
        caller.send(_reinvite(caller, answer, _offer(caller, caller.media_port, [8]), cseq=2))
        assert status(_final(caller)) == 200
        dest = ("127.0.0.1", int(_sdp_line(answer, b"m=audio").split()[1]))
        pcm = array.array("h", (int(AMPLITUDE * math.sin(2 * math.pi * 500 * i / 8000))
                                for i in range(160))).tobytes()
        for seq in range(10):
            caller.media.sendto(struct.pack("!BBHII", 0x80, 8, seq, 160 * seq, 0xA1A) +
                                g711.pcm16_to_alaw(pcm), dest)
            time.sleep(0.02)
        deadline = time.monotonic() + 2
        while len(frames) < 10 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(frames) >= 10
        assert all(abs(_rms(f) - _rms(pcm)) < 0.05 * _rms(pcm) for f in frames[-10:])
        caller.send(caller.ack(answer, method="BYE", cseq=3))
    finally:
        caller.close()
