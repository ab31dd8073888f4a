"""Requests inside our dialogs, socket-free: BYE, CANCEL, INFO, UPDATE and re-INVITE
refreshes, the 420/422 of options we lack, our 200 OK retransmitted until its ACK. The
requests are real SIP text; what goes out is read back as SIP. The same against SIPp is
in tests/telephony/test_sip_requests.py and test_session_timers.py."""

from __future__ import annotations

import itertools
import struct
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from telephony.call import (
    KEY_TAKEOVER_SECONDS,
    CallHandle,
    CallState,
    Direction,
    EndReason,
    KeyLock,
    KeySource,
)
from telephony.media import g711
from telephony.rtp import Rtp16Stream
from telephony.sip import session_timer
from telephony.sip.indialog import InDialog
from telephony.sip.message import SipMessage, build_response
from telephony.sip.sdp import Negotiated, answer_offer, build_sdp, offer_formats, parse_sdp
from telephony.sip.timers import T1, Timer
from telephony.sip.transaction import new_request, udp_via
from tests.support.dtmf_tones import dialled
from tests.support.harness import RtpSink, dtmf_event_payloads

PEER = ("192.0.2.30", 5070)
LOCAL_IP = "127.0.0.1"


class Wire:
    def __init__(self) -> None:
        self.sent: list[tuple[SipMessage, tuple[str, int] | None]] = []
        self.timers: list[Timer] = []
        self.refused: list[tuple[int, list[tuple[str, str]] | None]] = []
        self.calls: dict[str, CallHandle] = {}
        self.now = 100.0
        # What the front end was told of answers to our offers to INVITEs without SDP.
        self.offer_answers: list[tuple[CallHandle, Negotiated | None]] = []
        self.dialogs: InDialog | None = None  # the dialogs ``make`` gave this wire

    def send(self, data: bytes, addr: tuple[str, int] | None) -> None:
        self.sent.append((SipMessage(data), addr))

    def later(self, delay: float, fn: Callable[..., Any], *args: Any) -> Timer:
        timer = Timer(delay, fn, args)
        self.timers.append(timer)
        return timer

    def refuse(self, msg: SipMessage, code: int, *,
               extra: list[tuple[str, str]] | None = None) -> None:
        self.refused.append((code, extra))

    def offer_answered(self, call: CallHandle, media: Negotiated | None,
                       outcome: str) -> None:
        self.offer_answers.append((call, media))
        if self.dialogs is not None:  # counted as the front end does, the call settled
            self.dialogs.count_offer(outcome)

    def fire(self) -> None:
        timer = self.timers.pop(0)
        timer.fn(*timer.args)

    # the call handle's signalling
    local_ip = LOCAL_IP

    def contact_headers(self) -> list[tuple[str, str]]:
        return [("Contact", f"<sip:12345@{LOCAL_IP}:5060>")]

    def send_to(self, data: bytes, addr: tuple[str, int] | None) -> None:
        self.send(data, addr)

    def send_invite_2xx(self, call: CallHandle) -> None: ...

    def send_invite_final(self, call: CallHandle, response: bytes) -> None:
        # As the front end does: through the dialogs' table of our non-2xx finals.
        assert self.dialogs is not None and call.invite is not None
        self.dialogs.finals.send(call.invite, response, call.invite_source)

    def send_bye(self, call: CallHandle) -> None: ...

    def cancel_outbound(self, call: CallHandle) -> None: ...

    def call_ended(self, call: CallHandle) -> None: ...


def make() -> tuple[InDialog, Wire]:
    wire = Wire()
    dialogs = InDialog(lookup=wire.calls.get, send=wire.send, later=wire.later,
                       new_tag=lambda: "ot1", contact_headers=wire.contact_headers,
                       local_ip=LOCAL_IP, refuse=wire.refuse, clock=lambda: wire.now,
                       on_offer_answer=wire.offer_answered)
    wire.dialogs = dialogs
    return dialogs, wire


# A phone's CSeq in a dialog only goes up (RFC 3261 12.2.2), and the front end answers a
# request older than one it took with 500: each request made here without a CSeq of its
# own comes after every one before it (the INVITE of ``inbound_call`` has 1).
_NEXT_CSEQ = itertools.count(2)


def sip_request(method: str, *, call_id: str = "dlg1", to_tag: str = "ours",
                from_tag: str = "theirs", branch: str = "z9hG4bKinv",
                extra: list[tuple[str, str]] | None = None, body: bytes = b"",
                cseq: int | None = None) -> SipMessage:
    if cseq is None:
        cseq = next(_NEXT_CSEQ)
    to = "<sip:12345@127.0.0.1>" + (f";tag={to_tag}" if to_tag else "")
    data = new_request(method, "sip:12345@127.0.0.1", via=udp_via(PEER[0], PEER[1], branch),
                       from_=f"<sip:13800000000@{PEER[0]}>;tag={from_tag}", to=to,
                       call_id=call_id, cseq=cseq,
                       contact=f"sip:13800000000@{PEER[0]}:{PEER[1]}",
                       extra=[*(extra or []), *([("Content-Type", "application/sdp")]
                                                if body and not any(
                                                    n == "Content-Type" for n, _ in
                                                    extra or []) else [])], body=body)
    return SipMessage(data, PEER)


def offer(port: int = 40000) -> bytes:
    return build_sdp(ip=PEER[0], port=port, session_id=7, formats=offer_formats(), event_pt=101)


def inbound_call(wire: Wire, *, answered: bool) -> CallHandle:
    invite = sip_request("INVITE", to_tag="", body=offer(), cseq=1)
    call = CallHandle(wire, direction=Direction.INBOUND, call_id="dlg1", local_tag="ours",
                      caller="13800000000", callee="12345")
    call.invite, call.invite_source = invite, PEER
    call.media = answer_offer(parse_sdp(invite.body_bytes))
    call.remote_tag = "theirs"
    call.last_invite_response = build_response(invite, 180, to_tag="ours")
    wire.calls[call.call_id] = call
    if answered:
        call.last_invite_response = build_response(invite, 200, to_tag="ours")
        call.transition(CallState.ANSWERED)
        if wire.dialogs is not None:
            # Our 200 gone, as ``answer()`` has it sent (a re-INVITE is taken only after
            # it, RFC 3261 14.2), its ACK not yet in; what it sent is not the test's.
            wire.dialogs.send_invite_2xx(call)
            wire.sent.clear()
            wire.timers.clear()
    return call


def ulaw_packets(pcm: bytes, first_seq: int) -> list[bytes]:
    payload = g711.pcm16_to_ulaw(pcm + b"\x00" * (-len(pcm) % 320))
    return [struct.pack("!BBHII", 0x80, 0, first_seq + n, 160 * (first_seq + n), 0x5EED)
            + payload[i:i + 160] for n, i in enumerate(range(0, len(payload), 160))]


def codes(wire: Wire) -> list[int]:
    return [m.status_code for m, _ in wire.sent]


def test_bye_in_the_dialog_ends_the_call() -> None:
    dialogs, wire = make()
    call = inbound_call(wire, answered=True)
    dialogs.on_bye(sip_request("BYE"))
    assert codes(wire) == [200] and wire.sent[0][1] == PEER
    assert call.end_reason is EndReason.REMOTE_HANGUP


def test_a_bye_older_than_the_dialogs_last_request_is_500_and_the_call_goes_on() -> None:
    """RFC 3261 12.2.2: a request whose CSeq is lower than the last one taken in the
    dialog is out of order, answered 500, the dialog left. Before, a BYE delivered late
    (or replayed from an old capture) after a re-INVITE ended the call."""
    dialogs, wire = make()
    call = inbound_call(wire, answered=True)
    dialogs.on_refresh(call, sip_request("INVITE", branch="z9hG4bKre", cseq=20, body=offer()))
    dialogs.on_bye(sip_request("BYE", branch="z9hG4bKold", cseq=19))
    late = wire.sent[-1][0]
    assert codes(wire) == [200, 500] and "out of order" in late.first("Warning")
    assert not call.ended and call.state is CallState.ANSWERED
    dialogs.on_bye(sip_request("BYE", branch="z9hG4bKbye", cseq=21))
    assert codes(wire)[-1] == 200 and call.end_reason is EndReason.REMOTE_HANGUP
    # The BYE sent again (our 200 lost): the same CSeq, answered 200 again.
    dialogs.on_bye(sip_request("BYE", branch="z9hG4bKbye", cseq=21))
    assert codes(wire)[-1] == 200


def test_an_info_older_than_the_dialogs_last_request_is_500_and_a_resend_keys_once() -> None:
    """One CSeq rule for every request in the dialog (``InDialog._order``): an INFO below
    the last taken is out of order, 500 (RFC 3261 12.2.2), so the peer knows its key was
    not taken; one with the last CSeq is its resend (our 200 lost), 200 and no second key.
    Before, the late INFO got 200, its key silently dropped."""
    dialogs, wire = make()
    call = inbound_call(wire, answered=True)
    dialogs.on_info(info_key("4", cseq=5))
    dialogs.on_refresh(call, sip_request("INVITE", branch="z9hG4bKre", cseq=7, body=offer()))
    dialogs.on_info(info_key("5", cseq=6))  # delivered after the re-INVITE
    late = wire.sent[-1][0]
    assert codes(wire) == [200, 200, 500] and "out of order" in late.first("Warning")
    dialogs.on_info(info_key("6", cseq=8))
    dialogs.on_info(info_key("6", cseq=8))  # its resend
    assert codes(wire)[3:] == [200, 200] and call.flush_dtmf() == "46"


def test_bye_from_a_stranger_or_for_no_call_is_481() -> None:
    dialogs, wire = make()
    call = inbound_call(wire, answered=True)
    dialogs.on_bye(sip_request("BYE", from_tag="forged"))
    dialogs.on_bye(sip_request("BYE", call_id="nope"))
    assert codes(wire) == [481, 481] and not call.ended


def test_bye_or_ack_with_a_to_tag_not_ours_changes_nothing() -> None:
    dialogs, wire = make()
    call = inbound_call(wire, answered=True)
    dialogs.on_ack(sip_request("ACK", to_tag="guess"))
    dialogs.on_bye(sip_request("BYE", to_tag="guess"))
    dialogs.on_bye(sip_request("BYE", to_tag=""))
    assert codes(wire) == [481, 481] and call.state is CallState.ANSWERED
    assert not call.ack_received.is_set()
    dialogs.on_ack(sip_request("ACK"))
    assert call.ack_received.is_set()


def test_bye_before_our_answer_also_ends_the_invite_with_487() -> None:
    dialogs, wire = make()
    call = inbound_call(wire, answered=False)
    dialogs.on_bye(sip_request("BYE"))
    assert codes(wire) == [200, 487] and wire.sent[1][0].cseq == (1, "INVITE")
    assert call.ended


def test_cancel_of_a_ringing_call_gets_200_then_487_and_ends_it() -> None:
    dialogs, wire = make()
    call = inbound_call(wire, answered=False)
    dialogs.on_cancel(sip_request("CANCEL", to_tag=""))
    assert codes(wire) == [200, 487]
    assert wire.sent[1][0].to_tag == "ours" and call.end_reason is EndReason.CANCELLED
    # A retransmitted INVITE now hears the 487 (the front end resends this).
    assert call.last_invite_response is not None
    assert SipMessage(call.last_invite_response).status_code == 487


def test_cancel_on_another_branch_or_after_the_answer() -> None:
    dialogs, wire = make()
    call = inbound_call(wire, answered=False)
    dialogs.on_cancel(sip_request("CANCEL", to_tag="", branch="z9hG4bKother"))
    assert codes(wire) == [481] and not call.ended
    call.last_invite_response = build_response(call.invite or sip_request("INVITE"), 200)
    call.transition(CallState.ANSWERED)
    dialogs.on_cancel(sip_request("CANCEL", to_tag=""))
    assert codes(wire) == [481, 200] and call.state is CallState.ANSWERED  # too late


def test_info_dtmf_reaches_the_call() -> None:
    dialogs, wire = make()
    call = inbound_call(wire, answered=True)
    dialogs.on_info(sip_request("INFO", extra=[("Content-Type", "application/dtmf-relay")],
                                body=b"Signal=7\r\nDuration=160\r\n"))
    dialogs.on_info(sip_request("INFO", call_id="nope"))
    assert codes(wire) == [200, 481] and call.get_dtmf() == "7"


def test_info_from_outside_the_dialog_keys_nothing() -> None:
    # Only the Call-ID right (a stranger who saw it): no digit, 481.
    dialogs, wire = make()
    call = inbound_call(wire, answered=True)
    relay = [("Content-Type", "application/dtmf-relay")]
    dialogs.on_info(sip_request("INFO", to_tag="guess", from_tag="evil", extra=relay,
                                body=b"Signal=0\r\n"))
    dialogs.on_info(sip_request("INFO", from_tag="evil", extra=relay, body=b"Signal=0\r\n"))
    dialogs.on_info(sip_request("INFO", to_tag="", extra=relay, body=b"Signal=0\r\n"))
    assert codes(wire) == [481, 481, 481] and call.get_dtmf(timeout=0) is None


RELAY = [("Content-Type", "application/dtmf-relay")]


def info_key(digit: str, cseq: int) -> SipMessage:
    return sip_request("INFO", extra=RELAY, body=f"Signal={digit}\r\nDuration=120\r\n".encode(),
                       cseq=cseq)


def event_packets(digit: str, timestamp: int, first_seq: int) -> list[bytes]:
    """One RFC 4733 press as a phone sends it: six updates, three end packets."""
    return [struct.pack("!BBHII", 0x80, 101, first_seq + n, timestamp, 0x5EED) + payload
            for n, payload in enumerate(dtmf_event_payloads(digit))]


def call_with_media(wire: Wire, event_pt: int | None) -> tuple[CallHandle, Rtp16Stream]:
    call = inbound_call(wire, answered=True)
    # The RTP stream the front end gives the call, fed here without a socket.
    rtp = Rtp16Stream(local=(LOCAL_IP, 0), remote=PEER, codec="PCMU", audio_pt=0,
                      event_pt=event_pt, on_audio=lambda _: None, on_dtmf=call.rx_dtmf)
    return call, rtp


@pytest.mark.parametrize("info_first", [False, True], ids=["rtp-first", "info-first"])
def test_a_phone_sending_every_key_both_ways_counts_each_press_once(info_first: bool) -> None:
    """Some phones send each key as telephone-event RTP and as SIP INFO. The first way a
    key comes on a call is the call's; the other is ignored from then on. Pressing 1, 1, 2
    gives "112": the same key pressed again is a press of its own, not a duplicate."""
    dialogs, wire = make()
    call, rtp = call_with_media(wire, event_pt=101)
    for n, digit in enumerate("112"):
        packets = event_packets(digit, timestamp=8000 * (n + 1), first_seq=100 + 10 * n)
        if info_first:
            dialogs.on_info(info_key(digit, cseq=3 + n))
        for packet in packets:
            rtp.parse_packet(packet)
        if not info_first:
            dialogs.on_info(info_key(digit, cseq=3 + n))
    assert call.flush_dtmf() == "112"
    assert call.key_source is (KeySource.INFO if info_first else KeySource.RTP)
    assert codes(wire) == [200, 200, 200]  # the ignored INFOs are still answered


def test_a_phone_keying_info_and_leaving_tones_in_the_audio_counts_once() -> None:
    """A PCMU-only call (keys searched in the audio) whose phone also sends INFO."""
    dialogs, wire = make()
    call, rtp = call_with_media(wire, event_pt=None)
    for n, digit in enumerate("55"):
        dialogs.on_info(info_key(digit, cseq=3 + n))
        for packet in ulaw_packets(dialled(digit, on_ms=100, off_ms=100), first_seq=200 * n):
            rtp.parse_packet(packet)
    assert call.flush_dtmf() == "55" and call.key_source is KeySource.INFO


def test_keys_by_one_way_only_are_all_taken() -> None:
    # A trunk that sends INFO alone, and a phone that sends events alone: nothing dropped.
    dialogs, wire = make()
    call, _ = call_with_media(wire, event_pt=101)
    for n, digit in enumerate("1234*#"):
        dialogs.on_info(info_key(digit, cseq=3 + n))
    assert call.flush_dtmf() == "1234*#"
    call, rtp = call_with_media(make()[1], event_pt=101)
    for n, digit in enumerate("99"):
        for packet in event_packets(digit, timestamp=8000 * (n + 1), first_seq=10 * n):
            rtp.parse_packet(packet)
    assert call.flush_dtmf() == "99" and call.key_source is KeySource.RTP


# ---------------------------------------------------------------- which source's keys count
# KeyLock's rule on its own, socket-free, with the shipped takeover time; the times are
# seconds on the call's monotonic clock.


def _admitted(keys: list[tuple[float, KeySource, str]]) -> str:
    lock = KeyLock()
    return "".join(digit for at, source, digit in keys if lock.admit(source, at))


RTP, INFO = KeySource.RTP, KeySource.INFO


@pytest.mark.parametrize("first", [RTP, INFO], ids=["rtp-first", "info-first"])
def test_a_key_sent_both_ways_is_one_key_and_a_real_double_press_is_two(
        first: KeySource) -> None:
    other = INFO if first is RTP else RTP
    # One press, both ways (the copies milliseconds apart): one key.
    assert _admitted([(10.0, first, "1"), (10.02, other, "1")]) == "1"
    # Pressing 1 twice, 300 ms apart, each press sent both ways: two keys, not four.
    assert _admitted([(10.0, first, "1"), (10.02, other, "1"),
                      (10.3, first, "1"), (10.33, other, "1")]) == "11"
    # Pressed again after a pause: whichever copy comes first counts, the other not.
    assert _admitted([(10.0, first, "1"), (10.02, other, "1"),
                      (20.0, other, "2"), (20.01, first, "2")]) == "12"


@pytest.mark.parametrize("stray", [RTP, INFO])
def test_a_stray_key_does_not_lock_out_the_other_source_for_good(stray: KeySource) -> None:
    """A key that was no key (a false in-band tone in the caller's speech, a stray event)
    comes first; the caller's real keys come the other way. Those within the takeover time
    of it are lost (the price of never counting a press twice), every one after counts."""
    real = INFO if stray is RTP else RTP
    lock = KeyLock()
    assert lock.admit(stray, 0.0) and lock.source is stray
    assert not lock.admit(real, KEY_TAKEOVER_SECONDS - 0.1)
    assert lock.admit(real, KEY_TAKEOVER_SECONDS + 0.1) and lock.source is real
    # From then on the real source's keys, quick presses included, all count.
    assert all(lock.admit(real, KEY_TAKEOVER_SECONDS + 0.1 + 0.25 * n) for n in range(1, 6))
    assert lock.source is real


def test_a_lone_event_packet_keys_nothing_and_locks_nothing() -> None:
    """A stray telephone-event packet (no end bit, no end ever) before the caller's INFO
    keys: no key, no lock; every INFO key counts at once."""
    dialogs, wire = make()
    call, rtp = call_with_media(wire, event_pt=101)
    (first, *_) = dtmf_event_payloads("9")
    rtp.parse_packet(struct.pack("!BBHII", 0x80, 101, 7, 4000, 0x5EED) + first)
    assert call.key_source is None and call.flush_dtmf() == ""
    for n, digit in enumerate("12#"):
        dialogs.on_info(info_key(digit, cseq=3 + n))
    assert call.flush_dtmf() == "12#" and call.key_source is KeySource.INFO


def test_an_event_counts_at_its_end_and_one_whose_ends_were_lost_at_the_next() -> None:
    _, wire = make()
    call, rtp = call_with_media(wire, event_pt=101)
    one, two = (event_packets(d, timestamp=8000 * (n + 1), first_seq=20 * n)
                for n, d in enumerate("47"))
    for packet in one[:6]:  # the updates: the key is not over yet
        rtp.parse_packet(packet)
    assert call.flush_dtmf() == ""
    # Its three end packets lost; the next press begins: the first (120 ms long) counts
    # then, the second at its end, each once.
    rtp.parse_packet(two[0])
    assert call.flush_dtmf() == "4"
    for packet in two[1:]:
        rtp.parse_packet(packet)
    assert call.flush_dtmf() == "7" and call.key_source is KeySource.RTP


def test_a_retransmitted_info_is_answered_and_keys_once() -> None:
    """Our 200 to an INFO lost: the phone sends the same INFO (same CSeq) again."""
    dialogs, wire = make()
    call = inbound_call(wire, answered=True)
    dialogs.on_info(info_key("3", cseq=5))
    dialogs.on_info(info_key("3", cseq=5))  # retransmission
    dialogs.on_info(info_key("3", cseq=4))  # older than one already taken: out of order
    dialogs.on_info(info_key("3", cseq=6))  # a new press of the same key
    assert codes(wire) == [200, 200, 500, 200] and call.flush_dtmf() == "33"


def test_update_outside_a_dialog_is_481() -> None:
    dialogs, wire = make()
    inbound_call(wire, answered=True)
    dialogs.on_update(sip_request("UPDATE", call_id="nope"))
    dialogs.on_update(sip_request("UPDATE", to_tag="not-ours"))
    assert codes(wire) == [481, 481]


def test_update_without_sdp_refreshes_the_session_timer_and_sends_no_sdp() -> None:
    dialogs, wire = make()
    call = inbound_call(wire, answered=True)
    wire.now = 500.0
    dialogs.on_update(sip_request("UPDATE", extra=[("Session-Expires", "1800;refresher=uac"),
                                                   ("Supported", "timer")]))
    [(ok, _)] = wire.sent
    assert ok.status_code == 200 and not ok.body_bytes
    assert call.session_refreshed == 500.0 and call.session_interval == 1800


def test_reinvite_gets_our_unchanged_sdp_and_a_hold_offer_is_taken() -> None:
    dialogs, wire = make()
    call = inbound_call(wire, answered=True)
    hold = offer().replace(PEER[0].encode(), b"0.0.0.0")
    dialogs.on_refresh(call, sip_request("INVITE", branch="z9hG4bKre", body=hold))
    [(ok, _)] = wire.sent
    assert ok.status_code == 200
    assert call.media is not None
    answer = parse_sdp(ok.body_bytes)
    assert answer.connection_ip == LOCAL_IP and not call.ended


@pytest.mark.parametrize(("offered", "answered"), [
    ("sendonly", "recvonly"), ("inactive", "inactive"),
    # A caller that only listens (RFC 3264 6.1: answered sendonly; before, sendonly too,
    # but the watchdog ended the call rtp_timeout 10 s later, the prompts still playing).
    ("recvonly", "sendonly")])
def test_hold_and_unhold_mirror_the_direction_and_hold_the_rtp_watchdog(
        offered: str, answered: str) -> None:
    dialogs, wire = make()
    call = inbound_call(wire, answered=True)
    hold = offer().replace(b"a=sendrecv", f"a={offered}".encode())
    dialogs.on_refresh(call, sip_request("INVITE", branch="z9hG4bKhold", body=hold))
    dialogs.on_refresh(call, sip_request("INVITE", branch="z9hG4bKhold2", body=hold))
    held, again = (m for m, _ in wire.sent)
    assert held.status_code == 200 and f"a={answered}\r\n".encode() in held.body_bytes
    assert b"a=sendrecv" not in held.body_bytes and call.held
    version = int(held.body_bytes.split(b"\r\n")[1].split()[2])
    assert version == call.session_id + 1  # our SDP changed (RFC 3264 8)
    assert again.body_bytes == held.body_bytes  # the same hold again: the same SDP
    dialogs.on_refresh(call, sip_request("INVITE", branch="z9hG4bKunhold", body=offer()))
    unheld = wire.sent[-1][0]
    assert b"a=sendrecv\r\n" in unheld.body_bytes and not call.held
    assert int(unheld.body_bytes.split(b"\r\n")[1].split()[2]) == version + 1
    assert call.state is CallState.ANSWERED


@pytest.mark.parametrize(("hold", "we_send"), [
    (b"a=sendonly", False), (b"a=inactive", False), (b"c=IN IP4 0.0.0.0", False),
    # A caller that only listens (answered sendonly) hears us: sent to.
    (b"a=recvonly", True)], ids=["sendonly", "inactive", "rfc2543", "recvonly"])
def test_nothing_is_sent_to_a_caller_who_holds_us_until_it_resumes(hold: bytes,
                                                                   we_send: bool) -> None:
    """RFC 3264 6.1: a stream answered recvonly or inactive is one we must not send on.
    Before, our RTP (prompts, silence) went on at 50 packets a second to a caller who put
    us on hold (a=sendonly, a=inactive, or c=0.0.0.0). The send loop's frames are sent one
    by one (``Rtp16Stream.send_frame``) to a socket on 127.0.0.1 and counted (tx_packets,
    tx_muted): no sleeps, no packet in flight as the hold comes."""
    dialogs, wire = make()
    call = inbound_call(wire, answered=True)
    sink = RtpSink()
    talking = build_sdp(ip=LOCAL_IP, port=sink.port, session_id=7, formats=offer_formats(),
                        event_pt=101)
    rtp = Rtp16Stream(local=(LOCAL_IP, 0), remote=(LOCAL_IP, sink.port), codec="PCMU",
                      audio_pt=0, event_pt=101, on_audio=call.rx_audio, on_dtmf=call.rx_dtmf)
    call.rtp = rtp
    rtp.bind()

    def frames(n: int) -> tuple[int, int]:
        """(sent, muted) of the next ``n`` frames."""
        sent, muted = rtp.tx_packets, rtp.tx_muted
        for _ in range(n):
            assert rtp.send_frame()
        return rtp.tx_packets - sent, rtp.tx_muted - muted

    try:
        assert frames(5) == (5, 0)
        held = (talking.replace(f"c=IN IP4 {LOCAL_IP}".encode(), hold) if hold.startswith(b"c=")
                else talking.replace(b"a=sendrecv", hold))
        dialogs.on_refresh(call, sip_request("INVITE", branch="z9hG4bKhold", body=held))
        assert call.held and wire.sent[-1][0].status_code == 200
        assert frames(25) == ((25, 0) if we_send else (0, 25))
        prompt = rtp.queue_pcm16(b"\x10\x20" * 1600)  # played while held: dropped as paced
        assert frames(11) == ((11, 0) if we_send else (0, 11)) and prompt.done.is_set()
        dialogs.on_refresh(call, sip_request("INVITE", branch="z9hG4bKback", body=talking))
        assert not call.held and frames(5) == (5, 0)
    finally:
        rtp.stop()
        sink.close()


def test_a_late_reinvite_is_500_and_changes_nothing_and_a_retransmission_gets_our_answer(
        ) -> None:
    """RFC 3261 12.2.2: the peer's CSeq only goes up in a dialog. Before, every re-INVITE
    was taken whatever its CSeq: a hold's retransmission delivered after the unhold put the
    call back on hold (the RTP watchdog off for good), and an old offer moved our RTP back
    to a port the peer (or its SBC) had left."""
    dialogs, wire = make()
    call, rtp = call_with_media(wire, 101)
    call.rtp = rtp
    held = offer(40002).replace(b"a=sendrecv", b"a=sendonly")
    hold = sip_request("INVITE", branch="z9hG4bKhold", cseq=10, body=held)
    dialogs.on_refresh(call, hold)
    dialogs.on_refresh(call, sip_request("INVITE", branch="z9hG4bKunhold", cseq=11,
                                         body=offer(40004)))
    assert codes(wire) == [200, 200] and not call.held and rtp.outPort == 40004
    version = call.sdp_version
    # The hold's retransmission (our 200 to it lost), delivered late: a new branch would
    # be a new request, the same branch is the same one; neither is taken again.
    dialogs.on_refresh(call, hold)
    dialogs.on_refresh(call, sip_request("INVITE", branch="z9hG4bKold", cseq=9, body=held))
    dialogs.on_refresh(call, sip_request("UPDATE", branch="z9hG4bKupd", cseq=11, body=held))
    late, old, update = (m for m, _ in wire.sent[2:])
    assert (late.status_code, old.status_code, update.status_code) == (500, 500, 500)
    assert "out of order" in old.first("Warning") and not old.first("Retry-After")
    assert not call.held and call.sdp_version == version and rtp.outPort == 40004
    # The unhold's own retransmission gets the same 200 again, the call unchanged.
    dialogs.on_refresh(call, sip_request("INVITE", branch="z9hG4bKunhold", cseq=11,
                                         body=offer(40004)))
    again = wire.sent[-1][0]
    assert again.status_code == 200 and again.body_bytes == wire.sent[1][0].body_bytes
    assert call.sdp_version == version and call.state is CallState.ANSWERED
    # An INFO shares the dialog's sequence: older than the last re-INVITE, it keys nothing.
    dialogs.on_info(info_key("5", cseq=8))
    dialogs.on_info(info_key("6", cseq=12))
    assert call.flush_dtmf() == "6"


def test_reinvite_with_an_offer_we_cannot_serve_is_488_and_the_call_goes_on() -> None:
    dialogs, wire = make()
    call = inbound_call(wire, answered=True)
    g729_only = build_sdp(ip=PEER[0], port=40002, session_id=8, formats=[(18, "G729")],
                          event_pt=None)
    dialogs.on_refresh(call, sip_request("INVITE", branch="z9hG4bKre", body=g729_only))
    dialogs.on_refresh(call, sip_request("INVITE", branch="z9hG4bKre2", body=b"v=0\r\nnonsense"))
    assert codes(wire) == [488, 400] and call.state is CallState.ANSWERED


def test_a_reinvite_before_our_answer_is_500_with_retry_after_and_an_update_200() -> None:
    """RFC 3261 14.2: a re-INVITE in the early dialog (after our 180, before our final
    answer to the INVITE) gets 500 with a Retry-After of 0-10 s; before, 491, which is for
    glare. An UPDATE without SDP there is a refresh: 200 (RFC 3311 5.2; before, 491);
    early UPDATEs with offers: tests/telephony/test_sip_early_update.py."""
    dialogs, wire = make()
    call = inbound_call(wire, answered=False)
    dialogs.on_refresh(call, sip_request("INVITE", branch="z9hG4bKre"))
    dialogs.on_update(sip_request("UPDATE", branch="z9hG4bKupd"))
    assert codes(wire) == [500, 200] and call.state is CallState.INCOMING
    assert 0 <= int(wire.sent[0][0].first("Retry-After")) <= 10


def test_options_we_lack_and_too_brief_sessions() -> None:
    dialogs, wire = make()
    new = sip_request("INVITE", to_tag="", extra=[("Require", "100rel, foo")])
    assert dialogs.refuse_options(new)
    brief = sip_request("INVITE", to_tag="", extra=[("Session-Expires", "30")])
    assert dialogs.refuse_options(brief)
    # A new INVITE's refusal goes through the admission (its ACK must be known).
    assert [code for code, _ in wire.refused] == [420, 422] and not wire.sent
    assert ("Min-SE", str(session_timer.MIN_SE_SECONDS)) in (wire.refused[1][1] or [])
    # Inside a dialog it is a plain answer.
    assert dialogs.refuse_options(sip_request("UPDATE", extra=[("Require", "foo")]))
    assert codes(wire) == [420] and wire.sent[0][0].first("Unsupported")
    assert not dialogs.refuse_options(sip_request("INVITE", to_tag=""))


def test_our_2xx_is_retransmitted_until_the_ack() -> None:
    dialogs, wire = make()
    call = inbound_call(wire, answered=False)
    call.last_invite_response = build_response(call.invite or sip_request("INVITE"), 200,
                                               to_tag="ours")
    call.transition(CallState.ANSWERED)
    dialogs.send_invite_2xx(call)
    assert codes(wire) == [200] and call.session_refreshed == wire.now
    assert [t.when for t in wire.timers] == [T1]
    wire.fire()
    assert codes(wire) == [200, 200] and [t.when for t in wire.timers] == [2 * T1]
    dialogs.on_ack(sip_request("ACK"))
    assert call.ack_received.is_set()
    wire.fire()
    assert codes(wire) == [200, 200] and not wire.timers


def test_options_outside_a_dialog_names_what_we_take() -> None:
    dialogs, wire = make()
    dialogs.on_options(sip_request("OPTIONS", call_id="probe", to_tag=""))
    [(ok, _)] = wire.sent
    assert ok.status_code == 200 and ok.to_tag == "ot1"
    assert "UPDATE" in ok.first("Allow") and ok.first("Accept") == "application/sdp"


@pytest.mark.parametrize("body", [b"Signal=123\r\nDuration=160\r\n", b"Signal=\r\n",
                                  b"Signal=5 6\r\n", b"Signal=x\r\n"])
def test_info_whose_signal_is_not_one_key_is_400_and_keys_nothing(body: bytes) -> None:
    dialogs, wire = make()
    call = inbound_call(wire, answered=True)
    dialogs.on_info(sip_request("INFO", extra=RELAY, body=body, cseq=5))
    assert codes(wire) == [400] and call.get_dtmf(timeout=0) is None
    assert not call.ended  # the dialog goes on, and so does the next key
    dialogs.on_info(sip_request("INFO", extra=RELAY, body=b"Signal = #\r\n", cseq=6))
    assert codes(wire) == [400, 200] and call.get_dtmf(timeout=0) == "#"


@pytest.mark.parametrize(("signal", "key"), [("10", "*"), ("11", "#"), ("12", "A"), ("15", "D")])
def test_info_naming_the_key_by_its_event_code_keys_it(signal: str, key: str) -> None:
    """Some trunks put the RFC 4733 event code in Signal= (11 for #; Asterisk takes both):
    answered 400 and dropped, a caller's # never ended the recording."""
    dialogs, wire = make()
    call = inbound_call(wire, answered=True)
    dialogs.on_info(sip_request("INFO", extra=RELAY, body=f"Signal={signal}\r\n".encode(),
                                cseq=5))
    assert codes(wire) == [200] and call.get_dtmf(timeout=0) == key


def test_info_of_type_application_dtmf_keys_its_body() -> None:
    """application/dtmf carries the key alone as its body ("#", or its event code), the
    other INFO form trunks send (Asterisk takes it): answered 200 and the key dropped."""
    dialogs, wire = make()
    call = inbound_call(wire, answered=True)
    for cseq, body in ((5, b"#\r\n"), (6, b"11")):
        dialogs.on_info(sip_request("INFO", extra=[("Content-Type", "application/dtmf")],
                                    body=body, cseq=cseq))
    assert codes(wire) == [200, 200]
    assert [call.get_dtmf(timeout=0), call.get_dtmf(timeout=0)] == ["#", "#"]


def test_what_a_holding_caller_sends_is_not_heard_as_their_words() -> None:
    """A caller's PBX put the call on hold mid-complaint (a=sendonly) and sent its music.
    On the clone the music's non-speech ran the dialogue's end-of-speech silence: the
    recording ended 7 s into the hold, the number was read back and the confirmation asked
    to someone not listening, the ticket filed without the rest of the complaint, and the
    music was in the recording. Frames while held are not the caller's (as a silent hold's
    none); taken off hold, they are heard again."""
    dialogs, wire = make()
    call, _ = call_with_media(wire, event_pt=101)
    rtp = Rtp16Stream(local=(LOCAL_IP, 0), remote=PEER, codec="PCMU", audio_pt=0,
                      event_pt=101, on_audio=call.rx_audio, on_dtmf=call.rx_dtmf)
    tone = (np.sin(2 * np.pi * 440 * np.arange(8000 * 2) / 8000) * 6000).astype("<i2")
    music = ulaw_packets(tone.tobytes(), first_seq=1)
    speech = ulaw_packets(b"\x10\x20" * 1600, first_seq=200)
    for packet in speech[:5]:
        rtp.parse_packet(packet)
    hold = offer().replace(b"a=sendrecv", b"a=sendonly")
    dialogs.on_refresh(call, sip_request("INVITE", branch="z9hG4bKmoh", body=hold))
    assert call.held
    for packet in music:
        rtp.parse_packet(packet)
    dialogs.on_refresh(call, sip_request("INVITE", branch="z9hG4bKmoh2", body=offer()))
    assert not call.held
    for packet in speech[5:]:
        rtp.parse_packet(packet)
    heard = []
    while (frame := call.read_pcm16(timeout=0)) is not None:
        heard.append(frame)
    assert len(heard) == len(speech)  # the speech before and after, none of the music
    assert call.held_frames == len(music)
