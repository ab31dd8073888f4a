"""INVITEs from SIP-I/SIP-T gateways (the PSTN side of Chinese carriers): the SDP offer in
a multipart/mixed body beside the ISUP message (RFC 3204). The call is answered from the
SDP part; a body with the ISUP message alone is a delayed offer (our offer in the 200, the
answer in the ACK, as for an INVITE without a body); a part we cannot read marked
handling=required, or another body type, is 415 naming what we accept. Against the front
end at the shipped settings (raw UDP peer on loopback, no SIPp: it cannot send multipart
bodies), then socket-free for the re-INVITE."""

from __future__ import annotations

import pytest

from telephony.sip.sdp import UnsupportedBody, parse_sdp, sdp_body
from tests.support.lines import AnsweringLines, shipped_front_end
from tests.support.rawsip import RawPeer, header, sdp_port, status
from tests.telephony.test_sip_indialog import inbound_call, make, sip_request

GATEWAY = "127.0.0.76"
BOUNDARY = "unique-boundary-1"
ISUP = b"\x01\x00\x49\x00\x00\x03\x02\x00\x07\x04\x10\x00\x33\x63\x21\x43\x00\x00\x03"


def multipart(sdp: bytes | None, handling: str = "optional") -> bytes:
    parts = []
    if sdp is not None:
        parts.append(b"Content-Type: application/sdp\r\n\r\n" + sdp)
    parts.append(b"Content-Type: application/ISUP;version=itu-t92+;base=itu-t92+\r\n"
                 b"Content-Disposition: signal;handling=" + handling.encode() + b"\r\n"
                 b"Content-Transfer-Encoding: binary\r\n\r\n" + ISUP)
    sep = f"--{BOUNDARY}\r\n".encode()
    return b"".join(sep + p + b"\r\n" for p in parts) + f"--{BOUNDARY}--\r\n".encode()


CONTENT_TYPE = f"multipart/mixed;boundary={BOUNDARY}"


def invite(peer: RawPeer, call_id: str, body: bytes) -> bytes:
    raw = peer.invite(call_id, body="")
    head = raw.split(b"Content-Type:")[0]
    return (head + f"Content-Type: {CONTENT_TYPE}\r\nContent-Length: {len(body)}\r\n\r\n"
            .encode() + body)


@pytest.mark.sip
def test_a_sip_i_invite_is_answered_from_its_sdp_part() -> None:
    fe = shipped_front_end(AnsweringLines())
    peer = RawPeer(GATEWAY, fe.local_port)
    try:
        peer.send(invite(peer, "sipi-ok", multipart(peer.sdp().encode())))
        (answer,) = peer.finals(1).values()
        assert status(answer) == 200 and sdp_port(answer) > 0
        peer.send(peer.ack(answer))
        peer.send(invite(peer, "sipi-none", multipart(None)))
        peer.send(invite(peer, "sipi-req", multipart(peer.sdp().encode(), "required")))
        finals = peer.finals(2)
        # The ISUP message alone: no SDP, a delayed offer (before: 415).
        assert status(finals["sipi-none"]) == 200
        assert parse_sdp(finals["sipi-none"].split(b"\r\n\r\n", 1)[1]).formats == [0, 8, 101]
        peer.send(peer.ack(finals["sipi-none"], sdp=peer.sdp()))
        assert status(finals["sipi-req"]) == 415
        assert "application/sdp" in header(finals["sipi-req"], "Accept")
        # The node goes on: the same gateway's plain call is answered.
        peer.send(peer.invite("sipi-after"))
        assert status(peer.finals(1)["sipi-after"]) == 200
    finally:
        peer.close()
        fe.stop()


def test_the_sdp_part_is_read_and_the_isup_part_left() -> None:
    sdp = b"v=0\r\nc=IN IP4 192.0.2.1\r\nm=audio 4000 RTP/AVP 8\r\n"
    assert parse_sdp(sdp_body(CONTENT_TYPE, multipart(sdp))).port == 4000
    assert sdp_body("application/sdp", sdp) == sdp and sdp_body("", b"") == b""
    # The ISUP message alone: no SDP to read (a delayed offer), not a body we refuse.
    assert sdp_body(CONTENT_TYPE, multipart(None)) == b""
    for content_type, body in [("application/isup", ISUP),
                               (CONTENT_TYPE, multipart(sdp, "required")),
                               ("multipart/mixed", b"no boundary at all")]:
        with pytest.raises(UnsupportedBody):
            sdp_body(content_type, body)


def test_a_sip_i_reinvite_is_read_too() -> None:
    dialogs, wire = make()
    call = inbound_call(wire, answered=True)
    sdp = b"v=0\r\nc=IN IP4 192.0.2.30\r\nm=audio 40100 RTP/AVP 0\r\na=sendonly\r\n"
    body = multipart(sdp)
    reinvite = sip_request("INVITE", branch="z9hG4bKsipi", body=body)
    reinvite.header_list = [(n, CONTENT_TYPE if n == "Content-Type" else v)
                            for n, v in reinvite.header_list]
    dialogs.on_refresh(call, reinvite)
    [(ok, _)] = wire.sent
    assert ok.status_code == 200 and call.held and b"a=recvonly" in ok.body_bytes
