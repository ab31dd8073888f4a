"""RFC 2833 key presses as pcap files for SIPp's play_pcap_audio.

SIPp replays a capture with its RTP timestamps as they are, and a receiver treats packets
with the same timestamp and event as one key press; so the same digit pressed twice (a
survey answered "1", "1") needs two captures with different timestamps. The packets here
follow a phone: a marked start, growing duration every 20 ms, three end packets."""

from __future__ import annotations

import socket
import struct
from pathlib import Path

from tests.support import harness

EVENT_PT = 101


def dtmf_pcap(path: Path, digit: str, *, timestamp: int, ssrc: int = 0x0BADCAFE) -> Path:
    event = "0123456789*#".index(digit)
    packets: list[tuple[bool, int, bool]] = [(i == 0, 160 * (i + 1), False) for i in range(6)]
    packets += [(False, 160 * 7, True)] * 3
    out = bytearray(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
    t0 = 1_700_000_000.0
    for i, (marker, duration, end) in enumerate(packets):
        payload = struct.pack("!BBH", event, (0x80 if end else 0) | 10, duration)
        rtp = struct.pack("!BBHII", 0x80, (0x80 if marker else 0) | EVENT_PT,
                          (timestamp // 160 + i) & 0xFFFF, timestamp & 0xFFFFFFFF,
                          ssrc) + payload
        udp = struct.pack("!HHHH", 40000, 20000, 8 + len(rtp), 0) + rtp
        ip_hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), i & 0xFFFF, 0, 64, 17,
                             0, socket.inet_aton(harness.LOOPBACK),
                             socket.inet_aton(harness.LOOPBACK))
        ip_hdr = ip_hdr[:10] + struct.pack("!H", harness._ip_checksum(ip_hdr)) + ip_hdr[12:]
        frame = b"\x00" * 12 + b"\x08\x00" + ip_hdr + udp
        ts = t0 + i * 0.02
        out += struct.pack("<IIII", int(ts), round((ts % 1) * 1e6) % 1_000_000,
                           len(frame), len(frame))
        out += frame
    path.write_bytes(bytes(out))
    return path
