"""Who may speak in a dialog (``dialog.dialog_peers``, ``dialog.from_peer``), and how
much (``Admission.admit_in_dialog``). A BYE, INFO or re-INVITE with the right Call-ID and
tags from another host ended the call, keyed digits into it or moved its media: the tags
travel in clear text. Now a dialog's requests are taken from its peers only: the phone
when it calls us directly; the record-routing proxy (kamailio) when one sits between (the
phone's requests then come through it); the proxy or the phone when the proxy does not
record-route; a trusted source always. And each dialog has its own budget of re-INVITEs,
UPDATEs, INFOs and OPTIONS (the flood guard's bucket, no ban), while ACK, BYE and CANCEL
always pass. Socket-free: a real front end at the shipped settings (``sipwire``)."""

from __future__ import annotations

import logging
import threading
import time

import pytest

from config.settings import Settings
from telephony.call import CallHandle, CallState, Direction, EndReason
from telephony.sip.admission import DIALOG_RETRY_AFTER_SECONDS
from telephony.sip.dialog import dialog_peers
from telephony.sip.frontend import SipFrontEnd
from telephony.sip.message import SipMessage, build_response
from tests.telephony.sipwire import (
    PHONE,
    PROXY,
    STRANGER,
    Clockwork,
    front_end,
    offer,
    request,
    ringing_call,
)


def call_up(fe: SipFrontEnd, *, source: tuple[str, int] = PHONE,
            record_route: str | None = None, call_id: str = "c1") -> CallHandle:
    """A call taken through the front end's receive path, answered and ACKed."""
    invite = request("INVITE", call_id=call_id, source=source, body=offer(),
                     record_route=record_route)
    call = ringing_call(fe, invite)
    assert call.answer()
    fe._on_message(request("ACK", call_id=call_id, source=source, to_tag=call.local_tag))
    assert call.ack_received.is_set()
    return call


def bye(call: CallHandle, source: tuple[str, int], cseq: int = 2) -> SipMessage:
    return request("BYE", call_id=call.call_id, source=source, cseq=cseq,
                   to_tag=call.local_tag)


def info(call: CallHandle, source: tuple[str, int], cseq: int, key: str = "5") -> SipMessage:
    return request("INFO", call_id=call.call_id, source=source, cseq=cseq,
                   to_tag=call.local_tag, body=f"Signal={key}\r\n".encode(),
                   content_type="application/dtmf-relay")


def answers(wire: Clockwork, method: str) -> list[tuple[int, tuple[str, int]]]:
    return [(m.status_code, addr) for m, addr in wire.sent
            if m.type == 0 and m.cseq[1] == method]


def test_a_direct_callers_dialog_takes_requests_from_the_phone_alone() -> None:
    fe, wire = front_end()
    fe.flood.clock = lambda: 5000.0  # no refill while the test runs
    call = call_up(fe)
    assert call.peers == {PHONE[0]}
    fe._on_message(bye(call, STRANGER))
    fe._on_message(info(call, STRANGER, 3))
    fe._on_message(request("INVITE", call_id=call.call_id, source=STRANGER, cseq=4,
                           to_tag=call.local_tag, body=offer(40666)))
    assert [(m.status_code, addr) for m, addr in wire.sent[-3:]] == [(403, STRANGER)] * 3
    assert call.state is CallState.ANSWERED and call.get_dtmf(timeout=0) is None
    assert call.rtp is not None and call.rtp.outPort == 40000  # media not moved
    # Each charged as a new request of the stranger's (the flood guard's ban applies).
    assert fe.flood._buckets[STRANGER[0]].tokens == Settings().sip.flood_burst - 3
    fe._on_message(bye(call, PHONE, cseq=5))
    assert answers(wire, "BYE")[-1] == (200, PHONE)
    assert call.end_reason is EndReason.REMOTE_HANGUP


def test_behind_a_record_routing_proxy_the_proxy_speaks_for_the_phone() -> None:
    """kamailio record-routes: the phone's BYE comes through it, from its address; a BYE
    straight from the phone would bypass the route set (RFC 3261 12.2.1.1)."""
    fe, wire = front_end()
    call = call_up(fe, source=PROXY, record_route=f"<sip:{PROXY[0]}:{PROXY[1]};lr>")
    assert call.peers == {PROXY[0]}
    fe._on_message(bye(call, STRANGER))
    fe._on_message(bye(call, PHONE))
    assert answers(wire, "BYE") == [(403, STRANGER), (403, PHONE)]
    assert call.state is CallState.ANSWERED
    fe._on_message(info(call, PROXY, 3, "7"))
    assert call.get_dtmf(timeout=0) == "7"
    fe._on_message(bye(call, PROXY, cseq=4))
    assert answers(wire, "BYE")[-1] == (200, PROXY) and call.ended


def test_our_answers_give_the_phone_the_route_set_that_keeps_the_proxy_in_the_path() -> None:
    """trial47: the shipped kamailio front record-routes, and a node takes the dialog's
    requests from it alone (above) -- but our 180 and 200 did not copy the INVITE's
    Record-Route (RFC 3261 12.1.1, a MUST), so the phone had no route set: its ACK and BYE
    went straight to our Contact (a node address a carrier may not reach), and the BYE was
    refused there. Each Record-Route of the INVITE, in order, in every answer that makes
    the dialog; none in a refusal."""
    fe, wire = front_end()
    outer, inner = f"<sip:{PROXY[0]}:{PROXY[1]};lr;ftag=them>", "<sip:192.0.2.60;lr>"
    invite = request("INVITE", source=PROXY, body=offer(),
                     extra=[("Record-Route", outer), ("Record-Route", inner)])
    call = ringing_call(fe, invite)
    assert call.answer()
    sent = {m.status_code: m for m, _ in wire.sent if m.type == 0 and m.cseq[1] == "INVITE"}
    for code in (180, 200):
        routes = [v for n, v in sent[code].header_list if n == "Record-Route"]
        assert routes == [outer, inner], (code, sent[code].header_list)
    assert not [v for n, v in sent[100].header_list if n == "Record-Route"]
    fe2, wire2 = front_end()
    busy = ringing_call(fe2, request("INVITE", call_id="c2", source=PROXY, body=offer(),
                                     record_route=outer))
    assert busy.reject(486)
    (refusal,) = [m for m, _ in wire2.sent if m.type == 0 and m.status_code == 486]
    assert not [v for n, v in refusal.header_list if n == "Record-Route"]


def test_behind_a_proxy_that_does_not_record_route_the_phone_speaks_itself() -> None:
    fe, wire = front_end()
    call = call_up(fe, source=PROXY)
    assert call.peers == {PROXY[0], PHONE[0]}  # where the INVITE came from; its Contact
    fe._on_message(bye(call, STRANGER))
    assert answers(wire, "BYE") == [(403, STRANGER)] and not call.ended
    fe._on_message(bye(call, PHONE, cseq=3))
    assert answers(wire, "BYE")[-1] == (200, PHONE) and call.ended


def test_a_trusted_source_may_speak_in_any_dialog() -> None:
    """A carrier's SBC cluster may send a call's BYE from another node than its INVITE."""
    other_node = "192.0.2.51"
    fe, wire = front_end(Settings().sip.model_copy(
        update={"trusted_sources": [PROXY[0], other_node]}))
    call = call_up(fe, source=PROXY, record_route=f"<sip:{PROXY[0]};lr>")
    fe._on_message(bye(call, (other_node, 5060)))
    assert answers(wire, "BYE") == [(200, (other_node, 5060))] and call.ended


def test_each_dialog_has_a_budget_and_bye_always_passes() -> None:
    sip = Settings().sip
    fe, wire = front_end(sip)
    fe.admission.dialog_flood.clock = lambda: 1000.0  # no refill while the test runs
    call = call_up(fe)
    other = call_up(fe, call_id="c2")
    for n in range(sip.flood_burst + 5):
        fe._on_message(info(call, PHONE, 10 + n, "1"))
    codes = [code for code, _ in answers(wire, "INFO")]
    assert codes == [200] * sip.flood_burst + [503] * 5
    refused = wire.sent[-1][0]
    assert refused.first("Retry-After") == str(DIALOG_RETRY_AFTER_SECONDS)
    assert fe.admission.dialog_limited == 5
    keys = 0
    while call.get_dtmf(timeout=0) is not None:
        keys += 1
    # (One way per call: every key came by INFO.)
    assert keys == sip.flood_burst
    # The source is not banned: its other call and its next calls go on.
    fe._on_message(info(other, PHONE, 10, "2"))
    assert answers(wire, "INFO")[-1] == (200, PHONE) and other.get_dtmf(timeout=0) == "2"
    assert not fe.flood.banned(PHONE[0])
    fe._on_message(bye(call, PHONE, cseq=99))
    assert answers(wire, "BYE") == [(200, PHONE)] and call.ended


def dial(fe: SipFrontEnd, wire: Clockwork,
         uri: str) -> tuple[threading.Thread, CallHandle, SipMessage]:
    """Our outbound call to ``uri``, dialled in a thread: the thread, the call and the INVITE
    we sent, once it is on the wire."""
    dialing = threading.Thread(target=lambda: fe.dialer.dial(uri, timeout=30))
    dialing.start()
    for _ in range(1000):
        if wire.sent and fe._calls:
            break
        time.sleep(0.01)
    [call] = fe._calls.values()
    return dialing, call, wire.sent[0][0]


def test_an_outbound_calls_peers_are_where_we_sent_it_and_its_route() -> None:
    call = CallHandle(Clockwork(), direction=Direction.OUTBOUND,  # type: ignore[arg-type]
                      call_id="o1", local_tag="l", caller="", callee="")
    call.remote_target = "sip:1001@192.0.2.77:5062"
    assert dialog_peers(call, ("192.0.2.9", 5060)) == {"192.0.2.9", "192.0.2.77"}
    call.route_set = ["<sip:192.0.2.9;lr>", "<sip:edge.example.net;lr>"]
    assert dialog_peers(call, ("192.0.2.9", 5060)) == {"192.0.2.9"}


def test_a_ringing_outbound_call_takes_no_bye_from_a_stranger() -> None:
    """Until the callee answered, an outbound call had no peers (``peers`` empty: any),
    so whoever saw its INVITE -- the Call-ID and our From tag -- ended it with a BYE while
    it rang: a callback or the duty dispatcher's escalation call dropped. From the INVITE
    on, the dialog's peer is where we sent it."""
    fe, wire = front_end()
    fe._transactions._send = wire.send  # (the requests we send, too)
    fe.flood.clock = lambda: 5000.0
    dialing, call, invite = dial(fe, wire, f"sip:1001@{PHONE[0]}:{PHONE[1]}")
    try:
        assert invite.method == "INVITE"
        # (Its early dialog, whose tag the stranger names: without one the BYE is in no
        # dialog, 481, below.)
        fe._on_message(SipMessage(build_response(invite, 180, to_tag="them"), PHONE))
        fe._on_message(request("BYE", call_id=call.call_id, source=STRANGER, cseq=7,
                               to_tag=call.local_tag, from_tag="them"))
        assert answers(wire, "BYE") == [(403, STRANGER)]
        assert not call.ended
    finally:
        busy = SipMessage(build_response(invite, 486, to_tag="far"), PHONE)
        fe._on_message(busy)
        dialing.join(30)
    assert not dialing.is_alive() and call.final_status == 486


def test_an_outbound_call_to_a_named_host_ends_with_its_bye() -> None:
    """sip_uri_template may name the trunk by host name ("sip:{phone}@sbc.example"): the
    dialog's peers were that name and its Record-Route by name, which no datagram comes
    from, so the callee's BYE through the SBC got 403 and the call went on after they hung up. The address its answer came
    from is a peer."""
    fe, wire = front_end()
    fe._transactions._send = wire.send
    dialing, call, invite = dial(fe, wire, "sip:1001@localhost:5060")
    sbc = ("127.0.0.1", 5060)
    fe._on_message(SipMessage(build_response(invite, 200, to_tag="far", extra=[
        ("Record-Route", "<sip:localhost;lr>"), ("Contact", "<sip:1001@10.1.2.3:5060>"),
        ("Content-Type", "application/sdp")],
        body=offer(40100)), sbc))
    dialing.join(30)
    assert not dialing.is_alive() and call.state is CallState.ANSWERED
    fe._on_message(request("BYE", call_id=call.call_id, source=sbc, cseq=2,
                           to_tag=call.local_tag, from_tag="far"))
    assert answers(wire, "BYE") == [(200, sbc)]
    assert call.end_reason is EndReason.REMOTE_HANGUP


def test_a_stranger_banned_for_its_requests_fills_no_log(caplog: pytest.LogCaptureFixture,
                                                          ) -> None:
    """Each refused request of a stranger was logged at WARNING before the flood guard was
    asked, so a banned sender still wrote a line per datagram at whatever rate it sent.
    Logged only while it is answered: the ban is logged once by the flood guard."""
    fe, wire = front_end()
    fe.flood.clock = lambda: 5000.0
    call = call_up(fe)
    burst = Settings().sip.flood_burst
    with caplog.at_level(logging.WARNING, logger="telephony.sip"):
        for n in range(5 * burst):
            fe._on_message(bye(call, STRANGER, cseq=10 + n))
    refused = [r for r in caplog.records if "not from the dialog's peer" in r.getMessage()]
    assert len(refused) == burst and answers(wire, "BYE") == [(403, STRANGER)] * burst
    assert call.state is CallState.ANSWERED


def test_a_call_whose_invite_had_no_from_tag_is_a_dialog_with_a_null_tag() -> None:
    # RFC 3261 12.1.1: a UAS MUST take a request without a From tag (RFC 2543 peers), the
    # tag being null; so it is answered, not refused 400. Null matches null only.
    fe, wire = front_end()
    invite = request("INVITE", call_id="t0", body=offer(), from_tag=None)
    call = ringing_call(fe, invite)
    assert call.answer()
    fe._on_message(request("ACK", call_id="t0", to_tag=call.local_tag, from_tag=None))
    assert call.ack_received.is_set()
    # Another From tag on the Call-ID, from the phone's own address: not the dialog's.
    fe._on_message(request("BYE", call_id="t0", cseq=2, to_tag=call.local_tag,
                           from_tag="evil"))
    assert not call.ended and wire.codes()[-1] == 481
    fe._on_message(request("BYE", call_id="t0", cseq=3, to_tag=call.local_tag,
                           from_tag=None))
    assert call.end_reason is EndReason.REMOTE_HANGUP and wire.codes()[-1] == 200


def test_our_bye_to_a_peer_that_sent_no_from_tag_carries_no_empty_tag() -> None:
    fe, wire = front_end()
    call = ringing_call(fe, request("INVITE", call_id="t1", body=offer(), from_tag=None))
    assert call.answer()
    fe._on_message(request("ACK", call_id="t1", to_tag=call.local_tag, from_tag=None))
    call.hangup()
    [bye_sent] = [m for m, _ in wire.sent if m.type != 0 and m.method == "BYE"]
    # "tag=" with no value is not SIP (RFC 3261 25.1: tag-param = "tag" EQUAL token).
    assert "tag" not in bye_sent.first("To") and bye_sent.to_tag == ""


def test_a_call_we_place_takes_requests_only_in_the_early_dialog_its_callee_made() -> None:
    """RFC 3261 12.2.2: a request that matches no dialog is 481. A call we place has none
    until a 1xx with the callee's To tag makes an early dialog (12.1.2), and then only
    that tag's. Before, any From tag was taken until the 2xx named the callee's: a BYE
    with a made-up tag, from where we sent the INVITE, ended the ringing call (a callback,
    a survey call dropped before the citizen picked up), an INFO keyed a digit into it."""
    fe, wire = front_end()
    fe._transactions._send = wire.send
    fe.flood.clock = lambda: 5000.0
    dialing, call, invite = dial(fe, wire, f"sip:1001@{PHONE[0]}:{PHONE[1]}")

    def callee_says(method: str, tag: str, cseq: int) -> int:
        fe._on_message(request(method, call_id=call.call_id, source=PHONE, cseq=cseq,
                               to_tag=call.local_tag, from_tag=tag,
                               body=b"Signal=5\r\n" if method == "INFO" else b"",
                               content_type="application/dtmf-relay"))
        return wire.sent[-1][0].status_code

    try:
        # No 1xx yet: no dialog at all.
        assert [callee_says(m, "forged", n) for n, m in enumerate(
            ["INFO", "UPDATE", "BYE"], 1)] == [481, 481, 481]
        assert call.state is CallState.DIALING and call.get_dtmf() is None
        # The callee's 180 makes its early dialog: its UPDATE is taken, a made-up tag's
        # BYE is still no request of any dialog.
        fe._on_message(SipMessage(build_response(invite, 180, to_tag="callee"), PHONE))
        assert callee_says("UPDATE", "callee", 4) == 200
        assert callee_says("BYE", "forged", 5) == 481
        assert call.state is CallState.ALERTING and call.get_dtmf() is None
    finally:
        fe._on_message(SipMessage(build_response(invite, 486, to_tag="callee"), PHONE))
        dialing.join(30)
    assert not dialing.is_alive() and call.final_status == 486
