"""Requests we originate all come from one builder: they parse back with our own strict
parser, keep header order, and carry a Content-Length that matches the body."""

from __future__ import annotations

from telephony.sip.message import USER_AGENT, SipMessage, build_request
from telephony.sip.transaction import new_request, udp_via

HEADERS = [
    ("Via", "SIP/2.0/UDP 127.0.0.1:5080;branch=z9hG4bK-1;rport"),
    ("Max-Forwards", "70"),
    ("Route", "<sip:10.0.0.1;lr>"),
    ("Route", "<sip:10.0.0.2;lr>"),
    ("From", "<sip:12345@127.0.0.1>;tag=abc"),
    ("To", "<sip:1001@127.0.0.1>"),
    ("Call-ID", "c1@127.0.0.1"),
    ("CSeq", "1 INVITE"),
]


def test_request_with_body_parses_back() -> None:
    sdp = b"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\n"
    raw = build_request("INVITE", "sip:1001@127.0.0.1", HEADERS, body=sdp)
    msg = SipMessage(raw)
    assert (msg.method, msg.request_uri) == ("INVITE", "sip:1001@127.0.0.1")
    assert msg.body_bytes == sdp
    assert msg.first("Content-Type") == "application/sdp"
    assert msg.first("Content-Length") == str(len(sdp))
    assert msg.route_list("Route") == ["<sip:10.0.0.1;lr>", "<sip:10.0.0.2;lr>"]
    assert [n for n, _ in msg.header_list][:8] == [n for n, _ in HEADERS]


def test_request_without_body_has_no_content_type() -> None:
    raw = build_request("CANCEL", "sip:1001@127.0.0.1",
                        [*HEADERS[:2], *HEADERS[4:7], ("CSeq", "1 CANCEL")])
    assert raw.endswith(b"Content-Length: 0\r\n\r\n")
    msg = SipMessage(raw)
    assert msg.cseq == (1, "CANCEL")
    assert msg.first("Content-Type") == ""


def test_new_request_puts_every_header_in_one_order() -> None:
    raw = new_request("BYE", "sip:1001@127.0.0.1:5062", via=udp_via("127.0.0.1", 5080, "z9hG4bK-2"),
                      routes=["<sip:10.0.0.1;lr>"], from_="<sip:12345@127.0.0.1>;tag=a",
                      to="<sip:1001@127.0.0.1>;tag=b", call_id="c2@127.0.0.1", cseq=3,
                      contact="sip:12345@127.0.0.1:5080")
    msg = SipMessage(raw)
    assert [n for n, _ in msg.header_list] == [
        "Via", "Max-Forwards", "Route", "From", "To", "Call-ID", "CSeq", "Contact",
        "User-Agent", "Content-Length"]
    assert msg.cseq == (3, "BYE")
    assert msg.top_branch == "z9hG4bK-2"
    assert msg.first("Contact") == "<sip:12345@127.0.0.1:5080>"
    assert msg.first("User-Agent") == USER_AGENT


def test_cancel_and_ack_of_an_invite_keep_its_branch_and_cseq_number() -> None:
    leg_via = udp_via("127.0.0.1", 5080, "z9hG4bK-3")
    common = {"via": leg_via, "from_": "<sip:12345@127.0.0.1>;tag=a", "call_id": "c3", "cseq": 1}
    invite = SipMessage(new_request("INVITE", "sip:1001@127.0.0.1", to="<sip:1001@127.0.0.1>",
                                    contact="sip:12345@127.0.0.1:5080",
                                    extra=[("Allow", "INVITE, ACK")], body=b"v=0\r\n",
                                    **common))
    cancel = SipMessage(new_request("CANCEL", "sip:1001@127.0.0.1", to="<sip:1001@127.0.0.1>",
                                    **common))
    ack = SipMessage(new_request("ACK", "sip:1001@127.0.0.1", to="<sip:1001@127.0.0.1>;tag=z",
                                 **common))
    assert invite.first("Allow") == "INVITE, ACK"
    assert invite.first("Content-Type") == "application/sdp"
    assert {invite.top_branch, cancel.top_branch, ack.top_branch} == {"z9hG4bK-3"}
    assert (cancel.cseq, ack.cseq) == ((1, "CANCEL"), (1, "ACK"))
    assert cancel.first("Contact") == "" and ack.to_tag == "z"
