"""Symmetric RTP latching (``Rtp16Stream.admit``, ``destination``): our audio goes where the
caller's RTP comes from, a stranger's packets neither take the stream nor key into it, and
what is sent to an address nothing came from is bounded. Socket-free (the time is given),
and one real peer on 127.0.0.1 for a caller behind NAT."""

from __future__ import annotations

import socket
import struct
import time

from telephony.media import g711
from telephony.rtp import LATCH_LEARN_SECONDS, UNVERIFIED_SEND_PACKETS, Rtp16Stream

SDP = ("192.168.1.10", 4000)  # what a phone behind NAT writes in its SDP
NAT = ("203.0.113.5", 31000)  # where its RTP comes from
STRANGER = ("198.51.100.9", 40000)
SILENCE = g711.pcm16_to_ulaw(b"\x00\x00" * 160)


def stream(remote: tuple[str, int] = SDP, keys: list[str] | None = None,
           frames: list[bytes] | None = None) -> Rtp16Stream:
    return Rtp16Stream(local=("127.0.0.1", 0), remote=remote, codec="PCMU", audio_pt=0,
                       event_pt=101, on_audio=(frames if frames is not None else []).append,
                       on_dtmf=(keys if keys is not None else []).append)


def audio(seq: int, pt: int = 0, ssrc: int = 0x1234) -> bytes:
    return struct.pack("!BBHII", 0x80, pt, seq, 160 * seq, ssrc) + SILENCE


def key_end(event: int, timestamp: int, ssrc: int = 0x1234) -> list[bytes]:
    """An RFC 4733 event's three end packets (E bit, 100 ms)."""
    return [struct.pack("!BBHII", 0x80, 101, 500 + n, timestamp, ssrc)
            + bytes([event, 0x80 | 10]) + (800).to_bytes(2, "big") for n in range(3)]


def test_a_caller_behind_nat_is_latched_after_the_learning_time_and_sent_to() -> None:
    """The SDP names a private address; the RTP comes from the NAT's. Before latching the
    call had every packet dropped as foreign and died of no_rtp, our audio lost on the
    private address."""
    rtp = stream()
    assert rtp.destination() == SDP
    assert not rtp.admit(NAT, 0, 100.0) and not rtp.admit(NAT, 0, 100.5)
    assert rtp.latched is None
    assert rtp.admit(NAT, 0, 100.0 + LATCH_LEARN_SECONDS)
    assert rtp.latched == NAT and rtp.destination() == NAT


def test_the_sdp_address_latches_at_once_and_a_stranger_first_takes_nothing() -> None:
    rtp = stream()
    assert not rtp.admit(STRANGER, 0, 100.0)  # a stranger spraying our ports as we answer
    assert rtp.admit(SDP, 0, 100.1)
    assert rtp.latched == SDP
    assert not rtp.admit(STRANGER, 0, 100.0 + 10 * LATCH_LEARN_SECONDS)
    assert rtp.destination() == SDP


def test_another_port_of_the_sdp_ip_latches_at_once_and_is_sent_to_at_the_sdp_port() -> None:
    """A phone that sends from one port and listens on the one it announced (asymmetric
    RTP; the tests' SIPp callers): its first packet counts (a key pressed at once is not
    lost to the learning second), and our RTP goes to the announced port."""
    keys: list[str] = []
    rtp = stream(keys=keys)
    other_port = (SDP[0], 4002)
    assert not rtp.admit(STRANGER, 0, 100.0)
    for packet in key_end(1, 8000):
        rtp.receive(packet, other_port)
    assert keys == ["1"] and rtp.latched == other_port
    assert rtp.destination() == SDP
    assert not rtp.admit((SDP[0], 4004), 0, 100.3)  # a third port of that IP: no re-latch
    assert not rtp.admit(STRANGER, 0, 100.0 + 10 * LATCH_LEARN_SECONDS)
    assert rtp.admit(SDP, 0, 200.0) and rtp.latched == SDP  # the announced port itself


def test_the_sdp_ip_takes_the_call_from_a_source_learnt_elsewhere() -> None:
    rtp = stream()
    assert not rtp.admit(NAT, 0, 100.0) and rtp.admit(NAT, 0, 100.0 + LATCH_LEARN_SECONDS)
    assert rtp.admit((SDP[0], 4002), 0, 102.0)
    assert rtp.latched == (SDP[0], 4002) and not rtp.admit(NAT, 0, 102.1)


def test_only_a_payload_type_the_call_negotiated_latches() -> None:
    rtp = stream()
    assert not rtp.admit(NAT, 13, 100.0)  # comfort noise: not negotiated
    assert not rtp.admit(NAT, 13, 100.0 + 10 * LATCH_LEARN_SECONDS)
    assert not rtp.admit(NAT, 18, 200.0) and rtp.latched is None
    assert not rtp.admit(NAT, 101, 300.0)  # the telephone-event type is negotiated
    assert rtp.admit(NAT, 101, 300.0 + LATCH_LEARN_SECONDS) and rtp.latched == NAT
    # Once latched, the peer's comfort noise counts (it proves the peer alive).
    assert rtp.admit(NAT, 13, 400.0)


def test_a_stranger_can_neither_take_a_latched_call_nor_key_nor_speak_into_it() -> None:
    """Latched to a NAT caller, a stranger's flood (another SSRC, any rate) is dropped,
    keys and audio alike; a re-latch by SSRC change or rate would let it take the call
    (Asterisk's CVE-2017-14099)."""
    keys: list[str] = []
    frames: list[bytes] = []
    rtp = stream(keys=keys, frames=frames)
    assert not rtp.admit(NAT, 0, 100.0)
    assert rtp.admit(NAT, 0, 100.0 + LATCH_LEARN_SECONDS)
    for n in range(500):
        rtp.receive(audio(n, ssrc=0xBAD), STRANGER)
    for packet in key_end(5, 8000, ssrc=0xBAD):
        rtp.receive(packet, STRANGER)
    for packet in key_end(7, 16000, ssrc=0xBAD):
        rtp.receive(packet, (NAT[0], NAT[1] + 2))  # the caller's IP, another port
    assert keys == [] and frames == [] and rtp.rx_packets == 0
    assert rtp.rx_foreign == 506 and rtp.latched == NAT and rtp.destination() == NAT
    for packet in key_end(1, 24000):
        rtp.receive(packet, NAT)
    rtp.receive(audio(1), NAT)
    assert keys == ["1"] and len(frames) == 1


def test_sending_to_an_address_nothing_came_from_is_bounded() -> None:
    rtp = stream()
    sent = [rtp.destination() for _ in range(UNVERIFIED_SEND_PACKETS)]
    assert sent == [SDP] * UNVERIFIED_SEND_PACKETS
    assert rtp.destination() is None and rtp.destination() is None
    assert rtp.admit(SDP, 0, 100.0)
    assert rtp.destination() == SDP  # heard from: no bound


def test_a_new_sdp_address_learns_again_and_a_refresh_keeps_the_latch() -> None:
    rtp = stream()
    assert not rtp.admit(NAT, 0, 100.0) and rtp.admit(NAT, 0, 100.0 + LATCH_LEARN_SECONDS)
    rtp.set_remote(*SDP)  # a session refresh naming the same address
    assert rtp.latched == NAT
    moved = ("192.0.2.40", 5000)
    rtp.set_remote(*moved)  # a re-INVITE moving the media (an SBC re-anchoring)
    assert rtp.latched is None and rtp.destination() == moved
    assert not rtp.admit(NAT, 0, 200.0)  # the old source learns again like any other
    assert rtp.admit(moved, 0, 200.1) and rtp.destination() == moved


def test_a_caller_behind_nat_hears_us_at_its_own_port() -> None:
    """A real peer on 127.0.0.1 whose SDP names 127.0.0.2 (where nothing listens): once
    its RTP has come for the learning time, ours comes back to the port it sends from."""
    phone = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    phone.bind(("127.0.0.1", 0))
    phone.settimeout(0.1)
    rtp = stream(remote=("127.0.0.2", 9))
    rtp.start()
    try:
        assert rtp.sin is not None
        ours = rtp.sin.getsockname()
        heard = 0
        deadline = time.monotonic() + 10 * LATCH_LEARN_SECONDS
        seq = 0
        while heard < 5 and time.monotonic() < deadline:
            phone.sendto(audio(seq), ours)
            seq += 1
            try:
                data, source = phone.recvfrom(2048)
            except TimeoutError:
                continue
            assert source == ours and data[1] & 0x7F == 0
            heard += 1
        assert heard == 5
        assert rtp.latched == phone.getsockname() and rtp.rx_packets > 0
    finally:
        rtp.stop()
        phone.close()
