"""The packet time we send is the one the peer asked for (RFC 4566 6: a=ptime is the length
the describer wants to receive; RFC 3264 5.1 and 6.1 for an offer and an answer), and our
SDP says it back. Before, our answer said a=ptime:20 and we sent 20 ms whatever the peer
asked (the twenty-second round's trial: a caller's a=ptime:40). SDP socket-free; the
packets sent one by one (``send_frame``) to a socket on 127.0.0.1."""

from __future__ import annotations

import socket
import struct
from types import SimpleNamespace

import numpy as np
import pytest

from telephony.media import g711
from telephony.rtp import Rtp16Stream
from telephony.sip.sdp import answer_offer, build_sdp, packet_time, parse_sdp


def _offer(*attributes: str) -> bytes:
    lines = ["v=0", "o=- 1 1 IN IP4 127.0.0.5", "s=-", "c=IN IP4 127.0.0.5", "t=0 0",
             "m=audio 40000 RTP/AVP 0 101", "a=rtpmap:0 PCMU/8000",
             "a=rtpmap:101 telephone-event/8000", *attributes]
    return ("\r\n".join(lines) + "\r\n").encode()


@pytest.mark.parametrize(("attributes", "sent"), [
    ((), 20),  # nothing asked: RFC 3551's default for G.711
    (("a=ptime:10",), 10),
    (("a=ptime:30",), 30),
    (("a=ptime:40",), 40),
    (("a=ptime:60",), 60),
    (("a=ptime:25",), 20),  # not a whole 10 ms: the nearest, the shorter on a tie
    (("a=ptime:5",), 10),
    (("a=ptime:120",), 60),  # longer than we make
    (("a=ptime:40", "a=maxptime:30"), 30),  # never over what it can take
    (("a=ptime:abc",), 20),  # unreadable: as if not said
])
def test_the_packet_time_sent_is_the_one_asked_for_and_said_back(
        attributes: tuple[str, ...], sent: int) -> None:
    media = answer_offer(parse_sdp(_offer(*attributes)))
    assert media.ptime == packet_time(parse_sdp(_offer(*attributes))) == sent
    answer = build_sdp(ip="127.0.0.1", port=30000, session_id=7,
                       formats=[(media.audio_pt, media.codec)], event_pt=media.event_pt,
                       ptime=media.ptime).decode()
    assert [ln for ln in answer.splitlines() if ln.startswith("a=ptime")] == [f"a=ptime:{sent}"]


def _sent(rtp: Rtp16Stream, peer: socket.socket, count: int) -> list[tuple[int, int, bytes]]:
    """``count`` packets sent and read back: (sequence, timestamp, payload)."""
    out = []
    for _ in range(count):
        assert rtp.send_frame()
        packet = peer.recv(2048)
        _, _, seq, ts = struct.unpack_from("!BBHI", packet)
        out.append((seq, ts, packet[12:]))
    return out


@pytest.mark.parametrize("ptime", [10, 20, 30, 40, 60])
def test_prompts_are_sent_in_packets_of_the_asked_length_without_gaps(ptime: int) -> None:
    """Two prompts queued one after the other (0.25 s and 0.13 s: neither a whole number of
    packets) are sent in packets of ``ptime`` ms, each timestamp ``ptime`` x 8 samples on,
    the second prompt straight after the first (no silence between them but the first's
    padding to 10 ms), silence after; each play's end is told once its last packet went."""
    peer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    peer.bind(("127.0.0.1", 0))
    peer.settimeout(2)
    rtp = Rtp16Stream(local=("127.0.0.1", 0), remote=peer.getsockname(), codec="PCMU",
                      audio_pt=0, event_pt=101, on_audio=lambda _: None,
                      on_dtmf=lambda _: None, ptime=ptime)
    rtp.bind()
    rng = np.random.default_rng(3)
    first = rng.integers(-8000, 8000, 2000, dtype="<i2").tobytes()  # 250 ms
    second = rng.integers(-8000, 8000, 1040, dtype="<i2").tobytes()  # 130 ms
    try:
        one, two = rtp.queue_pcm16(first), rtp.queue_pcm16(second)
        samples = ptime * 8
        packets_needed = -(-(2000 + 1040) // samples)
        sent = _sent(rtp, peer, packets_needed + 2)
        assert one.done.is_set() and two.done.is_set()
    finally:
        assert rtp.sin is not None
        rtp.sin.close()
        peer.close()
    assert {len(p) for _, _, p in sent} == {samples}
    assert [s - sent[0][0] for s, _, _ in sent] == list(range(len(sent)))
    assert [(t - sent[0][1]) & 0xFFFFFFFF for _, t, _ in sent] == [
        n * samples for n in range(len(sent))]
    audio = b"".join(p for _, _, p in sent)
    played = g711.pcm16_to_ulaw(first) + g711.pcm16_to_ulaw(second)
    assert audio[:len(played)] == played  # the two prompts back to back
    assert set(audio[len(played):]) == set(g711.pcm16_to_ulaw(b"\x00\x00"))  # then silence


def test_a_play_is_not_told_ended_before_its_last_packet_is_sent() -> None:
    """At 60 ms a packet holds six 10 ms pieces: a play ending in the middle of one is
    over only once that packet is sent (the dialogue starts listening after it)."""
    peer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    peer.bind(("127.0.0.1", 0))
    peer.settimeout(2)
    rtp = Rtp16Stream(local=("127.0.0.1", 0), remote=peer.getsockname(), codec="PCMA",
                      audio_pt=8, event_pt=None, on_audio=lambda _: None,
                      on_dtmf=lambda _: None, ptime=60)
    rtp.bind()
    try:
        token = rtp.queue_pcm16(b"\x10\x00" * 8 * 90)  # 90 ms: one packet and a half
        _sent(rtp, peer, 1)
        assert not token.done.is_set()
        _sent(rtp, peer, 1)
        assert token.done.is_set()
    finally:
        assert rtp.sin is not None
        rtp.sin.close()
        peer.close()


def test_the_pace_is_the_length_of_the_packet_sent(monkeypatch: pytest.MonkeyPatch) -> None:
    """A re-INVITE changing the packet time lands between the send thread's two reads of
    it (the pace, then the packet): before, a 60 ms packet was followed 20 ms later, the
    peer's jitter buffer overrun at every such change (review51). Now the pace is the
    packet's own length, read once. The clock stands still, so each sleep is one pace."""
    import telephony.rtp as rtp_module

    peer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    peer.bind(("127.0.0.1", 0))
    rtp = Rtp16Stream(local=("127.0.0.1", 0), remote=peer.getsockname(), codec="PCMU",
                      audio_pt=0, event_pt=None, on_audio=lambda _: None,
                      on_dtmf=lambda _: None, ptime=20)
    rtp.bind()
    paces: list[float] = []
    sizes: list[int] = []
    send = rtp.send_frame

    def reinvite_then_send() -> int:
        rtp.ptime = 60 if rtp.ptime == 20 else 20  # the SIP thread's configure
        sizes.append(rtp.ptime * 8)
        return send()

    def sleep(seconds: float) -> None:
        paces.append(seconds)
        if len(paces) == 2:
            rtp.NSD = False

    monkeypatch.setattr(rtp, "send_frame", reinvite_then_send)
    # The module's clock only (other threads keep the real one).
    monkeypatch.setattr(rtp_module, "time", SimpleNamespace(monotonic=lambda: 100.0,
                                                           sleep=sleep))
    try:
        rtp.NSD = True
        rtp.trans()
    finally:
        assert rtp.sin is not None
        rtp.sin.close()
        peer.close()
    # 60 ms sent, the next 60 ms later; then 20 ms sent, the next 20 ms after it.
    assert sizes == [480, 160]
    assert paces == pytest.approx([0.060, 0.080])
