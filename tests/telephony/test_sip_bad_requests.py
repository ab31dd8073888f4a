"""Requests a stranger or a broken peer sends that RFC 3261 names an answer for, socket-free
at the shipped settings (sip42, 2026-12-07: found probing a running `hotline serve` on
loopback; docs/sip.md, "What arrives, and what we do")."""

from __future__ import annotations

import pytest

from config.settings import Settings
from telephony.call import CallState
from telephony.sip.message import (
    SipMessage,
    SipSyntaxError,
    bad_request_for,
    build_request,
    build_response,
)
from telephony.sip.uri import parse_via
from tests.telephony.sipwire import PHONE, front_end, offer, request
from tests.telephony.test_sip_dialog_peers import dial
from tests.telephony.test_sip_indialog import inbound_call, make, sip_request

_RELAY = [("Content-Type", "application/dtmf-relay")]
# RFC 4028 4: one session interval, one minimum (``session_timer`` reads the first row).
_TIMER = [("Supported", "timer"), ("Session-Expires", "900;refresher=uac"), ("Min-SE", "90")]


def test_options_requiring_an_extension_we_lack_is_420_naming_it() -> None:
    # RFC 3261 8.2.2.3: a UAS MUST answer 420 + Unsupported; a 200 told the peer we do it.
    fe, wire = front_end()
    fe._on_message(request("OPTIONS", call_id="o-req", extra=[("Require", "100rel, foo")]))
    [(answer, _)] = wire.sent
    assert answer.status_code == 420 and answer.first("Unsupported") == "100rel, foo"
    fe._on_message(request("OPTIONS", call_id="o-timer", extra=[("Require", "timer")]))
    assert wire.sent[-1][0].status_code == 200


def test_an_info_requiring_an_extension_we_lack_is_420_and_keys_nothing() -> None:
    dialogs, wire = make()
    call = inbound_call(wire, answered=True)
    dialogs.on_info(sip_request("INFO", extra=[*_RELAY, ("Require", "foo")],
                                body=b"Signal=5\r\nDuration=160\r\n"))
    [(answer, _)] = wire.sent
    assert answer.status_code == 420 and answer.first("Unsupported") == "foo"
    assert call.get_dtmf(timeout=0) is None and call.state is CallState.ANSWERED


def test_an_options_with_a_brief_session_interval_is_not_422() -> None:
    # RFC 4028's 422 is for the requests that set a session timer (INVITE, UPDATE).
    fe, wire = front_end()
    fe._on_message(request("OPTIONS", call_id="o-se", extra=[("Session-Expires", "30")]))
    assert wire.codes() == [200]


def test_an_invite_whose_body_is_coded_is_415_with_accept_encoding() -> None:
    # RFC 3261 8.2.3: a content coding we do not understand is 415 with Accept-Encoding;
    # read as plain SDP, a compressed offer was a 400 and a mislabelled one a call.
    fe, wire = front_end()
    fe._on_message(request("INVITE", call_id="gz", body=offer(),
                           extra=[("Content-Encoding", "gzip")]))
    final = [m for m, _ in wire.sent if m.status_code >= 200]
    assert [m.status_code for m in final] == [415]
    assert final[0].first("Accept-Encoding") == "identity"
    assert fe._lookup("gz") is None


@pytest.mark.parametrize("rows", [[("Content-Encoding", "identity"), ("Content-Encoding", "gzip")],
                                  [("e", "identity, gzip")], [("E", "GZIP")]])
def test_a_coding_on_any_row_or_in_compact_form_is_415(rows: list[tuple[str, str]]) -> None:
    # Content-Encoding is a list (RFC 3261 20.12): "identity" then "gzip" on two rows is a
    # gzip body. Read by its first row, it was taken as plain SDP (review114).
    fe, wire = front_end()
    fe._on_message(request("INVITE", call_id="gz2", body=offer(), extra=rows))
    assert [m.status_code for m, _ in wire.sent if m.status_code >= 200] == [415]
    assert fe._lookup("gz2") is None


def test_an_invite_coded_identity_is_a_call() -> None:
    fe, _ = front_end()
    fe._on_message(request("INVITE", call_id="id", body=offer(),
                           extra=[("Content-Encoding", "identity")]))
    call = fe._lookup("id")
    assert call is not None and call.state is CallState.INCOMING


def test_a_reinvite_whose_body_is_coded_is_415_and_the_call_goes_on() -> None:
    dialogs, wire = make()
    call = inbound_call(wire, answered=True)
    media = call.media
    dialogs.on_refresh(call, sip_request("INVITE", body=offer(41000),
                                         extra=[("Content-Encoding", "deflate")]))
    answer = wire.sent[0][0]
    assert answer.status_code == 415 and answer.first("Accept-Encoding") == "identity"
    assert call.state is CallState.ANSWERED and call.media == media


@pytest.mark.parametrize("protocol", ["garbage", "SIP/2.0", "HTTP/1.1/UDP", "SIP/3.0/UDP"])
def test_a_via_whose_sent_protocol_is_not_sip_2_is_refused(protocol: str) -> None:
    with pytest.raises(ValueError):
        parse_via(f"{protocol} 192.0.2.40:5060;branch=z9hG4bKx")
    # SIP 2.0 written with LWS between its parts, or in lower case, is still SIP 2.0.
    assert parse_via("SIP / 2.0 / UDP 192.0.2.40:5060")["address"] == ("192.0.2.40", 5060)
    assert parse_via("sip/2.0/udp 192.0.2.40:5060")["address"] == ("192.0.2.40", 5060)


@pytest.mark.parametrize(("via", "protocol", "address"), [
    ("SIP/2.0/TLS 192.0.2.40:5061", "SIP/2.0/TLS", ("192.0.2.40", 5061)),
    ("SIP/2.0/WSS df7jal23ls0d.invalid", "SIP/2.0/WSS", ("df7jal23ls0d.invalid", 5060)),
    ("SIP/2.0/UDP 192.0.2.40 : 5070", "SIP/2.0/UDP", ("192.0.2.40", 5070)),
    ("SIP/2.0/UDP  192.0.2.40 :5070", "SIP/2.0/UDP", ("192.0.2.40", 5070)),
    ("SIP /2.0/ UDP [2001:db8::9] :5070", "SIP/2.0/UDP", ("2001:db8::9", 5070)),
])
def test_a_via_with_lws_around_its_colon_is_read(via: str, protocol: str,
                                                 address: tuple[str, int]) -> None:
    # RFC 3261 25.1: COLON is SWS ":" SWS, as SLASH is around "/". Taking the last word as
    # the sent-by, sip42 refused the first spacing and read the second as the protocol
    # "SIP/2.0/UDP192.0.2.40" with an empty host (review114).
    read = parse_via(f"{via};branch=z9hG4bKsp")
    assert (read["type"], read["address"], read["branch"]) == (protocol, address, "z9hG4bKsp")


@pytest.mark.parametrize("via", ["SIP/2.0/UDP extra 192.0.2.40", "SIP/2.0/UDP :5060",
                                 "SIP/2.0/UDP 192.0.2.40 5060"])
def test_a_via_with_more_than_protocol_and_sent_by_is_refused(via: str) -> None:
    # Before: "SIP/2.0/UDPextra" was taken for a transport, ":5060" for a sent-by.
    with pytest.raises(ValueError):
        parse_via(via)


def test_an_options_with_a_garbage_via_is_400_not_200() -> None:
    raw = bytes(request("OPTIONS", call_id="v").raw).replace(b"SIP/2.0/UDP", b"garbage", 1)
    with pytest.raises(SipSyntaxError, match="Via"):
        SipMessage(raw, PHONE)
    # Answered 400 (to where it came from: its Via is copied, not read).
    reply = bad_request_for(raw, "bad sent-protocol in Via")
    assert reply is not None and reply.startswith(b"SIP/2.0 400 ")


def test_a_request_we_build_names_its_content_type_once() -> None:
    # Our session refresh by re-INVITE (``refresher``) gave Content-Type in its headers,
    # and ``build_request`` added another: two, which the rule above refuses (sip42).
    data = build_request("INVITE", "sip:13800000000@192.0.2.40",
                         [("Content-Type", "application/sdp")], body=b"v=0\r\n")
    assert data.count(b"Content-Type:") == 1
    data = build_request("INFO", "sip:13800000000@192.0.2.40",
                         [("Content-Type", "application/dtmf-relay")], body=b"Signal=5\r\n")
    assert data.count(b"Content-Type:") == 1 and b"application/sdp" not in data
    assert build_request("BYE", "sip:x@192.0.2.40", []).count(b"Content-Type:") == 0
    assert b"Content-Type: application/sdp" in build_request("INVITE", "sip:x@192.0.2.40",
                                                               [], body=b"v=0\r\n")
    # And the responses' builder, by the same rule.
    invite = request("INVITE", call_id="ct", body=offer())
    answer = build_response(invite, 200, to_tag="t", body=b"v=0\r\n",
                            extra=[("Content-Type", "application/sdp")])
    assert answer.count(b"Content-Type:") == 1


@pytest.mark.parametrize("name", ["Call-ID", "CSeq", "From", "To", "Content-Length",
                                  "Content-Type", "Max-Forwards", "Session-Expires",
                                  "Min-SE"])
def test_a_single_valued_header_written_twice_is_refused(name: str) -> None:
    # RFC 3261 7.3.1: only a comma-separated list may be written as several rows. Two
    # Call-IDs (or Content-Lengths) are two requests to whoever reads the other one: the
    # front proxy and we must never disagree on which dialog, or which body, it is.
    msg = request("INVITE", call_id="dup", body=offer(), extra=_TIMER)
    other = {"Call-ID": "dup2", "CSeq": "2 INVITE", "From": "<sip:13900000000@192.0.2.9>;tag=f2",
             "To": "<sip:12345@192.0.2.1>", "Content-Length": "0", "Content-Type": "text/plain",
             "Max-Forwards": "69", "Session-Expires": "1800;refresher=uas",
             "Min-SE": "120"}[name]
    assert other != msg.first(name)
    raw = bytes(msg.raw).replace(b"\r\n\r\n", f"\r\n{name}: {other}\r\n\r\n".encode(), 1)
    with pytest.raises(SipSyntaxError, match=name):
        SipMessage(raw, PHONE)


@pytest.mark.parametrize("name", ["Call-ID", "CSeq", "From", "To", "Content-Length",
                                  "Content-Type", "Max-Forwards", "Session-Expires",
                                  "Min-SE"])
def test_a_single_valued_header_written_twice_alike_is_read(name: str) -> None:
    # The same row twice is one value to every reader: a sloppy B2BUA's doubled
    # Content-Type (as our own refresher's was, sip42) is no second message (review114).
    msg = request("INVITE", call_id="same", body=offer(), extra=_TIMER)
    value = msg.first(name)
    raw = bytes(msg.raw).replace(b"\r\n\r\n", f"\r\n{name}:  {value}\r\n\r\n".encode(), 1)
    again = SipMessage(raw, PHONE)
    assert again.all(name) == [value, value] and again.call_id == "same"


@pytest.mark.parametrize(("long", "short"), [("Call-ID", "i"), ("Content-Length", "l"),
                                             ("Content-Type", "c"), ("From", "f"),
                                             ("To", "t")])
def test_a_compact_form_beside_its_long_form_is_the_same_header(long: str, short: str) -> None:
    # RFC 3261 7.3.3: "i" is Call-ID. Beside a Call-ID of another value it is a second
    # Call-ID (400); of the same value, one; a message of compact forms alone is read.
    msg = request("INVITE", call_id="cmp", body=offer())
    value = msg.first(long)
    same = bytes(msg.raw).replace(b"\r\n\r\n", f"\r\n{short}:{value}\r\n\r\n".encode(), 1)
    assert SipMessage(same, PHONE).all(long) == [value, value]
    other = bytes(msg.raw).replace(b"\r\n\r\n", f"\r\n{short.upper()}: x{value}\r\n\r\n".encode(),
                                   1)
    with pytest.raises(SipSyntaxError, match=long):
        SipMessage(other, PHONE)
    compact = b"\r\n".join(
        line if b":" not in line or line.startswith(b"INVITE") else
        {b"call-id": b"i", b"content-length": b"l", b"content-type": b"c", b"from": b"f",
         b"to": b"t", b"via": b"v"}.get(line.split(b":", 1)[0].lower(),
                                     line.split(b":", 1)[0]) + b":" + line.split(b":", 1)[1]
        for line in bytes(msg.raw).split(b"\r\n"))
    assert b"\r\nv:" in compact and b"\r\nl:" in compact
    read = SipMessage(compact, PHONE)
    assert read.call_id == "cmp" and read.body_bytes == msg.body_bytes


def test_a_200_ok_with_its_content_type_twice_alike_is_read() -> None:
    # A response we receive (the callee's answer to our outbound call, via a trunk): read,
    # as it was before sip42. Refused, it was dropped and the answered call "no answer".
    ok = (b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKo1\r\n"
          b"From: <sip:12345@192.0.2.1>;tag=a\r\nTo: <sip:13800000000@192.0.2.40>;tag=b\r\n"
          b"Call-ID: out1\r\nCSeq: 1 INVITE\r\nContact: <sip:callee@192.0.2.40>\r\n"
          b"Content-Type: application/sdp\r\nContent-Type: application/sdp\r\n"
          b"Content-Length: 5\r\n\r\nv=0\r\n")
    assert SipMessage(ok, ("192.0.2.40", 5060)).status_code == 200


def test_a_200_ok_we_cannot_read_is_logged_by_its_call(caplog: pytest.LogCaptureFixture) -> None:
    # Two Call-IDs of two values: no reader can tell whose call it answers, so it is
    # dropped (never ACKed; the outbound call ends no_answer at its ring timeout). The log
    # line names the response and its Call-IDs, for the operator to find that call.
    fe, _wire = front_end()
    sent: list[bytes] = []
    fe._transport.send = lambda data, addr: sent.append(data)  # type: ignore[method-assign]
    ok = (b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKo2\r\n"
          b"From: <sip:12345@192.0.2.1>;tag=a\r\nTo: <sip:13800000000@192.0.2.40>;tag=b\r\n"
          b"Call-ID: out2\r\nCall-ID: other\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n")
    with caplog.at_level("WARNING", logger="telephony.sip"):
        fe._transport.handle_datagram(ok, ("192.0.2.40", 5060))
    assert sent == []
    line = next(r.getMessage() for r in caplog.records if "dropped" in r.getMessage())
    assert "response '200 OK' (Call-ID out2, other)" in line and "Call-ID more than once" in line


def test_an_invite_with_two_session_intervals_is_answered_400() -> None:
    # RFC 4028 4: Session-Expires is single-valued. Of "90" and "1800" we read the first
    # and a proxy between may read the other: the two would refresh on two clocks and the
    # call be torn down as stale by whichever expected the shorter (sip43).
    fe, _wire = front_end()
    sent: list[bytes] = []
    fe._transport.send = lambda data, addr: sent.append(data)  # type: ignore[method-assign]
    msg = request("INVITE", call_id="se2", body=offer(), extra=_TIMER)
    raw = bytes(msg.raw).replace(b"\r\n\r\n", b"\r\nx: 1800\r\n\r\n", 1)
    fe._transport.handle_datagram(raw, PHONE)
    [answer] = [SipMessage(d) for d in sent]
    assert answer.status_code == 400 and "Session-Expires" in answer.first("Warning")
    assert fe._lookup("se2") is None


def _two_call_ids(call_id: str, source: tuple[str, int]) -> bytes:
    return (f"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKb\r\n"
            f"From: <sip:12345@192.0.2.1>;tag=a\r\nTo: <sip:13800000000@{source[0]}>;tag=b\r\n"
            f"Call-ID: {call_id}\r\nCall-ID: other\r\nCSeq: 1 INVITE\r\n"
            f"Content-Length: 0\r\n\r\n").encode()


def test_broken_responses_ban_no_trunk_we_called_but_a_stranger(
        caplog: pytest.LogCaptureFixture) -> None:
    # An untrusted trunk retransmitting a 200 we cannot read, to several of our callbacks
    # at once, had its address banned as a scanner: every citizen's call through it was
    # then dropped unanswered. Responses from where a call of ours went are logged and
    # never charged (sip43); the same from a stranger still are, and its requests too.
    fe, wire = front_end()
    fe._transactions._send = wire.send
    fe.flood.clock = fe.admission.response_flood.clock = lambda: 5000.0
    trunk, stranger = ("192.0.2.50", 5060), ("198.51.100.66", 5060)
    dialing, call, invite = dial(fe, wire, f"sip:13800000000@{trunk[0]}:{trunk[1]}")
    many = 3 * Settings().sip.flood_burst
    try:
        with caplog.at_level("WARNING", logger="telephony.sip"):
            for _ in range(many):
                fe._transport.handle_datagram(_two_call_ids(call.call_id, trunk), trunk)
                fe._transport.handle_datagram(_two_call_ids(call.call_id, stranger), stranger)
        logged = [r.getMessage() for r in caplog.records if "dropped unparseable response" in
                  r.getMessage() and str(trunk) in r.getMessage()]
        # Logged at the flood guard's rate, not one warning per datagram: the trunk's
        # address may be forged (review117).
        assert len(logged) == Settings().sip.flood_burst
        assert f"(Call-ID {call.call_id}, other)" in logged[0]
        assert not fe.flood.banned(trunk[0]) and fe.flood.banned(stranger[0])
        assert fe.admission.admit(request("INVITE", call_id="in", source=trunk), in_dialog=False)
        assert not fe.admission.admit(request("INVITE", call_id="in2", source=stranger),
                                      in_dialog=False)
    finally:
        fe._on_message(SipMessage(build_response(invite, 486, to_tag="far"), trunk))
        dialing.join(30)
    assert not dialing.is_alive()
    # The call forgotten, the trunk is no longer one we called: its garbage is charged.
    fe.dialer.forget(call.call_id)
    for _ in range(many):
        fe._transport.handle_datagram(_two_call_ids("late", trunk), trunk)
    assert fe.flood.banned(trunk[0])


def test_a_trunk_named_by_host_is_one_we_called_once_it_answers() -> None:
    # sip_uri_template may name the trunk ("sip:{phone}@sbc.example"): no datagram comes
    # from a name, so the address its 100 Trying came from is where our call went.
    fe, wire = front_end()
    fe._transactions._send = wire.send
    sbc = ("192.0.2.51", 5060)
    dialing, call, invite = dial(fe, wire, "sip:13800000000@sbc.example:5060")
    try:
        assert not fe.admission.dials_to(sbc[0])
        fe._on_message(SipMessage(build_response(invite, 100), sbc))
        assert fe.admission.dials_to(sbc[0]) and not fe.admission.dials_to("192.0.2.52")
    finally:
        fe._on_message(SipMessage(build_response(invite, 486, to_tag="far"), sbc))
        dialing.join(30)
    assert not dialing.is_alive() and call.final_status == 486


def test_no_stranger_answering_our_invite_becomes_a_trunk_we_called() -> None:
    # Responses match by Call-ID and CSeq alone, from any address: whoever saw our INVITE
    # (a callee behind a proxying trunk sees its Call-ID) could answer 100 Trying from its
    # own address, or from forged ones, and each became "where our call went", its garbage
    # never charged and every address kept for the leg's life (review117). A trunk named
    # by address is that address; one named by host is the first address that answered.
    fe, wire = front_end()
    fe._transactions._send = wire.send
    trunk, stranger = ("192.0.2.50", 5060), ("198.51.100.66", 5060)
    dialing, call, invite = dial(fe, wire, f"sip:13800000000@{trunk[0]}:{trunk[1]}")
    try:
        fe._on_message(SipMessage(build_response(invite, 100), stranger))
        assert fe.admission.dials_to(trunk[0]) and not fe.admission.dials_to(stranger[0])
    finally:
        fe._on_message(SipMessage(build_response(invite, 486, to_tag="far"), trunk))
        dialing.join(30)
    assert not dialing.is_alive()
    fe, wire = front_end()
    fe._transactions._send = wire.send
    sbc = ("192.0.2.51", 5060)
    dialing, call, invite = dial(fe, wire, "sip:13800000000@sbc.example:5060")
    try:
        fe._on_message(SipMessage(build_response(invite, 100), sbc))
        for n in range(200):
            fe._on_message(SipMessage(build_response(invite, 100), (f"198.51.100.{n}", 5060)))
        assert fe.admission.dials_to(sbc[0]) and not fe.admission.dials_to("198.51.100.7")
        assert len(fe.dialer._legs[call.call_id][1].answered_from) == 1
    finally:
        fe._on_message(SipMessage(build_response(invite, 486, to_tag="far"), sbc))
        dialing.join(30)
    assert not dialing.is_alive()
