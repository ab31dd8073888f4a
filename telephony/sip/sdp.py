"""SDP offer/answer for one G.711 audio stream plus RFC 2833/4733 telephone-event.

Small and strict on purpose: an offer we cannot read is a 400, an offer we can read but
cannot serve (no PCMU/PCMA on plain RTP/AVP, or a c= address that is not a unicast IPv4
address) is a 488. What we answer with and what we offer (an outbound INVITE, the 200 to
an INVITE without SDP) come from one table, ``STATIC_CODECS``; an answer to our offer is
read by the same rules as an offer (``answer_offer``), and a call starts only with SDP
that lets the caller hear us (``call_media``: not on hold). pyVoIP's own SDP parser is not used
(see ``telephony.pyvoip`` F9).
"""

from __future__ import annotations

import email
import email.policy
import re
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from telephony.sip.uri import LWS, lws_split, media_type, unicast_ipv4

if TYPE_CHECKING:
    from telephony.sip.message import SipMessage

# Static payload types of the two codecs we speak (RFC 3551), in our order of preference:
# the one table our answers are picked from and our offers list.
STATIC_CODECS: dict[int, str] = {0: "PCMU", 8: "PCMA"}
SUPPORTED_CODECS = tuple(STATIC_CODECS.values())
# The RTP profiles we serve (no SRTP): an audio stream in another is refused.
PLAIN_RTP = ("RTP/AVP", "RTP/AVPF")
DEFAULT_EVENT_PT = 101
# The packet times we send (ms): whole 10 ms pieces, 10 to 60 ms, as G.711 phones and
# gateways take them (RFC 3551 4.5: G.711 "frames" are any number of samples; its
# default packetisation is 20 ms, what we send when the peer asks nothing).
PTIMES = (10, 20, 30, 40, 50, 60)
DEFAULT_PTIME = 20
_PTIME = re.compile(r"^[ \t]*(\d{1,6}(?:\.\d{1,6})?)[ \t]*$", re.ASCII)

_LINE = re.compile(r"^([a-z])=(.*)$")
# Numbers are bounded in the patterns themselves: int() of a few thousand digits raises
# ValueError (Python's conversion limit), which once escaped as an INVITE with no answer.
# ASCII digits alone (re.ASCII): a str pattern's \d is any script's, and int() reads them,
# so "m=audio ٥٠٠٠" was port 5000 here and no port to rtpengine (review82).
_RTPMAP = re.compile(r"^(\d{1,3}) ([A-Za-z0-9_.+-]{1,64})/(\d{1,6})(?:/\d{1,2})?$", re.ASCII)
_PORT = re.compile(r"^(\d{1,5})(?:/\d{1,5})?$", re.ASCII)
_DIRECTIONS = frozenset({"sendrecv", "sendonly", "recvonly", "inactive"})
_PAYLOAD = re.compile(r"^\d{1,3}$", re.ASCII)
# An offer is one audio stream and a few attributes; more lines than this is not a phone.
MAX_SDP_LINES = 100


class SdpError(ValueError):
    """The body is not SDP we can read (answered with 400)."""


class NotAcceptable(ValueError):
    """SDP we can read but cannot serve (answered with 488); the message says why."""


class UnsupportedBody(ValueError):
    """A body that is not SDP and holds none we may take, or one in a content coding we
    do not read (answered with 415 and ``accepts``: RFC 3261 8.2.3)."""

    def __init__(self, why: str, *, coded: bool = False) -> None:
        super().__init__(why)
        self.coded = coded

    @property
    def accepts(self) -> list[tuple[str, str]]:
        """What the 415 says we take: the body types, and for a coding, none but identity."""
        return [("Accept", "application/sdp, multipart/mixed"),
                *([("Accept-Encoding", "identity")] if self.coded else [])]


def sdp_body(content_type: str, body: bytes, coding: str = "") -> bytes:
    """The SDP of a request: its body (application/sdp), or the application/sdp part of a
    multipart/mixed one, as SIP-I/SIP-T gateways from the PSTN send it with the ISUP
    message beside it (RFC 3204; its ``handling=optional`` part is ignored, a part we
    cannot read marked ``handling=required`` is refused). b"" for no SDP at all: no body,
    or a multipart/mixed one with the ISUP message alone (a gateway's delayed offer)."""
    if not body:
        return b""
    # ``coding``: Content-Encoding. Read as plain SDP, a gzip offer was a 400 and a
    # mislabelled plain one a call (sip42); "identity" is no coding (RFC 3261 20.12).
    codings = [c.strip(LWS).lower() for c in coding.split(",") if c.strip(LWS)]
    if any(c != "identity" for c in codings):
        raise UnsupportedBody(f"Content-Encoding {coding.strip(LWS)[:40]} is not read",
                              coded=True)
    kind = media_type(content_type)
    if kind == "application/sdp":
        return body
    if kind != "multipart/mixed":
        raise UnsupportedBody(f"{kind or 'a body without Content-Type'} is not SDP")
    whole = email.message_from_bytes(f"Content-Type: {content_type}\r\n\r\n".encode() + body,
                                     policy=email.policy.compat32)
    parts = whole.get_payload() if whole.is_multipart() else None
    if not isinstance(parts, list):
        raise UnsupportedBody("multipart/mixed without parts")
    sdp: bytes | None = None
    for part in parts:
        if part.get_content_type() == "application/sdp" and sdp is None:
            payload = part.get_payload(decode=True)
            sdp = payload if isinstance(payload, bytes) else b""
        elif "handling=required" in part.get("Content-Disposition", "").replace(" ", "").lower():
            raise UnsupportedBody(f"a required {part.get_content_type()} part")
    return sdp if sdp is not None else b""


def message_sdp(msg: SipMessage) -> bytes:
    """``sdp_body`` of a message we receive, the one reading of its headers for it: every
    Content-Encoding row (a list header, RFC 3261 7.3.1), not the first alone, which took
    "identity" then "gzip" on two rows for a plain body (review114)."""
    return sdp_body(msg.first("Content-Type"), msg.body_bytes,
                    ", ".join(msg.all("Content-Encoding")))


@dataclass
class MediaOffer:
    connection_ip: str
    port: int
    proto: str
    formats: list[int]
    rtpmap: dict[int, tuple[str, int]] = field(default_factory=dict)
    direction: str = "sendrecv"
    # Every m= line of the offer in order, the audio stream we take as "" and the others
    # as the m= line that refuses them (port 0): an answer has as many m= lines as its
    # offer, in the same order (RFC 3264 6), or a video phone's stack rejects it.
    layout: tuple[str, ...] = ()
    # a=ptime / a=maxptime of the stream (ms): the packet length the peer wants to receive,
    # and the longest it can (RFC 4566 6, RFC 3264 5.1, 6.1); None when not said.
    ptime: float | None = None
    maxptime: float | None = None


@dataclass(frozen=True)
class Negotiated:
    """What both sides will use: audio codec and payload numbers, where to send RTP."""

    codec: str  # "PCMU" or "PCMA"
    audio_pt: int
    event_pt: int | None
    remote_ip: str
    remote_port: int
    layout: tuple[str, ...] = ()  # ``MediaOffer.layout`` of the offer answered
    # Our offer's telephone-event number, when this is the answer to our offer and it gave
    # the event another: the answerer sends with ours (``answered_media``).
    offered_event_pt: int | None = None
    # The packet time we send (ms, ``packet_time``), and the one our SDP asks of the peer.
    ptime: int = DEFAULT_PTIME


def parse_sdp(body: bytes | str) -> MediaOffer:
    """The first audio stream of an SDP body not declined (port 0). Raises SdpError when it
    is malformed. An offer with no such stream (video alone, audio declined) is read as a
    refused one (port 0), which
    ``answer_offer`` answers 488 like any other offer we cannot serve."""
    try:
        text = body.decode("utf-8") if isinstance(body, bytes) else body
    except UnicodeDecodeError as exc:
        raise SdpError("SDP is not UTF-8") from exc
    lines = [ln for ln in re.split(r"\r?\n", text.strip(LWS + "\r\n")) if ln]
    if len(lines) > MAX_SDP_LINES:
        raise SdpError(f"more than {MAX_SDP_LINES} SDP lines")
    if not lines or lines[0] != "v=0":
        raise SdpError("SDP must start with v=0")
    session_c: str | None = None
    # A direction before the first m= line holds for every stream that names none of its
    # own (RFC 4566 6): a phone that says its hold there was answered sendrecv and, sending
    # nothing while it held, hung up at rtp_timeout.
    session_direction = "sendrecv"
    audio: MediaOffer | None = None
    in_audio = False
    seen_audio = False
    seen_media = False
    layout: list[str] = []
    chosen, refused_before = -1, ""  # the taken stream's place in layout, its refusal
    for line in lines:
        m = _LINE.match(line)
        if not m:
            raise SdpError(f"bad SDP line {line[:80]!r}")
        key, value = m.groups()
        if key == "m":
            parts = lws_split(value)
            if len(parts) < 4:
                raise SdpError(f"bad m= line {line[:80]!r}")
            seen_media = True
            # A declined audio stream (port 0) is not the call's: a re-INVITE keeps a removed
            # stream's m= line at port 0 and may offer its successor after it (RFC 3264 8).
            declined = (pm := _PORT.match(parts[1])) is not None and int(pm.group(1)) == 0
            # The first audio stream, unless it is one we cannot serve (``servable``:
            # RTP/SAVP, a "best-effort SRTP" offer's first line; or plain RTP in codecs we
            # lack, G.729 alone) and another audio stream follows: that one is looked at
            # next, the one we cannot serve refused with port 0 (RFC 3264 6: "An offered
            # stream MAY be rejected in the answer, for any reason", the others answered).
            # Its a= lines have all been read by the next m= line. Before (2026-12-06),
            # SRTP then RTP/AVP PCMU was 488; before the twenty-second round G.729 then
            # PCMU was 488 still (only the profile moved us on).
            in_audio = (parts[0] == "audio" and not declined
                        and (not seen_audio or (audio is not None and not servable(audio))))
            if not in_audio:
                layout.append(" ".join([parts[0], "0", *parts[2:]]))
                continue
            if seen_audio:  # the stream taken before is refused now
                layout[chosen] = refused_before
            chosen, refused_before = len(layout), " ".join([parts[0], "0", *parts[2:]])
            layout.append("")
            seen_audio = True
            pm = _PORT.match(parts[1])
            if not pm or not 0 <= int(pm.group(1)) <= 65535:
                raise SdpError(f"bad media port in {line[:80]!r}")
            port = int(pm.group(1))
            proto = parts[2]
            formats: list[int] = []
            if proto.startswith("RTP/"):
                if not all(_PAYLOAD.match(f) for f in parts[3:]):
                    raise SdpError(f"bad RTP payload list in {line[:80]!r}")
                formats = [int(f) for f in parts[3:]]
                if any(not 0 <= f <= 127 for f in formats):
                    raise SdpError(f"bad RTP payload type in {line!r}")
            audio = MediaOffer(connection_ip=session_c or "", port=port, proto=proto,
                               formats=formats, direction=session_direction)
        elif key == "c":
            parts = lws_split(value)
            if len(parts) != 3 or parts[0] != "IN" or parts[1] not in ("IP4", "IP6"):
                raise SdpError(f"bad c= line {line[:80]!r}")
            address = parts[2].split("/")[0]
            if audio is not None and in_audio:
                audio.connection_ip = address
            elif not seen_media:  # another stream's own c= is not the session's
                session_c = address
        elif key == "a" and not seen_media and value in _DIRECTIONS:
            session_direction = value
        elif key == "a" and in_audio and audio is not None:
            name, _, val = value.partition(":")
            if name == "rtpmap":
                rm = _RTPMAP.match(val.strip(LWS))
                if not rm:
                    raise SdpError(f"bad rtpmap {line[:80]!r}")
                audio.rtpmap[int(rm.group(1))] = (rm.group(2), int(rm.group(3)))
            elif name in _DIRECTIONS:
                audio.direction = name
            elif name in ("ptime", "maxptime") and (pt := _PTIME.match(val)):
                # Unreadable or absurd values are as if not said: a preference, not a
                # reason to refuse the call.
                setattr(audio, name, float(pt.group(1)) or None)
    if audio is None:
        if not seen_media:
            raise SdpError("no m= line")
        return MediaOffer(connection_ip=session_c or "", port=0, proto="", formats=[],
                          layout=tuple(layout))
    audio.layout = tuple(layout)
    if not audio.connection_ip:
        raise SdpError("no c= line for the audio stream")
    return audio


def media_address(value: str) -> str:
    """The c= address if we can send RTP to it: a unicast IPv4 address (``unicast_ipv4``:
    host names would make every RTP packet a DNS look-up and point our media anywhere;
    IPv6, multicast, 0.0.0.0 and broadcast are not reachable from our IPv4 sockets)."""
    try:
        return unicast_ipv4(value)
    except ValueError as exc:
        raise NotAcceptable(f"c= address {exc}") from exc


def answer_offer(offer: MediaOffer,
                 preferred: tuple[str, ...] = SUPPORTED_CODECS) -> Negotiated:
    """Pick the offerer's first G.711 format and its telephone-event number. Raises
    NotAcceptable (→ 488) saying why when there is none, or nowhere to send RTP."""
    if not offer.proto:
        raise NotAcceptable("no audio stream: offer PCMU or PCMA on RTP/AVP")
    if offer.port == 0 or offer.proto not in PLAIN_RTP:
        raise NotAcceptable("no common codec: offer PCMU or PCMA on RTP/AVP")
    remote_ip = media_address(offer.connection_ip)
    codec = _codec(offer, preferred)
    if codec is None:
        raise NotAcceptable("no common codec: offer PCMU or PCMA on RTP/AVP")
    event_pt: int | None = None
    for pt in offer.formats:
        name, rate = _format(offer, pt)
        if pt != codec[0] and name == "TELEPHONE-EVENT" and rate == 8000:
            event_pt = pt
            break
    return Negotiated(codec=codec[1], audio_pt=codec[0], event_pt=event_pt,
                      remote_ip=remote_ip, remote_port=offer.port, layout=offer.layout,
                      ptime=packet_time(offer))


def packet_time(sdp: MediaOffer) -> int:
    """The packet time we send to the peer whose SDP is ``sdp``: its a=ptime, the length
    it wants to receive (RFC 4566 6; RFC 3264 5.1 for an offer, 6.1 for an answer), when
    it is one we make (``PTIMES``); else the nearest we make (the shorter on a tie: a
    receiver sized for 25 ms takes 20 sooner than 30), never over its a=maxptime; 20 ms
    when it says nothing. Before, every call got 20 ms packets whatever it asked (a
    gateway asking 30 or 40 ms; the trial's caller sent a=ptime:40). Our own SDP says the
    same length back (``build_sdp``): what we want to receive, as the two directions need
    not differ, and so a peer that asked what we cannot make reads what it gets."""
    wanted = sdp.ptime or DEFAULT_PTIME
    fits = [p for p in PTIMES if sdp.maxptime is None or p <= sdp.maxptime] or [PTIMES[0]]
    return min(fits, key=lambda p: (abs(p - wanted), p))


def _format(offer: MediaOffer, pt: int) -> tuple[str, int]:
    """A payload type's encoding name (upper case) and clock rate: its rtpmap, else the
    static table (RFC 3551)."""
    name, rate = offer.rtpmap.get(pt, (STATIC_CODECS.get(pt, ""), 8000))
    return name.upper(), rate


def _codec(offer: MediaOffer,
           preferred: tuple[str, ...] = SUPPORTED_CODECS) -> tuple[int, str] | None:
    """The offerer's first G.711 format we speak, on a profile we serve, or None."""
    if offer.port == 0 or offer.proto not in PLAIN_RTP:
        return None
    for pt in offer.formats:
        name, rate = _format(offer, pt)
        if name in preferred and rate == 8000:
            return pt, name
    return None


def servable(offer: MediaOffer) -> bool:
    """Whether an audio stream is one we can answer: a profile we serve and a codec we
    speak (the one rule ``parse_sdp`` chooses among streams by and ``answer_offer``
    refuses by)."""
    return _codec(offer) is not None


def negotiate(offer: MediaOffer,
              preferred: tuple[str, ...] = SUPPORTED_CODECS) -> Negotiated | None:
    """``answer_offer``, with None for an offer we cannot serve."""
    try:
        return answer_offer(offer, preferred)
    except NotAcceptable:
        return None


_ANSWER_DIRECTION = {"sendrecv": "sendrecv", "sendonly": "recvonly",
                     "recvonly": "sendonly", "inactive": "inactive"}


def answer_direction(offered: str) -> str:
    """The direction attribute answering ``offered`` (RFC 3264 6.1): a caller that only
    sends (puts us on hold) is answered recvonly."""
    return _ANSWER_DIRECTION[offered]


# Why SDP leaves an IVR call without its two-way audio, by what it says (RFC 3264 5.1,
# 6.1: an offer's or answer's direction is the sender's own view; RFC 2543's hold is a
# c= of 0.0.0.0). Each says its own reason: a refusal names what the peer sent.
_ONE_WAY = {
    "sendonly": "a=sendonly (on hold): the caller would hear nothing",
    "inactive": "a=inactive (on hold): no audio either way",
    "recvonly": "a=recvonly: the caller would send no speech and no keys",
}
_OLD_HOLD = "c=0.0.0.0 (on hold, RFC 2543): the caller would hear nothing"
# What the peer must change for a call to start: c=0.0.0.0 is refused whatever its a=
# line says (an offer with a=sendrecv too), so asking it for a=sendrecv would be wrong.
_SEND_BOTH_WAYS = "offer or answer a=sendrecv"
_NAME_AN_ADDRESS = "c= must name the address our RTP is to go to"


def one_way(sdp: MediaOffer) -> str | None:
    """Why ``sdp`` takes the call off its two-way audio, or None when it does not:
    a=sendonly or a=inactive (hold), c=0.0.0.0 (hold the RFC 2543 way), or a=recvonly
    (the peer only listens: no speech, no RFC 2833 keys)."""
    if sdp.connection_ip == "0.0.0.0":
        return _OLD_HOLD
    return _ONE_WAY.get(sdp.direction)


def on_hold(sdp: MediaOffer) -> bool:
    """Whether no RTP is to be expected from the peer (or none sent to it): a held call,
    or one whose peer only listens (``one_way``). The RTP watchdog waits meanwhile."""
    return one_way(sdp) is not None


def hears_us(sdp: MediaOffer) -> bool:
    """Whether the peer's SDP (an offer or an answer) lets us send it RTP: not when it marks
    the stream sendonly or inactive (RFC 3264 6.1: a stream answered recvonly or inactive
    is one we MUST NOT send on; 5.1 for an answer's direction), nor c=0.0.0.0 (RFC 2543's
    hold: no address to send to). a=recvonly (the peer only listens) is heard."""
    return sdp.connection_ip != "0.0.0.0" and sdp.direction in ("sendrecv", "recvonly")


def call_media(sdp: MediaOffer, preferred: tuple[str, ...] = SUPPORTED_CODECS) -> Negotiated:
    """The media a call starts with from the peer's SDP: an INVITE's offer, or the answer
    to the offer in our 200 to an INVITE without one, or the 200 to our INVITE.
    ``answer_offer``'s rules, and the audio must go both ways (``one_way``): an IVR call
    is nothing but the caller hearing us and answering by voice or key. Answered, a call
    on hold from its start only died of no_rtp at the RTP timeout, and so did one whose
    caller only listens (a=recvonly: no RTP at all, first_rtp_timeout). Raises
    NotAcceptable saying why. A re-INVITE's hold is no start and keeps its own path
    (``InDialog.on_refresh``)."""
    why = one_way(sdp)
    if why is not None:
        remedy = _NAME_AN_ADDRESS if why == _OLD_HOLD else _SEND_BOTH_WAYS
        raise NotAcceptable(f"{why}, at the start of a call; {remedy}")
    return answer_offer(sdp, preferred)


def answered_media(answer: MediaOffer,
                   preferred: tuple[str, ...] = SUPPORTED_CODECS) -> Negotiated:
    """The media a call starts with from the answer to our offer (``build_offer``: an
    outbound call's INVITE, the 200 to a delayed offer): ``call_media``'s rules, and keys
    heard on our offer's telephone-event number as well as on the answer's. An answer may
    give the event another number, and the answerer then sends with the offer's (RFC 3264
    6.1: "it MUST use the payload type numbers from the offer, even if they differ from
    those in the answer"); some peers send with their own. Read from the answer alone,
    the call heard no key of a peer renumbering it."""
    media = call_media(answer, preferred)
    if media.event_pt is None or media.event_pt == DEFAULT_EVENT_PT:
        return media
    return replace(media, offered_event_pt=DEFAULT_EVENT_PT)


def build_sdp(*, ip: str, port: int, session_id: int, formats: list[tuple[int, str]],
              event_pt: int | None, version: int | None = None,
              direction: str = "sendrecv", layout: tuple[str, ...] = (),
              ptime: int = DEFAULT_PTIME) -> bytes:
    """An offer (several formats) or an answer (one format) for one audio stream.
    ``version`` (o= line; the session id by default) goes up each time our SDP in a
    session changes (RFC 3264 8). An answer's ``layout`` (``MediaOffer.layout``) puts
    the offer's other streams, refused, around ours in the offer's order. ``ptime``: the
    packet time we want to receive, the one we send (``packet_time``)."""
    pts = [pt for pt, _ in formats] + ([event_pt] if event_pt is not None else [])
    lines = [
        "v=0",
        f"o=hotline12345 {session_id} {session_id if version is None else version} IN IP4 {ip}",
        "s=hotline12345",
        f"c=IN IP4 {ip}",
        "t=0 0",
    ]
    audio = [f"m=audio {port} RTP/AVP {' '.join(str(p) for p in pts)}"]
    audio += [f"a=rtpmap:{pt} {name}/8000" for pt, name in formats]
    if event_pt is not None:
        audio += [f"a=rtpmap:{event_pt} telephone-event/8000", f"a=fmtp:{event_pt} 0-15"]
    audio += [f"a=ptime:{ptime}", f"a={direction}"]
    for refused in layout or ("",):
        lines += audio if not refused else [f"m={refused}"]
    return ("\r\n".join(lines) + "\r\n").encode()


def offer_formats() -> list[tuple[int, str]]:
    """Every codec we speak, as an offer lists them (payload type, name)."""
    return list(STATIC_CODECS.items())


def build_offer(*, ip: str, port: int, session_id: int) -> bytes:
    """Our offer: every codec of ``STATIC_CODECS`` and telephone-event (RFC 4733), on our
    RTP port; the answer picks one (``answer_offer`` reads it)."""
    return build_sdp(ip=ip, port=port, session_id=session_id, formats=offer_formats(),
                     event_pt=DEFAULT_EVENT_PT)
