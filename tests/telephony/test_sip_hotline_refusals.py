"""What a hotline answers to the requests a caller (or someone posing as one) may send
beyond a plain call, probed against the shipped service in the thirty-fifth round (sip44,
docs/sip.md) and pinned here socket-free at the shipped settings (``sipwire``): a transfer
asked of us (REFER: toll fraud if taken), an INVITE whose hops are spent, an unreadable
Max-Forwards, an INVITE replacing a call, a BYE before the ACK, a Request-URI naming
another host."""

from __future__ import annotations

from telephony.call import CallState, EndReason
from telephony.sip.dialog import ALLOW
from tests.telephony.sipwire import PHONE, Clockwork, front_end, offer, request, ringing_call


def _invite_codes(wire: Clockwork) -> list[int]:
    return [m.status_code for m, _ in wire.sent
            if m.type == 0 and m.cseq[1] == "INVITE" and m.status_code >= 200]


def _hops(call_id: str, value: str) -> bytes:
    """An INVITE with an offer whose Max-Forwards says ``value``, as sent."""
    return request("INVITE", call_id=call_id, body=offer()).raw.replace(
        b"Max-Forwards: 70", f"Max-Forwards: {value}".encode())


def test_a_refer_in_a_call_is_405_and_we_dial_nobody() -> None:
    """A caller asking us to transfer it (REFER, RFC 3515) to any number would have the
    hotline place a call at its bidding, billed to us: refused 405 with Allow, inside the
    call and outside it, nothing dialled, the call going on."""
    fe, wire = front_end()
    call = ringing_call(fe, request("INVITE", call_id="r1", body=offer()))
    assert call.answer()
    fe._on_message(request("ACK", call_id="r1", to_tag=call.local_tag))
    for n, target in enumerate(("<sip:13900000000@198.51.100.7>", "<sip:110@127.0.0.1>")):
        fe._on_message(request("REFER", call_id="r1", cseq=2 + n, to_tag=call.local_tag,
                               extra=[("Refer-To", target)]))
    fe._on_message(request("REFER", call_id="r2", extra=[("Refer-To", "<sip:1@x>")]))
    refusals = [(m.status_code, m.first("Allow")) for m, _ in wire.sent
                if m.type == 0 and m.cseq[1] == "REFER"]
    assert refusals == [(405, ALLOW)] * 3 and "REFER" not in ALLOW
    assert wire.methods() == [] and call.state is CallState.ANSWERED


def test_an_invite_with_no_hops_left_is_483_and_no_call() -> None:
    """``Max-Forwards: 0``: the hops were spent by a loop in front of us. 483, no line
    taken; one hop left is a call as any."""
    fe, wire = front_end()
    fe._transport.handle_datagram(_hops("h0", "0"), PHONE)
    assert _invite_codes(wire) == [483] and fe._lookup("h0") is None
    refusal = next(m for m, _ in wire.sent if m.status_code == 483)
    assert refusal.reason == "Too Many Hops" and "loop" in refusal.first("Warning")
    fe._transport.handle_datagram(_hops("h1", "1"), PHONE)
    call = fe._lookup("h1")
    assert call is not None and call.state is CallState.INCOMING


def test_an_unreadable_max_forwards_is_a_bad_request() -> None:
    """RFC 3261 20.22: Max-Forwards is digits. "abc" or "-1" was read as no limit at all
    and the call taken; now the request is malformed (400, no call). A response naming
    one is read (no response has a reason to carry it)."""
    for value in ("abc", "-1", "1 2", "70.5"):
        fe, wire = front_end()
        fe._transport.handle_datagram(_hops("mf", value), PHONE)
        assert wire.codes() == [400] and fe._lookup("mf") is None, value


def test_an_invite_replacing_a_call_is_a_new_call_and_the_old_one_goes_on() -> None:
    """We do not take Replaces (RFC 3891): required, 420; only offered, the INVITE is a
    call of its own (3891 says a UAS that does not support it ignores it), and the call it
    names (a stranger's guess at a citizen's dialog) is untouched."""
    fe, wire = front_end()
    first = ringing_call(fe, request("INVITE", call_id="x1", body=offer()))
    assert first.answer()
    replaces = f"x1;to-tag={first.local_tag};from-tag=them"
    fe._on_message(request("INVITE", call_id="x2", body=offer(), source=("192.0.2.41", 5060),
                           extra=[("Require", "replaces"), ("Replaces", replaces)]))
    assert 420 in _invite_codes(wire) and fe._lookup("x2") is None
    ringing_call(fe, request("INVITE", call_id="x3", body=offer(), source=("192.0.2.42", 5060),
                             extra=[("Replaces", replaces)]))
    assert first.state is CallState.ANSWERED and not first.ended


def test_a_bye_before_the_ack_ends_the_call_and_stops_our_2xx() -> None:
    """RFC 3261 15.1.2: a BYE in a dialog whose 2xx is not ACKed yet is taken: 200, the
    call ended by the caller (no ``no_ack`` charged to it), our 200 to the INVITE no longer
    sent again."""
    fe, wire = front_end()
    call = ringing_call(fe, request("INVITE", call_id="ba", body=offer()))
    assert call.answer()
    fe._on_message(request("BYE", call_id="ba", cseq=2, to_tag=call.local_tag))
    assert call.end_reason is EndReason.REMOTE_HANGUP
    oks = len([m for m, _ in wire.sent if m.type == 0 and m.cseq == (1, "INVITE")])
    while wire.timers:
        wire.fire()
    assert len([m for m, _ in wire.sent if m.type == 0 and m.cseq == (1, "INVITE")]) == oks
    assert [m.status_code for m, _ in wire.sent if m.type == 0 and m.cseq[1] == "BYE"] == [200]


def test_a_request_uri_naming_another_host_is_taken_for_our_number() -> None:
    """The Request-URI's user says which service is called; its host is whatever the
    caller's side wrote (a carrier's domain, our public address behind NAT, an SBC's
    name), and we never forward a request, so another host is taken as ours (documented
    in docs/sip.md, sip44) while another user is 404."""
    fe, wire = front_end()
    number = request("INVITE").request_uri.split("@")[0]
    for n, host in enumerate(("hotline.example.gov.cn", "203.0.113.9:5060")):
        invite = request("INVITE", call_id=f"u{n}", body=offer())
        invite.request_uri = f"{number}@{host}"
        ringing_call(fe, invite)
    other = request("INVITE", call_id="u9", body=offer())
    other.request_uri = f"sip:110@{other.request_uri.split('@')[1]}"
    fe._on_message(other)
    assert _invite_codes(wire) == [404] and fe._lookup("u9") is None
