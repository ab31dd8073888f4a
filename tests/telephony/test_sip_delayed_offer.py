"""INVITEs without SDP (a delayed offer, RFC 3261 13.2.1, RFC 3264), as Cisco CUCM trunks,
SIP-I gateways and click-to-dial 3PCC controllers send them: our offer goes in the 200, the
caller's answer comes in the ACK. Socket-free: our offer, the call's OFFERED state, the ACK
read as the answer (the same path as a re-INVITE without SDP), every ACK we cannot use.
Against the front end at the shipped settings with raw UDP peers on loopback: the handler
is started only once the answer is in, a bad answer or no ACK ends the call with BYE, and
SDP-less INVITEs hold lines and pay the flood guard as any INVITE does. A SIPp caller
through Kamailio in register mode; with the IVR end to end (a ticket):
tests/ivr/test_dialogue_delayed_offer.py."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from telephony.call import (
    TRANSITIONS,
    CallHandle,
    CallState,
    Direction,
    EndReason,
    InvalidTransition,
)
from telephony.rtp import Rtp16Stream
from telephony.sip.floodguard import COST_ABANDONED_CALL, source_call_limit
from telephony.sip.frontend import SipFrontEnd
from telephony.sip.indialog import InDialog
from telephony.sip.sdp import (
    DEFAULT_EVENT_PT,
    STATIC_CODECS,
    Negotiated,
    answer_offer,
    build_offer,
    build_sdp,
    parse_sdp,
)
from telephony.sip.timers import T1, stall_reason
from tests.support import harness
from tests.support.harness import dtmf_event_payloads
from tests.support.lines import AnsweringLines
from tests.support.rawsip import RawPeer, header, sdp_port, status
from tests.support.sipkit import AudioAssets, EchoTestHandler, FrontEndFactory
from tests.support.waiting import wait_until
from tests.telephony.test_sip_indialog import LOCAL_IP, PEER, Wire, codes, sip_request

# --- socket-free --------------------------------------------------------------------


def test_our_offer_lists_every_codec_we_answer_with_and_telephone_event() -> None:
    offer = parse_sdp(build_offer(ip=LOCAL_IP, port=30000, session_id=7))
    assert offer.port == 30000 and offer.connection_ip == LOCAL_IP
    # One table: what we offer is what we answer with, in the same order.
    assert offer.formats == [*STATIC_CODECS, DEFAULT_EVENT_PT]
    assert {pt: name for pt, (name, _) in offer.rtpmap.items()} == {
        **STATIC_CODECS, DEFAULT_EVENT_PT: "telephone-event"}
    # Read by our own rules for offers, it is one we would answer.
    assert answer_offer(offer).codec == "PCMU" and answer_offer(offer).event_pt == 101


def test_offered_is_a_state_of_its_own() -> None:
    assert CallState.OFFERED in TRANSITIONS[CallState.INCOMING]
    assert TRANSITIONS[CallState.OFFERED] == {CallState.ANSWERED, CallState.ENDED}
    assert all(CallState.OFFERED not in TRANSITIONS[s]
               for s in (CallState.ANSWERED, CallState.DIALING, CallState.ALERTING))


class UnstartedRtp(Rtp16Stream):
    """The call's RTP stream, configured for real but with no socket or threads."""

    def start(self) -> None:
        self.NSD = True


class OfferWire(Wire):
    """The front end as the call handle sees it: its 2xx goes through the dialogs, its
    BYE is recorded."""

    def __init__(self) -> None:
        super().__init__()
        self.byes: list[CallHandle] = []
        self.dialogs: InDialog | None = None

    def send_invite_2xx(self, call: CallHandle) -> None:
        assert self.dialogs is not None
        self.dialogs.send_invite_2xx(call)

    def send_bye(self, call: CallHandle) -> None:
        self.byes.append(call)


def wired_dialogs() -> tuple[InDialog, OfferWire]:
    wire = OfferWire()
    dialogs = InDialog(lookup=wire.calls.get, send=wire.send, later=wire.later,
                       new_tag=lambda: "ot1", contact_headers=wire.contact_headers,
                       local_ip=LOCAL_IP, refuse=wire.refuse, clock=lambda: wire.now,
                       on_offer_answer=wire.offer_answered)
    wire.dialogs = dialogs
    return dialogs, wire


def offered_call() -> tuple[InDialog, OfferWire, CallHandle]:
    dialogs, wire = wired_dialogs()
    invite = sip_request("INVITE", to_tag="", cseq=1)  # no body: a delayed offer
    call = CallHandle(wire, direction=Direction.INBOUND, call_id="dlg1", local_tag="ours",
                      caller="13800000000", callee="12345")
    call.invite, call.invite_source, call.remote_tag = invite, PEER, "theirs"
    call.rtp = UnstartedRtp(local=(LOCAL_IP, 30000), remote=("0.0.0.0", 0), codec="PCMU",
                            audio_pt=0, event_pt=None, on_audio=lambda _: None,
                            on_dtmf=call.rx_dtmf)
    call.rtp_port = 30000
    wire.calls[call.call_id] = call
    dialogs.offer(call)
    return dialogs, wire, call


def answer_sdp(codec: str = "PCMA", *, ip: str = "192.0.2.31", port: int = 41000,
               event_pt: int | None = 101) -> bytes:
    pt = {"PCMU": 0, "PCMA": 8, "G729": 18}[codec]
    return build_sdp(ip=ip, port=port, session_id=9, formats=[(pt, codec)], event_pt=event_pt)


def test_the_offer_goes_in_the_200_and_the_call_waits_for_the_ack() -> None:
    dialogs, wire, call = offered_call()
    [(ok, to)] = wire.sent
    assert ok.status_code == 200 and to == PEER and ok.to_tag == "ours"
    assert ok.first("Content-Type") == "application/sdp"
    assert parse_sdp(ok.body_bytes).formats == [0, 8, 101]
    assert parse_sdp(ok.body_bytes).port == 30000
    assert call.state is CallState.OFFERED and call.media is None and call.dtmf_mode is None
    assert not call.rtp.NSD  # type: ignore[union-attr]  # no media before the answer
    assert dialogs.offers == {"offered": 1}
    # Retransmitted until the ACK, as any 200 to an INVITE (RFC 3261 13.3.1.4).
    wire.fire()
    assert codes(wire) == [200, 200] and [t.when for t in wire.timers] == [2 * T1]
    # Not an answer the handler can give: the call is the SIP layer's until the ACK.
    assert not call.answer()


def test_the_answer_in_the_ack_puts_the_call_up_in_the_codec_it_picked() -> None:
    dialogs, wire, call = offered_call()
    dialogs.on_ack(sip_request("ACK", to_tag="ours", cseq=1, body=answer_sdp("PCMA")))
    [(told, media)] = wire.offer_answers
    assert told is call and media == Negotiated(codec="PCMA", audio_pt=8, event_pt=101,
                                                remote_ip="192.0.2.31", remote_port=41000,
                                                layout=("",))
    assert call.ack_received.is_set() and dialogs.offers == {"offered": 1, "answered": 1}
    wire.fire()
    assert codes(wire) == [200]  # ACKed: no more retransmissions
    # What the front end then does (SipFrontEnd._offer_answered): media starts in A-law.
    assert call.take_answer(media)
    rtp = call.rtp
    assert rtp is not None and rtp.NSD
    assert call.state is CallState.ANSWERED and call.codec == "PCMA"
    assert (rtp.codec, rtp.audio_pt, rtp.event_pt) == ("PCMA", 8, 101)
    assert (rtp.outIP, rtp.outPort) == ("192.0.2.31", 41000)
    assert rtp.from_peer("192.0.2.31") and not rtp.from_peer(PEER[0])
    assert call.dtmf_mode == "rfc2833"
    # The handler, started now, answers as it would any call: nothing more is sent.
    assert call.answer() and codes(wire) == [200]
    # A later re-INVITE's answer names the one codec picked: a new o= version.
    dialogs.on_refresh(call, sip_request("INVITE", branch="z9hG4bKre", cseq=2,
                                         body=answer_sdp("PCMA")))
    again = parse_sdp(wire.sent[-1][0].body_bytes)
    assert again.formats == [8, 101]
    assert int(wire.sent[-1][0].body_bytes.split(b"\r\n")[1].split()[2]) == call.session_id + 1


@pytest.mark.parametrize(("ack_body", "outcome"), [
    (b"", "ack_without_sdp"),
    (b"v=0\r\nnonsense", "unusable_answer"),
    (answer_sdp("G729", event_pt=None), "unusable_answer"),
    (answer_sdp("PCMA", ip="0.0.0.0"), "unusable_answer"),
    (answer_sdp("PCMA").replace(b"IN IP4 192.0.2.31", b"IN IP4 media.example.com"),
     "unusable_answer"),
    (answer_sdp("PCMA").replace(b"m=audio 41000", b"m=audio 0"), "unusable_answer"),
    # RFC 3264 6.1 lets the answer to our sendrecv offer refuse our audio; an IVR call is
    # nothing but that audio (before, the call went up and died of no_rtp).
    (answer_sdp("PCMA").replace(b"a=sendrecv", b"a=inactive"), "unusable_answer"),
    (answer_sdp("PCMA").replace(b"a=sendrecv", b"a=sendonly"), "unusable_answer"),
    # Only listening: no speech, no RFC 2833 key (before, the call went up, no_rtp).
    (answer_sdp("PCMA").replace(b"a=sendrecv", b"a=recvonly"), "unusable_answer"),
], ids=["no-sdp", "unreadable", "no-codec-we-offered", "c-0.0.0.0", "c-host-name",
        "stream-refused", "inactive", "sendonly", "recvonly"])
def test_an_ack_without_a_usable_answer_is_reported_with_why(ack_body: bytes,
                                                             outcome: str) -> None:
    dialogs, wire, call = offered_call()
    dialogs.on_ack(sip_request("ACK", to_tag="ours", cseq=1, body=ack_body))
    assert wire.offer_answers == [(call, None)]
    assert dialogs.offers == {"offered": 1, outcome: 1}
    assert call.state is CallState.OFFERED  # the front end ends it (BYE, bad_answer)
    wire.fire()
    assert codes(wire) == [200]  # the ACK came: no more retransmissions


@pytest.mark.parametrize("sent_with", [DEFAULT_EVENT_PT, 96], ids=["offer-number",
                                                                  "answer-number"])
def test_keys_of_an_answer_that_renumbers_telephone_event_are_heard(sent_with: int) -> None:
    """Our offer names telephone-event 101; the answer in the ACK gives it 96, and the
    caller then sends its keys with the offer's number (RFC 3264 6.1: "it MUST use the
    payload type numbers from the offer, even if they differ from those in the answer").
    Read from the answer alone, the call heard only 96: on the clone a caller keying #
    with 101 keyed nothing. The outbound call's 200 is read by the same rule
    (``answered_media``: a citizen's survey keys, a handler's 1). A peer sending with its
    own number is heard too."""
    dialogs, wire, call = offered_call()
    dialogs.on_ack(sip_request("ACK", to_tag="ours", cseq=1,
                               body=answer_sdp("PCMU", event_pt=96)))
    [(_, media)] = wire.offer_answers
    assert call.take_answer(media) and call.dtmf_mode == "rfc2833"
    rtp = call.rtp
    assert rtp is not None
    for n, payload in enumerate(dtmf_event_payloads("#")):
        rtp.parse_packet(struct.pack("!BBHII", 0x80, sent_with, n, 8000, 0x5EED) + payload)
    assert call.flush_dtmf() == "#"


def test_a_hold_after_a_delayed_offer_answered_still_holds() -> None:
    """Hold is a re-INVITE's business, not the start's: a call up through a delayed offer
    is put on hold (a=sendonly, a=inactive) and taken off it as any call is."""
    dialogs, wire, call = offered_call()
    dialogs.on_ack(sip_request("ACK", to_tag="ours", cseq=1, body=answer_sdp("PCMA")))
    [(_, media)] = wire.offer_answers
    assert media is not None and call.take_answer(media)
    for cseq, (direction, ours, held) in enumerate([("sendonly", "recvonly", True),
                                                    ("inactive", "inactive", True),
                                                    ("sendrecv", "sendrecv", False)], 2):
        body = answer_sdp("PCMA").replace(b"a=sendrecv", f"a={direction}".encode())
        dialogs.on_refresh(call, sip_request("INVITE", branch=f"z9hG4bKh{cseq}", cseq=cseq,
                                             body=body))
        ok = wire.sent[-1][0]
        assert ok.status_code == 200 and f"a={ours}".encode() in ok.body_bytes
        assert call.held is held and call.state is CallState.ANSWERED


def test_an_ack_of_another_cseq_is_not_the_answer_and_the_200_goes_on() -> None:
    dialogs, wire, call = offered_call()
    dialogs.on_ack(sip_request("ACK", to_tag="ours", cseq=7, body=answer_sdp()))
    dialogs.on_ack(sip_request("ACK", to_tag="evil", from_tag="x", cseq=1,
                               body=answer_sdp()))
    assert not wire.offer_answers and not call.ack_received.is_set()
    assert call.state is CallState.OFFERED
    wire.fire()
    assert codes(wire) == [200, 200]


def test_a_refresh_before_the_answer_is_491_and_cancel_changes_nothing() -> None:
    dialogs, wire, call = offered_call()
    dialogs.on_refresh(call, sip_request("INVITE", branch="z9hG4bKre", cseq=2,
                                         body=answer_sdp()))
    dialogs.on_cancel(sip_request("CANCEL", to_tag="", cseq=1))
    assert codes(wire) == [200, 491, 200] and call.state is CallState.OFFERED


def test_hanging_up_an_offered_call_sends_bye_and_an_answered_call_is_never_offered(
) -> None:
    _, wire, call = offered_call()
    call.hangup()  # (the front end stopping, say)
    assert call.end_reason is EndReason.LOCAL_HANGUP and wire.byes == [call]
    assert not call.take_answer(Negotiated("PCMA", 8, 101, "192.0.2.31", 41000))
    answered = CallHandle(wire, direction=Direction.INBOUND, call_id="x", local_tag="t",
                          caller="", callee="")
    answered.transition(CallState.ANSWERED)
    with pytest.raises(InvalidTransition):
        answered.transition(CallState.OFFERED)
    assert not answered.offer(b"v=0\r\n") and answered.state is CallState.ANSWERED


def test_an_offered_call_waits_for_its_ack_only_and_as_long_as_any() -> None:
    common = {"acked": False, "rx_packets": 0, "last_rx": 0.0, "ack_timeout": 4.0,
              "first_rtp_timeout": 2.0, "rtp_timeout": 1.0, "media": False}
    # No RTP is expected before the answer: neither no_rtp nor rtp_timeout applies.
    assert stall_reason(now=3.9, answered=0.0, **common) is None  # type: ignore[arg-type]
    assert stall_reason(now=4.0, answered=0.0, **common) is EndReason.NO_ACK  # type: ignore[arg-type]


def test_forgetting_a_call_drops_its_unanswered_offer() -> None:
    dialogs, wire, call = offered_call()
    dialogs.forget(call.call_id)
    dialogs.on_ack(sip_request("ACK", to_tag="ours", cseq=1, body=answer_sdp()))
    assert not wire.offer_answers


# --- the front end at the shipped settings, raw UDP peers on loopback ------------------

CALLER, FLOODER, OTHER = "127.0.0.80", "127.0.0.81", "127.0.0.82"


def late(peer: RawPeer, call_id: str) -> bytes:
    """An INVITE without a body."""
    return peer.invite(call_id, body="")


def bye_for(peer: RawPeer, call_id: str, wait: float = 8.0) -> bytes | None:
    """Our BYE of ``call_id`` (answered 200), skipping the 200s retransmitted meanwhile."""
    peer.sock.settimeout(wait)
    try:
        while True:
            data = peer.sock.recv(65535)
            if data.startswith(b"BYE ") and header(data, "Call-ID") == call_id:
                via, cseq = header(data, "Via"), header(data, "CSeq")
                peer.send((f"SIP/2.0 200 OK\r\nVia: {via}\r\nFrom: {header(data, 'From')}\r\n"
                           f"To: {header(data, 'To')}\r\nCall-ID: {call_id}\r\n"
                           f"CSeq: {cseq}\r\nContent-Length: 0\r\n\r\n").encode())
                return data
    except TimeoutError:
        return None


@pytest.mark.sip
def test_the_call_reaches_the_handler_only_with_the_answer(
        shipped: tuple[SipFrontEnd, AnsweringLines]) -> None:
    fe, lines = shipped
    peer = RawPeer(CALLER, fe.local_port)
    try:
        peer.send(late(peer, "late-ok"))
        (ok,) = peer.finals(1).values()
        assert status(ok) == 200 and parse_sdp(ok.split(b"\r\n\r\n", 1)[1]).formats == [0, 8, 101]
        (call,) = fe.active_calls()
        assert call.state is CallState.OFFERED and not lines.calls  # no handler yet
        peer.send(peer.ack(ok, sdp=peer.sdp(codec="PCMA")))
        wait_until(lambda: lines.calls, 5, "the handler started")
        assert lines.one() is call and call.state is CallState.ANSWERED
        assert call.codec == "PCMA" and call.rtp is not None
        assert (call.rtp.outIP, call.rtp.outPort) == (CALLER, peer.media_port)
        # Our RTP comes in A-law to the address the answer named.
        peer.media.settimeout(3)
        packet, source = peer.media.recvfrom(2048)
        assert packet[1] & 0x7F == 8 and source[1] == sdp_port(ok)
        peer.send_rtp(ok)  # (PCMU silence: counted as the caller's RTP all the same)
        peer.send(peer.ack(ok, method="BYE", cseq=2))
        wait_until(lambda: call.ended, 5, "the call ended")
        assert call.end_reason is EndReason.REMOTE_HANGUP
        assert fe.delayed_offers == {"offered": 1, "answered": 1}
    finally:
        peer.close()


@pytest.mark.sip
def test_an_invite_on_hold_from_its_start_is_488_by_the_same_rule(
        shipped: tuple[SipFrontEnd, AnsweringLines]) -> None:
    """The rule the answer in the ACK is read by is the one of an INVITE's own offer
    (sdp.call_media): on hold from the start, the caller would hear nothing of the IVR;
    a caller that only listens (a=recvonly) would send no speech and no key. Before, a
    recvonly INVITE was answered 200 a=sendrecv (no valid answer to it, RFC 3264 6.1),
    and ended by our BYE as no_rtp at first_rtp_timeout, its source charged."""
    fe, lines = shipped
    peer = RawPeer(CALLER, fe.local_port)
    try:
        for direction in ("inactive", "sendonly", "recvonly"):
            peer.send(peer.invite(f"held-{direction}", body=peer.sdp() + f"a={direction}\r\n"))
            final = peer.finals(1)[f"held-{direction}"]
            assert status(final) == 488 and f"a={direction}" in header(final, "Warning")
        assert not lines.calls and fe.delayed_offers == {}
    finally:
        peer.close()


@pytest.mark.sip
@pytest.mark.parametrize("ack", ["no-sdp", "g729", "inactive", "recvonly", None],
                         ids=["ack-no-sdp", "ack-g729", "ack-inactive", "ack-recvonly",
                              "no-ack"])
def test_no_usable_answer_or_no_ack_ends_the_call_with_bye(
        shipped: tuple[SipFrontEnd, AnsweringLines], ack: str | None,
        monkeypatch: pytest.MonkeyPatch) -> None:
    fe, lines = shipped
    charged: list[tuple[str, float]] = []
    penalize = fe.admission.penalize

    def record(source_ip: str, tokens: float, what: str) -> None:
        charged.append((source_ip, tokens))
        penalize(source_ip, tokens, what)

    monkeypatch.setattr(fe.admission, "penalize", record)
    peer = RawPeer(CALLER, fe.local_port)
    try:
        peer.send(late(peer, "late-bad"))
        (ok,) = peer.finals(1).values()
        (call,) = fe.active_calls()
        if ack is not None:
            answer = {"no-sdp": "", "g729": peer.sdp(codec="G729"),
                      "inactive": peer.sdp(codec="PCMA") + "a=inactive\r\n",
                      "recvonly": peer.sdp(codec="PCMA") + "a=recvonly\r\n"}[ack]
            peer.send(peer.ack(ok, sdp=answer))
        bye = bye_for(peer, "late-bad", wait=fe.sip.ack_timeout + 4)
        assert bye is not None, "no BYE"
        assert call.ended and not lines.calls  # the handler never ran
        expected = {None: EndReason.NO_ACK}.get(ack, EndReason.BAD_ANSWER)
        assert call.end_reason is expected
        outcome = {"no-sdp": "ack_without_sdp", "g729": "unusable_answer",
                   "inactive": "unusable_answer", "recvonly": "unusable_answer",
                   None: "no_ack"}[ack]
        assert fe.delayed_offers == {"offered": 1, outcome: 1}
        # Charged as an answered call abandoned (COST_ABANDONED_CALL), whichever it was.
        wait_until(lambda: charged, 5, "the source charged")  # (just after the BYE)
        assert charged == [(CALLER, COST_ABANDONED_CALL)]
        wait_until(lambda: not fe.active_calls(), 5, "the line freed")
    finally:
        peer.close()


@pytest.mark.sip
def test_sdp_less_invites_hold_lines_and_pay_like_any_invite(
        shipped: tuple[SipFrontEnd, AnsweringLines]) -> None:
    """A scanner's INVITEs without SDP, never ACKed: each offered one holds a line of the
    address's share until ack_timeout, the rest get 486, and the abandoned calls get the
    address banned -- as tests/telephony/test_sip_abuse.py shows for INVITEs with SDP."""
    fe, lines = shipped
    limit = source_call_limit(fe.sip)
    flooder, other = RawPeer(FLOODER, fe.local_port), RawPeer(OTHER, fe.local_port)
    try:
        for i in range(20):
            flooder.send(late(flooder, f"scan{i}"))
        finals = flooder.finals(20)
        assert sorted(status(r) for r in finals.values()) == [200] * limit + [486] * (20 - limit)
        assert fe.delayed_offers == {"offered": limit}
        assert len(fe.active_calls()) == limit
        # Another caller, with a delayed offer too, still gets a line and its call.
        other.send(late(other, "citizen"))
        (ok,) = other.finals(1).values()
        assert status(ok) == 200
        other.send(other.ack(ok, sdp=other.sdp()))
        other.send_rtp(ok)
        wait_until(lambda: lines.calls, 5, "the citizen's call reached the handler")
        other.send(other.ack(ok, method="BYE", cseq=2))
        # The held lines are freed at ack_timeout, long before RFC 3261's 32 s.
        wait_until(lambda: not fe.active_calls(), 15, "every line freed")
        assert fe.delayed_offers == {"offered": limit + 1, "no_ack": limit, "answered": 1}
        assert [c.call_id for c in lines.calls] == ["citizen"]
        assert fe.flood.banned(FLOODER) and not fe.flood.banned(OTHER)
    finally:
        flooder.close()
        other.close()


@pytest.mark.sip
def test_a_delayed_offer_through_kamailio_in_register_mode(
        make_frontend: FrontEndFactory, kamailio: harness.Kamailio, audio: AudioAssets,
        sipp_dir: Path, sipps: list[harness.Sipp], tmp_path: Path) -> None:
    """A SIPp caller's INVITE without SDP, through Kamailio (our registrar, a real proxy):
    our offer goes back through it, the ACK with the answer (PCMU) comes through it, and
    the call carries the caller's speech and keys to the handler like any call."""
    handler = EchoTestHandler(audio.prompt_wav, digits_wanted=3, recording_dir=tmp_path)
    fe = make_frontend(handler, mode="register", kamailio=kamailio)
    media = "\n".join([harness.play(audio.speech_pcap, audio.speech_ms + 200),
                       *(harness.play(harness.dtmf_pcap(d), 300) for d in "12#"),
                       harness.pause(500)])
    scenario = harness.render_scenario("uac_delayed_offer.xml", sipp_dir,
                                       **harness.delayed_offer_subs(ack="answer", media=media))
    result = harness.Sipp(scenario, sipp_dir, target=f"127.0.0.1:{kamailio.port}",
                          service=fe.sip.username, timeout_s=20)
    sipps.append(result)
    outcome = result.run()
    assert outcome.ok, outcome.stdout[-2000:] + outcome.errors[-2000:]
    (rec,) = handler.wait_records(1)
    assert rec.answered and rec.digits == "12#"
    assert rec.end_reason is EndReason.REMOTE_HANGUP
    assert rec.call.codec == "PCMU" and rec.call.dtmf_mode == "rfc2833"
    assert audio.speech_pcm16 in bytes(rec.recorded)  # every sample, decoded, in order
    assert fe.delayed_offers == {"offered": 1, "answered": 1}
