"""Requests we originate all come from one builder: they parse back with our own strict
parser, keep header order, and carry a Content-Length that matches the body."""

from __future__ import annotations

from telephony.sip.message import SipMessage, build_request

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
