"""Symmetric RTP latching (``Rtp16Stream.admit``, ``destination``): our audio goes where the
caller's RTP comes from, a stranger's packets neither take the stream nor key into it, and
what is sent to an address nothing came from is bounded. Socket-free (packets handed to
``receive``), and one real peer on 127.0.0.1 for a caller behind NAT."""

from __future__ import annotations

import socket
import struct
import threading
import time

import pytest

from telephony import rtp as rtp_module
from telephony.media import g711
from telephony.rtp import (
    LATCH_LEARN_PACKETS,
    RELEARN_SECONDS,
    UNVERIFIED_SEND_PACKETS,
    Rtp16Stream,
)

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


def heard(rtp: Rtp16Stream, source: tuple[str, int], seq: int, pt: int = 0) -> bool:
    """Whether an audio packet (``pt``) from ``source`` was read, with any held before it."""
    before = rtp.rx_packets
    rtp.receive(audio(seq, pt=pt), source)
    return rtp.rx_packets > before


def learn(rtp: Rtp16Stream, source: tuple[str, int], first: int = 1) -> None:
    """``source`` sends packets in a row until it latches (``LATCH_LEARN_PACKETS``)."""
    for seq in range(first, first + LATCH_LEARN_PACKETS - 1):
        assert not heard(rtp, source, seq)
    assert heard(rtp, source, first + LATCH_LEARN_PACKETS - 1)


def test_a_caller_behind_nat_is_latched_after_its_learning_packets_and_sent_to() -> None:
    """The SDP names a private address; the RTP comes from the NAT's. Before latching the
    call had every packet dropped as foreign and died of no_rtp, our audio lost on the
    private address."""
    rtp = stream()
    assert rtp.destination() == SDP
    learn(rtp, NAT)
    assert rtp.latched == NAT and rtp.destination() == NAT
    assert rtp.rx_packets == LATCH_LEARN_PACKETS  # the held ones read as it latched


def test_the_sdp_address_latches_at_once_and_a_stranger_first_takes_nothing() -> None:
    rtp = stream()
    assert not heard(rtp, STRANGER, 1)  # a stranger spraying our ports as we answer
    assert heard(rtp, SDP, 1)
    assert rtp.latched == SDP and rtp.rx_packets == 1  # the stranger's held packet dropped
    assert not any(heard(rtp, STRANGER, seq) for seq in range(2, 12))
    assert rtp.destination() == SDP


def test_another_port_of_the_sdp_ip_latches_at_once_and_is_sent_to_at_the_sdp_port() -> None:
    """A phone that sends from one port and listens on the one it announced (asymmetric
    RTP): its first packet counts, and our RTP goes to the announced port."""
    keys: list[str] = []
    rtp = stream(keys=keys)
    other_port = (SDP[0], 4002)
    assert not heard(rtp, STRANGER, 1)
    for packet in key_end(1, 8000):
        rtp.receive(packet, other_port)
    assert keys == ["1"] and rtp.latched == other_port
    assert rtp.destination() == SDP
    assert not heard(rtp, (SDP[0], 4004), 9)  # a third port of that IP: foreign
    assert not any(heard(rtp, STRANGER, seq) for seq in range(2, 12))
    assert heard(rtp, SDP, 1) and rtp.latched == SDP  # the announced port itself


def test_another_port_of_the_sdp_ip_neither_keys_nor_speaks_once_the_caller_latched() -> None:
    """Another device behind the caller's NAT or carrier address (the SDP's IP) that knows
    the call's RTP port: its keys and its audio are foreign once the caller's own port is
    latched. a89a0bc heard every port of that IP, so it could key into a citizen's call (a
    survey's answer, a handler's sign call)."""
    keys: list[str] = []
    frames: list[bytes] = []
    rtp = stream(keys=keys, frames=frames)
    assert heard(rtp, SDP, 1) and rtp.latched == SDP
    neighbour = (SDP[0], 4002)
    dropped = rtp.rx_foreign
    for packet in key_end(1, 8000):
        rtp.receive(packet, neighbour)
    assert not any(heard(rtp, neighbour, seq) for seq in range(2, 12))
    assert keys == [] and len(frames) == 1 and rtp.rx_foreign == dropped + 13
    assert rtp.latched == SDP and rtp.destination() == SDP
    for packet in key_end(2, 16000):
        rtp.receive(packet, SDP)
    assert keys == ["2"]  # the caller's own key


def test_the_sdp_ip_takes_the_call_from_a_source_learnt_elsewhere() -> None:
    rtp = stream()
    learn(rtp, NAT)
    assert heard(rtp, (SDP[0], 4002), 1)
    assert rtp.latched == (SDP[0], 4002) and not heard(rtp, NAT, 5)


def test_only_a_payload_type_the_call_negotiated_starts_learning_elsewhere() -> None:
    rtp = stream()
    assert not any(heard(rtp, NAT, seq, pt=13) for seq in range(1, 9))  # comfort noise
    assert not heard(rtp, NAT, 9, pt=18) and rtp.latched is None
    for seq in range(10, 10 + LATCH_LEARN_PACKETS - 1):
        assert not heard(rtp, NAT, seq, pt=101)  # the telephone-event type is negotiated
    assert heard(rtp, NAT, 10 + LATCH_LEARN_PACKETS - 1, pt=101) and rtp.latched == NAT
    # Once latched, the peer's comfort noise counts (it proves the peer alive).
    assert heard(rtp, NAT, 20, pt=13)


def test_a_stranger_can_neither_take_a_latched_call_nor_key_nor_speak_into_it() -> None:
    """Latched to a NAT caller, a stranger's flood (another SSRC, any rate) is dropped,
    keys and audio alike; a re-latch by SSRC change or rate would let it take the call
    (Asterisk's CVE-2017-14099)."""
    keys: list[str] = []
    frames: list[bytes] = []
    rtp = stream(keys=keys, frames=frames)
    learn(rtp, NAT)
    frames.clear()
    taken = rtp.rx_packets
    for n in range(500):
        rtp.receive(audio(n, ssrc=0xBAD), STRANGER)
    for packet in key_end(5, 8000, ssrc=0xBAD):
        rtp.receive(packet, STRANGER)
    for packet in key_end(7, 16000, ssrc=0xBAD):
        rtp.receive(packet, (NAT[0], NAT[1] + 2))  # the caller's IP, another port
    assert keys == [] and frames == [] and rtp.rx_packets == taken
    assert rtp.rx_foreign == 506 and rtp.latched == NAT and rtp.destination() == NAT
    for packet in key_end(1, 24000):
        rtp.receive(packet, NAT)
    rtp.receive(audio(9), NAT)
    assert keys == ["1"] and len(frames) == 1


def test_sending_to_an_address_nothing_came_from_is_bounded() -> None:
    rtp = stream()
    sent = [rtp.destination() for _ in range(UNVERIFIED_SEND_PACKETS)]
    assert sent == [SDP] * UNVERIFIED_SEND_PACKETS
    assert rtp.destination() is None and rtp.destination() is None
    assert heard(rtp, SDP, 1)
    assert rtp.destination() == SDP  # heard from: no bound


def test_a_new_sdp_address_learns_again_and_a_refresh_keeps_the_latch() -> None:
    rtp = stream()
    learn(rtp, NAT)
    rtp.set_remote(*SDP)  # a session refresh naming the same address
    assert rtp.latched == NAT
    moved = ("192.0.2.40", 5000)
    rtp.set_remote(*moved)  # a re-INVITE moving the media (an SBC re-anchoring)
    assert rtp.latched is None and rtp.destination() == moved
    assert not heard(rtp, NAT, 5)  # the old source learns again like any other
    assert heard(rtp, moved, 1) and rtp.destination() == moved


def test_a_caller_behind_nat_hears_us_at_its_own_port() -> None:
    """A real peer on 127.0.0.1 whose SDP names 127.0.0.2 (where nothing listens): once
    its RTP has come for the learning packets, ours comes back to the port it sends from."""
    phone = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    phone.bind(("127.0.0.1", 0))
    phone.settimeout(0.1)
    rtp = stream(remote=("127.0.0.2", 9))
    rtp.start()
    try:
        assert rtp.sin is not None
        ours = rtp.sin.getsockname()
        heard = 0
        deadline = time.monotonic() + 10.0
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


def test_one_stray_packet_does_not_shut_a_caller_behind_nat_out() -> None:
    """review23: the first packet from outside the SDP's IP (an RTP-bleed scanner's, one
    left in the socket's buffer from the port's last call) stayed the only candidate, so
    the caller behind NAT never latched and the call died no_rtp. Now the caller's run
    of consecutive packets latches it, and its first packets, held while it was learnt,
    are read then: none of its audio is lost."""
    frames: list[bytes] = []
    rtp = stream(frames=frames)
    rtp.receive(audio(7, ssrc=0xBAD), STRANGER)
    for seq in range(100, 110):
        rtp.receive(audio(seq), NAT)
    assert rtp.latched == NAT and rtp.destination() == NAT
    assert len(frames) == 10 and rtp.rx_packets == 10 and rtp.rx_foreign == 1


def test_a_key_pressed_as_a_caller_behind_nat_is_learnt_is_taken() -> None:
    """Its first packets are held, not dropped, while the source is learnt: a survey's
    key pressed at once counts (before, the learning second dropped it)."""
    keys: list[str] = []
    rtp = stream(keys=keys)
    for packet in key_end(1, 8000):  # sequence numbers 500-502
        rtp.receive(packet, NAT)
    assert rtp.latched is None and keys == []
    rtp.receive(audio(503), NAT)
    assert rtp.latched == NAT and keys == ["1"]


def test_another_source_restarts_the_learning_and_a_random_spray_never_latches() -> None:
    frames: list[bytes] = []
    rtp = stream(frames=frames)
    for seq in (1, 2):
        rtp.receive(audio(seq), NAT)
    rtp.receive(audio(900, ssrc=0xBAD), STRANGER)  # interrupts: learning starts again
    for seq in (3, 4, 5):
        rtp.receive(audio(seq), NAT)
    assert rtp.latched is None
    rtp.receive(audio(6), NAT)
    assert rtp.latched == NAT and len(frames) == 4  # 3-6; 1 and 2 went with the restart
    sprayer = stream()
    for seq in (17, 4000, 9, 123, 65000, 18000, 5, 77):  # no two in a row
        sprayer.receive(audio(seq, ssrc=0xBAD), STRANGER)
    assert sprayer.latched is None and sprayer.rx_packets == 0


def test_comfort_noise_from_the_sdp_ip_latches_and_is_not_read_as_audio() -> None:
    """review23: a caller sending only comfort noise (or a type not negotiated) from the
    SDP's exact address never latched (5 s of our audio, then silence), and CN from
    another port of the SDP's IP was dropped; before loose21 both were taken."""
    frames: list[bytes] = []
    rtp = stream(frames=frames)
    rtp.receive(audio(1, pt=13), SDP)
    assert rtp.latched == SDP and rtp.rx_packets == 1 and frames == []
    other = stream(frames=frames)
    other.receive(audio(1, pt=13), (SDP[0], 4002))
    assert other.latched == (SDP[0], 4002) and other.rx_packets == 1 and frames == []
    assert other.destination() == SDP


def test_the_unverified_budget_starts_again_once_a_source_latches() -> None:
    """review23: with the 250 packets spent before the caller's RTP came, a re-INVITE
    moving the media later had nothing sent to the new address until its RTP arrived."""
    rtp = stream()
    for _ in range(UNVERIFIED_SEND_PACKETS):
        rtp.destination()
    assert rtp.destination() is None
    rtp.receive(audio(1), SDP)
    moved = ("192.0.2.40", 5000)
    rtp.set_remote(*moved)
    assert rtp.destination() == moved


def test_a_packet_read_as_the_media_moves_does_not_latch_the_old_address_back() -> None:
    """review23: ``set_remote`` (a re-INVITE, SIP thread) clearing the latch while the
    receive thread was admitting a packet from the old address had the packet write it
    back after it was cleared. The two now take turns: the re-INVITE, arriving while the
    packet is admitted, runs after it, and the latch stays cleared."""
    rtp = stream()
    moved = ("192.0.2.40", 5000)
    reinvite = threading.Thread(target=rtp.set_remote, args=moved)
    done = threading.Event()
    real = rtp.from_peer

    def mid_admission(ip: str) -> bool:
        peer = real(ip)  # read before the re-INVITE lands
        if not done.is_set():
            reinvite.start()
            reinvite.join(timeout=0.5)  # without the lock, set_remote ends here
            done.set()
        return peer

    rtp.from_peer = mid_admission  # type: ignore[method-assign]
    rtp.receive(audio(1), (SDP[0], 4002))
    reinvite.join()
    assert done.is_set() and (rtp.outIP, rtp.outPort) == moved
    assert rtp.latched is None and rtp.destination() == moved


def test_after_a_hold_a_caller_back_from_a_new_nat_port_is_learnt_again() -> None:
    """An a=inactive hold longer than the caller's NAT timeout: we sent nothing, its NAT
    entry expired, and it comes back from another port; the resume's SDP is the same as
    before. Before, every packet from the new port was dropped (the SDP's public IP: its
    other ports foreign; a private SDP: the source learnt was never replaced) and the call
    died of rtp_timeout. The old latch holds until the new source qualifies."""
    public = ("203.0.113.5", 4000)  # a phone that wrote its public address (STUN, ALG)
    for sdp, first, moved in ((public, public, ("203.0.113.5", 4100)),
                              (SDP, NAT, ("203.0.113.5", 31555))):
        rtp = stream(sdp)
        if first == sdp:
            assert heard(rtp, first, 1)
        else:
            learn(rtp, first)
        assert rtp.latched == first
        rtp.set_remote(*sdp)  # the resume's re-INVITE: the same SDP
        rtp.relearn()  # what the resume does (``InDialog._resumed``)
        assert rtp.latched == first and rtp.destination() == (sdp if first == sdp else first)
        learn(rtp, moved, first=20)
        assert rtp.latched == moved and rtp.destination() == moved
        # Strict again: the old source is foreign now, unless it is the SDP's own address
        # (which takes the call back whenever it sends, as always).
        assert heard(rtp, first, 30) is (first == sdp)


def test_learning_after_a_hold_ends_when_the_latched_source_is_heard() -> None:
    """The caller's NAT entry outlived the hold: its first packet after the resume ends the
    learning, and a stranger spraying packets in a row takes nothing (RTP bleed)."""
    rtp = stream()
    learn(rtp, NAT)
    rtp.relearn()
    assert not heard(rtp, STRANGER, 100)  # held while the learning is open
    assert heard(rtp, NAT, 10)
    spray = range(101, 101 + 2 * LATCH_LEARN_PACKETS)
    assert not any(heard(rtp, STRANGER, seq) for seq in spray)
    assert rtp.latched == NAT


def test_a_stranger_elsewhere_takes_nothing_while_the_caller_is_learnt_after_a_hold() -> None:
    """Learning after a hold took any source: a stranger sending packets in a row became
    the call's source and the caller was dropped (review30). Only the latched IP or the
    SDP's learns; the caller's NAT port moved on the same IP still does."""
    rtp = stream()
    learn(rtp, NAT)
    rtp.relearn()
    spray = range(200, 200 + 3 * LATCH_LEARN_PACKETS)
    assert not any(heard(rtp, STRANGER, seq) for seq in spray)
    assert rtp.latched == NAT and rtp.destination() == NAT
    moved = (NAT[0], NAT[1] + 7)
    learn(rtp, moved, first=300)
    assert rtp.latched == moved


def test_learning_after_a_hold_closes_after_its_window(monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing qualified within ``RELEARN_SECONDS``: the latch stands, strict again."""
    rtp = stream()
    learn(rtp, NAT)
    rtp.relearn()
    now = time.monotonic()
    monkeypatch.setattr(rtp_module.time, "monotonic", lambda: now + RELEARN_SECONDS + 1)
    moved = (NAT[0], NAT[1] + 7)
    assert not any(heard(rtp, moved, seq) for seq in range(400, 400 + 3 * LATCH_LEARN_PACKETS))
    assert rtp.latched == NAT


def test_a_second_hold_follows_the_callers_nat_port_again() -> None:
    """A phone that wrote its public address, learnt from a new NAT port after one hold,
    was sent to at the SDP's port after the second (a mapping gone): it heard nothing."""
    public = ("203.0.113.5", 4000)
    rtp = stream(public)
    assert heard(rtp, public, 1)
    for n, port in enumerate((4100, 4200)):
        rtp.set_remote(*public)
        rtp.relearn()
        learn(rtp, (public[0], port), first=100 * (n + 1))
        assert rtp.latched == rtp.destination() == (public[0], port)
