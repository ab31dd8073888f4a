"""A call's keys at the rate a keypad can press them, socket-free (the RTP stream fed by
hand, as in ``test_sip_indialog``): RFC 4733 end events with made-up timestamps are each a
"new press" to the receiver, and a caller sending them as fast as it can (20,000 in 0.7 s
against the shipped service) had every one queued for the dialogue and written to the log
(10,000 INFO lines from one call)."""

from __future__ import annotations

import logging
import struct

import pytest

from telephony.call import KEY_BURST
from tests.telephony.test_sip_indialog import call_with_media, event_packets, info_key, make


def end_packet(digit: int, timestamp: int, seq: int) -> bytes:
    return struct.pack("!BBHII", 0x80, 101, seq, timestamp, 0x5EED) + bytes(
        [digit, 0x8A]) + (800).to_bytes(2, "big")


def test_a_flood_of_key_events_is_not_a_flood_of_keys_nor_of_log_lines(
        caplog: pytest.LogCaptureFixture) -> None:
    call, rtp = call_with_media(make()[1], event_pt=101)
    # Only the flood's lines: the answer's own ("keys: rfc2833") is captured too when an
    # earlier test in this worker left the root logger at INFO (one line more, a flake).
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="telephony.sip"):
        for n in range(5000):
            rtp.parse_packet(end_packet(5, timestamp=1000 + 800 * n, seq=n))
    # None of it is left to answer a question: the keys taken before the bucket ran dry
    # were the flood's too, and are set aside with it (judge25; before, 40 stayed queued
    # and 25 a second more were taken).
    assert call.flush_dtmf() == "" and call.keys_dropped > 4000
    lines = [r for r in caplog.records if "DTMF" in r.getMessage() or "key" in r.getMessage()]
    assert len(lines) <= KEY_BURST + 1


@pytest.mark.parametrize("both_ways", [False, True], ids=["rtp", "rtp-and-info"])
def test_a_number_keyed_in_one_go_is_taken_whole(both_ways: bool) -> None:
    """A caller (or a PBX dialling a callback number) pressing 16 keys back to back, by
    RFC 4733 events and, from some phones, by SIP INFO too: every press counts once,
    repeated digits included."""
    dialogs, wire = make()
    call, rtp = call_with_media(wire, event_pt=101)
    number = "0085212345678901"
    for n, digit in enumerate(number):
        for packet in event_packets(digit, timestamp=8000 * (n + 1), first_seq=10 * n):
            rtp.parse_packet(packet)
        if both_ways:
            dialogs.on_info(info_key(digit, cseq=3 + n))
    assert call.flush_dtmf() == number
