"""Our 2xx to a re-INVITE until its ACK, and re-INVITEs that overlap, socket-free (the
requests are real SIP text, the timers fired by hand): RFC 3261 13.3.1.4 (the 2xx sent again
at T1 doubling to T2 until its ACK, BYE after 64*T1 without one), 14.2 and RFC 3311 5.2
(491 to an offer while ours awaits its answer), RFC 5407's "Moratorium" (a newer re-INVITE
confirms a 2xx whose ACK was lost). The dialog's states are ``indialog.InviteState``.
Against SIPp, with the IVR, a re-INVITE whose first ACK is lost switching the call to
A-law: tests/ivr/test_dialogue_reinvite.py."""

from __future__ import annotations

import pytest

from telephony.call import CallHandle, CallState, Direction, EndReason
from telephony.rtp import Rtp16Stream
from telephony.sip.indialog import INVITE_TRANSITIONS, InDialog, InviteState
from telephony.sip.message import SipMessage
from telephony.sip.sdp import answer_offer, build_sdp, parse_sdp
from telephony.sip.timers import ACK_WAIT, T1, T2
from tests.telephony.test_sip_delayed_offer import OfferWire, answer_sdp, wired_dialogs
from tests.telephony.test_sip_indialog import LOCAL_IP, PEER, codes, offer, sip_request


def ringing_call() -> tuple[InDialog, OfferWire, CallHandle, Rtp16Stream]:
    """A call offered PCMU, not answered yet: the handler's ``answer()`` is next."""
    dialogs, wire = wired_dialogs()
    invite = sip_request("INVITE", to_tag="", body=offer(), cseq=1)
    call = CallHandle(wire, direction=Direction.INBOUND, call_id="dlg1", local_tag="ours",
                      caller="13800000000", callee="12345")
    call.invite, call.invite_source, call.remote_tag = invite, PEER, "theirs"
    call.media = answer_offer(parse_sdp(invite.body_bytes))
    call.codec = call.media.codec
    rtp = Rtp16Stream(local=(LOCAL_IP, 0), remote=PEER, codec="PCMU", audio_pt=0,
                      event_pt=101, on_audio=lambda _: None, on_dtmf=call.rx_dtmf)
    rtp.start = lambda: None  # type: ignore[method-assign]  # no socket, no threads
    call.rtp, call.rtp_port = rtp, 30000
    wire.calls[call.call_id] = call
    return dialogs, wire, call, rtp


def answered_call() -> tuple[InDialog, OfferWire, CallHandle, Rtp16Stream]:
    """A call up in PCMU whose 200 has been ACKed, as the front end leaves it."""
    dialogs, wire, call, rtp = ringing_call()
    assert call.answer()
    assert dialogs.invite_state(call.call_id) is InviteState.ACK_AWAITED
    dialogs.on_ack(sip_request("ACK", cseq=1))
    assert dialogs.invite_state(call.call_id) is InviteState.CONFIRMED
    wire.sent.clear()
    wire.timers.clear()
    return dialogs, wire, call, rtp


def another_call(wire: OfferWire, like: CallHandle, call_id: str, tag: str) -> CallHandle:
    """A second call, not answered yet, whose media is ``like``'s."""
    call = CallHandle(wire, direction=Direction.INBOUND, call_id=call_id, local_tag=tag,
                      caller="", callee="12345")
    call.invite, call.invite_source = sip_request("INVITE", call_id=call_id, to_tag="",
                                                  body=offer(), cseq=1), PEER
    call.remote_tag = call.invite.from_tag  # (as the front end takes it from the INVITE)
    call.media, call.rtp = like.media, like.rtp
    wire.calls[call_id] = call
    return call


def reinvite(cseq: int, body: bytes = b"", branch: str = "") -> SipMessage:
    return sip_request("INVITE", branch=branch or f"z9hG4bKre{cseq}", cseq=cseq, body=body)


def pcma_offer(port: int = 40002) -> bytes:
    return build_sdp(ip=PEER[0], port=port, session_id=7, formats=[(8, "PCMA")], event_pt=101)


def test_the_dialog_states_and_their_transitions() -> None:
    expected = {
        InviteState.CONFIRMED: {InviteState.ACK_AWAITED, InviteState.ANSWER_AWAITED},
        InviteState.ACK_AWAITED: {InviteState.CONFIRMED},
        InviteState.ANSWER_AWAITED: {InviteState.CONFIRMED},
    }
    assert expected == INVITE_TRANSITIONS


def test_our_200_to_a_reinvite_goes_again_until_its_ack() -> None:
    """Before, it went once: lost on UDP behind a proxy (which stopped the caller's INVITE
    retransmissions with its 100), or its ACK lost, nothing sent it again."""
    dialogs, wire, call, rtp = answered_call()
    dialogs.on_refresh(call, reinvite(5, pcma_offer()))
    assert codes(wire) == [200] and call.codec == "PCMA"
    assert dialogs.invite_state(call.call_id) is InviteState.ACK_AWAITED
    delays = []
    for _ in range(4):
        delays.append(wire.timers[0].when)
        wire.fire()
    assert delays == [T1, 2 * T1, 4 * T1, T2] and codes(wire) == [200] * 5
    assert all(m.body_bytes == wire.sent[0][0].body_bytes for m, _ in wire.sent)
    assert {addr for _, addr in wire.sent} == {PEER}
    # A late ACK of the first INVITE acknowledges an earlier 200, not this one.
    dialogs.on_ack(sip_request("ACK", cseq=1))
    assert dialogs.invite_state(call.call_id) is InviteState.ACK_AWAITED
    wire.fire()
    assert codes(wire) == [200] * 6
    dialogs.on_ack(sip_request("ACK", cseq=5))
    assert dialogs.invite_state(call.call_id) is InviteState.CONFIRMED
    wire.fire()
    assert codes(wire) == [200] * 6 and not wire.timers
    assert call.state is CallState.ANSWERED and (rtp.outIP, rtp.outPort) == (PEER[0], 40002)


def test_no_ack_for_64_t1_ends_the_call_with_bye() -> None:
    """RFC 3261 13.3.1.4: the dialog is confirmed and the session ended with BYE."""
    dialogs, wire, call, _ = answered_call()
    dialogs.on_refresh(call, reinvite(5, offer()))
    waited = 0.0
    while wire.timers:
        waited += wire.timers[0].when
        wire.fire()
    assert waited == ACK_WAIT  # the last wait ends at 64*T1, not a T2 past it
    # Sent at 0, 0.5, 1.5, 3.5, then every T2 up to 31.5 s.
    assert codes(wire) == [200] * 11
    assert call.end_reason is EndReason.NO_ACK and wire.byes == [call]
    assert dialogs.invite_state(call.call_id) is InviteState.CONFIRMED


def test_the_first_invites_200_unacked_is_left_to_the_watchdog() -> None:
    """The first 200 stops at 64*T1 too, with no BYE of its own: the front end's watchdog
    has ended the call at ``ack_timeout`` (4 s) and charged its source."""
    _, wire, call, _ = answered_call()
    call2 = another_call(wire, call, "dlg2", "o2")
    assert call2.answer()
    while wire.timers:
        wire.fire()
    assert codes(wire) == [200] * 11 and not wire.byes and call2.state is CallState.ANSWERED


def test_a_reinvite_while_our_offer_awaits_its_answer_is_491() -> None:
    """A re-INVITE without SDP gets our offer in the 200; until the ACK brings the answer
    the peer may make no offer of its own (RFC 3264 4). Before, a second re-INVITE was
    taken while ours was open: our offer's answer, in the ACK that followed, was then read
    against the wrong offer, or not at all."""
    dialogs, wire, call, rtp = answered_call()
    dialogs.on_refresh(call, reinvite(5))  # no SDP: our offer in the 200
    ours = wire.sent[0][0]
    assert ours.status_code == 200 and parse_sdp(ours.body_bytes).formats == [0, 101]
    assert dialogs.invite_state(call.call_id) is InviteState.ANSWER_AWAITED
    dialogs.on_refresh(call, reinvite(6, pcma_offer()))
    busy = wire.sent[1][0]
    assert busy.status_code == 491 and "awaits its answer" in busy.first("Warning")
    # The retransmission of the 491's re-INVITE gets the 491; of ours, our offer again.
    dialogs.on_refresh(call, reinvite(6, pcma_offer()))
    dialogs.on_refresh(call, reinvite(5))
    assert [m.status_code for m, _ in wire.sent[2:]] == [491, 200]
    assert wire.sent[3][0].body_bytes == ours.body_bytes
    # An UPDATE with an offer is refused the same way (RFC 3311 5.2); one without SDP,
    # a session refresh, makes no offer and is taken.
    dialogs.on_update(sip_request("UPDATE", branch="z9hG4bKupd", cseq=7, body=pcma_offer()))
    dialogs.on_update(sip_request("UPDATE", branch="z9hG4bKupd2", cseq=8))
    assert [m.status_code for m, _ in wire.sent[4:]] == [491, 200]
    assert call.codec == "PCMU" and (rtp.outIP, rtp.outPort) == PEER
    # Our 200 goes on until the ACK; the ACK of the 491 is not it.
    dialogs.on_ack(sip_request("ACK", branch="z9hG4bKre6", cseq=6))
    wire.fire()
    assert wire.sent[-1][0].status_code == 200
    assert dialogs.invite_state(call.call_id) is InviteState.ANSWER_AWAITED
    dialogs.on_ack(sip_request("ACK", cseq=5, body=answer_sdp("PCMU", port=41000)))
    assert dialogs.invite_state(call.call_id) is InviteState.CONFIRMED
    assert (rtp.outIP, rtp.outPort) == ("192.0.2.31", 41000)
    # The peer's offer again, as RFC 3261 14.1 has it retry: taken.
    dialogs.on_refresh(call, reinvite(9, pcma_offer(41002)))
    assert wire.sent[-1][0].status_code == 200 and call.codec == "PCMA"
    assert (rtp.outIP, rtp.outPort) == (PEER[0], 41002)


def test_a_newer_reinvite_confirms_a_200_whose_ack_was_lost() -> None:
    """Our 200 carried our answer (the offer/answer is complete) and its ACK was lost: the
    peer, which could send no re-INVITE before it had that 200, sends the next one. It is
    taken (RFC 5407 3.1.4-3.1.5, re-INVITEs in the "Moratorium" state), and the old 200 is
    sent no more: sent on, it would end the call at 64*T1 with a peer that never ACKs it
    again."""
    dialogs, wire, call, _ = answered_call()
    dialogs.on_refresh(call, reinvite(5, offer()))
    dialogs.on_refresh(call, reinvite(6, pcma_offer()))
    assert codes(wire) == [200, 200] and call.codec == "PCMA"
    first, second = (t for t in wire.timers)
    assert (first.when, second.when) == (T1, T1)
    wire.fire()  # the first 200's timer: nothing
    assert codes(wire) == [200, 200]
    wire.fire()  # the second's: sent again
    assert codes(wire) == [200, 200, 200]
    assert wire.sent[-1][0].cseq[0] == 6
    dialogs.on_ack(sip_request("ACK", cseq=6))
    wire.fire()
    assert codes(wire) == [200, 200, 200] and not wire.timers and not call.ended


def test_a_reinvite_before_the_first_ack_stands_for_it() -> None:
    """The first INVITE's ACK lost, the caller's next request a re-INVITE: it could only
    have been sent with our 200, so the call counts as ACKed and the watchdog leaves it
    up (before, it was ended no_ack at ack_timeout, the caller mid-sentence)."""
    dialogs, wire, call, _ = answered_call()
    call.ack_received.clear()
    dialogs.send_invite_2xx(call)  # (our 200 again, as if its ACK had never come)
    dialogs.on_refresh(call, reinvite(2, offer()))
    assert call.ack_received.is_set()
    assert dialogs.invite_state(call.call_id) is InviteState.ACK_AWAITED
    assert wire.sent[-1][0].cseq == (2, "INVITE")


def test_an_ack_that_beats_the_end_of_our_send_still_stops_our_200() -> None:
    """On loopback the ACK can be in (on the receive thread) before the handler's thread
    is back from sending the 200: it must find the 200 awaited already, or the 200 goes
    again to a caller that has ACKed it."""
    dialogs, wire, call, _ = answered_call()
    call2 = another_call(wire, call, "dlg3", "o3")
    send = wire.send

    def acked_at_once(data: bytes, addr: tuple[str, int] | None) -> None:
        send(data, addr)
        if SipMessage(data).status_code == 200:
            dialogs.on_ack(sip_request("ACK", call_id="dlg3", to_tag="o3", cseq=1))

    wire.send = acked_at_once  # type: ignore[method-assign]
    dialogs._send = acked_at_once  # (the dialogs were given the wire's send)
    assert call2.answer() and call2.ack_received.is_set()
    while wire.timers:
        wire.fire()
    assert codes(wire) == [200]


def test_the_callers_bye_stops_our_200_and_a_later_reinvite_is_481() -> None:
    """The caller hangs up while our 200 to its re-INVITE still awaits its ACK: the 200 goes
    no more, and a re-INVITE after the BYE is 481, the dialog gone (RFC 3261 15). Before,
    it was 491, which has the peer send it again 2.1-4 s later (RFC 3261 14.1)."""
    dialogs, wire, call, _ = answered_call()
    dialogs.on_refresh(call, reinvite(5, offer()))
    call.remote_ended(EndReason.REMOTE_HANGUP)  # what ``on_bye`` does
    while wire.timers:
        wire.fire()
    assert codes(wire) == [200]
    dialogs.on_refresh(call, reinvite(5, offer()))  # its retransmission: the same answer
    dialogs.on_refresh(call, reinvite(7, pcma_offer()))
    dialogs.on_update(sip_request("UPDATE", branch="z9hG4bKupd", cseq=8))
    assert codes(wire) == [200, 200, 481, 481] and call.codec == "PCMU"
    assert wire.sent[1][0].body_bytes == wire.sent[0][0].body_bytes
    dialogs.forget(call.call_id)
    assert dialogs.invite_state(call.call_id) is InviteState.CONFIRMED


def test_a_reinvite_between_the_answer_and_our_200_is_500_with_retry_after() -> None:
    """``answer()`` makes the call ANSWERED under its lock and sends our 200 after it; a
    re-INVITE taken by the receive thread in between (a peer breaking RFC 3261 14.1) had
    its own 200 registered first, and the registration of the INVITE's then raised
    InvalidTransition: the handler's ``answer()`` failed and the call was lost. Now it is
    answered as RFC 3261 14.2 has a re-INVITE before our final answer to the INVITE
    answered: 500 with a Retry-After of 0-10 s, the call unchanged; our 200 goes and goes
    again until its ACK, and the peer's retry is taken."""
    dialogs, wire, call, rtp = ringing_call()
    early = reinvite(2, pcma_offer())
    send_invite_2xx = wire.send_invite_2xx

    def reinvite_lands_first(answering: CallHandle) -> None:
        # The receive thread runs here, between answer()'s lock and its send.
        assert answering.state is CallState.ANSWERED
        dialogs.on_refresh(answering, early)
        send_invite_2xx(answering)

    wire.send_invite_2xx = reinvite_lands_first  # type: ignore[method-assign]
    assert call.answer()
    refused, ok = (m for m, _ in wire.sent)
    assert refused.status_code == 500 and refused.cseq == (2, "INVITE")
    assert 0 <= int(refused.first("Retry-After")) <= 10
    assert (ok.status_code, ok.cseq) == (200, (1, "INVITE"))
    assert call.codec == "PCMU" and (rtp.outIP, rtp.outPort) == PEER
    assert dialogs.invite_state(call.call_id) is InviteState.ACK_AWAITED
    # The refused re-INVITE sent again gets its 500 again; the 500 goes again until its
    # ACK (Timer G), and our 200 until its own.
    dialogs.on_refresh(call, early)
    wire.fire()
    wire.fire()
    assert codes(wire) == [500, 200, 500, 500, 200]
    dialogs.on_ack(sip_request("ACK", cseq=1))
    assert dialogs.invite_state(call.call_id) is InviteState.CONFIRMED
    # The peer tries again, a new request after Retry-After (RFC 3261 14.1): taken.
    dialogs.on_refresh(call, reinvite(3, pcma_offer()))
    assert wire.sent[-1][0].status_code == 200 and call.codec == "PCMA"
    assert call.state is CallState.ANSWERED and call.ack_received.is_set()


def test_our_200_sent_while_the_receive_thread_answers_a_reinvite_loses_neither() -> None:
    """The other order: the call ANSWERED, the receive thread answering a re-INVITE, and
    the handler's thread sending our 200 to the INVITE while it does. Before, the receive
    thread's registration of its own 200 then raised InvalidTransition and the re-INVITE
    got no answer at all."""
    dialogs, wire, call, _ = ringing_call()
    pending: list[CallHandle] = []
    send_invite_2xx = wire.send_invite_2xx
    wire.send_invite_2xx = pending.append  # type: ignore[method-assign]
    assert call.answer() and call.state is CallState.ANSWERED and pending == [call]
    contact_headers = wire.contact_headers

    def handler_sends_meanwhile() -> list[tuple[str, str]]:
        while pending:
            send_invite_2xx(pending.pop())
        return contact_headers()

    dialogs._contact_headers = handler_sends_meanwhile  # (given the wire's at construction)
    dialogs.on_refresh(call, reinvite(2, pcma_offer()))
    while pending:
        send_invite_2xx(pending.pop())
    assert [(m.status_code, m.cseq[0]) for m, _ in wire.sent] == [(500, 2), (200, 1)]
    assert wire.sent[0][0].first("Retry-After") and call.codec == "PCMU"
    assert dialogs.invite_state(call.call_id) is InviteState.ACK_AWAITED


def test_a_reinvite_without_sdp_after_a_hold_gets_an_offer_that_lets_the_caller_resume(
        ) -> None:
    """A caller held the call (a=sendonly, answered recvonly), then asks for our offer with
    a re-INVITE without SDP, the way a PBX resumes a call or re-anchors its media after a
    transfer. Our offer says what we want, not the last answer's mirror (RFC 6337 5.3): we
    never hold a caller, so sendrecv. Before, it said recvonly, and the only answers it
    allows (sendonly, inactive; RFC 3264 6.1) kept the caller from hearing the IVR for the
    rest of the call. Their answer in the ACK decides the hold."""
    dialogs, wire, call, rtp = answered_call()
    hold = offer().replace(b"a=sendrecv", b"a=sendonly")
    dialogs.on_refresh(call, reinvite(5, hold))
    assert b"a=recvonly\r\n" in wire.sent[-1][0].body_bytes and call.held
    dialogs.on_ack(sip_request("ACK", branch="z9hG4bKre5", cseq=5))
    dialogs.on_refresh(call, reinvite(6))  # no SDP: our offer in the 200
    ours = wire.sent[-1][0]
    assert ours.status_code == 200 and b"a=sendrecv\r\n" in ours.body_bytes
    dialogs.on_ack(sip_request("ACK", cseq=6, body=answer_sdp("PCMU", port=41000)))
    assert not call.held and (rtp.outIP, rtp.outPort) == ("192.0.2.31", 41000)
    # The same offer again for a refresh that changes nothing: no new SDP version.
    dialogs.on_refresh(call, reinvite(7))
    assert wire.sent[-1][0].body_bytes == ours.body_bytes


@pytest.mark.parametrize("ack_body", [None, "unusable"], ids=["no-sdp", "unusable-sdp"])
def test_a_resume_whose_ack_has_no_usable_answer_hears_the_caller_again(
        ack_body: str | None) -> None:
    """A caller held (a=sendonly), then resumed by a re-INVITE without SDP; our offer in the
    200 was sendrecv, but the ACK brought no answer, or one with no codec we offered. The
    media stays as it was, and the caller is no longer taken as holding: a stale ``held``
    dropped every word they said afterwards as the PBX's music."""
    dialogs, _wire, call, _rtp = answered_call()
    hold = offer().replace(b"a=sendrecv", b"a=sendonly")
    dialogs.on_refresh(call, reinvite(5, hold))
    dialogs.on_ack(sip_request("ACK", branch="z9hG4bKre5", cseq=5))
    assert call.held
    dialogs.on_refresh(call, reinvite(6))
    body = b"" if ack_body is None else answer_sdp("G729", port=41000)
    dialogs.on_ack(sip_request("ACK", cseq=6, body=body))
    assert not call.held


def _ok_to_our_refresh(call: CallHandle, method: str, body: bytes,
                       content_type: str = "application/sdp") -> SipMessage:
    """The caller's 200 to our session refresh (``method``), its body as given."""
    typed = f"Content-Type: {content_type}\r\n" if body else ""
    return SipMessage((
        f"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP {LOCAL_IP}:5060;branch=z9hG4bKrefresh9\r\n"
        f"From: <sip:12345@127.0.0.1>;tag=ours\r\nTo: <sip:13800000000@{PEER[0]}>;tag=theirs\r\n"
        f"Call-ID: {call.call_id}\r\nCSeq: 9 {method}\r\n{typed}"
        f"Content-Length: {len(body)}\r\n\r\n").encode() + body, PEER)


@pytest.mark.parametrize(("body", "content_type"), [
    (b"v=0\r\nnot an answer\r\n", "application/sdp"),  # unreadable
    (answer_sdp("G729", port=41000), "application/sdp"),  # no codec of ours
    (b"<xml/>", "application/xml"),  # no SDP at all
], ids=["unreadable", "no-codec", "not-sdp"])
def test_no_usable_sdp_in_the_2xx_to_our_update_leaves_a_hold_as_it_was(
        body: bytes, content_type: str) -> None:
    """review53: our UPDATE refresh carries no offer, so SDP in its 2xx is nothing we asked
    for; one we could not use was taken as an answer to a sendrecv offer of ours and took
    the caller who held us off hold (``held`` False: the PBX's music heard as their words,
    our prompts streamed at a caller who had put us aside). Now the hold stays."""
    dialogs, _wire, call, _rtp = answered_call()
    hold = offer().replace(b"a=sendrecv", b"a=sendonly")
    dialogs.on_refresh(call, reinvite(5, hold))
    dialogs.on_ack(sip_request("ACK", branch="z9hG4bKre5", cseq=5))
    assert call.held
    dialogs.refresh_answered(call, _ok_to_our_refresh(call, "UPDATE", body, content_type))
    assert call.held and call.holds == 1
    # Our re-INVITE's unusable answer is still one to our sendrecv offer: the caller back.
    dialogs.refresh_answered(call, _ok_to_our_refresh(call, "INVITE", body, content_type))
    assert not call.held
