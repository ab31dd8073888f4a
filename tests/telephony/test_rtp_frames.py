"""What the RTP receiver hands on, socket-free: 20 ms frames whatever packet time the
peer chose (a=ptime:10, 30, 40, 60 are all legal), the audio itself unchanged."""

from __future__ import annotations

import socket
import struct

import numpy as np
import pytest

from telephony.media import g711
from telephony.rtp import FRAME_BYTES, Rtp16Stream


def packets(pcm16: bytes, samples_per_packet: int) -> list[bytes]:
    payload = g711.pcm16_to_ulaw(pcm16)
    return [struct.pack("!BBHII", 0x80, 0, n, n * samples_per_packet, 0x4321)
            + payload[i:i + samples_per_packet]
            for n, i in enumerate(range(0, len(payload), samples_per_packet))]


@pytest.mark.parametrize("ptime_ms", [10, 20, 30, 40, 60])
def test_audio_reaches_listeners_in_20_ms_frames_whatever_the_ptime(ptime_ms: int) -> None:
    frames: list[bytes] = []
    stream = Rtp16Stream(local=("127.0.0.1", 0), remote=("127.0.0.1", 9), codec="PCMU",
                         audio_pt=0, event_pt=None, on_audio=frames.append,
                         on_dtmf=lambda key: None)
    rng = np.random.default_rng(7)
    speech = rng.integers(-8000, 8000, 8000 * 6 // 5, dtype="<i2").tobytes()  # 1.2 s
    for packet in packets(speech, 8 * ptime_ms):
        stream.parse_packet(packet)
    assert {len(f) for f in frames} == {FRAME_BYTES}
    assert len(frames) == 60  # 1.2 s of audio is 60 frames of 20 ms, not 1.2 s / ptime
    assert b"".join(frames) == g711.ulaw_to_pcm16(g711.pcm16_to_ulaw(speech))


def test_audio_faster_than_real_time_is_not_heard_past_a_jitter_allowance() -> None:
    """A peer sending RTP as fast as it can: 30000 packets (10 minutes of audio) in 2 s
    against the shipped service made a 7-second call a recording of 386 s; at that rate 20
    lines fill a disk (and a speech model's CPU) in minutes. Audio past real time and a
    few seconds of bunched-up packets is dropped and counted; a phone's own audio, sent in
    time, is all heard (above)."""
    frames: list[bytes] = []
    stream = Rtp16Stream(local=("127.0.0.1", 0), remote=("127.0.0.1", 9), codec="PCMU",
                         audio_pt=0, event_pt=None, on_audio=frames.append,
                         on_dtmf=lambda key: None)
    minute = b"\x00\x10" * 8000 * 60
    for packet in packets(minute, 160):
        stream.parse_packet(packet)
    assert 60 <= len(frames) < 60 * 50 // 2  # at least the 1.2 s above, not half the minute
    assert stream.rx_excess == 60 * 50 - len(frames)


def test_csrcs_an_extension_and_padding_are_not_audio_and_bad_counts_are_dropped() -> None:
    """A mixer's CSRCs, a header extension and padding (RFC 3550 5.1, 5.3.1) are stripped
    and the payload heard as sent; a packet claiming more of them than it holds, or a
    padding count of 0, is not a valid packet (A.1): dropped and counted. A padding count
    past the whole packet was read from the packet's end, part of it heard as audio."""
    frames: list[bytes] = []
    stream = Rtp16Stream(local=("127.0.0.1", 0), remote=("127.0.0.1", 9), codec="PCMU",
                         audio_pt=0, event_pt=None, on_audio=frames.append,
                         on_dtmf=lambda key: None)
    payload = bytes(range(160))
    extension = struct.pack("!HH", 0xBEDE, 1) + b"\x10\x20\x30\x40"
    stream.parse_packet(struct.pack("!BBHII", 0x80 | 0x20 | 0x10 | 2, 0, 1, 160, 7)
                        + b"CSRC0001" + extension + payload + b"\x00\x00\x00\x04")
    assert frames == [g711.ulaw_to_pcm16(payload)]
    malformed = [
        struct.pack("!BBHII", 0x80 | 0x20, 0, 2, 320, 7) + payload[:-1] + bytes([200]),
        struct.pack("!BBHII", 0x80 | 0x20, 0, 3, 480, 7) + payload[:-1] + bytes([0]),
        struct.pack("!BBHII", 0x80 | 0x0F, 0, 4, 640, 7) + payload[:20],
        struct.pack("!BBHII", 0x80 | 0x10, 0, 5, 800, 7) + struct.pack("!HH", 0xBEDE, 60),
    ]
    for packet in malformed:
        stream.parse_packet(packet)
    assert stream.rx_bad == len(malformed)
    stream.parse_packet(struct.pack("!BBHII", 0x80, 0, 6, 960, 7) + payload)
    # The next valid packet is the next whole frame: nothing of the malformed ones before it.
    assert frames == [g711.ulaw_to_pcm16(payload)] * 2


def test_a_hold_spends_no_sequence_numbers_and_the_first_packet_after_it_is_marked() -> None:
    """While the caller holds us nothing is sent, and no sequence number is spent: a 60 s
    hold counted 3000 on (RFC 3550 A.1's MAX_DROPOUT), and the caller's phone dropped the
    first packets after the resume. The timestamp goes on (it is the clock), the marker
    bit set. Frames sent one by one (``send_frame``) to a socket on 127.0.0.1."""
    peer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    peer.bind(("127.0.0.1", 0))
    peer.settimeout(2)
    rtp = Rtp16Stream(local=("127.0.0.1", 0), remote=peer.getsockname(), codec="PCMU",
                      audio_pt=0, event_pt=101, on_audio=lambda _: None,
                      on_dtmf=lambda _: None)
    rtp.bind()
    try:
        assert rtp.send_frame() and rtp.send_frame()
        before = [struct.unpack_from("!BBHI", peer.recv(2048)) for _ in range(2)]
        rtp.muted = True
        for _ in range(3000):  # a 60 s hold
            assert rtp.send_frame()
        rtp.muted = False
        assert rtp.send_frame()
        after = struct.unpack_from("!BBHI", peer.recv(2048))
    finally:
        assert rtp.sin is not None
        rtp.sin.close()
        peer.close()
    assert rtp.tx_muted == 3000 and rtp.tx_packets == 3
    assert before[0][1] & 0x80 and not before[1][1] & 0x80  # the first packet marked
    assert after[2] == (before[1][2] + 1) & 0xFFFF  # the next sequence number
    assert after[3] == (before[1][3] + 3001 * 160) & 0xFFFFFFFF and after[1] & 0x80


def _stream(frames: list[bytes]) -> Rtp16Stream:
    return Rtp16Stream(local=("127.0.0.1", 0), remote=("127.0.0.1", 9), codec="PCMU",
                       audio_pt=0, event_pt=None, on_audio=frames.append,
                       on_dtmf=lambda key: None)


def _numbered(pcm16: bytes, first: int, ssrc: int = 0x4321) -> list[bytes]:
    return [struct.pack("!BBHII", 0x80, 0, (first + n) & 0xFFFF, n * 160, ssrc) + p[12:]
            for n, p in enumerate(packets(pcm16, 160))]


def _frames_of(pcm16: bytes) -> list[bytes]:
    heard = g711.ulaw_to_pcm16(g711.pcm16_to_ulaw(pcm16))
    return [heard[i:i + FRAME_BYTES] for i in range(0, len(heard), FRAME_BYTES)]


def test_a_packet_delivered_again_later_is_heard_once_and_a_new_source_afresh() -> None:
    """A duplicating link (or a forking SBC) delivers some packets twice, the copy a few
    packets behind: only a copy right behind its original was dropped, the others heard
    again, the same 20 ms twice in the recording. Every copy is dropped (and counted);
    packets out of order are all heard, across the sequence number's wrap, and a new SSRC
    mid-call reusing numbers the first source had (a transfer, an SBC re-anchoring the
    call) is a new source, all heard."""
    frames: list[bytes] = []
    stream = _stream(frames)
    speech = np.random.default_rng(11).integers(-8000, 8000, 8000 * 2,
                                                dtype="<i2").tobytes()  # 2 s
    first = _numbered(speech, 65500)  # wraps at n = 36
    sent = []
    for n, packet in enumerate(first):
        sent.append(packet)
        if n % 7 == 3:
            sent.append(first[n - 2])  # a copy two packets late
    sent[20], sent[21] = sent[21], sent[20]  # and a pair out of order
    second = _numbered(speech, 65500, ssrc=0x9999)
    for packet in sent + second:
        stream.parse_packet(packet)
    chunks = _frames_of(speech)
    assert len(frames) == 2 * len(chunks)
    assert sorted(frames[:len(chunks)]) == sorted(chunks)  # each once, none twice
    assert frames[len(chunks):] == chunks
    assert stream.arrival.duplicates == len(sent) - len(first)


@pytest.mark.parametrize("played", [1, 2, 15, 99, 100, 101, 400])
def test_a_source_that_numbers_afresh_is_heard_not_taken_for_copies(played: int) -> None:
    """SIPp's play_pcap_audio (every test caller) sends each recording with the numbers it
    was captured with, the same SSRC: a caller's words after ``played`` packets of silence
    start at the silence's first number again. A window of heard numbers alone took them
    for copies and the test callers were heard saying nothing (reverted, 6b61063); a
    restart is a run of numbers (RFC 3550 A.1), a copy one packet. At most the restart's
    first packet is lost, where its number is the last heard. (Up to 400: 8 s, within the
    jitter allowance of audio sent at once, ``AUDIO_JITTER_SECONDS``.)"""
    frames: list[bytes] = []
    stream = _stream(frames)
    silence = b"\x00\x00" * 160 * played
    words = np.random.default_rng(5).integers(-8000, 8000, 8000, dtype="<i2").tobytes()
    for packet in _numbered(silence, 1000) + _numbered(words, 1000):
        stream.parse_packet(packet)
    chunks = _frames_of(words)
    assert frames[:played] == _frames_of(silence)
    heard = frames[played:]
    assert heard == chunks[len(chunks) - len(heard):] and len(heard) >= len(chunks) - 1
    assert len(heard) == len(chunks) or played == 1
