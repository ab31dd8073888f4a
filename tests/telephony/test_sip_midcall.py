"""Mid-call requests against a real front end at the shipped settings, raw UDP peers on
loopback: a re-INVITE that changes the codec (PCMU -> PCMA only, new RTP port), and what
someone who knows only what an on-path observer or a guesser could (the Call-ID, maybe
our To tag, our RTP port) can do to a call: nothing (481, packets dropped). Hold and the
direction of our answer are socket-free in test_sip_indialog.py."""

from __future__ import annotations

import array
import contextlib
import itertools
import math
import re
import socket
import struct
import time
from collections.abc import Iterator

import pytest

from telephony.call import CallHandle, CallState
from telephony.media import g711
from telephony.sip.frontend import SipFrontEnd
from tests.support.lines import AnsweringLines as Lines
from tests.support.lines import answered, shipped_front_end
from tests.support.rawsip import RawPeer, header, sdp_port, status
from tests.support.waiting import wait_until

pytestmark = pytest.mark.sip

CALLER, STRANGER = "127.0.0.81", "127.0.0.82"
AMPLITUDE = 8000
RELAY = "application/dtmf-relay"


@pytest.fixture
def shipped() -> Iterator[tuple[SipFrontEnd, Lines]]:
    lines = Lines()
    fe = shipped_front_end(lines)
    yield fe, lines
    fe.stop()


@pytest.fixture
def peers(shipped: tuple[SipFrontEnd, Lines]) -> Iterator[tuple[RawPeer, RawPeer]]:
    """The caller, and a stranger (another address; in the codec test, the caller's
    second RTP port: same address)."""
    fe, _ = shipped
    caller, stranger = RawPeer(CALLER, fe.local_port), RawPeer(STRANGER, fe.local_port)
    yield caller, stranger
    caller.close()
    stranger.close()


def _offer(peer: RawPeer, port: int, pts: list[int]) -> str:
    names = {0: "PCMU", 8: "PCMA", 101: "telephone-event"}
    return (f"v=0\r\no=- 1 2 IN IP4 {peer.ip}\r\ns=-\r\nc=IN IP4 {peer.ip}\r\nt=0 0\r\n"
            f"m=audio {port} RTP/AVP {' '.join(map(str, pts))}\r\n"
            + "".join(f"a=rtpmap:{pt} {names[pt]}/8000\r\n" for pt in pts))


def _answered(lines: Lines, caller: RawPeer, call_id: str, body: str | None = None
              ) -> tuple[bytes, CallHandle]:
    return answered(lines, caller, call_id, body=body)


def _reinvite(caller: RawPeer, answer: bytes, body: str, cseq: int) -> bytes:
    call_id = header(answer, "Call-ID")
    return caller.request("INVITE", call_id, to=header(answer, "To"), from_tag=f"f{call_id}",
                          cseq=cseq, body=body, content_type="application/sdp")


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


def _tone(freqs: tuple[int, ...], samples: int, start: int = 0) -> bytes:
    return array.array("h", (int(AMPLITUDE * sum(math.sin(2 * math.pi * f * t / 8000)
                                                 for f in freqs)) // len(freqs)
                             for t in range(start, start + samples))).tobytes()


def _pcmu_packets(pcm16: bytes) -> list[bytes]:
    return [struct.pack("!BBHII", 0x80, 0, 100 + n, 160 * n, 0xBAD)
            + g711.pcm16_to_ulaw(pcm16[320 * n:320 * (n + 1)])
            for n in range(len(pcm16) // 320)]


def test_reinvite_to_pcma_only_switches_what_the_caller_hears(
        shipped: tuple[SipFrontEnd, Lines], peers: tuple[RawPeer, RawPeer]) -> None:
    _, lines = shipped
    caller, _ = peers
    new_port = RawPeer(CALLER, caller.target[1])  # the caller's phone moves its RTP here
    try:
        answer, call = _answered(lines, caller, "codec",
                                 _offer(caller, caller.media_port, [0, 101]))
        assert _sdp_line(answer, b"m=audio").endswith(b" 0 101")
        assert call.rtp is not None
        # Four seconds of a 1 kHz tone: still playing when the codec changes.
        call.rtp.queue_pcm16(_tone((1000,), 8000 * 4))
        time.sleep(0.3)
        version = int(_sdp_line(answer, b"o=").split()[2])

        caller.send(_reinvite(caller, answer, _offer(caller, new_port.media_port, [8, 101]), 2))
        ok = _final(caller)
        assert status(ok) == 200 and _sdp_line(ok, b"m=audio").endswith(b" 8 101")
        assert b"a=rtpmap:8 PCMA/8000" in ok and b"PCMU" not in ok
        assert int(_sdp_line(ok, b"o=").split()[2]) == version + 1
        caller.send(caller.ack(ok, cseq=2))
        heard = _rtp(new_port.media, 1.0)
        assert len(heard) >= 20 and {p[1] & 0x7F for p in heard} == {8}
        # Every packet is the tone in A-law: decoded as such it has the tone's level.
        expected = AMPLITUDE / math.sqrt(2)
        levels = [_rms(g711.alaw_to_pcm16(p[12:])) for p in heard]
        assert all(abs(level - expected) < 0.1 * expected for level in levels), levels
        assert call.codec == "PCMA" and call.media is not None and call.media.codec == "PCMA"

        # A refresh offering both laws keeps PCMA and the same SDP.
        caller.send(_reinvite(caller, answer,
                              _offer(caller, new_port.media_port, [0, 8, 101]), 3))
        again = _final(caller)
        assert status(again) == 200 and _sdp_line(again, b"o=") == _sdp_line(ok, b"o=")
        assert _sdp_line(again, b"m=audio").endswith(b" 8 101")
        caller.send(caller.ack(again, cseq=3))
        assert {p[1] & 0x7F for p in _rtp(new_port.media, 0.3)} == {8}

        # What the caller says in A-law now is decoded as A-law.
        frames: list[bytes] = []
        call.on_audio = frames.append
        speech = _tone((500,), 160)
        for seq in range(10):
            new_port.media.sendto(struct.pack("!BBHII", 0x80, 8, seq, 160 * seq, 0xA1A)
                                  + g711.pcm16_to_alaw(speech), ("127.0.0.1", sdp_port(ok)))
            time.sleep(0.02)
        deadline = time.monotonic() + 2
        while len(frames) < 10 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(frames) == 10
        assert all(abs(_rms(f) - _rms(speech)) < 0.05 * _rms(speech) for f in frames)
        caller.send(caller.ack(answer, method="BYE", cseq=4))
    finally:
        new_port.close()


def test_forged_info_and_reinvite_get_481_and_change_nothing(
        shipped: tuple[SipFrontEnd, Lines], peers: tuple[RawPeer, RawPeer]) -> None:
    _, lines = shipped
    caller, stranger = peers
    answer, call = _answered(lines, caller, "victim")
    assert call.rtp is not None
    media_before = (call.rtp.outIP, call.rtp.outPort)
    our_to = header(answer, "To")
    # INFO keying a digit: with only the Call-ID, and with our To tag too.
    stranger.send(stranger.request("INFO", "victim", to="<sip:12345@127.0.0.1>",
                                   from_tag="evil", cseq=7, body="Signal=0\r\n",
                                   content_type=RELAY))
    stranger.send(stranger.request("INFO", "victim", to=our_to, from_tag="evil", cseq=8,
                                   body="Signal=0\r\n", content_type=RELAY))
    # A re-INVITE pointing the caller's audio at the stranger.
    stranger.send(stranger.request("INVITE", "victim", to=our_to, from_tag="evil", cseq=9,
                                   body=stranger.sdp(), content_type="application/sdp"))
    assert [status(_final(stranger)) for _ in range(3)] == [481, 481, 481]
    time.sleep(0.2)
    assert call.get_dtmf(timeout=0) is None
    assert (call.rtp.outIP, call.rtp.outPort) == media_before
    assert call.state is CallState.ANSWERED
    # The real caller's INFO still keys its digit.
    caller.send(caller.request("INFO", "victim", to=our_to, from_tag="fvictim", cseq=2,
                               body="Signal=5\r\n", content_type=RELAY))
    assert call.get_dtmf(timeout=2) == "5"
    caller.send(caller.ack(answer, method="BYE", cseq=3))


def test_rtp_from_anyone_but_the_caller_is_dropped(
        shipped: tuple[SipFrontEnd, Lines], peers: tuple[RawPeer, RawPeer]) -> None:
    _, lines = shipped
    caller, stranger = peers
    answer, call = _answered(lines, caller, "spray")
    heard: list[bytes] = []
    call.on_audio = heard.append
    port = ("127.0.0.1", sdp_port(answer))
    # Key 0 as a tone, 160 ms (RawPeer's offer has no telephone-event: keys are in-band).
    key_0 = _pcmu_packets(_tone((941, 1336), 160 * 8))
    for packet in key_0:
        stranger.media.sendto(packet, port)
        time.sleep(0.02)
    # Every packet counted as foreign is one the RTP thread has dealt with: then (and not
    # after a guessed sleep) nothing of it may have been heard or keyed.
    assert call.rtp is not None
    wait_until(lambda: call.rtp is not None and call.rtp.rx_foreign >= len(key_0), 5.0,
               "the stranger's packets dropped")
    assert call.get_dtmf(timeout=0) is None and heard == []
    assert call.rtp.rx_foreign == len(key_0)
    # The same tone from the caller's own address keys its digit.
    for packet in key_0:
        caller.media.sendto(packet, port)
        time.sleep(0.02)
    assert call.get_dtmf(timeout=2) == "0"
    deadline = time.monotonic() + 2
    while len(heard) < len(key_0) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(heard) == len(key_0)
    caller.send(caller.ack(answer, method="BYE", cseq=8))


@pytest.mark.parametrize("where", ["contact", "record-route"])
def test_a_host_name_where_our_bye_goes_is_answered_and_bye_goes_to_the_source(
        shipped: tuple[SipFrontEnd, Lines], peers: tuple[RawPeer, RawPeer], where: str) -> None:
    """A carrier SBC or proxy that names itself by host name still gets its call answered
    (refusing it would lose the complaint). Our BYE goes where the INVITE came from: a
    look-up of the name (".invalid" never resolves) would stall the thread every call's
    BYE and retransmissions share."""
    _, lines = shipped
    caller, _ = peers
    call_id = f"host-{where}"
    invite = caller.invite(call_id)
    if where == "contact":
        invite = invite.replace(f"@{caller.ip}:{caller.port}>".encode(), b"@sbc.invalid:5060>")
    else:
        invite = caller.invite(call_id, extra="Record-Route: <sip:proxy.invalid;lr>\r\n")
    caller.send(invite)
    answer = caller.finals(1)[call_id]
    assert status(answer) == 200
    caller.send(caller.ack(answer))
    caller.send_rtp(answer, packets=3)
    call = lines.one()
    call.hangup()
    caller.sock.settimeout(2.0)
    while True:  # the 200 may come again before our ACK was seen
        data = caller.sock.recv(65535)
        if data.startswith(b"BYE "):
            break
    assert header(data, "Call-ID") == call_id
    first_line = data.split(b"\r\n", 1)[0]
    assert (b"sbc.invalid" if where == "contact" else caller.ip.encode()) in first_line
    if where == "record-route":
        assert header(data, "Route") == "<sip:proxy.invalid;lr>"
    assert call.ended


def test_a_reinvite_delivered_late_is_500_and_leaves_the_call_as_the_last_one_put_it(
        shipped: tuple[SipFrontEnd, Lines], peers: tuple[RawPeer, RawPeer]) -> None:
    """A phone holds (CSeq 2) and unholds to a new RTP port (CSeq 3); the hold's
    retransmission comes last (a lost 200, a slow path). RFC 3261 12.2.2: 500, and the
    call stays off hold with its RTP at the new port. Before: 200, the call was held
    again (its RTP watchdog off) and our RTP went back to the port the phone had left."""
    _, lines = shipped
    caller, _ = peers
    moved = RawPeer(CALLER, caller.target[1])
    try:
        answer, call = _answered(lines, caller, "late", _offer(caller, caller.media_port, [0]))
        hold = _reinvite(caller, answer, _offer(caller, caller.media_port, [0])
                         + "a=sendonly\r\n", 2)
        caller.send(hold)
        assert status(_final(caller)) == 200 and call.held
        unhold = _reinvite(caller, answer, _offer(caller, moved.media_port, [0]), 3)
        caller.send(unhold)
        assert status(_final(caller)) == 200 and not call.held
        caller.send(hold)  # the same request again, late
        late = _final(caller)
        assert status(late) == 500 and "out of order" in header(late, "Warning")
        assert call.rtp is not None and call.rtp.outPort == moved.media_port
        assert not call.held and call.state is CallState.ANSWERED
        caller.send(unhold)  # its own retransmission: our 200 again
        assert status(_final(caller)) == 200 and not call.held
        caller.send(caller.ack(answer, method="BYE", cseq=4))
    finally:
        moved.close()


def _responses(peer: RawPeer, seconds: float) -> list[bytes]:
    """Every response that reaches ``peer`` within ``seconds``."""
    got: list[bytes] = []
    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        peer.sock.settimeout(left)
        with contextlib.suppress(TimeoutError):
            data = peer.sock.recv(65535)
            if data.startswith(b"SIP/2.0 "):
                got.append(data)
    return got


def test_our_200_to_a_reinvite_comes_again_until_its_ack_and_an_offer_meanwhile_is_491(
        shipped: tuple[SipFrontEnd, Lines], peers: tuple[RawPeer, RawPeer]) -> None:
    """A re-INVITE without SDP (an SBC re-anchoring the media) gets our offer in the 200;
    its ACK, with the answer, is lost. RFC 3261 13.3.1.4: the 200 comes again at T1,
    doubling, until the ACK; an offer of the caller's meanwhile is 491 (RFC 3261 14.2).
    Before, the 200 came once: the answer was never read and the SBC's new address never
    got our RTP."""
    _, lines = shipped
    caller, _ = peers
    moved = RawPeer(CALLER, caller.target[1])
    try:
        answer, call = _answered(lines, caller, "lostack", _offer(caller, caller.media_port,
                                                                  [0, 101]))
        caller.send(_reinvite(caller, answer, "", 2).replace(
            b"Content-Type: application/sdp\r\n", b""))
        first = _responses(caller, 1.8)  # sent at 0, 0.5 and 1.5 s
        assert [status(r) for r in first] == [200, 200, 200]
        assert {header(r, "CSeq") for r in first} == {"2 INVITE"}
        assert b"m=audio" in first[0] and first[1] == first[0]
        caller.send(_reinvite(caller, answer, _offer(caller, moved.media_port, [8, 101]), 3))
        busy = _final(caller)
        assert status(busy) == 491 and header(busy, "CSeq") == "3 INVITE"
        caller.send(caller.ack(first[0], cseq=2,
                               sdp=_offer(caller, moved.media_port, [0, 101])))
        # The next one was due at 3.5 s: none comes after the ACK.
        assert [header(r, "CSeq") for r in _responses(caller, 2.2)
                if status(r) == 200] == []
        assert call.rtp is not None and call.rtp.outPort == moved.media_port
        # The caller's offer again, as RFC 3261 14.1 has it: taken.
        caller.send(_reinvite(caller, answer, _offer(caller, moved.media_port, [8, 101]), 4))
        ok = _final(caller)
        assert status(ok) == 200 and call.codec == "PCMA"
        caller.send(caller.ack(ok, cseq=4))
        assert call.state is CallState.ANSWERED
        caller.send(caller.ack(answer, method="BYE", cseq=5))
    finally:
        moved.close()


def test_a_bye_while_our_200_awaits_its_ack_stops_it_and_a_reinvite_after_is_481(
        shipped: tuple[SipFrontEnd, Lines], peers: tuple[RawPeer, RawPeer]) -> None:
    """The caller hangs up before it ACKs our 200 to its re-INVITE: after the 200 to the
    BYE, our 200 to the re-INVITE comes no more, and a re-INVITE is 481 (RFC 3261 15; before,
    491, which has the peer send it again, RFC 3261 14.1). Socket-free:
    test_sip_reinvite.py."""
    _, lines = shipped
    caller, _ = peers
    answer, call = _answered(lines, caller, "byebeforeack",
                             _offer(caller, caller.media_port, [0, 101]))
    caller.send(_reinvite(caller, answer, _offer(caller, caller.media_port, [0, 101]), 2))
    assert status(ok := _final(caller)) == 200 and header(ok, "CSeq") == "2 INVITE"
    caller.send(caller.ack(answer, method="BYE", cseq=3))
    got = _responses(caller, 2.0)  # our 200 to the re-INVITE was due at 0.5 and 1.5 s
    bye_ok = [i for i, r in enumerate(got) if header(r, "CSeq") == "3 BYE"]
    assert bye_ok and status(got[bye_ok[0]]) == 200
    assert [header(r, "CSeq") for r in got[bye_ok[0]:]] == ["3 BYE"]
    assert call.state is CallState.ENDED
    caller.send(_reinvite(caller, answer, _offer(caller, caller.media_port, [8, 101]), 4))
    refused = _final(caller)
    assert status(refused) == 481 and header(refused, "CSeq") == "4 INVITE"


def test_the_caller_gets_packets_of_the_length_it_asked_for(
        shipped: tuple[SipFrontEnd, Lines], peers: tuple[RawPeer, RawPeer]) -> None:
    """A caller asking a=ptime:40 is answered a=ptime:40 and sent 40 ms packets (320
    samples, the timestamp 320 on each time), a tone queued playing on in them; a
    re-INVITE asking 10 ms gets 10 ms from then on. Before: a=ptime:20 and 20 ms packets
    whatever the offer said (RFC 4566 6: ptime is what the describer wants to receive)."""
    _, lines = shipped
    caller, _ = peers
    answer, call = _answered(lines, caller, "ptime",
                             _offer(caller, caller.media_port, [0, 101]) + "a=ptime:40\r\n")
    assert _sdp_line(answer, b"a=ptime") == b"a=ptime:40"
    assert call.rtp is not None
    call.rtp.queue_pcm16(_tone((1000,), 8000 * 2))
    heard = _rtp(caller.media, 0.5)
    assert len(heard) >= 5 and {len(p) - 12 for p in heard} == {320}
    stamps = [struct.unpack_from("!I", p, 4)[0] for p in heard]
    assert {(b - a) & 0xFFFFFFFF for a, b in itertools.pairwise(stamps)} == {320}
    # From its first packet on, the tone's level in every packet: no gaps.
    expected = AMPLITUDE / math.sqrt(2)
    tone = [abs(_rms(g711.ulaw_to_pcm16(p[12:])) - expected) < 0.1 * expected for p in heard]
    assert True in tone and all(tone[tone.index(True):]), tone
    caller.send(_reinvite(caller, answer, _offer(caller, caller.media_port, [0, 101])
                          + "a=ptime:10\r\n", 2))
    ok = _final(caller)
    assert status(ok) == 200 and _sdp_line(ok, b"a=ptime") == b"a=ptime:10"
    caller.send(caller.ack(ok, cseq=2))
    time.sleep(0.1)
    later = _rtp(caller.media, 0.3)
    assert len(later) >= 10 and {len(p) - 12 for p in later[-10:]} == {80}
    caller.send(caller.ack(answer, method="BYE", cseq=3))
