"""Malformed SIP and SDP against the parsers, socket-free: every bad input is a defined
error (SdpError → 400, NotAcceptable → 488, SipSyntaxError → 400 or drop), never another
exception escaping into the receive loop with the INVITE left unanswered."""

from __future__ import annotations

import pytest

from telephony.sip.message import (
    MAX_HEADERS,
    SipMessage,
    SipSyntaxError,
    bad_request_for,
    build_response,
    split_message,
)
from telephony.sip.sdp import (
    NotAcceptable,
    SdpError,
    answer_offer,
    call_media,
    negotiate,
    parse_sdp,
)
from telephony.sip.uri import uri_hostport

HUGE = "9" * 5000  # past Python's int() digit limit: int() raises ValueError


def sdp(*, c: str = "IN IP4 192.0.2.10", m: str = "audio 40000 RTP/AVP 0 101",
        extra: str = "") -> str:
    return (f"v=0\r\no=- 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc={c}\r\nt=0 0\r\nm={m}\r\n"
            f"a=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n{extra}")


def request(*, extra_headers: str = "", cseq: str = "1", body: str = "") -> bytes:
    return (
        "INVITE sip:12345@192.0.2.1 SIP/2.0\r\n"
        "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKx\r\n"
        "From: <sip:13800138000@192.0.2.10>;tag=a\r\nTo: <sip:12345@192.0.2.1>\r\n"
        f"Call-ID: c1@x\r\nCSeq: {cseq} INVITE\r\n{extra_headers}"
        f"Content-Type: application/sdp\r\nContent-Length: {len(body)}\r\n\r\n{body}"
    ).encode()


def test_a_good_offer_is_answered() -> None:
    media = answer_offer(parse_sdp(sdp()))
    assert (media.codec, media.remote_ip, media.remote_port, media.event_pt) == (
        "PCMU", "192.0.2.10", 40000, 101)


@pytest.mark.parametrize("body", [
    sdp(extra=f"a=rtpmap:96 opus/{HUGE}\r\n"),  # once an uncaught ValueError: no answer
    sdp(m=f"audio {HUGE} RTP/AVP 0"),
    sdp(m=f"audio 40000 RTP/AVP 0 {HUGE}"),
    sdp(m="audio 40000/2 RTP/AVP 0", extra=f"a=rtpmap:0 PCMU/8000/{HUGE}\r\n"),
    sdp(m="audio 70000 RTP/AVP 0"),
    sdp(extra="a=x\r\n" * 200),  # no end of lines
])
def test_numbers_past_any_bound_are_malformed_sdp(body: str) -> None:
    with pytest.raises(SdpError):
        parse_sdp(body)


@pytest.mark.parametrize("c", [
    "IN IP4 evil.example.com",  # a DNS look-up per RTP packet, media pointed anywhere
    "IN IP4 999.1.1.1",
    "IN IP4 0.0.0.0",
    "IN IP4 224.0.0.1",
    "IN IP4 255.255.255.255",
    "IN IP6 2001:db8::1",  # our RTP sockets are IPv4
    f"IN IP4 {HUGE}",
])
def test_a_media_address_we_cannot_send_to_is_not_acceptable(c: str) -> None:
    offer = parse_sdp(sdp(c=c))  # readable SDP ...
    with pytest.raises(NotAcceptable, match="c= address"):
        answer_offer(offer)  # ... that we cannot serve: 488, saying why
    assert negotiate(offer) is None


@pytest.mark.parametrize(("direction", "starts"), [
    ("sendrecv", True), ("recvonly", False), ("sendonly", False), ("inactive", False)])
def test_a_call_starts_only_with_sdp_that_takes_our_audio(direction: str,
                                                          starts: bool) -> None:
    """``call_media``, the one rule for the SDP a call starts with (an INVITE's offer, the
    answer in the ACK of a delayed offer, the 200 to our INVITE): on hold from the start
    (a=sendonly, a=inactive) the caller would hear no word of the IVR, and one that only
    listens (a=recvonly) would send no speech and no RFC 2833 key -- answered, it died
    no_rtp at first_rtp_timeout -- so 488, or BYE."""
    offer = parse_sdp(sdp(extra=f"a={direction}\r\n"))
    assert answer_offer(offer).codec == "PCMU"  # a re-INVITE's hold stays servable
    if starts:
        assert call_media(offer) == answer_offer(offer)
    else:
        with pytest.raises(NotAcceptable, match=f"a={direction}"):
            call_media(offer)


@pytest.mark.parametrize(("c", "direction", "says", "remedy", "not_said"), [
    # Before: "c= address 0.0.0.0 is not a unicast IPv4 address" (as for a broken
    # address), and then the refusal of c=0.0.0.0 asked for "sendrecv" -- which an offer
    # with a=sendrecv and c=0.0.0.0 already was.
    ("0.0.0.0", "sendrecv", "c=0.0.0.0 (on hold, RFC 2543)", "c= must name the address",
     "sendrecv"),
    ("0.0.0.0", "sendonly", "c=0.0.0.0 (on hold, RFC 2543)", "c= must name the address",
     "unicast"),
    ("192.0.2.10", "sendonly", "a=sendonly (on hold): the caller would hear nothing",
     "offer or answer a=sendrecv", "c="),
    ("192.0.2.10", "inactive", "a=inactive (on hold): no audio either way",
     "offer or answer a=sendrecv", "c="),
    ("192.0.2.10", "recvonly", "a=recvonly: the caller would send no speech and no keys",
     "offer or answer a=sendrecv", "hear nothing"),
])
def test_each_refusal_of_a_call_start_says_its_own_reason(c: str, direction: str, says: str,
                                                          remedy: str,
                                                          not_said: str) -> None:
    offer = parse_sdp(sdp(c=f"IN IP4 {c}", extra=f"a={direction}\r\n"))
    with pytest.raises(NotAcceptable) as refused:
        call_media(offer)
    why = str(refused.value)
    assert why.startswith(says) and "at the start of a call" in why
    assert remedy in why
    assert not_said not in why


def test_too_many_headers_is_a_syntax_error_still_answered_400() -> None:
    many = "".join(f"X-Junk-{i}: {i}\r\n" for i in range(MAX_HEADERS + 1))
    raw = request(extra_headers=many)
    with pytest.raises(SipSyntaxError, match="headers"):
        SipMessage(raw, ("192.0.2.10", 5060))
    reply = bad_request_for(raw, "more than 100 headers")
    assert reply is not None and reply.startswith(b"SIP/2.0 400 ")
    assert b"X-Junk" not in reply  # the answer copies only what a response must


def _with_headers(count: int) -> bytes:
    """An INVITE of exactly ``count`` header lines: ``request``'s own seven and junk."""
    raw = request(extra_headers="".join(f"X-J-{i}: {i}\r\n" for i in range(count - 7)))
    assert raw.split(b"\r\n\r\n")[0].count(b"\r\n") == count  # lines after the start
    return raw


def test_max_headers_is_the_most_a_message_may_have() -> None:
    """``MAX_HEADERS`` headers are read, one more is refused: the name is the number allowed
    (a test once called MAX_HEADERS - 1 "the limit itself", and nothing pinned either edge)."""
    at_limit = SipMessage(_with_headers(MAX_HEADERS), ("192.0.2.10", 5060))
    assert at_limit.method == "INVITE" and len(at_limit.header_list) == MAX_HEADERS
    with pytest.raises(SipSyntaxError, match=f"more than {MAX_HEADERS} headers"):
        SipMessage(_with_headers(MAX_HEADERS + 1), ("192.0.2.10", 5060))


def test_folded_lines_are_part_of_their_header_not_more_headers() -> None:
    """A continuation line (RFC 3261 7.3.1) adds to the header above it: a message of
    ``MAX_HEADERS`` headers, one of them folded over many lines, is still read."""
    folded = _with_headers(MAX_HEADERS).replace(b"X-J-0: 0\r\n", b"X-J-0: 0\r\n" + b" more\r\n" * 20)
    assert len(SipMessage(folded, ("192.0.2.10", 5060)).header_list) == MAX_HEADERS


@pytest.mark.parametrize("cseq", [HUGE, str(2**31), "²"])
def test_cseq_beyond_rfc_3261_is_a_syntax_error(cseq: str) -> None:
    with pytest.raises(SipSyntaxError, match="CSeq"):
        SipMessage(request(cseq=cseq), ("192.0.2.10", 5060))


def test_content_length_of_thousands_of_digits_is_a_syntax_error() -> None:
    raw = request().replace(b"Content-Length: 0", f"Content-Length: {HUGE}".encode())
    with pytest.raises(SipSyntaxError, match="Content-Length"):
        split_message(raw)


@pytest.mark.parametrize("uri", [f"sip:a@192.0.2.1:{HUGE}", "sip:a@192.0.2.1:70000",
                                 "sip:a@192.0.2.1:0", "sip:a@192.0.2.1:x"])
def test_a_contact_port_that_is_not_one_raises_value_error(uri: str) -> None:
    with pytest.raises(ValueError):
        uri_hostport(uri)
    assert uri_hostport("sip:a@192.0.2.1:5062;transport=udp") == ("192.0.2.1", 5062)
    assert uri_hostport("sip:a@192.0.2.1") == ("192.0.2.1", 5060)


# Fourth review: a Call-ID and a From user with a bare CR, ESC, NEL and LINE SEPARATOR went
# into every log line of the call (a forged line at the start of a terminal row, colours,
# a new line for whatever splits on NEL/U+2028) and the call record's caller_raw.
CONTROLS = ["\r", "\x1b[2K", "\x00", "\x7f", "\x85", "\u2028", "\u2029", "\x0b"]


@pytest.mark.parametrize("ctl", CONTROLS, ids=repr)
@pytest.mark.parametrize("where", ["Call-ID: c1@x", "From: <sip:13800138000@192.0.2.10>"])
def test_control_characters_in_a_header_are_a_syntax_error_answered_without_them(
        ctl: str, where: str) -> None:
    name, value = where.split(": ", 1)
    forged = f"{value[:8]}{ctl}2026-12-03 18:00:00,000 INFO forged{value[8:]}"
    raw = request().replace(where.encode(), f"{name}: {forged}".encode())
    with pytest.raises(SipSyntaxError, match="control character"):
        SipMessage(raw, ("192.0.2.10", 5060))
    reply = bad_request_for(raw, "control character")
    # Either no answer (a header a response must copy was unreadable) or one without it.
    assert reply is None or ctl.encode() not in reply


def test_tabs_and_mandarin_display_names_are_no_control_characters() -> None:
    raw = request().replace(b"From: <sip:", 'From: "张\t三" <sip:'.encode())
    msg = SipMessage(raw, ("192.0.2.10", 5060))
    assert msg.method == "INVITE" and "张" in msg.first("From")


@pytest.mark.parametrize("method,cseq_method", [("INVITE", "BYE"), ("INVITE", "ACK"),
                                                ("BYE", "INVITE"), ("CANCEL", "INVITE")])
def test_a_cseq_naming_another_method_is_a_syntax_error_answered_400(
        method: str, cseq_method: str) -> None:
    """RFC 3261 8.1.1.5: the CSeq's method is the request's (an ACK's is ACK, a CANCEL's
    CANCEL). "INVITE ... CSeq: 1 BYE" from a stranger was answered 100, 180, 200 and held a
    line until the ACK timeout; our 200 carried "CSeq: 1 BYE"."""
    raw = request().replace(b"INVITE sip:", f"{method} sip:".encode(), 1).replace(
        b"CSeq: 1 INVITE", f"CSeq: 1 {cseq_method}".encode())
    with pytest.raises(SipSyntaxError, match="CSeq"):
        SipMessage(raw, ("192.0.2.10", 5060))
    reply = bad_request_for(raw, "bad CSeq")
    assert reply is not None and reply.startswith(b"SIP/2.0 400 ")
    same = request().replace(b"INVITE sip:", f"{method} sip:".encode(), 1).replace(
        b"CSeq: 1 INVITE", f"CSeq: 1 {method}".encode())
    assert SipMessage(same, ("192.0.2.10", 5060)).method == method


@pytest.mark.parametrize("cseq", ["1  INVITE", "1\tINVITE", "1 \t INVITE"])
def test_a_cseq_with_more_than_one_space_before_its_method_is_the_request_s(
        cseq: str) -> None:
    """RFC 3261 25.1: LWS between the number and the method is any run of spaces and tabs.
    pyVoIP split on one space, so "1  INVITE" had no method: once that was only lost, since
    the method check it is a 400 to a caller's INVITE ("1\\tINVITE" always was)."""
    raw = request().replace(b"CSeq: 1 INVITE", f"CSeq: {cseq}".encode())
    assert SipMessage(raw, ("192.0.2.10", 5060)).cseq == (1, "INVITE")


@pytest.mark.parametrize(("from_", "tag"), [
    ("<tel:+8613912345678>;tag=t1", "t1"),  # a carrier's IMS trunk (RFC 3966)
    ("<sips:13912345678@192.0.2.10>;tag=t2", "t2"),
    ('"a;tag=x" <sip:13912345678@192.0.2.10>;tag=t3', "t3"),  # ";tag=" in the name
    ("<sip:13912345678@192.0.2.10>;TAG=t4;x-carrier=1", "t4"),  # names are case-blind
    ("sip:13912345678@192.0.2.10;tag=t5", "t5"),  # addr-spec
])
def test_a_from_of_any_scheme_or_display_name_is_read_with_its_tag(from_: str,
                                                                   tag: str) -> None:
    """judge30: pyVoIP's From/To parse split at the first "sip:" and ";tag=": a From of
    ``tel:`` or ``sips:`` raised IndexError (the INVITE answered 400, the caller never
    reached us), a display name holding ";tag=" did too, and ``;TAG=`` gave no tag."""
    raw = request().replace(b"From: <sip:13800138000@192.0.2.10>;tag=a",
                            f"From: {from_}".encode())
    assert f"From: {from_}".encode() in raw
    msg = SipMessage(raw, ("192.0.2.10", 5060))
    assert msg.from_tag == tag


def test_a_caller_calling_from_a_tel_uri_is_answered_with_their_number() -> None:
    """judge30: ``From: <tel:+86…>`` was a 400; read now by the one rule the asserted
    identity's tel: URI had (``identity.uri_caller``)."""
    from telephony.sip.transaction import new_request, udp_via
    from tests.telephony.sipwire import LOCAL, PHONE, front_end, offer, our_number, ringing_call

    fe, _wire = front_end()
    invite = SipMessage(new_request(
        "INVITE", f"sip:{our_number()}@{LOCAL[0]}:{LOCAL[1]}",
        via=udp_via(PHONE[0], PHONE[1], "z9hG4bKtelfrom"),
        from_="<tel:+8613912345678;phone-context=+86>;tag=them",
        to=f"<sip:{our_number()}@{LOCAL[0]}>", call_id="tel-from", cseq=1,
        contact=f"sip:phone@{PHONE[0]}:{PHONE[1]}",
        extra=[("Content-Type", "application/sdp")], body=offer()), PHONE)
    assert ringing_call(fe, invite).caller == "+8613912345678"


def test_a_display_name_in_gbk_is_read_and_the_call_rings() -> None:
    """judge31: a PBX writing its caller's name in GBK (``From: "张三"`` as D5C5 C8FD) was
    dropped unanswered ("header block is not UTF-8"): the citizen heard ringing until their
    phone gave up. GB18030 reads it; bytes no charset reads are still refused."""
    from tests.telephony.sipwire import PHONE, front_end, ringing_call

    gbk = request().replace(b"From: <sip:", b'From: "\xd5\xc5\xc8\xfd" <sip:')
    msg = SipMessage(gbk, ("192.0.2.10", 5060))
    assert msg.first("From").startswith('"张三" <sip:13800138000@') and msg.from_tag == "a"
    utf8 = _invite_with(from_='"张三" <sip:13912345678@192.0.2.10>;tag=them', call_id="gbk")
    raw = utf8.raw.replace("张三".encode(), "张三".encode("gbk"))
    assert raw != utf8.raw
    fe, _wire = front_end()
    assert ringing_call(fe, SipMessage(raw, PHONE)).caller == "13912345678"
    with pytest.raises(SipSyntaxError, match="neither UTF-8 nor GB18030"):
        SipMessage(request().replace(b"From: <sip:", b'From: "\xff\xfe" <sip:'),
                   ("192.0.2.10", 5060))


def test_a_gb18030_reading_that_takes_in_a_delimiter_is_refused() -> None:
    """review80: a GB18030 character's second byte may be ASCII (81 5C is one character),
    so the backslash every byte-reading peer sees escaping a quote was gone here. A
    stranger's Via relayed by the front, ``x="A<81>\\";received=6.6.6.6;y="`` then the
    front's own ``;received=<real>``: one quoted string to Kamailio, and here the forged
    ``received`` was the caller's address (KeyedLookups' count), the real one inside a
    quote. Refused, as bytes no charset reads; a name whose character's second byte is a
    letter (玥 AB 68) is still read."""
    from telephony.sip.identity import caller_address

    front = b"Via: SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bKfront\r\n"
    forged = (b'Via: SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bKatt;x="A\x81\\";'
              b'received=6.6.6.6;y=";received=198.51.100.99, SIP/2.0/UDP 198.51.100.7;'
              b'z="\x81\\""\r\n')
    raw = request().replace(b"Via: ", front + forged + b"Via: ", 1)
    with pytest.raises(SipSyntaxError, match="loses a delimiter"):
        SipMessage(raw, ("10.0.0.5", 5060))
    # The same Via without the GB18030 byte is one quoted string here too: the front's.
    plain = SipMessage(raw.replace(b"\x81", b"B"), ("10.0.0.5", 5060))
    assert caller_address(plain, trusted=True) == "198.51.100.99"
    # A user part's "@" taken into a character: refused, not read as a host-only URI.
    with pytest.raises(SipSyntaxError, match="loses a delimiter"):
        SipMessage(request().replace(b"sip:13800138000@", b"sip:13800138000\x81@"),
                   ("192.0.2.10", 5060))
    yue = SipMessage(request().replace(b"From: <sip:", b'From: "\xd5\xc5\xab\x68" <sip:'),
                     ("192.0.2.10", 5060))
    assert yue.headers["From"]["caller"] == "张玥" and yue.from_tag == "a"


@pytest.mark.parametrize("space", ["\u3000".encode(), b"\xa1\xa1"])  # UTF-8, GBK
def test_a_header_name_is_a_token_and_a_parameter_name_has_no_wide_space(space: bytes
                                                                          ) -> None:
    """review80: str.strip() took an ideographic space off a header name, so a stranger's
    ``X-Hotline-Vouched<U+3000>: carrier`` and ``P-Asserted-Identity<U+3000>`` were our
    front's mark and the carrier's assertion here, while Kamailio's remove_hf, reading
    another name, passed them: verified as any number, whose tickets key 1 reads. A header
    name is a token: refused. A Via parameter ``received<U+3000>`` was read as received
    (the address KeyedLookups counts) where the front sees another parameter."""
    from telephony.sip.identity import caller_address, caller_identity

    for name in (b"X-Hotline-Vouched", b"P-Asserted-Identity"):
        forged = request(extra_headers="X: 1\r\n").replace(
            b"X: 1", name + space + b": " + (b"carrier" if name[0] == ord("X")
                                              else b"<sip:13911112222@carrier>"))
        with pytest.raises(SipSyntaxError, match="bad header line"):
            SipMessage(forged, ("10.0.0.5", 5060))
    front = b"Via: SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bKfront\r\n"
    raw = request().replace(b"Via: ", front + b"Via: ", 1).replace(
        b"branch=z9hG4bKx", b"branch=z9hG4bKx;received" + space + b"=6.6.6.6")
    msg = SipMessage(raw, ("10.0.0.5", 5060))
    assert caller_address(msg, trusted=True) == "192.0.2.10"
    assert caller_identity(msg, trusted=True)[0] == "13800138000"
    # LWS around a name is still LWS.
    assert SipMessage(request(extra_headers="Max-Forwards \t: 70\r\n"),
                      ("192.0.2.10", 5060)).first("Max-Forwards") == "70"


def _invite_with(*, from_: str = "<sip:13912345678@192.0.2.10>;tag=them",
                 to: str | None = None, call_id: str = "mend70") -> SipMessage:
    from telephony.sip.transaction import new_request, udp_via
    from tests.telephony.sipwire import LOCAL, PHONE, offer, our_number

    return SipMessage(new_request(
        "INVITE", f"sip:{our_number()}@{LOCAL[0]}:{LOCAL[1]}",
        via=udp_via(PHONE[0], PHONE[1], f"z9hG4bK{call_id}"), from_=from_,
        to=to or f"<sip:{our_number()}@{LOCAL[0]}>", call_id=call_id, cseq=1,
        contact=f"sip:phone@{PHONE[0]}:{PHONE[1]}",
        extra=[("Content-Type", "application/sdp")], body=offer()), PHONE)


@pytest.mark.parametrize("to", [
    '"x;tag=y" <sip:{n}@192.0.2.1>',  # ";tag=" in the display name
    '"x; tag =y" <sip:{n}@192.0.2.1>',
    "<sip:{n}@192.0.2.1;tag=z>",  # a URI parameter, not the header's
])
def test_a_new_call_whose_to_only_looks_tagged_is_answered_with_our_tag(to: str) -> None:
    """review71: ``build_response_raw`` searched the To text for ";tag=": a new call whose
    display name or URI held one had its 180 sent without our tag, so the caller's ACK and
    BYE matched no dialog (``dialog.in_dialog``). The parse's own tag decides now."""
    from tests.telephony.sipwire import front_end, our_number, ringing_call

    fe, wire = front_end()
    call = ringing_call(fe, _invite_with(to=to.format(n=our_number())))
    ringing = [m for m, _ in wire.sent if m.type == 0 and m.status_code == 180]
    assert ringing and ringing[0].to_tag == call.local_tag


def test_an_in_dialog_to_tag_spelt_in_capitals_gets_no_second_tag() -> None:
    """review71: ``;TAG=abc`` (parameter names are case-blind) was not seen as a tag, and
    the answer's To carried two."""
    from telephony.sip.message import build_response

    msg = SipMessage(request().replace(b"To: <sip:12345@192.0.2.1>",
                                       b"To: <sip:12345@192.0.2.1>;TAG=abc"))
    to = next(line for line in build_response(msg, 200, to_tag="ours").decode().split("\r\n")
              if line.startswith("To:"))
    assert to == "To: <sip:12345@192.0.2.1>;TAG=abc"


@pytest.mark.parametrize(("from_", "remote"), [
    ('"x;tag=evil" <sip:138@gw>;tag=good', '"x;tag=evil" <sip:138@gw>'),
    ("\"O'Brien; tag=1\" <sip:138@gw>;tag=good", "\"O'Brien; tag=1\" <sip:138@gw>"),
    ("<sip:138@gw;tag=uri>;TAG = good", "<sip:138@gw;tag=uri>"),
])
def test_the_dialog_s_remote_uri_is_the_from_less_its_tag_alone(from_: str,
                                                                 remote: str) -> None:
    """review71: ``strip_tag``'s regex ate a display name's closing quote when it held
    ";tag=" (``"x <sip:138@gw>``, in every BYE and re-INVITE's To), removed a URI's own
    ;tag= and missed ``;TAG = 5``. The remote URI is built from the parse's boundaries."""
    from tests.telephony.sipwire import front_end, ringing_call

    fe, _wire = front_end()
    call = ringing_call(fe, _invite_with(from_=from_))
    assert call.remote_uri == remote
    assert call.remote_tag == "good"


@pytest.mark.parametrize(("written", "sent"), [
    (b"From: <sip:13800138000@192.0.2.10>;tag=a", b"From: <sip:a@h>;tag=1, <sip:b@h>;tag=2"),
    # review77: two tags of a value were read as the last; a peer reading the first would
    # not match our dialog.
    (b"From: <sip:13800138000@192.0.2.10>;tag=a", b"From: <sip:a@h>;tag=1;tag=2"),
    (b"To: <sip:12345@192.0.2.1>", b"To: <sip:12345@192.0.2.1>;tag=1;TAG=2"),
])
def test_a_from_of_two_values_is_refused(written: bytes, sent: bytes) -> None:
    """review71: From and To hold one value (RFC 3261 20.20, 20.39); two were read as the
    first and both echoed back in our answers. review74: through the front end's receive
    path, what the peer gets is a 400."""
    from tests.telephony.sipwire import PHONE, front_end

    assert written in request()
    raw = request().replace(written, sent)
    fe, _wire = front_end()
    answers: list[tuple[bytes, tuple[str, int]]] = []
    fe._transport.send = lambda data, addr: answers.append((data, addr))  # type: ignore[method-assign]
    fe._transport.handle_datagram(raw, PHONE)
    assert [(a.split(b"\r\n", 1)[0], addr) for a, addr in answers] == [
        (b"SIP/2.0 400 Bad Request", PHONE)]
    assert fe._lookup("c1@x") is None


def _via_below(via: str, to: str = "<sip:12345@192.0.2.1>") -> SipMessage:
    return SipMessage((
        "INVITE sip:12345@192.0.2.1 SIP/2.0\r\n"
        "Via: SIP/2.0/UDP 192.0.2.5:5060;branch=z9hG4bKtop\r\n"
        f"Via: {via}\r\nFrom: <sip:13800138000@192.0.2.10>;tag=a\r\nTo: {to}\r\n"
        "Call-ID: c1\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n").encode(),
        ("192.0.2.5", 5060))


@pytest.mark.parametrize(("via", "address"), [
    ("SIP/2.0/UDP 10.0.0.9:5060;branch=z9hG4bKx;Received=203.0.113.7", "203.0.113.7"),
    ("SIP/2.0/UDP 10.0.0.9:5060 ; branch=z9hG4bKx ; received = 203.0.113.7", "203.0.113.7"),
    ("SIP/2.0/UDP [2001:db8::9]:5060;branch=z9hG4bKx", "2001:db8::9"),
    ("SIP/2.0/UDP [2001:db8::7];branch=z9hG4bKx", "2001:db8::7"),
    # review77: a second received, the proxy's, after one the caller forged: the last, as
    # Kamailio's parse_via reads it; one address however its sent-by is spelt.
    ("SIP/2.0/UDP 198.51.100.5:5060;branch=z9hG4bKx;received=6.6.6.6;received=203.0.113.7",
     "203.0.113.7"),
    ("SIP/2.0/UDP [2001:DB8:0:0::9]:5060;branch=z9hG4bKx", "2001:db8::9"),
    ("SIP/2.0/UDP [2001:0db8::0009]:5060;branch=z9hG4bKx", "2001:db8::9"),
    ("SIP/2.0/UDP 198.051.100.005:5060;branch=z9hG4bKx", "198.51.100.5"),
    ("SIP/2.0/UDP Phone.Example:5060;branch=z9hG4bKx", "phone.example"),
    ("SIP / 2.0 / UDP 10.0.0.9;branch=z9hG4bKx", "10.0.0.9"),
])
def test_a_via_is_read_by_the_one_header_parameter_rule(via: str, address: str) -> None:
    """review74: Via went through pyVoIP's parser, case-sensitive and blind to LWS: behind
    the trusted front ``;Received=`` was missed (the sent-by counted instead), and an IPv6
    sent-by was cut at its first colon ("[2001"), so every IPv6 caller sharing a first
    hextet was one address to KeyedLookups."""
    from telephony.sip.identity import caller_address

    assert caller_address(_via_below(via), trusted=True) == address


def test_a_top_via_branch_is_read_with_lws_and_any_case() -> None:
    msg = SipMessage(request().replace(b"Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKx",
                                       b"Via: SIP/2.0/UDP 192.0.2.10:5060 ; Branch = z9hG4bKx"))
    assert msg.top_branch == "z9hG4bKx"


def test_an_empty_to_tag_is_no_tag_and_our_ack_matches() -> None:
    """review74: ``To: <sip:a@h>;tag`` had no tag for the answer (we added ``;tag=ours``)
    but the tag "" for the parse, so the caller's ACK copying ``;tag;tag=ours`` matched no
    dialog. An empty tag is none, and the last tag with a value is the tag."""
    msg = _via_below("SIP/2.0/UDP 10.0.0.9;branch=z9hG4bKx", to="<sip:12345@192.0.2.1>;tag")
    assert msg.to_tag == ""
    answer = SipMessage(build_response(msg, 200, to_tag="ours"))
    assert answer.to_tag == "ours"


def test_a_tel_to_names_its_callee_as_a_tel_from_names_its_caller() -> None:
    """review71: the callee was ``uri_user`` of the To's URI, "" for a tel: URI."""
    from tests.telephony.sipwire import front_end, our_number, ringing_call

    fe, _wire = front_end()
    call = ringing_call(fe, _invite_with(to=f"<tel:{our_number()}>"))
    assert call.callee == our_number()


@pytest.mark.parametrize(("asserted", "number"), [
    ('"Zhang, <sip:999@x>" <sip:13800138000@carrier>', "13800138000"),
    ('"Zhang \\", <sip:999@x>" <sip:13800138000@carrier>', "13800138000"),  # \" escaped
    ('"a,b" <tel:+8613800138000>', "+8613800138000"),
    ("<sip:13800138000@c>;user=phone, <tel:+8613800138000>", "13800138000"),
])
def test_an_asserted_identity_is_split_on_commas_outside_quotes(asserted: str,
                                                                number: str) -> None:
    """review71: P-Asserted-Identity/Remote-Party-ID were split on every comma, so a trusted
    carrier copying a display name ``"Zhang, <sip:999@x>"`` made 999 the NETWORK-verified
    caller: another citizen's tickets on key 1. One quote-aware list split now."""
    from telephony.call import CallerVouch
    from telephony.sip.identity import caller_identity

    raw = request(extra_headers=f"P-Asserted-Identity: {asserted}\r\n").replace(
        b"<sip:13800138000@192.0.2.10>;tag=a", b"<sip:anonymous@anonymous.invalid>;tag=a")
    msg = SipMessage(raw, ("192.0.2.10", 5060))
    assert caller_identity(msg, trusted=True) == (number, CallerVouch.NETWORK)


# review82: SIP's linear white space is SP and HTAB (RFC 3261 25.1). str.split() and
# str.strip() without arguments also took U+3000 (GBK A1A1) and U+00A0, so a token that
# Kamailio reads whole was two tokens here, or one with its wide space taken off.
WIDE_SPACES = ["\u3000", "\u00a0"]


@pytest.mark.parametrize("space", WIDE_SPACES)
def test_a_via_with_a_wide_space_inside_is_not_read_as_two_tokens(space: str) -> None:
    """``SIP/2.0/UDP evil<U+3000>192.0.2.9`` was a sent-by of 192.0.2.9 (the last of three
    words), where our responses went, while every other reader has one token there: now no
    host at all, refused. A wide space between protocol and sent-by leaves no sent-by."""
    from telephony.sip.uri import parse_via

    with pytest.raises(ValueError, match="non-ASCII sent-by"):
        parse_via(f"SIP/2.0/UDP evil.example{space}192.0.2.9:5060;branch=z9hG4bKx")
    with pytest.raises(ValueError, match="no sent-by"):
        parse_via(f"SIP/2.0/UDP{space}192.0.2.9:5060;branch=z9hG4bKx")
    raw = request().replace(b"UDP 192.0.2.10", f"UDP evil{space}192.0.2.10".encode())
    with pytest.raises(SipSyntaxError):
        SipMessage(raw, ("192.0.2.10", 5060))
    # SP and HTAB are still LWS, in any run.
    assert parse_via("SIP/2.0/UDP \t 192.0.2.9:5070 ;branch=z9hG4bKx")["address"] == (
        "192.0.2.9", 5070)


@pytest.mark.parametrize("space", WIDE_SPACES)
def test_sip_values_are_trimmed_of_sp_and_htab_alone(space: str) -> None:
    """Each reading of attacker text that stripped any Unicode space: a wide space is part
    of the token it touches, as Kamailio reads it, so the token is not the one we know."""
    from telephony.sip.identity import carrier_marked
    from telephony.sip.uri import number_in_context, parse_name_addr, uri_number, uri_scheme

    # A CSeq's method (none: refused), our front's mark, a name-addr's URI, a scheme.
    with pytest.raises(SipSyntaxError, match="bad CSeq"):
        SipMessage(request(cseq=f"1{space}INVITE"), ("192.0.2.10", 5060))
    marked = SipMessage(request(extra_headers=f"X-Hotline-Vouched: carrier{space}\r\n"),
                        ("192.0.2.10", 5060))
    assert not carrier_marked(marked)
    assert parse_name_addr(f"<{space}sip:1@h>").uri == f"{space}sip:1@h"
    assert uri_scheme(f"{space}sip:1@h") == f"{space}sip" and uri_number(f"{space}sip:1@h") == ""
    # A phone-context so written is no phone-context: the number alone, as Kamailio has it.
    assert number_in_context(f"12345;phone-context{space}=+1-212") == "12345"
    assert number_in_context("12345; Phone-Context =+1-212") == "12345;phone-context=+1-212"


@pytest.mark.parametrize("c_line,m_line", [
    ("IN IP4\u3000203.0.113.9", "audio 40000 RTP/AVP 0"),  # media to a third party
    ("IN IP4 192.0.2.10", "audio\u00a040000 RTP/AVP 0"),
    ("IN IP4 192.0.2.10", "audio \u0664\u0660\u0660\u0660\u0660 RTP/AVP 0"),  # ٤٠٠٠٠
    ("IN IP4 192.0.2.10", "audio 40000 RTP/AVP \u0660"),  # payload ٠
])
def test_an_sdp_token_is_split_on_sp_and_its_numbers_are_ascii(c_line: str,
                                                                m_line: str) -> None:
    """``c=IN IP4<U+3000>203.0.113.9`` was three tokens here, so our RTP went to an address
    rtpengine never read; "٤٠٠٠٠" (Arabic-Indic) matched \\d and int() read it as 40000.
    Both are bad SDP now (SdpError: 400), as they are to every other reader."""
    with pytest.raises(SdpError):
        parse_sdp(sdp(c=c_line, m=m_line))
