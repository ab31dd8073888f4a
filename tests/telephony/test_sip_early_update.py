"""UPDATE before the call is answered (RFC 3311 5.2), defined: without SDP (a session or
target refresh) 200, nothing changed; with an offer while the INVITE's own offer is not
answered yet (we answer it only in our 200) 500 + Retry-After 0-10 s; with an offer while
ours awaits its answer (an outbound INVITE's) 491. Before, every early UPDATE got 491, and
a peer sends a 491'd request again and again (RFC 3261 14.1). Socket-free: a real front end
at the shipped settings (``sipwire``), and the dialogs of an outbound call."""

from __future__ import annotations

from telephony.call import CallHandle, CallState, Direction
from telephony.sip.indialog import InviteState
from tests.telephony.sipwire import front_end, offer, request, ringing_call
from tests.telephony.test_sip_indialog import codes, make, sip_request


def test_an_update_without_sdp_while_ringing_is_200_and_changes_nothing() -> None:
    fe, wire = front_end()
    call = ringing_call(fe, request("INVITE", call_id="e1", body=offer()))
    fe._on_message(request("UPDATE", call_id="e1", cseq=2, to_tag=call.local_tag))
    ok = wire.sent[-1][0]
    assert (ok.status_code, ok.cseq[1]) == (200, "UPDATE") and not ok.body_bytes
    assert call.state is CallState.INCOMING
    assert call.answer() and wire.sent[-1][0].status_code == 200
    assert fe.dialogs.invite_state("e1") is InviteState.ACK_AWAITED


def test_an_offer_in_an_update_while_ringing_is_500_with_retry_after() -> None:
    fe, wire = front_end()
    call = ringing_call(fe, request("INVITE", call_id="e2", body=offer()))
    update = request("UPDATE", call_id="e2", cseq=2, to_tag=call.local_tag, body=offer(40010))
    fe._on_message(update)
    refused = wire.sent[-1][0]
    assert refused.status_code == 500 and 0 <= int(refused.first("Retry-After")) <= 10
    assert "not answered yet" in refused.first("Warning")
    assert call.state is CallState.INCOMING and call.media is not None
    assert call.media.remote_port == 40000  # the INVITE's offer stands
    fe._on_message(update)  # its retransmission: the same answer
    assert wire.sent[-1][0].status_code == 500
    # Once the call is up and ACKed, the same offer is taken.
    assert call.answer()
    fe._on_message(request("ACK", call_id="e2", cseq=1, to_tag=call.local_tag))
    fe._on_message(request("UPDATE", call_id="e2", cseq=3, to_tag=call.local_tag,
                           body=offer(40010)))
    assert wire.sent[-1][0].status_code == 200 and call.rtp is not None
    assert call.rtp.outPort == 40010


def test_an_offer_in_an_update_inside_answer_is_500_too() -> None:
    """``answer()`` has made the call ANSWERED, its 200 not sent yet: the INVITE's offer is
    still unanswered as the peer sees it."""
    fe, wire = front_end()
    call = ringing_call(fe, request("INVITE", call_id="e3", body=offer()))
    send_invite_2xx = fe.send_invite_2xx

    def update_lands_first(answering: CallHandle) -> None:
        fe._on_message(request("UPDATE", call_id="e3", cseq=2, to_tag=call.local_tag,
                               body=offer(40012)))
        send_invite_2xx(answering)

    fe.send_invite_2xx = update_lands_first  # type: ignore[method-assign]
    assert call.answer()
    assert [m.status_code for m, _ in wire.sent[-2:]] == [500, 200]
    assert call.rtp is not None and call.rtp.outPort == 40000


def test_a_refresh_while_our_offer_in_the_200_awaits_the_ack_is_200() -> None:
    """A delayed offer: our 200 carried the offer; an UPDATE without SDP before the ACK is
    a refresh (200; before, 491), one with an offer 491."""
    fe, wire = front_end()
    fe._on_message(request("INVITE", call_id="e4"))  # no SDP
    call = fe._lookup("e4")
    assert call is not None and call.state is CallState.OFFERED
    fe._on_message(request("UPDATE", call_id="e4", cseq=2, to_tag=call.local_tag))
    assert wire.sent[-1][0].status_code == 200 and not wire.sent[-1][0].body_bytes
    fe._on_message(request("UPDATE", call_id="e4", cseq=3, to_tag=call.local_tag,
                           body=offer(40014)))
    assert wire.sent[-1][0].status_code == 491 and call.state is CallState.OFFERED


def test_an_outbound_calls_early_update_200_without_sdp_491_with_an_offer() -> None:
    """Our INVITE's offer awaits the callee's answer (in its 2xx; we do no 100rel)."""
    dialogs, wire = make()
    call = CallHandle(wire, direction=Direction.OUTBOUND, call_id="dlg1", local_tag="ours",
                      caller="12345", callee="1001")
    wire.calls[call.call_id] = call
    call.transition(CallState.ALERTING)
    call.early_tags = frozenset({"callee"})  # (its 180 made the early dialog)
    dialogs.on_update(sip_request("UPDATE", from_tag="callee"))
    dialogs.on_update(sip_request("UPDATE", from_tag="callee", body=b"v=0\r\n"))
    assert codes(wire) == [200, 491] and call.state is CallState.ALERTING


def test_an_update_requiring_what_we_lack_is_420_in_every_state() -> None:
    """RFC 3261 8.2.2.3: while ringing, between our 200 and its registration (an UPDATE
    landing in ``answer()``; seen in CI), and once the call is up. The early path's 200
    once answered before the Require check."""
    fe, wire = front_end()
    call = ringing_call(fe, request("INVITE", call_id="e5", body=offer()))
    require = [("Require", "foo")]
    fe._on_message(request("UPDATE", call_id="e5", cseq=2, to_tag=call.local_tag,
                           extra=require))
    assert (wire.sent[-1][0].status_code, wire.sent[-1][0].first("Unsupported")) == (
        420, "foo")
    send_invite_2xx = fe.send_invite_2xx

    def update_lands_first(answering: CallHandle) -> None:
        fe._on_message(request("UPDATE", call_id="e5", cseq=3, to_tag=call.local_tag,
                               extra=require))
        send_invite_2xx(answering)

    fe.send_invite_2xx = update_lands_first  # type: ignore[method-assign]
    assert call.answer()
    assert [m.status_code for m, _ in wire.sent[-2:]] == [420, 200]
    fe._on_message(request("ACK", call_id="e5", cseq=1, to_tag=call.local_tag))
    fe._on_message(request("UPDATE", call_id="e5", cseq=4, to_tag=call.local_tag,
                           extra=require))
    assert wire.sent[-1][0].status_code == 420 and call.state is CallState.ANSWERED
