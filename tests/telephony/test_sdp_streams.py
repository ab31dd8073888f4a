"""Offers with more than one stream, socket-free: an audio + video phone gets an answer
with as many m= lines as its offer, in its order, the video refused with port 0
(RFC 3264 6), at the answer and at a re-INVITE; an offer of video alone is 488, not a
malformed 400; another stream's c= is not taken for the audio's."""

from __future__ import annotations

import pytest

from telephony.call import CallHandle, Direction
from telephony.sip.message import SipMessage
from telephony.sip.sdp import NotAcceptable, answer_offer, call_media, parse_sdp
from tests.telephony.test_sip_indialog import (
    LOCAL_IP,
    PEER,
    Wire,
    inbound_call,
    make,
    sip_request,
)

AUDIO = ("m=audio 40000 RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n"
         "a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\na=sendrecv\r\n")
VIDEO = "m=video 40002 RTP/AVP 96 97\r\na=rtpmap:96 H264/90000\r\na=rtpmap:97 VP8/90000\r\n"
HEAD = f"v=0\r\no=phone 1 1 IN IP4 {PEER[0]}\r\ns=-\r\nc=IN IP4 {PEER[0]}\r\nt=0 0\r\n"


def m_lines(sdp: bytes) -> list[list[str]]:
    return [line[2:].split() for line in sdp.decode().split("\r\n") if line.startswith("m=")]


def answered(offer: str) -> SipMessage:
    """Our 200 OK to an INVITE carrying ``offer``, as the IVR's ``call.answer()`` sends it."""
    wire = Wire()
    invite = sip_request("INVITE", to_tag="", body=offer.encode())
    call = CallHandle(wire, direction=Direction.INBOUND, call_id="dlg1", local_tag="ours",
                      caller="13800000000", callee="12345")
    call.invite, call.invite_source = invite, PEER
    call.media = answer_offer(parse_sdp(invite.body_bytes))
    call.rtp_port = 30000

    class Rtp:
        def start(self) -> None: ...

    call.rtp = Rtp()  # type: ignore[assignment]
    assert call.answer()
    return SipMessage(call.last_invite_response or b"")


@pytest.mark.parametrize("offer", [HEAD + AUDIO + VIDEO, HEAD + VIDEO + AUDIO],
                         ids=["audio-first", "video-first"])
def test_the_answer_has_every_offered_stream_in_order_video_refused(offer: str) -> None:
    ok = answered(offer)
    offered, answer = m_lines(offer.encode()), m_lines(ok.body_bytes)
    assert [m[0] for m in answer] == [m[0] for m in offered]
    video = next(m for m in answer if m[0] == "video")
    assert video[1] == "0" and video[2:] == ["RTP/AVP", "96", "97"]
    audio = next(m for m in answer if m[0] == "audio")
    assert audio[1] == "30000" and audio[3:] == ["0", "101"]
    # Our audio's attributes are in the audio's block, none in the refused video's.
    blocks = {b.split()[0]: b for b in ok.body_bytes.decode().split("m=")[1:]}
    assert "a=rtpmap:0 PCMU/8000" in blocks["audio"] and "a=" not in blocks["video"]
    read_back = parse_sdp(ok.body_bytes)
    assert read_back.connection_ip == LOCAL_IP and read_back.port == 30000


def test_an_audio_only_offer_is_answered_with_one_stream_as_before() -> None:
    assert [m[0] for m in m_lines(answered(HEAD + AUDIO).body_bytes)] == ["audio"]


def test_a_reinvite_adding_video_is_answered_with_both_lines() -> None:
    dialogs, wire = make()
    call = inbound_call(wire, answered=True)
    call.rtp_port = 30000
    dialogs.on_refresh(call, sip_request("INVITE", branch="z9hG4bKvid",
                                         body=(HEAD + AUDIO + VIDEO).encode()))
    [(ok, _)] = wire.sent
    assert ok.status_code == 200
    assert [(m[0], m[1] == "0") for m in m_lines(ok.body_bytes)] == [
        ("audio", False), ("video", True)]



def test_a_reinvite_without_sdp_keeps_the_sessions_lines_in_order() -> None:
    """RFC 3264 8.1: our offer in the 200 to a re-INVITE without SDP has the session's m=
    lines in their order. A call set up on SRTP-then-RTP had its audio on the 2nd line, and
    our offer put it alone on the 1st (review34); one whose re-INVITE added video keeps
    the video line too."""
    offer = HEAD + SRTP + AUDIO.replace("40000", "40008")
    dialogs, wire = make()
    call = inbound_call(wire, answered=True)
    call.media = answer_offer(parse_sdp(offer.encode()))  # the call as that INVITE set it up
    call.rtp_port = 30000
    dialogs.on_refresh(call, sip_request("INVITE", branch="z9hG4bKnosdp", body=b""))
    [(ok, _)] = wire.sent
    assert ok.status_code == 200
    assert [m[:3] for m in m_lines(ok.body_bytes)] == [
        ["audio", "0", "RTP/SAVP"], ["audio", "30000", "RTP/AVP"]]
    dialogs, wire = make()
    call = inbound_call(wire, answered=True)
    call.rtp_port = 30000
    for cseq, body in ((900, (HEAD + AUDIO + VIDEO).encode()), (901, b"")):
        dialogs.on_refresh(call, sip_request("INVITE", branch=f"z9hG4bK{cseq}", body=body,
                                             cseq=cseq))
        dialogs.on_ack(sip_request("ACK", branch=f"z9hG4bK{cseq}", cseq=cseq))
    assert [(m[0], m[1] == "0") for m in m_lines(wire.sent[-1][0].body_bytes)] == [
        ("audio", False), ("video", True)]

    offer = parse_sdp((HEAD + VIDEO).encode())
    with pytest.raises(NotAcceptable, match="no audio stream"):
        answer_offer(offer)
    dialogs, wire = make()
    call = inbound_call(wire, answered=True)
    dialogs.on_refresh(call, sip_request("INVITE", branch="z9hG4bKvo",
                                         body=(HEAD + VIDEO).encode()))
    assert [m.status_code for m, _ in wire.sent] == [488] and not call.ended


def test_the_video_streams_own_address_is_not_the_audios() -> None:
    head = f"v=0\r\no=phone 1 1 IN IP4 {PEER[0]}\r\ns=-\r\nc=IN IP4 {PEER[0]}\r\nt=0 0\r\n"
    video = VIDEO + "c=IN IP4 198.51.100.9\r\n"
    offer = parse_sdp((head + video + AUDIO).encode())
    assert offer.connection_ip == PEER[0] and offer.port == 40000


DECLINED = "m=audio 0 RTP/AVP 0\r\n"


def test_a_declined_audio_stream_is_answered_declined_and_the_next_one_taken() -> None:
    """An m=audio at port 0 (a stream removed, its line kept: RFC 3264 8) before the live
    one: the live one was refused 488 "no common codec" (the first audio line was read),
    in the INVITE and in a re-INVITE, whose caller then sent audio nobody listened to."""
    offer = HEAD + DECLINED + AUDIO.replace("40000", "40004")
    ok = answered(offer)
    assert [m[:2] for m in m_lines(ok.body_bytes)] == [["audio", "0"], ["audio", "30000"]]
    assert parse_sdp(offer.encode()).port == 40004
    dialogs, wire = make()
    call = inbound_call(wire, answered=True)
    call.rtp_port = 30000
    dialogs.on_refresh(call, sip_request("INVITE", branch="z9hG4bKdecl", body=offer.encode()))
    [(reply, _)] = wire.sent
    assert reply.status_code == 200 and not call.ended
    assert [m[:2] for m in m_lines(reply.body_bytes)] == [["audio", "0"], ["audio", "30000"]]
    # Audio declined and nothing else: still nothing to answer.
    with pytest.raises(NotAcceptable):
        answer_offer(parse_sdp((HEAD + DECLINED + VIDEO).encode()))


def test_a_direction_given_for_the_whole_session_is_the_audio_streams() -> None:
    """a=sendonly (or inactive, recvonly) before the first m= line holds for every stream
    the media lines do not say otherwise of (RFC 4566 6, RFC 3264 5.1). It was read only
    inside the audio stream: a hold said at session level was answered sendrecv (no valid
    answer to it, RFC 3264 6.1) and, the caller sending nothing while holding, the call was
    hung up rtp_timeout 10 s into the hold (seen on the clone); such an INVITE was taken as
    a call instead of 488."""
    held = HEAD + "a=sendonly\r\n" + AUDIO.replace("a=sendrecv\r\n", "")
    assert parse_sdp(held.encode()).direction == "sendonly"
    # The stream's own attribute wins over the session's.
    assert parse_sdp((HEAD + "a=inactive\r\n" + AUDIO).encode()).direction == "sendrecv"
    assert parse_sdp((HEAD + "a=sendonly\r\n" + VIDEO + AUDIO.replace(
        "a=sendrecv\r\n", "")).encode()).direction == "sendonly"
    dialogs, wire = make()
    call = inbound_call(wire, answered=True)
    call.rtp_port = 30000
    dialogs.on_refresh(call, sip_request("INVITE", branch="z9hG4bKsess", body=held.encode()))
    [(ok, _)] = wire.sent
    assert ok.status_code == 200 and b"a=recvonly\r\n" in ok.body_bytes and call.held
    with pytest.raises(NotAcceptable, match="sendonly"):
        call_media(parse_sdp(held.encode()))


SRTP = ("m=audio 40006 RTP/SAVP 0 101\r\na=rtpmap:0 PCMU/8000\r\n"
        "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz\r\n"
        "c=IN IP4 192.0.2.99\r\n")


def test_a_best_effort_srtp_offer_is_answered_on_its_plain_rtp_stream() -> None:
    """Two audio streams, SRTP first and plain RTP with PCMU after it (an SBC offering
    SRTP with a fallback): 488 "no common codec" (the trial's raw caller, 2026-12-06);
    now the plain one is the call's, the SRTP one refused in its place, and its own c=
    is not taken."""
    offer = HEAD + SRTP + AUDIO.replace("40000", "40008")
    ok = answered(offer)
    assert [m[:3] for m in m_lines(ok.body_bytes)] == [
        ["audio", "0", "RTP/SAVP"], ["audio", "30000", "RTP/AVP"]]
    taken = parse_sdp(offer.encode())
    assert (taken.port, taken.proto, taken.connection_ip) == (40008, "RTP/AVP", PEER[0])
    # Plain RTP first: taken as before, the SRTP line after it refused.
    assert [m[:2] for m in m_lines(answered(HEAD + AUDIO + SRTP).body_bytes)] == [
        ["audio", "30000"], ["audio", "0"]]
    # SRTP alone: nothing we can serve.
    with pytest.raises(NotAcceptable):
        answer_offer(parse_sdp((HEAD + SRTP).encode()))


G729 = "m=audio 40010 RTP/AVP 18 101\r\na=rtpmap:18 G729/8000\r\na=rtpmap:101 telephone-event/8000\r\n"


def test_a_first_stream_in_a_codec_we_lack_is_refused_and_the_next_answered() -> None:
    """Two audio streams on RTP/AVP, G.729 alone first and PCMU after (the twenty-first
    round's trial: 488): one rule with the SRTP case above (``sdp.servable``), so the
    second is the call's and the first refused with port 0 in its place (RFC 3264 6)."""
    offer = HEAD + G729 + AUDIO.replace("40000", "40012")
    ok = answered(offer)
    assert [m[:3] for m in m_lines(ok.body_bytes)] == [
        ["audio", "0", "RTP/AVP"], ["audio", "30000", "RTP/AVP"]]
    taken = answer_offer(parse_sdp(offer.encode()))
    assert (taken.codec, taken.remote_port, taken.event_pt) == ("PCMU", 40012, 101)
    # G.729 alone, or after a stream we answer: as before.
    with pytest.raises(NotAcceptable, match="no common codec"):
        answer_offer(parse_sdp((HEAD + G729).encode()))
    assert [m[:2] for m in m_lines(answered(HEAD + AUDIO + G729).body_bytes)] == [
        ["audio", "30000"], ["audio", "0"]]
